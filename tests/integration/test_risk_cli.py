"""``lyra risk assess`` (the docs/domain.md contract) and ``lyra killswitch status|reset``
as a user meets them: JSON on stdout with exit 0 approved or not; bad input one line on
stderr naming the field, exit 2; resets audited with the person and the reason."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lyra.cli import main
from lyra.risk import RiskLimits
from lyra.store.db import Database
from lyra.store.killswitch import check_drawdown_and_trip, killswitch_state
from lyra.store.migrate import upgrade_to_head
from lyra.store.models import AuditRecord

REQUEST: dict[str, Any] = {
    "phase": 3,
    "portfolio": {
        "equity": 100000,
        "peak_equity": 100000,
        "cash": 90000,
        "positions": {"BTC": 10000},
    },
    "proposal": {
        "symbol": "BTC/USD",
        "side": "buy",
        "price": 40000,
        "stop_price": 20000,
        "consensus": 0.9,
    },
    "market": {"last_price": 40000, "age_seconds": 5},
}


def write(tmp_path: Path, payload: object, name: str = "request.json") -> Path:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_assess_prints_the_contract_and_exits_0_when_approved(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "risk", "assess", "--input", str(write(cli_home, REQUEST)))
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert list(result) == ["approved", "quantity", "notional", "risk_amount", "checks", "reasons"]
    assert result["approved"] is True
    assert Decimal(result["quantity"]) == Decimal("0.1")
    assert Decimal(result["notional"]) == Decimal("4000")
    assert Decimal(result["risk_amount"]) == Decimal("2000")
    assert isinstance(result["quantity"], str)
    assert {c["name"] for c in result["checks"]} >= {"position_size", "exposure", "kill_switch"}
    assert result["reasons"] == []


def test_assess_exits_0_with_the_reasons_when_refused(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = json.loads(json.dumps(REQUEST))
    refused["market"]["age_seconds"] = 3600
    code, out, _ = run(capsys, "risk", "assess", "--input", str(write(cli_home, refused)))
    assert code == 0
    result = json.loads(out)
    assert result["approved"] is False
    assert result["reasons"] == ["stale_data: market data 3,600 s old > 300 s"]


def test_assess_uses_the_risk_settings(
    cli_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_RISK_PER_TRADE", "0.01")
    _, out, _ = run(capsys, "risk", "assess", "--input", str(write(cli_home, REQUEST)))
    assert json.loads(out)["risk_amount"].startswith("1000")


def test_a_closing_sell_under_a_tripped_kill_switch_is_approved_sized_to_what_is_held(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The contract's request, no ``is_closing``: a sell of the 0.2 BTC held (12,000 USD
    at 60,000), the kill switch tripped and no premium tier: approved, 0.2 BTC, not more
    (the domain's exit rule, the same the pre-trade flow applies)."""
    closing = {
        "phase": 3,
        "portfolio": {
            "equity": 100000,
            "peak_equity": 100000,
            "cash": 88000,
            "positions": {"BTC": 12000},
        },
        "proposal": {
            "symbol": "BTC/USD",
            "side": "sell",
            "price": 60000,
            "stop_price": None,
            "consensus": 0.85,
        },
        "market": {"last_price": 60000, "age_seconds": 5},
        "kill_switch_tripped": True,
    }
    code, out, err = run(capsys, "risk", "assess", "--input", str(write(cli_home, closing)))
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result["approved"] is True, result["reasons"]
    assert Decimal(result["quantity"]) == Decimal("0.2")
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["kill_switch"]["passed"]
    assert "closing trade allowed" in checks["kill_switch"]["detail"]
    assert checks["premium_vote"]["passed"]
    assert "not needed" in checks["premium_vote"]["detail"]


def test_a_run_stricter_than_its_phase_is_assessed_at_its_own_threshold(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strict = {**json.loads(json.dumps(REQUEST)), "consensus_threshold": 0.95}
    _, out, _ = run(capsys, "risk", "assess", "--input", str(write(cli_home, strict)))
    assert json.loads(out)["reasons"] == ["consensus: consensus 0.9 < phase 3 threshold 0.95"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("proposal", "stop_price", 41000), "proposal.stop_price: must be below price for a buy"),
        (("portfolio", "equity", -5), "portfolio.equity: input should be greater than 0"),
        (("proposal", "symbol", "DOGE/USD"), "proposal.symbol: unknown symbol DOGE/USD"),
        (("market", "last_price", "NaN"), "market.last_price: input should be a finite number"),
    ],
)
def test_bad_input_is_one_line_naming_the_field_exit_2(
    cli_home: Path,
    capsys: pytest.CaptureFixture[str],
    change: tuple[str, str, object],
    message: str,
) -> None:
    bad = json.loads(json.dumps(REQUEST))
    section, field, value = change
    bad[section][field] = value
    code, out, err = run(capsys, "risk", "assess", "--input", str(write(cli_home, bad)))
    assert code == 2
    assert out == ""
    assert err.startswith(f"lyra: error: {message}")
    assert len(err.strip().splitlines()) == 1


def test_unreadable_or_non_json_input_exit_2(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "risk", "assess", "--input", str(cli_home / "missing.json"))
    assert code == 2
    assert "missing.json" in err
    code, _, err = run(capsys, "risk", "assess", "--input", str(write(cli_home, "{oops")))
    assert code == 2
    assert err.startswith("lyra: error: input: not JSON")


def test_the_installed_command_keeps_the_contract(cli_home: Path) -> None:
    """The real entry point in a fresh process: stdout is exactly one JSON document."""
    path = write(cli_home, REQUEST)
    done = subprocess.run(
        [sys.executable, "-m", "lyra.cli", "risk", "assess", "--input", str(path)],
        cwd=cli_home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["approved"] is True


@pytest.fixture
def db_env(
    database_url: str, cli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    from lyra import bootstrap

    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    database = Database.from_url(database_url)
    upgrade_to_head(database)
    yield database
    database.dispose()
    bootstrap.dispose_all()


def test_killswitch_status_and_reset(db_env: Database, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "killswitch", "status")
    assert code == 0
    assert "armed" in out
    with db_env.transaction() as session:
        check_drawdown_and_trip(
            session,
            equity=Decimal(80_000),
            peak_equity=Decimal(100_000),
            now=datetime(2026, 11, 24, 9, tzinfo=UTC),
            limits=RiskLimits(),
        )
    code, out, _ = run(capsys, "killswitch", "status")
    assert code == 0
    assert "TRIPPED" in out
    assert "drawdown 20% >= 15%" in out
    code, _, err = run(capsys, "killswitch", "reset", "--by", " ", "--reason", "fine")
    assert code == 2
    assert err.startswith("lyra: error: --by: required")
    code, out, _ = run(
        capsys, "killswitch", "reset", "--by", "alice", "--reason", "losses reviewed"
    )
    assert code == 0
    assert "reset by alice: losses reviewed" in out
    with db_env.transaction() as session:
        assert not killswitch_state(session).tripped
        audit = session.execute(
            select(AuditRecord).where(AuditRecord.event == "killswitch.reset")
        ).scalar_one()
    assert audit.payload["by"] == "alice"
    code, out, _ = run(capsys, "killswitch", "status")
    assert "armed" in out
    assert "last reset" in out
    assert "by alice: losses reviewed" in out
    code, out, _ = run(capsys, "killswitch", "reset", "--by", "bob", "--reason", "again")
    assert code == 0
    assert "not tripped" in out


def test_reset_needs_both_options(db_env: Database, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "killswitch", "reset", "--by", "alice")
    assert code == 2
    assert err.startswith("lyra: error: --reason: required")
    code, _, err = run(capsys, "risk", "assess")
    assert code == 2
    assert err.startswith("lyra: error: --input: required")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (json.dumps(REQUEST).replace('"phase": 3', '"phase": true'), "phase: "),
        (json.dumps(REQUEST).replace('"phase": 3', '"phase": 3, "phase": 5'), "input: key"),
        (
            json.dumps(REQUEST).replace('"age_seconds": 5', '"age_seconds": 1' + "0" * 5000),
            "input: an integer of 5,001 digits",
        ),
        ("[" * 200_000 + "]" * 200_000, "input: nested more than"),
        (" " * 5_000_000, "larger than a request can be"),
        (b"\xff\xfe{}", "not UTF-8 text"),
    ],
)
def test_hostile_input_is_one_line_exit_2(
    cli_home: Path, capsys: pytest.CaptureFixture[str], payload: str | bytes, message: str
) -> None:
    """Out-of-bounds JSON (docs/domain.md "Risk input bounds"): one line, exit 2."""
    path = cli_home / "request.json"
    if isinstance(payload, bytes):
        path.write_bytes(payload)
    else:
        path.write_text(payload, encoding="utf-8")
    code, out, err = run(capsys, "risk", "assess", "--input", str(path))
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_a_file_with_a_byte_order_mark_is_assessed(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Windows editors save UTF-8 with a BOM; the ledger accepts one, so does the request."""
    path = cli_home / "bom.json"
    path.write_text(json.dumps(REQUEST), encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    code, out, err = run(capsys, "risk", "assess", "--input", str(path))
    assert code == 0, err
    assert json.loads(out)["approved"] is True
