"""Binance's spot trade history read into records (the layouts:
:mod:`lyra.compliance.importers.binance`): ``Date(UTC),Pair,Side,Price,Executed,Amount,Fee``
with each quantity carrying its coin (``0.00100000BTC``), or the older
``Date(UTC),Market,Type,Price,Amount,Total,Fee,Fee Coin``.

Each row stands alone (one trade, no state carried between rows), so the format is marked
``independent_rows`` and a large file is read in parallel chunks
(:mod:`lyra.compliance.importers.chunks`).

The newer layout's usual row (a pair of capital letters, plain unsigned numbers straight
before their coins) is read by :func:`_plain_quantities`, which gives what the general
reading (:func:`_split`, :func:`_with_coin`) gives for such a row at a fraction of the
cost; any other row, and every row with a fault, takes the general reading, which names
the field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Final, Literal
from zoneinfo import ZoneInfo

from lyra.compliance.importers.binance_statement import CRYPTO_QUOTES
from lyra.compliance.importers.binance_times import VENUE, columns, offset_of, when
from lyra.compliance.importers.formats import ExportFormat, ExportRowError, Row, amount, cell
from lyra.compliance.importers.records import Record, SourceRef, Trade, Unrecognised

__all__ = ["TRADE_HISTORY", "read_trade_history"]

_HISTORY_NEW: Final = ("pair", "side", "price", "executed", "amount", "fee")
_HISTORY_OLD: Final = ("market", "type", "price", "amount", "total", "fee", "fee coin")
_DATE: Final = re.compile(r"date\s*\(utc(?:(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)?\)")
_COIN_AMOUNT: Final = re.compile(r"(?P<number>[0-9][0-9,]*(?:\.[0-9]*)?(?:[eE][+-]?\d+)?)"
                                 r"(?P<coin>[A-Z][A-Z0-9]*)").fullmatch  # fmt: skip
#: Quotes a trade history ``Market`` can end with, longest first.
_MARKET_QUOTES: Final = tuple(
    sorted({*CRYPTO_QUOTES, "AUD", "EUR", "GBP", "TRY", "BRL", "USDP", "BIDR", "IDRT", "RUB",
            "UAH", "NGN", "ZAR", "XRP", "TRX", "DOGE", "DOT", "SOL"}, key=len, reverse=True)
)  # fmt: skip
_CAPITALS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: A plain unsigned number (ASCII digits, an optional fraction): ``Decimal`` reads it as
#: :func:`~lyra.compliance.importers.formats.amount` does.
_UNSIGNED: Final = re.compile(r"\d+(?:\.\d+)?", re.ASCII).fullmatch


def _date_column(header: tuple[str, ...]) -> tuple[int, timedelta] | None:
    for at, name in enumerate(header):
        offset = offset_of(_DATE.fullmatch(name))
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


@functools.lru_cache(maxsize=4096)
def _capitals(pair: str) -> str | None:
    """The pair's name as :func:`_splits` cuts it when it is capital letters only (every
    cut then ends at a letter), else None."""
    text = pair.strip().upper().replace("/", "").replace("-", "").replace("_", "")
    return text if text.isascii() and text.isalpha() else None


def _split(pair: str, executed: str, spent: str) -> tuple[str, str] | None:
    """The pair's base and quote, told by the coins ``Executed`` and ``Amount`` end with."""
    executed, spent = executed.upper(), spent.upper()
    found = [(b, q) for b, q in _splits(pair) if executed.endswith(b) and spent.endswith(q)]
    return found[0] if len(found) == 1 else None


def _plain_quantities(
    pair: str, executed: str, spent: str, fee_text: str
) -> tuple[str, Decimal, str, Decimal, Decimal, str] | None:
    """(base, base quantity, quote, quote quantity, fee, fee asset) of a row whose pair
    is capital letters and whose three quantities are plain numbers straight before
    their capital-letter coins; None for any other row (read the general way).

    The same as the general reading for such a row: each coin is the whole run of
    capitals ending its cell, preceded by a digit, so the one cut of the pair with the
    base ending ``Executed`` and the quote ending ``Amount`` is the two runs joined, and
    :func:`_with_coin` finds the same number and coin (a coin of the pair matches only
    as that whole run; any other coin is what its pattern reads)."""
    letters = _capitals(pair)
    if letters is None:
        return None
    base_number = executed.rstrip(_CAPITALS)
    quote_number = spent.rstrip(_CAPITALS)
    base = executed[len(base_number) :]
    quote = spent[len(quote_number) :]
    if (
        not base
        or not quote
        or base + quote != letters
        or _UNSIGNED(base_number) is None
        or _UNSIGNED(quote_number) is None
    ):
        return None
    if fee_text.strip("0. "):
        fee_number = fee_text.rstrip(_CAPITALS)
        fee_asset = fee_text[len(fee_number) :]
        if not fee_asset or _UNSIGNED(fee_number) is None:
            return None
        fee = Decimal(fee_number)
    else:
        fee, fee_asset = Decimal(0), quote
    return base, Decimal(base_number), quote, Decimal(quote_number), fee, fee_asset


def _market(market: str) -> tuple[str, str] | None:
    text = market.strip().upper()
    for quote in _MARKET_QUOTES:
        if text.endswith(quote) and len(text) > len(quote):
            return text[: -len(quote)], quote
    return None


def _new_layout(
    cells: list[str], at: dict[str, int], file: str, line: int
) -> tuple[str, Decimal, str, Decimal, Decimal, str]:
    """The quantities of a row of the newer layout, read the general way."""
    pair = cell(cells, at["pair"], file, line, "Pair")
    executed = cell(cells, at["executed"], file, line, "Executed")
    spent = cell(cells, at["amount"], file, line, "Amount")
    assets = _split(pair, executed, spent)
    if assets is None:
        raise ExportRowError(
            file, line, f"{pair!r} does not split into the coins of Executed and Amount",
            field="Pair",
        )  # fmt: skip
    base_qty, base = _with_coin(executed, assets[:1], file, line, "Executed")
    quote_qty, quote = _with_coin(spent, assets[1:], file, line, "Amount")
    fee_text = cell(cells, at["fee"], file, line, "Fee")
    fee, fee_asset = (
        _with_coin(fee_text, assets, file, line, "Fee") if fee_text.strip("0. ")
        else (Decimal(0), quote)
    )  # fmt: skip
    return base, base_qty, quote, quote_qty, fee, fee_asset


def read_trade_history(
    file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
) -> Iterator[Record]:
    """One :class:`Trade` per row of a spot trade history (either layout)."""
    at = columns(header)
    found = _date_column(tuple(at))
    if found is None:  # pragma: no cover - detect() chose this format by that column
        raise ExportRowError(file, 1, "has no Date(UTC) column")
    date_at, offset = found
    new = all(c in at for c in _HISTORY_NEW)
    names = ("Date(UTC)", *(c.title() for c in (_HISTORY_NEW if new else _HISTORY_OLD)))
    wanted = (date_at, *(at[c] for c in (_HISTORY_NEW if new else _HISTORY_OLD)))
    width = max(wanted) + 1
    side_name, pair_name = ("Side", "Pair") if new else ("Type", "Market")
    side_at, pair_at = at[side_name.lower()], at[pair_name.lower()]
    if new:
        executed_at, spent_at, fee_at = at["executed"], at["amount"], at["fee"]
    for line, cells in rows:
        if len(cells) < width:
            for name, where in zip(names, wanted, strict=True):
                cell(cells, where, file, line, name)
        source = SourceRef(file, (line,))
        moment_at = when(cells[date_at], offset, zone, file, line, "Date(UTC)")
        side_text = cells[side_at].strip()
        pair = cells[pair_at].strip()
        if new:
            quantities = _plain_quantities(
                pair, cells[executed_at].strip(), cells[spent_at].strip(), cells[fee_at].strip()
            ) or _new_layout(cells, at, file, line)
            base, base_qty, quote, quote_qty, fee, fee_asset = quantities
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
        side_upper = side_text.upper()
        if side_upper != "BUY" and side_upper != "SELL":
            yield Unrecognised(VENUE, f"trade {side_text}", f"{pair} {side_text}", source)
            continue
        side: Literal["buy", "sell"] = "buy" if side_upper == "BUY" else "sell"
        yield Trade(
            moment_at, VENUE, side, base, base_qty, quote, quote_qty, fee_asset, fee,
            quote_qty if quote == "AUD" else None, "", source,
        )  # fmt: skip


TRADE_HISTORY: Final = ExportFormat(
    name="binance-trades",
    venue=VENUE,
    documented=(
        "https://github.com/BittyTax/BittyTax/blob/master/"
        "src/bittytax/conv/parsers/binance/data_parsers.py"
    ),
    detect=_is_history,
    read=read_trade_history,
    independent_rows=True,
)
