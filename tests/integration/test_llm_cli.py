"""`lyra keys`, `lyra models sync` and `lyra budget` as a user runs them, against a fake
OpenRouter on 127.0.0.1; key values never printed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lyra.spend.catalog import load_catalog
from tests.support.fake_openrouter import DEFAULT_KEY, FakeModel, FakeOpenRouter

PASSPHRASE = "correct horse battery staple"


def _lyra(cwd: Path, *args: str, env: dict[str, str], stdin: str = ""):
    return subprocess.run(
        [sys.executable, "-m", "lyra.cli", *args],
        cwd=cwd,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def fake() -> Iterator[FakeOpenRouter]:
    catalog = load_catalog()
    # upstream prices are twice the catalog's, and one catalog model is not listed upstream
    models = [FakeModel(m, p.prompt * 2, p.completion) for m, p in catalog.models.items()]
    with FakeOpenRouter(models=models[:-1]) as server:
        yield server


def test_keys_set_list_and_status_never_show_the_key(tmp_path: Path, fake: FakeOpenRouter) -> None:
    env = {"LYRA_KEYSTORE_PASSPHRASE": PASSPHRASE, "LYRA_OPENROUTER_BASE_URL": fake.base_url}
    stored = _lyra(
        tmp_path,
        "keys",
        "set",
        "main",
        "--tiers",
        "premium,fast",
        "--daily-cap",
        "12.5",
        env=env,
        stdin=DEFAULT_KEY + "\n",
    )
    assert stored.returncode == 0, stored.stderr
    keystore = (tmp_path / ".lyra" / "keystore.json").read_text()
    assert DEFAULT_KEY not in keystore
    listed = _lyra(tmp_path, "keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "main" in listed.stdout
    assert "premium" in listed.stdout
    assert "12.5" in listed.stdout
    status = _lyra(tmp_path, "keys", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "enabled" in status.stdout
    for result in (stored, listed, status):
        assert DEFAULT_KEY not in result.stdout + result.stderr
    wrong = _lyra(
        tmp_path, "keys", "status", env={**env, "LYRA_KEYSTORE_PASSPHRASE": "wrong one!!"}
    )
    assert wrong.returncode == 2
    assert "wrong passphrase" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_models_sync_stores_upstream_prices(tmp_path: Path, fake: FakeOpenRouter) -> None:
    env = {"LYRA_OPENROUTER_BASE_URL": fake.base_url}
    result = _lyra(tmp_path, "models", "sync", env=env)
    assert result.returncode == 0, result.stderr
    catalog = load_catalog()
    missing = list(catalog.models)[-1]
    assert f"{len(catalog.models) - 1} updated" in result.stdout
    assert missing in result.stdout  # named as not listed upstream
    with sqlite3.connect(tmp_path / ".lyra" / "lyra.db") as conn:
        rows = dict(conn.execute("SELECT model_id, prompt_price FROM llm_models"))
    first = next(iter(catalog.models))
    assert rows[first] == str(catalog.models[first].prompt * 2)
    again = _lyra(tmp_path, "models", "sync", env=env)
    assert "0 updated" in again.stdout


def test_budget_shows_the_tier_split_of_the_daily_budget(tmp_path: Path) -> None:
    result = _lyra(tmp_path, "budget", env={"LYRA_DAILY_BUDGET_USD": "100"})
    assert result.returncode == 0, result.stderr
    for scope, cap in (("total", "100.00"), ("tier:premium", "40.00"), ("tier:fast", "10.00")):
        line = next(line for line in result.stdout.splitlines() if scope in line)
        assert cap in line
