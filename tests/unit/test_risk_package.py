"""``lyra.risk`` is one front door, and pure: no adapter, no file, no database."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import lyra.risk
from lyra.bootstrap import risk_limits
from lyra.config import load_settings
from lyra.errors import ConfigError
from lyra.risk import RiskLimits

MODULES = ["assess", "check", "killswitch", "limits", "request", "sizing", "stops"]
RISK = Path(lyra.risk.__file__).parent
ADAPTERS = (
    "sqlalchemy",
    "alembic",
    "httpx",
    "aiohttp",
    "ccxt",
    "redis",
    "psycopg",
    "prefect",
    "lyra.store",
    "lyra.bootstrap",
)


def test_the_package_exports_every_public_name_of_its_modules() -> None:
    expected: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(f"lyra.risk.{name}")
        assert all(hasattr(module, n) for n in module.__all__), name
        expected |= set(module.__all__)
    assert set(lyra.risk.__all__) == expected
    assert len(lyra.risk.__all__) == len(set(lyra.risk.__all__))


def test_limits_come_from_settings_and_may_only_be_tightened() -> None:
    settings = load_settings(
        risk_per_trade="0.01", symbols="BTC/USD,ETH/USD", live_capital_cap_usd="500"
    )
    limits = risk_limits(settings)
    assert str(limits.risk_per_trade) == "0.01"
    assert limits.symbols == frozenset({"BTC/USD", "ETH/USD"})
    assert str(limits.live_capital_cap_usd) == "500"
    with pytest.raises(ConfigError, match="LYRA_RISK_PER_TRADE"):
        load_settings(risk_per_trade="0.05")
    with pytest.raises(ValueError, match="max_drawdown"):
        RiskLimits(max_drawdown=lyra.risk.MAX_DRAWDOWN * 2)


def test_observing_equity_keeps_every_other_field_of_the_kill_switch() -> None:
    import dataclasses
    from datetime import UTC, datetime
    from decimal import Decimal

    from lyra.risk import KillSwitchState, observe_equity

    at = datetime(2025, 1, 1, tzinfo=UTC)
    state = KillSwitchState(
        tripped=True, tripped_at=at, reason="r", equity=Decimal(80), peak_equity=Decimal(100),
        reset_at=None, reset_by="ann", reset_reason="why", high_water=Decimal(100),
        last_equity=Decimal(80), checked_at=at,
    )  # fmt: skip
    later = datetime(2025, 1, 2, tzinfo=UTC)
    seen = observe_equity(
        state, equity=Decimal(90), peak_equity=Decimal(100), now=later, limits=RiskLimits()
    )
    assert (seen.last_equity, seen.checked_at, seen.high_water) == (
        Decimal(90),
        later,
        Decimal(100),
    )
    kept = {f.name for f in dataclasses.fields(KillSwitchState)} - {
        "last_equity", "checked_at", "high_water",
    }  # fmt: skip
    for name in kept:
        assert getattr(seen, name) == getattr(state, name), name
    # a new field must be carried by killswitch._seen: this list is its reminder
    assert [f.name for f in dataclasses.fields(KillSwitchState)] == [
        "tripped", "tripped_at", "reason", "equity", "peak_equity", "reset_at", "reset_by",
        "reset_reason", "high_water", "last_equity", "checked_at",
    ]  # fmt: skip
