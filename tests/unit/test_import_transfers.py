"""Own-wallet transfers (lyra.compliance.importers.transfers): a withdrawal matched to a
deposit is one transfer, not a disposal; what is lost on the way is a fee (a disposal);
what cannot be matched is a review item."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

import pytest

from lyra.compliance.importers.ledger_lines import LedgerLine
from lyra.compliance.importers.records import Movement, SourceRef
from lyra.compliance.importers.transfers import match_transfers

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


class FakeValuer:
    def __init__(self, **prices: str) -> None:
        self.prices = {asset: Decimal(price) for asset, price in prices.items()}

    def value(self, asset: str, quantity: Decimal, at: datetime) -> tuple[Decimal | None, str]:
        price = self.prices.get(asset)
        if price is None:
            return None, f"missing:no daily price of {asset}"
        return quantity * price, f"estimate:{asset}/AUD {price} (fake)"


def move(
    direction: Literal["in", "out"],
    venue: str,
    quantity: str,
    *,
    after: timedelta = timedelta(0),
    fee: str = "0",
    txid: str = "",
    ref: str = "",
    asset: str = "BTC",
    line: int = 2,
) -> Movement:
    return Movement(
        at=T0 + after, venue=venue, direction=direction, asset=asset,
        quantity=Decimal(quantity), fee_quantity=Decimal(fee), txid=txid, address="",
        ref=ref, source=SourceRef(f"{venue.lower()}.csv", (line,)),
    )  # fmt: skip


def of_type(lines: list[LedgerLine], kind: str) -> list[LedgerLine]:
    return [line for line in lines if line.type == kind]


def test_withdrawal_matched_to_deposit_with_the_stated_fee_as_a_fee_line() -> None:
    out = move("out", "Binance", "1.0", fee="0.0005", ref="W1")
    deposit = move("in", "Kraken", "0.9995", after=timedelta(minutes=40), ref="D1")
    result = match_transfers([deposit, out], FakeValuer(BTC="100000"))
    assert (result.matched, result.unmatched, result.review) == (1, 0, [])
    [transfer] = of_type(result.lines, "transfer")
    assert (transfer.exchange, transfer.counterparty) == ("Binance", "Kraken")
    assert (transfer.quantity, transfer.timestamp) == (Decimal("0.9995"), T0)
    assert transfer.id == "transfer-binance-W1"
    assert transfer.source == "binance.csv:2; kraken.csv:2"
    [fee] = of_type(result.lines, "fee")
    assert (fee.asset, fee.quantity, fee.aud_value) == ("BTC", Decimal("0.0005"), Decimal(50))
    assert (fee.id, fee.timestamp) == ("transfer-binance-W1-fee", T0)
    assert fee.aud_source.startswith("estimate:")


def test_equal_quantities_make_no_fee_line() -> None:
    result = match_transfers(
        [move("out", "Binance", "2"), move("in", "Kraken", "2", after=timedelta(hours=1))]
    )
    assert result.matched == 1
    assert [line.type for line in result.lines] == ["transfer"]


def test_shared_txid_matches_outright_whatever_the_time_and_quantity() -> None:
    out = move("out", "Binance", "1.0", txid="0xABCDEF", ref="W1")
    deposit = move("in", "Ledger", "0.9", after=timedelta(days=5), txid="abcdef")
    result = match_transfers([out, deposit], FakeValuer(BTC="100000"))
    assert (result.matched, result.unmatched) == (1, 0)
    [transfer] = of_type(result.lines, "transfer")
    assert (transfer.counterparty, transfer.quantity) == ("Ledger", Decimal("0.9"))
    assert of_type(result.lines, "fee")[0].quantity == Decimal("0.1")


def test_a_deposit_tied_by_txid_is_not_taken_by_an_earlier_withdrawal() -> None:
    early = move("out", "Binance", "1.0", ref="W1")
    late = move("out", "Coinspot", "1.0", after=timedelta(minutes=10), txid="tx9", ref="W2")
    deposit = move("in", "Kraken", "1.0", after=timedelta(minutes=20), txid="tx9")
    result = match_transfers([early, late, deposit])
    matched = [line for line in of_type(result.lines, "transfer") if line.counterparty]
    assert [line.exchange for line in matched] == ["Coinspot"]


def test_deposit_outside_the_window_is_unmatched() -> None:
    out = move("out", "Binance", "1.0")
    deposit = move("in", "Kraken", "1.0", after=timedelta(hours=49))
    assert match_transfers([out, deposit]).matched == 0
    wider = match_transfers([out, deposit], window=timedelta(hours=50))
    assert wider.matched == 1


def test_deposit_before_the_withdrawal_is_unmatched() -> None:
    out = move("out", "Binance", "1.0", after=timedelta(hours=1))
    deposit = move("in", "Kraken", "1.0")
    assert match_transfers([out, deposit]).matched == 0


def test_deposit_above_the_withdrawal_quantity_is_unmatched() -> None:
    result = match_transfers(
        [move("out", "Binance", "1.0"), move("in", "Kraken", "1.0001", after=timedelta(hours=1))]
    )
    assert (result.matched, result.unmatched) == (0, 2)


def test_deposit_short_of_the_stated_fee_is_unmatched() -> None:
    out = move("out", "Binance", "1.0", fee="0.0005")
    deposit = move("in", "Kraken", "0.9990", after=timedelta(hours=1))
    assert match_transfers([out, deposit]).matched == 0


def test_without_a_stated_fee_the_tolerance_bounds_the_loss() -> None:
    out = move("out", "Binance", "1.0")
    near = move("in", "Kraken", "0.995", after=timedelta(hours=1))
    far = move("in", "Kraken", "0.98", after=timedelta(hours=1))
    assert match_transfers([out, near]).matched == 1  # 0.5 % lost: within the 1 % default
    assert match_transfers([out, far]).matched == 0
    assert match_transfers([out, far], tolerance=Decimal("0.05")).matched == 1


def test_two_candidates_the_nearest_in_time_wins() -> None:
    out = move("out", "Binance", "1.0", ref="W1")
    later = move("in", "Kraken", "1.0", after=timedelta(hours=5), ref="D-late")
    sooner = move("in", "Coinbase", "0.999", after=timedelta(hours=1), ref="D-soon")
    result = match_transfers([out, later, sooner])
    matched = [line for line in of_type(result.lines, "transfer") if line.exchange == "Binance"]
    assert [line.counterparty for line in matched] == ["Coinbase"]
    assert result.unmatched == 1


def test_two_candidates_at_the_same_time_the_nearest_in_quantity_wins() -> None:
    out = move("out", "Binance", "1.0")
    smaller = move("in", "Kraken", "0.995", after=timedelta(hours=1))
    closer = move("in", "Coinbase", "0.999", after=timedelta(hours=1))
    result = match_transfers([out, smaller, closer])
    matched = [line for line in of_type(result.lines, "transfer") if line.exchange == "Binance"]
    assert [line.counterparty for line in matched] == ["Coinbase"]


def test_each_movement_is_matched_once() -> None:
    first = move("out", "Binance", "1.0", ref="W1")
    second = move("out", "Binance", "1.0", after=timedelta(minutes=5), ref="W2")
    deposit = move("in", "Kraken", "1.0", after=timedelta(hours=1))
    result = match_transfers([first, second, deposit])
    assert (result.matched, result.unmatched) == (1, 1)
    matched = [line for line in of_type(result.lines, "transfer") if line.counterparty]
    assert [line.id for line in matched] == ["transfer-binance-W1"]  # first out, first in


def test_same_venue_or_another_asset_never_matches() -> None:
    out = move("out", "Binance", "1.0")
    assert (
        match_transfers([out, move("in", "Binance", "1.0", after=timedelta(hours=1))]).matched == 0
    )
    eth = move("in", "Kraken", "1.0", after=timedelta(hours=1), asset="ETH")
    assert match_transfers([out, eth]).matched == 0


def test_unmatched_withdrawal_is_a_transfer_to_nowhere_and_a_review_item() -> None:
    out = move("out", "Binance", "1.0", fee="0.0005", ref="W1", line=7)
    result = match_transfers([out], FakeValuer(BTC="100000"))
    [transfer] = of_type(result.lines, "transfer")
    assert (transfer.exchange, transfer.counterparty) == ("Binance", "")
    assert transfer.quantity == Decimal("0.9995")
    [fee] = of_type(result.lines, "fee")  # the stated fee is spent, matched or not
    assert fee.quantity == Decimal("0.0005")
    [item] = result.review
    assert (item.kind, item.row) == ("unmatched_transfer", "binance.csv:7")
    assert (result.matched, result.unmatched) == (0, 1)


def test_unmatched_deposit_is_a_transfer_from_nowhere_with_a_missing_cost_base() -> None:
    deposit = move("in", "Kraken", "2.5", ref="D1", line=4)
    result = match_transfers([deposit])
    [transfer] = result.lines
    assert (transfer.type, transfer.exchange, transfer.counterparty) == ("transfer", "", "Kraken")
    assert (transfer.quantity, transfer.id) == (Decimal("2.5"), "transfer-kraken-D1")
    assert sorted((item.kind, item.row) for item in result.review) == [
        ("missing_cost_base", "kraken.csv:4"),
        ("unmatched_transfer", "kraken.csv:4"),
    ]


def test_fee_line_without_a_valuer_is_marked_missing() -> None:
    out = move("out", "Binance", "1.0")
    deposit = move("in", "Kraken", "0.999", after=timedelta(hours=1))
    [fee] = of_type(match_transfers([out, deposit]).lines, "fee")
    assert (fee.aud_value, fee.aud_source[:8]) == (None, "missing:")


def test_the_same_movements_in_any_order_give_the_same_lines() -> None:
    moves = [
        move("out", "Binance", "1.0", fee="0.0005"),
        move("in", "Kraken", "0.9995", after=timedelta(minutes=40)),
        move("in", "Coinbase", "3", after=timedelta(days=3), line=9),
        move("out", "Kraken", "0.5", after=timedelta(days=4), line=11),
    ]
    forward = match_transfers(moves, FakeValuer(BTC="100000"))
    backward = match_transfers(list(reversed(moves)), FakeValuer(BTC="100000"))
    assert forward.lines == backward.lines
    assert len({line.id for line in forward.lines}) == len(forward.lines)


def test_tolerance_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        match_transfers([], tolerance=Decimal(1))
