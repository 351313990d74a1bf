"""A Prefect home that starts from an already migrated database.

A Prefect server started on an empty ``PREFECT_HOME`` first runs every one of Prefect's
migrations (about 14 s of CPU on the two-core CI machine). Tests that start servers of
their own (``lyra run``'s temporary server, ``lyra serve``) copy in a database that
Prefect's own CLI migrated once per test run (the session fixture
``prefect_database_template`` in tests/conftest.py). The server still runs its start-up
migration, which finds the database at the newest revision; everything else it does,
and everything the test checks, is unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["build_prefect_database", "seed_prefect_home"]


def build_prefect_database(home: Path) -> Path:
    """Migrate an empty Prefect database in ``home`` with Prefect's own CLI (a process of
    its own, so this one's Prefect settings are untouched); its path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    database = home / "prefect.db"
    assert database.is_file(), f"Prefect made no prefect.db in {home}"
    return database


def seed_prefect_home(home: Path, template: Path) -> Path:
    """``home`` made a new ``PREFECT_HOME`` holding a copy of the migrated ``template``."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, home / "prefect.db")
    return home
