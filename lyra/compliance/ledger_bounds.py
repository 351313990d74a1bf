"""The bounds of a tax ledger row: what no exchange or wallet export ever holds.

docs/tax.md, "Ledger input bounds", states them; each follows from where a row goes:

- Numbers are stored exactly in ``NUMERIC(38, 18)`` (:class:`lyra.store.types.ExactDecimal`):
  at most 18 decimal places (an ether wei is 1e-18; trailing zeros beyond are dropped),
  quantities below 1e20 (the 20 integer digits of that column: a meme coin's whole
  supply fits) and AUD amounts below 1e15 (a thousand trillion dollars), the same
  magnitude the risk input allows (:mod:`lyra.risk.request`). A text longer than
  :data:`MAX_NUMBER_CHARS` is refused before it is parsed.
- Times lie between bitcoin's first block (2009-01-03, UTC) and a day after now: there
  was no crypto before, and a row from the future is a typo or a clock error.
- Text fields are no longer than the stored columns (``lyra/store/compliance_tables.py``),
  so a row that is read is a row that can be stored.

Every refusal names the field and shows at most :data:`SHOWN_CHARS` characters of the
value (a 200 KB field is not echoed to a terminal or a log).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final

__all__ = [
    "EARLIEST",
    "FIELD_CHARS",
    "FUTURE_MARGIN",
    "MAX_NUMBER_CHARS",
    "MAX_PLACES",
    "MONEY_LIMIT",
    "QUANTITY_LIMIT",
    "SHOWN_CHARS",
    "check_number",
    "field_too_long",
    "shown",
    "time_problem",
]

#: Bitcoin's genesis block, 2009-01-03 18:15:05 UTC: the day starts the window.
EARLIEST: Final = datetime(2009, 1, 3, tzinfo=UTC)
#: How far past now a row may be dated (a time zone or clock skew, not a future trade).
FUTURE_MARGIN: Final = timedelta(days=1)
#: Decimal places kept exactly by the stored ``NUMERIC(38, 18)`` columns.
MAX_PLACES: Final = 18
_QUANTUM: Final = Decimal(1).scaleb(-MAX_PLACES)
#: Quantities (``quantity``, ``to_quantity``) are below this: 20 integer digits.
QUANTITY_LIMIT: Final = Decimal("1e20")
#: AUD amounts (``aud_value``, ``fee_aud``, ``given_aud_value``) are below this.
MONEY_LIMIT: Final = Decimal("1e15")
#: Longest text read as a number: 20 integer digits, a point, 18 places and some slack.
MAX_NUMBER_CHARS: Final = 64
#: How much of a refused value a message shows.
SHOWN_CHARS: Final = 24
#: The longest text of each column: the stored column's length (numbers: as above; the
#: type is one of a few words).
FIELD_CHARS: Final = {
    "timestamp": 64,
    "type": 16,
    "asset": 32,
    "quantity": MAX_NUMBER_CHARS,
    "aud_value": MAX_NUMBER_CHARS,
    "fee_aud": MAX_NUMBER_CHARS,
    "to_asset": 32,
    "to_quantity": MAX_NUMBER_CHARS,
    "given_aud_value": MAX_NUMBER_CHARS,
    "exchange": 64,
    "counterparty": 200,
    "id": 128,
    "lot": 128,
}


def shown(text: str) -> str:
    """``text`` quoted, cut to :data:`SHOWN_CHARS` characters with its length when longer."""
    if len(text) <= SHOWN_CHARS:
        return repr(text)
    return f"{text[:SHOWN_CHARS]!r}... ({len(text):,} characters)"


def field_too_long(cells: list[str], header: tuple[str, ...]) -> str | None:
    """The first field longer than its column allows, as a reason, or None."""
    for name, cell in zip(header, cells, strict=True):
        cap = FIELD_CHARS[name]
        if len(cell) > cap:
            return f"{name} is {len(cell):,} characters long (at most {cap})"
    return None


def check_number(text: str, field: str, limit: Decimal) -> Decimal | str:
    """The number ``text`` within bounds, or the reason it is refused (no exception: the
    caller names the file and line)."""
    if len(text) > MAX_NUMBER_CHARS:
        return f"{field} {shown(text)} is too long for a number ({MAX_NUMBER_CHARS} at most)"
    try:
        value = Decimal(text)
    except InvalidOperation:
        return f"{field} {shown(text)} is not a number"
    if not value.is_finite():
        return f"{field} {shown(text)} is not a finite number"
    if value.is_signed() and value:
        return f"{field} must not be negative (got {shown(text)})"
    if value.is_signed():
        value = -value  # "-0" is zero
    if value >= limit:
        return f"{field} {shown(text)} is out of range (below {limit:.0e} here)"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        exact = value.quantize(_QUANTUM)
        if exact != value:
            return f"{field} {shown(text)} has more than {MAX_PLACES} decimal places"
        value = exact
    return value


def time_problem(moment: datetime, latest: datetime) -> str | None:
    """Why an aware ``moment`` is outside :data:`EARLIEST` .. ``latest``, or None."""
    if EARLIEST <= moment <= latest:
        return None
    return (
        f"is outside {EARLIEST.date().isoformat()} (bitcoin's first block) "
        f"to {latest.date().isoformat()} (a day after now)"
    )
