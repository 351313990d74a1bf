"""Properties of parcels and gains over generated ledgers (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from lyra.compliance.cgt import CgtEngine
from lyra.compliance.ledger import Txn
from lyra.compliance.netting import GainPart, YearGains, losses_carried_into, net_capital_gain
from lyra.compliance.periods import income_year_of
from lyra.compliance.taxreport import build_tax_report
from tests.support.tax.generated import ASSETS, ledgers


def _total_gain(rows: list[Txn], method: str, average: bool = False) -> Decimal:
    engine = CgtEngine("individual", method, average)  # type: ignore[arg-type]
    engine.apply(rows)
    return sum((lot.gain for d in engine.disposals for lot in d.lots), Decimal(0))


@settings(max_examples=150, deadline=None)
@given(ledgers())
def test_quantity_is_conserved(rows: list[Txn]) -> None:
    """Every unit acquired is either still held or used by exactly one disposal."""
    engine = CgtEngine("individual", "fifo")
    engine.apply(rows[:-1])
    for asset in ASSETS:
        bought = sum(
            (t.quantity for t in rows[:-1] if t.type == "buy" and t.asset == asset), Decimal(0)
        )
        used = sum(
            (lot.quantity for d in engine.disposals if d.asset == asset for lot in d.lots),
            Decimal(0),
        )
        sold = sum(
            (t.quantity for t in rows[:-1] if t.type == "sell" and t.asset == asset), Decimal(0)
        )
        assert used == sold
        assert bought == used + engine.book.held(asset)


@settings(max_examples=150, deadline=None)
@given(ledgers())
def test_total_gain_when_all_is_sold_does_not_depend_on_the_method(rows: list[Txn]) -> None:
    """Parcel identification moves gains between years and parcels, never in total:
    when everything is eventually sold, total gain = total proceeds - total cost."""
    proceeds = sum((t.aud_value or 0 for t in rows if t.type == "sell"), Decimal(0))
    cost = sum(((t.aud_value or 0) + t.fee_aud for t in rows if t.type == "buy"), Decimal(0))
    expected = proceeds - cost
    assert _total_gain(rows, "fifo") == expected
    assert _total_gain(rows, "specific") == expected
    assert _total_gain(rows, "lowest-tax") == expected
    assert _total_gain(rows, "fifo", average=True) == expected


@settings(max_examples=100, deadline=None)
@given(ledgers(), st.sampled_from(["2022-23", "2023-24", "2024-25"]))
def test_a_company_never_gets_a_discount(rows: list[Txn], year: str) -> None:
    """ITAA 1997 s 115-10: companies are not entitled to the CGT discount."""
    report = build_tax_report(rows, entity_type="company", year=year)
    assert report.totals.discount == 0
    assert report.totals.net_capital_gain == max(
        Decimal(0), report.totals.capital_gains - report.totals.capital_losses
    )
    assert not any(lot.discount_eligible for d in report.disposals for lot in d.lots)


@settings(max_examples=100, deadline=None)
@given(ledgers(), st.sampled_from(["individual", "smsf", "company"]))
def test_losses_carried_from_year_sums_equal_netting_every_parcel(
    rows: list[Txn], entity: str
) -> None:
    """The nightly run keeps only per-year sums (YearGains); the losses they carry into
    each year equal those of netting every parcel of every earlier year in turn."""
    engine = CgtEngine(entity, "fifo")  # type: ignore[arg-type]
    engine.apply(rows)
    years: dict[str, YearGains] = {}
    by_year: dict[str, list[GainPart]] = {}
    for d in engine.disposals:
        label = income_year_of(d.on).label
        for lot in d.lots:
            years.setdefault(label, YearGains()).add(GainPart(lot.gain, lot.discount_rate))
            by_year.setdefault(label, []).append(GainPart(lot.gain, lot.discount_rate))
    carried = Decimal(0)
    for label in sorted(by_year):
        assert losses_carried_into(years, label) == carried
        round_trip = {y: YearGains.from_json(g.to_json()) for y, g in years.items()}
        assert losses_carried_into(round_trip, label) == carried
        carried = net_capital_gain(by_year[label], carried).net_capital_loss_carried_forward
    assert losses_carried_into(years, "2099-00") == carried
