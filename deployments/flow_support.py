"""Prefect-facing helpers the flows call at their entry and end: the budget gate's named
state (after the key check: keys a 402 disabled are probed, and every key still disabled
is logged on the run's logger), and the spend artifact.

Wiring in a flow (market analysis shown; news sentiment uses ``"news"`` and its window)::

    runtime = build_runtime(load_settings(...), phase=...)
    stopped = budget_gate(runtime, "market", FLOW_NAME)
    if stopped is not None:
        return stopped                      # state "Unaffordable", result UnaffordableCycle
    ...
    publish_spend(runtime, "market-analysis", cycle_id=summary.cycle_id)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from prefect.artifacts import create_markdown_artifact
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from prefect.states import Completed, State
from prefect.utilities.asyncutils import run_coro_as_sync

from lyra.bootstrap.gateway import GatewaySessions
from lyra.bootstrap.key_check import check_keys
from lyra.errors import LyraError
from lyra.services.budget_check import check_cycle_budget
from lyra.services.runtime import Runtime
from lyra.services.spend_report import run_spend, spend_chart_png, spend_markdown
from lyra.spend.cycle_cost import UnaffordableCycle

__all__ = ["UNAFFORDABLE", "budget_gate", "publish_spend", "report_keys"]

#: The name of the state a flow run ends in when today's budget cannot afford it.
UNAFFORDABLE = "Unaffordable"


def budget_gate(
    runtime: Runtime, kind: Literal["market", "news"], flow: str, *, units: int | None = None
) -> State | None:
    """None when the cycle can be afforded; else the Completed state named
    ``Unaffordable`` (with the reason) for the flow to return: not a failure, since
    stopping is the budget doing its job (docs/domain.md, "LLM gateway"). The keys are
    checked first (:func:`report_keys`)."""
    report_keys(runtime)
    verdict = check_cycle_budget(runtime, kind, units=units)
    if verdict.affordable:
        return None
    return Completed(
        name=UNAFFORDABLE, message=verdict.reason, data=UnaffordableCycle.of(flow, verdict)
    )


def report_keys(runtime: Runtime) -> None:
    """With the LLM panel: probe the keys a 402 disabled whose cool-down has passed, and
    log what the probe did and every key still disabled (why, since when, its way back)
    as WARNINGs on the run's logger, so they show in the Prefect UI. A full alerting
    system is a later issue; the key check never stops the flow."""
    models = runtime.models
    if not isinstance(models, GatewaySessions):
        return
    try:
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = get_run_logger()
    except MissingContextError:
        logger = logging.getLogger(__name__)
    try:
        check = run_coro_as_sync(check_keys(models.settings, models.database))
    except LyraError as exc:
        logger.warning("key check failed: %s", exc)
        return
    if check is None:
        return
    for outcome in check.outcomes:
        logger.warning(outcome.describe())
    for line in check.troubles:
        logger.warning(line)


def publish_spend(
    runtime: Runtime,
    flow: str,
    *,
    cycle_id: str | None = None,
    since: datetime | None = None,
    tasks: Sequence[str] = (),
) -> Path:
    """Publish the run's LLM spend per model and tier (Markdown artifact with a bar
    chart; PNG under the reports folder); returns the PNG's path."""
    lines = run_spend(runtime, cycle_id=cycle_id, since=since, until=datetime.now(UTC), tasks=tasks)
    if cycle_id is not None:
        label = cycle_id
    else:
        label = f"{since:%Y%m%dT%H%M%S}" if since is not None else "run"
    png = runtime.reports.path(f"spend-{flow}-{label}.png")
    title = f"LLM spend of {flow}" + (f" cycle {cycle_id}" if cycle_id else "")
    spend_chart_png(title, lines, png)
    create_markdown_artifact(  # _sync: the same call from sync and async flows
        spend_markdown(title, lines, png), key=f"{flow}-llm-spend", description=title, _sync=True
    )
    return png
