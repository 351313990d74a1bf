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
  so a row that is read is a row that can be stored; a cell neutralised for spreadsheets
  (:mod:`lyra.compliance.csvsafe`) is measured without the ``'`` it was written with.
- Columns: the contract's 13, then any of the extension columns in their order.

Every refusal names the field and shows at most :data:`SHOWN_CHARS` characters of the
value (a 200 KB field is not echoed to a terminal or a log). The checks return the value
or the reason (a ``str`` starting with the field's name), never raise: the caller names
the file and the line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final
from zoneinfo import ZoneInfo

from lyra.compliance.csvsafe import unneutralise
from lyra.compliance.localtime import parse_moment

__all__ = [
    "EARLIEST",
    "FIELD_CHARS",
    "FUTURE_MARGIN",
    "MAX_NUMBER_CHARS",
    "MAX_PLACES",
    "MONEY_LIMIT",
    "QUANTITY_LIMIT",
    "SHOWN_CHARS",
    "bounded_numbers",
    "bounded_time",
    "check_number",
    "columns_problem",
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
    # The extension columns (docs/domain.md "Contracts"), kept in an unbounded text column
    # (aud_source) or not stored: bounded by what they hold. An ``estimate:`` note names a
    # price source, a day and an FX rate with its source; a provenance ``file:line+line``
    # names an export file (up to 255 characters) and the rows one entry was made from.
    "aud_source": 500,
    "source": 4096,
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
        if len(cell) > cap and len(unneutralise(cell)) > cap:
            return f"{name} is {len(cell):,} characters long (at most {cap})"
    return None


def columns_problem(
    names: tuple[str, ...], header: tuple[str, ...], extension: tuple[str, ...]
) -> str | None:
    """Why a file's header ``names`` is not ``header`` followed by any of ``extension``
    (each at most once, in that order), or None."""
    width = len(header)
    if names[:width] != header:
        return f"header must be {','.join(header)} (then optionally {','.join(extension)})"
    after = 0
    for number, name in enumerate(names[width:], start=width + 1):
        if name not in extension[after:]:
            what = "repeated or out of order" if name in extension else "not a known column"
            return (
                f"header column {number} {shown(name)} is {what}: after the {width} contract "
                f"columns only {', '.join(extension)} may follow, in that order"
            )
        after = extension.index(name) + 1
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


#: The number fields in row order, each with the bound of its kind.
_NUMBER_FIELDS: Final = (
    ("quantity", QUANTITY_LIMIT),
    ("aud_value", MONEY_LIMIT),
    ("fee_aud", MONEY_LIMIT),
    ("to_quantity", QUANTITY_LIMIT),
    ("given_aud_value", MONEY_LIMIT),
)
#: The common spelling, which needs no further check: plain digits, at most 18 places,
#: fewer integer digits than the bound (20 for quantities, 15 for AUD amounts).
_QUANTITY_TEXT: Final = re.compile(rf"\d{{1,20}}(?:\.\d{{0,{MAX_PLACES}}})?", re.ASCII).fullmatch
_MONEY_TEXT: Final = re.compile(rf"\d{{1,15}}(?:\.\d{{0,{MAX_PLACES}}})?", re.ASCII).fullmatch
_PLAIN: Final = (_QUANTITY_TEXT, _MONEY_TEXT, _MONEY_TEXT, _QUANTITY_TEXT, _MONEY_TEXT)
#: Distinct number texts whose Decimal is shared while a file is read.
_SHARED_NUMBERS: Final = 65_536


def bounded_numbers(
    texts: Sequence[str], shared: dict[str, Decimal]
) -> list[Decimal | None] | tuple[str, str]:
    """The five number fields of a row (``quantity``, ``aud_value``, ``fee_aud``,
    ``to_quantity``, ``given_aud_value``; blank is None), or the first bad field and why:
    a fast path for good rows, then a field-by-field pass that names the first bad field.

    A Decimal is immutable, so one object serves every row with the same text (a fee of
    ``9.95``, a weekly buy of ``100.00``): ``shared`` maps texts seen to their value, up to
    :data:`_SHARED_NUMBERS` of them (a Decimal is 104 bytes; a row has up to five)."""
    values: list[Decimal | None] = []
    for text, plain in zip(texts, _PLAIN, strict=True):
        if not text:
            values.append(None)
            continue
        value = shared.get(text)
        if value is None:
            if plain(text) is None:  # not plain digits within bounds: the slow pass says why
                break
            value = Decimal(text)
            if len(shared) < _SHARED_NUMBERS:
                shared[text] = value  # only checked values are shared
        values.append(value)
    else:
        return values
    checked: list[Decimal | None] = []
    for text, (field, limit) in zip(texts, _NUMBER_FIELDS, strict=True):
        if not text:
            checked.append(None)
            continue
        number = check_number(text, field, limit)
        if isinstance(number, str):
            return field, number
        checked.append(number)
    return checked


#: The first year a wall-clock time may be in: its zone moves it less than a day either
#: way, so a time from an earlier year is outside the window wherever it is placed.
_FIRST_YEAR: Final = EARLIEST.year - 1


def bounded_time(text: str, latest: datetime, zone: ZoneInfo) -> datetime | str:
    """The ``timestamp`` ``text`` as aware UTC within :data:`EARLIEST` .. ``latest``, or
    why not. An offset or ``Z`` is the fast path; a date alone or a wall-clock time is
    placed by :func:`lyra.compliance.localtime.parse_moment` (docs/tax.md "Dates and
    timezones"), which refuses a time daylight saving makes ambiguous or skips."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return f"timestamp {shown(text)} is not ISO 8601 (e.g. 2024-07-01T10:00:00Z or 2024-07-01)"
    if moment.utcoffset() is not None:
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 shifted to UTC leaves datetime's range
            moment = EARLIEST - FUTURE_MARGIN
    elif not _FIRST_YEAR <= moment.year <= latest.year + 1:  # outside wherever placed
        moment = EARLIEST - FUTURE_MARGIN
    else:
        try:
            moment = parse_moment(text, zone)
        except ValueError as exc:  # ambiguous or skipped at a daylight-saving change
            return f"timestamp {shown(text)}: {exc}"
    if EARLIEST <= moment <= latest:
        return moment
    return f"timestamp {shown(text)} {time_problem(moment, latest)}"
