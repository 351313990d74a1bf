"""Import records -> ledger lines (lyra.compliance.importers.convert): the tax rules of
docs/tax.md applied the same way to every exchange's rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import pytest

from lyra.compliance.cgt import CgtEngine
from lyra.compliance.importers.convert import to_ledger_lines
from lyra.compliance.importers.formats import ExportRowError
from lyra.compliance.importers.ledger_lines import LedgerLine
from lyra.compliance.importers.records import (
    Charge,
    Movement,
    Receipt,
    SourceRef,
    Trade,
    Unrecognised,
)
from lyra.compliance.ledger import HEADER, parse_ledger, sort_ledger

AT = datetime(2024, 3, 1, 2, 30, tzinfo=UTC)


class FakeValuer:
    """AUD per unit from a table; an asset not in it cannot be valued."""

    def __init__(self, **prices: str) -> None:
        self.prices = {asset: Decimal(price) for asset, price in prices.items()}
        self.calls: list[tuple[str, Decimal, datetime]] = []

    def value(self, asset: str, quantity: Decimal, at: datetime) -> tuple[Decimal | None, str]:
        self.calls.append((asset, quantity, at))
        price = self.prices.get(asset)
        if price is None:
            return None, f"missing:no daily price of {asset}"
        return quantity * price, f"estimate:{asset}/AUD {price} (fake)"


def trade(
    side: Literal["buy", "sell"] = "buy",
    base: str = "BTC",
    base_quantity: str = "0.5",
    quote: str = "AUD",
    quote_quantity: str = "30000",
    fee_asset: str = "",
    fee: str = "0",
    aud_value: str | None = None,
    ref: str = "T1",
    file: str = "export.csv",
    line: int = 2,
    venue: str = "Binance",
) -> Trade:
    return Trade(
        at=AT, venue=venue, side=side, base=base, base_quantity=Decimal(base_quantity),
        quote=quote, quote_quantity=Decimal(quote_quantity), fee_asset=fee_asset,
        fee_quantity=Decimal(fee), aud_value=None if aud_value is None else Decimal(aud_value),
        ref=ref, source=SourceRef(file, (line,)),
    )  # fmt: skip


def only(lines: list[LedgerLine], kind: str) -> LedgerLine:
    found = [line for line in lines if line.type == kind]
    assert len(found) == 1, found
    return found[0]


def as_ledger_text(lines: list[LedgerLine]) -> list[str]:
    """The lines in the contract's 13 columns, as the writer would put them."""

    def text(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value)

    rows = [",".join(HEADER)]
    for line in lines:
        rows.append(",".join(text(getattr(line, name)) for name in HEADER))
    return rows


def test_aud_buy_is_a_buy_at_the_aud_paid_with_the_aud_fee_as_fee_aud() -> None:
    record = trade(fee_asset="AUD", fee="30.00")
    out = to_ledger_lines([record], FakeValuer())
    [line] = out.lines
    assert (line.type, line.asset, line.quantity) == ("buy", "BTC", Decimal("0.5"))
    assert line.aud_value == Decimal(30000)
    assert line.fee_aud == Decimal("30.00")
    assert line.id == "binance-T1"
    assert line.aud_source == "binance export"
    assert line.source == "export.csv:2"
    assert (out.estimated, out.missing) == (0, 0)


def test_aud_sell_is_a_sell_valued_by_the_export_aud_value_when_given() -> None:
    record = trade(side="sell", quote_quantity="30000", aud_value="29990", fee_asset="AUD",
                   fee="9.95")  # fmt: skip
    [line] = to_ledger_lines([record], FakeValuer()).lines
    assert (line.type, line.aud_value, line.fee_aud) == ("sell", Decimal(29990), Decimal("9.95"))


def test_bnb_fee_is_its_own_fee_line_and_a_cost_of_the_trade() -> None:
    """ATO: a fee paid in crypto is a disposal of that crypto; its value is an incidental
    cost (s 110-25) of the trade it paid for."""
    record = trade(fee_asset="BNB", fee="0.01")
    out = to_ledger_lines([record], FakeValuer(BNB="600"))
    buy, fee = only(out.lines, "buy"), only(out.lines, "fee")
    assert (fee.asset, fee.quantity, fee.aud_value) == ("BNB", Decimal("0.01"), Decimal("6.00"))
    assert fee.id == "binance-T1-fee"
    assert fee.aud_source.startswith("estimate:BNB/AUD")
    assert buy.fee_aud == Decimal("6.00")
    assert buy.aud_source.startswith("estimate:")  # the weakest source first: counted
    assert out.estimated == 2


def test_fee_in_the_coin_bought_is_not_counted_twice() -> None:
    """Gross 1 BTC bought, 0.001 BTC fee taken: 0.999 BTC held, all of it can be sold,
    and the gains over both disposals are what came back less what was paid."""
    buy = trade(base_quantity="1", quote_quantity="60000", fee_asset="BTC", fee="0.001")
    out = to_ledger_lines([buy], FakeValuer())
    fee = only(out.lines, "fee")
    assert fee.aud_value == Decimal("60.000")  # the trade's own price, not an estimate
    assert fee.aud_source == "binance export"
    sell = trade(side="sell", base_quantity="0.999", quote_quantity="70000", ref="T2")
    lines = out.lines + to_ledger_lines([sell], FakeValuer()).lines
    rows = parse_ledger(as_ledger_text(lines))
    engine = CgtEngine("individual")
    engine.apply(sort_ledger(rows))
    assert engine.book.held("BTC") == 0
    gain = sum((d.gain for d in engine.disposals), Decimal(0))
    assert gain == Decimal(70000) - Decimal(60000)


def test_usdt_quote_buy_is_a_swap_valued_at_the_coin_received() -> None:
    """ATO "Crypto to crypto": proceeds are the market value of what is received."""
    record = trade(quote="USDT", quote_quantity="20000", base_quantity="0.5")
    valuer = FakeValuer(BTC="100000", USDT="1.5")
    out = to_ledger_lines([record], valuer)
    [line] = out.lines
    assert (line.type, line.asset, line.quantity) == ("swap", "USDT", Decimal(20000))
    assert (line.to_asset, line.to_quantity) == ("BTC", Decimal("0.5"))
    assert line.aud_value == Decimal(50000)
    assert line.given_aud_value is None
    assert line.aud_source.startswith("estimate:BTC/AUD")
    assert out.estimated == 1


def test_usdt_quote_sell_gives_the_base_for_the_quote() -> None:
    record = trade(side="sell", quote="USDT", quote_quantity="20000", base_quantity="0.5")
    [line] = to_ledger_lines([record], FakeValuer(USDT="1.5")).lines
    assert (line.type, line.asset, line.quantity) == ("swap", "BTC", Decimal("0.5"))
    assert (line.to_asset, line.to_quantity, line.aud_value) == ("USDT", Decimal(20000),
                                                                 Decimal(30000))  # fmt: skip


def test_swap_falls_back_to_the_value_given_when_the_coin_received_has_none() -> None:
    record = trade(base="NEWCOIN", base_quantity="1000", quote="USDT", quote_quantity="150")
    [line] = to_ledger_lines([record], FakeValuer(USDT="1.5")).lines
    assert line.aud_value is None
    assert line.given_aud_value == Decimal("225.0")
    assert line.aud_source.startswith("estimate:USDT/AUD")
    assert parse_ledger(as_ledger_text([line]))[0].given_aud_value == Decimal("225.0")


def test_a_value_that_cannot_be_estimated_is_blank_and_marked_missing() -> None:
    record = trade(base="NEWCOIN", base_quantity="1000", quote="OTHERCOIN", quote_quantity="5")
    out = to_ledger_lines([record], FakeValuer())
    [line] = out.lines
    assert (line.aud_value, line.given_aud_value) == (None, None)
    assert line.aud_source.startswith("missing:no daily price of NEWCOIN")
    assert "OTHERCOIN" in line.aud_source
    assert (out.estimated, out.missing) == (0, 1)


def test_usd_quote_is_money_a_buy_valued_at_the_fx_rate() -> None:
    record = trade(quote="USD", quote_quantity="20000", fee_asset="USD", fee="10")
    valuer = FakeValuer(USD="1.5")
    [line] = to_ledger_lines([record], valuer).lines
    assert (line.type, line.asset, line.to_asset) == ("buy", "BTC", "")
    assert line.aud_value == Decimal(30000)
    assert line.fee_aud == Decimal(15)  # the same rate as the trade
    assert line.aud_source.startswith("estimate:USD/AUD")


def test_an_export_aud_value_on_a_crypto_pair_is_used_without_estimating() -> None:
    record = trade(quote="USDT", quote_quantity="20000", aud_value="31000")
    valuer = FakeValuer(BTC="1", USDT="1")
    [line] = to_ledger_lines([record], valuer).lines
    assert (line.aud_value, line.aud_source) == (Decimal(31000), "binance export")
    assert valuer.calls == []


def test_fiat_base_is_read_as_the_other_side_of_the_trade() -> None:
    """ "Buy 30,000 AUD with 0.5 BTC" is a sale of 0.5 BTC."""
    record = trade(base="AUD", base_quantity="30000", quote="BTC", quote_quantity="0.5")
    [line] = to_ledger_lines([record], FakeValuer()).lines
    assert (line.type, line.asset, line.quantity, line.aud_value) == (
        "sell", "BTC", Decimal("0.5"), Decimal(30000)
    )  # fmt: skip


def test_receipt_is_income_at_the_export_value_or_an_estimate() -> None:
    given = Receipt(AT, "Kraken", "ETH", Decimal("0.1"), Decimal(500), "staking", "R1",
                    SourceRef("ledgers.csv", (7,)))  # fmt: skip
    unvalued = Receipt(AT, "Kraken", "DOT", Decimal(2), None, "staking", "R2",
                       SourceRef("ledgers.csv", (8,)))  # fmt: skip
    out = to_ledger_lines([given, unvalued], FakeValuer(DOT="10"))
    first, second = out.lines
    assert (first.type, first.aud_value, first.aud_source) == ("income", Decimal(500),
                                                               "kraken export")  # fmt: skip
    assert (second.type, second.aud_value, second.id) == ("income", Decimal(20), "kraken-R2")
    assert second.aud_source.startswith("estimate:")


def test_charge_is_a_fee_line_valued() -> None:
    charge = Charge(AT, "Kraken", "ETH", Decimal("0.002"), "C1", SourceRef("l.csv", (3,)))
    [line] = to_ledger_lines([charge], FakeValuer(ETH="5000")).lines
    assert (line.type, line.asset, line.quantity, line.aud_value) == (
        "fee", "ETH", Decimal("0.002"), Decimal("10.000")
    )  # fmt: skip


def test_unknown_kind_is_a_review_item_naming_the_source_row() -> None:
    odd = Unrecognised("Binance", "Launchpool Subscription", "BNB 1.0", SourceRef("b.csv", (9,)))
    out = to_ledger_lines([odd], FakeValuer())
    assert out.lines == []
    [item] = out.review
    assert (item.kind, item.row) == ("unknown_kind", "b.csv:9")
    assert "Launchpool Subscription" in item.detail


def test_same_row_in_two_files_gets_the_same_id_without_a_ref() -> None:
    first = trade(ref="", file="jan.csv", line=5)
    again = trade(ref="", file="jan-copy.csv", line=40)
    out = to_ledger_lines([first, again], FakeValuer())
    assert out.lines[0].id == out.lines[1].id
    assert out.lines[0].id.startswith("binance-")
    assert len(out.lines[0].id) == len("binance-") + 16
    assert {line.source for line in out.lines} == {"jan.csv:5", "jan-copy.csv:40"}


def test_identical_rows_in_one_file_are_two_fills_with_two_ids() -> None:
    rows = [trade(ref="", line=5), trade(ref="", line=6)]
    ids = [line.id for line in to_ledger_lines(rows, FakeValuer()).lines]
    assert ids[1] == f"{ids[0]}#2"
    assert ids == [line.id for line in to_ledger_lines(rows, FakeValuer()).lines]


def test_a_different_row_gets_a_different_id() -> None:
    ids = {
        line.id
        for line in to_ledger_lines(
            [trade(ref=""), trade(ref="", side="sell"), trade(ref="", base_quantity="0.6")],
            FakeValuer(),
        ).lines
    }
    assert len(ids) == 3


def test_movements_are_left_for_transfer_matching_and_fiat_deposits_dropped() -> None:
    coin = Movement(AT, "Kraken", "out", "BTC", Decimal(1), Decimal(0), "ab", "", "W1",
                    SourceRef("k.csv", (2,)))  # fmt: skip
    cash = Movement(AT, "Kraken", "in", "AUD", Decimal(100), Decimal(0), "", "", "D1",
                    SourceRef("k.csv", (3,)))  # fmt: skip
    out = to_ledger_lines([coin, cash], FakeValuer())
    assert out.movements == [coin]
    assert out.lines == []


def test_every_line_reads_back_through_the_ledger_parser() -> None:
    records = [
        trade(fee_asset="AUD", fee="30"),
        trade(side="sell", quote="USDT", ref="T2", fee_asset="BNB", fee="0.01"),
        trade(
            quote="BTC",
            base="ETH",
            base_quantity="10",
            quote_quantity="0.5",
            ref="T3",
            fee_asset="ETH",
            fee="0.01",
        ),
    ]
    lines = to_ledger_lines(records, FakeValuer(BTC="100000", USDT="1.5", BNB="600", ETH="5000"))
    rows = parse_ledger(as_ledger_text(lines.lines))
    assert [r.type for r in rows] == ["buy", "swap", "fee", "swap", "fee"]
    assert [r.id for r in rows] == [line.id for line in lines.lines]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (trade(base_quantity="0"), "base_quantity"),
        (trade(quote="USDT", quote_quantity="0"), "quote_quantity"),
        (trade(fee="1", fee_asset=""), "fee_asset"),
    ],
)
def test_a_record_breaking_the_contract_names_its_file_line_and_field(
    record: Trade, field: str
) -> None:
    with pytest.raises(ExportRowError) as caught:
        to_ledger_lines([record], FakeValuer())
    assert (caught.value.file, caught.value.line, caught.value.field) == ("export.csv", 2, field)


def test_money_alone_is_a_review_item_not_a_ledger_line() -> None:
    """Only crypto assets go in the CGT ledger; money rows are shown to a person."""
    interest = Receipt(
        AT, "Kraken", "AUD", Decimal(5), None, "interest", "", SourceRef("k.csv", (4,))
    )
    charge = Charge(AT, "Kraken", "aud", Decimal(2), "", SourceRef("k.csv", (5,)))
    forex = trade(base="USD", base_quantity="100", quote="EUR", quote_quantity="92")
    out = to_ledger_lines([interest, charge, forex], FakeValuer())
    assert out.lines == []
    assert [(item.kind, item.row) for item in out.review] == [
        ("unknown_kind", "k.csv:4"),
        ("unknown_kind", "k.csv:5"),
        ("unknown_kind", "export.csv:2"),
    ]
