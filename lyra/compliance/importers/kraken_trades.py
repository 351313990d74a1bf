"""Kraken's trades export (History > Export > Trades): one row per execution.

Kraken documents the file field by field, "How to interpret Trades history fields",
https://support.kraken.com/hc/en-us/articles/360001184886-How-to-interpret-Trades-history-fields:
``txid`` the trade's id, ``pair`` base + quote, ``time`` "in UTC time zone", ``type`` buy
or sell, ``cost`` = price x volume in the quote and it "does NOT include fees", ``fee``
in the quote, ``vol`` in the base, ``margin`` the margin used (a margin trade is a review
item here: borrowed coins are not a spot purchase). The fee is Kraken's figure in the
quote, "not necessarily the fee that was deducted from your account" (a fee taken in the
base shows in the ledgers export only): where both exports exist the ledgers export
(:mod:`lyra.compliance.importers.kraken_ledgers`) is the record of what was charged.

Header variants, detected by column name (BittyTax/BittyTax
``src/bittytax/conv/parsers/kraken.py`` reads the same): 13 columns
(``txid,ordertxid,pair,time,type,ordertype,price,cost,fee,vol,margin,misc,ledgers``),
the same with the position columns after them (``postxid,...,net,trades``), and the
newer one with ``aclass,subclass`` after ``pair``.

Kraken's asset codes are normalised here for both exports (:func:`kraken_asset`): the
legacy four-letter codes (``XXBT``, ``XETH``, ``ZAUD``, ``ZUSD``), ``XBT`` for bitcoin
and ``XDG`` for dogecoin, and the balance-type suffixes (``DOT.S`` staked, ``.M`` opt-in
rewards, ``.B``, ``.F``, ``.P``: "read-only" views of the base asset, Kraken's API
reference, Get Ledgers Info). A ``pair`` (``XXBTZAUD``, ``XBTUSDT``, ``ETH/AUD``) is split
by :func:`split_pair`. Times are UTC as Kraken documents, whatever the declared timezone.

Usage::

    >>> split_pair("XXBTZAUD")
    ('BTC', 'AUD')
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final, Literal
from zoneinfo import ZoneInfo

from lyra.compliance.importers.formats import (
    ExportFormat,
    Row,
    amount,
    cell,
    moment,
    normalised_header,
)
from lyra.compliance.importers.records import Record, SourceRef, Trade, Unrecognised

__all__ = ["TRADES", "VENUE", "header_columns", "kraken_asset", "kraken_time", "split_pair"]

VENUE: Final = "kraken"
_UTC: Final = ZoneInfo("UTC")
_TRADES_COLUMNS: Final = ("txid", "ordertxid", "pair", "time", "type", "cost", "fee", "vol")

#: Kraken's legacy codes (X = crypto, Z = fiat) and its own names for BTC and DOGE.
_CODES: Final = {
    "XXBT": "BTC", "XBT": "BTC", "XXDG": "DOGE", "XDG": "DOGE", "XETH": "ETH",
    "XETC": "ETC", "XLTC": "LTC", "XMLN": "MLN", "XREP": "REP", "XXLM": "XLM",
    "XXMR": "XMR", "XXRP": "XRP", "XZEC": "ZEC", "XICN": "ICN", "XNMC": "NMC",
    "XXVN": "XVN", "ZAUD": "AUD", "ZCAD": "CAD", "ZEUR": "EUR", "ZGBP": "GBP",
    "ZJPY": "JPY", "ZUSD": "USD", "ZCHF": "CHF", "ZAED": "AED",
}  # fmt: skip
_SUFFIXES: Final = (".S", ".M", ".B", ".F", ".P")
#: Quotes a pair can end with, longest first (so ``USDT`` before ``USD``).
_QUOTES: Final = tuple(
    sorted(
        ("ZAUD", "ZUSD", "ZEUR", "ZGBP", "ZCAD", "ZJPY", "XXBT", "XETH", "PYUSD", "USDT",
         "USDC", "AUD", "USD", "EUR", "GBP", "CAD", "JPY", "CHF", "AED", "DAI", "XBT", "ETH",
         "DOT"),
        key=len, reverse=True,
    )
)  # fmt: skip


@functools.lru_cache(maxsize=4096)
def kraken_asset(code: str) -> str:
    """Kraken's asset code as the usual ticker: ``XXBT`` -> BTC, ``ZAUD`` -> AUD,
    ``DOT.S`` -> DOT, ``XDG`` -> DOGE; others as written (upper case)."""
    text = code.strip().upper()
    for suffix in _SUFFIXES:
        if text.endswith(suffix):
            text = text[: -len(suffix)]
            break
    return _CODES.get(text, text)


@functools.lru_cache(maxsize=4096)
def split_pair(pair: str) -> tuple[str, str] | None:
    """``XXBTZAUD`` -> (BTC, AUD), ``XBTUSDT`` -> (BTC, USDT), ``ETH/AUD`` -> (ETH, AUD);
    None when no split is sure.

    A legacy eight-letter pair is two legacy codes. Otherwise the longest known quote at
    the end; a prefixed quote (``ZEUR``, ``XETH``) only after a base of four letters or
    more, because ``BLZEUR`` is BLZ/EUR and ``XTZAUD`` is XTZ/AUD (BittyTax lists such
    pairs by hand for the same reason)."""
    text = pair.strip().upper()
    if "/" in text:
        base, _, quote = text.partition("/")
        return (kraken_asset(base), kraken_asset(quote)) if base and quote else None
    if len(text) == 8 and text[:4] in _CODES and text[4:] in _CODES:
        return kraken_asset(text[:4]), kraken_asset(text[4:])
    for quote in _QUOTES:
        base = text[: -len(quote)]
        prefixed = len(quote) == 4 and quote[0] in "XZ" and quote in _CODES
        if text.endswith(quote) and base and not (prefixed and len(base) < 4):
            return kraken_asset(base), kraken_asset(quote)
    return None


def kraken_time(text: str, file: str, line: int) -> datetime:
    """Kraken's ``time`` (UTC, ``2024-01-15 03:12:45.1234``) as aware UTC. A naive date
    and time is read directly (the common case, without the DST checks a zone with
    daylight saving needs); anything else goes through :func:`moment`, which names the
    field when it is not a time."""
    raw = text.strip()
    if len(raw) > 10:
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
    return moment(raw, _UTC, file, line, "time")


def header_columns(header: tuple[str, ...]) -> dict[str, int]:
    """Column name (normalised) -> its index."""
    return {name: at for at, name in enumerate(normalised_header(header))}


def _is_trades(header: tuple[str, ...]) -> bool:
    return all(c in header for c in _TRADES_COLUMNS)


def read_trades(
    file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
) -> Iterator[Record]:
    """One :class:`Trade` per execution of a trades export (``zone`` unused: UTC)."""
    at = header_columns(header)
    required = tuple(at[name] for name in _TRADES_COLUMNS)
    width = max(required) + 1
    margin = at.get("margin", -1)
    for line, cells in rows:
        if len(cells) < width:
            for name, where in zip(_TRADES_COLUMNS, required, strict=True):
                cell(cells, where, file, line, name)
        source = SourceRef(file, (line,))
        txid = cells[at["txid"]].strip()
        pair = cells[at["pair"]].strip()
        kind = cells[at["type"]].strip().lower()
        when = kraken_time(cells[at["time"]], file, line)
        vol = amount(cells[at["vol"]], file, line, "vol")
        cost = amount(cells[at["cost"]], file, line, "cost")
        fee = amount(cells[at["fee"]], file, line, "fee", blank=True)
        used = (
            amount(cells[margin], file, line, "margin", blank=True)
            if 0 <= margin < len(cells)
            else Decimal(0)
        )
        assets = split_pair(pair)
        if kind not in ("buy", "sell") or assets is None or used:
            why = "a margin trade" if used else f"pair {pair!r}" if assets is None else kind
            yield Unrecognised(VENUE, f"trade {kind}", f"{txid} {pair}: {why}", source)
            continue
        base, quote = assets
        side: Literal["buy", "sell"] = "buy" if kind == "buy" else "sell"
        yield Trade(
            at=when, venue=VENUE, side=side, base=base, base_quantity=vol, quote=quote,
            quote_quantity=cost, fee_asset=quote, fee_quantity=fee,
            aud_value=cost if quote == "AUD" else None, ref=txid, source=source,
        )  # fmt: skip


TRADES: Final = ExportFormat(
    name="kraken",
    venue=VENUE,
    documented=(
        "https://support.kraken.com/hc/en-us/articles/"
        "360001184886-How-to-interpret-Trades-history-fields"
    ),
    detect=_is_trades,
    read=read_trades,
)
