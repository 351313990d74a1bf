"""Prefect-facing helpers the flows call at their entry and end: the budget gate's named
state and the spend artifact.

Wiring in a flow (market analysis shown; news sentiment uses ``"news"`` and its window)::

    runtime = build_runtime(load_settings(...), phase=...)
    stopped = budget_gate(runtime, "market", FLOW_NAME)
    if stopped is not None:
        return stopped                      # state "Unaffordable", result UnaffordableCycle
    ...
    publish_spend(runtime, "market-analysis", cycle_id=summary.cycle_id)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, State

from lyra.services.budget_check import check_cycle_budget
from lyra.services.runtime import Runtime
from lyra.services.spend_report import run_spend, spend_chart_png, spend_markdown
from lyra.spend.cycle_cost import UnaffordableCycle

__all__ = ["UNAFFORDABLE", "budget_gate", "publish_spend"]

#: The name of the state a flow run ends in when today's budget cannot afford it.
UNAFFORDABLE = "Unaffordable"


def budget_gate(
    runtime: Runtime, kind: Literal["market", "news"], flow: str, *, units: int | None = None
) -> State | None:
    """None when the cycle can be afforded; else the Completed state named
    ``Unaffordable`` (with the reason) for the flow to return: not a failure, since
    stopping is the budget doing its job (docs/domain.md, "LLM gateway")."""
    verdict = check_cycle_budget(runtime, kind, units=units)
    if verdict.affordable:
        return None
    return Completed(
        name=UNAFFORDABLE, message=verdict.reason, data=UnaffordableCycle.of(flow, verdict)
    )


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
