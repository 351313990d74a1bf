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
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final, Literal
from zoneinfo import ZoneInfo

from lyra.compliance.importers.formats import (
    ExportFormat,
    ExportRowError,
    Row,
    amount,
    cell,
    moment,
    normalised_header,
)
from lyra.compliance.importers.money import FIAT
from lyra.compliance.importers.records import (
    Charge,
    Movement,
    Receipt,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)

__all__ = ["FORMATS", "INCOME", "STATEMENT", "TRADE_HISTORY"]

VENUE: Final = "binance"
_UTC: Final = ZoneInfo("UTC")
_STATEMENT: Final = ("account", "operation", "coin", "change")
_HISTORY_NEW: Final = ("pair", "side", "price", "executed", "amount", "fee")
_HISTORY_OLD: Final = ("market", "type", "price", "amount", "total", "fee", "fee coin")
_DATE: Final = re.compile(r"date\s*\(utc(?:(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)?\)")
_NAMED_OFFSET: Final = re.compile(r"\(UTC(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?\)", re.I)
_SHORT_YEAR: Final = re.compile(r"\d{2}-\d{2}-\d{2}[ T]").match
_NAIVE: Final = re.compile(r"\d{4}-\d{2}-\d{2}[ T][\d:.]+").fullmatch
_COIN_AMOUNT: Final = re.compile(r"(?P<number>[0-9][0-9,]*(?:\.[0-9]*)?(?:[eE][+-]?\d+)?)"
                                 r"(?P<coin>[A-Z][A-Z0-9]*)").fullmatch  # fmt: skip
_TRADE_OPS: Final = frozenset(
    {"buy", "sell", "fee", "transaction related", "transaction buy", "transaction spend",
     "transaction fee", "transaction sold", "transaction revenue", "binance convert",
     "large otc trading"}
)  # fmt: skip
_FEE_OPS: Final = frozenset({"fee", "transaction fee"})
_MONEY_OPS: Final = frozenset({"fiat deposit", "fiat withdraw", "fiat withdrawal"})
#: Statement operations that are income (interest, staking, airdrops, rebates).
INCOME: Final = frozenset(
    {"simple earn flexible interest", "simple earn locked rewards", "staking rewards",
     "eth 2.0 staking rewards", "pos savings interest", "savings interest",
     "savings distribution", "launchpool interest", "launchpool airdrop", "distribution",
     "airdrop assets", "hodler airdrops distribution", "megadrop rewards",
     "commission rebate", "commission history", "referral kickback", "referral commission",
     "referrer rebates", "cash voucher distribution", "bnb vault rewards",
     "super bnb mining"}
)  # fmt: skip
#: Quote preference after money when a statement trade's two coins are told apart.
_CRYPTO_QUOTES: Final = ("USDT", "FDUSD", "USDC", "BUSD", "TUSD", "DAI", "BTC", "ETH", "BNB")
#: Quotes a trade history ``Market`` can end with, longest first.
_MARKET_QUOTES: Final = tuple(
    sorted({*_CRYPTO_QUOTES, "AUD", "EUR", "GBP", "TRY", "BRL", "USDP", "BIDR", "IDRT", "RUB",
            "UAH", "NGN", "ZAR", "XRP", "TRX", "DOGE", "DOT", "SOL"}, key=len, reverse=True)
)  # fmt: skip


def _columns(header: tuple[str, ...]) -> dict[str, int]:
    return {name: at for at, name in enumerate(normalised_header(header))}


def _offset(match: re.Match[str] | None) -> timedelta | None:
    """The offset of a ``UTC+10`` / ``UTC-5:30`` match (zero for plain ``UTC``); None
    for no match."""
    if match is None:
        return None
    if not match["sign"]:
        return timedelta(0)
    size = timedelta(hours=int(match["h"]), minutes=int(match["m"] or 0))
    return size if match["sign"] == "+" else -size


def _when(
    text: str, offset: timedelta | None, zone: ZoneInfo, file: str, line: int, name: str
) -> datetime:
    """A Binance time (``2024-01-02 03:04:05``, or ``24-01-02 ...`` with a short year) at
    the fixed ``offset`` the file names, else read in the declared ``zone``."""
    raw = text.strip()
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


def _rank(asset: str) -> int:
    if asset == "AUD":
        return 0
    if asset in FIAT:
        return 1
    return 2 + _CRYPTO_QUOTES.index(asset) if asset in _CRYPTO_QUOTES else 99


# -- the transaction history statement ------------------------------------------------


def _is_statement(header: tuple[str, ...]) -> bool:
    return all(c in header for c in _STATEMENT) and ("utc_time" in header or "time" in header)


@dataclass(slots=True)
class _Group:
    """The trade rows of one time and account, gathered until the time moves on."""

    key: tuple[str, str]
    at: datetime
    lines: list[int] = field(default_factory=list)
    nets: dict[str, Decimal] = field(default_factory=dict)
    fees: dict[str, Decimal] = field(default_factory=dict)

    def add(self, line: int, operation: str, coin: str, change: Decimal) -> None:
        self.lines.append(line)
        book = self.fees if operation in _FEE_OPS else self.nets
        book[coin] = book.get(coin, Decimal(0)) + (-change if operation in _FEE_OPS else change)

    def records(self, file: str) -> Iterator[Record]:
        source = SourceRef(file, tuple(self.lines))
        given = [(c, -n) for c, n in self.nets.items() if n < 0]
        got = [(c, n) for c, n in self.nets.items() if n > 0]
        fees = [(c, f) for c, f in self.fees.items() if f]
        if len(given) != 1 or len(got) != 1 or any(f < 0 for _, f in fees):
            shown = ", ".join(f"{n} {c}" for c, n in self.nets.items())
            fee_text = ", ".join(f"fee {f} {c}" for c, f in fees)
            detail = f"{self.key[1]} {self.key[0]}: {shown}{'; ' + fee_text if fees else ''}"
            yield Unrecognised(VENUE, "trade", f"{detail} is not one coin for another", source)
            return
        (paid, paid_qty), (coin, coin_qty) = given[0], got[0]
        buy = _rank(paid) <= _rank(coin)
        base, base_qty, quote, quote_qty = (coin, coin_qty, paid, paid_qty) if buy else (
            paid, paid_qty, coin, coin_qty)  # fmt: skip
        fee_asset, fee = fees[0] if fees else (quote, Decimal(0))
        yield Trade(
            at=self.at, venue=VENUE, side="buy" if buy else "sell", base=base,
            base_quantity=base_qty, quote=quote, quote_quantity=quote_qty,
            fee_asset=fee_asset, fee_quantity=fee,
            aud_value=quote_qty if quote == "AUD" else None, ref="", source=source,
        )  # fmt: skip
        for coin_charged, extra in fees[1:]:  # one fee fits a trade: the next is its own
            yield Charge(self.at, VENUE, coin_charged, extra, "", source)


def read_statement(
    file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
) -> Iterator[Record]:
    """The records of a transaction history statement (module docstring).

    Trade rows are merged by time and account as they come: the rows of one trade are
    consecutive in Binance's file, or apart only by other operations of the same second
    (read on their own), so a group ends when the time moves on and memory holds one
    trade at a time. A fee in a second coin is a :class:`~.records.Charge` (a disposal
    of it); a group that is not one coin for another (two trades of different coins in
    the same second, a half trade) is a review item."""
    at = _columns(header)
    utc = "utc_time" in at
    time_at = at["utc_time"] if utc else at["time"]
    time_name = "UTC_Time" if utc else "Time"
    offset = timedelta(0) if utc else _offset(_NAMED_OFFSET.search(file))
    columns = (time_at, at["account"], at["operation"], at["coin"], at["change"])
    names = (time_name, "Account", "Operation", "Coin", "Change")
    width = max(columns) + 1
    group: _Group | None = None
    last, when = "", datetime.min.replace(tzinfo=UTC)
    for line, cells in rows:
        if len(cells) < width:
            for name, where in zip(names, columns, strict=True):
                cell(cells, where, file, line, name)
        text, account, operation, coin, change_text = (cells[i].strip() for i in columns)
        coin = coin.upper()
        change = amount(change_text, file, line, "Change", signed=True)
        if text != last or not last:  # a trade's rows share their time: read it once
            when, last = _when(text, offset, zone, file, line, time_name), text
        kind = operation.lower()
        source = SourceRef(file, (line,))
        if group is not None and (
            text != group.key[0] or (kind in _TRADE_OPS and account != group.key[1])
        ):
            yield from group.records(file)
            group = None
        if kind in _TRADE_OPS:
            if group is None:
                group = _Group((text, account), when)
            group.add(line, kind, coin, change)
        elif kind in _MONEY_OPS or (kind in ("deposit", "withdraw") and coin in FIAT):
            continue  # money in or out: no CGT asset moves
        elif kind == "deposit" and change > 0:
            yield Movement(when, VENUE, "in", coin, change, Decimal(0), "", "", "", source)
        elif kind == "withdraw" and change < 0:
            yield Movement(when, VENUE, "out", coin, -change, Decimal(0), "", "", "", source)
        elif kind in INCOME and change > 0:
            yield Receipt(when, VENUE, coin, change, None, operation, "", source)
        else:
            yield Unrecognised(VENUE, operation, f"{account} {change} {coin}", source)
    if group is not None:
        yield from group.records(file)


# -- the spot trade history -----------------------------------------------------------


def _date_column(header: tuple[str, ...]) -> tuple[int, timedelta] | None:
    for at, name in enumerate(header):
        offset = _offset(_DATE.fullmatch(name))
        if offset is not None:
            return at, offset
    return None


def _is_history(header: tuple[str, ...]) -> bool:
    return _date_column(header) is not None and (
        all(c in header for c in _HISTORY_NEW) or all(c in header for c in _HISTORY_OLD)
    )


def _with_coin(
    text: str, coins: tuple[str, ...], file: str, line: int, name: str
) -> tuple[Decimal, str]:
    """``0.00100000BTC`` -> (0.001, BTC): the number before one of ``coins`` at the end
    (so ``1INCH`` is not read as 1 of INCH), else before the first letter."""
    raw = text.strip().replace(" ", "").upper()
    for coin in coins:
        number = raw[: -len(coin)]
        if coin and raw.endswith(coin) and number and number[-1] in "0123456789.":
            return amount(number, file, line, name), coin
    match = _COIN_AMOUNT(raw)
    if match is None:
        raise ExportRowError(
            file, line, f"{text.strip()[:40]!r} is not a quantity and its coin", field=name
        )
    return amount(match["number"], file, line, name), match["coin"]


@functools.lru_cache(maxsize=4096)
def _splits(pair: str) -> tuple[tuple[str, str], ...]:
    """Every way to cut a pair's name in two (a pair has a few dozen at most; cached, as
    an export repeats a handful of pairs a million times)."""
    text = pair.strip().upper().replace("/", "").replace("-", "").replace("_", "")
    return tuple((text[:i], text[i:]) for i in range(1, len(text)))


def _split(pair: str, executed: str, spent: str) -> tuple[str, str] | None:
    """The pair's base and quote, told by the coins ``Executed`` and ``Amount`` end with."""
    executed, spent = executed.upper(), spent.upper()
    found = [(b, q) for b, q in _splits(pair) if executed.endswith(b) and spent.endswith(q)]
    return found[0] if len(found) == 1 else None


def _market(market: str) -> tuple[str, str] | None:
    text = market.strip().upper()
    for quote in _MARKET_QUOTES:
        if text.endswith(quote) and len(text) > len(quote):
            return text[: -len(quote)], quote
    return None


def read_trade_history(
    file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
) -> Iterator[Record]:
    """One :class:`Trade` per row of a spot trade history (either layout)."""
    at = _columns(header)
    found = _date_column(tuple(at))
    if found is None:  # pragma: no cover - detect() chose this format by that column
        raise ExportRowError(file, 1, "has no Date(UTC) column")
    date_at, offset = found
    new = all(c in at for c in _HISTORY_NEW)
    names = ("Date(UTC)", *(c.title() for c in (_HISTORY_NEW if new else _HISTORY_OLD)))
    columns = (date_at, *(at[c] for c in (_HISTORY_NEW if new else _HISTORY_OLD)))
    width = max(columns) + 1
    for line, cells in rows:
        if len(cells) < width:
            for name, where in zip(names, columns, strict=True):
                cell(cells, where, file, line, name)
        source = SourceRef(file, (line,))
        when = _when(cell(cells, date_at, file, line, "Date(UTC)"), offset, zone, file, line,
                     "Date(UTC)")  # fmt: skip
        side_name = "Side" if new else "Type"
        side_text = cell(cells, at[side_name.lower()], file, line, side_name)
        pair_name = "Pair" if new else "Market"
        pair = cell(cells, at[pair_name.lower()], file, line, pair_name)
        if new:
            executed = cell(cells, at["executed"], file, line, "Executed")
            spent = cell(cells, at["amount"], file, line, "Amount")
            assets = _split(pair, executed, spent)
            if assets is None:
                raise ExportRowError(
                    file, line, f"{pair!r} does not split into the coins of Executed and "
                    "Amount", field="Pair",
                )  # fmt: skip
            base_qty, base = _with_coin(executed, assets[:1], file, line, "Executed")
            quote_qty, quote = _with_coin(spent, assets[1:], file, line, "Amount")
            fee_text = cell(cells, at["fee"], file, line, "Fee")
            fee, fee_asset = (
                _with_coin(fee_text, assets, file, line, "Fee") if fee_text.strip("0. ")
                else (Decimal(0), quote)
            )  # fmt: skip
        else:
            split = _market(pair)
            if split is None:
                yield Unrecognised(VENUE, f"trade {side_text}", f"market {pair!r}", source)
                continue
            base, quote = split
            base_qty = amount(cell(cells, at["amount"], file, line, "Amount"), file, line,
                              "Amount")  # fmt: skip
            quote_qty = amount(cell(cells, at["total"], file, line, "Total"), file, line, "Total")
            fee = amount(cell(cells, at["fee"], file, line, "Fee"), file, line, "Fee", blank=True)
            fee_asset = cell(cells, at["fee coin"], file, line, "Fee Coin").upper() or quote
        if side_text.upper() not in ("BUY", "SELL"):
            yield Unrecognised(VENUE, f"trade {side_text}", f"{pair} {side_text}", source)
            continue
        side: Literal["buy", "sell"] = "buy" if side_text.upper() == "BUY" else "sell"
        yield Trade(
            at=when, venue=VENUE, side=side, base=base, base_quantity=base_qty, quote=quote,
            quote_quantity=quote_qty, fee_asset=fee_asset, fee_quantity=fee,
            aud_value=quote_qty if quote == "AUD" else None, ref="", source=source,
        )  # fmt: skip


STATEMENT: Final = ExportFormat(
    name="binance",
    venue=VENUE,
    documented=(
        "https://www.binance.com/en/support/faq/"
        "how-to-generate-transaction-history-990afa0a0a9341f78e7a9298a9575163"
    ),
    detect=_is_statement,
    read=read_statement,
)
TRADE_HISTORY: Final = ExportFormat(
    name="binance-trades",
    venue=VENUE,
    documented=(
        "https://github.com/BittyTax/BittyTax/blob/master/"
        "src/bittytax/conv/parsers/binance/data_parsers.py"
    ),
    detect=_is_history,
    read=read_trade_history,
)
#: Both Binance exports; ``--exchange binance`` tries them in this order.
FORMATS: Final = (STATEMENT, TRADE_HISTORY)
