"""The composition root: the one place that turns settings into adapters.

Entry points (the CLI, each flow) call :func:`build_runtime` once with the settings and
the run's parameters, and hand the :class:`~lyra.services.runtime.Runtime` to the
service steps (through their tasks); nothing else in ``lyra/`` builds an adapter from
settings (docs/architecture.md, "The composition root").

Usage::

    runtime = build_runtime(load_settings(), phase=3)
"""

from lyra.bootstrap.database import dispose_all, open_database
from lyra.bootstrap.runtime import build_runtime, resolve_phase_run, risk_limits

__all__ = [
    "build_runtime",
    "dispose_all",
    "open_database",
    "resolve_phase_run",
    "risk_limits",
]
