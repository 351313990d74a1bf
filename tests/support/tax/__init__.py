"""Helpers and sample CSVs for the tax tests: a ledger written as CSV text, row by row."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from lyra.compliance.ledger import HEADER, Txn, parse_ledger

__all__ = ["TEST_NOW", "csv_text", "ledger"]


def csv_text(*rows: str) -> str:
    """The header and the given rows (each a CSV line of the 13 columns)."""
    return "\n".join([",".join(HEADER), *rows]) + "\n"


#: The "now" the helper parses at: tests do not depend on the clock, and rows of future
#: income years (rule sets announced for them) stay readable.
TEST_NOW = datetime(2099, 1, 1, tzinfo=UTC)


def ledger(*rows: str, now: datetime = TEST_NOW) -> tuple[Txn, ...]:
    """Parsed rows; a row is ``timestamp,type,asset,quantity,aud_value,fee_aud,to_asset,
    to_quantity,given_aud_value,exchange,counterparty,id,lot``."""
    return parse_ledger(io.StringIO(csv_text(*rows)), source="test.csv", now=now)
