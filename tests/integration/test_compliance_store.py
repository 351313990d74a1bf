"""The tax ledger, recorded parcel identifications and reports in the database (SQLite
and PostgreSQL), the audit record of each report, and Lyra's fills read as tax rows."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Text, cast, func, select

from lyra.compliance import CgtEngine
from lyra.compliance.ledger import sort_ledger
from lyra.errors import UserError
from lyra.store.audit import verify_audit_log
from lyra.store.compliance_tables import (
    TaxLedgerRow,
    TaxReportRow,
    json_digest,
    load_fills,
    load_identifications,
    load_ledger_rows,
    load_positions,
    save_identifications,
    save_ledger_rows,
    save_report,
)
from lyra.store.db import Database
from lyra.store.models import AuditRecord
from tests.support.tax import ledger

ROWS = ledger(
    "2023-07-03T02:00:00Z,buy,BTC,1,1000.123456,1.5,,,,kraken,,cheap,",
    "2023-08-03T02:00:00Z,buy,BTC,1,5000,,,,,kraken,,dear,",
    "2024-09-03T02:00:00Z,sell,BTC,1,3000,,,,,kraken,,s1,",
    "2024-09-04T02:00:00Z,swap,BTC,0.5,,,ETH,2,2000,kraken,US,x1,",
)


def test_ledger_rows_round_trip_exactly_and_import_twice_adds_nothing(db: Database) -> None:
    """Every row keeps its AUD value (exact Decimal) and source; re-import is harmless."""
    with db.transaction() as session:
        assert save_ledger_rows(session, "Co", ROWS, "test.csv") == 4
    with db.transaction() as session:
        assert save_ledger_rows(session, "Co", ROWS, "test.csv") == 0
        loaded = load_ledger_rows(session, "Co")
    assert loaded == list(ROWS)
    assert loaded[0].aud_value == Decimal("1000.123456")
    assert loaded[3].to_quantity == Decimal(2)
    assert loaded[3].aud_value is None


def test_a_failed_import_leaves_nothing_half_written(db: Database) -> None:
    """All-or-nothing: an error inside the transaction rolls every row back."""

    def import_then_fail() -> None:
        with db.transaction() as session:
            save_ledger_rows(session, "Co", ROWS, "test.csv")
            raise RuntimeError("stop half-way")

    with pytest.raises(RuntimeError):
        import_then_fail()
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(TaxLedgerRow)) == 0


def test_parcels_recorded_at_disposal_are_reused_whatever_the_method_later(db: Database) -> None:
    """docs/tax.md, Parcel identification: a specific identification counts only when
    recorded at disposal time; a later run with another method must not re-choose the
    parcels."""
    chosen = CgtEngine("individual", "lowest-tax")
    chosen.apply(sort_ledger(ROWS))
    assert chosen.disposals[0].lots[0].lot_id == "dear"
    with db.transaction() as session:
        assert save_identifications(session, "Co", chosen.disposals) == 2
        assert save_identifications(session, "Co", chosen.disposals) == 0
        recorded = load_identifications(session, "Co")
    later = CgtEngine("individual", "fifo")
    later.recorded = recorded
    later.apply(sort_ledger(ROWS))
    assert [lot.lot_id for lot in later.disposals[0].lots] == ["dear"]
    assert later.disposals[0].identification == chosen.disposals[0].identification
    assert later.disposals[0].identification.startswith("specific (lowest-tax choice")
    assert [d.gain for d in later.disposals] == [d.gain for d in chosen.disposals]


def test_each_report_is_stored_with_its_digest_and_audited(db: Database) -> None:
    """The audit trail gets a record for every report; the chain stays intact."""
    with db.transaction() as session:
        row = save_report(
            session, kind="cgt", entity="Co", period="2024-25",
            body={"totals": {"net_capital_gain": "1.00"}}, provisional=True,
        )  # fmt: skip
    with db.transaction() as session:
        stored = session.get(TaxReportRow, row.id)
        assert stored is not None
        assert len(stored.digest) == 64
        assert stored.provisional
        audit = session.scalars(select(AuditRecord).where(AuditRecord.event == "report")).one()
        assert audit.payload["digest"] == stored.digest
        assert verify_audit_log(session).intact


def test_report_body_is_stored_as_the_digested_text_and_reads_back_as_json(
    db: Database,
) -> None:
    """The canonical text the digest covers is what is stored (no decoded second copy):
    it reads back as the same JSON, in the same session and a later one."""
    body = {
        "year": "2024-25",
        "notes": ["Unicode \u2014 kept", 'quote "x"'],
        "disposals": [
            {"id": f"d{i}", "gain": f"{i}.50", "lots": [{"q": "0.1"}]} for i in range(50)
        ],
        "provisional": False,
        "count": 3,
    }
    with db.transaction() as session:
        row = save_report(
            session, kind="cgt", entity="Co", period="2024-25", body=body, provisional=False
        )
        assert row.body == body  # read back decoded, not the text bound
    with db.transaction() as session:
        stored = session.get(TaxReportRow, row.id)
        assert stored is not None
        assert stored.body == body
        assert stored.digest == json_digest(body) == json_digest(stored.body)
        text = session.scalar(
            select(cast(TaxReportRow.body, Text)).where(TaxReportRow.id == row.id)
        )
        assert text is not None
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == stored.digest


def test_fills_adapter_is_empty_without_fills(db: Database) -> None:
    """Compliance works before execution has stored anything."""
    with db.transaction() as session:
        assert load_fills(session, ["paper", "live"]) == []
        assert load_positions(session, ["paper"]) == {}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_fills_adapter_reads_fills_and_positions_of_the_chosen_accounts(db: Database) -> None:
    """Fills are read through the columns only (execution's tables, migration 0005)."""
    from lyra.store.execution_tables import FillRow, OrderRow, PositionRow
    from lyra.store.models import CycleRow, DecisionRow

    now = datetime(2024, 7, 2, 2, tzinfo=UTC)
    d0 = Decimal(0)
    with db.transaction() as session:
        session.add(CycleRow(id="c", flow="f", phase=3, threshold=d0, as_of=now,
                             started_at=now, finished_at=None, status="completed",
                             flow_run_id=None, detail=None))  # fmt: skip
        session.add(DecisionRow(id="d", cycle_id="c", exchange="coinbase", symbol="BTC/USD",
                                timeframe="1h", as_of=now, price=d0, action="buy",
                                proposed="buy", actionable=True, score_buy=d0, score_sell=d0,
                                score_hold=d0, threshold=d0, phase=3, quorum_met=True,
                                valid_votes=3, valid_weight=d0, configured_weight=d0,
                                stop_price=None, reason="", indicators={}, status="recorded",
                                created_at=now))  # fmt: skip
        session.flush()
        order = OrderRow(client_order_id="o", decision_id="d", leg=0, account="paper",
                         exchange="coinbase", symbol="BTC/USD", side="buy", type="market",
                         amount=Decimal("0.5"), reference_price=Decimal(20000), status="filled",
                         exchange_order_id=None, filled=Decimal("0.5"), average=None,
                         fee=Decimal(10), detail=None, created_at=now, updated_at=now)  # fmt: skip
        session.add(order)
        session.flush()
        session.add(FillRow(order_id=order.id, exchange_fill_id="f1", account="paper",
                            exchange="coinbase", symbol="BTC/USD", side="buy",
                            amount=Decimal("0.5"), price=Decimal(20000), fee=Decimal(10),
                            realised_pnl=d0, filled_at=now, created_at=now))  # fmt: skip
        session.add(PositionRow(account="paper", exchange="coinbase", symbol="BTC/USD",
                                asset="BTC", quantity=Decimal("0.5"), cost=Decimal(10000),
                                realised_pnl=d0, fees=Decimal(10), last_price=None,
                                updated_at=now))  # fmt: skip
    with db.transaction() as session:
        (fill,) = load_fills(session, ["paper"])
        assert load_fills(session, ["live"]) == []
        assert load_positions(session, ["paper"]) == {"BTC": Decimal("0.5")}
    assert (fill.amount, fill.price, fill.filled_at) == (Decimal("0.5"), Decimal(20000), now)


def test_a_stored_row_is_never_rewritten_by_a_changed_import(db: Database) -> None:
    """Records are kept as recorded: an edited row under a stored id is refused, naming
    its line; fills keep the value fixed when they were first recorded."""
    with db.transaction() as session:
        save_ledger_rows(session, "Co", ROWS, "test.csv")
    edited = ledger(
        "2023-07-03T02:00:00Z,buy,BTC,1,999,1.5,,,,kraken,,cheap,",
    )
    stored_already = r"test.csv line 2: row id 'cheap' is already stored"
    with pytest.raises(UserError, match=stored_already), db.transaction() as session:
        save_ledger_rows(session, "Co", edited, "test.csv")
    with db.transaction() as session:
        assert save_ledger_rows(session, "Co", edited, "fills", refuse_changed=False) == 0
        assert load_ledger_rows(session, "Co")[0].aud_value == Decimal("1000.123456")
