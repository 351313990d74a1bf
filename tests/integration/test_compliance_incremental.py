"""The nightly parcels on a real database (SQLite and PostgreSQL): a night applies only the
rows that arrived since the last, and its CGT position equals replaying the whole ledger;
back-dated rows, a tampered checkpoint or another method replay the ledger and say why;
recorded identifications survive a replay; a failing night leaves nothing half-written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from lyra import bootstrap
from lyra.compliance import build_tax_report, load_entity, tax_report_json
from lyra.compliance.ledger import read_ledger
from lyra.config import Settings, load_settings
from lyra.errors import UserError
from lyra.services import tax_nightly as steps
from lyra.services.tax_lots import rebuild_lots_incrementally
from lyra.store.compliance_tables import (
    TaxLotIdentificationRow,
    json_digest,
    load_identifications,
)
from lyra.store.tax_engine_tables import TaxCgtEventRow, TaxLotCheckpointRow
from tests.support.tax import csv_text

TODAY = date(2025, 3, 1)  # in the 2024-25 income year
FIRST = (
    "2023-07-03T02:00:00Z,buy,BTC,1,20000,10,,,,kraken,,b1,",
    "2023-08-03T02:00:00Z,buy,BTC,1,30000,,,,,kraken,,b2,",
    "2023-09-03T02:00:00Z,buy,ETH,10,15000,,,,,btcmarkets,,e1,",
    "2024-07-10T02:00:00Z,sell,BTC,0.5,40000,5,,,,kraken,,s1,",
    "2024-08-01T02:00:00Z,swap,ETH,2,,,BTC,0.05,3500,kraken,US,x1,",
)
LATER = (
    "2024-09-01T02:00:00Z,buy,BTC,0.5,45000,,,,,kraken,,b3,",
    "2024-10-01T02:00:00Z,sell,BTC,1,90000,,,,,kraken,,s2,",
    "2024-11-01T02:00:00Z,income,ETH,1,4000,,,,,kraken,,i1,",
    "2024-12-01T02:00:00Z,sell,ETH,3,12000,,,,,btcmarkets,,s3,",
)
BACK_DATED = "2023-07-01T02:00:00Z,buy,BTC,2,10000,,,,,kraken,,b0,"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    ledger_file = tmp_path / "transactions.csv"
    monkeypatch.setenv("LYRA_TAX_LEDGER_FILE", str(ledger_file))
    yield ledger_file
    bootstrap.dispose_all()


def _night(ledger_file: Path, *rows: str) -> tuple[Settings, steps.LotsRebuild]:
    """Write the CSV as it stands tonight, sync it and rebuild the parcels."""
    ledger_file.write_text(csv_text(*rows), encoding="utf-8")
    settings = load_settings()
    bootstrap.open_database(settings)
    steps.sync_ledger(bootstrap.build_runtime(settings))
    return settings, steps.rebuild_lots(bootstrap.build_runtime(settings))


def _replayed_report(settings: Settings, ledger_file: Path) -> dict[str, object]:
    """The year's report by replaying the whole ledger file in one go, with the parcels
    recorded for disposals when they were first worked out."""
    entity = load_entity(settings.tax_entity_file)
    with bootstrap.open_database(settings).transaction() as session:
        recorded = load_identifications(session, entity.name)
    report = build_tax_report(
        read_ledger(ledger_file),
        entity_type=entity.type,
        basis=entity.basis,
        year="2024-25",
        method=settings.tax_method,
        entity_name=entity.name,
        recorded=recorded,
    )
    return tax_report_json(report)


def _stored_report(settings: Settings) -> dict[str, object]:
    """The year's report as the nightly run writes it, after its rebuild."""
    outcome = steps.cgt_position(
        bootstrap.build_runtime(settings),
        TODAY,
        steps.rebuild_lots(bootstrap.build_runtime(settings)),
    )
    return dict(json.loads(Path(outcome.paths[0]).read_text(encoding="utf-8")))


def _checkpoint(settings: Settings) -> TaxLotCheckpointRow:
    with bootstrap.open_database(settings).transaction() as session:
        row = session.scalars(select(TaxLotCheckpointRow)).one()
        session.expunge(row)
        return row


def test_a_second_night_applies_only_the_new_rows_and_reports_as_a_replay_would(
    env: Path,
) -> None:
    """Night 1 replays (nothing kept yet); night 2 resumes with the 4 new rows only, and
    the year's report from stored results equals the one from the whole ledger."""
    settings, first = _night(env, *FIRST)
    assert first.replayed == "no stored parcels yet"
    assert (first.rows_applied, first.disposals_added) == (5, 2)
    settings, second = _night(env, *FIRST, *LATER)
    assert second.replayed is None
    assert (second.rows_applied, second.rows_total) == (4, 9)
    assert (second.disposals_added, second.disposals_total) == (2, 4)
    assert second.balances == {"BTC": Decimal("1.05"), "ETH": Decimal(6)}
    assert _stored_report(settings) == _replayed_report(settings, env)


def test_a_replay_in_chunks_of_one_disposal_reports_as_the_whole_ledger(env: Path) -> None:
    """Rows are applied and their results stored a chunk at a time: with a chunk per
    disposal, every disposal, identification and year's gains is as one pass makes it."""
    ledger_file = env
    ledger_file.write_text(csv_text(*FIRST, BACK_DATED, *LATER), encoding="utf-8")
    settings = load_settings()
    runtime = bootstrap.build_runtime(settings)
    steps.sync_ledger(runtime)
    entity = steps.nightly_entity(runtime)
    lots = rebuild_lots_incrementally(runtime.database, runtime.tax, entity, chunk_disposals=1)
    assert lots.replayed == "no stored parcels yet"
    assert (lots.rows_applied, lots.disposals_added, lots.disposals_total) == (10, 4, 4)
    assert _stored_report(settings) == _replayed_report(settings, env)
    with runtime.database.transaction() as session:
        assert len(load_identifications(session, entity.name)) == 4


def test_a_night_with_nothing_new_writes_nothing(env: Path) -> None:
    """The checkpoint is current: it is left as it is, and the figures do not move."""
    settings, _ = _night(env, *FIRST)
    before = _checkpoint(settings)
    _, again = _night(env, *FIRST)
    after = _checkpoint(settings)
    assert again.replayed is None
    assert again.rows_applied == 0
    assert after.updated_at == before.updated_at
    assert after.digest == before.digest


def test_a_back_dated_row_replays_the_ledger_and_says_why(env: Path) -> None:
    """A buy dated before the latest row applied changes FIFO for every later disposal:
    the ledger is replayed, and the figures equal the whole ledger's."""
    _night(env, *FIRST)
    settings, lots = _night(env, *FIRST, BACK_DATED, *LATER)
    assert lots.replayed is not None
    assert "dated before the latest row applied" in lots.replayed
    assert "'b0'" in lots.replayed
    assert lots.rows_applied == 10
    stored = _stored_report(settings)
    assert stored == _replayed_report(settings, env)
    disposals = {d["id"]: d for d in stored["disposals"]}  # type: ignore[attr-defined]
    assert [lot["id"] for lot in disposals["s1"]["lots"]] == ["b1"]  # recorded, not b0
    assert [lot["id"] for lot in disposals["s2"]["lots"]] == ["b0"]  # FIFO from now on
    _, resumed = _night(env, *FIRST, BACK_DATED, *LATER)
    assert resumed.replayed is None


def test_a_tampered_checkpoint_is_not_trusted(env: Path) -> None:
    """Parcels edited in the database fail the digest check: the ledger is replayed."""
    settings, _ = _night(env, *FIRST)
    with bootstrap.open_database(settings).transaction() as session:
        state = session.scalars(select(TaxLotCheckpointRow.state)).one()
        state["book"]["pools"]["BTC"]["lots"][0][4] = "1"  # a parcel's cost, cut to $1
        session.execute(update(TaxLotCheckpointRow).values(state=state))
    settings, lots = _night(env, *FIRST, *LATER)
    assert lots.replayed == "the stored parcels failed their digest check"
    assert _stored_report(settings) == _replayed_report(settings, env)


def test_another_method_replays_but_keeps_the_recorded_identifications(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Switching to lowest-tax replays; disposals already worked out keep the parcels
    recorded for them (docs/tax.md, Parcel identification: recorded at the time of disposal)."""
    settings, _ = _night(env, *FIRST)
    with bootstrap.open_database(settings).transaction() as session:
        s1_lots = session.scalars(
            select(TaxLotIdentificationRow.lot_key).where(
                TaxLotIdentificationRow.disposal_key == "s1"
            )
        ).all()
    assert s1_lots == ["b1"]  # FIFO took the oldest parcel
    monkeypatch.setenv("LYRA_TAX_METHOD", "lowest-tax")
    settings, lots = _night(env, *FIRST, *LATER)
    assert lots.replayed is not None
    assert lots.replayed.startswith("configuration changed")
    with bootstrap.open_database(settings).transaction() as session:
        bodies = {
            key: body
            for key, body in session.execute(select(TaxCgtEventRow.key, TaxCgtEventRow.body))
        }
    assert bodies["s1"]["identification"] == "fifo"  # as it was chosen then
    assert [lot[0] for lot in bodies["s1"]["lots"]] == ["b1"]
    assert bodies["s2"]["identification"].startswith("specific (lowest-tax choice")


def test_a_failing_night_leaves_the_checkpoint_and_results_as_they_were(env: Path) -> None:
    """A new row selling more than is held stops the night by line and id; the
    checkpoint, the results and the identifications stay as the last good night left."""
    settings, _ = _night(env, *FIRST)
    before = _checkpoint(settings)
    oversell = "2025-01-01T02:00:00Z,sell,BTC,50,1,,,,,kraken,,big,"
    with pytest.raises(UserError, match="id big"):
        _night(env, *FIRST, oversell)
    after = _checkpoint(settings)
    assert (after.digest, after.rows_applied) == (before.digest, before.rows_applied)
    with bootstrap.open_database(settings).transaction() as session:
        keys = set(session.scalars(select(TaxCgtEventRow.key)))
        recorded = set(session.scalars(select(TaxLotIdentificationRow.disposal_key)))
    assert keys == {"s1", "x1"}
    assert recorded == {"s1", "x1"}


def test_losses_of_an_earlier_year_are_carried_into_the_nightly_position(env: Path) -> None:
    """A 2023-24 capital loss of $20,000 reduces the 2024-25 gain of $30,000 (s 102-5:
    prior-year net capital losses carry forward), on a resumed night too."""
    loss_year = (
        "2023-08-01T02:00:00Z,buy,BTC,1,50000,,,,,kraken,,lb,",
        "2024-03-01T02:00:00Z,sell,BTC,1,30000,,,,,kraken,,ls,",
    )
    gain_year = (
        "2024-08-01T02:00:00Z,buy,ETH,1,1000,,,,,kraken,,gb,",
        "2024-09-01T02:00:00Z,sell,ETH,1,31000,,,,,kraken,,gs,",
    )
    _night(env, *loss_year)
    settings, lots = _night(env, *loss_year, *gain_year)
    assert lots.replayed is None
    totals = _stored_report(settings)["totals"]
    assert totals["prior_losses_applied"] == "20000.00"  # type: ignore[index]
    assert totals["net_capital_gain"] == "10000.00"  # type: ignore[index]
    assert totals["net_capital_loss_carried_forward"] == "0.00"  # type: ignore[index]


def test_a_checkpoint_that_cannot_be_restored_is_replayed_with_the_reason(env: Path) -> None:
    """A state whose digest matches but whose parcels do not add up (or whose shape is
    from another version) is not resumed either."""
    settings, _ = _night(env, *FIRST)
    with bootstrap.open_database(settings).transaction() as session:
        state = session.scalars(select(TaxLotCheckpointRow.state)).one()
        state["book"]["pools"]["BTC"]["held"] = "999"
        session.execute(update(TaxLotCheckpointRow).values(state=state, digest=json_digest(state)))
    settings, lots = _night(env, *FIRST, *LATER)
    assert lots.replayed is not None
    assert lots.replayed.startswith("the stored parcels cannot be restored")
    assert "parcels of BTC do not add up" in lots.replayed
    assert _stored_report(settings) == _replayed_report(settings, env)
