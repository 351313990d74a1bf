"""Every bad setting is refused by ``lyra`` before anything is written: one line naming
the setting (or the settings file), exit 2, no traceback, no ``.lyra`` folder, no
database, and never the password of a URL (lyra/config/checks.py, lyra/config/loading.py).

Most cases call the console entry (:func:`lyra.cli.main.main`) in this process, since the
refusal comes before any import of Prefect or the database; one runs ``python -m lyra.cli``
as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lyra.cli.main import main

SECRET = "s3cretPassw0rd"


def _refused(capsys: pytest.CaptureFixture[str], folder: Path, *needles: str) -> str:
    before = sorted(p.name for p in folder.iterdir())
    code = main(["run"])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written
    assert not (folder / ".lyra").exists()
    return lines[0]


@pytest.mark.parametrize(
    ("name", "value", "needles"),
    [
        ("LYRA_SYMBOLS", "BTC/USD,btc/usd", ("LYRA_SYMBOLS", "BTC/USD is listed twice")),
        ("LYRA_EXCHANGES", "coinbase, Coinbase", ("LYRA_EXCHANGES", "coinbase is listed twice")),
        ("LYRA_NEWS_ASSETS", "BTC,BTC", ("LYRA_NEWS_ASSETS", "listed twice")),
        ("LYRA_OPENROUTER_BASE_URL", "ftp://mirror.example/api", ("LYRA_OPENROUTER_BASE_URL",)),
        ("LYRA_OPENROUTER_BASE_URL", "openrouter.ai/api/v1", ("LYRA_OPENROUTER_BASE_URL",)),
        (
            "LYRA_TIER_SHARES",
            "premium=0.9,advanced=0.9",
            ("LYRA_TIER_SHARES", "must sum to 1, not 1.8"),
        ),
        ("LYRA_TIER_SHARES", "premium=0.5,gold=0.5", ("LYRA_TIER_SHARES", "gold")),
        ("LYRA_TIER_SHARES", "premium=lots", ("LYRA_TIER_SHARES", "premium=lots")),
        ("LYRA_REDIS_URL", "redis://127.0.0.1:sixthousand/0", ("LYRA_REDIS_URL",)),
        ("LYRA_REDIS_URL", "http://127.0.0.1:6379", ("LYRA_REDIS_URL",)),
        ("LYRA_REDIS_URL", "redis://127.0.0.1:6379/cache", ("LYRA_REDIS_URL", "'cache'")),
    ],
)
def test_bad_value_is_refused_before_anything_is_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    needles: tuple[str, ...],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    _refused(capsys, tmp_path, *needles)


@pytest.mark.parametrize(
    "url",
    [f"https://trader:{SECRET}@openrouter.ai/api/v1", f"http://{SECRET}@127.0.0.1:9/api"],
)
def test_base_url_with_credentials_is_refused_without_echoing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_OPENROUTER_BASE_URL", url)
    line = _refused(capsys, tmp_path, "LYRA_OPENROUTER_BASE_URL", "user or password")
    assert SECRET not in line
    assert "trader" not in line


def test_redis_url_password_is_never_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_REDIS_URL", f"redis://:{SECRET}@127.0.0.1:99999/0")
    assert SECRET not in _refused(capsys, tmp_path, "LYRA_REDIS_URL")


@pytest.mark.parametrize("where", ["home", "parent"])
def test_home_that_is_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    monkeypatch.chdir(tmp_path)
    occupied = tmp_path / "occupied"
    occupied.write_text("not a folder\n", encoding="utf-8")
    home = occupied if where == "home" else occupied / "lyra"
    monkeypatch.setenv("LYRA_HOME", str(home))
    _refused(capsys, tmp_path, "LYRA_HOME", "a file, not a folder")
    assert occupied.read_text(encoding="utf-8") == "not a folder\n"


def test_misspelt_name_in_dotenv_is_refused_with_a_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LYRA_PHASE=3\nLYRA_SYMBLOS=ETH/USD\n", encoding="utf-8")
    _refused(capsys, tmp_path, "unknown setting LYRA_SYMBLOS in .env", "did you mean LYRA_SYMBOLS")


def test_bad_value_in_dotenv_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LYRA_SYMBOLS=BTC/USD,BTC/USD\n", encoding="utf-8")
    _refused(capsys, tmp_path, "LYRA_SYMBOLS", "listed twice")


def test_dotenv_that_is_not_utf8_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """As a user meets it: ``python -m lyra.cli run`` in a folder whose .env is Latin-1."""
    (tmp_path / ".env").write_bytes(
        "LYRA_PHASE=3\n# r\xe9sum\xe9 of my settings\n".encode("latin-1")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYRA_")}
    done = subprocess.run(
        [sys.executable, "-m", "lyra.cli", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert f"{tmp_path / '.env'} is not utf-8 text (line 2)" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def test_good_values_still_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lyra.config import load_settings

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("lyra_phase=4\nOTHER_TOOL_SETTING=1\n", encoding="utf-8")
    settings = load_settings(
        openrouter_base_url="http://127.0.0.1:8080/api/v1",
        redis_url="unix:///run/redis.sock",
        tier_shares="premium=0.5,fast=0.5",
        home=tmp_path / "new" / "home",
    )
    assert settings.phase == 4
    assert settings.redis_url == "unix:///run/redis.sock"
    assert load_settings(redis_url="").redis_url is None  # empty: no Redis
    assert load_settings(redis_url="rediss://:pw@cache.local:6380/2").redis_url
