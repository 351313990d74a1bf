"""The nightly sync of the configured ledger file meets a value no exchange produces: the
run ends with a named ConfigError (file, line, field), never a database error, and the
stored ledger is exactly as it was (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lyra import bootstrap
from lyra.config import load_settings
from lyra.errors import ConfigError
from lyra.services import tax_nightly as steps
from lyra.store.compliance_tables import load_ledger_rows
from tests.support.tax import csv_text

GOOD = (
    "2023-07-03T02:00:00Z,buy,BTC,1,20000,10,,,,kraken,,b1,",
    "2023-08-03T02:00:00Z,sell,BTC,0.5,15000,,,,,kraken,,s1,",
)


@pytest.fixture
def ledger_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    path = tmp_path / "transactions.csv"
    monkeypatch.setenv("LYRA_TAX_LEDGER_FILE", str(path))
    yield path
    bootstrap.dispose_all()


def _stored() -> list[tuple[str, str]]:
    settings = load_settings()
    entity = steps.nightly_entity(bootstrap.build_runtime(settings))
    with bootstrap.open_database(settings).transaction() as session:
        return [(t.id, repr(t)) for t in load_ledger_rows(session, entity.name)]


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("2024-01-01T00:00:00Z,buy,ETH,1,1e50,,,,,kraken,,e1,", "aud_value '1e50' is out"),
        ("2024-01-01T00:00:00Z,buy,ETH,1e999999999,1,,,,,kraken,,e1,", "quantity '1e9999"),
        ("0001-01-01T00:00:00Z,buy,ETH,1,1,,,,,kraken,,e1,", "timestamp '0001-01-01"),
    ],
)
def test_a_bad_row_ends_the_sync_named_and_changes_nothing_stored(
    ledger_file: Path, row: str, words: str
) -> None:
    ledger_file.write_text(csv_text(*GOOD), encoding="utf-8")
    first = steps.sync_ledger(bootstrap.build_runtime(load_settings()))
    assert first.csv_added == 2
    before = _stored()
    ledger_file.write_text(csv_text(*GOOD, row), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        steps.sync_ledger(bootstrap.build_runtime(load_settings()))
    message = str(caught.value)
    assert message.startswith(f"tax ledger file {ledger_file} (LYRA_TAX_LEDGER_FILE) line 4: ")
    assert words in message
    assert "\n" not in message
    assert _stored() == before


def test_a_big_file_is_saved_in_batches_in_one_transaction(
    ledger_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are flushed a batch at a time (memory bounded by a batch), and still
    all-or-nothing: a row refused in a later batch leaves none of the earlier ones."""
    monkeypatch.setattr(steps, "_SAVE_BATCH", 2)
    rows = [f"2023-07-{d:02d}T02:00:00Z,buy,BTC,1,100,,,,,kraken,,b{d}," for d in range(1, 8)]
    ledger_file.write_text(csv_text(*rows[:3]), encoding="utf-8")
    assert steps.sync_ledger(bootstrap.build_runtime(load_settings())).csv_added == 3
    before = _stored()
    changed = rows[2].replace(",100,", ",101,")  # b3 stored with 100: a record never changes
    ledger_file.write_text(csv_text(*rows[3:], changed), encoding="utf-8")
    with pytest.raises(Exception, match="b3"):
        steps.sync_ledger(bootstrap.build_runtime(load_settings()))
    assert _stored() == before
    ledger_file.write_text(csv_text(*rows), encoding="utf-8")
    synced = steps.sync_ledger(bootstrap.build_runtime(load_settings()))
    assert (synced.csv_added, synced.rows) == (4, 7)
