"""Planted secrets never leave Lyra: a full run, the reports and the failures, grepped.

Known secrets are planted the ways a user gives them: two OpenRouter keys (one in the
environment, one in the encrypted keystore), an exchange API key and secret, the keystore
passphrase and a TFN (sealed into the entity file by ``lyra tax seal-tfn``). The fake
OpenRouter on 127.0.0.1 is made hostile: some of its error answers echo a key back, as a
careless provider or proxy might, a 402 among them whose text becomes a disabled key's
stored reason (exchange errors echoing a key are covered through ccxt's own parsers in
tests/unit/test_ccxt_exchange.py). Then the main job (``lyra run -v``, with the LLM panel
on the production database, PostgreSQL) and the reporting commands run as a user runs
them, and a few commands are made to fail with secrets in their input.

Every output is then searched for every secret: standard output and error of every
command (exception texts included), every file under the Lyra home, the Prefect home
(the temporary server's database, which holds the flow logs and the artifacts) and the
working directory, and a ``pg_dump`` of Lyra's database in clear. The TFN is also looked
for in its spaced form. docs/domain.md, "Secrets"; docs/tax.md, "Identifiers".
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.fake_openrouter import FakeKey, FakeOpenRouter, Fault
from tests.support.prefect_home import seed_prefect_home

ROOT = Path(__file__).resolve().parents[2]
LYRA = str(Path(sys.executable).with_name("lyra"))
RUN_TIMEOUT_S = 420

ENV_KEY = "sk-or-v1-planted0env0key0c0ffee0000000000000000000000000000000000a1"
STORED_KEY = "sk-or-v1-planted0keystore0key0beef00000000000000000000000000000000b2"
EXCHANGE_KEY = "PlantedExchangeApiKey4n9QzW7"
EXCHANGE_SECRET = "PlantedExchangeSecret8kR2mV5xT0"
PASSPHRASE = "planted-passphrase-Hq3Zr81"
TFN = "876543210"  # passes the ATO check digit (weights 1,4,3,7,5,8,6,9,10)

SECRETS: Mapping[str, str] = {
    "OpenRouter key (environment)": ENV_KEY,
    "OpenRouter key (keystore)": STORED_KEY,
    "exchange API key": EXCHANGE_KEY,
    "exchange secret": EXCHANGE_SECRET,
    "keystore passphrase": PASSPHRASE,
    "TFN": TFN,
    "TFN (spaced)": "876 543 210",
}


@dataclass
class Outputs:
    """Everything the commands printed, by command."""

    texts: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, done: subprocess.CompletedProcess[str]) -> None:
        self.texts[name] = done.stdout + "\n" + done.stderr


def _leaks(blob: bytes) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret.encode() in blob]


def _files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and ".venv" not in path.parts:
                yield path


@pytest.fixture
def hostile_openrouter() -> Iterator[FakeOpenRouter]:
    from lyra.spend.catalog import load_catalog
    from tests.support.fake_openrouter import FakeModel

    models = [
        FakeModel(model_id, price.prompt, price.completion, price.request)
        for model_id, price in load_catalog().models.items()
    ]
    keys = {
        ENV_KEY: FakeKey(label="sk-or-v1-pla...0a1"),
        STORED_KEY: FakeKey(label="sk-or-v1-pla...0b2"),
    }
    with FakeOpenRouter(models=models, keys=keys, fault_rate=0.2, seed=7) as server:
        # Errors that echo a key back, as a careless provider or proxy might.
        server.script(
            Fault.http(429, retry_after="0", message=f"rate limited for key {ENV_KEY}"),
            Fault.in_200(502, message=f"upstream refused {STORED_KEY}"),
            Fault.http(503, message=f"overloaded; your key {ENV_KEY} will be retried"),
            # a 402 naming both keys: its text becomes a key's stored disable reason
            Fault.http(402, message=f"no credits left on {STORED_KEY} (also {ENV_KEY})"),
        )
        yield server


def _environment(
    tmp_path: Path, postgres_url: str, fake: FakeOpenRouter, prefect_db: Path
) -> dict[str, str]:
    # The run's temporary Prefect server keeps its database (flow logs, artifacts) in the
    # Prefect home searched below; it starts from a copy of the migrated empty database.
    seed_prefect_home(tmp_path / "prefect-home", prefect_db)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LYRA_", "PREFECT_"))}
    env.update(
        {
            "HOME": str(tmp_path / "user"),
            "LYRA_HOME": str(tmp_path / "lyra-home"),
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
            "LYRA_DATABASE_URL": postgres_url,
            "LYRA_LLM_PROVIDER": "openrouter",
            "LYRA_OPENROUTER_BASE_URL": fake.base_url,
            "LYRA_OPENROUTER_API_KEYS": f"main={ENV_KEY}",
            "LYRA_KEYSTORE_PASSPHRASE": PASSPHRASE,
            "LYRA_EXCHANGE_CREDENTIALS": f"binance={EXCHANGE_KEY}:{EXCHANGE_SECRET}",
        }
    )
    (tmp_path / "user").mkdir()
    return env


def _lyra(
    args: list[str], env: Mapping[str, str], cwd: Path, *, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LYRA, *args],
        cwd=cwd,
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def _entity_with_sealed_tfn(env: Mapping[str, str], work: Path, outputs: Outputs) -> Path:
    sealed = _lyra(["tax", "seal-tfn"], env, work, stdin=f"{TFN}\n")
    outputs.add("tax seal-tfn", sealed)
    assert sealed.returncode == 0, sealed.stderr
    shipped = (ROOT / "lyra" / "compliance" / "data" / "entity.yaml").read_text("utf-8")
    entity = work / "entity.yaml"
    block = "\n".join(line for line in sealed.stdout.splitlines() if not line.startswith("#"))
    entity.write_text(shipped.rstrip("\n") + "\n" + block + "\n", encoding="utf-8")
    return entity


def test_no_planted_secret_reaches_any_output_of_a_full_run(
    tmp_path: Path,
    postgres_url: str,
    hostile_openrouter: FakeOpenRouter,
    prefect_database_template: Path,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = _environment(tmp_path, postgres_url, hostile_openrouter, prefect_database_template)
    outputs = Outputs()

    stored = _lyra(["keys", "set", "spare"], env, work, stdin=f"{STORED_KEY}\n")
    outputs.add("keys set", stored)
    assert stored.returncode == 0, stored.stderr
    env["LYRA_TAX_ENTITY_FILE"] = str(_entity_with_sealed_tfn(env, work, outputs))

    main_job = _lyra(["run", "-v"], env, work)
    outputs.add("run -v", main_job)
    assert main_job.returncode == 0, main_job.stdout[-3000:] + main_job.stderr[-3000:]
    served = hostile_openrouter.chat_requests()
    assert served, "the LLM panel never called the provider: the run did not use the keys"
    used = {r.headers.get("Authorization", "") for r in served}
    assert f"Bearer {ENV_KEY}" in used  # the planted keys really went out (and only there)

    for args in (
        ["keys", "list"],
        ["keys", "status"],
        ["status"],
        ["decisions"],
        ["portfolio"],
        ["audit", "verify"],
        ["tax", "report"],
        ["budget"],
    ):
        outputs.add(" ".join(args), _lyra(args, env, work))

    # Failures with secrets in their input: the error names the setting, not the value.
    failing = {
        "malformed exchange credentials": {
            "LYRA_EXCHANGE_CREDENTIALS": f"binance {EXCHANGE_KEY}{EXCHANGE_SECRET}"
        },
        "credentials in the base URL": {
            "LYRA_OPENROUTER_BASE_URL": f"http://user:{EXCHANGE_SECRET}@127.0.0.1:9/api/v1"
        },
        "wrong passphrase": {"LYRA_KEYSTORE_PASSPHRASE": PASSPHRASE[::-1]},
    }
    for name, overrides in failing.items():
        done = _lyra(["run"], {**env, **overrides}, work)
        outputs.add(name, done)
        assert done.returncode != 0, f"{name}: the run was expected to fail"
        assert "Traceback" not in done.stderr, f"{name}: a traceback:\n{done.stderr[-2500:]}"

    leaks = {name: _leaks(text.encode()) for name, text in outputs.texts.items()}
    assert {k: v for k, v in leaks.items() if v} == {}

    in_files = {
        str(path.relative_to(tmp_path)): found
        for path in _files(tmp_path / "lyra-home", tmp_path / "prefect-home", work)
        if (found := _leaks(path.read_bytes()))
    }
    assert in_files == {}
    # the run's Prefect database, searched above, holds its flow runs and their logs
    with contextlib.closing(sqlite3.connect(tmp_path / "prefect-home" / "prefect.db")) as pdb:
        (flow_runs,) = pdb.execute("SELECT count(*) FROM flow_run").fetchone()
        (log_lines,) = pdb.execute("SELECT count(*) FROM log").fetchone()
    assert flow_runs > 0
    assert log_lines > 0

    dump = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", postgres_url.replace("+psycopg", "")],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    assert b"vote_journal" in dump or b"COPY" in dump  # a real dump of a written database
    assert _leaks(dump) == []
