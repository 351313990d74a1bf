"""GST classification of ledger rows (ATO "GST and digital currency").

Since 1 July 2017 digital currency is not taxed like goods: selling it to an Australian
counterparty is an *input-taxed* financial supply; through an overseas exchange or to a
non-resident it is *GST-free*. Lyra never charges "10% GST on every trade". What does
carry GST is an Australian exchange's fee to an Australian resident: a *taxable*
acquisition whose price includes GST of fee / 11 (docs/tax.md "GST and BAS").

Where the other party is: the ``counterparty`` column, when it is a two-letter country
code (``AU``, ``US``...), says where it resides; otherwise the exchange's location (the
table below, data not branches) decides. With neither known, the row is treated as
Australian (input-taxed), the reading that claims no credits it might not be owed, and
the reason says so.

Fees relate to the supplies they help make: a fee on a trade with an Australian party
relates to input-taxed supplies, so its credit is denied unless the entity is under the
financial acquisitions threshold, with reduced input tax credits (75%) for brokerage
(GST Act Div 11-15, Div 70; GST Regulations 70-5.02, item 9 "brokerage"). See
:mod:`lyra.compliance.bas` for how those reach the worksheet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final, Literal

from lyra.compliance.ledger import Txn
from lyra.compliance.periods import sydney_date

__all__ = [
    "AUSTRALIAN_EXCHANGES",
    "GstClass",
    "GstLine",
    "classify",
    "classify_all",
]

GstClass = Literal["input_taxed", "gst_free", "taxable", "out_of_scope"]

#: Exchanges located in Australia (AUSTRAC-registered digital currency exchanges).
AUSTRALIAN_EXCHANGES: Final = frozenset(
    {
        "btcmarkets",
        "independentreserve",
        "coinspot",
        "swyftx",
        "coinjar",
        "digitalsurge",
        "kraken_au",
    }
)
_ZERO: Final = Decimal(0)
_ELEVEN: Final = Decimal(11)


@dataclass(frozen=True, slots=True)
class GstLine:
    """One GST-relevant amount of a row: a sale (supply) or a purchase (acquisition).

    ``amount`` is GST-inclusive AUD; ``gst`` is the GST in it; ``for_input_taxed`` says a
    purchase relates to making input-taxed supplies (its credit may be denied).
    """

    txn_id: str
    on: date
    side: Literal["sale", "purchase"]
    classification: GstClass
    amount: Decimal
    gst: Decimal
    for_input_taxed: bool
    reason: str


def _party_location(txn: Txn) -> tuple[bool, str]:
    """(Australian?, why) for the other party of a trade."""
    party = txn.counterparty.strip()
    if len(party) == 2 and party.isalpha():
        code = party.upper()
        return code == "AU", f"counterparty resides in {code}"
    if not txn.exchange:
        return True, "no exchange or counterparty location: treated as Australian"
    if txn.exchange in AUSTRALIAN_EXCHANGES:
        return True, f"{txn.exchange} is an Australian exchange"
    return False, f"{txn.exchange} is an overseas exchange"


def classify(txn: Txn, *, resident: bool = True) -> Iterator[GstLine]:
    """The GST lines of one row: its supply or acquisition of coin, and its fee."""
    on = sydney_date(txn.timestamp)
    australian, why = _party_location(txn)
    crypto_class: GstClass = "input_taxed" if australian else "gst_free"
    kind = txn.type
    if kind in ("sell", "swap", "fee") and (txn.aud_value or txn.given_aud_value):
        proceeds = txn.aud_value if txn.aud_value is not None else txn.given_aud_value
        yield GstLine(
            txn.id,
            on,
            "sale",
            crypto_class,
            proceeds or _ZERO,
            _ZERO,
            False,
            f"digital currency supplied: {why}",
        )
    if kind in ("buy", "swap"):
        cost = txn.given_aud_value if kind == "swap" and txn.given_aud_value else txn.aud_value
        yield GstLine(
            txn.id,
            on,
            "purchase",
            crypto_class,
            cost or _ZERO,
            _ZERO,
            australian,
            f"digital currency acquired (no GST in the price): {why}",
        )
    fee = txn.fee_aud if kind != "fee" or txn.fee_aud else (txn.aud_value or _ZERO)
    if fee > 0 and kind not in ("income", "chain_split", "lost"):
        yield _fee_line(txn, on, fee, australian, resident)


def _fee_line(txn: Txn, on: date, fee: Decimal, australian: bool, resident: bool) -> GstLine:
    if txn.exchange in AUSTRALIAN_EXCHANGES and resident:
        return GstLine(
            txn.id,
            on,
            "purchase",
            "taxable",
            fee,
            fee / _ELEVEN,
            australian,
            f"fee of Australian exchange {txn.exchange}: taxable, GST = fee / 11",
        )
    return GstLine(
        txn.id,
        on,
        "purchase",
        "gst_free",
        fee,
        _ZERO,
        australian,
        f"fee of overseas exchange {txn.exchange or 'unknown'}: no GST in the price",
    )


def classify_all(rows: Iterable[Txn], *, resident: bool = True) -> list[GstLine]:
    """Every GST line of the rows (income, chain splits, transfers and lost coins are
    out of scope: no supply is made, so they yield no line)."""
    return [line for txn in rows for line in classify(txn, resident=resident)]
