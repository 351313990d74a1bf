"""AUD values of amounts in another currency, with the rate's source kept beside them.

docs/tax.md "AUD values": every acquisition, disposal and fee needs its AUD value at the
time; trades on AUD pairs carry it; otherwise convert at that day's rate from a
documented source (the ATO's foreign currency translation guidance accepts the Reserve
Bank of Australia's rates) and store the rate and its source beside the value.

A :class:`RateTable` is read from a CSV the user supplies (``LYRA_TAX_FX_FILE``) with the
header ``date,currency,aud_per_unit,source``, e.g. the RBA's F11 series exported by day.
A day without a rate uses the most recent earlier day (weekends, holidays). When no table
covers a day, the configured *assumed* rate is used and the value's source starts with
``fx-assumed:``, which makes every report that relies on it provisional: it is an
assumption, not a published rate. Nothing here is fetched from the network.

Stablecoins (USDT, USDC) are crypto assets with their own market price (docs/tax.md "AUD
values"): a quote in them is converted as if USD only under the assumed label, never
silently.
"""

from __future__ import annotations

import bisect
import csv
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from lyra.compliance.importers.money import STABLECOINS
from lyra.compliance.taxreport import ASSUMED_RATE_PREFIX
from lyra.errors import UserError

__all__ = ["FX_HEADER", "RateTable", "load_rate_table"]

FX_HEADER: Final = ("date", "currency", "aud_per_unit", "source")


@dataclass(slots=True)
class RateTable:
    """Daily AUD rates per currency, plus an assumed USD rate as the labelled fallback."""

    assumed_usd_aud: Decimal
    _days: dict[str, list[date]] = field(default_factory=dict)
    _rates: dict[str, list[tuple[Decimal, str]]] = field(default_factory=dict)

    def add(self, currency: str, day: date, rate: Decimal, source: str) -> None:
        """Add one day's rate (rows may come in any order)."""
        days = self._days.setdefault(currency, [])
        rates = self._rates.setdefault(currency, [])
        at = bisect.bisect_left(days, day)
        days.insert(at, day)
        rates.insert(at, (rate, source))

    def to_aud(self, currency: str, day: date) -> tuple[Decimal, str]:
        """(AUD per unit, source) for ``currency`` on ``day``."""
        code = currency.upper()
        if code == "AUD":
            return Decimal(1), "AUD pair: no conversion"
        days = self._days.get(code)
        if days:
            at = bisect.bisect_right(days, day) - 1
            if at >= 0:
                rate, source = self._rates[code][at]
                return rate, f"fx:{source} {code}/AUD {rate} of {days[at]}"
        if code == "USD" or code in STABLECOINS:
            label = "" if code == "USD" else f" ({code} taken as USD)"
            return self.assumed_usd_aud, (
                f"{ASSUMED_RATE_PREFIX}USD/AUD {self.assumed_usd_aud}{label} "
                "(LYRA_TAX_USD_AUD_RATE, not a published rate)"
            )
        raise UserError(f"no AUD rate for {code} on {day}: add it to LYRA_TAX_FX_FILE")


def load_rate_table(path: Path | None, assumed_usd_aud: Decimal) -> RateTable:
    """A rate table from ``path`` (None: only the assumed rate); errors name the line."""
    table = RateTable(assumed_usd_aud)
    if path is None:
        return table
    try:
        text = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise UserError(f"rate file {path} cannot be read: {exc}") from None
    reader = csv.reader(text)
    if tuple(h.strip().lower() for h in next(reader, [])) != FX_HEADER:
        raise UserError(f"rate file {path} line 1: header must be {','.join(FX_HEADER)}")
    for line, cells in enumerate(reader, start=2):
        if not cells:
            continue
        try:
            day_text, currency, rate_text, source = (c.strip() for c in cells)
            day, rate = date.fromisoformat(day_text), Decimal(rate_text)
        except (ValueError, InvalidOperation):
            raise UserError(
                f"rate file {path} line {line}: expected date,currency,aud_per_unit,source"
            ) from None
        if not rate.is_finite() or rate <= 0 or not source:
            raise UserError(f"rate file {path} line {line}: rate > 0 and a source are required")
        table.add(currency.upper(), day, rate, source)
    return table
