"""The review of a ledger (docs/tax.md "Review before a report is final"): each kind of
item found and named by its line, every oversell listed (not only the first), the
import's own items read from its manifest, and ``lyra tax review`` as the contract says.
Times are 02:00Z = noon in Sydney, so dates are unambiguous."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lyra.cli.main import app
from lyra.compliance.importers.manifest import Manifest, manifest_json, manifest_path
from lyra.compliance.ledger import HEADER, Txn, parse_ledger
from lyra.compliance.lots import Method
from lyra.compliance.review import review_file, review_json, review_ledger, review_markdown
from lyra.compliance.review_items import ReviewItem
from tests.support.tax import TEST_NOW, csv_text, ledger

EXTENDED = (*HEADER, "aud_source", "source")


def _extended(*rows: tuple[str, ...]) -> tuple[Txn, ...]:
    """Rows with the import's extension columns (13 contract columns, aud_source, source)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXTENDED)
    writer.writerows(rows)
    return parse_ledger(io.StringIO(buffer.getvalue()), source="test.csv", now=TEST_NOW)


def _found(items: list[ReviewItem]) -> list[tuple[str, int | str]]:
    return [(i.kind, i.row) for i in items]


@pytest.mark.parametrize("method", ["fifo", "specific", "lowest-tax"])
def test_every_disposal_of_more_than_held_is_named_by_its_line_not_only_the_first(
    method: Method,
) -> None:
    """The report stops at the first shortfall; the review works the holdings out
    tolerantly and names each one: two oversold sells, an oversold swap and a transfer
    of more than is held (lines 3, 5, 6, 7), while the rows in between are fine. With
    every method (``specific`` works the parcels themselves out)."""
    items = review_ledger(
        ledger(
            "2024-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
            "2024-07-03T02:00:00Z,sell,BTC,1.5,1500,,,,,kraken,,s1,",
            "2024-07-04T02:00:00Z,buy,BTC,2,2000,,,,,kraken,,b2,",
            "2024-07-05T02:00:00Z,sell,BTC,3,3000,,,,,kraken,,s2,",
            "2024-07-06T02:00:00Z,swap,ETH,1,500,,BTC,0.1,,kraken,,x1,",
            "2024-07-07T02:00:00Z,transfer,BTC,1,,,,,,kraken,ledger,t1,",
            "2024-07-08T02:00:00Z,sell,BTC,0.1,100,,,,,kraken,,s3,",
        ),
        method=method,
    )
    assert _found(items) == [
        ("more_sold_than_held", 3),
        ("more_sold_than_held", 5),
        ("more_sold_than_held", 6),
        ("more_sold_than_held", 7),
    ]
    assert "more than the 1 held" in items[0].detail
    assert "more than the 0 held" in items[2].detail  # ETH was never acquired
    # The swap's BTC (0.1) arrived, so the last sell of 0.1 is served: no item for line 8.


def test_a_named_parcel_that_cannot_serve_its_disposal_is_listed_with_specific() -> None:
    """``--method specific``: a lot too small for its disposal stops the report; the
    review names the row and goes on with the method's own choice."""
    rows = ledger(
        "2024-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
        "2024-07-03T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b2,",
        "2024-07-04T02:00:00Z,sell,BTC,1.5,1500,,,,,kraken,,s1,b1",
        "2024-07-05T02:00:00Z,sell,BTC,0.5,500,,,,,kraken,,s2,",
    )
    items = review_ledger(rows, method="specific")
    assert _found(items) == [("more_sold_than_held", 4)]
    assert "lot 'b1' holds only 1" in items[0].detail


def test_transfers_with_an_unknown_side_are_unmatched_and_an_unknown_source_has_no_cost_base() -> (
    None
):
    """docs/domain.md: on a transfer ``exchange`` is where the coins came from and
    ``counterparty`` where they went. Coins from an unknown source: no cost base and
    unmatched (line 3); coins to an unknown place: unmatched only (line 5); a matched
    move: nothing (line 4). The incoming coins add no parcel (their cost is unknown): a
    later sell of more than the parcels recorded is listed too (line 6)."""
    rows = ledger(
        "2024-07-01T02:00:00Z,buy,ETH,3,6000,,,,,coinspot,,b1,",
        "2024-07-02T02:00:00Z,transfer,ETH,2,,,,,,,coinspot,t-in,",
        "2024-07-03T02:00:00Z,transfer,ETH,2,,,,,,coinspot,kraken,t-move,",
        "2024-07-04T02:00:00Z,transfer,ETH,1,,,,,,kraken,,t-out,",
        "2024-07-05T02:00:00Z,sell,ETH,4,8000,,,,,kraken,,s1,",
    )
    items = review_ledger(rows, method="fifo")
    assert _found(items) == [
        ("missing_cost_base", 3),
        ("unmatched_transfer", 3),
        ("unmatched_transfer", 5),
        ("more_sold_than_held", 6),
    ]
    assert "at coinspot from an unknown source" in items[0].detail
    assert "where it went is unknown" in items[2].detail


def test_a_lot_named_while_the_method_is_fifo_is_an_item_not_silently_ignored() -> None:
    rows = ledger(
        "2024-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
        "2024-07-03T02:00:00Z,buy,BTC,1,3000,,,,,kraken,,b2,",
        "2024-07-04T02:00:00Z,sell,BTC,1,2500,,,,,kraken,,s1,b2",
    )
    (item,) = review_ledger(rows, method="fifo")
    assert (item.kind, item.row) == ("lot_ignored", 4)
    assert "'b2'" in item.detail
    assert review_ledger(rows, method="specific") == []


def test_rows_equal_but_for_their_id_from_two_files_are_duplicates() -> None:
    """The same trade in two exports (line 3 repeats line 2 from another file); equal
    rows from one file are not flagged (two identical buys can be real)."""
    same = ("2024-07-02T02:00:00Z", "buy", "BTC", "1", "1000", "", "", "", "", "kraken", "")
    rows = _extended(
        (*same, "kraken-1", "", "", "kraken-trades.csv:2"),
        (*same, "kraken-L1", "", "", "kraken-ledgers.csv:7"),
        (*same, "kraken-2", "", "", "kraken-trades.csv:3"),
    )
    (item,) = review_ledger(rows, method="fifo")
    assert (item.kind, item.row) == ("duplicate", 3)
    assert "line 2" in item.detail
    assert "kraken-trades.csv" in item.detail
    one_file = _extended(
        (*same, "a", "", "", "kraken-trades.csv:2"),
        (*same, "b", "", "", "kraken-trades.csv:3"),
    )
    assert review_ledger(one_file, method="fifo") == []


def test_missing_aud_values_are_collected_while_reading_instead_of_refusing_the_file(
    tmp_path: Path,
) -> None:
    """A buy without a value (line 2, the import said why) and a swap with neither value
    (line 3) are listed, as is a fee the import could not value (line 4); the report
    refuses such a file, the review reads it whole."""
    path = tmp_path / "ledger.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(EXTENDED)
        writer.writerow(
            (
                "2024-07-02T02:00:00Z",
                "buy",
                "XYZ",
                "10",
                "",
                "",
                "",
                "",
                "",
                "swyftx",
                "",
                "b1",
                "",
                "missing:no USD price for XYZ on 2024-07-02",
                "s.csv:2",
            )
        )
        writer.writerow(
            (
                "2024-07-03T02:00:00Z",
                "swap",
                "XYZ",
                "5",
                "",
                "",
                "BTC",
                "0.001",
                "",
                "swyftx",
                "",
                "x1",
                "",
                "",
                "s.csv:3",
            )
        )
        writer.writerow(
            (
                "2024-07-04T02:00:00Z",
                "fee",
                "XYZ",
                "1",
                "",
                "",
                "",
                "",
                "",
                "swyftx",
                "",
                "f1",
                "",
                "missing:no USD price for XYZ on 2024-07-04",
                "s.csv:4",
            )
        )
    _, items = review_file(path, method="fifo")
    assert _found(items) == [
        ("missing_aud_value", 2),
        ("missing_aud_value", 3),
        ("missing_aud_value", 4),
    ]
    assert "no USD price for XYZ on 2024-07-02" in items[0].detail
    assert "aud_value or given_aud_value" in items[1].detail


def test_unknown_row_kinds_and_duplicates_come_from_the_import_manifest(tmp_path: Path) -> None:
    """What only the import saw is named by the export's file:line; its unmatched
    transfers are ledger rows, found (and named by ledger line) in the ledger itself."""
    path = tmp_path / "ledger.csv"
    path.write_text(csv_text("2024-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,"))
    manifest = Manifest(
        timezone="Australia/Sydney",
        review_items=(
            ReviewItem("unknown_kind", "kraken-ledgers.csv:9", "type 'margin' is not known"),
            ReviewItem("duplicate", "kraken-trades.csv:4", "same trade as coinspot.csv:2"),
            ReviewItem("unmatched_transfer", "kraken-ledgers.csv:5", "withdrawal unmatched"),
        ),
    )
    manifest_path(path).write_text(json.dumps(manifest_json(manifest)), encoding="utf-8")
    _, items = review_file(path, method="fifo")
    assert _found(items) == [
        ("unknown_kind", "kraken-ledgers.csv:9"),
        ("duplicate", "kraken-trades.csv:4"),
    ]


def test_review_json_and_markdown_escape_what_the_ledger_wrote() -> None:
    """The contract's JSON; in Markdown a ``|`` in a detail (an asset name) stays in
    its cell."""
    rows = ledger(
        "2024-07-03T02:00:00Z,buy,A|B,1,10,,,,,kraken,,b1,",
        "2024-07-04T02:00:00Z,transfer,A|B,1,,,,,,kraken,,t1,",
    )
    items = review_ledger(rows, method="fifo")
    assert review_json(items) == {
        "items": [{"kind": "unmatched_transfer", "row": 3, "detail": items[0].detail}],
        "needs_review": True,
    }
    table_row = next(x for x in review_markdown(items, "l.csv").splitlines() if "| 3 |" in x)
    assert "A\\|B" in table_row
    assert table_row.replace("\\|", "").count("|") == 4  # three cells
    assert review_json([]) == {"items": [], "needs_review": False}
    assert "Nothing to review" in review_markdown([], "l.csv")


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    return CliRunner()


def test_lyra_tax_review_prints_the_contract_json_and_exits_0_either_way(
    runner: CliRunner, tmp_path: Path
) -> None:
    """`lyra tax review --ledger LEDGER.csv --format json` prints {items: [{kind, row,
    detail}], needs_review}; exit 0 with items open and with none."""
    path = tmp_path / "ledger.csv"
    path.write_text(
        csv_text(
            "2024-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
            "2024-07-03T02:00:00Z,sell,BTC,2,3000,,,,,kraken,,s1,b1",
        )
    )
    done = runner.invoke(app, ["tax", "review", "--ledger", str(path), "--format", "json"])
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert body["needs_review"] is True
    assert [(i["kind"], i["row"]) for i in body["items"]] == [
        ("more_sold_than_held", 3),
        ("lot_ignored", 3),
    ]
    assert set(body["items"][0]) == {"kind", "row", "detail"}
    specific = runner.invoke(
        app, ["tax", "review", "--ledger", str(path), "--method", "specific", "--format", "json"]
    )
    assert [i["kind"] for i in json.loads(specific.stdout)["items"]] == ["more_sold_than_held"]
    path.write_text(csv_text("2024-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,"))
    clean = runner.invoke(app, ["tax", "review", "--ledger", str(path), "--format", "json"])
    assert clean.exit_code == 0
    assert json.loads(clean.stdout) == {"items": [], "needs_review": False}


def test_lyra_tax_review_reads_naive_times_in_the_declared_timezone(
    runner: CliRunner, tmp_path: Path
) -> None:
    """02:30 on 6 October 2024 does not exist in Sydney (daylight saving starts): the
    default timezone refuses the row by line; ``--timezone UTC`` reads it."""
    path = tmp_path / "ledger.csv"
    path.write_text(csv_text("2024-10-06T02:30:00,buy,BTC,1,1000,,,,,kraken,,b1,"))
    sydney = runner.invoke(app, ["tax", "review", "--ledger", str(path), "--format", "json"])
    assert sydney.exit_code != 0
    assert "line 2" in str(sydney.exception)
    utc = runner.invoke(
        app, ["tax", "review", "--ledger", str(path), "--timezone", "UTC", "--format", "json"]
    )
    assert utc.exit_code == 0, utc.output
    assert json.loads(utc.stdout)["needs_review"] is False
