"""What a service step works with: the :class:`Runtime`, built once at the entry.

A service step (a market cycle, a pre-trade run, a nightly compliance run) never opens
the database, reads the settings or builds an exchange client itself: it receives a
Runtime of ports and plain figures, made once by the composition root
(:func:`lyra.bootstrap.build_runtime`) at the entry: a flow, a CLI command. The same step
then runs live, on paper, on the replay data and in a test, on whatever the Runtime holds
(docs/architecture.md, "The Runtime")::

    database   transactions (the unit of work; lyra.store's repositories take its session)
    clock      the market's now: the replay clock on shipped candles, the wall clock live
    market     market data: an ExchangeClient per exchange, seeing the market at an instant
    brokers    a Broker per exchange for an order mode (paper or live)
    panel      the voting panel of a cycle (offline analysts, LLM slots)
    models     the LLM gateway, or None with the offline analysts
    price_list the provider's list prices (the daily price sync)
    reports    where report files land
    run        the phase run (PhaseRun): threshold, order mode, capital cap; the one
               source of the consensus threshold, the risk assessment's and the order's
    ...        the figures each service needs (MarketPlan, NewsPlan, TaxPlan, limits,
               the evidence floors a promotion to a live phase is judged against)

Ports that hold connections (exchange clients, brokers, the panel, the gateway) are
*opened* by the step that uses them and closed after it: a Prefect task may run in an
event loop of its own, and a connection pool must not outlive the loop it was made in.

A Runtime the composition root built crosses a process boundary (a Dask worker) as its
recipe, the settings and parameters it was built from, and is built again there; one
made by hand from fakes stays in its process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

from lyra.decision.analysts.base import Analyst
from lyra.decision.consensus import ConsensusPolicy
from lyra.evidence.weights import WeightRule
from lyra.execution.broker import Broker
from lyra.market.exchange import ExchangeClient
from lyra.risk.limits import RiskLimits
from lyra.rollout.phases import OrderMode, PhaseInForce, PhaseRun
from lyra.rollout.readiness import EvidenceFloors
from lyra.spend.budget import BudgetPolicy
from lyra.spend.catalog import Catalog, ModelPrice
from lyra.store.db import Database
from lyra.structured import Asker

__all__ = [
    "BrokerSource",
    "MarketClock",
    "MarketPlan",
    "MarketSource",
    "ModelSource",
    "NewsPlan",
    "PanelSource",
    "PriceList",
    "ReportSink",
    "Runtime",
    "SpendPlan",
    "TaxPlan",
]


class MarketClock(Protocol):
    """The market's time. On the replay data it is the persisted replay clock (one
    candle per cycle); live it is the wall clock."""

    def now(self) -> datetime:
        """The market's present: the instant of the last cycle (replay), or now."""
        ...

    def upcoming(self) -> datetime:
        """The instant the next market cycle will serve (news is scored up to it)."""
        ...

    def advance(self) -> datetime:
        """Move to the next cycle's instant and return it (persisted on the replay)."""
        ...


class MarketSource(Protocol):
    """Market data clients, one per exchange, each seeing the market at ``as_of``."""

    def client(self, exchange_id: str, as_of: datetime) -> ExchangeClient:
        """A client the caller closes (``await client.close()``)."""
        ...


class BrokerSource(Protocol):
    """Brokers for an order mode: paper for every mode but live (nothing is sent before
    paper), the exchange's own for live."""

    def brokers(
        self, mode: OrderMode, exchanges: Sequence[str], now: datetime
    ) -> Mapping[str, Broker]:
        """A broker per exchange; the caller closes each (``await broker.close()``)."""
        ...


class PanelSource(Protocol):
    """The voting panel of a cycle."""

    @property
    def llm_members(self) -> int:
        """How many members ask an LLM (they hold the provider's concurrency slots)."""
        ...

    def open(self, cycle_id: str | None) -> AbstractAsyncContextManager[Sequence[Analyst]]:
        """The panel for the block (its LLM members share one gateway session)."""
        ...


class ModelSource(Protocol):
    """The LLM gateway, opened for a block (it holds an HTTP pool)."""

    def open(self) -> AbstractAsyncContextManager[Asker]:
        """A gateway session for the block."""
        ...


class PriceList(Protocol):
    """The provider's list prices (OpenRouter's models list; no key needed)."""

    async def prices(self) -> Mapping[str, ModelPrice]:
        """Per-token prices by model id (models without a fixed price are left out)."""
        ...


class ReportSink(Protocol):
    """Where report files land (``<home>/reports`` by default)."""

    def write_text(self, relative: str, text: str) -> Path:
        """Write ``text`` under the folder (creating sub-folders); the file's path."""
        ...

    def path(self, relative: str) -> Path:
        """Where a file the caller writes itself goes (its folder exists)."""
        ...


@dataclass(frozen=True, slots=True)
class MarketPlan:
    """Which markets a cycle analyses, and how much of each."""

    source: Literal["replay", "ccxt"]
    exchanges: tuple[str, ...]
    symbols: tuple[str, ...]
    timeframe: str
    candle_limit: int


@dataclass(frozen=True, slots=True)
class NewsPlan:
    """Which feeds a news cycle reads and how its sentiment decays."""

    feed_group: str
    feed_file: Path | None
    assets: tuple[str, ...]
    half_life: timedelta


@dataclass(frozen=True, slots=True)
class TaxPlan:
    """The nightly compliance run's entity, inputs and method."""

    entity_file: Path | None
    ledger_file: Path | None
    method: Literal["fifo", "specific", "lowest-tax"]
    same_day_average: bool
    fill_accounts: tuple[str, ...]
    fx_file: Path | None
    usd_aud_rate: Decimal
    timezone: str = "Australia/Sydney"  # naive ledger times (docs/tax.md "Dates and timezones")


@dataclass(frozen=True, slots=True)
class SpendPlan:
    """The LLM budget a flow's gate judges against (None with the offline panel)."""

    policy: BudgetPolicy
    catalog: Catalog
    prompt_tokens: int


def _rebuilt(recipe: Callable[[], Runtime]) -> Runtime:
    return recipe()


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime:
    """Every port and figure a service step works with (module docstring)."""

    database: Database
    clock: MarketClock
    market: MarketSource
    brokers: BrokerSource
    panel: PanelSource
    models: ModelSource | None
    price_list: PriceList
    reports: ReportSink
    run: PhaseRun
    phase_in_force: PhaseInForce
    #: ``LYRA_PHASE`` (None: unset) and the entry's default: what decides the phase in
    #: force when nothing is recorded (lyra.services.promotion.rollout_state reads afresh).
    phase_setting: int | None
    default_phase: int
    min_votes: int
    min_weight_share: Decimal
    limits: RiskLimits
    markets: MarketPlan
    news: NewsPlan
    tax: TaxPlan
    spend: SpendPlan | None
    #: Prefect's global concurrency limits are provisioned (``lyra serve``): tasks hold
    #: their slots around exchange and LLM calls.
    concurrency_limits: bool = False
    #: The floors a live phase's promotion reads the record of the phase below against
    #: (``LYRA_PROMOTION_*``; the defaults when a Runtime is made by hand).
    floors: EvidenceFloors = field(default_factory=EvidenceFloors)
    #: Learned panel weights (``LYRA_LEARNED_WEIGHTS``): the rule, or None for the
    #: configured weights.
    weight_rule: WeightRule | None = None
    #: How long a run waits for another run of its flow to finish before it ends in the
    #: state ``Overlapping`` (``LYRA_RUN_LOCK_WAIT_S``; deployments/run_alone.py).
    run_lock_wait_s: float = 120.0
    recipe: Callable[[], Runtime] | None = field(default=None, compare=False, repr=False)

    @property
    def consensus(self) -> ConsensusPolicy:
        """The consensus rule of the run: its threshold and the quorum."""
        return ConsensusPolicy(
            threshold=self.run.threshold,
            min_votes=self.min_votes,
            min_weight_share=self.min_weight_share,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        if self.recipe is None:
            raise TypeError(
                "a Runtime built by hand (fakes) cannot cross a process; build it with "
                "lyra.bootstrap.build_runtime"
            )
        return (_rebuilt, (self.recipe,))
