"""A market-analysis cycle that fails still anchors the audit chain (the aborted cycle's
records are anchored outside the database), and the run's own exception is the one that
surfaces, even when anchoring fails too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tasks.market
from flows.market_analysis import market_analysis
from lyra import bootstrap
from lyra.errors import ConfigError


class BoomError(RuntimeError):
    """The failure the cycle meets."""


@pytest.fixture
def lyra_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)

    def failing_close(*_: Any, **__: Any) -> None:
        raise BoomError("the cycle failed at its close")

    monkeypatch.setattr(tasks.market, "close_cycle", failing_close)
    yield tmp_path / ".lyra" / "audit" / "anchors.jsonl"
    bootstrap.dispose_all()


def test_an_aborted_cycle_is_anchored(lyra_env: Path) -> None:
    with pytest.raises(BoomError):
        market_analysis()
    reasons = [json.loads(line)["reason"] for line in lyra_env.read_text().splitlines()]
    assert reasons[-1].startswith("market-analysis cycle ")
    assert reasons[-1].endswith(" (failed)")


def test_a_failure_to_anchor_never_hides_the_cycles_exception(
    lyra_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.audit

    def failing_anchor(*_: Any, **__: Any) -> None:
        raise ConfigError("cannot append to the audit anchor file")

    monkeypatch.setattr(tasks.audit, "anchor_now", failing_anchor)
    with pytest.raises(BoomError):
        market_analysis()
