"""The exchange table as data: Lyra's venues, what each is used for, and what that needs.

Differences between exchanges are data, not branches (docs/style.md, "Differences as data",
after freqtrade's per-exchange tables): ``lyra/exchanges/data/venues.yaml`` lists the twelve
default venues with their ccxt id, home country (AU matters for GST), the roles Lyra uses
them in, the most candles one request returns, and the ccxt options they need. Adding a
venue is a YAML entry, checked here when the table is read.

A role names the ccxt unified methods it calls (``market_data``: fetchMarkets, fetchOHLCV,
fetchTicker; ``trading``: createOrder...). :func:`missing_capabilities` compares them with
ccxt's ``exchange.has`` so that a venue lacking one is rejected at start, by name, instead
of failing mid-run. This module does no ccxt import: the caller passes ``has``.

Usage::

    table = load_venues()                      # the shipped table (or a YAML of the user's)
    venue = table.venue("btcmarkets")          # UnknownExchangeError naming the known ones
    venue.country                              # "AU"
    table.require(venue, exchange.has, ["market_data"])   # ConfigError naming what lacks
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lyra.errors import ConfigError, UnknownExchangeError

__all__ = [
    "OrderLookup",
    "Venue",
    "VenueTable",
    "load_venues",
    "missing_capabilities",
]

#: A venue id: what settings name, and the start of the markets cache's key, which holds
#: 32 characters with the ``:keyed:sandbox`` suffix (``independentreserve`` is 18).
VENUE_ID_PATTERN: Final = r"^[a-z0-9]{1,18}$"

#: How ccxt counts an amount's precision, when a venue overrides ``precisionMode``.
AmountPrecision = Literal["decimal_places", "tick_size"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderLookup(_Strict):
    """How an order is found again by its client order id (:mod:`lyra.exchanges.ccxt_order_scan`).

    ``by``: ``fetch_order`` asks ccxt's ``fetchOrder`` with the unified ``clientOrderId``
    (Binance's ``origClientOrderId``); ``scan`` reads the order lists ``lists`` (ccxt
    method names) instead, for a venue whose ``fetchOrder`` needs the exchange's own id
    (Kraken's txid, Coinbase's order_id). ``filter``: the lists take the client id and
    the venue narrows them (Kraken's ``cl_ord_id``). ``paging``: ``offset`` (the raw
    parameter ``page_param`` counts results, ``page_size`` a page), ``cursor`` (ccxt
    leaves the venue's cursor in an order's ``info``; ``page_param`` sends it back), or
    ``none``. A scan reads at most ``max_pages`` pages a list, from ``lookback_hours``
    before the order's instant.

    ``unlisted_grace_minutes`` (scan venues; default 10): a venue's lists may show an
    order late (eventual consistency), so an order written less than this long ago that
    a scan read to the end does not list stays unconfirmed, never resent nor marked
    failed (:func:`lyra.services.submission.reconcile`, docs/domain.md "Execution").
    """

    by: Literal["fetch_order", "scan"] = "fetch_order"
    lists: tuple[str, ...] = ("fetchOpenOrders", "fetchClosedOrders")
    filter: bool = False
    paging: Literal["none", "offset", "cursor"] = "none"
    page_param: str | None = None
    page_size: int = Field(default=100, gt=0)
    max_pages: int = Field(default=10, gt=0)
    lookback_hours: int = Field(default=48, gt=0)
    unlisted_grace_minutes: int = Field(default=10, ge=0)

    @model_validator(mode="after")
    def _paging_names_its_parameter(self) -> OrderLookup:
        if self.paging != "none" and not self.page_param:
            raise ValueError(f"paging {self.paging!r} needs page_param")
        return self


class _VenueEntry(_Strict):
    """A venue's row as written in the YAML (its id is the key)."""

    ccxt_id: str = Field(pattern=r"^[a-z0-9]+$")
    name: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    roles: tuple[str, ...] = Field(min_length=1)
    ohlcv_limit: int | None = Field(default=None, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)
    amount_precision: AmountPrecision | None = None
    client_order_id_param: str = Field(default="clientOrderId", min_length=1)
    market_buy_price: bool = False
    order_lookup: OrderLookup = Field(default_factory=OrderLookup)


class Venue(_VenueEntry):
    """One exchange as Lyra uses it; ``id`` is the name in settings (``LYRA_EXCHANGES``).

    ``capabilities`` are the ccxt methods its roles need, in table order.
    """

    id: str = Field(pattern=VENUE_ID_PATTERN)
    capabilities: tuple[str, ...]

    @property
    def is_australian(self) -> bool:
        """True for a venue operated from Australia (GST treats it as a local supplier)."""
        return self.country == "AU"


class _TableFile(_Strict):
    capabilities: dict[str, tuple[str, ...]] = Field(min_length=1)
    venues: dict[str, _VenueEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _roles_are_defined(self) -> _TableFile:
        for venue_id, entry in self.venues.items():
            if not re.fullmatch(VENUE_ID_PATTERN, venue_id):
                raise ValueError(f"venue id {venue_id!r} is not 1-18 lower-case letters/digits")
            unknown = [role for role in entry.roles if role not in self.capabilities]
            if unknown:
                known = ", ".join(self.capabilities)
                raise ValueError(
                    f"venue {venue_id} has unknown roles {', '.join(unknown)} (known: {known})"
                )
        return self


class VenueTable:
    """The venues by id, and the capabilities each role needs."""

    def __init__(self, venues: Iterable[Venue], role_capabilities: Mapping[str, Iterable[str]]):
        self._venues = {venue.id: venue for venue in venues}
        self._roles = {role: tuple(caps) for role, caps in role_capabilities.items()}

    @property
    def ids(self) -> tuple[str, ...]:
        """Venue ids in table order."""
        return tuple(self._venues)

    def venue(self, venue_id: str) -> Venue:
        """The venue ``venue_id``; UnknownExchangeError naming the known ones otherwise."""
        try:
            return self._venues[venue_id]
        except KeyError:
            known = ", ".join(self._venues)
            raise UnknownExchangeError(
                f"exchange {venue_id!r} is not in the venue table (known: {known})"
            ) from None

    def capabilities(self, role: str) -> tuple[str, ...]:
        """The ccxt methods ``role`` needs; ConfigError for an unknown role."""
        try:
            return self._roles[role]
        except KeyError:
            known = ", ".join(self._roles)
            raise ConfigError(f"unknown venue role {role!r} (known: {known})") from None

    def __iter__(self) -> Iterator[Venue]:
        return iter(self._venues.values())

    def __len__(self) -> int:
        return len(self._venues)

    def require(self, venue: Venue, has: Mapping[str, object], roles: Iterable[str]) -> None:
        """Raise ConfigError naming the venue and each capability ``roles`` need that
        ccxt's ``has`` lacks (see :func:`missing_capabilities`)."""
        for role in roles:
            lacking = missing_capabilities(self.capabilities(role), has)
            if lacking:
                shown = ", ".join(
                    f"{name} (has[{name!r}] is {has.get(name)!r})" for name in lacking
                )
                raise ConfigError(
                    f"exchange {venue.id} cannot be used for {role.replace('_', ' ')}: "
                    f"ccxt's {venue.ccxt_id} lacks {shown}; choose another exchange"
                )


def missing_capabilities(needed: Iterable[str], has: Mapping[str, object]) -> list[str]:
    """The names in ``needed`` that ccxt's ``has`` does not offer (False, None or absent).

    ccxt marks a method as ``True``, ``"emulated"`` (built from other calls, still usable),
    ``False`` or ``None`` (not implemented); the last two and a missing key are lacking.
    """
    return [name for name in needed if has.get(name) in (False, None)]


@functools.cache
def _shipped() -> VenueTable:
    return _read(Path(str(files("lyra.exchanges") / "data" / "venues.yaml")))


def load_venues(path: Path | None = None) -> VenueTable:
    """The shipped table, or the YAML at ``path``; ConfigError naming the problem."""
    return _shipped() if path is None else _read(path)


def _read(source: Path) -> VenueTable:
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read venue table {source}: {exc}".splitlines()[0]) from None
    try:
        parsed = _TableFile.model_validate(raw)
        venues = [
            Venue(
                id=venue_id,
                capabilities=tuple(
                    dict.fromkeys(cap for role in entry.roles for cap in parsed.capabilities[role])
                ),
                **entry.model_dump(),
            )
            for venue_id, entry in parsed.venues.items()
        ]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"venue table {source}: {where}: {first['msg']}") from None
    return VenueTable(venues, parsed.capabilities)
