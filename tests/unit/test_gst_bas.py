"""GST and the BAS worksheet (docs/tax.md "GST and BAS"; ATO "GST and digital currency";
ATO NAT 5107; GST Act s 189-5 financial acquisitions threshold)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from lyra.compliance.bas import bas_worksheet, financial_acquisitions_threshold
from lyra.compliance.entities import Entity, GstRegistration
from lyra.compliance.gst import classify_all
from lyra.compliance.periods import bas_period, last_closed_quarter
from lyra.errors import UserError
from tests.support.tax import ledger

D = Decimal
REGISTERED = Entity(
    name="Co",
    type="company",
    gst=GstRegistration(registered=True, registered_from=date(2017, 7, 1)),
)


def test_a_crypto_trade_is_never_taxed_at_ten_percent() -> None:
    """Since 1 July 2017 digital currency is not subject to GST: an Australian party ->
    input-taxed, an overseas exchange or non-resident -> GST-free. A flat 10% GST on every
    trade would be wrong (docs/tax.md, "GST and BAS")."""
    lines = classify_all(
        ledger(
            "2025-07-02T02:00:00Z,sell,BTC,1,11000,,,,,btcmarkets,,au,",
            "2025-07-02T02:00:00Z,sell,BTC,1,11000,,,,,kraken,,os,",
            "2025-07-02T02:00:00Z,sell,BTC,1,11000,,,,,btcmarkets,US,nr,",
        )
    )
    assert [(x.classification, x.gst) for x in lines] == [
        ("input_taxed", 0),
        ("gst_free", 0),
        ("gst_free", 0),
    ]


def test_an_australian_exchange_fee_is_taxable_at_one_eleventh() -> None:
    """GST applies to an Australian exchange's fee to a resident: GST = fee / 11."""
    (sale, fee) = classify_all(ledger("2025-07-02T02:00:00Z,sell,BTC,1,5000,11,,,,btcmarkets,,s,"))
    assert sale.side == "sale"
    assert (fee.classification, fee.gst, fee.for_input_taxed) == ("taxable", D(1), True)
    (_, overseas) = classify_all(ledger("2025-07-02T02:00:00Z,sell,BTC,1,5000,11,,,,kraken,,s,"))
    assert (overseas.classification, overseas.gst) == ("gst_free", 0)


def test_income_chain_splits_transfers_and_lost_coins_are_out_of_scope() -> None:
    """No supply is made: nothing reaches the BAS."""
    rows = ledger(
        "2025-07-02T02:00:00Z,income,ETH,1,100,,,,,kraken,,i,",
        "2025-07-02T02:00:00Z,chain_split,BCH,1,,,,,,,,c,",
        "2025-07-02T02:00:00Z,transfer,ETH,1,,,,,,kraken,,t,",
        "2025-07-02T02:00:00Z,lost,ETH,1,,,,,,,,l,",
    )
    assert classify_all(rows) == []


def test_financial_acquisitions_threshold_ato_example() -> None:
    """ATO example: $5,000 of financial-acquisition credits out of $40,000 is 12.5% > 10%:
    the threshold is exceeded and those credits are denied."""
    assert financial_acquisitions_threshold(D(5000), D(40000)).exceeded
    assert financial_acquisitions_threshold(D(5000), D(40000)).share == D("0.125")
    assert not financial_acquisitions_threshold(D(4000), D(40000)).exceeded  # exactly 10%
    assert financial_acquisitions_threshold(D(150_001), D(10_000_000)).exceeded  # > $150,000
    assert not financial_acquisitions_threshold(D(150_000), D(10_000_000)).exceeded


FEE_ROWS = (
    # Australian exchange, Australian party: input-taxed sale with an $1,100 fee (GST $100)
    "2025-07-10T02:00:00Z,sell,BTC,1,50000.99,1100,,,,btcmarkets,,s1,",
    # overseas: GST-free sale, fee without GST
    "2025-08-10T02:00:00Z,sell,ETH,1,3000.50,30,,,,kraken,,s2,",
)


def _entity(other_credits: str) -> Entity:
    gst = GstRegistration(
        registered=True,
        registered_from=date(2017, 7, 1),
        other_input_tax_credits_12m=D(other_credits),
    )
    return Entity(name="Co", type="company", gst=gst)


def test_worksheet_above_the_threshold_gives_reduced_credits_of_75_percent() -> None:
    """Above the threshold, brokerage earns a reduced input tax credit of 75%: of $100
    GST, $75 is claimed (25% of the fee at G13)."""
    ws = bas_worksheet(ledger(*FEE_ROWS), _entity("0"), bas_period("2025-Q3"))
    labels = ws.labels
    assert ws.threshold.exceeded
    assert labels["G1"] == 53000  # 50000.99 and 3000.50, each part's cents dropped
    assert (labels["G3"], labels["G4"]) == (3000, 50000)
    assert labels["G5"] == labels["G2"] + labels["G3"] + labels["G4"]
    assert labels["G6"] == 0
    assert labels["1A"] == 0
    assert labels["G11"] == 1130
    assert labels["G13"] == 275
    assert labels["G14"] == 30
    assert labels["G20"] == 75
    assert labels["1B"] == 75
    assert ws.net_gst == -75


def test_worksheet_under_the_threshold_allows_the_full_credit() -> None:
    """Under the threshold (credits on financial acquisitions <= 10% of all credits),
    the credit on the fee is allowed in full: 1B = $100."""
    ws = bas_worksheet(ledger(*FEE_ROWS), _entity("5000"), bas_period("2025-Q3"))
    assert not ws.threshold.exceeded
    assert ws.labels["G13"] == 0
    assert ws.labels["1B"] == 100


def test_every_label_is_present_whole_and_never_negative() -> None:
    """NAT 5107: G1..G20, 1A, 1B in whole dollars rounded down; no negatives."""
    ws = bas_worksheet(ledger(*FEE_ROWS), REGISTERED, bas_period("2025-Q3"))
    assert list(ws.labels) == [f"G{i}" for i in range(1, 21)] + ["1A", "1B"]
    assert all(isinstance(v, int) and v >= 0 for v in ws.labels.values())
    body = ws.as_json("Co")
    assert body["net_gst"] == ws.labels["1A"] - ws.labels["1B"]


def test_only_rows_of_the_period_count() -> None:
    """A quarter is its three calendar months (Sydney dates)."""
    ws = bas_worksheet(ledger(*FEE_ROWS), REGISTERED, bas_period("2025-Q4"))
    assert ws.labels["G1"] == 0


def test_no_bas_for_an_entity_not_registered_for_gst() -> None:
    """A BAS only for a GST-registered entity (registration from its date)."""
    with pytest.raises(UserError, match="not registered for GST"):
        bas_worksheet(ledger(*FEE_ROWS), Entity(name="P", type="individual"), bas_period("2025-Q3"))
    late = Entity(
        name="L",
        type="company",
        gst=GstRegistration(registered=True, registered_from=date(2025, 8, 1)),
    )
    ws = bas_worksheet(ledger(*FEE_ROWS), late, bas_period("2025-Q3"))
    assert ws.labels["G1"] == 3000  # the July sale is before registration


def test_periods() -> None:
    """Quarters, months and income years; the quarter that just closed."""
    assert bas_period("2025-Q3").start == date(2025, 7, 1)
    assert bas_period("2025-Q3").end == date(2025, 9, 30)
    assert bas_period("2024-02").end == date(2024, 2, 29)
    assert bas_period("2024-25").end == date(2025, 6, 30)
    assert last_closed_quarter(date(2025, 10, 2)).label == "2025-Q3"
    assert last_closed_quarter(date(2025, 2, 1)).label == "2024-Q4"
    with pytest.raises(UserError, match="quarter"):
        bas_period("2025-Q5")
