"""Settings (and a run's parameters) to the :class:`~lyra.services.runtime.Runtime` every
service step works with: the one place that turns configuration into adapters.

The phase run is made here, once: the phase in force (:func:`lyra.rollout.phases.
phase_in_force`: the run's parameter, else the newest recorded promotion, else
``LYRA_PHASE``, else the entry's default) tightened by the run's threshold, order mode
and capital cap (a parameter, else ``LYRA_CONSENSUS_THRESHOLD`` / ``LYRA_ORDER_MODE`` /
``LYRA_CAPITAL_CAP_USD``). A figure looser than the phase is a :class:`ConfigError`
naming it, before anything runs.

Usage::

    runtime = build_runtime(load_settings(), phase=3, consensus_threshold=Decimal("0.85"))
    summary = await services.market_cycle.run_cycle(runtime)   # or a flow's tasks
"""

from __future__ import annotations

import functools
from datetime import timedelta
from decimal import Decimal

from lyra.bootstrap.brokers import Brokers
from lyra.bootstrap.config_overlay import persisted_overlay, with_routing
from lyra.bootstrap.database import check_audit, open_database
from lyra.bootstrap.gateway import ProviderPrices
from lyra.bootstrap.market import CcxtFactory, CcxtMarket, ReplayMarket, parse_endpoints
from lyra.bootstrap.panel import build_panel
from lyra.config import Settings
from lyra.errors import ConfigError
from lyra.evidence.weights import WeightRule
from lyra.execution.paper import FillModel
from lyra.market.types import timeframe_delta
from lyra.risk.limits import RiskLimits
from lyra.rollout.phases import DEFAULT_PHASE, OrderMode, PhaseInForce, PhaseRun, phase_in_force
from lyra.rollout.readiness import EvidenceFloors
from lyra.services.clocks import ReplayMarketClock, WallClock
from lyra.services.reports import ReportFolder
from lyra.services.runtime import (
    MarketClock,
    MarketPlan,
    MarketSource,
    ModelSource,
    NewsPlan,
    Runtime,
    SpendPlan,
    TaxPlan,
)
from lyra.store.db import Database
from lyra.store.paper_book import DatabasePaperBook
from lyra.store.phase_changes import recorded_phase

__all__ = ["build_runtime", "evidence_floors", "resolve_phase_run", "risk_limits"]


def risk_limits(settings: Settings) -> RiskLimits:
    """The risk limits in force: the ``LYRA_RISK_*`` settings and the phase capital."""
    return RiskLimits(
        risk_per_trade=settings.risk_per_trade,
        max_asset_share=settings.risk_max_asset_share,
        max_drawdown=settings.risk_max_drawdown,
        premium_vote_above_usd=settings.risk_premium_vote_above_usd,
        price_collar=settings.risk_price_collar,
        max_data_age_s=settings.risk_max_data_age_s,
        max_orders_per_interval=settings.risk_max_orders_per_interval,
        order_interval_s=settings.risk_order_interval_s,
        max_volatility=settings.risk_max_volatility,
        atr_stop_multiple=settings.risk_atr_stop_multiple,
        symbols=frozenset(settings.symbols),
        paper_capital_usd=settings.paper_capital_usd,
        live_capital_cap_usd=settings.live_capital_cap_usd,
        reconcile_tolerance=settings.risk_reconcile_tolerance,
    )


def evidence_floors(settings: Settings) -> EvidenceFloors:
    """The floors of a promotion on evidence: the ``LYRA_PROMOTION_*`` settings."""
    return EvidenceFloors(
        min_days_traded=settings.promotion_min_days_traded,
        max_drawdown=float(settings.promotion_max_drawdown),
        min_sharpe=float(settings.promotion_min_sharpe),
        min_hit_rate=float(settings.promotion_min_hit_rate),
        min_excess_return=float(settings.promotion_min_excess_return),
    )


def resolve_phase_run(
    settings: Settings,
    recorded: int | None,
    *,
    phase: int | None = None,
    consensus_threshold: Decimal | None = None,
    order_mode: OrderMode | str | None = None,
    capital_cap: Decimal | None = None,
    default_phase: int = DEFAULT_PHASE,
) -> tuple[PhaseInForce, PhaseRun]:
    """The phase in force and this run of it (module docstring); ConfigError names a
    figure looser than the phase."""
    chosen = phase_in_force(
        requested=phase, recorded=recorded, configured=settings.phase, default=default_phase
    )
    threshold, threshold_from = consensus_threshold, "the consensus_threshold parameter"
    if threshold is None:
        threshold, threshold_from = settings.consensus_threshold, "LYRA_CONSENSUS_THRESHOLD"
    mode, mode_from = order_mode, "the order_mode parameter"
    if mode is None:
        mode, mode_from = settings.order_mode, "LYRA_ORDER_MODE"
    cap, cap_from = capital_cap, "the capital_cap_usd parameter"
    if cap is None:
        cap, cap_from = settings.capital_cap_usd, "LYRA_CAPITAL_CAP_USD"
    try:
        run = PhaseRun.of(chosen.number, threshold=threshold, order_mode=mode, capital_cap=cap)
    except ValueError as exc:
        text = str(exc)
        named = (
            mode_from
            if text.startswith("order mode")
            else cap_from
            if text.startswith("capital cap")
            else threshold_from
        )
        raise ConfigError(f"{named}: {exc} ({chosen.describe()})") from None
    return chosen, run


def _recorded(database: Database) -> int | None:
    with database.transaction() as session:
        return recorded_phase(session)


def _clock(settings: Settings, database: Database) -> MarketClock:
    if settings.market_source != "replay":
        return WallClock()
    return ReplayMarketClock(
        database, settings.timeframe, settings.replay_start, timeframe_delta(settings.timeframe)
    )


def _ccxt(settings: Settings, database: Database, ccxt_factory: CcxtFactory | None) -> CcxtMarket:
    return CcxtMarket(
        database,
        markets_ttl=timedelta(hours=float(settings.markets_ttl_hours)),
        sandbox=settings.ccxt_sandbox,
        ccxt_factory=ccxt_factory,
        endpoints=parse_endpoints(settings.exchange_endpoints),
    )


def _models(
    settings: Settings, database: Database, routing: dict[str, str] | None = None
) -> tuple[ModelSource | None, SpendPlan | None]:
    if settings.llm_provider == "offline":
        return None, None
    from lyra.bootstrap.gateway import GatewaySessions, budget_policy
    from lyra.spend.catalog import load_catalog

    catalog = with_routing(load_catalog(), routing or {})  # routing set through the API
    # The flow's budget gate judges the total and tier scopes only: no key caps, so no
    # keystore unlock (600,000 PBKDF2 rounds) to price a cycle.
    spend = SpendPlan(budget_policy(settings, []), catalog, settings.cycle_prompt_tokens)
    return GatewaySessions(settings, database, catalog), spend


def build_runtime(
    settings: Settings,
    *,
    phase: int | None = None,
    consensus_threshold: Decimal | None = None,
    order_mode: OrderMode | str | None = None,
    capital_cap: Decimal | None = None,
    default_phase: int = DEFAULT_PHASE,
    ccxt_factory: CcxtFactory | None = None,
) -> Runtime:
    """The Runtime of one run (module docstring): migrated database, clock, market data,
    brokers, panel, gateway, reports, the phase run and the figures of every service.

    ``ccxt_factory`` replaces ccxt's exchange classes (a recording proxy, the tests'
    canned exchanges) while ccxt's parsers and error table stay.
    """
    database = open_database(settings)
    check_audit(database)  # a chain that fails its check gets nothing more appended
    recorded = _recorded(database)
    # The configuration changed through the HTTP API, in force from this cycle on
    # (lyra/bootstrap/config_overlay.py): laid over the settings before anything reads them.
    settings, routing = persisted_overlay(
        settings,
        database,
        phase_in_force(
            requested=phase, recorded=recorded, configured=settings.phase, default=default_phase
        ),
    )
    chosen, run = resolve_phase_run(
        settings,
        recorded,
        phase=phase,
        consensus_threshold=consensus_threshold,
        order_mode=order_mode,
        capital_cap=capital_cap,
        default_phase=default_phase,
    )
    ccxt = _ccxt(settings, database, ccxt_factory)
    market: MarketSource = (
        ReplayMarket(settings.replay_data_dir) if settings.market_source == "replay" else ccxt
    )
    models, spend = _models(settings, database, routing)
    brokers = Brokers(
        market=market,
        timeframe=settings.timeframe,
        step=timeframe_delta(settings.timeframe),
        fill_model=FillModel(settings.paper_slippage_bps, settings.paper_volume_share),
        fee_rate=settings.paper_fee_rate,
        live=ccxt,
        credentials=settings.exchange_credentials,
        paper_book=DatabasePaperBook(database),
    )
    # The members for this run's phase (lyra/decision/panels.toml or LYRA_PANEL_FILE;
    # LYRA_OFFLINE_ANALYSTS wins for the offline members): docs/domain.md, "Panels".
    panel = build_panel(
        settings, run.number, models=models, catalog=spend.catalog if spend else None
    )
    recipe = None
    if ccxt_factory is None:  # a factory (a test's) is not a recipe another process has
        # the same run in another process (a Dask worker), whatever was recorded since
        recipe = functools.partial(
            build_runtime,
            settings,
            phase=run.number,
            consensus_threshold=run.threshold,
            order_mode=run.order_mode,
            capital_cap=run.capital_cap,
            default_phase=default_phase,
        )
    return Runtime(
        database=database,
        clock=_clock(settings, database),
        market=market,
        brokers=brokers,
        panel=panel,
        models=models,
        price_list=ProviderPrices(settings.openrouter_base_url, settings.http_transport),
        reports=ReportFolder(settings.reports_dir),
        run=run,
        phase_in_force=chosen,
        phase_setting=settings.phase,
        default_phase=default_phase,
        min_votes=settings.min_votes,
        min_weight_share=settings.min_weight_share,
        limits=risk_limits(settings),
        markets=MarketPlan(
            source=settings.market_source,
            exchanges=tuple(settings.exchanges),
            symbols=tuple(settings.symbols),
            timeframe=settings.timeframe,
            candle_limit=settings.candle_limit,
        ),
        news=NewsPlan(
            feed_group=settings.news_feed_group,
            feed_file=settings.news_feed_file,
            assets=tuple(settings.news_assets),
            half_life=timedelta(hours=float(settings.news_half_life_hours)),
        ),
        tax=TaxPlan(
            entity_file=settings.tax_entity_file,
            ledger_file=settings.tax_ledger_file,
            method=settings.tax_method,
            same_day_average=settings.tax_same_day_average,
            fill_accounts=tuple(
                a.strip() for a in settings.tax_fill_accounts.split(",") if a.strip()
            ),
            fx_file=settings.tax_fx_file,
            usd_aud_rate=settings.tax_usd_aud_rate,
            timezone=settings.tax_timezone,
        ),
        spend=spend,
        concurrency_limits=settings.concurrency_limits,
        floors=evidence_floors(settings),
        weight_rule=(
            WeightRule(min_samples=settings.learned_weights_min_samples)
            if settings.learned_weights
            else None
        ),
        run_lock_wait_s=settings.run_lock_wait_s,
        recipe=recipe,
    )
