"""A large export whose rows stand alone, read by worker processes in chunks
(lyra.compliance.importers.chunks): the same ledger, manifest and summary as one process
makes, the first bad row named when several chunks hold bad rows, and nothing written
then. Chunks are made small here (``chunk_rows``) so a few thousand rows make several."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lyra.compliance.importers.chunks import Parallelism
from lyra.compliance.importers.formats import ExportFormat, ExportRowError, Row, amount, cell
from lyra.compliance.importers.manifest import manifest_path
from lyra.compliance.importers.pipeline import ImportSummary, import_exports
from lyra.compliance.importers.records import Record, SourceRef, Trade
from lyra.compliance.ledger import read_ledger

SYDNEY = ZoneInfo("Australia/Sydney")
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
ONE = Parallelism(workers=1)
CHUNKED = Parallelism(workers=2, min_rows=0, chunk_rows=150)
HEADER = "Date(UTC),Pair,Side,Price,Executed,Amount,Fee"


class FakeValuer:
    """AUD per unit from a table; USDT, BTC and BNB are known."""

    def __init__(self) -> None:
        self.prices = {"USDT": Decimal("1.52"), "BTC": Decimal("61234.5"), "BNB": Decimal("401.25")}

    def value(self, asset: str, quantity: Decimal, at: datetime) -> tuple[Decimal | None, str]:
        price = self.prices.get(asset)
        if price is None:
            return None, f"missing:no daily price of {asset}"
        return quantity * price, f"estimate:{asset}/AUD {price} on {at.date()} (test)"


def _rows(count: int, seed: int) -> list[str]:
    """Binance trade history rows, one a minute: AUD, USDT and BTC pairs, fees in BNB
    or the coin received."""
    rng = random.Random(seed)
    pairs = (("BTC", "AUD"), ("ETH", "USDT"), ("ETH", "BTC"), ("SOL", "USDT"))
    out = []
    for n in range(count):
        base, quote = pairs[rng.randrange(len(pairs))]
        qty, total = rng.randrange(1, 10**6) / 10**6, rng.randrange(1, 10**8) / 10**4
        side = rng.choice(("BUY", "SELL"))
        fee = f"{rng.randrange(1, 10**5) / 10**8:.8f}" + rng.choice(("BNB", base, quote))
        day = f"2024-{1 + n // 40_000:02d}-{1 + n // 1440 % 28:02d}"
        at = f"{day} {n // 60 % 24:02d}:{n % 60:02d}:07"
        out.append(f"{at},{base}{quote},{side},1,{qty:.6f}{base},{total:.4f}{quote},{fee}")
    return out


def _export(folder: Path, name: str, rows: list[str], *, ending: str = "\n") -> Path:
    path = folder / name
    path.write_bytes((ending.join([HEADER, *rows]) + ending).encode())
    return path


def _run(paths: list[Path], out: Path, parallel: Parallelism, **kwargs: object) -> ImportSummary:
    return import_exports(
        paths, exchange="auto", zone=SYDNEY, valuer=FakeValuer(), out=out, now=NOW,
        parallel=parallel, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def _both(tmp_path: Path, files: list[Path]) -> tuple[ImportSummary, ImportSummary, Path, Path]:
    """The same import in one process and in chunks, each into a fresh folder."""
    (tmp_path / "one").mkdir()
    (tmp_path / "chunked").mkdir()
    one, chunked = tmp_path / "one" / "ledger.csv", tmp_path / "chunked" / "ledger.csv"
    return _run(files, one, ONE), _run(files, chunked, CHUNKED), one, chunked


def _same(one: ImportSummary, chunked: ImportSummary, a: Path, b: Path) -> None:
    assert a.read_bytes() == b.read_bytes()
    assert manifest_path(a).read_bytes() == manifest_path(b).read_bytes()
    plain = tuple(dataclasses.replace(f, workers=1) for f in chunked.files)
    assert dataclasses.replace(chunked, files=plain, ledger=a, manifest=manifest_path(a)) == one


def test_a_multi_chunk_file_gives_the_ledger_one_process_gives(tmp_path: Path) -> None:
    """Several chunks read by two workers: the same ledger, manifest and summary; the
    lines in time order across the chunks."""
    export = _export(tmp_path, "trades.csv", _rows(2_000, seed=1))
    one, chunked, a, b = _both(tmp_path, [export])
    assert chunked.files[0].workers == 2
    assert one.files[0].workers == 1
    _same(one, chunked, a, b)
    assert chunked.rows_added > 2_000
    assert chunked.estimated_values > 500
    assert len(read_ledger(b)) == chunked.rows_added


def test_newest_first_rows_crlf_and_a_bom_give_the_same_ledger(tmp_path: Path) -> None:
    """Binance writes its newest trade first: the chunks' lines are sorted as one
    process sorts them; CRLF line endings, a byte-order mark and blank rows read the
    same too."""
    rows = _rows(1_500, seed=2)[::-1]
    rows[700:700] = ["", ",,,,,,", " "]
    export = tmp_path / "trades.csv"
    export.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join([HEADER, *rows]) + "\r\n").encode())
    one, chunked, a, b = _both(tmp_path, [export])
    assert chunked.files[0].workers == 2
    _same(one, chunked, a, b)


def test_rows_repeated_in_two_chunks_are_numbered_as_one_process_numbers_them(
    tmp_path: Path,
) -> None:
    """Two identical rows far apart are two fills (``#2``), which a chunk cannot know:
    such a file is read in one process, to the same ledger."""
    rows = _rows(1_000, seed=3)
    export = _export(tmp_path, "trades.csv", [*rows, *rows[:5]])
    one, chunked, a, b = _both(tmp_path, [export])
    assert chunked.files[0].workers == 1
    _same(one, chunked, a, b)
    assert sum(line.id.endswith("#2") for line in read_ledger(b)) >= 5


def test_a_chunked_file_and_other_files_merge_with_an_existing_ledger(tmp_path: Path) -> None:
    """An existing ledger, an overlapping earlier file and a file with a quote (read in
    one process): duplicates and review items as one process finds them."""
    rows = _rows(1_200, seed=4)
    first = _export(tmp_path, "first.csv", rows[:300])
    whole = _export(tmp_path, "whole.csv", rows)
    quoted = _export(tmp_path, "quoted.csv", ['"2024-06-01 00:00:00",BTCAUD,BUY,1,1BTC,5AUD,0AUD'])
    for folder in ("one", "chunked"):
        (tmp_path / folder).mkdir()
        _run([first], tmp_path / folder / "ledger.csv", ONE)
    one = _run([whole, quoted], tmp_path / "one" / "ledger.csv", ONE)
    chunked = _run([whole, quoted], tmp_path / "chunked" / "ledger.csv", CHUNKED)
    assert [f.workers for f in chunked.files] == [2, 1]
    assert chunked.duplicates == one.duplicates > 0
    _same(one, chunked, tmp_path / "one" / "ledger.csv", tmp_path / "chunked" / "ledger.csv")


def test_the_lowest_bad_row_is_named_when_several_chunks_hold_bad_rows(tmp_path: Path) -> None:
    """An early chunk and a later one both hold a bad row (a reading error and a
    conversion error): the error names the earlier, as one process does, and an existing
    ledger is left byte for byte as it was, with no manifest or temporary file added."""
    rows = _rows(2_000, seed=5)
    rows[1_700] = "2024-02-01 00:00:00,BTCAUD,BUY,1,0.0BTC,5AUD,0AUD"  # quantity 0: line 1702
    rows[400] = "2024-02-30 00:00:00,BTCAUD,BUY,1,1BTC,5AUD,0AUD"  # no such day: line 402
    export = _export(tmp_path, "trades.csv", rows)
    out = tmp_path / "ledger.csv"
    out.write_text("timestamp,type,asset,quantity,aud_value\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    messages = []
    for parallel in (ONE, CHUNKED):
        with pytest.raises(ExportRowError) as caught:
            _run([export], out, parallel)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert messages[1] == (
        "trades.csv line 402 field 'Date(UTC)': '2024-02-30 00:00:00' is not a date and time"
    )
    rows[400] = _rows(1, seed=6)[0]
    with pytest.raises(ExportRowError, match="line 1702 field 'base_quantity'"):
        _run([_export(tmp_path, "trades.csv", rows)], out, CHUNKED)
    assert out.read_text() == "timestamp,type,asset,quantity,aud_value\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_bytes_that_are_not_utf8_in_a_later_chunk_are_named_as_one_process_names_them(
    tmp_path: Path,
) -> None:
    rows = _rows(1_000, seed=7)
    export = _export(tmp_path, "trades.csv", rows)
    data = export.read_bytes()
    at = data.index(rows[800].encode())
    export.write_bytes(data[:at] + b"\xff" + data[at + 1 :])
    messages = []
    for parallel in (ONE, CHUNKED):
        with pytest.raises(ExportRowError) as caught:
            _run([export], tmp_path / "ledger.csv", parallel)
        messages.append(str(caught.value))
    assert (
        messages[0]
        == messages[1]
        == (
            "trades.csv line 802: not UTF-8 text (byte 0xff); save it from the spreadsheet as "
            "'CSV UTF-8' or export it again"
        )
    )
    assert not (tmp_path / "ledger.csv").exists()


def _standalone() -> ExportFormat:
    """A test-only format whose rows stand alone: ``when_solo,coin,amount``; a row of
    kind ``boom`` trips the reader without naming the row."""

    def detect(header: tuple[str, ...]) -> bool:
        return header[:1] == ("when_solo",)

    def read(
        file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
    ) -> Iterator[Record]:
        for line, cells in rows:
            if cells[1] == "boom":
                raise ValueError("the reader tripped")
            at = datetime.fromisoformat(cell(cells, 0, file, line, "when")).replace(tzinfo=UTC)
            qty = amount(cell(cells, 2, file, line, "amount"), file, line, "amount")
            yield Trade(at, "Solo", "buy", cells[1], qty, "AUD", qty, "", Decimal(0), None,
                        f"S{line}", SourceRef(file, (line,)))  # fmt: skip

    return ExportFormat("solo", "Solo", "test only", detect, read, independent_rows=True)


def test_a_reader_failing_without_naming_a_row_in_a_later_chunk_is_named_by_its_line(
    tmp_path: Path,
) -> None:
    rows = [f"2024-03-01T00:{n // 60 % 60:02d}:{n % 60:02d},BTC,{n + 1}" for n in range(900)]
    rows[700] = "2024-03-01T12:00:00,boom,1"
    path = tmp_path / "solo.csv"
    path.write_text("\n".join(["when_solo,coin,amount", *rows]) + "\n")
    table = {"solo": (_standalone(),)}
    messages = []
    for parallel in (ONE, CHUNKED):
        with pytest.raises(ExportRowError) as caught:
            _run([path], tmp_path / "ledger.csv", parallel, formats=table)
        messages.append(str(caught.value))
    assert (
        messages[0]
        == messages[1]
        == ("solo.csv line 702: cannot be read as solo (ValueError: the reader tripped)")
    )


class LineBreakingValuer(FakeValuer):
    """From the second day on, an estimate's source holds a line break (a price file's
    quoted cell can): those records span two lines of the ledger."""

    def value(self, asset: str, quantity: Decimal, at: datetime) -> tuple[Decimal | None, str]:
        value, source = super().value(asset, quantity, at)
        return value, source.replace(" (test)", "\n(test)") if at.day > 1 else source


def test_records_with_a_line_break_in_a_cell_join_as_one_process_writes_them(
    tmp_path: Path,
) -> None:
    """Chunks whose records hold a quoted line break are sent one record at a time, the
    others as one block: joined, the ledger is still the one process's."""
    export = _export(tmp_path, "trades.csv", _rows(2_000, seed=8))
    ledgers = []
    for name, parallel in (("one", ONE), ("chunked", CHUNKED)):
        (tmp_path / name).mkdir()
        out = tmp_path / name / "ledger.csv"
        summary = import_exports(
            [export], exchange="auto", zone=SYDNEY, valuer=LineBreakingValuer(), out=out,
            now=NOW, parallel=parallel,
        )  # fmt: skip
        ledgers.append(out.read_bytes())
    assert summary.files[0].workers == 2
    assert ledgers[0] == ledgers[1]
    assert b'\n(test)"' in ledgers[1]
