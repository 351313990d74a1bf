"""One Prefect test harness for every flow test (docs/stack.md, "Prefect 3": one
session-wide harness)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def prefect_harness(prefect_database_template: Path) -> Iterator[None]:
    """Prefect's own ``prefect_test_harness``, its database starting as a copy of the
    session's migrated template (tests/support/prefect_home.py) instead of empty: the
    harness server would otherwise run every Prefect migration again on each xdist worker
    (about 14 s of CPU each); it still runs its start-up migration, which finds the newest
    revision. The harness makes its folder with ``mkdtemp`` and its database is
    ``prefect-test.db`` in it (prefect/testing/utilities.py, 3.8): the folder handed to it
    already holds that file."""
    import prefect.testing.utilities as harness

    folder = tempfile.mkdtemp(prefix="lyra-test-harness-")
    shutil.copyfile(prefect_database_template, Path(folder) / "prefect-test.db")
    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(harness, "mkdtemp", lambda: folder)
            stack.enter_context(harness.prefect_test_harness(server_startup_timeout=120))
        yield
