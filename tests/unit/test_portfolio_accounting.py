"""Average-cost accounting: realised P&L, fees apart, and the equity identity."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.portfolio import PositionState, apply_fill


def test_buy_then_sell_realises_the_gain_over_average_cost() -> None:
    state = apply_fill(PositionState(), "buy", Decimal(1), Decimal(100), Decimal("0.1")).position
    state = apply_fill(state, "buy", Decimal(1), Decimal(200), Decimal("0.2")).position
    assert state.average_cost == Decimal(150)
    effect = apply_fill(state, "sell", Decimal("0.5"), Decimal(300), Decimal("0.15"))
    assert effect.realised == Decimal(75)  # 0.5 x (300 - 150)
    assert effect.principal == Decimal(150)
    assert effect.position.quantity == Decimal("1.5")
    assert effect.position.cost == Decimal(225)
    assert effect.position.fees == Decimal("0.45")


def test_selling_everything_leaves_no_cost_behind() -> None:
    state = apply_fill(PositionState(), "buy", Decimal(3), Decimal(10), Decimal(0)).position
    state = apply_fill(state, "buy", Decimal(7), Decimal(11), Decimal(0)).position
    effect = apply_fill(state, "sell", Decimal(10), Decimal(12), Decimal(0))
    assert effect.position.quantity == 0
    assert effect.position.cost == 0


def test_shorting_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        apply_fill(PositionState(), "sell", Decimal(1), Decimal(100), Decimal(0))
    with pytest.raises(ValueError, match="side"):
        apply_fill(PositionState(), "short", Decimal(1), Decimal(100), Decimal(0))


_amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(5), places=8)
_prices = st.decimals(min_value=Decimal(100), max_value=Decimal(70000), places=2)


@given(
    st.lists(st.tuples(st.booleans(), _amounts, _prices), min_size=1, max_size=25),
    _prices,
)
def test_cash_plus_holdings_equals_deposit_plus_pnl_minus_fees(
    trades: list[tuple[bool, Decimal, Decimal]], mark: Decimal
) -> None:
    deposit = Decimal(1_000_000)
    cash = deposit
    state = PositionState()
    for is_buy, amount, price in trades:
        side = "buy" if is_buy else "sell"
        if side == "sell":
            amount = min(amount, state.quantity)
            if amount <= 0:
                continue
        fee = (amount * price * Decimal("0.001")).quantize(Decimal("1e-12"))
        effect = apply_fill(state, side, amount, price, fee)
        state = effect.position
        cash += effect.principal - effect.fee
    equity = cash + state.quantity * mark
    assert equity == deposit + state.realised_pnl - state.fees + state.unrealised(mark)
    assert state.quantity >= 0
