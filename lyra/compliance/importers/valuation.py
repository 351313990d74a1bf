"""AUD values an export does not state, estimated from daily prices and published FX rates.

docs/tax.md "AUD values of imported rows". Every acquisition, disposal and fee needs its
AUD value at the time (ATO "Keeping crypto records": the value in Australian dollars at
the time of the transaction, which can be taken from a reputable online exchange). A
trade on a USDT, BTC or USD pair states none, so its value is estimated: the asset's daily
close in some quote, then that quote in AUD. The quote is converted at the RBA's rate
where it is a fiat currency (ATO "Crypto asset transactions", valuing crypto assets in
Australian dollars: the ATO uses the Reserve Bank of Australia's rates), and through its
own daily price where it is a crypto asset (BTC, USDT). Every value carries its
``aud_source``: ``estimate:`` and each price and rate used with its day and source, or
``missing:`` and why none could be estimated (a review item, never a guess).

Which day
    A price is the *close of a UTC day*: candles are cut at midnight UTC, and so are the
    daily prices of the usual price sites. An instant is valued at the close of its own
    UTC day, or of the latest earlier day within :data:`MAX_GAP_DAYS` (the source then says
    how many days earlier); never at a later day's price (no look-ahead). A row dated
    ``2024-03-01`` alone is the start of that Sydney day (:mod:`lyra.compliance.localtime`),
    i.e. 29 February 13:00 UTC, so it gets the close of 29 February UTC, which happens at
    11:00 on 1 March in Sydney: a price of the day the person wrote. FX rates are looked up
    on the instant's *Sydney* date, as :mod:`lyra.compliance.fills` does, because the RBA
    publishes one rate per Sydney business day.

Which price, when several
    The latest day wins (a fresher price is nearer the value at the time); on the same
    day, the earlier table of :meth:`DailyPrices.layered` (the user's price file before
    the stored candles before the shipped ones); then the quote that needs fewest steps
    (AUD, a fiat currency, a stablecoin, another coin). A candidate whose quote cannot be
    converted gives way to the next. A stablecoin with no price of its own takes its rate
    in the FX file when there is one, else is taken as one USD, labelled ``fx-assumed:``
    like :mod:`lyra.compliance.fx` does: an assumption, not a market price (docs/tax.md
    "AUD values").

Usage::

    valuer = DailyPriceValuer(load_price_file(Path("prices.csv")), rates)
    value, source = valuer.value("BTC", Decimal("0.5"), at)  # (None, "missing:...") if none
"""

from __future__ import annotations

import bisect
import csv
import io
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from lyra.compliance.fx import RateTable
from lyra.compliance.importers.money import FIAT, STABLECOINS
from lyra.compliance.ledger_bounds import EARLIEST, MAX_NUMBER_CHARS, MAX_PLACES, MONEY_LIMIT
from lyra.compliance.periods import SYDNEY
from lyra.compliance.review_items import MISSING_PREFIX
from lyra.compliance.taxreport import ASSUMED_RATE_PREFIX, ESTIMATE_PREFIX
from lyra.errors import UserError

__all__ = [
    "ESTIMATE_PREFIX",
    "FIAT",
    "MAX_GAP_DAYS",
    "MISSING_PREFIX",
    "PRICE_HEADER",
    "STABLECOINS",
    "DailyPrice",
    "DailyPriceValuer",
    "DailyPrices",
    "PriceFileError",
    "load_price_file",
]

#: ``aud_source`` of a value that could not be estimated (a review item, lyra.compliance.review).
#: How many days before the instant's day a price may be (weekends, a feed's gap).
MAX_GAP_DAYS: Final = 7
PRICE_HEADER: Final = ("date", "asset", "quote", "price", "source")
_MAX_STEPS: Final = 3  # asset -> quote -> quote's quote: ETH/BTC, BTC/USDT, USDT/USD
_PLACES: Final = Decimal(1).scaleb(-MAX_PLACES)  # what the ledger stores exactly
_WIDE: Final = Context(prec=60)
#: A value whose adjusted exponent is under this fits ``_WIDE`` quantized to
#: :data:`_PLACES` (at most 60 digits), so quantizing cannot fail.
_FITS_UNDER: Final = _WIDE.prec - MAX_PLACES - 1
_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII).fullmatch
_NUMBER: Final = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII).fullmatch
_NAME_CHARS: Final = 32  # the ledger's asset column
_SOURCE_CHARS: Final = 200


class PriceFileError(UserError):
    """A price file cannot be read: ``price file F line N field 'x': reason``."""

    def __init__(self, file: Path, line: int, reason: str, field: str = "") -> None:
        where = f"price file {file} line {line}" + (f" field {field!r}" if field else "")
        super().__init__(f"{where}: {reason}")
        self.line, self.field = line, field


@dataclass(frozen=True, slots=True)
class DailyPrice:
    """The close of one UTC day in a quote, with where it came from; ``rank`` orders
    tables layered together (0 = preferred)."""

    price: Decimal
    source: str
    rank: int = 0


class DailyPrices:
    """Closes by (asset, quote) and UTC day. Within one table the first price added for
    a day is kept (a loader adds its preferred feed first)."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], dict[date, DailyPrice]] = {}

    def add(self, asset: str, quote: str, day: date, price: Decimal, source: str) -> bool:
        """Add one close; False (nothing changed) when that pair and day is priced."""
        days = self._series.setdefault((asset.upper(), quote.upper()), {})
        if day in days:
            return False
        days[day] = DailyPrice(price, source)
        return True

    def __len__(self) -> int:
        return sum(len(days) for days in self._series.values())

    def pairs(self) -> list[tuple[str, str]]:
        """Every (asset, quote) priced, sorted."""
        return sorted(self._series)

    def get(self, asset: str, quote: str, day: date) -> DailyPrice | None:
        """The close of ``asset`` in ``quote`` on ``day`` exactly, if any."""
        return self._series.get((asset.upper(), quote.upper()), {}).get(day)

    @classmethod
    def layered(cls, *tables: DailyPrices) -> DailyPrices:
        """One table of several, earlier ones preferred: for the same pair and day the
        earlier price is kept, and on a day priced in several quotes it ranks first."""
        merged = cls()
        offset = 0
        for table in tables:
            top = 0
            for pair, days in table._series.items():
                target = merged._series.setdefault(pair, {})
                for day, entry in days.items():
                    top = max(top, entry.rank + 1)
                    if day not in target:
                        target[day] = replace(entry, rank=entry.rank + offset)
            offset += top
        return merged


@dataclass(frozen=True, slots=True)
class _Series:
    quote: str
    order: int  # quote preference: AUD, fiat, stablecoin, other
    days: list[date]
    entries: list[DailyPrice]


def _quote_order(quote: str) -> int:
    return 0 if quote == "AUD" else 1 if quote in FIAT else 2 if quote in STABLECOINS else 3


class DailyPriceValuer:
    """The AUD value of a quantity of an asset at an instant (the importers' ``AudValuer``).

    Prices are resolved once per asset and day and cached per UTC hour, so a million
    rows cost a dictionary lookup and a multiplication each.
    """

    def __init__(
        self, prices: DailyPrices, rates: RateTable, *, max_gap_days: int = MAX_GAP_DAYS
    ) -> None:
        self._rates = rates
        self._max_gap = max_gap_days
        self._by_asset: dict[str, list[_Series]] = {}
        for (asset, quote), days in sorted(prices._series.items()):
            ordered = sorted(days)
            series = _Series(quote, _quote_order(quote), ordered, [days[d] for d in ordered])
            self._by_asset.setdefault(asset, []).append(series)
        self._hours: dict[tuple[str, date, int], tuple[Decimal | None, str]] = {}
        self._units: dict[tuple[str, date, date], tuple[Decimal | None, str]] = {}

    def value(self, asset: str, quantity: Decimal, at: datetime) -> tuple[Decimal | None, str]:
        """(AUD value, ``aud_source``) of ``quantity`` of ``asset`` at ``at`` (aware);
        (None, ``missing:...``) when it cannot be estimated.

        The unit value is cached per asset and UTC hour: Sydney's midnight always falls
        on a whole UTC hour (offsets +10:00 and +11:00), so the hour fixes both the UTC
        day of the price and the Sydney date of the rate. The value keeps at most the
        ledger's 18 decimal places (rounded half even beyond)."""
        if at.tzinfo is not UTC:
            if at.utcoffset() is None:
                raise ValueError(f"valuing {asset} at {at}: the time has no timezone")
            at = at.astimezone(UTC)
        key = (asset, at.date(), at.hour)
        found = self._hours.get(key)
        if found is None:
            days = (at.date(), at.astimezone(SYDNEY).date())
            found = self._units.get((asset, *days))
            if found is None:
                found = self._units[(asset, *days)] = self._resolve(asset.strip().upper(), *days)
            self._hours[key] = found
        unit, source = found
        if unit is None:
            return None, source
        value = quantity * unit
        # Most products have few places: their plain text says so (a third of the cost of
        # quantizing to compare), and quantizing them would give the same number back.
        text = str(value)
        if "E" not in text and value.adjusted() < _FITS_UNDER:
            dot = text.find(".")
            if dot < 0 or len(text) - dot - 1 <= MAX_PLACES:
                return value, source
        fitted = _WIDE.quantize(value, _PLACES)  # the method's keyword form costs twice
        return (value if fitted == value else fitted), source

    def _resolve(self, asset: str, utc_day: date, sydney_day: date) -> tuple[Decimal | None, str]:
        if asset == "AUD":
            return Decimal(1), "AUD"
        unit, how = self._unit(asset, utc_day, sydney_day, ())
        if unit is None:
            return None, MISSING_PREFIX + how
        return unit, ESTIMATE_PREFIX + how

    def _unit(
        self, asset: str, utc_day: date, sydney_day: date, chain: tuple[str, ...]
    ) -> tuple[Decimal | None, str]:
        """(AUD per unit, how) or (None, why not)."""
        if asset == "AUD":
            return Decimal(1), "AUD"
        if asset in FIAT:
            return self._fx(asset, sydney_day)
        problems: list[str] = []
        for price_day, series, entry in self._candidates(asset, utc_day):
            terminal = series.quote == "AUD" or series.quote in FIAT
            if series.quote in chain or (not terminal and len(chain) + 1 >= _MAX_STEPS):
                continue  # a cycle (BTC in ETH in BTC) or too long a path
            quote_unit, quote_how = self._unit(series.quote, utc_day, sydney_day, (*chain, asset))
            if quote_unit is None:
                problems.append(quote_how)
                continue
            how = f"{asset}/{series.quote} {entry.price} close of {price_day} ({entry.source}"
            if price_day != utc_day:
                gap = (utc_day - price_day).days
                how += f"; {gap} day{'s' if gap > 1 else ''} before {utc_day}, none since"
            how += ")" if series.quote == "AUD" else f") x {quote_how}"
            return entry.price * quote_unit, how
        if asset in STABLECOINS:
            return self._as_usd(asset, sydney_day)
        if problems:
            return None, f"{asset} priced only in quotes without an AUD value: {problems[0]}"
        return None, self._no_price(asset, utc_day)

    def _candidates(self, asset: str, utc_day: date) -> list[tuple[date, _Series, DailyPrice]]:
        """Prices of ``asset`` on ``utc_day`` or up to the gap limit before, best first."""
        found: list[tuple[date, _Series, DailyPrice]] = []
        for series in self._by_asset.get(asset, ()):
            at = bisect.bisect_right(series.days, utc_day) - 1
            if at >= 0 and (utc_day - series.days[at]).days <= self._max_gap:
                found.append((series.days[at], series, series.entries[at]))
        found.sort(key=lambda c: (-c[0].toordinal(), c[2].rank, c[1].order, c[1].quote))
        return found

    def _no_price(self, asset: str, utc_day: date) -> str:
        series = self._by_asset.get(asset)
        if not series:
            return f"no daily price of {asset} (add it to a price file: {','.join(PRICE_HEADER)})"
        earlier = [s.days[i - 1] for s in series if (i := bisect.bisect_right(s.days, utc_day))]
        if earlier:
            return (
                f"no {asset} price within {self._max_gap} days up to {utc_day} UTC "
                f"(latest earlier: {max(earlier)})"
            )
        first = min(s.days[0] for s in series)
        return (
            f"no {asset} price on or before {utc_day} UTC (prices start {first}; a later "
            "price is never used)"
        )

    def _fx(self, currency: str, sydney_day: date) -> tuple[Decimal | None, str]:
        try:
            return self._rates.to_aud(currency, sydney_day)
        except UserError as exc:
            return None, str(exc)

    def _as_usd(self, coin: str, sydney_day: date) -> tuple[Decimal | None, str]:
        """A stablecoin without a price: the fx file's own rate for it when it has one,
        else one USD, labelled as the assumption it is (USD itself always has a rate: a
        published one or the assumed one)."""
        own, own_source = self._fx(coin, sydney_day)
        if own is not None and not own_source.startswith(ASSUMED_RATE_PREFIX):
            return own, own_source
        usd, usd_source = self._fx("USD", sydney_day)
        return usd, f"{ASSUMED_RATE_PREFIX}{coin} taken as 1 USD (no {coin} price) x {usd_source}"


def load_price_file(path: Path) -> DailyPrices:
    """Daily closes from a CSV ``date,asset,quote,price,source`` (``date`` a UTC day,
    ``YYYY-MM-DD``; ``price`` the close of ``asset`` in ``quote``). Any bad line is an
    error naming it and its field; nothing is half-read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"price file {path} cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"price file {path} is not UTF-8 text ({exc.reason})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    prices = DailyPrices()
    first_line: dict[tuple[str, str, date], int] = {}
    try:
        header = tuple(h.strip().lower() for h in next(reader, []))
        if header != PRICE_HEADER:
            raise PriceFileError(path, 1, f"header must be {','.join(PRICE_HEADER)}")
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            day, asset, quote, price, source = _price_row(path, line, cells)
            seen = first_line.setdefault((asset, quote, day), line)
            if seen != line:
                raise PriceFileError(path, line, f"{asset}/{quote} on {day} is also on line {seen}")
            prices.add(asset, quote, day, price, f"{source}, {path.name} line {line}")
    except csv.Error as exc:
        raise PriceFileError(path, reader.line_num, f"unreadable CSV ({exc})") from None
    return prices


def _price_row(path: Path, line: int, cells: list[str]) -> tuple[date, str, str, Decimal, str]:
    if len(cells) != len(PRICE_HEADER):
        raise PriceFileError(
            path, line, f"expected 5 fields ({','.join(PRICE_HEADER)}), found {len(cells)}"
        )
    day_text, asset, quote, price_text, source = (c.strip() for c in cells)
    day = _day(path, line, day_text)
    asset, quote = _name(path, line, "asset", asset), _name(path, line, "quote", quote)
    if asset == quote:
        raise PriceFileError(path, line, f"{asset!r} is priced in itself", "quote")
    if not source or len(source) > _SOURCE_CHARS:
        raise PriceFileError(
            path,
            line,
            f"is empty or over {_SOURCE_CHARS} characters (say where the price is from)",
            "source",
        )
    return day, asset, quote, _price(path, line, price_text), source


def _day(path: Path, line: int, text: str) -> date:
    try:
        day = date.fromisoformat(text) if _DAY(text) else None
    except ValueError:
        day = None
    if day is None:
        raise PriceFileError(path, line, f"{text[:24]!r} is not a date YYYY-MM-DD", "date")
    if day < EARLIEST.date():
        raise PriceFileError(path, line, f"{day} is before bitcoin's first block", "date")
    return day


def _name(path: Path, line: int, field: str, text: str) -> str:
    if not text or len(text) > _NAME_CHARS or any(c.isspace() for c in text):
        raise PriceFileError(path, line, f"{text[:24]!r} is not an asset code", field)
    return text.upper()


def _price(path: Path, line: int, text: str) -> Decimal:
    price = None
    if len(text) <= MAX_NUMBER_CHARS and _NUMBER(text):
        try:
            price = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            price = None
    if price is None or not price.is_finite():
        raise PriceFileError(path, line, f"{text[:24]!r} is not a number", "price")
    if not 0 < price < MONEY_LIMIT:
        raise PriceFileError(
            path, line, f"{text[:24]!r} must be above 0 and below {MONEY_LIMIT:.0e}", "price"
        )
    return price
