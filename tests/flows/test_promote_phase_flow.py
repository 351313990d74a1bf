"""The promote-phase flow on the Prefect engine: demotion at once, a promotion that is not
ready (or below an evidence floor), and a live promotion a person rejects in the pause
form, which shows the paper record against the floors. (The approved promotion runs end to
end against a real server in tests/e2e.)"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import PrefectHTTPStatusError
from sqlalchemy import select

from flows.promote_phase import ApprovalInput, promote_phase
from lyra import bootstrap
from lyra.config import Settings, load_settings
from lyra.services.promotion import REFUSED
from lyra.store.cycles import finish_cycle, start_cycle
from lyra.store.models import AuditRecord
from lyra.store.phase_changes import current_phase
from tests.support.evidence import seed_good_paper_record

FAR = 7 * 86_400


@pytest.fixture
def lyra_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    yield
    bootstrap.dispose_all()


def _events() -> list[tuple[str, dict[str, object]]]:
    with bootstrap.open_database(load_settings()).transaction() as session:
        rows = session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars()
        return [(r.event, dict(r.payload)) for r in rows if r.event.startswith("phase.")]


async def test_demotion_is_recorded_at_once_without_checks(
    lyra_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_PHASE", "3")
    result = await promote_phase(target_phase=1, reason="bad fills")
    assert result.outcome == "demoted"
    assert result.checks == []
    with bootstrap.open_database(load_settings()).transaction() as session:
        change = current_phase(session)
    assert change is not None
    assert (change.from_phase, change.to_phase, change.reason) == (3, 1, "bad fills")


async def test_a_promotion_that_is_not_ready_ends_named_not_ready(lyra_env: None) -> None:
    state = await promote_phase(target_phase=2, return_state=True)
    assert state.is_completed()
    assert state.name == "NotReady"
    assert "flows complete end to end: 0 completed" in (state.message or "")
    result = await state.result()
    assert result.outcome == "not_ready"
    assert [event for event, _ in _events()] == [REFUSED]


def _in_phase_3(*, evidence: bool) -> Settings:
    """A completed paper cycle and, with ``evidence``, a paper record above every floor
    (a month before the replay clock, so its decisions have resolved by then)."""
    settings = load_settings()
    database = bootstrap.open_database(settings)
    with database.transaction() as session:
        cycle = start_cycle(
            session,
            flow="market-analysis",
            phase=3,
            threshold=Decimal("0.80"),
            as_of=settings.replay_start,
        )
        finish_cycle(session, cycle, "completed")
    if evidence:
        seed_good_paper_record(database, settings.replay_start - timedelta(days=30))
    return settings


async def test_a_live_promotion_without_a_paper_record_is_refused_by_name(
    lyra_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_PHASE", "3")
    _in_phase_3(evidence=False)
    state = await promote_phase(target_phase=4, return_state=True)
    assert state.name == "NotReady"
    assert "evidence_days_traded: no track record of phase 3 (paper)" in (state.message or "")
    result = await state.result()
    assert result.evidence is not None
    assert result.evidence["record"] is None
    events = _events()
    assert [event for event, _ in events] == [REFUSED]
    assert events[0][1]["evidence"]["floors"]["min_days_traded"] == 14


async def _approval_form(run_id: object) -> str:
    """The description the UI shows above the approval form of a paused run."""
    deadline = time.monotonic() + 60
    async with get_client() as client:
        while time.monotonic() < deadline:
            run = await client.read_flow_run(run_id)  # type: ignore[arg-type]
            keys = run.state.state_details.run_input_keyset if run.state else None
            if keys:
                try:
                    raw = await client.read_flow_run_input(run.id, keys["description"])
                except PrefectHTTPStatusError:  # saved just after the pause: not yet
                    raw = ""
                if raw:
                    return str(json.loads(raw))
            await asyncio.sleep(0.5)
    pytest.fail("the approval form has no description")


async def _paused_run_id() -> object:
    deadline = time.monotonic() + 60
    async with get_client() as client:
        while time.monotonic() < deadline:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                )
            )
            if runs:
                return runs[0].id
            await asyncio.sleep(0.5)
    pytest.fail("the promotion never paused for approval")


async def test_a_live_promotion_waits_for_a_person_who_may_reject_it(
    lyra_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_PHASE", "3")
    settings = _in_phase_3(evidence=True)
    running = asyncio.create_task(
        promote_phase(target_phase=4, approval_timeout_s=FAR, return_state=True)
    )
    run_id = await _paused_run_id()
    assert not running.done()
    form = await _approval_form(run_id)
    assert "Track record of phase 3 (paper), 2018-12-02 to 2018-12-17" in form
    assert "| evidence_days_traded | yes | days traded 15 at least the floor 14" in form
    assert "| evidence_hit_rate | yes | hit rate 1.00 at least the floor 0.50" in form
    async with get_client() as client:
        await client.resume_flow_run(
            run_id,  # type: ignore[arg-type]
            run_input=ApprovalInput(
                approved_by="Sam Risk", reason="drawdown too close", approve=False
            ).model_dump(),
        )
    state = await asyncio.wait_for(running, timeout=60)
    assert state.name == "Rejected"
    result = await state.result()
    assert (result.outcome, result.approved_by) == ("rejected", "Sam Risk")
    events = _events()
    assert [event for event, _ in events] == [REFUSED]
    assert events[0][1]["decided_by"] == "Sam Risk"
    with bootstrap.open_database(settings).transaction() as session:
        assert current_phase(session) is None


async def test_a_demotion_during_the_wait_stops_the_approved_promotion(
    lyra_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_PHASE", "3")
    settings = _in_phase_3(evidence=True)
    running = asyncio.create_task(
        promote_phase(target_phase=4, approval_timeout_s=FAR, return_state=True)
    )
    run_id = await _paused_run_id()
    demoted = await promote_phase(target_phase=2, reason="fills look wrong")
    assert demoted.outcome == "demoted"
    async with get_client() as client:
        await client.resume_flow_run(
            run_id,  # type: ignore[arg-type]
            run_input={"approved_by": "Alex", "reason": "looked fine", "approve": True},
        )
    state = await asyncio.wait_for(running, timeout=60)
    assert state.name == "NotReady"
    assert "changed from 3 to 2 while waiting" in (state.message or "")
    with bootstrap.open_database(settings).transaction() as session:
        change = current_phase(session)
    assert change is not None
    assert change.to_phase == 2
