"""What both Binance exports share: the venue, column lookup and times as Binance writes
them (:mod:`lyra.compliance.importers.binance` describes the exports).

Binance writes ``2024-01-02 03:04:05`` (older files ``24-01-02 ...``), at UTC or at the
fixed offset a header (``Date(UTC+8)``) or a file name (``...(UTC+10)...csv``) names;
newer statements without one are in the timezone chosen at export, the declared one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from lyra.compliance.importers.formats import moment, normalised_header

__all__ = ["NAMED_OFFSET", "VENUE", "columns", "offset_of", "when"]

VENUE: Final = "binance"
#: A fixed offset in a file's name: ``(UTC+10)``, ``(UTC-5:30)``.
NAMED_OFFSET: Final = re.compile(r"\(UTC(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?\)", re.I)
_UTC: Final = ZoneInfo("UTC")
_ZERO: Final = timedelta(0)
_SHORT_YEAR: Final = re.compile(r"\d{2}-\d{2}-\d{2}[ T]").match
_NAIVE: Final = re.compile(r"\d{4}-\d{2}-\d{2}[ T][\d:.]+").fullmatch


def columns(header: tuple[str, ...]) -> dict[str, int]:
    """Normalised header name -> its column."""
    return {name: at for at, name in enumerate(normalised_header(header))}


def offset_of(match: re.Match[str] | None) -> timedelta | None:
    """The offset of a ``UTC+10`` / ``UTC-5:30`` match (zero for plain ``UTC``); None
    for no match."""
    if match is None:
        return None
    if not match["sign"]:
        return timedelta(0)
    size = timedelta(hours=int(match["h"]), minutes=int(match["m"] or 0))
    return size if match["sign"] == "+" else -size


def when(
    text: str, offset: timedelta | None, zone: ZoneInfo, file: str, line: int, name: str
) -> datetime:
    """A Binance time (``2024-01-02 03:04:05``, or ``24-01-02 ...`` with a short year) at
    the fixed ``offset`` the file names, else read in the declared ``zone``.

    The usual ``YYYY-MM-DD HH:MM:SS`` at a fixed offset is read with its ``+00:00`` in
    one ``fromisoformat`` (an aware UTC result): ``datetime.replace(tzinfo=...)`` costs
    several times as much, once a row on a million rows."""
    raw = text.strip()
    if (
        offset is not None
        and len(raw) == 19
        and raw[4] == "-"
        and raw[7] == "-"
        and raw[10] == " "
        and raw[13] == ":"
        and raw[16] == ":"
    ):
        try:
            moment_utc = datetime.fromisoformat(raw + "+00:00")
        except ValueError:
            pass  # not a real date: the general path below names the field
        else:
            return moment_utc if offset == _ZERO else moment_utc - offset
    if _SHORT_YEAR(raw):
        raw = "20" + raw
    if offset is None:
        return moment(raw, zone, file, line, name)
    if _NAIVE(raw):  # the wall-clock time as if at UTC, moved by the offset it was written at
        try:
            return datetime.fromisoformat(raw).replace(tzinfo=UTC) - offset
        except ValueError:
            pass  # not a real date: moment() names the field
    return moment(raw, _UTC, file, line, name)
