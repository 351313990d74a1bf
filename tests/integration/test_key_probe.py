"""The life of a key against a fake OpenRouter on 127.0.0.1 (real wire format): a 402
disables it with its reason (audited, logged), the probe waits for the cool-down, then
asks ``GET /api/v1/key`` and enables the key again when the provider reports credit, or
leaves it disabled (0 left: asked again later; 401: a person must look). Nothing secret
is stored, audited or logged. docs/domain.md, "LLM gateway"."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from lyra.decision.ballots import VOTE_ANSWER
from lyra.llm.key_probe import key_troubles, probe_due_keys
from lyra.llm.keys import KeySpec
from lyra.openrouter.client import OpenRouterClient
from lyra.store.audit_trust import AuditTrust, bind_audit_trust
from lyra.store.db import Database
from lyra.store.key_status import (
    claim_due_probes,
    disable_key,
    enable_key,
    key_states,
)
from lyra.store.models import AuditRecord
from tests.integration.test_gateway import ALL_TIERS, MESSAGES, make_gateway
from tests.support.fake_openrouter import DEFAULT_KEY, FakeKey, FakeOpenRouter, Fault

COOLDOWN = timedelta(minutes=15)
MAIN = KeySpec("main", SecretStr(DEFAULT_KEY), ALL_TIERS, None, "env")


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter() as server:
        yield server


@pytest.fixture
async def client(fake: FakeOpenRouter) -> AsyncIterator[OpenRouterClient]:
    async with OpenRouterClient(fake.base_url, timeout_s=5) as opened:
        yield opened


def audit(db: Database, event: str) -> list[AuditRecord]:
    with db.transaction() as session:
        query = select(AuditRecord).where(AuditRecord.event == event).order_by(AuditRecord.seq)
        return list(session.execute(query).scalars())


def key_requests(fake: FakeOpenRouter) -> int:
    return sum(1 for r in fake.requests if r.path == "/api/v1/key")


def disabled_at(db: Database, cause: int = 402, alias: str = "main") -> datetime:
    """Disable ``alias`` as the gateway does on a ``cause`` answer; when it happened."""
    kind = {402: "payment", 401: "auth"}[cause]
    moment = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with db.transaction() as session:
        reason = f"{kind} ({cause}): HTTP {cause}: Insufficient credits"
        assert disable_key(session, alias, reason, moment, kind=kind, status=cause)
    return moment


async def test_a_402_disables_the_key_with_its_reason_audited_and_logged(
    db: Database,
    fake: FakeOpenRouter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the audit key bound to the database only (as lyra.bootstrap.open_database does):
    # the gateway's writer thread must seal the record with it
    monkeypatch.delenv("LYRA_AUDIT_KEY_FILE")
    bind_audit_trust(db, AuditTrust(tmp_path / "chain.key"))
    fake.script(Fault.http(402))
    with caplog.at_level(logging.WARNING, logger="lyra"):
        outcome = await make_gateway(db, fake).ask(
            spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=MESSAGES
        )
    assert outcome.value is None
    with db.transaction() as session:
        state = key_states(session)["main"]
    assert state.disabled
    assert (state.kind, state.http_status) == ("payment", 402)
    assert (state.reason or "").startswith("payment (402): HTTP 402")
    assert state.next_probe(COOLDOWN) == state.disabled_at + COOLDOWN  # type: ignore[operator]
    [record] = audit(db, "key.disabled")
    assert record.subject == "main"
    assert record.payload["kind"] == "payment"
    assert record.payload["http_status"] == 402
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith("key main disabled (payment)") for w in warnings)
    for text in (str(record.payload), state.reason or "", *warnings):
        assert DEFAULT_KEY not in text


async def test_a_second_402_in_flight_neither_audits_again_nor_moves_the_probe(
    db: Database,
) -> None:
    first = disabled_at(db)
    with db.transaction() as session:
        again = disable_key(
            session, "main", "payment (402): again", first + timedelta(1), kind="payment"
        )
        state = key_states(session)["main"]
    assert not again
    assert state.disabled_at == first
    assert len(audit(db, "key.disabled")) == 1


async def test_before_the_cooldown_the_key_is_not_probed_and_stays_disabled(
    db: Database, fake: FakeOpenRouter, client: OpenRouterClient
) -> None:
    since = disabled_at(db)
    early = since + COOLDOWN - timedelta(seconds=1)
    outcomes = await probe_due_keys(db, client, [MAIN], cooldown=COOLDOWN, now=early)
    assert outcomes == []
    assert key_requests(fake) == 0
    with db.transaction() as session:
        assert key_states(session)["main"].disabled


async def test_after_the_cooldown_credit_at_the_provider_enables_the_key_again(
    db: Database, client: OpenRouterClient, caplog: pytest.LogCaptureFixture
) -> None:
    since = disabled_at(db)
    async with FakeOpenRouter(
        keys={DEFAULT_KEY: FakeKey(limit=Decimal(100), usage=Decimal("1.5"))}
    ) as fake:
        async with OpenRouterClient(fake.base_url, timeout_s=5) as provider:
            with caplog.at_level(logging.WARNING, logger="lyra"):
                [outcome] = await probe_due_keys(
                    db, provider, [MAIN], cooldown=COOLDOWN, now=since + COOLDOWN
                )
        assert key_requests(fake) == 1
        gateway_answer = await make_gateway(db, fake).ask(
            spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=MESSAGES
        )
    assert outcome.enabled
    assert outcome.detail == "98.5 USD left of the key's 100 USD limit"
    with db.transaction() as session:
        state = key_states(session)["main"]
    assert not state.disabled
    assert state.last_status is not None
    assert state.last_status["limit_remaining"] == "98.5"
    [record] = audit(db, "key.reenabled")
    assert record.payload["by"] == "probe"
    assert record.payload["kind"] == "payment"
    assert gateway_answer.value is not None  # the key serves again
    assert any("key main enabled again by the probe" in r.getMessage() for r in caplog.records)
    assert all(DEFAULT_KEY not in r.getMessage() for r in caplog.records)


async def test_a_key_without_a_credit_limit_is_enabled_again(
    db: Database, fake: FakeOpenRouter, client: OpenRouterClient
) -> None:
    fake.keys[DEFAULT_KEY] = FakeKey(limit=None)
    since = disabled_at(db)
    [outcome] = await probe_due_keys(db, client, [MAIN], now=since + COOLDOWN)
    assert outcome.enabled
    assert outcome.detail.startswith("no credit limit on the key")


async def test_no_credit_left_keeps_the_key_disabled_and_asks_again_a_cooldown_later(
    db: Database, fake: FakeOpenRouter, client: OpenRouterClient
) -> None:
    fake.keys[DEFAULT_KEY] = FakeKey(limit=Decimal(10), usage=Decimal(10))
    since = disabled_at(db)
    probed = since + COOLDOWN + timedelta(minutes=3)
    [outcome] = await probe_due_keys(db, client, [MAIN], cooldown=COOLDOWN, now=probed)
    assert not outcome.enabled
    assert outcome.verdict == "keep"
    with db.transaction() as session:
        state = key_states(session)["main"]
    assert state.disabled
    assert state.disabled_at == since
    assert state.reason == (
        "payment (402) at the probe: the provider reports 0 USD left of the key's 10 USD limit"
    )
    assert state.next_probe(COOLDOWN) == probed + COOLDOWN
    assert audit(db, "key.reenabled") == []
    # not again before its next turn; then asked again
    assert await probe_due_keys(db, client, [MAIN], cooldown=COOLDOWN, now=probed) == []
    assert key_requests(fake) == 1
    later = await probe_due_keys(db, client, [MAIN], cooldown=COOLDOWN, now=probed + COOLDOWN)
    assert [o.verdict for o in later] == ["keep"]
    assert key_requests(fake) == 2
    [line] = key_troubles(db, COOLDOWN)
    assert line.startswith("key main disabled since 2026-03-01 09:00 UTC: payment (402)")
    assert "provider asked again after" in line


async def test_a_401_at_the_probe_leaves_the_key_to_a_person(
    db: Database, fake: FakeOpenRouter, client: OpenRouterClient
) -> None:
    fake.keys.clear()  # the provider no longer knows the key
    since = disabled_at(db)
    [outcome] = await probe_due_keys(db, client, [MAIN], cooldown=COOLDOWN, now=since + COOLDOWN)
    assert outcome.verdict == "invalid"
    assert not outcome.enabled
    with db.transaction() as session:
        state = key_states(session)["main"]
    assert (state.kind, state.http_status) == ("auth", 401)
    assert (state.reason or "").startswith("auth (401) at the probe")
    assert state.next_probe(COOLDOWN) is None
    assert "a person must enable it: lyra keys enable main" in state.describe(COOLDOWN)
    assert [r.payload["kind"] for r in audit(db, "key.disabled")] == ["payment", "auth"]
    much_later = since + 100 * COOLDOWN
    assert await probe_due_keys(db, client, [MAIN], cooldown=COOLDOWN, now=much_later) == []
    assert key_requests(fake) == 1


async def test_a_key_a_401_disabled_is_never_probed(
    db: Database, fake: FakeOpenRouter, client: OpenRouterClient
) -> None:
    since = disabled_at(db, cause=401)
    much_later = since + 100 * COOLDOWN
    assert await probe_due_keys(db, client, [MAIN], cooldown=COOLDOWN, now=much_later) == []
    assert key_requests(fake) == 0


async def test_an_unreachable_provider_keeps_the_reason_and_retries_a_cooldown_later(
    db: Database,
) -> None:
    since = disabled_at(db)
    async with FakeOpenRouter() as gone:
        base_url = gone.base_url  # nothing listens there once it stopped
    async with OpenRouterClient(base_url, timeout_s=2) as unreachable:
        now = since + COOLDOWN
        [outcome] = await probe_due_keys(db, unreachable, [MAIN], cooldown=COOLDOWN, now=now)
    assert outcome.verdict == "retry"
    with db.transaction() as session:
        state = key_states(session)["main"]
    assert state.reason == "payment (402): HTTP 402: Insufficient credits"
    assert state.next_probe(COOLDOWN) == now + COOLDOWN


async def test_a_key_this_process_does_not_hold_is_left_for_a_process_that_does(
    db: Database, fake: FakeOpenRouter, client: OpenRouterClient
) -> None:
    since = disabled_at(db, alias="other")
    assert await probe_due_keys(db, client, [MAIN], now=since + COOLDOWN) == []
    with db.transaction() as session:
        assert key_states(session)["other"].probe_after is None  # not claimed


def test_a_probe_is_claimed_once(db: Database) -> None:
    since = disabled_at(db)
    now = since + COOLDOWN
    with db.transaction() as session:
        assert [s.alias for s in claim_due_probes(session, now, COOLDOWN)] == ["main"]
    with db.transaction() as session:
        assert claim_due_probes(session, now, COOLDOWN) == []


def test_a_person_enables_a_key_audited_with_who_and_why(db: Database) -> None:
    since = disabled_at(db, cause=401)
    with db.transaction() as session:
        assert enable_key(session, "main", since + timedelta(hours=1), by="ann", note="rotated")
        assert not key_states(session)["main"].disabled
        assert not enable_key(session, "main", since + timedelta(hours=2), by="ann")
    [record] = audit(db, "key.enabled")
    assert record.payload["by"] == "ann"
    assert record.payload["note"] == "rotated"
    assert record.payload["kind"] == "auth"
    assert record.payload["reason"].startswith("auth (401)")


def test_the_upgrade_gives_keys_disabled_before_it_their_way_back(tmp_path: Path) -> None:
    """Keys a 402 disabled before revision 0011 (the reason only) are probed after it."""
    from alembic import command
    from sqlalchemy import text

    from lyra.store.migrate import _alembic_config, upgrade_to_head

    database = Database.from_url(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        with database.engine.begin() as connection:
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0010")
            for alias, reason in (
                ("credits", "payment (402): HTTP 402: Insufficient credits"),
                ("invalid", "auth (401): HTTP 401: User not found"),
            ):
                connection.execute(
                    text(
                        "INSERT INTO api_keys (alias, disabled_at, disabled_reason, updated_at)"
                        " VALUES (:alias, :at, :reason, :at)"
                    ),
                    {"alias": alias, "reason": reason, "at": "2026-03-01 09:00:00.000000"},
                )
        upgrade_to_head(database)
        with database.transaction() as session:
            states = key_states(session)
    finally:
        database.dispose()
    assert (states["credits"].kind, states["credits"].http_status) == ("payment", 402)
    assert states["credits"].probed
    assert (states["invalid"].kind, states["invalid"].http_status) == ("auth", 401)
    assert not states["invalid"].probed
