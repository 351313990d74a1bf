"""Benchmark: a nightly tax run that resumes from the kept parcels, against replaying the
whole stored ledger (what the nightly run did before checkpoints), in the same run.

A generated ledger (``benchmarks/tax.py``'s generator: 20 assets, every row type) of
``ROWS`` rows is stored in a fresh SQLite database (or ``--database-url``), less its last
``NEW_ROWS`` rows; the first night replays it and keeps the parcels. Then the last
``NEW_ROWS`` rows (a busy day) arrive and are synced, and the next night is timed two ways:

- ``incremental``: :func:`lyra.services.tax_nightly.rebuild_lots` (restore the parcels,
  apply the new rows, store results and checkpoint) plus
  :func:`~lyra.services.tax_nightly.cgt_position` (the year's report from stored results);
- ``replay`` (baseline): every stored row loaded, the engine run over all of them with
  the recorded identifications, and the year's report built, written and stored the same
  way, as the nightly run did before.

``incremental_rebuild_seconds`` is the rebuild alone (the rest of a night is the year's
report, which grows with the year's disposals, not with the ledger). Both reports must
agree exactly (``reports_match``); ``speedup`` = replay seconds /
incremental seconds (best of ``REPEATS``: the incremental night is run on a copy of the
database each time, so every repeat applies the same new rows). Syncing the CSV into the
ledger is timed apart (``sync_seconds``): it reads the whole configured file every night
by design, since the file is the user's record.

Memory: ``first_night_peak_rss_mb`` is the process's peak resident memory after the
ledger was synced and the first night replayed it (rows read and applied a chunk at a
time, results stored as they go); ``peak_rss_mb`` is the peak at the end, after the
baseline too, which holds every stored row and every disposal at once.

Run from the repository root: ``.venv/bin/python benchmarks/tax_nightly.py`` (about two
minutes). The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT, ROOT / "benchmarks"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from tax import generate  # noqa: E402  (benchmarks/tax.py)

from lyra import bootstrap  # noqa: E402
from lyra.compliance import build_tax_report  # noqa: E402
from lyra.config import Settings, load_settings  # noqa: E402
from lyra.services import tax_nightly as steps  # noqa: E402
from lyra.store.compliance_tables import load_identifications, load_ledger_rows  # noqa: E402

ROWS = 100_000
NEW_ROWS = 1_000
REPEATS = 3
TODAY = date(2024, 6, 30)  # the last day of the ledger: the 2023-24 income year


def _settings(home: Path, database_url: str, ledger: Path) -> Settings:
    os.environ["LYRA_HOME"] = str(home)
    os.environ["LYRA_DATABASE_URL"] = database_url
    os.environ["LYRA_TAX_LEDGER_FILE"] = str(ledger)
    bootstrap.dispose_all()
    settings = load_settings()
    bootstrap.open_database(settings)
    return settings


def replay_night(settings: Settings) -> dict[str, Any]:
    """The baseline: the whole stored ledger through the engine, and the year's report
    written and stored as the nightly run writes it."""
    entity = steps.nightly_entity(bootstrap.build_runtime(settings))
    with bootstrap.open_database(settings).transaction() as session:
        rows = load_ledger_rows(session, entity.name)
        recorded = load_identifications(session, entity.name)
    report = build_tax_report(
        rows,
        entity_type=entity.type,
        basis=entity.basis,
        year="2023-24",
        method=settings.tax_method,
        entity_name=entity.name,
        recorded=recorded,
    )
    outcome = steps.write_cgt_report(bootstrap.build_runtime(settings), report, TODAY)
    return dict(json.loads(Path(outcome.paths[0]).read_text(encoding="utf-8")))


def incremental_night(settings: Settings) -> tuple[dict[str, Any], int, float]:
    """The nightly steps as the flow runs them: rebuild, then the year's report; also
    the seconds of the rebuild alone."""
    started = time.perf_counter()
    lots = steps.rebuild_lots(bootstrap.build_runtime(settings))
    rebuild = time.perf_counter() - started
    outcome = steps.cgt_position(bootstrap.build_runtime(settings), TODAY, lots)
    body = json.loads(Path(outcome.paths[0]).read_text(encoding="utf-8"))
    return body, lots.rows_applied, rebuild


def _peak_rss_mb() -> int:
    """The process's peak resident memory so far, MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    args = parser.parse_args()
    lines = generate(ROWS, seed=ROWS)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        ledger = work / "transactions.csv"
        db_file = work / "lyra.db"
        url = args.database_url or f"sqlite:///{db_file}"
        ledger.write_text("\n".join(lines[: len(lines) - NEW_ROWS]) + "\n", encoding="utf-8")
        settings = _settings(work / ".lyra", url, ledger)
        steps.sync_ledger(bootstrap.build_runtime(settings))
        started = time.perf_counter()
        first = steps.rebuild_lots(bootstrap.build_runtime(settings))
        first_night = time.perf_counter() - started
        first_rss = _peak_rss_mb()
        print(
            f"first night: {first.rows_applied:,} rows replayed in {first_night:.2f} s "
            f"(peak RSS so far {first_rss} MB)"
        )
        ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
        started = time.perf_counter()
        synced = steps.sync_ledger(bootstrap.build_runtime(settings))
        sync_seconds = time.perf_counter() - started
        print(f"sync: {synced.csv_added:,} new rows of {synced.rows:,} in {sync_seconds:.2f} s")
        saved = work / "saved.db"
        if not args.database_url:
            bootstrap.dispose_all()
            shutil.copyfile(db_file, saved)
        incremental, replay, rebuild = float("inf"), float("inf"), float("inf")
        applied = 0
        inc_body: dict[str, Any] = {}
        for _ in range(REPEATS if not args.database_url else 1):
            if not args.database_url:
                bootstrap.dispose_all()
                shutil.copyfile(saved, db_file)
                settings = _settings(work / ".lyra", url, ledger)
            started = time.perf_counter()
            inc_body, applied, rebuilt = incremental_night(settings)
            incremental = min(incremental, time.perf_counter() - started)
            rebuild = min(rebuild, rebuilt)
            started = time.perf_counter()
            replay_body = replay_night(settings)
            replay = min(replay, time.perf_counter() - started)
        bootstrap.dispose_all()
    match = inc_body["totals"] == replay_body["totals"]
    match = match and inc_body["disposals"] == replay_body["disposals"]
    print(
        f"next night, {applied:,} new rows: incremental {incremental:.3f} s, "
        f"replay {replay:.2f} s ({replay / incremental:.1f}x); reports match: {match}; "
        f"of which the parcels: {rebuild:.3f} s (the rest writes the year's report)"
    )
    print(
        json.dumps(
            {
                "ledger_rows": ROWS,
                "new_rows": applied,
                "first_night_seconds": round(first_night, 3),
                "first_night_peak_rss_mb": first_rss,
                "peak_rss_mb": _peak_rss_mb(),
                "sync_seconds": round(sync_seconds, 3),
                "incremental_seconds": round(incremental, 3),
                "incremental_rebuild_seconds": round(rebuild, 3),
                "replay_seconds": round(replay, 3),
                "speedup": round(replay / incremental, 1),
                "reports_match": match,
                "net_capital_gain": inc_body["totals"]["net_capital_gain"],
                "database": "postgresql" if args.database_url else "sqlite",
                "load_average_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
