"""The composition root: the one place that turns settings into adapters.

Entry points (the CLI, each flow) call :func:`build_runtime` once with the settings and
the run's parameters, and hand the :class:`~lyra.services.runtime.Runtime` to the
service steps (through their tasks); nothing else in ``lyra/`` builds an adapter from
settings (docs/architecture.md, "The composition root").

Usage::

    runtime = build_runtime(load_settings(), phase=3)
"""

from typing import TYPE_CHECKING, Any

from lyra.bootstrap.database import dispose_all, open_database

if TYPE_CHECKING:
    from lyra.bootstrap.runtime import build_runtime, resolve_phase_run, risk_limits

__all__ = [
    "build_runtime",
    "dispose_all",
    "open_database",
    "resolve_phase_run",
    "risk_limits",
]


def __getattr__(name: str) -> Any:
    """The runtime's names, imported when first asked for (PEP 562): the runtime pulls in
    the exchange adapters (ccxt, seconds to import), which a command that only opens the
    database (``lyra tax report`` storing its report) never needs."""
    if name in ("build_runtime", "resolve_phase_run", "risk_limits"):
        from lyra.bootstrap import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
