"""Binance's CSV exports: the transaction history statement and the spot trade history.

Binance describes how to generate the transaction history ("Generate all statements"),
https://www.binance.com/en/support/faq/how-to-generate-transaction-history-990afa0a0a9341f78e7a9298a9575163,
but publishes no field-by-field description of either file; the layouts and operation
names here are those open-source tax tools read and test against (BittyTax/BittyTax
``src/bittytax/conv/parsers/binance/data_parsers.py`` and
``parse_binance_statements.py``, ``parse_binance_trades_statement.py``):

- Statement: ``User_ID,UTC_Time,Account,Operation,Coin,Change,Remark`` (older files
  without ``User_ID``). One row per change of one coin's balance, ``Change`` signed. A
  trade is several rows at the same ``UTC_Time``: ``Buy``/``Sell`` (older) or
  ``Transaction Buy``/``Transaction Spend``/``Transaction Sold``/``Transaction Revenue``/
  ``Transaction Related``, with ``Fee``/``Transaction Fee`` rows, often in BNB. Newer
  files are ``User ID,Time,...`` with times in the timezone chosen at export, which
  Binance writes in the file's name (``...(UTC+10)...csv``): that offset is used when the
  name has it, else the declared timezone.
- Trade history: ``Date(UTC),Pair,Side,Price,Executed,Amount,Fee`` where each quantity
  carries its coin (``0.00100000BTC``, ``65.12USDT``, ``0.00007BNB``), and the older
  ``Date(UTC),Market,Type,Price,Amount,Total,Fee,Fee Coin``. ``Date(UTC+8)`` headers
  name another fixed offset.

Statement rows, by ``Operation``: the trade operations of one time and account merge
into one :class:`Trade` (gross amounts, fee on top as the statement's separate fee rows
show); ``Deposit``/``Withdraw`` of a coin is a :class:`Movement` (the withdrawal's
``Change`` is what left, its fee not stated apart); of money, and ``Fiat Deposit``/
``Fiat Withdraw``, nothing; the reward operations of :data:`INCOME` are a
:class:`Receipt`; anything else (transfers between Binance wallets, Earn subscriptions,
dust conversion, futures and margin rows) is :class:`Unrecognised`. Neither file has
ids, so ``ref`` is empty (the ledger id comes from the row's content).

The statement is read by :mod:`lyra.compliance.importers.binance_statement`, the trade
history by :mod:`lyra.compliance.importers.binance_trades`, the times both write by
:mod:`lyra.compliance.importers.binance_times`.
"""

from __future__ import annotations

from typing import Final

from lyra.compliance.importers.binance_statement import INCOME, STATEMENT
from lyra.compliance.importers.binance_trades import TRADE_HISTORY

__all__ = ["FORMATS", "INCOME", "STATEMENT", "TRADE_HISTORY"]

#: Both Binance exports; ``--exchange binance`` tries them in this order.
FORMATS: Final = (STATEMENT, TRADE_HISTORY)
