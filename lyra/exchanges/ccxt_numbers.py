"""ccxt's figures as Lyra's numbers: one set of helpers for market data and orders.

ccxt's parsers hand figures over in whatever type the exchange class produced: ``float``
from ``safe_number`` (most markets, tickers and orders), numeric ``str`` where a class
keeps the exchange's text, ``int`` for millisecond timestamps and decimal-place counts,
and ``None`` for a figure the exchange did not send. Money and prices in Lyra are
``Decimal``, so every figure passes through :func:`number` exactly once, at the edge.

The precision figures of a market mean different things under ccxt's ``precisionMode``
(``ccxt.base.decimal_to_precision``; the mode is a property of the exchange class):

- ``TICK_SIZE`` (4; most classes since ccxt 4): the figure *is* the step, ``0.01``.
- ``DECIMAL_PLACES`` (2): the figure counts decimals, ``2`` means a step of ``0.01``;
  ``0`` means whole units and a negative count rounds left of the point (``-1``: tens),
  as ``decimal_to_precision(..., DECIMAL_PLACES)`` does.
- ``SIGNIFICANT_DIGITS`` (3; bitfinex prices): the figure counts significant digits, so
  the step depends on the price itself and there is no fixed one.

A venue can override the mode for amounts (``amount_precision`` in the venue table:
bitfinex counts significant digits for prices but 8 decimal places for amounts).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final

from ccxt.base.decimal_to_precision import DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE

__all__ = [
    "DECIMAL_PLACES",
    "SIGNIFICANT_DIGITS",
    "TICK_SIZE",
    "amount_mode",
    "from_ms",
    "increment",
    "number",
    "positive",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

#: The venue table's ``amount_precision`` spelled as ccxt's mode constant.
_AMOUNT_MODES: Final[dict[str, int]] = {"decimal_places": DECIMAL_PLACES, "tick_size": TICK_SIZE}


def number(value: object) -> Decimal | None:
    """A ccxt figure as ``Decimal``; None when the exchange sent none.

    - ``float`` is read through ``repr``: the shortest text that round-trips, which is
      the figure the exchange printed (``8245.31``, not ``Decimal(8245.31)``'s binary
      expansion ``8245.309999...``). ccxt's ``safe_number`` returns floats.
    - ``str`` is read as written (``"0.00100000"``); ccxt classes that keep the
      exchange's text (``safe_string``) hand those over; an empty string is absent.
    - ``int`` (timestamps, decimal-place counts) and ``Decimal`` as they are.
    - ``None``, NaN and infinities are absent: ccxt's parsers use ``None`` for a missing
      figure, and a non-finite one carries no amount or price.

    ValueError for anything else (a bool, text that is not a number): a figure Lyra cannot
    read must not pass for zero.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        found = value
    elif isinstance(value, int):
        found = Decimal(value)
    elif isinstance(value, float):
        found = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            found = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise ValueError(f"not a number: {value!r}")
    return found if found.is_finite() else None


def positive(value: object) -> Decimal | None:
    """A limit or step as ``Decimal``; None when absent, zero or negative.

    ccxt fills ``limits.amount.min`` and ``limits.cost.min`` with ``0`` or ``None`` where a
    venue states no minimum (btcmarkets has no cost minimum); both mean "no limit" here,
    so a check never compares against a minimum of 0.
    """
    found = number(value)
    return found if found is not None and found > 0 else None


def increment(value: object, mode: int) -> Decimal | None:
    """The smallest step of a price or amount from ccxt's ``precision`` figure in ``mode``.

    ``TICK_SIZE``: the figure itself when positive. ``DECIMAL_PLACES``: ``10 ** -figure``
    for a whole figure (``2`` -> ``0.01``, ``0`` -> ``1``, ``-1`` -> ``10``); a fractional
    count is malformed and gives None. ``SIGNIFICANT_DIGITS`` (or an unknown mode): None,
    the step depends on the value. None when the figure is absent.
    """
    if mode == TICK_SIZE:
        return positive(value)
    if mode == DECIMAL_PLACES:
        places = number(value)
        if places is None or places != places.to_integral_value():
            return None
        return Decimal(1).scaleb(-int(places))
    return None


def amount_mode(override: str | None, precision_mode: int) -> int:
    """The mode of a market's amount figure: the venue's override, else the class's.

    The venue table's ``amount_precision`` (``"decimal_places"`` or ``"tick_size"``) is set
    where ccxt's ``precisionMode`` describes prices only (bitfinex: see ccxt's
    ``bitfinex.amount_to_precision``, which truncates amounts to 8 decimals).
    """
    return int(_AMOUNT_MODES.get(override or "", precision_mode))


def from_ms(value: object) -> datetime | None:
    """ccxt's millisecond timestamp (int, float or numeric text) as a UTC datetime.

    None when absent: Kraken's ticker carries no time (ccxt's ``timestamp`` is None) and
    the caller decides what moment to use. Computed in whole milliseconds from the epoch,
    so no float rounding moves an instant.
    """
    found = number(value)
    if found is None:
        return None
    return _EPOCH + timedelta(milliseconds=int(found))
