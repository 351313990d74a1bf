"""Lyra's one typed settings object (pydantic-settings, prefix ``LYRA_``).

Defaults are the embedded default of docs/domain.md, "Embedded default": a SQLite file
under ``./.lyra/``, the replay exchange serving shipped candles, and the offline analyst
panel. Nothing here is read at import time: the CLI or a flow calls :func:`load_settings`
once at its entry and passes the object down.

Source order (pydantic-settings): explicit keyword arguments, then ``LYRA_*`` environment
variables, then a ``.env`` file in the working directory, then the defaults below. A
name that starts with ``LYRA_`` but names no setting, in the environment or in ``.env``,
is an error (a typo such as ``LYRA_PAHSE`` must not silently leave the default in force);
every value is checked here, before anything is written (lyra/config/checks.py).

Usage::

    settings = load_settings()            # from the environment
    settings = load_settings(phase=3)     # with overrides (tests, ad hoc runs)
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lyra.config.checks import (
    check_base_url,
    check_home,
    check_redis_url,
    check_tier_shares,
    refuse_duplicates,
)
from lyra.config.credentials import parse_exchange_credentials
from lyra.errors import ConfigError
from lyra.market.types import TIMEFRAMES
from lyra.rollout.phases import PhaseRun

__all__ = ["ENV_PREFIX", "Settings"]

ENV_PREFIX = "LYRA_"


CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Every knob of Lyra, typed and validated once."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    # --- storage -------------------------------------------------------------------
    home: Path = Field(
        default=Path(".lyra"),
        description="Working folder: SQLite database, reports. Relative to the working dir.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<home>/lyra.db. PostgreSQL: "
        "postgresql+psycopg://user@host/db",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="HMAC key of the audit chain (created on first use); default "
        "<home>/audit/chain.key. Keep it, and a backup, out of the database admins' reach.",
    )
    audit_anchor_file: Path | None = Field(
        default=None,
        description="Append-only JSON lines of audit chain anchors; default "
        "<home>/audit/anchors.jsonl.",
    )

    # --- rollout ---------------------------------------------------------------------
    phase: int | None = Field(
        default=None,
        ge=1,
        le=5,
        description="Rollout phase 1..5 (docs/domain.md); unset: the newest recorded "
        "promotion, else the entry's default (lyra.rollout.phases.phase_in_force).",
    )
    # A phase run may be made stricter than its phase, never looser (lyra.rollout.phases).
    consensus_threshold: Decimal | None = Field(
        default=None, ge=0, le=1, description="At least the phase's threshold (stricter)."
    )
    order_mode: Literal["none", "validate", "paper", "live"] | None = Field(
        default=None, description="At most the phase's order mode (none < validate < paper < live)."
    )
    capital_cap_usd: Decimal | None = Field(
        default=None, ge=0, description="At most the phase's capital (a lower cap)."
    )
    paper_capital_usd: Decimal = Field(
        default=Decimal(25_000),
        ge=0,
        description="Starting cash of the paper account (phase 3). At 25,000 USD the 20% "
        "exposure cap keeps every trade under the 10,000 USD premium-vote threshold, so the "
        "offline default (no premium tier) can fill on paper.",
    )
    live_capital_cap_usd: Decimal = Field(
        default=Decimal(1_000),
        ge=0,
        description="Capital cap of controlled live testing (phase 4).",
    )

    # --- risk ----------------------------------------------------------------------
    # The three core rules (2%, 20%, 15%) and the 10,000 USD premium-vote threshold
    # (docs/domain.md, "Risk") may be tightened here, never loosened;
    # lyra.risk.limits.RiskLimits documents each.
    risk_per_trade: Decimal = Field(
        default=Decimal("0.02"), gt=0, le=Decimal("0.02"), description="Risk per trade / equity."
    )
    risk_max_asset_share: Decimal = Field(
        default=Decimal("0.20"), gt=0, le=Decimal("0.20"), description="Max equity in one asset."
    )
    risk_max_drawdown: Decimal = Field(
        default=Decimal("0.15"), gt=0, le=Decimal("0.15"), description="Kill switch drawdown."
    )
    risk_reconcile_tolerance: Decimal = Field(
        default=Decimal("0.005"),
        ge=0,
        lt=1,
        description="Live phases: share of equity the ledger may differ from the exchange.",
    )
    risk_premium_vote_above_usd: Decimal = Field(
        default=Decimal(10_000), gt=0, le=10_000, description="Premium vote above this notional."
    )
    risk_price_collar: Decimal = Field(
        default=Decimal("0.02"), gt=0, le=1, description="Max price distance from the last price."
    )
    risk_max_data_age_s: Decimal = Field(
        default=Decimal(300), gt=0, description="Market data older than this is stale."
    )
    risk_max_orders_per_interval: int = Field(default=10, ge=1, description="Order rate cap.")
    risk_order_interval_s: int = Field(default=3600, ge=1, description="Order rate interval.")
    risk_max_volatility: Decimal = Field(
        default=Decimal("0.10"), gt=0, description="Volatility breaker: max ATR / price."
    )
    risk_atr_stop_multiple: Decimal = Field(
        default=Decimal(2), gt=0, le=20, description="Stop distance in ATRs when none is given."
    )

    # --- promotion on evidence ------------------------------------------------------
    # Floors the track record of the phase below must reach before a promotion to a live
    # phase (docs/domain.md, "Rollout phases", "Promotion on evidence"): phase 3's paper
    # record for phase 4, phase 4's live record for phase 5 (lyra.rollout.readiness).
    promotion_min_days_traded: int = Field(
        default=14,
        ge=0,
        le=3650,
        description="Distinct UTC days with at least one filled order of the phase below.",
    )
    promotion_max_drawdown: Decimal = Field(
        default=Decimal("0.10"),
        gt=0,
        le=1,
        description="Deepest equity drawdown (fraction below its peak) the phase below may "
        "show; below the kill switch's LYRA_RISK_MAX_DRAWDOWN (0.15).",
    )
    promotion_min_sharpe: Decimal = Field(
        default=Decimal("0.5"),
        ge=-10,
        le=10,
        description="Annualised Sharpe ratio of the phase below's equity (hourly returns).",
    )
    promotion_min_hit_rate: Decimal = Field(
        default=Decimal("0.5"),
        ge=0,
        le=1,
        description="Share of the phase below's actionable decisions right 24 candles later.",
    )
    promotion_min_excess_return: Decimal = Field(
        default=Decimal("0.0"),
        ge=-1,
        le=10,
        description="Return of the phase below minus buy-and-hold of the same markets over "
        "the same period (a fraction: 0.02 is two points better).",
    )

    # --- learned weights (docs/evidence.md, "Learned weights") ---------------------------
    learned_weights: bool = Field(
        default=False,
        description="Weigh each panel member by its measured hit rate (walk-forward, bounded "
        "0.5x..2x); recorded with each decision.",
    )
    learned_weights_min_samples: int = Field(
        default=100, ge=1, le=1_000_000, description="Resolved votes before a weight moves."
    )

    # --- execution -----------------------------------------------------------------
    # The paper fill model (lyra.execution.paper documents it) and live credentials.
    paper_slippage_bps: Decimal = Field(
        default=Decimal(5), ge=0, le=500, description="Paper fills: slippage against the trader."
    )
    paper_volume_share: Decimal = Field(
        default=Decimal("0.10"),
        gt=0,
        le=1,
        description="Paper fills: most of a candle's volume one order may take.",
    )
    paper_fee_rate: Decimal | None = Field(
        default=None,
        ge=0,
        le=Decimal("0.05"),
        description="Paper taker fee; default: the venue's base-tier fee.",
    )
    exchange_credentials: SecretStr | None = Field(
        default=None,
        description="Live trading keys: exchange=apikey:secret[:password],... (phases 4-5).",
    )

    # --- compliance ----------------------------------------------------------------
    tax_entity_file: Path | None = Field(
        default=None,
        description="Entity YAML (type, investor/trader, GST, ABN, sealed TFN); default: "
        "the shipped example company lyra/compliance/data/entity.yaml.",
    )
    tax_ledger_file: Path | None = Field(
        default=None,
        description="A transactions CSV (docs/domain.md header) the nightly flow imports beside "
        "Lyra's own fills; none by default.",
    )
    tax_method: Literal["fifo", "specific", "lowest-tax"] = Field(
        default="fifo", description="Parcel identification (docs/tax.md): fifo unless chosen."
    )
    tax_same_day_average: bool = Field(
        default=False, description="Average the cost of units acquired on the same day."
    )
    tax_fill_accounts: str = Field(
        default="paper,live",
        description="Execution accounts whose fills enter the tax ledger (comma list); paper "
        "fills are simulated and make reports provisional.",
    )
    tax_fx_file: Path | None = Field(
        default=None, description="CSV date,currency,aud_per_unit,source (e.g. RBA F11 rates)."
    )
    tax_usd_aud_rate: Decimal = Field(
        default=Decimal("1.50"),
        gt=0,
        le=10,
        description="ASSUMED USD/AUD rate where no published rate is given (reports say so).",
    )
    tax_timezone: str = Field(
        default="Australia/Sydney",
        description="IANA timezone a ledger or export time without an offset is read in "
        '(docs/tax.md "Dates and timezones"); a date alone is always the Sydney day.',
    )

    # --- orchestration -------------------------------------------------------------
    project_dir: Path | None = Field(
        default=None,
        description="Repository root a Prefect worker runs the flows from (prefect.yaml's "
        "pull step reads LYRA_PROJECT_DIR); `lyra serve` sets it.",
    )
    task_runner: Literal["thread", "dask"] = Field(
        default="thread",
        description="Task runner of the per-symbol fan-out: thread pool, or Dask (scale extra).",
    )
    dask_address: str | None = Field(
        default=None,
        description="Scheduler of an existing Dask cluster (tcp://host:8786); empty = a "
        "temporary local cluster per flow run.",
    )
    dask_workers: int = Field(default=2, ge=1, le=256, description="Local Dask cluster size.")
    concurrency_limits: bool = Field(
        default=False,
        description="Hold Prefect global concurrency slots (strict) around exchange and LLM "
        "calls; on only where the limits exist (`lyra serve` creates them and sets this).",
    )
    exchange_concurrency: int = Field(
        default=2, ge=1, le=100, description="Requests in flight per exchange across all runs."
    )
    llm_concurrency: int = Field(
        default=16, ge=1, le=1000, description="LLM calls in flight across all runs."
    )
    approval_timeout_s: int = Field(
        default=86_400,
        ge=10,
        le=7 * 86_400,
        description="How long a promotion waits for a person's approval (phases 4 and 5).",
    )
    cycle_prompt_tokens: int = Field(
        default=3_000,
        ge=1,
        le=200_000,
        description="Prompt tokens assumed per LLM call when the budget gate prices a cycle.",
    )

    # --- market data ---------------------------------------------------------------
    market_source: Literal["replay", "ccxt"] = Field(
        default="replay", description="replay (shipped candles) or ccxt (real exchanges)."
    )
    ccxt_sandbox: bool = Field(default=False, description="Use exchanges' test endpoints.")
    exchange_endpoints: str = Field(
        default="",
        description="Another base URL per exchange for ccxt's REST calls, paths kept: "
        "exchange=http(s)://host[:port],... (a recording proxy, a mirror, a test server).",
    )
    markets_ttl_hours: Decimal = Field(default=Decimal(6), gt=0, le=24 * 7)
    exchanges: CommaList = Field(default_factory=lambda: ["coinbase", "bitfinex"])
    symbols: CommaList = Field(default_factory=lambda: ["BTC/USD"])
    timeframe: str = "1h"
    candle_limit: int = Field(
        default=250,
        ge=60,
        le=5000,
        description="Candles fetched per market and cycle (indicators need >= 34 to warm up).",
    )
    replay_start: datetime = Field(
        default=datetime(2019, 1, 1, tzinfo=UTC),
        description="Replay clock of the first cycle; each later cycle advances one candle.",
    )
    replay_data_dir: Path | None = Field(
        default=None, description="Folder of replay CSV files; default: the shipped data."
    )

    # --- news sentiment ------------------------------------------------------------
    news_feed_group: str = Field(
        default="sample", description="Feed group of lyra/news/data/feeds.yaml: sample | real."
    )
    news_feed_file: Path | None = Field(default=None, description="A feeds.yaml of your own.")
    news_assets: CommaList = Field(default_factory=lambda: ["BTC", "ETH", "LTC"])
    news_half_life_hours: Decimal = Field(default=Decimal(6), gt=0, le=24 * 30)

    # --- analysts and consensus --------------------------------------------------------
    llm_provider: Literal["offline", "openrouter"] = "offline"
    offline_analysts: CommaList = Field(
        default_factory=list, description="Offline analysts on the panel; empty = the panel's."
    )
    offline_beside_llm: bool = Field(
        default=True, description="With the LLM panel, the offline analysts vote too."
    )
    panel_file: Path | None = Field(
        default=None,
        description="A panels.toml of your own: who votes with which weight per phase "
        "(docs/domain.md, Panels); default: the shipped lyra/decision/panels.toml.",
    )
    min_votes: int = Field(default=3, ge=1)
    min_weight_share: Decimal = Field(default=Decimal("0.6"), gt=0, le=1)

    # --- LLM gateway -------------------------------------------------------------
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    openrouter_api_keys: SecretStr | None = Field(
        default=None, description="Comma list alias=key (or use the keystore)."
    )
    openrouter_key_tiers: str = Field(
        default="",
        description="Which tiers each key serves: alias=premium|advanced,... "
        "(a key not listed serves every tier).",
    )
    openrouter_key_caps: str = Field(
        default="", description="Daily cap in USD per key: alias=20,alias2=5.50"
    )
    keystore_passphrase: SecretStr | None = Field(
        default=None, description="Passphrase of the encrypted keystore <home>/keystore.json."
    )
    http_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    llm_timeout_s: float = Field(default=60.0, gt=0, le=600)
    llm_max_in_flight: int = Field(default=16, ge=1, le=512)
    key_probe_cooldown_s: float = Field(
        default=900.0,
        ge=1,
        le=7 * 86_400,
        description="How long a key a 402 disabled rests before the provider is asked "
        "whether it has credit again (GET /key); a key a 401 disabled waits for a person.",
    )
    run_lock_wait_s: float = Field(
        default=120.0,
        ge=0,
        le=3600,
        description="Seconds a market analysis waits for another in progress to finish "
        "before it ends in the state Overlapping (it never runs beside it).",
    )
    daily_budget_usd: Decimal = Field(default=Decimal("200"), ge=0)
    backtest_budget_usd: Decimal = Field(
        default=Decimal("5"),
        ge=0,
        description="Daily LLM budget of backtests, a scope of its own (never the live day's).",
    )
    tier_shares: str = Field(
        default="premium=0.40,advanced=0.35,specialized=0.15,fast=0.10",
        description="Share of the daily budget per tier.",
    )
    redis_url: str | None = None

    # --- alerts (lyra/observability, docs/observability.md) -------------------------------
    alert_urls: SecretStr | None = Field(
        default=None,
        description="Apprise URLs alerts are sent to, comma or space separated (e.g. "
        "json://host/path, mailto://..., tgram://...); unset: no alerts. Held as a secret: "
        "the URLs carry the services' tokens.",
    )

    @field_validator("exchanges", "symbols", "offline_analysts", "news_assets", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("exchanges")
    @classmethod
    def _lower_exchanges(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one exchange is required")
        lowered = [v.lower() for v in value]
        refuse_duplicates(lowered)
        return lowered

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one symbol is required")
        out = []
        for symbol in value:
            base, sep, quote = symbol.upper().partition("/")
            if not (sep and base and quote):
                raise ValueError(f"symbol {symbol!r} is not BASE/QUOTE, e.g. BTC/USD")
            out.append(f"{base}/{quote}")
        refuse_duplicates(out)
        return out

    @field_validator("offline_analysts", "news_assets")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        refuse_duplicates(value)
        return value

    @field_validator("panel_file")
    @classmethod
    def _check_panel_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        # Imported here: the strategies' modules load only when a file of one's own is named.
        from lyra.decision.panel_spec import load_panels

        try:
            load_panels(value.expanduser())  # a bad file is refused at start, not mid-cycle
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value.expanduser()

    # Checked here, before anything is written (lyra.config.checks says why).
    _home = field_validator("home")(check_home)
    _base_url = field_validator("openrouter_base_url")(check_base_url)
    _tier_shares = field_validator("tier_shares")(check_tier_shares)
    _redis_url = field_validator("redis_url")(check_redis_url)

    @field_validator("timeframe")
    @classmethod
    def _check_timeframe(cls, value: str) -> str:
        if value not in TIMEFRAMES:
            raise ValueError(f"timeframe {value!r} is not one of {', '.join(TIMEFRAMES)}")
        return value

    @field_validator("exchange_credentials")
    @classmethod
    def _check_credentials(cls, value: SecretStr | None) -> SecretStr | None:
        try:
            parse_exchange_credentials(value)  # malformed: refused now, in every phase
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("LYRA_EXCHANGE_CREDENTIALS: ")) from None
        return value

    @field_validator("tax_timezone")
    @classmethod
    def _iana_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())  # refused now, not when the nightly flow reads a ledger
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA timezone name (e.g. Australia/Sydney, UTC)"
            ) from None
        return value.strip()

    @field_validator("replay_start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must include a timezone, e.g. 2019-01-01T00:00:00Z")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _check_phase_run(self) -> Settings:
        if self.phase is None:  # judged once the phase in force is known (lyra.bootstrap)
            return self
        try:
            PhaseRun.of(self.phase, threshold=self.consensus_threshold, order_mode=self.order_mode)
        except ValueError as exc:  # named by the variables a user sets
            raise ValueError(f"LYRA_CONSENSUS_THRESHOLD / LYRA_ORDER_MODE: {exc}") from None
        return self

    @field_validator("promotion_max_drawdown")
    @classmethod
    def _below_the_kill_switch(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        limit = info.data.get("risk_max_drawdown")  # absent when it failed its own checks
        if isinstance(limit, Decimal) and value >= limit:
            raise ValueError(
                f"{value} must be below the kill switch's drawdown {limit} "
                "(LYRA_RISK_MAX_DRAWDOWN): a record that would trip it never earns a promotion"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return url

    # --- derived values ------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        """The database URL in force (the SQLite default lives under ``home``)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'lyra.db').as_posix()}"

    @property
    def reports_dir(self) -> Path:
        """Where report files are written (``<home>/reports``)."""
        return self.home / "reports"

    @property
    def effective_audit_key_file(self) -> Path:
        """The audit chain's key file in force (``<home>/audit/chain.key`` by default)."""
        return self.audit_key_file or self.home / "audit" / "chain.key"

    @property
    def effective_audit_anchor_file(self) -> Path:
        """The audit anchor file in force (``<home>/audit/anchors.jsonl`` by default)."""
        return self.audit_anchor_file or self.home / "audit" / "anchors.jsonl"
