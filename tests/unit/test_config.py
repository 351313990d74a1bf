"""Settings: the embedded default, parsing of lists, and one clear error per bad setting."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from lyra.bootstrap import resolve_phase_run
from lyra.config import load_settings
from lyra.errors import ConfigError


def test_defaults_are_the_embedded_default(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.effective_database_url == "sqlite:///.lyra/lyra.db"
    assert settings.market_source == "replay"
    assert settings.llm_provider == "offline"
    assert settings.exchanges == ["coinbase", "bitfinex"]
    assert settings.symbols == ["BTC/USD"]
    assert settings.phase is None  # the phase in force decides (lyra.rollout.phases)
    assert settings.reports_dir == Path(".lyra/reports")


def test_comma_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LYRA_EXCHANGES", "Coinbase, bitstamp")
    monkeypatch.setenv("LYRA_SYMBOLS", "btc/usd,ETH/USD")
    settings = load_settings()
    assert settings.exchanges == ["coinbase", "bitstamp"]
    assert settings.symbols == ["BTC/USD", "ETH/USD"]


def test_phase_sets_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LYRA_PHASE", "4")
    assert resolve_phase_run(load_settings(), recorded=None)[1].threshold == Decimal("0.85")
    five = load_settings(phase=5)
    assert resolve_phase_run(five, recorded=None)[1].threshold == Decimal("0.90")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LYRA_PHASE", "9", "LYRA_PHASE: Input should be less than or equal to 5"),
        ("LYRA_PHASE", "two", "LYRA_PHASE: Input should be a valid integer"),
        ("LYRA_SYMBOLS", "BTCUSD", "LYRA_SYMBOLS: symbol 'BTCUSD' is not BASE/QUOTE"),
        ("LYRA_TIMEFRAME", "7m", "LYRA_TIMEFRAME: timeframe '7m' is not one of"),
        ("LYRA_MIN_WEIGHT_SHARE", "1.5", "LYRA_MIN_WEIGHT_SHARE"),
        ("LYRA_REPLAY_START", "2019-01-01T00:00:00", "LYRA_REPLAY_START: must include a timezone"),
        ("LYRA_DATABASE_URL", "mysql://x/y", "LYRA_DATABASE_URL"),
        ("LYRA_LLM_PROVIDER", "gpt", "LYRA_LLM_PROVIDER"),
    ],
)
def test_invalid_setting_is_one_clear_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


def test_misspelt_setting_is_refused_with_a_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LYRA_PAHSE", "3")
    with pytest.raises(
        ConfigError, match=r"unknown setting LYRA_PAHSE \(did you mean LYRA_PHASE\?\)"
    ):
        load_settings()


def test_secret_value_never_appears_in_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LYRA_OPENROUTER_API_KEYS", "main=sk-or-v1-verysecret")
    monkeypatch.setenv("LYRA_PHASE", "0")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "verysecret" not in str(caught.value)
    settings = load_settings(phase=1)
    assert "verysecret" not in repr(settings)


def test_replay_start_is_kept_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LYRA_REPLAY_START", "2019-01-01T10:00:00+10:00")
    assert load_settings().replay_start == datetime(2019, 1, 1, 0, 0, tzinfo=UTC)
