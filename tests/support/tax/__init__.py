"""Helpers and sample CSVs for the tax tests: a ledger written as CSV text, row by row."""

from __future__ import annotations

import io

from lyra.compliance.ledger import HEADER, Txn, parse_ledger

__all__ = ["csv_text", "ledger"]


def csv_text(*rows: str) -> str:
    """The header and the given rows (each a CSV line of the 13 columns)."""
    return "\n".join([",".join(HEADER), *rows]) + "\n"


def ledger(*rows: str) -> tuple[Txn, ...]:
    """Parsed rows; a row is ``timestamp,type,asset,quantity,aud_value,fee_aud,to_asset,
    to_quantity,given_aud_value,exchange,counterparty,id,lot``."""
    return parse_ledger(io.StringIO(csv_text(*rows)), source="test.csv")
