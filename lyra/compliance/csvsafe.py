"""Cells that are safe to open in a spreadsheet, and Markdown table cells that stay cells.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is run
as a formula by Excel, LibreOffice and Google Sheets: an asset named
``=HYPERLINK("http://...")`` in an exchange export would otherwise reach the CGT CSV raw
and run when an accountant opens it (OWASP, "CSV Injection",
https://owasp.org/www-community/attacks/CSV_Injection). Every CSV Lyra writes passes its
cells through :func:`safe_cell`, which prefixes such a cell with ``'`` (the quote a
spreadsheet shows as text). A plain number (``-12.50``, ``+3``) is left alone: it is data,
and a loss must stay a negative number. :func:`unneutralise` takes the ``'`` back off when
Lyra reads its own ledger, so a neutralised ledger reads back as written, exactly: a text
that already starts with ``'`` before such a character gets one ``'`` more, so
``unneutralise(safe_cell(text)) == text`` for every text.

In a Markdown table a ``|`` ends the cell and a newline the row: :func:`markdown_cell`
escapes the one and flattens the other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["markdown_cell", "safe_cell", "safe_row", "unneutralise"]

_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
#: The first characters of a cell :func:`safe_cell` may change: a caller that skips the
#: call for any other first character gets the same text.
_TRIGGERS_OR_QUOTE: Final = (*_TRIGGERS, "'")
_PLAIN_NUMBER: Final = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", re.ASCII).fullmatch


def _formula_like(text: str) -> bool:
    """``text``, past any ``'`` already in front of it, starts a formula."""
    bare = text.lstrip("'")
    return bare.startswith(_TRIGGERS) and not _PLAIN_NUMBER(bare)


def safe_cell(value: object) -> str:
    """``value`` as CSV cell text that no spreadsheet runs as a formula.

    A text that already starts with ``'`` before a formula character (``'=x``) gets one
    more, so :func:`unneutralise` gives every text back exactly."""
    text = "" if value is None else str(value)
    if text.startswith(_TRIGGERS_OR_QUOTE) and _formula_like(text):
        return "'" + text
    return text


def safe_row(values: Iterable[object]) -> list[str]:
    """:func:`safe_cell` of each value."""
    return [safe_cell(v) for v in values]


def unneutralise(text: str) -> str:
    """A cell written by :func:`safe_cell` back as it was (only a ``'`` that
    :func:`safe_cell` would have added is removed)."""
    if text.startswith("'") and _formula_like(text):
        return text[1:]
    return text


def markdown_cell(value: object) -> str:
    """``value`` as the text of one Markdown table cell: ``|`` escaped, newlines flattened."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
