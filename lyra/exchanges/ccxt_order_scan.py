"""Finding an order by its client id where the venue cannot fetch it by that id.

Where ccxt's ``fetchOrder`` needs the exchange's own order id (Kraken's QueryOrders takes a
txid and an *integer* ``userref``; Coinbase's Get Order an ``order_id``) or refuses a
client id (``NotSupported``), the order is looked for in the account's order lists, read
the way the venue table says (:class:`~lyra.exchanges.venues.OrderLookup`, data, not
branches):

- **a bounded window**: every list is asked from ``since`` (the order's instant less an
  hour of clock skew, else ``lookback_hours`` before now), so a scan reads the recent
  orders, not the account's history;
- **narrowed by the venue** where it can (``filter``: Kraken's OpenOrders and
  ClosedOrders take ``cl_ord_id``, which ccxt sends for the unified ``clientOrderId``);
- **paged**: ``offset`` (Kraken's ``ofs``, 50 results a page: the next page is asked
  while a page is full), ``cursor`` (Coinbase's List Orders: ccxt leaves the ``cursor`` in
  an order's ``info`` while ``has_next``), or one request;
- **never "not found" when unsure**: a list the venue lacks (ccxt's ``NotSupported``) is
  skipped, but a scan that reads ``max_pages`` pages without reaching the end of a list
  fails as an exhausted :class:`~lyra.errors.ExchangeUnavailableError`, so the order
  stays unconfirmed and is never resent on a guess (docs/domain.md, "Execution").

Each page is an idempotent read through :meth:`~lyra.exchanges.ccxt_calls.CcxtCalls.read`
(retried on network errors). The order is matched on ccxt's unified ``clientOrderId``
(Kraken's ``cl_ord_id``, Coinbase's ``client_order_id``, parsed by ccxt).

Kraken's lists are account-wide and ccxt filters them by symbol after the request, which
would make a full page look short: with ``offset`` paging the lists are read for every
symbol and the match is by client id alone (client ids are unique per account).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Final

from lyra.errors import ExchangeUnavailableError
from lyra.exchanges.ccxt_calls import CapabilityError, CcxtCalls
from lyra.exchanges.venues import OrderLookup

__all__ = ["CLOCK_SKEW", "scan_for_client_id", "scan_start"]

#: How much earlier than the order's instant a scan starts (the venue's clock and ours).
CLOCK_SKEW: Final = timedelta(hours=1)

_Page = Callable[..., Awaitable[list[dict[str, Any]]]]


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def scan_start(lookup: OrderLookup, since: datetime | None, now: datetime) -> datetime:
    """Where a scan's window starts: ``since`` less the clock skew, else the venue's
    ``lookback_hours`` before ``now``."""
    if since is not None:
        return since - CLOCK_SKEW
    return now - timedelta(hours=lookup.lookback_hours)


async def scan_for_client_id(
    calls: CcxtCalls,
    client: Any,
    lookup: OrderLookup,
    client_order_id: str,
    symbol: str,
    *,
    start: datetime,
) -> dict[str, Any] | None:
    """ccxt's order with ``client_order_id`` from the lists of ``lookup``, or None when
    every list was read to its end without it (see the module)."""
    since_ms = int(start.timestamp() * 1000)
    listed_symbol = None if lookup.paging == "offset" else symbol
    for method in lookup.lists:
        fetch: _Page = getattr(client, _snake(method))
        try:
            found = await _scan_list(
                calls, fetch, method, lookup, client_order_id, listed_symbol, since_ms
            )
        except CapabilityError:
            continue
        if found is not None:
            return found
    return None


async def _scan_list(
    calls: CcxtCalls,
    fetch: _Page,
    method: str,
    lookup: OrderLookup,
    client_order_id: str,
    symbol: str | None,
    since_ms: int,
) -> dict[str, Any] | None:
    limit = None if lookup.paging == "none" else lookup.page_size
    base: dict[str, Any] = {"clientOrderId": client_order_id} if lookup.filter else {}
    position: int | str | None = None
    for page_number in range(1, lookup.max_pages + 1):
        params = dict(base)
        if position is not None and lookup.page_param:
            params[lookup.page_param] = position
        page = await calls.read(
            f"{method} page {page_number} looking for {client_order_id}",
            _bind(fetch, symbol, since_ms, limit, params),
        )
        for raw in page:
            if raw.get("clientOrderId") == client_order_id:
                return raw
        if lookup.paging == "offset":
            if len(page) < lookup.page_size:
                return None
            position = page_number * lookup.page_size
        elif lookup.paging == "cursor":
            position = _cursor(page)
            if not position:
                return None
        else:
            return None
    raise ExchangeUnavailableError(
        f"{method}: {lookup.max_pages} pages read without reaching the end of the list "
        f"while looking for order {client_order_id}; it stays unconfirmed",
        exhausted=True,
    )


def _bind(
    fetch: _Page, symbol: str | None, since_ms: int, limit: int | None, params: dict[str, Any]
) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
    async def request() -> list[dict[str, Any]]:
        return await fetch(symbol, since_ms, limit, params)

    return request


def _cursor(page: list[dict[str, Any]]) -> str | None:
    """The venue's next-page cursor, which ccxt's coinbase leaves in an order's ``info``
    (the first one as received; parse_orders may have re-sorted the list)."""
    for raw in page:
        info = raw.get("info")
        if isinstance(info, dict) and info.get("cursor"):
            return str(info["cursor"])
    return None
