"""Binance's transaction history statement read into records (the layouts and rules:
:mod:`lyra.compliance.importers.binance`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from lyra.compliance.importers.binance_times import NAMED_OFFSET, VENUE, columns, offset_of, when
from lyra.compliance.importers.formats import ExportFormat, Row, amount, cell
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

__all__ = ["CRYPTO_QUOTES", "INCOME", "STATEMENT", "read_statement"]

_STATEMENT: Final = ("account", "operation", "coin", "change")
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
CRYPTO_QUOTES: Final = ("USDT", "FDUSD", "USDC", "BUSD", "TUSD", "DAI", "BTC", "ETH", "BNB")


def _rank(asset: str) -> int:
    if asset == "AUD":
        return 0
    if asset in FIAT:
        return 1
    return 2 + CRYPTO_QUOTES.index(asset) if asset in CRYPTO_QUOTES else 99


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
    at = columns(header)
    utc = "utc_time" in at
    time_at = at["utc_time"] if utc else at["time"]
    time_name = "UTC_Time" if utc else "Time"
    offset = timedelta(0) if utc else offset_of(NAMED_OFFSET.search(file))
    wanted = (time_at, at["account"], at["operation"], at["coin"], at["change"])
    names = (time_name, "Account", "Operation", "Coin", "Change")
    width = max(wanted) + 1
    group: _Group | None = None
    last, moment_at = "", datetime.min.replace(tzinfo=UTC)
    for line, cells in rows:
        if len(cells) < width:
            for name, where in zip(names, wanted, strict=True):
                cell(cells, where, file, line, name)
        text, account, operation, coin, change_text = (cells[i].strip() for i in wanted)
        coin = coin.upper()
        change = amount(change_text, file, line, "Change", signed=True)
        if text != last or not last:  # a trade's rows share their time: read it once
            moment_at, last = when(text, offset, zone, file, line, time_name), text
        kind = operation.lower()
        source = SourceRef(file, (line,))
        if group is not None and (
            text != group.key[0] or (kind in _TRADE_OPS and account != group.key[1])
        ):
            yield from group.records(file)
            group = None
        if kind in _TRADE_OPS:
            if group is None:
                group = _Group((text, account), moment_at)
            group.add(line, kind, coin, change)
        elif kind in _MONEY_OPS or (kind in ("deposit", "withdraw") and coin in FIAT):
            continue  # money in or out: no CGT asset moves
        elif kind == "deposit" and change > 0:
            yield Movement(moment_at, VENUE, "in", coin, change, Decimal(0), "", "", "", source)
        elif kind == "withdraw" and change < 0:
            yield Movement(moment_at, VENUE, "out", coin, -change, Decimal(0), "", "", "", source)
        elif kind in INCOME and change > 0:
            yield Receipt(moment_at, VENUE, coin, change, None, operation, "", source)
        else:
            yield Unrecognised(VENUE, operation, f"{account} {change} {coin}", source)
    if group is not None:
        yield from group.records(file)


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
