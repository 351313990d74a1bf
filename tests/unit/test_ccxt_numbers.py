"""The one set of ccxt number helpers, for market data and orders alike.

The two former adapters disagreed: the market side read a decimal-places count of 0 as a
step of 1 and a ccxt minimum of 0 as "no minimum"; the order side read the first as "no
step" and the second as a minimum of 0, and could not read a fractional count at all.
The table pins the one behaviour; the properties tie it to ccxt's own rounding.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from ccxt.base.decimal_to_precision import NO_PADDING, TRUNCATE, decimal_to_precision
from hypothesis import given
from hypothesis import strategies as st

from lyra.exchanges.ccxt_numbers import (
    DECIMAL_PLACES,
    SIGNIFICANT_DIGITS,
    TICK_SIZE,
    amount_mode,
    from_ms,
    increment,
    number,
    positive,
)

NUMBER_CASES = [
    (None, None),
    ("", None),
    (0.1, Decimal("0.1")),  # repr, not the binary expansion 0.1000000000000000055...
    (8245.31, Decimal("8245.31")),
    (1e-08, Decimal("0.00000001")),
    ("0.00100000", Decimal("0.00100000")),
    (" 42 ", Decimal(42)),
    (5, Decimal(5)),
    (Decimal("1.50"), Decimal("1.50")),
    (float("nan"), None),
    (float("inf"), None),
    ("NaN", None),
]


@pytest.mark.parametrize(("value", "expected"), NUMBER_CASES)
def test_number_reads_each_ccxt_figure_type(value: object, expected: Decimal | None) -> None:
    found = number(value)
    assert found == expected
    if expected is not None:
        assert str(found) == str(expected)


@pytest.mark.parametrize("value", [True, "abc", [1], {"cost": 1}])
def test_number_refuses_what_is_not_a_figure(value: object) -> None:
    with pytest.raises(ValueError, match="not a number"):
        number(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (0, None), (0.0, None), ("0", None), (-1, None), (5.0, Decimal(5))],
)
def test_positive_reads_a_minimum_of_zero_as_no_minimum(
    value: object, expected: Decimal | None
) -> None:
    assert positive(value) == expected


INCREMENT_CASES = [
    # figure, mode, step
    (0.01, TICK_SIZE, Decimal("0.01")),
    ("0.00001", TICK_SIZE, Decimal("0.00001")),
    (0, TICK_SIZE, None),
    (-0.01, TICK_SIZE, None),
    (None, TICK_SIZE, None),
    (2, DECIMAL_PLACES, Decimal("0.01")),
    (8.0, DECIMAL_PLACES, Decimal("0.00000001")),
    ("8", DECIMAL_PLACES, Decimal("0.00000001")),
    (0, DECIMAL_PLACES, Decimal(1)),  # whole units (the order side said: no step)
    (-1, DECIMAL_PLACES, Decimal(10)),  # tens (the order side said: no step)
    (2.5, DECIMAL_PLACES, None),  # malformed (the market side truncated it to 2)
    (None, DECIMAL_PLACES, None),
    (5, SIGNIFICANT_DIGITS, None),  # the step depends on the price
    (0.01, 99, None),
]


@pytest.mark.parametrize(("figure", "mode", "step"), INCREMENT_CASES)
def test_increment_by_precision_mode(figure: object, mode: int, step: Decimal | None) -> None:
    assert increment(figure, mode) == step


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_is_read_through_its_shortest_repr(value: float) -> None:
    found = number(value)
    assert found == Decimal(repr(value))
    assert found is not None
    assert float(found) == value


@given(st.integers(min_value=-6, max_value=18), st.decimals("0", "1e9", places=12))
def test_a_decimal_places_step_is_what_ccxt_truncates_to(places: int, value: Decimal) -> None:
    step = increment(places, DECIMAL_PLACES)
    assert step is not None
    truncated = Decimal(
        decimal_to_precision(str(value), TRUNCATE, places, DECIMAL_PLACES, NO_PADDING)
    )
    assert truncated % step == 0
    assert value - truncated < step


@given(
    st.sampled_from(["0.5", "0.25", "0.1", "0.01", "0.05", "0.00001", "1", "10"]),
    st.decimals("0", "1e6", places=8),
)
def test_a_tick_size_step_is_what_ccxt_truncates_to(tick: str, value: Decimal) -> None:
    step = increment(float(tick), TICK_SIZE)
    assert step == Decimal(tick)
    truncated = Decimal(decimal_to_precision(str(value), TRUNCATE, tick, TICK_SIZE, NO_PADDING))
    assert truncated % step == 0
    assert value - truncated < step


def test_the_venue_override_decides_the_amount_mode() -> None:
    assert amount_mode("decimal_places", SIGNIFICANT_DIGITS) == DECIMAL_PLACES
    assert amount_mode("tick_size", DECIMAL_PLACES) == TICK_SIZE
    assert amount_mode(None, SIGNIFICANT_DIGITS) == SIGNIFICANT_DIGITS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1547987400000, datetime(2019, 1, 20, 12, 30, tzinfo=UTC)),
        # a float stamp: the order side's former int(str(ms)) raised on "....0"
        (1547987400123.0, datetime(2019, 1, 20, 12, 30, 0, 123000, tzinfo=UTC)),
        ("1547987400000", datetime(2019, 1, 20, 12, 30, tzinfo=UTC)),
        (None, None),
    ],
)
def test_from_ms_is_exact_utc(value: object, expected: datetime | None) -> None:
    found = from_ms(value)
    assert found == expected
    if found is not None:
        assert found.utcoffset() is not None
        assert math.isclose(found.timestamp() * 1000, float(value))  # type: ignore[arg-type]
