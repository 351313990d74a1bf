"""The backtest flow: on demand, one flow run for the whole window (docs/evidence.md).

Its typed parameters make the form the Prefect UI shows for the ``backtest`` deployment.
No task per candle: the votes and the sweep run inside one service call
(:func:`lyra.services.backtest.run_backtest`), reporting progress to a progress artifact;
the report (sweep, metrics, track records, charts) is a Markdown artifact.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from prefect import flow
from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    aupdate_progress_artifact,
)
from pydantic import Field

from lyra.bootstrap import build_runtime
from lyra.bootstrap.backtest import backtest_panel, backtest_plan
from lyra.config import load_settings
from lyra.services.backtest import run_backtest
from lyra.services.backtest_charts import write_charts
from lyra.services.backtest_markdown import backtest_markdown

FLOW_NAME = "backtest"

Threshold = Annotated[Decimal, Field(gt=0, le=1, description="A consensus threshold in (0, 1].")]


@flow(name=FLOW_NAME, persist_result=True, validate_parameters=True)
async def backtest(
    start: datetime | None = None,
    end: datetime | None = None,
    exchanges: list[str] | None = None,
    symbols: list[str] | None = None,
    timeframe: Literal["1h", "1d"] | None = None,
    thresholds: list[Threshold] | None = None,
    panel: Literal["offline", "llm"] = "offline",
    analysts: list[str] | None = None,
    capital_usd: Annotated[Decimal, Field(gt=0)] | None = None,
    fee: Annotated[Decimal, Field(ge=0, lt=1)] | None = None,
    slippage_bps: Annotated[Decimal, Field(ge=0)] | None = None,
    horizon: Annotated[int, Field(ge=1)] | None = None,
    allow_contaminated: bool = False,
    learned_weights: bool = False,
    anonymise: bool = False,
) -> dict[str, Any]:
    """Backtest the consensus over a window (defaults: the embedded default's window, the
    settings' markets, phase 1's threshold, the offline panel); returns the ``lyra
    backtest --format json`` object. The sweep always adds the five phase thresholds."""
    settings = load_settings()
    plan = backtest_plan(
        settings,
        start=start,
        end=end,
        exchanges=exchanges or (),
        symbols=symbols or (),
        timeframe=timeframe,
        thresholds=thresholds or (),
        panel=panel,
        analysts=analysts or (),
        capital=capital_usd,
        fee_rate=fee,
        slippage_bps=slippage_bps,
        allow_contaminated=allow_contaminated,
        horizon=horizon,
        learned_weights=learned_weights,
        anonymise=anonymise,
    )
    runtime = build_runtime(settings, phase=1)
    chosen = backtest_panel(settings, runtime, plan)
    artifact = await acreate_progress_artifact(
        0.0, key="backtest-progress", description="instants voted on"
    )
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Future[Any]] = set()

    def progress(done: int, total: int) -> None:
        if done == total or done % max(total // 20, 1) == 0:
            future = asyncio.ensure_future(
                aupdate_progress_artifact(artifact, 100.0 * done / total), loop=loop
            )
            pending.add(future)
            future.add_done_callback(pending.discard)

    report = await run_backtest(runtime, plan, chosen, progress=progress)
    await asyncio.gather(*pending)
    await aupdate_progress_artifact(artifact, 100.0)
    stem = f"{plan.start:%Y%m%d}-{plan.end:%Y%m%d}_{plan.sweep_thresholds[0]}"
    charts = write_charts(report, runtime.reports, stem)
    await acreate_markdown_artifact(
        backtest_markdown(report, charts), key="backtest-report", description="backtest"
    )
    return report.to_json()
