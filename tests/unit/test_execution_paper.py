"""The paper fill model and the order checks paper and live share."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.execution import (
    Bar,
    FillModel,
    MarketRules,
    OrderCheckError,
    OrderIntent,
    OrderState,
    Side,
    check_order,
    round_down,
    simulate_fill,
    taker_fee,
)

AS_OF = datetime(2019, 1, 1, tzinfo=UTC)
RULES = MarketRules(
    exchange="coinbase",
    symbol="BTC/USD",
    base="BTC",
    quote="USD",
    amount_increment=Decimal("1e-8"),
    price_increment=Decimal("0.01"),
    min_amount=Decimal("1e-5"),
    min_notional=Decimal("10"),
)
BAR = Bar(open_time=AS_OF, open=Decimal("3700"), volume=Decimal("50"))


def _intent(side: Side = Side.BUY, amount: str = "1") -> OrderIntent:
    return OrderIntent(
        client_order_id="ly" + "0" * 30,
        exchange="coinbase",
        symbol="BTC/USD",
        side=side,
        amount=Decimal(amount),
        reference_price=Decimal("3690"),
        as_of=AS_OF,
    )


def _fill(intent: OrderIntent, bar: Bar | None = BAR, **kwargs: object) -> object:
    return simulate_fill(
        intent,
        RULES,
        bar=bar,
        ticker_price=kwargs.get("ticker"),  # type: ignore[arg-type]
        fee_rate=Decimal("0.006"),
        model=FillModel(slippage_bps=Decimal(10), max_volume_share=Decimal("0.10")),
    )


def test_a_buy_fills_at_the_next_candles_open_plus_slippage_and_pays_the_taker_fee() -> None:
    report = _fill(_intent(Side.BUY, "1"))
    assert report.state is OrderState.FILLED
    assert report.filled == Decimal(1)
    assert report.average == Decimal("3703.70000000")  # 3700 x 1.001
    assert report.fee == Decimal("22.222200000000")  # 3703.70 x 0.006
    assert [f.fill_id for f in report.fills] == ["paper-20190101T0000"]
    assert report.fills[0].timestamp == AS_OF


def test_a_sell_gets_less_than_the_open() -> None:
    report = _fill(_intent(Side.SELL, "1"))
    assert report.average == Decimal("3696.30000000")


def test_thin_volume_fills_a_share_of_the_candle_and_cancels_the_rest() -> None:
    report = _fill(_intent(Side.BUY, "8"))  # 10% of 50 BTC = 5 BTC
    assert report.state is OrderState.CANCELLED
    assert report.filled == Decimal(5)
    assert "remainder cancelled" in (report.detail or "")


def test_a_candle_without_volume_fills_nothing() -> None:
    report = _fill(_intent(), bar=Bar(open_time=AS_OF, open=Decimal(3700), volume=Decimal(0)))
    assert report.state is OrderState.CANCELLED
    assert report.filled == 0
    assert report.fills == ()


def test_without_the_next_candle_the_ticker_is_used_without_a_volume_cap() -> None:
    report = _fill(_intent(Side.BUY, "8"), bar=None, ticker=Decimal("3600"))
    assert report.state is OrderState.FILLED
    assert report.filled == Decimal(8)
    assert report.average == Decimal("3603.60000000")
    assert "ticker" in (report.detail or "")


def test_the_same_intent_against_the_same_candle_gives_the_same_report() -> None:
    assert _fill(_intent()) == _fill(_intent())


def test_fill_model_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_volume_share"):
        FillModel(max_volume_share=Decimal(0))
    with pytest.raises(ValueError, match="slippage"):
        FillModel(slippage_bps=Decimal(-1))


def test_fee_table_prefers_the_markets_own_fee() -> None:
    assert taker_fee("coinbase") == Decimal("0.006")
    assert taker_fee("coinbase", Decimal("0.004")) == Decimal("0.004")
    assert taker_fee("unknown") == Decimal("0.0025")


# --- shared order checks ----------------------------------------------------------


def test_amount_is_rounded_down_to_the_markets_step() -> None:
    checked = check_order(RULES, Side.BUY, Decimal("0.123456789"), Decimal(3700))
    assert checked == Decimal("0.12345678")


@pytest.mark.parametrize(
    ("amount", "price", "check"),
    [
        (Decimal("0.000000001"), Decimal(3700), "positive_amount"),
        (Decimal("0.000009"), Decimal(3700), "min_amount"),
        (Decimal("0.002"), Decimal(3700), "min_notional"),
    ],
)
def test_orders_below_the_markets_minimums_are_refused_by_name(
    amount: Decimal, price: Decimal, check: str
) -> None:
    with pytest.raises(OrderCheckError) as caught:
        check_order(RULES, Side.BUY, amount, price)
    assert caught.value.check == check


def test_a_sell_never_exceeds_what_is_held() -> None:
    with pytest.raises(OrderCheckError, match="spot_holding"):
        check_order(RULES, Side.SELL, Decimal("0.5"), Decimal(3700), held=Decimal("0.4"))
    assert check_order(RULES, Side.SELL, Decimal("0.4"), Decimal(3700), held=Decimal("0.4"))


@given(
    st.decimals(min_value=Decimal("0"), max_value=Decimal("1000"), places=12),
    st.sampled_from([Decimal("1e-8"), Decimal("0.001"), Decimal("0.5")]),
)
def test_round_down_never_rounds_up_and_lands_on_the_step(value: Decimal, step: Decimal) -> None:
    rounded = round_down(value, step)
    assert rounded <= value
    assert value - rounded < step
    assert (rounded / step) == (rounded / step).to_integral_value()
