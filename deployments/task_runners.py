"""The task runner of the per-symbol fan-out, from settings.

``LYRA_TASK_RUNNER=thread`` (default): Prefect's thread pool in the flow run's process.
``LYRA_TASK_RUNNER=dask``: prefect-dask's ``DaskTaskRunner`` (the ``scale`` extra), on
the cluster at ``LYRA_DASK_ADDRESS`` or, when empty, a temporary local cluster of
``LYRA_DASK_WORKERS`` workers per flow run. Use::

    market_analysis.with_options(task_runner=task_runner(settings))(phase=3)
"""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from lyra.config import Settings
from lyra.errors import ConfigError

__all__ = ["task_runner"]


def task_runner(settings: Settings, *, processes: bool = True) -> Any:
    """A fresh task runner for one flow run (``processes=False``: threaded Dask workers,
    lighter for tests and small machines)."""
    if settings.task_runner == "thread":
        return ThreadPoolTaskRunner()
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigError(
            "LYRA_TASK_RUNNER=dask needs the scale extra: pip install 'lyra[scale]'"
        ) from None
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.dask_workers,
            "processes": processes,
            "threads_per_worker": 2,
            "dashboard_address": None,
        }
    )
