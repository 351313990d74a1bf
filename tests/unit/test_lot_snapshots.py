"""Resuming the CGT engine from a JSON snapshot of its parcels gives exactly what applying
the whole ledger in one go gives, for every method, with and without same-day averaging;
a snapshot that does not add up is refused; stored results round-trip exactly."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lyra.compliance.cgt import CgtEngine
from lyra.compliance.engine_state import (
    disposal_from_json,
    disposal_to_json,
    engine_config,
    holding_changes,
    income_from_json,
    income_to_json,
)
from lyra.compliance.ledger import LedgerError, Txn
from lyra.compliance.lots import LotBook, Method, ShortfallError, SnapshotError
from tests.support.tax import ledger
from tests.support.tax.generated import ledgers

METHODS: list[tuple[Method, bool]] = [
    ("fifo", False),
    ("fifo", True),
    ("specific", False),
    ("specific", True),
    ("lowest-tax", False),
    ("lowest-tax", True),
]


def _resumed(rows: list[Txn], cut: int, method: Method, average: bool) -> CgtEngine:
    """Rows up to ``cut`` applied, the book snapshot through JSON text, the rest applied
    to a new engine around the restored book."""
    first = CgtEngine("individual", method, average)
    first.apply(rows[:cut])
    text = json.dumps(first.book.snapshot())
    second = CgtEngine("individual", method, average)
    second.book = LotBook.restore(json.loads(text))
    second.apply(rows[cut:])
    second.disposals[:0] = first.disposals
    second.income[:0] = first.income
    return second


def _whole(rows: list[Txn], method: Method, average: bool) -> CgtEngine:
    engine = CgtEngine("individual", method, average)
    engine.apply(rows)
    return engine


@settings(max_examples=200, deadline=None)
@given(ledgers(), st.integers(0, 60), st.sampled_from(METHODS))
def test_resuming_from_a_snapshot_equals_applying_everything(
    rows: list[Txn], cut_seed: int, method_average: tuple[Method, bool]
) -> None:
    """Same disposals (parcels, costs, gains, discount), same parcels left, any cut."""
    method, average = method_average
    cut = cut_seed % (len(rows) + 1)
    whole = _whole(rows, method, average)
    resumed = _resumed(rows, cut, method, average)
    assert resumed.disposals == whole.disposals
    assert resumed.book.balances() == whole.book.balances()
    assert list(resumed.book.open_lots()) == list(whole.book.open_lots())


# Every row type, same-day buys to average, named parcels, a swap without a received value.
EVERY_TYPE = ledger(
    "2023-07-03T01:00:00Z,buy,BTC,1,1000,2,,,,kraken,,b1,",
    "2023-07-03T02:00:00Z,buy,BTC,1,3000,,,,,kraken,,b2,",
    "2023-07-04T02:00:00Z,buy,BTC,2,5000,,,,,kraken,,b3,",
    "2023-08-01T02:00:00Z,income,ETH,3,6000,,,,,kraken,,i1,",
    "2023-08-02T02:00:00Z,chain_split,BCH,1,0,,,,,,,c1,",
    "2023-09-01T02:00:00Z,sell,BTC,0.5,2500,5,,,,kraken,,s1,b3",
    "2023-09-02T02:00:00Z,swap,BTC,0.25,,,ETH,2,1500,kraken,US,x1,",
    "2023-09-03T02:00:00Z,transfer,ETH,1,,,,,,ledger,,t1,",
    "2023-09-04T02:00:00Z,lost,ETH,0.5,0,,,,,,,l1,",
    "2023-09-05T02:00:00Z,fee,ETH,0.01,20,,,,,kraken,,f1,",
    "2024-10-01T02:00:00Z,sell,BTC,1,90000,,,,,kraken,,s2,b2",
    "2024-10-02T02:00:00Z,sell,BCH,1,400,,,,,kraken,,s3,",
    "2024-10-03T02:00:00Z,buy,BTC,1,60000,,,,,kraken,,b4,",
    "2024-10-03T03:00:00Z,buy,BTC,1,61000,,,,,kraken,,b5,",
    "2025-01-01T02:00:00Z,sell,BTC,2,130000,,,,,kraken,,s4,",
)


@pytest.mark.parametrize(("method", "average"), METHODS)
def test_every_row_type_resumes_at_every_cut(method: Method, average: bool) -> None:
    """Swaps, income, chain splits, lost coins, fees and transfers across every cut."""
    rows = list(EVERY_TYPE)
    whole = _whole(rows, method, average)
    assert len(whole.disposals) == 7
    for cut in range(len(rows) + 1):
        resumed = _resumed(rows, cut, method, average)
        assert resumed.disposals == whole.disposals, f"cut {cut}"
        assert resumed.income == whole.income
        assert resumed.book.balances() == whole.book.balances()


def test_a_used_up_parcel_named_later_is_refused_the_same_way_after_a_resume() -> None:
    """A disposal naming a parcel already used up fails with one message either way."""
    rows = list(
        ledger(
            "2024-01-01T00:00:00Z,buy,BTC,1,100,,,,,k,,b1,",
            "2024-01-02T00:00:00Z,buy,BTC,1,100,,,,,k,,b2,",
            "2024-01-03T00:00:00Z,sell,BTC,1,150,,,,,k,,s1,b1",
            "2024-01-04T00:00:00Z,sell,BTC,0.5,150,,,,,k,,s2,b1",
        )
    )
    with pytest.raises(ShortfallError) as whole:
        _whole(rows, "specific", False)
    with pytest.raises(ShortfallError) as resumed:
        _resumed(rows, 3, "specific", False)
    messages = [str(whole.value), str(resumed.value)]
    assert messages[0] == messages[1]
    assert "'b1' is not an acquisition of BTC with units left" in messages[0]


def _snapshot() -> dict[str, Any]:
    engine = _whole(list(EVERY_TYPE[:6]), "lowest-tax", True)
    return engine.book.snapshot()


def test_a_snapshot_whose_parcels_do_not_add_up_is_refused() -> None:
    """A holding edited without its parcels (or the reverse) is never resumed."""
    snapshot = _snapshot()
    snapshot["pools"]["BTC"]["held"] = "99"
    with pytest.raises(SnapshotError, match="parcels of BTC do not add up"):
        LotBook.restore(snapshot)


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.pop("aliases"),
        lambda s: s.__setitem__("method", "lifo"),
        lambda s: s["pools"]["BTC"]["lots"][0].__setitem__(3, "not a number"),
        lambda s: s["pools"]["BTC"]["lots"][0].__setitem__(1, "2024-01-01T00:00:00"),
        lambda s: s["pools"]["BTC"]["heap"].append(["-1", "nowhere"]),
    ],
    ids=["no-aliases", "unknown-method", "bad-quantity", "naive-time", "heap-stranger"],
)
def test_a_malformed_snapshot_is_refused_with_a_snapshot_error(damage: Any) -> None:
    """Whatever is wrong with it, the caller gets SnapshotError and replays instead."""
    snapshot = _snapshot()
    damage(snapshot)
    with pytest.raises(SnapshotError):
        LotBook.restore(snapshot)


def test_results_round_trip_exactly_through_json_text() -> None:
    """Disposals (with parcels, Decimals, dates) and income come back equal."""
    engine = _whole(list(EVERY_TYPE), "fifo", False)
    for disposal in engine.disposals:
        text = json.dumps(disposal_to_json(disposal))
        assert disposal_from_json(json.loads(text)) == disposal
    for event in engine.income:
        assert income_from_json(json.loads(json.dumps(income_to_json(event)))) == event


def test_holding_changes_add_up_to_the_parcels_held() -> None:
    """The per-row tally the reconciliation uses matches the book, row type by type."""
    rows = list(EVERY_TYPE)
    tally: dict[str, Decimal] = {}
    for txn in rows:
        for asset, change in holding_changes(txn):
            tally[asset] = tally.get(asset, Decimal(0)) + change
    assert {a: q for a, q in tally.items() if q} == _whole(rows, "fifo", False).book.balances()


def test_the_configuration_names_what_results_depend_on() -> None:
    """Another entity type, method or averaging choice is another configuration."""
    base = engine_config("individual", "fifo", False)
    assert engine_config("individual", "fifo", False) == base
    others = {
        engine_config("company", "fifo", False),
        engine_config("individual", "lowest-tax", False),
        engine_config("individual", "fifo", True),
    }
    assert base not in others
    assert len(others) == 3
    assert "rules:" in base


def test_an_imported_row_may_not_take_a_fill_id() -> None:
    """Ids starting ``fill-`` are Lyra's fills; an import using one is refused by line."""
    with pytest.raises(LedgerError, match=r"line 2.*Lyra's fills"):
        ledger("2024-01-01T00:00:00Z,buy,BTC,1,100,,,,,k,,fill-paper-1,")
