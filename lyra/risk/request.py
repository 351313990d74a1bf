"""The input of a risk assessment: the ``lyra risk assess`` contract of docs/domain.md.

    {phase, portfolio: {equity, peak_equity, cash, positions: {ASSET: value}},
     proposal: {symbol, side, price, stop_price, consensus},
     market: {last_price, age_seconds}}

Money is USD (the account currency) as a JSON number or a decimal string, read as an
exact ``Decimal`` (:func:`parse_request` reads JSON numbers through ``Decimal``, never
float). Position values are signed market values: positive long, negative short.

Fields beyond the contract are optional, with safe defaults, for the pre-trade flow to
fill from exchange market data and the store: ``market.min_notional``,
``market.min_amount``, ``market.amount_precision`` (the amount step),
``market.price_precision`` (the price tick), ``market.atr`` (for a decision without a
stop), ``market.volatility`` (ATR / price), and at the top level ``orders_in_interval``
and ``kill_switch_tripped``. Three more make the request a *run* of its phase
(:class:`~lyra.rollout.phases.PhaseRun`, docs/domain.md "Rollout phases"), each only
stricter than the phase: ``consensus_threshold``, ``order_mode`` and ``capital_cap``.
Whether the trade closes a held position is not an input: it follows from the position
and the side (:attr:`RiskRequest.reduces_position`); an ``is_closing`` that says
otherwise is refused. Any other field is refused: a misspelt ``stop_prise`` must not
silently become "no stop".

Bad input raises :class:`RiskInputError` naming the field (``proposal.stop_price: must be
below price for a buy``); it is never sized.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from lyra.errors import UserError
from lyra.rollout.phases import PhaseRun

__all__ = [
    "MarketData",
    "Portfolio",
    "Proposal",
    "RiskInputError",
    "RiskRequest",
    "parse_request",
    "parse_request_json",
]

#: Figures beyond these are not money or prices but garbage (or an attempt to overflow
#: the arithmetic): 1e-18 .. 1e15 in size, at most 34 significant digits.
_MAX_ADJUSTED = 15
_MIN_ADJUSTED = -18
_MAX_DIGITS = 34


def _sane(value: Decimal) -> Decimal:
    if value and not (_MIN_ADJUSTED <= value.adjusted() <= _MAX_ADJUSTED):
        raise ValueError(f"{value} is out of range (1e-18 to 1e15)")
    if len(value.as_tuple().digits) > _MAX_DIGITS:
        raise ValueError(f"more than {_MAX_DIGITS} significant digits")
    return value


Money = Annotated[Decimal, Field(allow_inf_nan=False), AfterValidator(_sane)]
Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False), AfterValidator(_sane)]
NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False), AfterValidator(_sane)]


class RiskInputError(UserError):
    """A risk request that cannot be assessed; ``field`` is its dotted path."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Portfolio(_Strict):
    """The account marked to market: equity includes the open positions at market."""

    equity: Positive
    peak_equity: Positive
    cash: NonNegative
    positions: dict[str, Money] = Field(default_factory=dict)

    @field_validator("positions")
    @classmethod
    def _upper_assets(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for asset, amount in value.items():
            key = asset.strip().upper()
            if not key or "/" in key:
                raise ValueError(f"asset {asset!r} is not an asset code such as BTC")
            if key in out:
                raise ValueError(f"asset {key} is listed twice")
            out[key] = amount
        return out


class Proposal(_Strict):
    """The trade a decision proposes; ``stop_price`` may be null (a stop from the ATR)."""

    symbol: str
    side: Literal["buy", "sell"]
    price: Positive
    stop_price: Positive | None = None
    consensus: Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False), AfterValidator(_sane)]

    @field_validator("symbol")
    @classmethod
    def _base_quote(cls, value: str) -> str:
        base, sep, quote = value.strip().upper().partition("/")
        if not (sep and base and quote) or "/" in quote:
            raise ValueError(f"symbol {value!r} is not BASE/QUOTE, e.g. BTC/USD")
        return f"{base}/{quote}"

    @property
    def base(self) -> str:
        """The traded asset (``BTC`` of ``BTC/USD``): the key of its position."""
        return self.symbol.partition("/")[0]


class MarketData(_Strict):
    """What the market looked like when the proposal was made."""

    last_price: Positive
    age_seconds: NonNegative
    min_notional: NonNegative | None = None
    min_amount: NonNegative | None = None
    amount_precision: Positive | None = Field(default=None, description="amount step")
    price_precision: Positive | None = Field(default=None, description="price tick")
    atr: Positive | None = None
    volatility: NonNegative | None = Field(default=None, description="ATR / price")


class RiskRequest(_Strict):
    """One proposed trade with everything the checks need (the CLI's input file)."""

    phase: Annotated[int, Field(ge=1, le=5)]
    portfolio: Portfolio
    proposal: Proposal
    market: MarketData
    orders_in_interval: Annotated[int, Field(ge=0)] = 0
    kill_switch_tripped: bool = False
    consensus_threshold: (
        Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False), AfterValidator(_sane)] | None
    ) = None
    order_mode: Literal["none", "validate", "paper", "live"] | None = None
    capital_cap: NonNegative | None = None
    is_closing: bool | None = None

    @property
    def position(self) -> Decimal:
        """Market value of the traded asset's position before the trade (signed)."""
        return self.portfolio.positions.get(self.proposal.base, Decimal(0))

    @property
    def reduces_position(self) -> bool:
        """True when the trade moves a held position toward zero: a sell of a long, a buy
        against a short. Such a trade is an exit (docs/domain.md, "Risk")."""
        side = 1 if self.proposal.side == "buy" else -1
        return self.position * side < 0

    @property
    def phase_run(self) -> PhaseRun:
        """The run of ``phase`` this request is judged by (stricter figures applied);
        :class:`RiskInputError` names a figure looser than the phase's."""
        try:
            return PhaseRun.of(
                self.phase,
                threshold=self.consensus_threshold,
                order_mode=self.order_mode,
                capital_cap=self.capital_cap,
            )
        except ValueError as exc:
            field = "order_mode" if "order mode" in str(exc) else "consensus_threshold"
            raise RiskInputError(field, str(exc)) from None


def _message(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    text = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return text[:1].lower() + text[1:]


def _field(error: Any) -> str:
    return ".".join(str(part) for part in error.get("loc", ())) or "input"


def parse_request(data: object) -> RiskRequest:
    """Validate ``data`` (parsed JSON) into a request; :class:`RiskInputError` names the
    first bad field."""
    if not isinstance(data, dict):
        raise RiskInputError("input", "must be a JSON object")
    try:
        return RiskRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RiskInputError(_field(first), _message(first)) from None


def _refuse_constant(name: str) -> Decimal:
    # json.loads accepts NaN and Infinity, which are not JSON; refuse them by name later
    return Decimal(name)


def parse_request_json(text: str) -> RiskRequest:
    """Parse the JSON text of a request; numbers are read as exact decimals."""
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise RiskInputError("input", f"not JSON: {exc.msg} at line {exc.lineno}") from None
    return parse_request(data)
