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

The JSON text itself is bounded before and while it is parsed (docs/domain.md, "Risk
input bounds"), so no input ends in a traceback: at most :data:`MAX_INPUT_CHARS`
characters, objects and arrays nested at most :data:`MAX_DEPTH` deep (checked by a scan
before ``json`` recurses), numbers at most :data:`MAX_NUMBER_CHARS` characters (a
5,000-digit integer would pass Python's own 4,300-digit limit check only to fail it),
no key twice in one object (JSON leaves duplicates undefined; Python would silently keep
the last), and a leading UTF-8 byte order mark is skipped (editors on Windows write one;
the tax ledger accepts one too). ``true`` is not a number: integer and boolean fields
are strict, so ``"phase": true`` is refused instead of read as phase 1.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

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
#: A request is a few hundred bytes; a portfolio of thousands of positions stays far below.
MAX_INPUT_CHARS: Final = 1_000_000
#: The contract nests three deep (request, portfolio, positions).
MAX_DEPTH: Final = 32
#: Longest number text: 34 digits, a sign, a point and an exponent fit with room to spare.
MAX_NUMBER_CHARS: Final = 64


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

    phase: Annotated[StrictInt, Field(ge=1, le=5)]
    portfolio: Portfolio
    proposal: Proposal
    market: MarketData
    orders_in_interval: Annotated[StrictInt, Field(ge=0)] = 0
    kill_switch_tripped: StrictBool = False
    consensus_threshold: (
        Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False), AfterValidator(_sane)] | None
    ) = None
    order_mode: Literal["none", "validate", "paper", "live"] | None = None
    capital_cap: NonNegative | None = None
    is_closing: StrictBool | None = None

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
    text = text[:1].lower() + text[1:]
    if kind in ("int_type", "bool_type"):  # say what was given: `true`, `"3"`, `3.0`
        given = error.get("input")
        shown = (str(given) if isinstance(given, Decimal) else json.dumps(given, default=str))[:24]
        text = f"{text} (got {shown})"
    return text


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


def _number(text: str) -> Decimal:
    if len(text) > MAX_NUMBER_CHARS:
        raise RiskInputError(
            "input", f"a number of {len(text):,} characters (at most {MAX_NUMBER_CHARS})"
        )
    return Decimal(text)


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise RiskInputError(
            "input", f"an integer of {len(text):,} digits (at most {MAX_NUMBER_CHARS})"
        )
    return int(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise RiskInputError("input", f"key {key[:40]!r} appears twice in one object")
        out[key] = value
    return out


#: A JSON string (skipped whole, so brackets inside it do not count) or a bracket.
_TOKEN: Final = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before ``json`` recurses into it
    (200,000 levels would end in a RecursionError)."""
    depth = 0
    for match in _TOKEN.finditer(text):
        mark = match.group()
        if mark in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise RiskInputError("input", f"nested more than {MAX_DEPTH} levels deep")
        elif mark in "]}":
            depth -= 1


def parse_request_json(text: str) -> RiskRequest:
    """Parse the JSON text of a request (bounded: module docstring); numbers are read as
    exact decimals."""
    text = text.removeprefix("\ufeff")
    if len(text) > MAX_INPUT_CHARS:
        raise RiskInputError(
            "input", f"{len(text):,} characters is too long (at most {MAX_INPUT_CHARS:,})"
        )
    _check_depth(text)
    try:
        data = json.loads(
            text,
            parse_float=_number,
            parse_int=_integer,
            parse_constant=_refuse_constant,
            object_pairs_hook=_object,
        )
    except json.JSONDecodeError as exc:
        raise RiskInputError("input", f"not JSON: {exc.msg} at line {exc.lineno}") from None
    except (ValueError, RecursionError) as exc:  # a last guard: still one line
        raise RiskInputError("input", f"not a request: {exc}"[:200]) from None
    return parse_request(data)
