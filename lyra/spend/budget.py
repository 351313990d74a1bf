"""The daily LLM budget as data: caps per scope, exact units, the budget day, estimates.

A call is charged to every *scope* it belongs to, and must fit in all of them::

    total            the whole day's budget (default 200 USD)
    tier:<tier>      the tier's share of the total (40/35/15/10 % by default)
    key:<alias>      a key's own daily cap (only for keys given one)

Money that SQL must add and compare exactly is held in integer nano-dollars
(:data:`NANO_USD` per dollar): exact on SQLite and PostgreSQL alike, and fine enough that
OpenRouter's per-token prices (down to 1e-9 USD and below) lose at most one nano-dollar
per amount. The rounding always errs on the side that cannot overspend: what is reserved
or spent rounds **up** (counters never under-count), a cap rounds **down**.

This module is pure (no I/O); :mod:`lyra.store.budget` applies it in the database::

    policy = BudgetPolicy(key_caps_usd={"flows": Decimal("20")})
    policy.scopes_for("premium", "flows")   # ('total', 'tier:premium', 'key:flows')
    policy.cap_nusd("tier:premium")         # 80 * 10**9
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import MAX_PREC, ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from types import MappingProxyType
from typing import Protocol

from lyra.errors import ConfigError

__all__ = [
    "DEFAULT_TIER_SHARES",
    "NANO_USD",
    "TIERS",
    "BudgetPolicy",
    "TokenPrices",
    "base_scope",
    "budget_day",
    "charge_nusd",
    "estimate_cost",
    "nusd_to_usd",
    "show_usd",
    "usd_to_nusd",
]

#: Budget tiers, most capable first (docs/domain.md, "LLM gateway").
TIERS = ("premium", "advanced", "specialized", "fast")

#: Nano-dollars per dollar. The same unit as ``lyra.store.gateway_tables.NANO_USD`` (a
#: pure module cannot import the store; a unit test checks that the two agree).
NANO_USD = 10**9
NANO_DIGITS = 9
#: The context of :func:`usd_to_nusd`: no rounding before its one rounding to an integer.
_EXACT = Context(prec=MAX_PREC)

#: The default split of the daily budget by tier (docs/domain.md); LYRA_TIER_SHARES sets another.
DEFAULT_TIER_SHARES: Mapping[str, Decimal] = MappingProxyType(
    {
        "premium": Decimal("0.40"),
        "advanced": Decimal("0.35"),
        "specialized": Decimal("0.15"),
        "fast": Decimal("0.10"),
    }
)

TOTAL_SCOPE = "total"
TIER_PREFIX = "tier:"
KEY_PREFIX = "key:"


def usd_to_nusd(amount: Decimal, rounding: str) -> int:
    """``amount`` USD as whole nano-dollars, rounded with a :mod:`decimal` mode.

    Use ``ROUND_CEILING`` for reservations and spends, ``ROUND_FLOOR`` for caps. The
    product is computed with enough precision to be exact before the one rounding, so a
    long price like ``0.000000001000000000000000000000001`` still rounds up to 2.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"an amount in USD must be a finite Decimal, not {amount!r}")
    # times 10**9 is a shift of the exponent, exact at any precision: one context made
    # once, not a local context per amount (a gateway call converts three)
    scaled = amount.scaleb(NANO_DIGITS, _EXACT)
    return int(scaled.to_integral_value(rounding=rounding, context=_EXACT))


def charge_nusd(amount_usd: Decimal) -> int:
    """A reservation or a spend in nano-dollars, rounded up (never under-counted)."""
    if isinstance(amount_usd, Decimal) and amount_usd < 0:
        raise ValueError(f"a budget amount cannot be negative: {amount_usd}")
    return usd_to_nusd(amount_usd, ROUND_CEILING)


def nusd_to_usd(nusd: int) -> Decimal:
    """Whole nano-dollars back to an exact Decimal amount of USD."""
    return Decimal(nusd).scaleb(-9)


def budget_day(now: datetime) -> date:
    """The budget day of an instant: its UTC calendar date.

    OpenRouter resets a key's daily limit "automatically at midnight UTC"
    (https://openrouter.ai/docs/client-sdks/python/operations/createkeyslimitreset), so
    Lyra's day starts at the same instant: a fresh Lyra budget never meets a key that
    the provider still counts as spent, whatever the host's time zone.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("budget_day needs a timezone-aware datetime")
    return now.astimezone(UTC).date()


class TokenPrices(Protocol):
    """USD per prompt token, per completion token and per request (an ``LlmModelRow``,
    or anything else carrying the provider's ``pricing``)."""

    @property
    def prompt_price(self) -> Decimal: ...

    @property
    def completion_price(self) -> Decimal: ...

    @property
    def request_price(self) -> Decimal: ...


def estimate_cost(prompt_tokens: int, max_completion_tokens: int, prices: TokenPrices) -> Decimal:
    """Worst-case cost of one call, to size its reservation.

    OpenRouter prices models per token, separately for prompt and completion, plus an
    optional fixed price per request (the ``pricing`` of ``GET /api/v1/models``). The
    completion can never exceed ``max_tokens`` (reasoning tokens included, and billed as
    completion), so ``max_completion_tokens`` bounds it; the caller must pass a prompt
    count that is not an under-estimate. The real cost is the response's ``usage.cost``,
    recorded at settle time.
    """
    if prompt_tokens < 0 or max_completion_tokens < 0:
        raise ValueError("token counts cannot be negative")
    parts = (prices.prompt_price, prices.completion_price, prices.request_price)
    if any(not p.is_finite() or p < 0 for p in parts):
        raise ValueError(f"prices must be finite and non-negative, not {parts}")
    return (
        prompt_tokens * prices.prompt_price
        + max_completion_tokens * prices.completion_price
        + prices.request_price
    )


def _usd(value: object, what: str) -> Decimal:
    """A non-negative, finite Decimal (int and decimal strings accepted; float refused,
    since 0.1 + 0.2 does not make 0.3)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ConfigError(f"{what} must be a decimal number, not {value!r}")
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise ConfigError(f"{what} must be a decimal number, not {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{what} must be a finite, non-negative amount, not {value}")
    return amount


@dataclass(frozen=True)
class BudgetPolicy:
    """The day's caps: a total, split by tier shares, plus optional caps per key.

    ``tier_shares`` must name only known tiers and sum to exactly 1; a tier left out gets
    a share of 0 (its calls are always refused, so the gateway downgrades). A key cap may
    exceed its tiers' caps: every scope of a call applies, so the strictest one binds.
    """

    daily_total_usd: Decimal = Decimal("200")
    tier_shares: Mapping[str, Decimal] = field(default_factory=lambda: DEFAULT_TIER_SHARES)
    key_caps_usd: Mapping[str, Decimal] = field(default_factory=dict)
    #: A budget of its own beside the live day's (``backtest``: a backtest's LLM calls):
    #: its total and tier scopes are ``<namespace>:total``, ``<namespace>:tier:<t>``, never
    #: the live day's. A key's cap stays shared: it is the key's, whoever spends it.
    namespace: str = ""

    def __post_init__(self) -> None:
        total = _usd(self.daily_total_usd, "the daily budget")
        unknown = sorted(set(self.tier_shares) - set(TIERS))
        if unknown:
            raise ConfigError(f"unknown tier(s) {', '.join(unknown)}; tiers are {TIERS}")
        shares = {t: _usd(s, f"the share of tier {t}") for t, s in self.tier_shares.items()}
        if sum(shares.values(), Decimal(0)) != 1:
            listed = ", ".join(f"{t}={s}" for t, s in shares.items())
            raise ConfigError(f"tier shares must sum to 1, not {sum(shares.values())} ({listed})")
        caps: dict[str, Decimal] = {}
        for alias, cap in self.key_caps_usd.items():
            if not alias or alias != alias.strip():
                raise ConfigError(f"key alias {alias!r} must be a non-empty word")
            caps[alias] = _usd(cap, f"the daily cap of key {alias}")
        object.__setattr__(self, "daily_total_usd", total)
        object.__setattr__(
            self, "tier_shares", MappingProxyType({t: shares.get(t, Decimal(0)) for t in TIERS})
        )
        object.__setattr__(self, "key_caps_usd", MappingProxyType(caps))
        if self.namespace and (not self.namespace.isidentifier() or ":" in self.namespace):
            raise ConfigError(f"budget namespace {self.namespace!r} must be a plain word")

    def _own(self, scope: str) -> str:
        return f"{self.namespace}:{scope}" if self.namespace else scope

    def scopes_for(self, tier: str, key_alias: str | None) -> tuple[str, ...]:
        """Every scope a call on ``tier`` with ``key_alias`` is charged to, in a fixed order
        (total, tier, key); a key without a cap has no scope of its own."""
        if tier not in TIERS:
            raise ConfigError(f"unknown tier {tier!r}; tiers are {TIERS}")
        scopes: tuple[str, ...] = (self._own(TOTAL_SCOPE), self._own(TIER_PREFIX + tier))
        if key_alias is not None and key_alias in self.key_caps_usd:
            scopes += (KEY_PREFIX + key_alias,)
        return scopes

    def cap_usd(self, scope: str) -> Decimal:
        """The cap of ``scope`` in USD, exactly as the policy states it."""
        if self.namespace and scope.startswith(f"{self.namespace}:"):
            scope = scope[len(self.namespace) + 1 :]
        elif self.namespace and not scope.startswith(KEY_PREFIX):
            raise ConfigError(f"the {self.namespace} budget has no scope {scope!r}")
        if scope == TOTAL_SCOPE:
            return self.daily_total_usd
        if scope.startswith(TIER_PREFIX) and scope[len(TIER_PREFIX) :] in TIERS:
            return self.daily_total_usd * self.tier_shares[scope[len(TIER_PREFIX) :]]
        if scope.startswith(KEY_PREFIX) and scope[len(KEY_PREFIX) :] in self.key_caps_usd:
            return self.key_caps_usd[scope[len(KEY_PREFIX) :]]
        raise ConfigError(f"the budget policy has no scope {scope!r}")

    def cap_nusd(self, scope: str) -> int:
        """The cap of ``scope`` in whole nano-dollars, rounded down (never over the cap)."""
        return usd_to_nusd(self.cap_usd(scope), ROUND_FLOOR)


def base_scope(scope: str) -> str:
    """``scope`` without its budget namespace (``backtest:tier:fast`` -> ``tier:fast``)."""
    if scope == TOTAL_SCOPE or scope.startswith((TIER_PREFIX, KEY_PREFIX)):
        return scope
    _, sep, rest = scope.partition(":")
    return rest if sep else scope


def show_usd(amount: Decimal) -> str:
    """USD for a message: cents at least, more digits only when they matter."""
    text = format(amount.normalize(), "f")
    return text if "." in text and len(text.split(".")[1]) >= 2 else f"{amount:.2f}"
