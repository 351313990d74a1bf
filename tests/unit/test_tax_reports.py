"""Report formats (docs/domain.md "Contracts": `lyra tax report` JSON), myTax item 18,
the entity file with its sealed TFN, and AUD values of fills with their rate's source."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from lyra.compliance import (
    build_tax_report,
    load_entity,
    mytax_item18,
    open_tfn,
    seal_tfn,
    tax_report_csv,
    tax_report_json,
    tax_report_markdown,
)
from lyra.compliance.fills import FillRecord, fills_to_ledger
from lyra.compliance.fx import load_rate_table
from lyra.compliance.reports import json_text
from lyra.errors import ConfigError, UserError
from tests.support.tax import ledger

ROWS = (
    "2023-07-03T02:00:00Z,buy,BTC,1,1000.004,,,,,kraken,,b1,",
    "2024-09-03T02:00:00Z,sell,BTC,0.5,4000,,,,,kraken,,s1,",
    "2024-09-04T02:00:00Z,sell,BTC,0.5,100,,,,,kraken,,s2,",
)


def test_json_has_exactly_the_contract_fields_with_money_as_decimal_strings() -> None:
    """docs/domain.md, Contracts: disposals (id, date, asset, quantity, proceeds, cost_base, gain,
    discount_eligible, lots) and totals (...), money as decimal strings."""
    body = tax_report_json(
        build_tax_report(ledger(*ROWS), entity_type="individual", year="2024-25")
    )
    disposal = body["disposals"][0]
    for key in (
        "id",
        "date",
        "asset",
        "quantity",
        "proceeds",
        "cost_base",
        "gain",
        "discount_eligible",
        "lots",
    ):
        assert key in disposal
    assert set(body["totals"]) == {
        "capital_gains",
        "capital_losses",
        "prior_losses_applied",
        "discount",
        "net_capital_gain",
        "net_capital_loss_carried_forward",
        "ordinary_income",
    }
    assert disposal["proceeds"] == "4000.00"
    assert disposal["cost_base"] == "500.00"  # 500.002 rounded only when reported
    assert disposal["date"] == "2024-09-03"
    assert body["totals"]["capital_losses"] == "400.00"
    json.dumps(body)  # serialisable as is


def test_csv_has_one_row_per_parcel_and_markdown_has_the_totals() -> None:
    """An auditor's working paper: per-parcel rows."""
    report = build_tax_report(ledger(*ROWS), entity_type="individual", year="2024-25")
    rows = list(csv.DictReader(io.StringIO(tax_report_csv(report))))
    assert [r["disposal_id"] for r in rows] == ["s1", "s2"]
    assert rows[0]["discount_eligible"] == "yes"
    markdown = tax_report_markdown(report)
    assert "net capital gain" in markdown
    assert "myTax item 18" in markdown


def test_mytax_item18_for_individuals_in_whole_dollars() -> None:
    """myTax item 18: H total current year capital gains, A net capital gain, V net
    capital losses carried forward; individuals only."""
    report = build_tax_report(ledger(*ROWS), entity_type="individual", year="2024-25")
    item = mytax_item18(report)
    assert item["H_total_current_year_capital_gains"] == 3499  # 3499.998 -> cents dropped
    assert item["A_net_capital_gain"] == 1549  # (3499.998 - 400.002) / 2 = 1549.998
    assert item["V_net_capital_losses_carried_forward"] == 0
    company = build_tax_report(ledger(*ROWS), entity_type="company", year="2024-25")
    with pytest.raises(UserError, match="individuals"):
        mytax_item18(company)


def test_shipped_entity_file_loads_with_a_checked_abn(tmp_path: Path) -> None:
    """Entities as configuration; the ABN passes the ABR check digit or is refused."""
    entity = load_entity()
    assert entity.type == "company"
    assert entity.gst.registered
    assert entity.abn == "51824753556"
    bad = tmp_path / "e.yaml"
    bad.write_text("name: X\ntype: company\nabn: '51 824 753 557'\n")
    with pytest.raises(ConfigError, match="abn"):
        load_entity(bad)


def test_tfn_is_sealed_never_stored_whole_and_opens_with_the_passphrase() -> None:
    """docs/tax.md, Identifiers: a TFN is never logged or stored in plain text (AES-256-GCM,
    keystore's PBKDF2 pattern); a wrong passphrase fails without showing the number."""
    sealed = seal_tfn(SecretStr("123 456 782"), SecretStr("correct horse"), iterations=1000)
    dumped = sealed.model_dump_json()
    assert "123456782" not in dumped
    assert sealed.masked == "******782"
    assert open_tfn(sealed, SecretStr("correct horse")).get_secret_value() == "123456782"
    with pytest.raises(ConfigError, match="wrong passphrase") as caught:
        open_tfn(sealed, SecretStr("wrong horse!"))
    assert "123456" not in str(caught.value)
    with pytest.raises(ConfigError, match="not a valid") as invalid:
        seal_tfn(SecretStr("123456789"), SecretStr("correct horse"), iterations=1000)
    assert "123456789" not in str(invalid.value)


def _fill(symbol: str, account: str = "live") -> FillRecord:
    return FillRecord(
        id=7,
        account=account,
        exchange="coinbase",
        symbol=symbol,
        side="buy",
        amount=Decimal("0.5"),
        price=Decimal(20000),
        fee=Decimal(10),
        filled_at=datetime(2024, 7, 2, 2, tzinfo=UTC),
    )


def test_fill_values_carry_their_rate_and_its_source(tmp_path: Path) -> None:
    """docs/tax.md "AUD values": convert at the day's rate and keep rate and source beside
    it; an assumed rate is labelled so, and makes the report provisional."""
    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,aud_per_unit,source\n2024-07-01,USD,1.4925,RBA F11\n")
    table = load_rate_table(rates, Decimal("1.5"))
    (row,) = fills_to_ledger([_fill("BTC/USD")], table)
    assert row.aud_value == Decimal("14925.0000")
    assert row.fee_aud == Decimal("14.9250")
    assert "RBA F11" in row.aud_source
    assert "2024-07-01" in row.aud_source
    (assumed,) = fills_to_ledger([_fill("BTC/USD")], load_rate_table(None, Decimal("1.5")))
    assert assumed.aud_source.startswith("fx-assumed:")
    (aud,) = fills_to_ledger([_fill("BTC/AUD")], table)
    assert aud.aud_value == Decimal(10000)
    assert "no conversion" in aud.aud_source
    report = build_tax_report([assumed], entity_type="company", year="2024-25")
    assert report.provisional
    (paper,) = fills_to_ledger([_fill("BTC/AUD", "paper")], table)
    assert build_tax_report([paper], entity_type="company", year="2024-25").provisional


def test_a_bad_rate_file_names_its_line(tmp_path: Path) -> None:
    """Bad input -> a clear error naming the problem."""
    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,aud_per_unit,source\n2024-07-01,USD,-1,RBA\n")
    with pytest.raises(UserError, match="line 2"):
        load_rate_table(rates, Decimal("1.5"))
    assert date(2024, 7, 1)


def test_report_files_hold_one_disposal_per_line_and_read_back_equal() -> None:
    """The JSON file of a report: every disposal on its own line, the same body back."""
    body = tax_report_json(
        build_tax_report(ledger(*ROWS), entity_type="individual", year="2024-25")
    )
    text = json_text(body)
    assert json.loads(text) == body
    disposal_lines = [line for line in text.splitlines() if line.lstrip().startswith('{"id"')]
    assert len(disposal_lines) == len(body["disposals"]) >= 2
