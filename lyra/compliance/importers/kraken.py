"""Kraken's two CSV exports, both selected by ``--exchange kraken``.

- ``kraken``: the trades export, one row per execution
  (:mod:`lyra.compliance.importers.kraken_trades`, Kraken's "How to interpret Trades
  history fields").
- ``kraken-ledgers``: the ledgers export, one row per balance change, a trade's two rows
  merged by ``refid``, deposits, withdrawals and staking rewards besides
  (:mod:`lyra.compliance.importers.kraken_ledgers`, Kraken's "How to interpret Ledger
  history fields").

Kraken's "Differences between ledger and trades history"
(https://support.kraken.com/hc/en-us/articles/115000302707-Differences-between-ledger-and-trades-history)
is why both exist: the ledgers show what was credited and debited, fees as charged, and
the Buy Crypto button's purchases; the trades show executions only. Import the ledgers
export where you have it; a trade in both files gets the same ledger id, so importing
both adds it once.
"""

from __future__ import annotations

from typing import Final

from lyra.compliance.importers.kraken_ledgers import LEDGERS
from lyra.compliance.importers.kraken_trades import TRADES, kraken_asset, split_pair

__all__ = ["FORMATS", "LEDGERS", "TRADES", "kraken_asset", "split_pair"]

#: Both Kraken exports; ``--exchange kraken`` tries them in this order.
FORMATS: Final = (TRADES, LEDGERS)
