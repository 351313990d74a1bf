"""lyra.observability's front door: every public name is importable, and importing the
package (what the API process does to mount ``GET /metrics``) loads no Prefect, and the
flows' alert hooks load no FastAPI."""

from __future__ import annotations

import subprocess
import sys

import lyra.observability as observability


def test_every_public_name_is_exported() -> None:
    assert len(set(observability.__all__)) == len(observability.__all__)
    for name in observability.__all__:
        assert getattr(observability, name) is not None, name


def test_importing_the_package_loads_no_prefect() -> None:
    code = "import sys, lyra.observability; print('prefect' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"


def test_the_flows_alert_hooks_load_no_fastapi() -> None:
    """Every flow process imports the alert hooks and never serves ``/metrics``: FastAPI is
    imported only when the metrics router is built (about 0.25 s of CPU a process)."""
    code = "import sys, flows.alert_hooks; print('fastapi' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"
