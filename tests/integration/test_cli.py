"""`lyra` as a user meets it: the main job twice on the embedded default, and user errors
ending in one clear line with a non-zero exit and nothing stored lost or changed."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lyra.exchanges.datafiles import default_data_dir

LYRA = [sys.executable, "-m", "lyra.cli"]


def _lyra(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 240):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*LYRA, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    # closed here: an sqlite3 connection left to the garbage collector closes whenever a
    # collection runs, and the last one closing deletes the -wal and -shm files, mid-copy
    # of the folder in test_audit_verify_names_the_first_edited_record
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, session_prefect_home: Path) -> Path:
    """A folder where `lyra run` has already run once (module-scoped: it takes ~15 s); the
    temporary Prefect servers of both runs keep their database in the session's Prefect
    home, which starts migrated (tests/support/prefect_home.py)."""
    folder = tmp_path_factory.mktemp("lyra-run")
    first = _lyra(folder, "run")
    assert first.returncode == 0, first.stderr
    return folder


def test_run_prints_decisions_for_btc_usd_on_two_exchanges(workdir: Path) -> None:
    db = workdir / ".lyra" / "lyra.db"
    decisions = _rows(db, "SELECT exchange, symbol, price, action, reason FROM decisions")
    assert sorted(d[0] for d in decisions) == ["bitfinex", "coinbase"]
    assert {d[1] for d in decisions} == {"BTC/USD"}
    # real prices: the replay's first instant is 2019-01-01 00:00 UTC; the last closed
    # candle then opened 2018-12-31 23:00 and closed at 3691.86 in the shipped files
    # (line "2018-12-31 11-PM,BTCUSD,3676.68,3698.34,3676.67,3691.86,..." of Coinbase's)
    assert {str(d[2]) for d in decisions} == {"3691.86"}
    report = list((workdir / ".lyra" / "reports" / "market-analysis").glob("*.md"))
    assert len(report) == 1
    assert "coinbase" in report[0].read_text(encoding="utf-8")
    # pre-trade risk ran once on the paper account (phase 3 is `lyra run`'s default): the
    # kill switch's observation before the trades and the finish after them are each the
    # account's snapshot (one peak: docs/domain.md, "Risk")
    snapshots = _rows(db, "SELECT account FROM equity_snapshots")
    assert [s[0] for s in snapshots] == ["paper", "paper"]
    assert (workdir / ".lyra" / "reports" / "equity-paper.png").is_file()


def test_second_run_adds_a_cycle_and_leaves_the_first_untouched(workdir: Path) -> None:
    db = workdir / ".lyra" / "lyra.db"
    before = {
        table: _rows(db, f"SELECT * FROM {table} ORDER BY 1")
        for table in ("cycles", "decisions", "votes", "audit_log")
    }
    second = _lyra(workdir, "run")
    assert second.returncode == 0, second.stderr
    assert "BTC/USD" in second.stdout
    assert "coinbase" in second.stdout
    assert "bitfinex" in second.stdout
    assert "offline" in second.stdout
    assert "news sentiment: BTC" in second.stdout  # the sample feed's headlines reach the run
    assert "resumed from the kept parcels" in second.stdout  # the tax parcels, incremental
    cycles = _rows(db, "SELECT as_of, status FROM cycles ORDER BY as_of")
    assert [c[1] for c in cycles] == ["completed", "completed"]
    assert cycles[0][0] < cycles[1][0]  # the replay clock moved on one candle
    for table, rows in before.items():
        after = _rows(db, f"SELECT * FROM {table} ORDER BY 1")
        assert set(rows) < set(after), f"{table}: a first-run row changed or nothing was added"
    verify = _lyra(workdir, "audit", "verify")
    assert verify.returncode == 0
    assert "intact" in verify.stdout


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _data_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(default_data_dir(), folder)
    return folder


def test_corrupt_data_file_is_one_clear_line_and_stores_nothing(
    workdir: Path, tmp_path: Path
) -> None:
    data = _data_copy(tmp_path)
    (data / "coinbase_btcusd_1h.csv.gz").write_bytes(b"this is not gzip")
    db = workdir / ".lyra" / "lyra.db"
    before = _rows(db, "SELECT count(*) FROM cycles")
    result = _lyra(workdir, "run", env={"LYRA_REPLAY_DATA_DIR": str(data)})
    _assert_one_line_error(result, "coinbase_btcusd_1h.csv.gz")
    assert _rows(db, "SELECT count(*) FROM cycles") == before


def test_bad_row_names_its_line(tmp_path: Path) -> None:
    data = _data_copy(tmp_path)
    path = data / "coinbase_btcusd_1h.csv.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    lines[9] = lines[9].replace(lines[9].split(",")[3], "12x34", 1)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    result = _lyra(tmp_path, "run", env={"LYRA_REPLAY_DATA_DIR": str(data)})
    _assert_one_line_error(result, "coinbase_btcusd_1h.csv.gz", "line 10", "12x34")


def test_missing_data_file_is_one_clear_line(tmp_path: Path) -> None:
    data = _data_copy(tmp_path)
    (data / "bitfinex_btcusd_1h.csv.gz").unlink()
    result = _lyra(tmp_path, "run", env={"LYRA_REPLAY_DATA_DIR": str(data)})
    _assert_one_line_error(result, "bitfinex_btcusd_1h.csv.gz")


def test_unknown_symbol_is_one_clear_line(tmp_path: Path) -> None:
    result = _lyra(tmp_path, "run", env={"LYRA_SYMBOLS": "DOGE/USD"})
    _assert_one_line_error(result, "DOGE/USD", "coinbase", "BTC/USD")


def test_timeframe_the_market_lacks_is_one_clear_line(tmp_path: Path) -> None:
    result = _lyra(tmp_path, "run", env={"LYRA_EXCHANGES": "bitstamp"})  # daily data only
    _assert_one_line_error(result, "bitstamp", "BTC/USD", "'1h'", "1d")


def test_unknown_exchange_is_one_clear_line(tmp_path: Path) -> None:
    result = _lyra(tmp_path, "run", env={"LYRA_EXCHANGES": "coinbase,mtgox"})
    _assert_one_line_error(result, "mtgox")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"LYRA_PHASE": "7"}, "LYRA_PHASE"),
        ({"LYRA_PAHSE": "2"}, "did you mean LYRA_PHASE"),
        ({"LYRA_CANDLE_LIMIT": "lots"}, "LYRA_CANDLE_LIMIT"),
    ],
)
def test_invalid_setting_is_one_clear_line(
    tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    result = _lyra(tmp_path, "run", env=env)
    _assert_one_line_error(result, needle)
    assert not (tmp_path / ".lyra").exists()  # refused before anything was created


def test_audit_verify_names_the_first_edited_record(workdir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(workdir / ".lyra", copy / ".lyra")
    db = copy / ".lyra" / "lyra.db"
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET subject = 'forged' WHERE seq = 2")
    result = _lyra(copy, "audit", "verify")
    assert result.returncode == 1
    assert "record 2" in result.stderr
    assert "edited" in result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--bogus"], "No such option: --bogus"),
        (["killswitch", "reset", "--by"], "--by"),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    result = _lyra(tmp_path, *args, timeout=60)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".lyra").exists()
