"""`lyra tax import`'s pipeline (lyra.compliance.importers.pipeline and its helpers):
detection, all or nothing, importing twice, duplicates across files, id clashes, safe
cells, the manifest, and the ledger read back by the ledger parser.

Most tests use two tiny test-only formats (``tinya``, ``tinyb``: one venue each) so
they prove the pipeline's own rules; the last ones run the real exchange formats on
their fixtures (tests/support/exports)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import typing
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lyra.cli.tax_import import ExchangeName
from lyra.compliance.csvsafe import safe_cell
from lyra.compliance.importers import registry
from lyra.compliance.importers.detect import (
    ExportFileError,
    detect_format,
    export_rows,
)
from lyra.compliance.importers.formats import (
    ExportFormat,
    ExportRowError,
    Row,
    amount,
    cell,
    moment,
)
from lyra.compliance.importers.ledger_lines import LedgerLine
from lyra.compliance.importers.ledger_writer import LineText, csv_record, line_cells
from lyra.compliance.importers.manifest import manifest_path, read_manifest
from lyra.compliance.importers.pipeline import IdClashError, import_exports
from lyra.compliance.importers.records import (
    Movement,
    Receipt,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)
from lyra.compliance.ledger import HEADER, read_ledger

SYDNEY = ZoneInfo("Australia/Sydney")
EXPORTS = Path(__file__).resolve().parents[1] / "support" / "exports"


class FakeValuer:
    """AUD per unit from a table; an asset not in it cannot be valued."""

    def __init__(self, **prices: str) -> None:
        self.prices = {asset: Decimal(price) for asset, price in prices.items()}

    def value(self, asset: str, quantity: Decimal, at: datetime) -> tuple[Decimal | None, str]:
        price = self.prices.get(asset)
        if price is None:
            return None, f"missing:no daily price of {asset}"
        return quantity * price, f"estimate:{asset}/AUD {price} (test)"


def _tiny(name: str, venue: str) -> ExportFormat:
    """A test-only format: ``when,kind,coin,amount,quote,total,ref`` with ``name`` as the
    first header cell's suffix (``when_tinya``) so each format knows only its files.
    Kinds: buy/sell (a trade), reward (income), in/out (a movement), anything else is
    an unknown kind."""
    marker = f"when_{name}"

    def detect(header: tuple[str, ...]) -> bool:
        return bool(header) and header[0] == marker

    def read(
        file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
    ) -> Iterator[Record]:
        for line, cells in rows:
            at = moment(cell(cells, 0, file, line, "when"), zone, file, line, "when")
            kind = cell(cells, 1, file, line, "kind")
            coin = cell(cells, 2, file, line, "coin")
            qty = amount(cell(cells, 3, file, line, "amount"), file, line, "amount")
            ref = cell(cells, 6, file, line, "ref")
            source = SourceRef(file, (line,))
            if kind in ("buy", "sell"):
                quote = cell(cells, 4, file, line, "quote")
                total = amount(cell(cells, 5, file, line, "total"), file, line, "total")
                yield Trade(at, venue, "buy" if kind == "buy" else "sell", coin, qty, quote,
                            total, "", Decimal(0), None, ref, source)  # fmt: skip
            elif kind == "reward":
                yield Receipt(at, venue, coin, qty, None, "reward", ref, source)
            elif kind in ("in", "out"):
                direction: typing.Literal["in", "out"] = "in" if kind == "in" else "out"
                yield Movement(at, venue, direction, coin, qty, Decimal(0), "", "", ref, source)
            elif kind == "boom":
                raise ValueError("the reader tripped")
            else:
                yield Unrecognised(venue, kind, ",".join(cells), source)

    return ExportFormat(name, venue, "test only", detect, read)


TABLE = {"tinya": (_tiny("tinya", "VenueA"),), "tinyb": (_tiny("tinyb", "VenueB"),)}
VALUER = FakeValuer(BTC="100000", ETH="5000", USDT="1.5")


def _export(folder: Path, name: str, rows: list[str], *, marker: str = "tinya") -> Path:
    path = folder / name
    header = f"when_{marker},kind,coin,amount,quote,total,ref"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _import(paths: list[Path], out: Path, exchange: str = "auto"):  # type: ignore[no-untyped-def]
    return import_exports(
        paths, exchange=exchange, zone=SYDNEY, valuer=VALUER, out=out, formats=TABLE
    )


BUY = "2024-03-01T10:00:00+11:00,buy,BTC,0.5,AUD,50000,T1"
SELL = "2024-04-02 09:30,sell,BTC,0.1,USDT,7000,T2"
REWARD = "2024-02-01,reward,ETH,0.01,,,R1"


# --- detection ---------------------------------------------------------------------


def test_header_after_preamble_lines_is_found_and_rows_keep_the_files_line_numbers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "\ufeffTransactions report\n"
        "User,jane@example.com\n"
        "\n"
        "when_tinya,kind,coin,amount,quote,total,ref\n"
        f"{BUY}\n"
        "\n"
        f"{SELL}\n",
        encoding="utf-8",
    )
    detected = detect_format(path, registry.formats_for("auto", TABLE), shown="export.csv")
    assert detected.format.name == "tinya"
    assert detected.header_line == 4
    rows = list(export_rows(path, detected.header_line, shown="export.csv"))
    assert [line for line, _ in rows] == [5, 7]
    assert rows[0][1][6] == "T1"


def test_unknown_header_is_an_error_naming_the_file_and_the_known_formats(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mystery.csv"
    path.write_text("Date,Thing,Amount\n2024-01-01,x,1\n", encoding="utf-8")
    with pytest.raises(ExportFileError) as caught:
        _import([path], tmp_path / "ledger.csv")
    message = str(caught.value)
    assert "mystery.csv" in message
    assert "known formats: tinya, tinyb" in message
    assert "\n" not in message
    assert not (tmp_path / "ledger.csv").exists()


def test_exchange_option_tries_only_that_exchanges_formats(tmp_path: Path) -> None:
    path = _export(tmp_path, "a.csv", [BUY])
    with pytest.raises(ExportFileError, match=r"known formats: tinyb$"):
        _import([path], tmp_path / "ledger.csv", exchange="tinyb")
    assert _import([path], tmp_path / "ledger.csv", exchange="tinya").rows_added == 1


def test_a_file_that_is_not_utf8_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        b"when_tinya,kind,coin,amount,quote,total,ref\n"
        b"2024-03-01,reward,CAF\xc9,1,,,R1\n"  # Windows-1252 E acute
    )
    with pytest.raises(ExportRowError, match=r"excel\.csv line 2: not UTF-8 text \(byte 0xc9\)"):
        _import([path], tmp_path / "ledger.csv")
    # Further down than the header scan: found while the rows are streamed.
    late = tmp_path / "late.csv"
    good_rows = b"2024-03-01,reward,CAFE,1,,,R0\n" * 20_000
    late.write_bytes(path.read_bytes().replace(b"2024-03-01,reward,CAF\xc9", good_rows + b"X,\xc9"))
    with pytest.raises(ExportRowError, match=r"late\.csv line 20002: not UTF-8 text"):
        _import([late], tmp_path / "ledger.csv")
    utf16 = tmp_path / "unicode.csv"
    utf16.write_text("when_tinya,kind\n", encoding="utf-16")
    with pytest.raises(ExportFileError, match=r"unicode\.csv: is UTF-16"):
        _import([utf16], tmp_path / "ledger.csv")


# --- all or nothing ----------------------------------------------------------------


def test_a_bad_row_in_the_second_file_leaves_the_ledger_byte_identical_and_no_manifest(
    tmp_path: Path,
) -> None:
    out = tmp_path / "ledger.csv"
    out.write_text(
        ",".join(HEADER) + "\n2024-01-02T00:00:00Z,buy,ETH,1,4000,,,,,kraken,,H1,\n",
        encoding="utf-8",
    )
    before = out.read_bytes()
    good = _export(tmp_path, "good.csv", [BUY])
    bad = _export(tmp_path, "bad.csv", [REWARD, "2024-03-05,reward,ETH,lots,,,R9"])
    with pytest.raises(ExportRowError) as caught:
        _import([good, bad], out)
    assert str(caught.value) == "bad.csv line 3 field 'amount': 'lots' is not a number"
    assert out.read_bytes() == before
    assert not manifest_path(out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "good.csv", "ledger.csv"]


def test_a_hand_made_ledger_keeps_its_rows_in_order_and_new_rows_follow_in_time_order(
    tmp_path: Path,
) -> None:
    out = tmp_path / "ledger.csv"
    out.write_text(
        ",".join(HEADER) + "\n"
        "2024-05-01T00:00:00Z,buy,ETH,1,4000,,,,,kraken,,H2,\n"
        "\n"
        "2024-01-02T00:00:00Z,buy,=EVIL,1,4000,,,,,kraken,,venuea-T9,\n",
        encoding="utf-8",
    )
    other = _export(tmp_path, "b.csv", ["2024-01-02T00:00:00Z,buy,ETH,2,AUD,8000,T9"])
    with pytest.raises(IdClashError, match=r"is also ledger\.csv line 4 with different content"):
        _import([other], out)  # line 4: the blank line counts, as in an editor
    summary = _import([_export(tmp_path, "a.csv", [SELL, BUY])], out)
    assert (summary.rows_added, summary.rows_total) == (2, 4)
    rows = read_ledger(out)
    assert [t.id for t in rows] == ["H2", "venuea-T9", "venuea-T1", "venuea-T2"]
    assert rows[1].asset == "=EVIL"  # neutralised in the file, read back as typed
    assert "\n2024-01-02T00:00:00Z,buy,'=EVIL," in out.read_text(encoding="utf-8")


def test_a_reader_failing_without_naming_a_row_is_still_one_line_naming_it(
    tmp_path: Path,
) -> None:
    path = _export(tmp_path, "a.csv", [BUY, "2024-03-02,boom,BTC,1,,,X"])
    with pytest.raises(ExportRowError, match=r"^a\.csv line 3: cannot be read as tinya \("):
        _import([path], tmp_path / "ledger.csv")


# --- importing again, duplicates, clashes ----------------------------------------


def test_importing_the_same_file_twice_adds_nothing(tmp_path: Path) -> None:
    out = tmp_path / "ledger.csv"
    path = _export(tmp_path, "a.csv", [BUY, SELL, REWARD])
    first = _import([path], out)
    assert first.rows_added == 3
    ledger, manifest = out.read_bytes(), manifest_path(out).read_bytes()
    again = _import([path], out)
    assert not again.written
    assert again.rows_added == 0
    assert "already imported" in again.files[0].skipped
    assert (out.read_bytes(), manifest_path(out).read_bytes()) == (ledger, manifest)
    # The same export downloaded again with one more row: only that row is added.
    path.write_text(path.read_text() + "2024-05-01T00:00:00Z,buy,ETH,2,AUD,9000,T3\n")
    grown = _import([path], out)
    assert grown.rows_added == 1
    assert grown.duplicates == 0
    assert out.read_bytes().startswith(ledger)
    assert [t.id for t in read_ledger(out)][-1] == "venuea-T3"


def test_a_manifest_left_without_its_ledger_does_not_stop_the_files_being_read(
    tmp_path: Path,
) -> None:
    out = tmp_path / "ledger.csv"
    path = _export(tmp_path, "a.csv", [BUY])
    _import([path], out)
    out.unlink()
    assert _import([path], out).rows_added == 1
    assert len(read_ledger(out)) == 1


def test_the_same_row_in_two_files_is_kept_once_and_is_a_duplicate_review_item(
    tmp_path: Path,
) -> None:
    out = tmp_path / "ledger.csv"
    first = _export(tmp_path, "march.csv", [BUY, SELL])
    second = _export(tmp_path, "quarter.csv", [REWARD, BUY])
    summary = _import([first, second], out)
    assert summary.rows_added == 3
    ids = [t.id for t in read_ledger(out)]
    assert len(ids) == len(set(ids)) == 3
    items = read_manifest(out).review_items  # type: ignore[union-attr]
    duplicates = [i for i in items if i.kind == "duplicate"]
    assert [d.row for d in duplicates] == ["quarter.csv:3"]
    assert "march.csv:2" in duplicates[0].detail


def test_one_id_with_different_content_is_an_error_naming_both_sources(tmp_path: Path) -> None:
    out = tmp_path / "ledger.csv"
    _import([_export(tmp_path, "a.csv", [BUY])], out)
    before = out.read_bytes()
    changed = BUY.replace(",0.5,", ",0.6,")
    with pytest.raises(IdClashError) as caught:
        _import([_export(tmp_path, "b.csv", [changed])], out)
    message = str(caught.value)
    assert message.startswith("b.csv:2: id 'venuea-T1' is also ledger.csv line 2 (from a.csv:2)")
    assert "quantity 0.6 vs 0.5" in message
    assert out.read_bytes() == before


# --- what is written ---------------------------------------------------------------


def test_written_ledger_reads_back_with_values_sources_and_plain_numbers(
    tmp_path: Path,
) -> None:
    out = tmp_path / "ledger.csv"
    tiny_qty = "2024-03-03T00:00:00Z,reward,ETH,1E-8,,,R2"
    summary = _import([_export(tmp_path, "a.csv", [SELL, BUY, REWARD, tiny_qty])], out)
    written = list(csv.reader(out.read_text(encoding="utf-8").splitlines()))
    assert written[0] == [*HEADER, "aud_source", "source"]
    tiny = next(r for r in written if r[HEADER.index("id")] == "venuea-R2")
    assert tiny[HEADER.index("quantity")] == "0.00000001"  # not 1E-8
    rows = read_ledger(out)
    assert [t.timestamp.isoformat() for t in rows] == sorted(t.timestamp.isoformat() for t in rows)
    by_id = {t.id: t for t in rows}
    buy = by_id["venuea-T1"]
    assert (buy.type, buy.asset, buy.quantity, buy.aud_value) == (
        "buy", "BTC", Decimal("0.5"), Decimal(50000)
    )  # fmt: skip
    assert buy.timestamp.isoformat() == "2024-02-29T23:00:00+00:00"
    assert buy.source == "a.csv:3"
    swap = by_id["venuea-T2"]  # BTC sold for USDT: a swap valued from the USDT received
    assert (swap.type, swap.to_asset, swap.to_quantity) == ("swap", "USDT", Decimal(7000))
    assert swap.aud_value == Decimal("10500.0")
    assert swap.aud_source.startswith("estimate:")
    assert swap.timestamp.isoformat() == "2024-04-01T22:30:00+00:00"  # 09:30 AEDT
    reward = by_id["venuea-R1"]  # a date alone: the start of that Sydney day
    assert reward.timestamp.isoformat() == "2024-01-31T13:00:00+00:00"
    assert next(t for t in rows if t.quantity == Decimal("0.00000001")).type == "income"
    assert summary.estimated_values == 3
    assert summary.timezone == "Australia/Sydney"


def test_a_formula_in_a_cell_is_neutralised_and_reads_back_as_written(tmp_path: Path) -> None:
    out = tmp_path / "ledger.csv"
    evil = '2024-03-01,reward,"=HYPERLINK(""http://x"",""y"")",1,,,R1'
    valuer = FakeValuer(**{'=HYPERLINK("HTTP://X","Y")': "1"})
    import_exports(
        [_export(tmp_path, "a.csv", [evil])],
        exchange="auto", zone=SYDNEY, valuer=valuer, out=out, formats=TABLE,
    )  # fmt: skip
    (_, written) = csv.reader(out.read_text(encoding="utf-8").splitlines())
    assert written[HEADER.index("asset")] == '\'=HYPERLINK("HTTP://X","Y")'
    (row,) = read_ledger(out)
    assert row.asset == '=HYPERLINK("HTTP://X","Y")'
    # Importing more into that ledger writes its rows again: neutralised once, not twice.
    _import([_export(tmp_path, "b.csv", [BUY])], out)
    assert read_ledger(out)[0].asset == '=HYPERLINK("HTTP://X","Y")'


def test_transfers_are_matched_across_files_and_counted(tmp_path: Path) -> None:
    out = tmp_path / "ledger.csv"
    withdrawal = _export(tmp_path, "a.csv", ["2024-03-01T00:00:00Z,out,BTC,0.5,,,W1"])
    deposit = _export(
        tmp_path, "b.csv", ["2024-03-01T01:00:00Z,in,BTC,0.4995,,,D1"], marker="tinyb"
    )
    stray = _export(tmp_path, "c.csv", ["2024-03-09T00:00:00Z,in,ETH,2,,,D2"], marker="tinyb")
    summary = _import([withdrawal, deposit, stray], out)
    assert (summary.matched_transfers, summary.unmatched_transfers) == (1, 1)
    rows = read_ledger(out)
    moved = next(t for t in rows if t.type == "transfer" and t.asset == "BTC")
    assert (moved.exchange, moved.counterparty, moved.quantity) == (
        "venuea", "VenueB", Decimal("0.4995")
    )  # fmt: skip
    fee = next(t for t in rows if t.type == "fee")
    assert fee.quantity == Decimal("0.0005")
    kinds = {i.kind for i in summary.review_items}
    assert {"unmatched_transfer", "missing_cost_base"} <= kinds


def test_manifest_lists_files_timezone_counts_and_review_items(tmp_path: Path) -> None:
    out = tmp_path / "ledger.csv"
    path = _export(tmp_path, "a.csv", [BUY, SELL, "2024-03-04,airdrop-ish,XYZ,1,,,U1"])
    _import([path], out)
    body = json.loads(manifest_path(out).read_text())
    (entry,) = body["files"]
    assert (entry["name"], entry["format"], entry["rows_read"], entry["records"]) == (
        "a.csv", "tinya", 3, 3
    )  # fmt: skip
    assert len(entry["sha256"]) == 64
    assert body["timezone"] == "Australia/Sydney"
    assert body["counts"]["rows"] == 2
    assert body["counts"]["estimated_values"] == 1
    (item,) = body["review_items"]
    assert (item["kind"], item["row"]) == ("unknown_kind", "a.csv:4")
    second = _export(tmp_path, "b.csv", [REWARD])
    _import([second], out)
    again = read_manifest(out)
    assert again is not None
    assert [f.name for f in again.files] == ["a.csv", "b.csv"]
    assert again.counts.rows == 3
    assert [i.row for i in again.review_items] == ["a.csv:4"]


def test_files_with_one_name_in_two_folders_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    first = _export(tmp_path / "x", "trades.csv", [BUY])
    second = _export(tmp_path / "y", "trades.csv", [SELL])
    summary = _import([first, second], tmp_path / "ledger.csv")
    assert [f.name for f in summary.files] == ["x/trades.csv", "y/trades.csv"]
    assert {t.source for t in read_ledger(tmp_path / "ledger.csv")} == {
        "x/trades.csv:2", "y/trades.csv:2"
    }  # fmt: skip


# --- the real exchange formats -----------------------------------------------------


def test_every_exchange_of_the_contract_is_wired_to_its_formats() -> None:
    assert ("auto", *registry.EXCHANGE_NAMES) == typing.get_args(ExchangeName)
    assert tuple(registry.EXCHANGES) == registry.EXCHANGE_NAMES
    assert {f.name for f in registry.EXCHANGES["kraken"]} >= {"kraken", "kraken-ledgers"}
    names = [f.name for f in registry.FORMATS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("exchange", "folder"),
    [
        ("coinspot", "coinspot"),
        ("swyftx", "swyftx"),
        ("btcmarkets", "btcmarkets"),
        ("independent-reserve", "independent_reserve"),
        ("kraken", "kraken"),
        ("binance", "binance"),
        ("coinbase", "coinbase"),
    ],
)
def test_each_exchanges_fixtures_are_detected_as_that_exchange(exchange: str, folder: str) -> None:
    mine = {f.name for f in registry.EXCHANGES[exchange]}
    for path in sorted((EXPORTS / folder).glob("*.csv")):
        detected = detect_format(path, registry.FORMATS, shown=path.name)
        assert detected.format.name in mine, path


def test_every_fixture_imports_together_and_reads_back(tmp_path: Path) -> None:
    """All the exchanges' fixtures in one command (Kraken's trades export left out: its
    trades are the ledgers export's too, told apart by an id clash, tested below)."""
    paths = [p for p in sorted(EXPORTS.glob("*/*.csv")) if p.name != "trades.csv" or
             p.parent.name != "kraken"]  # fmt: skip
    out = tmp_path / "ledger.csv"
    summary = import_exports(paths, exchange="auto", zone=SYDNEY, valuer=VALUER, out=out)
    formats = {f.format for f in summary.files}
    assert {"coinspot", "swyftx", "btcmarkets", "independent-reserve", "kraken-ledgers",
            "binance-trades", "coinbase"} <= formats  # fmt: skip
    rows = read_ledger(out, on_missing_value=lambda _: None)
    assert len(rows) == summary.rows_total == summary.rows_added
    assert {t.exchange for t in rows} >= {"coinspot", "swyftx", "binance", "coinbase"}
    assert all(t.source for t in rows)
    again = import_exports(paths, exchange="auto", zone=SYDNEY, valuer=VALUER, out=out)
    assert not again.written


def test_kraken_trades_and_ledgers_exports_of_one_trade_give_it_once(tmp_path: Path) -> None:
    """Kraken's trades and ledgers exports both list a trade (one by its txid, the other
    by the ledger entries' refid): imported together, it is kept once, a duplicate."""
    trades = (EXPORTS / "kraken" / "trades.csv").read_text().splitlines()
    ledgers = (EXPORTS / "kraken" / "ledgers.csv").read_text().splitlines()
    txid = trades[1].split(",")[0]
    (tmp_path / "trades.csv").write_text("\n".join(trades[:2]) + "\n")
    (tmp_path / "ledgers.csv").write_text(
        "\n".join([ledgers[0], *(r for r in ledgers[1:] if f",{txid}," in r)]) + "\n"
    )
    out = tmp_path / "ledger.csv"
    summary = import_exports(
        [tmp_path / "trades.csv", tmp_path / "ledgers.csv"],
        exchange="kraken", zone=SYDNEY, valuer=VALUER, out=out,
    )  # fmt: skip
    assert summary.rows_added == 1
    assert [i.kind for i in summary.review_items] == ["duplicate"]
    assert [t.id for t in read_ledger(out)] == [f"kraken-{txid.strip(chr(34))}"]


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "a,b",
        'say "hi"',
        "two\nlines",
        "bare\rreturn",
        "=1+2",
        "\tTAB",
        "-5",
        "@x",
        "'=x",
        "''",
        "",
    ],
)
def test_ledger_text_reads_back_as_the_safe_cells(text: str) -> None:
    """The writer's own CSV text (not the csv module's) reads back with csv into exactly
    the cells safe_cell makes, for every awkward text in every text column."""
    line = LedgerLine(
        datetime(2024, 3, 1, 1, 2, 3, 456000, tzinfo=UTC), "swap", text or "BTC",
        Decimal("1E-8"), Decimal("12.50"), None, text, Decimal("3E+2"), None, text, text,
        f"id{text}", text, text, text,
    )  # fmt: skip
    record = LineText().record(line)
    assert record == csv_record(line_cells(line))
    (cells,) = csv.reader(io.StringIO(record, newline=""))
    assert cells[2] == safe_cell(text or "BTC")
    assert (
        cells[9:15]
        == [safe_cell(text), safe_cell(text), safe_cell(f"id{text}")] + [safe_cell(text)] * 3
    )
    assert cells[3:5] == ["0.00000001", "12.50"]
    assert cells[7] == "300"
    assert cells[0] == "2024-03-01T01:02:03.456000+00:00"


@pytest.mark.parametrize(
    "at",
    [
        datetime(2024, 3, 1, 0, 0, 0, tzinfo=UTC),
        datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2024, 3, 1, 9, 5, 7, 250, tzinfo=UTC),
        datetime(2024, 3, 1, 9, 5, 7, tzinfo=ZoneInfo("UTC")),
        datetime(2024, 3, 1, 9, 5, 7, tzinfo=SYDNEY),
    ],
)
def test_ledger_text_writes_each_time_as_isoformat(at: datetime) -> None:
    line = LedgerLine(at, "buy", "BTC", Decimal(1), Decimal(1), None, "", None, None, "x", "",
                      "x-1", "", "x export", "a.csv:2")  # fmt: skip
    writer = LineText()
    assert writer.record(line).split(",")[0] == at.isoformat()
    later = dataclasses.replace(line, timestamp=at.replace(day=2))
    assert writer.record(later).split(",")[0] == at.replace(day=2).isoformat()


def test_the_benchmarks_generated_export_imports_with_every_value_estimated(
    tmp_path: Path,
) -> None:
    """benchmarks/tax_import.py times this file at 1,000,000 rows: a small one of the same
    kind must be a Binance trade history the import reads whole, every AUD value found."""
    from benchmarks.tax_import import price_path, write_export, write_price_file
    from lyra.compliance.fx import RateTable
    from lyra.compliance.importers.valuation import DailyPriceValuer, load_price_file

    paths = price_path(seed=3)
    write_price_file(tmp_path / "prices.csv", paths)
    write_export(tmp_path / "binance.csv", 2_000, paths, seed=3)
    valuer = DailyPriceValuer(load_price_file(tmp_path / "prices.csv"), RateTable(Decimal("1.5")))
    summary = import_exports(
        [tmp_path / "binance.csv"], exchange="binance", zone=SYDNEY, valuer=valuer,
        out=tmp_path / "ledger.csv",
    )  # fmt: skip
    assert summary.files[0].format == "binance-trades"
    assert summary.files[0].rows_read == 2_000
    assert summary.missing_values == 0
    assert summary.estimated_values > 1_000
    assert len(read_ledger(tmp_path / "ledger.csv")) == summary.rows_added > 2_000
