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
from lyra.compliance.ledger import HEADER, parse_ledger
from lyra.compliance.reports import json_text
from lyra.compliance.review_items import ReviewItem
from lyra.errors import ConfigError, UserError
from tests.support.tax import TEST_NOW, ledger

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


OPEN = (ReviewItem("unmatched_transfer", 7, "transfer t1 (1 BTC) is not matched"),)


def test_a_report_with_open_review_items_says_needs_review_in_every_format() -> None:
    """docs/tax.md "Review before a report is final": the JSON flag, the items and a
    first note; NEEDS REVIEW at the top of the CSV and the Markdown. Without items none."""
    report = build_tax_report(
        ledger(*ROWS), entity_type="individual", year="2024-25", review_items=OPEN
    )
    body = tax_report_json(report)
    assert body["needs_review"] is True
    assert body["review_items"] == [
        {"kind": "unmatched_transfer", "row": 7, "detail": "transfer t1 (1 BTC) is not matched"}
    ]
    assert body["notes"][0].startswith("NEEDS REVIEW: 1 review item(s) open (1 unmatched")
    first, header = tax_report_csv(report).splitlines()[:2]
    assert next(csv.reader([first])) == [body["notes"][0]]  # one cell, before the header
    assert header.startswith("disposal_id,date,type")
    markdown = tax_report_markdown(report).splitlines()
    assert "NEEDS REVIEW" in markdown[0]
    assert markdown.index("## Needs review") < markdown.index("| figure | AUD |")
    assert "| unmatched_transfer | 7 | transfer t1 (1 BTC) is not matched |" in markdown
    assert mytax_item18(report)["needs_review"] is True
    clean = build_tax_report(ledger(*ROWS), entity_type="individual", year="2024-25")
    clean_body = tax_report_json(clean)
    assert (clean_body["needs_review"], clean_body["review_items"]) == (False, [])
    assert not any("NEEDS REVIEW" in n for n in clean_body["notes"])
    assert tax_report_csv(clean).startswith("disposal_id,")
    assert "NEEDS REVIEW" not in tax_report_markdown(clean)


def _labels(entity: str, basis: str = "investor") -> dict[str, tuple[str, object]]:
    report = build_tax_report(
        ledger(*ROWS),
        entity_type=entity,  # type: ignore[arg-type]
        year="2024-25",
        basis=basis,  # type: ignore[arg-type]
        prior_losses=Decimal(5000),
    )
    labels = tax_report_json(report)["return_labels"]
    assert labels["source"].startswith("ATO")
    return {x["label"]: (x["item"], x["value"]) for x in labels["labels"]}


def test_return_labels_sit_beside_the_totals_for_each_entitys_return() -> None:
    """Whole dollars, cents dropped. Gains 3499.998, losses 400.002, prior losses 5000:
    no net capital gain, 1900 carried forward (5000 - 3099.996 = 1900.004). myTax item
    18 G/H/A/V for an individual; company return items 7 (G, A) and 13 (V); trust return
    items 21 and 27; SMSF annual return items 11 and 14; H only for an individual."""
    assert _labels("individual") == {
        "G": ("18", True),
        "H": ("18", 3499),
        "A": ("18", 0),
        "V": ("18", 1900),
    }
    assert _labels("company") == {"G": ("7", True), "A": ("7", 0), "V": ("13", 1900)}
    assert _labels("trust") == {"G": ("21", True), "A": ("21", 0), "V": ("27", 1900)}
    assert _labels("smsf") == {"G": ("11", True), "A": ("11", 0), "V": ("14", 1900)}
    gain = build_tax_report(ledger(*ROWS[:2]), entity_type="trust", year="2024-25")
    a_label = {x["label"]: x["value"] for x in tax_report_json(gain)["return_labels"]["labels"]}
    assert a_label["A"] == 1749  # (4000 - 500.002) / 2 = 1749.999, the trust's discount
    markdown = tax_report_markdown(gain)
    assert "## Return labels: Trust tax return" in markdown
    assert "| 21 | A | Net capital gain | 1749 |" in markdown


def test_an_asset_named_like_a_formula_reaches_the_csv_as_text_and_pipes_stay_in_cells() -> None:
    """OWASP "CSV Injection": a cell starting =, +, -, @ is written with a leading '
    (a loss such as -400.00 stays a number); in Markdown a | in an asset is escaped."""
    hostile = '=HYPERLINK("http://x.io","y")'
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        (
            "2023-07-03T02:00:00Z",
            "buy",
            hostile,
            "1",
            "1000",
            "",
            "",
            "",
            "",
            "kraken",
            "",
            "@b1",
            "",
        )
    )
    writer.writerow(
        (
            "2024-09-04T02:00:00Z",
            "sell",
            hostile,
            "1",
            "600",
            "",
            "",
            "",
            "",
            "kraken",
            "",
            "+s1",
            "",
        )
    )
    writer.writerow(
        ("2023-07-03T02:00:00Z", "buy", "A|B", "1", "10", "", "", "", "", "kraken", "", "b2", "")
    )
    writer.writerow(
        ("2024-09-05T02:00:00Z", "sell", "A|B", "1", "20", "", "", "", "", "kraken", "", "s2", "")
    )
    rows = ledger(*buffer.getvalue().splitlines())
    report = build_tax_report(rows, entity_type="individual", year="2024-25")
    parsed = list(csv.DictReader(io.StringIO(tax_report_csv(report))))
    assert parsed[0]["asset"] == "'" + hostile.upper()
    assert parsed[0]["disposal_id"] == "'+s1"
    assert parsed[0]["lot"] == "'@b1"
    assert parsed[0]["gain"] == "-400.00"  # a plain number is data, not neutralised
    assert not any(c.startswith(("=", "+", "@")) for row in parsed for c in row.values())
    line = next(x for x in tax_report_markdown(report).splitlines() if x.startswith("| s2 |"))
    assert "A\\|B" in line
    assert line.replace("\\|", "").count("|") == 9  # eight cells


def test_the_report_names_its_timezone_and_counts_estimated_values() -> None:
    """docs/tax.md: the declared timezone of naive times is reported, and AUD values the
    import estimated (aud_source estimate:...) are counted with a note."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow((*HEADER, "aud_source"))
    writer.writerow(
        (
            "2023-07-03T02:00:00Z",
            "buy",
            "BTC",
            "1",
            "1000",
            "",
            "",
            "",
            "",
            "binance",
            "",
            "b1",
            "",
            "estimate:BTC/USDT close 2023-07-03, RBA",
        )
    )
    writer.writerow(
        (
            "2024-09-03T02:00:00Z",
            "sell",
            "BTC",
            "1",
            "4000",
            "",
            "",
            "",
            "",
            "binance",
            "",
            "s1",
            "",
            "estimate:BTC/USDT close 2024-09-03, RBA",
        )
    )
    writer.writerow(
        (
            "2024-09-04T02:00:00Z",
            "buy",
            "ETH",
            "1",
            "100",
            "",
            "",
            "",
            "",
            "btcmarkets",
            "",
            "b2",
            "",
            "",
        )
    )
    rows = parse_ledger(io.StringIO(buffer.getvalue()), source="l.csv", now=TEST_NOW)
    report = build_tax_report(
        rows, entity_type="company", year="2024-25", timezone="Australia/Perth"
    )
    body = tax_report_json(report)
    assert body["timezone"] == "Australia/Perth"
    assert body["estimated_values"] == 2
    assert any(n.startswith("2 AUD value(s) were estimated") for n in body["notes"])
    assert any("read in Australia/Perth" in n for n in body["notes"])
    plain = tax_report_json(build_tax_report(ledger(*ROWS), entity_type="company", year="2024-25"))
    assert (plain["timezone"], plain["estimated_values"]) == ("Australia/Sydney", 0)
