"""A backtest's plan and panel from the entry's options and the settings.

Who votes is the panel file's panel for the run's phase (:func:`lyra.bootstrap.panel.
panel_spec`; docs/domain.md, "Panels"), the same members the live cycle of that phase
has: its offline strategies and weights unless the run names its own analysts (else
``LYRA_OFFLINE_ANALYSTS``), and its LLM tiers. The LLM panel answers from the vote
journal: every recorded answer of the window's markets, replayed exactly, with zero calls
and zero cost; an instant with no recorded answer is an abstention ("not in the vote
journal"), never a call a user did not ask for (docs/evidence.md, "LLMs in a backtest").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from lyra.bootstrap.panel import panel_spec
from lyra.config import Settings
from lyra.decision.analysts import build_offline_panel
from lyra.decision.analysts.journal import journal_panel
from lyra.services.backtest import BacktestPanel
from lyra.services.backtest_plan import (
    DEFAULT_THRESHOLDS,
    DEFAULT_WINDOW,
    BacktestPlan,
    PanelChoice,
)
from lyra.services.runtime import Runtime
from lyra.spend.catalog import load_catalog
from lyra.store.vote_journal import recorded_answers

__all__ = ["backtest_panel", "backtest_plan"]


def backtest_plan(
    settings: Settings,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    exchanges: Sequence[str] = (),
    symbols: Sequence[str] = (),
    timeframe: str | None = None,
    thresholds: Sequence[Decimal] = (),
    panel: PanelChoice = "offline",
    analysts: Sequence[str] = (),
    capital: Decimal | None = None,
    fee_rate: Decimal | None = None,
    slippage_bps: Decimal | None = None,
    allow_contaminated: bool = False,
    horizon: int | None = None,
    learned_weights: bool = False,
    anonymise: bool = False,
) -> BacktestPlan:
    """The plan: each option given, else the setting, else the backtest's default."""
    optional: dict[str, object] = {
        "thresholds": tuple(thresholds) or DEFAULT_THRESHOLDS,
        "capital": capital,
        "slippage_bps": slippage_bps,
        "horizon": horizon,
    }
    return BacktestPlan(
        start=start or DEFAULT_WINDOW[0],
        end=end or DEFAULT_WINDOW[1],
        exchanges=tuple(e.strip().lower() for e in exchanges) or tuple(settings.exchanges),
        symbols=tuple(s.strip().upper() for s in symbols) or tuple(settings.symbols),
        timeframe=timeframe or settings.timeframe,
        panel=panel,
        offline_analysts=tuple(analysts) or tuple(settings.offline_analysts),
        fee_rate=fee_rate,
        allow_contaminated=allow_contaminated,
        learned_weights=learned_weights,
        anonymise=anonymise,
        **{k: v for k, v in optional.items() if v is not None},  # type: ignore[arg-type]
    )


def backtest_panel(
    settings: Settings, runtime: Runtime, plan: BacktestPlan, *, phase: int | None = None
) -> BacktestPanel:
    """Who votes: the panel file's members for ``phase`` (None: the runtime's phase):
    the offline analysts, or the LLM slots: replayed from the journal, and asked through
    the gateway on the backtests' own budget where the journal has nothing (only with the
    OpenRouter provider configured; offline, unrecorded instants abstain)."""
    spec = panel_spec(settings, runtime.run.number if phase is None else phase)
    spec = spec.with_offline(plan.offline_analysts)
    weights = {**spec.offline_weights, **plan.offline_weights}
    offline = build_offline_panel(spec.offline_names, weights)
    if plan.panel == "offline":
        return BacktestPanel(offline, source="offline")
    catalog = spec.catalog_for(
        runtime.spend.catalog if runtime.spend is not None else load_catalog()
    )
    entries = {}
    with runtime.database.transaction() as session:
        for exchange, symbol in plan.markets:
            entries.update(
                recorded_answers(
                    session,
                    exchange=exchange,
                    symbol=symbol,
                    timeframe=plan.timeframe,
                    start=plan.start,
                    end=plan.end,
                )
            )
    models = None
    source = "llm (vote journal)"
    if settings.llm_provider != "offline":
        from lyra.bootstrap.gateway import BACKTEST_BUDGET, GatewaySessions

        models = GatewaySessions(settings, runtime.database, catalog, BACKTEST_BUDGET)
        source = "llm (vote journal, then the models on the backtest budget)"
    return BacktestPanel(
        [*journal_panel(catalog, entries), *offline],
        source=source,
        catalog=catalog,
        models=models,
    )
