"""Each disposal type of the CSV through the CGT engine (docs/tax.md "Capital gains";
docs/domain.md "Contracts"). Times are 02:00Z = noon in Sydney, so dates are unambiguous."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lyra.compliance import build_tax_report
from lyra.compliance.cgt import CgtEngine, RecordedParcels
from lyra.compliance.ledger import sort_ledger
from lyra.compliance.lots import ShortfallError
from lyra.compliance.periods import income_year
from lyra.compliance.reports import tax_report_json
from tests.support.tax import ledger

D = Decimal


def _report(*rows: str, entity: str = "individual", year: str = "2024-25", **kw: object):
    return build_tax_report(ledger(*rows), entity_type=entity, year=year, **kw)  # type: ignore[arg-type]


def test_buy_then_sell_fees_are_in_the_cost_base() -> None:
    """s 110-25: brokerage on purchase and sale are incidental costs in the cost base."""
    r = _report(
        "2024-07-02T02:00:00Z,buy,BTC,1,1000,10,,,,btcmarkets,,b1,",
        "2024-08-02T02:00:00Z,sell,BTC,1,1500,15,,,,btcmarkets,,s1,",
    )
    (d,) = r.disposals
    assert d.cost_base == D(1025)
    assert d.gain == D(475)
    assert not d.discount_eligible
    assert r.totals.net_capital_gain == D(475)


def test_discount_boundary_day_through_the_engine_uses_sydney_dates() -> None:
    """ATO "Sally" rule on local dates: bought 2 Feb 2024 (Sydney), sold 2 Feb 2025 -> no
    discount; sold 3 Feb 2025 -> 50%. 2025-02-02T14:00Z is already 3 Feb in Sydney."""
    buy = "2024-02-01T14:00:00Z,buy,BTC,2,2000,,,,,kraken,,b1,"  # 2 Feb 01:00 Sydney
    on_anniversary = _report(buy, "2025-02-02T02:00:00Z,sell,BTC,1,3000,,,,,kraken,,s1,")
    day_after = _report(buy, "2025-02-02T14:00:00Z,sell,BTC,1,3000,,,,,kraken,,s1,")
    assert not on_anniversary.disposals[0].discount_eligible
    assert on_anniversary.totals.net_capital_gain == D(2000)
    assert day_after.disposals[0].discount_eligible
    assert day_after.totals.net_capital_gain == D(1000)


def test_swap_with_a_market_value_for_the_coin_received() -> None:
    """ATO "Crypto to crypto": proceeds = market value of the coin received; the new
    coin's cost base = the market value given for it (given_aud_value)."""
    r = _report(
        "2024-07-02T02:00:00Z,buy,ETH,2,4000,,,,,kraken,,b1,",
        "2024-08-02T02:00:00Z,swap,ETH,2,5000,,SOL,50,4900,kraken,,x1,",
        "2024-09-02T02:00:00Z,sell,SOL,50,6000,,,,,kraken,,s1,",
    )
    swap, sell = r.disposals
    assert swap.proceeds == D(5000)
    assert swap.proceeds_source == "aud_value"
    assert swap.gain == D(1000)
    assert sell.cost_base == D(4900)
    assert sell.gain == D(1100)


def test_swap_without_a_market_value_for_the_coin_received_uses_the_coin_given() -> None:
    """When the received coin has no market value (aud_value blank), proceeds are the
    market value of the coin given, which is also the new coin's cost base."""
    r = _report(
        "2024-07-02T02:00:00Z,buy,ETH,2,4000,,,,,kraken,,b1,",
        "2024-08-02T02:00:00Z,swap,ETH,2,,,NEWCOIN,1000,4500,kraken,,x1,",
        "2024-09-02T02:00:00Z,sell,NEWCOIN,1000,100,,,,,kraken,,s1,",
    )
    swap, sell = r.disposals
    assert swap.proceeds == D(4500)
    assert swap.proceeds_source == "given_aud_value"
    assert sell.cost_base == D(4500)
    assert sell.gain == D(-4400)


def test_chain_split_coins_have_a_zero_cost_base() -> None:
    """docs/tax.md, Income events: coins from a chain split have a $0 cost base; all
    proceeds are gain."""
    r = _report(
        "2024-07-02T02:00:00Z,chain_split,BCH,3,,,,,,,,c1,",
        "2024-08-02T02:00:00Z,sell,BCH,3,900,,,,,kraken,,s1,",
    )
    assert r.disposals[0].cost_base == 0
    assert r.totals.capital_gains == D(900)
    assert r.ordinary_income == 0


def test_lost_coins_give_a_capital_loss_of_their_cost_base() -> None:
    """docs/tax.md, Income events: lost or stolen coins can give a capital loss (disposal
    for $0) when ownership is evidenced; the report says to keep the evidence."""
    r = _report(
        "2024-07-02T02:00:00Z,buy,SOL,10,1500,,,,,kraken,,b1,",
        "2024-08-02T02:00:00Z,lost,SOL,10,,,,,,,,l1,",
    )
    (d,) = r.disposals
    assert (d.proceeds, d.gain) == (0, D(-1500))
    assert r.totals.net_capital_loss_carried_forward == D(1500)
    assert any("evidence" in n for n in r.notes)


def test_income_is_ordinary_income_and_creates_a_cost_base() -> None:
    """docs/tax.md, Income events: staking rewards are ordinary income at market value when
    received; that value is the coins' cost base."""
    r = _report(
        "2024-07-02T02:00:00Z,income,ETH,1,3000,,,,,kraken,,i1,",
        "2024-08-02T02:00:00Z,sell,ETH,1,3500,,,,,kraken,,s1,",
    )
    assert r.ordinary_income == D(3000)
    assert r.disposals[0].gain == D(500)


def test_transfers_are_not_disposals_but_cannot_move_more_than_held() -> None:
    """TD 2014/26: moving coins between one's own wallets is no CGT event."""
    r = _report(
        "2024-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
        "2024-07-03T02:00:00Z,transfer,BTC,1,,,,,,kraken,,t1,",
    )
    assert r.disposals == ()
    with pytest.raises(ShortfallError, match="line 3"):
        _report(
            "2024-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
            "2024-07-03T02:00:00Z,transfer,BTC,2,,,,,,kraken,,t1,",
        )


def test_coins_arriving_from_an_unknown_source_add_no_parcel_and_stop_nothing() -> None:
    """An incoming transfer with no ``exchange`` (the import's unmatched deposit): its
    cost base is unknown, so it is no parcel and no shortfall (``lyra tax review`` lists
    it as a missing cost base); selling those coins is still more than held."""
    r = _report(
        "2024-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
        "2024-07-03T02:00:00Z,transfer,BTC,5,,,,,,,coinspot,t-in,",
        "2024-08-02T02:00:00Z,sell,BTC,1,1500,,,,,kraken,,s1,",
    )
    assert [d.lots[0].lot_id for d in r.disposals] == ["b1"]
    with pytest.raises(ShortfallError, match=r"line 4 \(id s2\).*only 1"):
        _report(
            "2024-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
            "2024-07-03T02:00:00Z,transfer,BTC,5,,,,,,,coinspot,t-in,",
            "2024-08-02T02:00:00Z,sell,BTC,2,1500,,,,,kraken,,s2,",
        )


def test_selling_more_than_held_names_the_row() -> None:
    """A disposal beyond the holdings is an error naming the line and id."""
    with pytest.raises(ShortfallError, match=r"line 3 \(id s1\).*only 1"):
        _report(
            "2024-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
            "2024-08-02T02:00:00Z,sell,BTC,2,1500,,,,,kraken,,s1,",
        )


ROWS = (
    "2023-07-03T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,old,",
    "2024-07-03T02:00:00Z,buy,BTC,1,3000,,,,,kraken,,new,",
    "2024-09-03T02:00:00Z,sell,BTC,1,2500,,,,,kraken,,s1,new",
)


def test_fifo_is_the_default_and_ignores_a_named_lot() -> None:
    """docs/tax.md, Parcel identification: without a recorded choice, first in first out."""
    r = _report(*ROWS)
    assert r.disposals[0].lots[0].lot_id == "old"
    assert r.disposals[0].identification == "fifo"


def test_specific_identification_uses_the_lot_named_at_disposal() -> None:
    """docs/tax.md, Parcel identification: a documented choice recorded at the time."""
    r = _report(*ROWS, method="specific")
    (d,) = r.disposals
    assert [lot.lot_id for lot in d.lots] == ["new"]
    assert d.gain == D(-500)
    assert d.identification == "specific"


def test_lowest_tax_is_recorded_as_specific_identification() -> None:
    """docs/tax.md, Parcel identification: ``lowest-tax`` only as a specific identification
    recorded at disposal time; it takes the highest-cost parcel (smallest gain now)."""
    rows = (ROWS[0], ROWS[1], "2024-09-03T02:00:00Z,sell,BTC,1,2500,,,,,kraken,,s1,")
    r = _report(*rows, method="lowest-tax")
    assert r.disposals[0].lots[0].lot_id == "new"
    assert r.disposals[0].identification.startswith("specific")


def test_same_day_acquisitions_may_be_averaged_but_other_days_are_not() -> None:
    """docs/tax.md, Parcel identification: averaging only for units acquired on the same day."""
    rows = (
        "2024-07-02T01:00:00Z,buy,ETH,1,1000,,,,,kraken,,a,",
        "2024-07-02T03:00:00Z,buy,ETH,1,3000,,,,,kraken,,b,",
        "2024-07-03T02:00:00Z,buy,ETH,1,9000,,,,,kraken,,c,",
        "2024-08-02T02:00:00Z,sell,ETH,1,2500,,,,,kraken,,s1,",
    )
    averaged = _report(*rows, same_day_average=True)
    assert averaged.disposals[0].cost_base == D(2000)
    assert _report(*rows).disposals[0].cost_base == D(1000)


def test_company_individual_and_super_fund_differ_only_in_the_discount() -> None:
    """Div 115: 50% individual, 33 1/3% complying super fund, none for a company."""
    rows = (
        "2023-07-03T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
        "2024-09-03T02:00:00Z,sell,BTC,1,4000,,,,,kraken,,s1,",
    )
    individual = _report(*rows, entity="individual")
    smsf = _report(*rows, entity="smsf")
    company = _report(*rows, entity="company")
    assert individual.totals.net_capital_gain == D(1500)
    assert smsf.totals.net_capital_gain.quantize(D("0.01")) == D("2000.00")
    assert company.totals.net_capital_gain == D(3000)
    assert company.totals.discount == 0
    assert not company.disposals[0].discount_eligible


def test_a_trader_reports_ordinary_income_not_capital_gains() -> None:
    """docs/tax.md, Traders: traders are on revenue account; profits are ordinary income."""
    rows = (
        "2024-07-03T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
        "2024-09-03T02:00:00Z,sell,BTC,1,4000,,,,,kraken,,s1,",
        "2024-09-04T02:00:00Z,income,ETH,1,100,,,,,kraken,,i1,",
    )
    r = _report(*rows, basis="trader", prior_losses=D(500))
    assert r.ordinary_income == D(3100)
    assert r.totals.net_capital_gain == 0
    assert r.totals.net_capital_loss_carried_forward == D(500)


def test_only_the_chosen_year_is_reported_but_earlier_parcels_count() -> None:
    """The income year runs 1 July to 30 June (Sydney dates)."""
    rows = (
        "2023-07-03T02:00:00Z,buy,BTC,2,2000,,,,,kraken,,b1,",
        "2024-06-29T02:00:00Z,sell,BTC,1,1500,,,,,kraken,,s0,",
        "2024-06-30T15:00:00Z,sell,BTC,1,1800,,,,,kraken,,s1,",  # 1 July in Sydney
    )
    r = _report(*rows)
    assert [d.id for d in r.disposals] == ["s1"]
    assert r.disposals[0].cost_base == D(1000)


def test_disposals_from_july_2027_are_marked_provisional_in_the_report() -> None:
    """docs/tax.md, Rule sets: the post-1 July 2027 rules are not final: every report says so."""
    r = _report(
        "2026-07-03T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
        "2027-07-05T02:00:00Z,sell,BTC,1,4000,,,,,kraken,,s1,",
        year="2027-28",
    )
    body = tax_report_json(r)
    assert body["provisional"] is True
    assert body["disposals"][0]["rule_set"] == "cpi-2027-provisional"
    assert any("PROVISIONAL" in n for n in body["notes"])


def test_a_report_uses_parcels_recorded_at_disposal_whatever_the_method() -> None:
    """docs/tax.md, Parcel identification: a specific identification is valid when recorded
    at the time; the report must show it even when re-run later under FIFO."""
    how = "specific (lowest-tax choice, recorded at disposal)"
    r = _report(*ROWS, recorded={"s1": RecordedParcels((("new", D(1)),), how)})
    assert [lot.lot_id for lot in r.disposals[0].lots] == ["new"]
    assert r.disposals[0].identification == how  # as recorded then, not "fifo" now
    with pytest.raises(ShortfallError, match="do not add up"):
        _report(*ROWS, recorded={"s1": RecordedParcels((("new", D("0.5")),), how)})


def test_an_engine_keeping_one_year_works_out_the_same_parcels_and_that_years_results() -> None:
    """``keep``: other years' disposals and income are not kept (a report of one year needs
    none), yet every row still moves the parcels and is still checked."""
    rows = sort_ledger(
        ledger(
            "2023-07-03T02:00:00Z,buy,BTC,2,2000,,,,,kraken,,b1,",
            "2023-09-03T02:00:00Z,sell,BTC,0.5,900,,,,,kraken,,s0,",
            "2023-10-03T02:00:00Z,income,ETH,1,100,,,,,kraken,,i0,",
            "2024-08-03T02:00:00Z,sell,BTC,1,3000,,,,,kraken,,s1,",
            "2024-09-03T02:00:00Z,income,ETH,1,200,,,,,kraken,,i1,",
            "2025-08-03T02:00:00Z,sell,BTC,0.5,2000,,,,,kraken,,s2,",
        )
    )
    whole = CgtEngine("individual")
    whole.apply(rows)
    year = income_year("2024-25")
    one = CgtEngine("individual", keep=year)
    one.apply(rows)
    assert [d.id for d in one.disposals] == ["s1"]
    assert one.disposals == [d for d in whole.disposals if year.contains(d.on)]
    assert [i.id for i in one.income] == ["i1"]
    assert one.book.snapshot() == whole.book.snapshot()
    assert one.take_results() == ([whole.disposals[1]], [whole.income[1]])
    assert (one.disposals, one.income) == ([], [])  # handed over, then let go
    short = CgtEngine("individual", keep=year)
    with pytest.raises(ShortfallError, match="s3"):  # a later year's row is still checked
        short.apply([*rows, *ledger("2025-09-03T02:00:00Z,sell,BTC,9,1,,,,,kraken,,s3,")])


def test_unknown_cost_base_works_out_an_oversold_row_at_the_highest_gain_and_says_so() -> None:
    """The report command's mode (``unknown_cost_base``): selling 1.5 BTC of which 1 was
    bought is worked out, the 0.5 no row acquired at a $0 cost base, never discounted,
    and the report is provisional with a note naming the row; by default it is refused."""
    rows = (
        "2023-07-02T02:00:00Z,buy,BTC,1,1000,,,,,kraken,,b1,",
        "2024-08-02T02:00:00Z,sell,BTC,1.5,3000,,,,,kraken,,s1,",
    )
    with pytest.raises(ShortfallError, match=r"line 3 \(id s1\)"):
        _report(*rows)
    r = _report(*rows, unknown_cost_base=True)
    (d,) = r.disposals
    assert d.cost_base == D(1000)  # the bought parcel's cost; the unbought part's is $0
    assert d.gain == D(2000)
    unbought = [lot for lot in d.lots if lot.cost_base == 0]
    assert [lot.quantity for lot in unbought] == [D("0.5")]
    assert not unbought[0].discount_eligible  # acquired "at" the sale: never 12 months
    assert r.provisional
    assert any("$0 cost base" in n and "s1" in n for n in r.notes)
    assert not _report(rows[0], entity="individual").provisional
