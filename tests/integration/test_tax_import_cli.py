"""`lyra tax import FILE... --out LEDGER.csv` as issue 15's contract states it, run as a
user runs it: the ledger it writes is read by `lyra tax report --ledger`; a bad row is one
line naming file, row and field, exit 2, and nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LYRA = [sys.executable, "-m", "lyra.cli"]

#: CoinSpot order history (the coinspot module's documented layout): BTC bought and sold
#: on BTC/AUD, ETH bought with BTC (CoinSpot states its AUD total).
COINSPOT = """\
Transaction Date,Type,Market,Amount,Rate inc. fee,Rate ex. fee,Fee,Fee AUD (inc GST),GST AUD,Total AUD,Total (inc GST)
01/08/2023 10:00 AM,Buy,BTC/AUD,0.5,"45,200.00","45,000.00",100.00 AUD,100.00,9.09,"22,600.00","22,600.00 AUD"
15/01/2024 14:30,Buy,ETH/BTC,0.5,0.0531,0.053,0.00005 BTC,3.22,0.29,1700.00,0.02655 BTC
01/03/2024 9:05 AM,Sell,BTC/AUD,0.1,"99,000.00","100,000.00",10.00 AUD,10.00,0.91,"9,900.00","9,900.00 AUD"
"""  # noqa: E501
#: Binance spot trade history: BTC sold for USDT, which has no AUD figure (estimated
#: from the price file's USDT close of the day).
BINANCE = """\
Date(UTC),Pair,Side,Price,Executed,Amount,Fee
2024-02-01 10:00:00,BTCUSDT,SELL,42000,0.01000000BTC,420.00000000USDT,0.42000000USDT
"""
PRICES = "date,asset,quote,price,source\n2024-02-01,USDT,AUD,1.52,test close\n"


def _lyra(
    cwd: Path, *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYRA_")} | (extra or {})
    return subprocess.run(
        [*LYRA, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


def _files(folder: Path) -> tuple[Path, Path, Path]:
    coinspot, binance, prices = (
        folder / "coinspot_orders.csv",
        folder / "binance_trades.csv",
        folder / "prices.csv",
    )
    coinspot.write_text(COINSPOT)
    binance.write_text(BINANCE)
    prices.write_text(PRICES)
    return coinspot, binance, prices


def test_import_writes_a_ledger_that_tax_report_reads(tmp_path: Path) -> None:
    coinspot, binance, prices = _files(tmp_path)
    done = _lyra(
        tmp_path, "tax", "import", str(coinspot), str(binance), "--exchange", "auto",
        "--timezone", "Australia/Sydney", "--prices", str(prices), "--out", "ledger.csv",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "rows added" in done.stdout
    assert "timezone of times without an offset: Australia/Sydney" in done.stdout
    assert "AUD values estimated: 2 " in done.stdout  # the swap and its USDT fee
    ledger = tmp_path / "ledger.csv"
    manifest = json.loads((tmp_path / "ledger.csv.import.json").read_text())
    assert [f["format"] for f in manifest["files"]] == ["coinspot", "binance-trades"]

    report = _lyra(
        tmp_path, "tax", "report", "--ledger", str(ledger), "--entity", "individual",
        "--year", "2023-24", "--format", "json",
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    body = json.loads(report.stdout)
    proceeds = [d["proceeds"] for d in body["disposals"] if d["asset"] == "BTC"]
    assert "638.40" in proceeds, body["disposals"]  # 420 USDT received x 1.52 AUD

    again = _lyra(tmp_path, "tax", "import", str(coinspot), str(binance), "--out", "ledger.csv")
    assert again.returncode == 0, again.stderr
    assert "every file was imported before" in again.stdout


def test_a_bad_row_is_one_line_naming_file_row_and_field_exit_2(tmp_path: Path) -> None:
    coinspot, binance, _ = _files(tmp_path)
    binance.write_text(BINANCE + "2024-02-02 10:00:00,BTCUSDT,SELL,42000,lotsBTC,1USDT,0\n")
    done = _lyra(tmp_path, "tax", "import", str(coinspot), str(binance), "--out", "ledger.csv")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("lyra: error: binance_trades.csv line 3 field 'Executed':")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "ledger.csv").exists()
    assert not (tmp_path / "ledger.csv.import.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "binance_trades.csv", "coinspot_orders.csv", "prices.csv"
    ]  # fmt: skip


def test_an_unknown_timezone_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    coinspot, _, _ = _files(tmp_path)
    done = _lyra(tmp_path, "tax", "import", str(coinspot), "--timezone", "Mars/Olympus",
                 "--out", "ledger.csv")  # fmt: skip
    assert done.returncode == 2
    assert "timezone 'Mars/Olympus' is not an IANA timezone name" in done.stderr
    assert not (tmp_path / "ledger.csv").exists()


def test_the_timezone_setting_is_the_default_and_the_summary_names_it(tmp_path: Path) -> None:
    coinspot, _, _ = _files(tmp_path)
    done = _lyra(tmp_path, "tax", "import", str(coinspot), "--out", "ledger.csv",
                 extra={"LYRA_TAX_TIMEZONE": "Australia/Perth"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "timezone of times without an offset: Australia/Perth" in done.stdout
    first = (tmp_path / "ledger.csv").read_text().splitlines()[1]
    assert first.startswith("2023-08-01T02:00:00+00:00,buy,BTC,")  # 10:00 AWST


def test_a_ledger_with_open_items_is_still_reported_provisional_and_needing_review(
    tmp_path: Path,
) -> None:
    """An export of sales alone (coins bought elsewhere) with a coin no price values: the
    import writes it, and the report is built (exit 0), says NEEDS REVIEW and lists every
    item, and is provisional: the part no row acquired at a $0 cost base, the value no
    price gave at $0, each named in its notes."""
    export = tmp_path / "binance_trades.csv"
    export.write_text(
        "Date(UTC),Pair,Side,Price,Executed,Amount,Fee\n"
        "2024-02-01 10:00:00,BTCAUD,SELL,60000,0.01000000BTC,600.00000000AUD,0.60000000AUD\n"
        "2024-02-02 10:00:00,XYZBTC,SELL,0.001,5.00000000XYZ,0.00500000BTC,0.00000500BTC\n"
    )
    done = _lyra(tmp_path, "tax", "import", str(export), "--out", "ledger.csv")
    assert done.returncode == 0, done.stderr
    review = _lyra(tmp_path, "tax", "review", "--ledger", "ledger.csv", "--format", "json")
    assert review.returncode == 0, review.stderr
    kinds = {item["kind"] for item in json.loads(review.stdout)["items"]}
    assert {"more_sold_than_held", "missing_aud_value"} <= kinds
    report = _lyra(
        tmp_path, "tax", "report", "--ledger", "ledger.csv", "--entity", "individual",
        "--year", "2023-24", "--format", "json",
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    body = json.loads(report.stdout)
    assert body["needs_review"] is True
    assert body["provisional"] is True
    assert {i["kind"] for i in body["review_items"]} == kinds
    btc = next(d for d in body["disposals"] if d["asset"] == "BTC")
    assert btc["proceeds"] == "600.00"
    assert btc["cost_base"] == "0.60"
    assert any("$0 cost base" in note for note in body["notes"])
    assert any("no AUD value" in note for note in body["notes"])
