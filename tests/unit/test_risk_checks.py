"""Each pre-trade check on its own: the rule, its boundary, and the detail it states."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from lyra.risk import (
    CHECKS,
    RiskAssessment,
    RiskInputError,
    RiskLimits,
    assess,
    needs_premium_vote,
    parse_request,
)
from lyra.rollout.phases import OrderMode

D = Decimal

# equity 100,000 = cash 90,000 + BTC 10,000; a buy at 40,000 with a stop at 20,000 risks
# 20,000 per BTC, so the 2% rule (2,000) sizes it at 0.1 BTC (notional 4,000).
BASE: dict[str, Any] = {
    "phase": 3,
    "portfolio": {
        "equity": "100000",
        "peak_equity": "100000",
        "cash": "90000",
        "positions": {"BTC": "10000"},
    },
    "proposal": {
        "symbol": "BTC/USD",
        "side": "buy",
        "price": "40000",
        "stop_price": "20000",
        "consensus": "0.9",
    },
    "market": {"last_price": "40000", "age_seconds": 5},
}


def run(
    changes: dict[str, Any] | None = None,
    *,
    limits: RiskLimits | None = None,
    premium: bool | None = None,
) -> RiskAssessment:
    raw = copy.deepcopy(BASE)
    for dotted, value in (changes or {}).items():
        *parents, leaf = dotted.split(".")
        node = raw
        for part in parents:
            node = node[part]
        node[leaf] = value
    return assess(parse_request(raw), limits or RiskLimits(), premium_approved=premium)


def failed(result: RiskAssessment) -> set[str]:
    return {c.name for c in result.checks if not c.passed}


def test_the_2_percent_rule_sizes_the_order_from_the_stop_distance() -> None:
    result = run()
    assert result.approved, result.reasons
    assert result.quantity == D("0.1")
    assert result.notional == D("4000")
    assert result.risk_amount == D("2000")  # exactly 2% of equity 100,000
    detail = result.check("position_size").detail
    assert "set by risk" in detail
    assert "stop 20,000 given" in detail


def test_a_decision_without_a_stop_gets_one_from_the_atr_with_the_rule_stated() -> None:
    result = run({"proposal.stop_price": None, "market.atr": "1000"})
    assert result.stop_price == D("38000")  # 2 x ATR below the price
    assert (
        "no stop given: stop 38,000 = 2 x ATR 1,000 below the price"
        in result.check("position_size").detail
    )


def test_a_sell_of_what_is_not_held_is_sized_at_zero_on_spot() -> None:
    sell = run(
        {
            "proposal.stop_price": None,
            "market.atr": "1000",
            "proposal.side": "sell",
            "portfolio.cash": "100000",
            "portfolio.positions": {},
        }
    )
    assert not sell.approved
    assert sell.quantity == 0
    assert failed(sell) == {"position_size"}
    assert "no BTC held: a spot sell never opens a short" in sell.check("position_size").detail


def test_a_sell_of_a_held_long_is_an_exit_sized_to_what_is_held() -> None:
    # 0.2 BTC held at 40,000 (8,000); the 2% rule alone would sell far more
    exit_ = run(
        {
            "proposal.side": "sell",
            "proposal.stop_price": None,
            "portfolio.cash": "92000",
            "portfolio.positions": {"BTC": "8000"},
        }
    )
    assert exit_.approved, exit_.reasons
    assert exit_.quantity == D("0.2")
    assert exit_.risk_amount == 0
    assert "closing trade" in exit_.check("position_size").detail


def test_an_exit_under_a_tripped_kill_switch_needs_no_premium_vote_even_above_10000() -> None:
    # an exit never depends on an LLM (docs/domain.md, Risk): a long of 0.2 BTC at 60,000
    # (12,000 > 10,000), kill switch tripped, no premium tier available; the contract's
    # request, no is_closing field
    exit_ = run(
        {
            "kill_switch_tripped": True,
            "proposal.side": "sell",
            "proposal.price": "60000",
            "proposal.stop_price": None,
            "market.last_price": "60000",
            "portfolio.equity": "100000",
            "portfolio.peak_equity": "100000",
            "portfolio.cash": "88000",
            "portfolio.positions": {"BTC": "12000"},
        }
    )
    assert exit_.approved, exit_.reasons
    assert exit_.quantity == D("0.2")
    assert not needs_premium_vote(
        parse_request(
            {
                **BASE,
                "portfolio": {
                    "equity": "100000",
                    "peak_equity": "100000",
                    "cash": "88000",
                    "positions": {"BTC": "12000"},
                },
                "proposal": {**BASE["proposal"], "side": "sell", "stop_price": None},
            }
        )
    )
    assert "not needed" in exit_.check("premium_vote").detail
    assert "closing trade allowed" in exit_.check("kill_switch").detail


def test_a_buy_against_a_short_covers_it_and_no_more() -> None:
    cover = run(
        {
            "kill_switch_tripped": True,
            "proposal.stop_price": None,
            "portfolio.cash": "110000",
            "portfolio.positions": {"BTC": "-10000"},
        }
    )
    assert cover.approved, cover.reasons
    assert cover.quantity == D("0.25")


def test_an_is_closing_that_the_position_contradicts_is_refused_by_name() -> None:
    with pytest.raises(RiskInputError, match="is_closing: no BTC short position"):
        run({"is_closing": True})  # a buy with a long held does not close anything
    with pytest.raises(RiskInputError, match="is_closing: this sell reduces the held BTC"):
        run({"is_closing": False, "proposal.side": "sell", "proposal.stop_price": None})


def test_a_run_stricter_than_its_phase_is_judged_at_its_own_figures() -> None:
    at_85 = run({"consensus_threshold": "0.85", "proposal.consensus": "0.82"})
    assert failed(at_85) == {"consensus"}
    assert "< phase 3 threshold 0.85" in at_85.check("consensus").detail
    validating = run({"order_mode": "validate"})
    assert validating.order_mode is OrderMode.VALIDATE
    assert "never sent" in validating.check("phase").detail
    assert "run with validate orders" in validating.check("phase").detail
    with pytest.raises(RiskInputError, match=r"consensus_threshold: .*below phase 3's 0\.80"):
        run({"consensus_threshold": "0.75"})
    with pytest.raises(RiskInputError, match="order_mode: order mode live is bolder"):
        run({"order_mode": "live"})


def test_every_check_reports_a_name_a_verdict_and_a_detail() -> None:
    result = run()
    assert [c.name for c in result.checks] == [
        "phase",
        "consensus",
        "kill_switch",
        "position_size",
        "exposure",
        "capital_cap",
        "cash",
        "price_collar",
        "stale_data",
        "min_notional",
        "precision",
        "order_rate",
        "volatility",
        "premium_vote",
    ]
    assert len(result.checks) == len(CHECKS)
    assert all(c.detail for c in result.checks)


def test_the_json_is_exactly_the_contract_with_money_as_decimal_strings() -> None:
    out = run({"proposal.consensus": "0.5"}).to_json()
    assert list(out) == ["approved", "quantity", "notional", "risk_amount", "checks", "reasons"]
    assert out["approved"] is False
    assert (out["quantity"], out["notional"], out["risk_amount"]) == (
        "0.10000000",
        "4000.00000000",
        "2000.00000000",
    )
    assert all(set(c) == {"name", "passed", "detail"} for c in out["checks"])  # type: ignore[attr-defined]
    assert out["reasons"] == ["consensus: consensus 0.5 < phase 3 threshold 0.80"]


def test_phase_1_places_no_orders() -> None:
    result = run({"phase": 1, "proposal.consensus": "0.95"})
    assert not result.approved
    assert "phase" in failed(result)
    assert "analysis only" in result.check("phase").detail
    assert result.order_mode is OrderMode.NONE


def test_phase_2_validates_against_the_paper_capital_and_never_sends() -> None:
    result = run({"phase": 2})
    assert result.approved
    assert result.order_mode is OrderMode.VALIDATE
    assert "never sent" in result.check("phase").detail


@pytest.mark.parametrize(("phase", "threshold"), [(3, "0.80"), (4, "0.85"), (5, "0.90")])
def test_consensus_must_reach_the_phase_threshold(phase: int, threshold: str) -> None:
    at = run({"phase": phase, "proposal.consensus": threshold})
    assert "consensus" not in failed(at)
    below = run({"phase": phase, "proposal.consensus": str(D(threshold) - D("0.01"))})
    assert failed(below) - failed(at) == {"consensus"}


def test_kill_switch_blocks_new_risk_but_allows_closing() -> None:
    opening = run({"kill_switch_tripped": True})
    assert failed(opening) == {"kill_switch"}
    assert "lyra killswitch reset" in opening.check("kill_switch").detail
    closing = run(
        {
            "kill_switch_tripped": True,
            "is_closing": True,
            "proposal.side": "sell",
            "proposal.stop_price": None,
        }
    )
    assert closing.approved, closing.reasons
    assert closing.quantity == D("0.25")  # the whole 10,000 of BTC at 40,000
    assert closing.risk_amount == 0
    assert "closing trade allowed" in closing.check("kill_switch").detail


def test_a_drawdown_of_15_percent_in_the_request_trips_the_check() -> None:
    # equity 100,000 against a peak of 117,647.06 is a 15.000002% drawdown
    tripped = run({"portfolio.peak_equity": "117647.06"})
    assert failed(tripped) == {"kill_switch"}
    assert "15% >= 15%" in tripped.check("kill_switch").detail
    just_below = run({"portfolio.peak_equity": "117647.05"})
    assert just_below.approved
    assert "14.99% below 15%" in just_below.check("kill_switch").detail


def test_exposure_limits_the_size_to_20_percent_of_equity_after_the_trade() -> None:
    result = run({"proposal.stop_price": "39000"})  # the 2% rule alone would buy 2 BTC
    assert result.approved
    assert result.quantity == D("0.25")  # BTC 10,000 + 10,000 = 20% of 100,000
    assert "set by exposure" in result.check("position_size").detail
    assert "= 20% of equity <= 20%" in result.check("exposure").detail


def test_an_asset_already_above_20_percent_gets_no_more() -> None:
    result = run({"portfolio.cash": "75000", "portfolio.positions": {"BTC": "25000"}})
    assert not result.approved
    assert result.quantity == 0
    assert {"exposure", "position_size"} <= failed(result)
    assert "quantity rounds to 0 (set by exposure" in result.check("position_size").detail


def test_phase_4_is_capped_at_the_live_capital() -> None:
    result = run(
        {"phase": 4, "portfolio.cash": "100000", "portfolio.positions": {}},
        limits=RiskLimits(live_capital_cap_usd=D(1000)),
    )
    assert result.approved, result.reasons
    assert result.notional == D("1000")
    assert "phase 4 capital 1,000" in result.check("capital_cap").detail
    over = run({"phase": 4, "proposal.consensus": "0.9"})  # BTC 10,000 is already over 1,000
    assert "capital_cap" in failed(over)


def test_a_capital_cap_in_the_request_overrides_the_settings() -> None:
    result = run({"capital_cap": "12000"})
    assert result.notional == D("2000")  # gross 10,000 + 2,000 = 12,000
    assert "set by capital" in result.check("position_size").detail


def test_a_buy_never_spends_more_than_the_cash() -> None:
    result = run(
        {
            "portfolio.cash": "1000",
            "portfolio.equity": "11000",
            "portfolio.peak_equity": "11000",
            "portfolio.positions": {"ETH": "10000"},
        }
    )
    assert result.notional <= D("1000")
    assert "set by" in result.check("position_size").detail
    assert "cash" not in failed(result)


@pytest.mark.parametrize(
    ("price", "ok"), [("40800", True), ("40800.01", False), ("39200", True), ("39199", False)]
)
def test_price_collar_against_the_last_price(price: str, ok: bool) -> None:
    result = run({"proposal.price": price, "proposal.stop_price": "20000"})
    assert ("price_collar" not in failed(result)) is ok


@pytest.mark.parametrize(("age", "ok"), [(300, True), ("300.5", False)])
def test_stale_market_data_is_refused(age: object, ok: bool) -> None:
    result = run({"market.age_seconds": age})
    assert result.approved is ok
    if not ok:
        assert failed(result) == {"stale_data"}


def test_minimum_notional_and_amount_from_market_data() -> None:
    assert failed(run({"market.min_notional": "4000.01"})) == {"min_notional"}
    assert run({"market.min_notional": "4000"}).approved
    assert failed(run({"market.min_amount": "0.2"})) == {"min_notional"}
    assert "publishes no minimum" in run().check("min_notional").detail


def test_precision_rounds_the_quantity_down_to_the_step_and_checks_the_tick() -> None:
    stepped = run({"proposal.stop_price": "21000", "market.amount_precision": "0.01"})
    # 2,000 / 19,000 = 0.10526... rounded down to the step 0.01
    assert stepped.quantity == D("0.10")
    assert stepped.approved
    off_tick = run({"proposal.price": "40000.25", "market.price_precision": "0.5"})
    assert failed(off_tick) == {"precision"}
    assert "not a multiple of the tick 0.5" in off_tick.check("precision").detail


def test_max_orders_per_interval() -> None:
    assert run({"orders_in_interval": 9}).approved
    assert failed(run({"orders_in_interval": 10})) == {"order_rate"}
    assert failed(run({"orders_in_interval": 3}, limits=RiskLimits(max_orders_per_interval=3))) == {
        "order_rate"
    }


def test_volatility_circuit_breaker_stops_new_risk_not_closing() -> None:
    assert failed(run({"market.volatility": "0.11"})) == {"volatility"}
    assert run({"market.volatility": "0.10"}).approved
    derived = run({"market.atr": "4400"})  # 4,400 / 40,000 = 11%
    assert failed(derived) == {"volatility"}
    closing = run(
        {
            "market.volatility": "0.5",
            "is_closing": True,
            "proposal.side": "sell",
            "proposal.stop_price": None,
        }
    )
    assert closing.approved


def test_a_trade_above_10000_usd_needs_an_approving_premium_vote() -> None:
    big = {"proposal.stop_price": "38000", "portfolio.cash": "100000", "portfolio.positions": {}}
    # the 2% rule: 2,000 / 2,000 = 1 BTC, exposure caps at 20,000 / 40,000 = 0.5 BTC
    assert needs_premium_vote(
        parse_request(
            {
                **BASE,
                "portfolio": {
                    "equity": "100000",
                    "peak_equity": "100000",
                    "cash": "100000",
                    "positions": {},
                },
                "proposal": {**BASE["proposal"], "stop_price": "38000"},
            }
        )
    )
    assert failed(run(big)) == {"premium_vote"}
    assert "needs a premium-tier validation vote" in run(big).check("premium_vote").detail
    assert failed(run(big, premium=False)) == {"premium_vote"}
    assert run(big, premium=True).approved
    assert not needs_premium_vote(parse_request(BASE))
    exactly = run({**big, "capital_cap": "10000"})  # notional exactly 10,000: not above
    assert exactly.notional == D("10000")
    assert exactly.approved


def test_reasons_name_every_failed_check() -> None:
    result = run({"orders_in_interval": 50, "market.age_seconds": 900, "proposal.consensus": "0.1"})
    assert not result.approved
    assert [r.split(":")[0] for r in result.reasons] == ["consensus", "stale_data", "order_rate"]
