"""Budget gates in the database, on SQLite and PostgreSQL: reserve until exhausted, settle,
release, expiry counted as spent, caps following the policy, the UTC day boundary, and
eight processes spending against one small budget without ever exceeding it."""

from __future__ import annotations

import multiprocessing
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lyra.errors import BudgetExhaustedError, InvariantError, RetryableError
from lyra.spend.budget import NANO_USD, BudgetPolicy, charge_nusd
from lyra.store.budget import (
    ScopeExhaustedError,
    expire_stale,
    release,
    reserve,
    settle,
)
from lyra.store.budget_report import spend_by_key, spend_by_model, spend_by_scope
from lyra.store.db import Database
from lyra.store.gateway_tables import BudgetCounterRow, BudgetReservationRow
from tests.support.processes import collect_reports

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = date(2025, 6, 1)
TTL = timedelta(minutes=5)
SMALL = BudgetPolicy(daily_total_usd=Decimal("1"))  # premium 0.40, advanced 0.35, fast 0.10


def _reserve(
    db: Database,
    amount: str,
    *,
    policy: BudgetPolicy = SMALL,
    tier: str = "premium",
    key: str | None = "flows",
    now: datetime = NOW,
    model: str = "m/premium",
    ttl: timedelta = TTL,
) -> str:
    with db.transaction() as session:
        return reserve(
            session,
            policy,
            now=now,
            tier=tier,
            key_alias=key,
            model=model,
            task="technical",
            amount_usd=Decimal(amount),
            ttl=ttl,
        ).id


def _counters(db: Database, day: date = DAY) -> dict[str, tuple[int, int, int]]:
    """scope -> (cap, reserved, spent) in nano-dollars."""
    with db.transaction() as session:
        rows = session.execute(select(BudgetCounterRow).where(BudgetCounterRow.day == day))
        return {r.scope: (r.cap_nusd, r.reserved_nusd, r.spent_nusd) for r in rows.scalars()}


def _n(usd: str) -> int:
    return int(Decimal(usd) * NANO_USD)


def _assert_counters_match_reservations(session: Session, day: date) -> None:
    """spent = sum of settled amounts, reserved = sum of open holds, for every scope."""
    rows = session.execute(select(BudgetReservationRow).where(BudgetReservationRow.day == day))
    reservations = list(rows.scalars())
    counters = session.execute(select(BudgetCounterRow).where(BudgetCounterRow.day == day))
    for counter in counters.scalars():
        mine = [r for r in reservations if counter.scope in r.scopes]
        assert counter.spent_nusd == sum(r.settled_nusd or 0 for r in mine), counter.scope
        assert counter.reserved_nusd == sum(
            r.amount_nusd for r in mine if r.status == "reserved"
        ), counter.scope


def test_reserve_until_the_tier_is_exhausted_and_the_error_names_it(db: Database) -> None:
    _reserve(db, "0.15")
    _reserve(db, "0.15")
    before = _counters(db)
    with pytest.raises(ScopeExhaustedError) as caught:
        _reserve(db, "0.15")
    assert str(caught.value) == (
        "tier:premium budget exhausted: 0.30 of 0.40 USD used, this call needs up to 0.15"
    )
    assert isinstance(caught.value, BudgetExhaustedError)
    assert caught.value.scope == "tier:premium"
    assert caught.value.scopes == ("tier:premium",)
    assert _counters(db) == before  # a refused reservation moves nothing
    _reserve(db, "0.10")  # exactly up to the cap still fits
    assert _counters(db)["tier:premium"] == (_n("0.40"), _n("0.40"), 0)
    assert _counters(db)["total"] == (_n("1"), _n("0.40"), 0)


def test_the_total_is_named_first_when_it_is_exhausted_too(db: Database) -> None:
    policy = BudgetPolicy(
        daily_total_usd=Decimal("0.10"),
        tier_shares={"premium": Decimal("0.5"), "fast": Decimal("0.5")},
    )
    _reserve(db, "0.05", policy=policy, tier="fast")
    _reserve(db, "0.04", policy=policy, tier="premium")
    with pytest.raises(ScopeExhaustedError) as caught:
        _reserve(db, "0.02", policy=policy, tier="premium")
    assert caught.value.scope == "total"
    assert caught.value.scopes == ("total", "tier:premium")
    assert "0.09 of 0.10 USD used" in str(caught.value)


def test_settle_records_the_real_cost_and_a_repeat_changes_nothing(db: Database) -> None:
    rid = _reserve(db, "0.10")
    with db.transaction() as session:
        first = settle(session, rid, Decimal("0.0412345678"), NOW)  # rounds up to nano
    assert first.spent_usd == Decimal("0.041234568")
    assert first.reserved_usd == Decimal("0.10")
    assert not first.over_reservation
    assert not first.replayed
    assert _counters(db)["tier:premium"] == (_n("0.40"), 0, 41_234_568)
    with db.transaction() as session:
        again = settle(session, rid, Decimal("0.09"), NOW)
    assert again.replayed
    assert again.spent_usd == first.spent_usd
    assert _counters(db)["tier:premium"] == (_n("0.40"), 0, 41_234_568)
    with db.transaction() as session:
        _assert_counters_match_reservations(session, DAY)


def test_a_cost_above_the_reservation_is_recorded_and_flagged(db: Database) -> None:
    rid = _reserve(db, "0.39")
    with db.transaction() as session:
        result = settle(session, rid, Decimal("0.45"), NOW)
    assert result.over_reservation
    # money was spent: counted even past the cap, and nothing more fits afterwards
    assert _counters(db)["tier:premium"] == (_n("0.40"), 0, _n("0.45"))
    with pytest.raises(ScopeExhaustedError, match=r"0\.45 of 0\.40 USD used"):
        _reserve(db, "0.000000001")


def test_release_gives_the_hold_back_once_and_never_undoes_a_settle(db: Database) -> None:
    rid = _reserve(db, "0.30")
    with db.transaction() as session:
        assert release(session, rid, NOW) is True
        assert release(session, rid, NOW) is False
    assert _counters(db)["tier:premium"] == (_n("0.40"), 0, 0)
    settled = _reserve(db, "0.30")
    with db.transaction() as session:
        settle(session, settled, Decimal("0.20"), NOW)
        assert release(session, settled, NOW) is False
    assert _counters(db)["tier:premium"] == (_n("0.40"), 0, _n("0.20"))
    with db.transaction() as session:
        _assert_counters_match_reservations(session, DAY)


def test_unknown_reservation_is_an_invariant_error(db: Database) -> None:
    with pytest.raises(InvariantError, match="does not exist"), db.transaction() as session:
        settle(session, "no-such-id", Decimal("0.01"), NOW)


def test_a_key_cap_stricter_than_the_tier_binds_only_that_key(db: Database) -> None:
    policy = BudgetPolicy(key_caps_usd={"flows": Decimal("0.05")})  # premium cap is 80
    _reserve(db, "0.03", policy=policy, key="flows")
    with pytest.raises(ScopeExhaustedError) as caught:
        _reserve(db, "0.03", policy=policy, key="flows")
    assert caught.value.scope == "key:flows"
    assert "key:flows budget exhausted: 0.03 of 0.05 USD used" in str(caught.value)
    _reserve(db, "0.03", policy=policy, key="other")  # an uncapped key: tier and total only
    counters = _counters(db)
    assert counters["key:flows"][1] == _n("0.03")
    assert counters["tier:premium"][1] == _n("0.06")
    assert "key:other" not in counters


def test_expired_reservations_count_as_spent_in_full_until_settled(db: Database) -> None:
    rid = _reserve(db, "0.10", ttl=timedelta(minutes=1))
    kept = _reserve(db, "0.05", ttl=timedelta(minutes=10))
    with db.transaction() as session:
        assert expire_stale(session, NOW + timedelta(seconds=30)) == 0
        assert expire_stale(session, NOW + timedelta(minutes=2)) == 1
        assert expire_stale(session, NOW + timedelta(minutes=3)) == 0
        status = session.get(BudgetReservationRow, rid)
        assert status is not None
        assert status.status == "expired"
    assert _counters(db)["tier:premium"] == (_n("0.40"), _n("0.05"), _n("0.10"))
    with db.transaction() as session:  # the slow process reports after all
        late = settle(session, rid, Decimal("0.03"), NOW + timedelta(minutes=4))
        settle(session, kept, Decimal("0.01"), NOW + timedelta(minutes=4))
        _assert_counters_match_reservations(session, DAY)
    assert not late.replayed
    assert _counters(db)["tier:premium"] == (_n("0.40"), 0, _n("0.04"))


def test_caps_follow_the_policy_in_force(db: Database) -> None:
    rid = _reserve(db, "0.10")
    with db.transaction() as session:
        settle(session, rid, Decimal("0.10"), NOW)
    halved = BudgetPolicy(daily_total_usd=Decimal("0.5"))  # premium 0.20
    with pytest.raises(ScopeExhaustedError, match=r"0\.10 of 0\.20 USD used"):
        _reserve(db, "0.15", policy=halved)
    # the refused attempt rolled back, the next accepted one stores the new caps
    _reserve(db, "0.05", policy=halved)
    assert _counters(db)["tier:premium"][0] == _n("0.20")
    assert _counters(db)["total"][0] == _n("0.5")
    _reserve(db, "0.15", policy=SMALL)  # raised back to 0.40: fits again
    assert _counters(db)["tier:premium"] == (_n("0.40"), _n("0.20"), _n("0.10"))


def test_a_new_utc_day_has_a_fresh_budget(db: Database) -> None:
    late = datetime(2025, 6, 1, 23, 59, 59, tzinfo=UTC)
    rid = _reserve(db, "0.40", now=late)
    with pytest.raises(ScopeExhaustedError):
        _reserve(db, "0.01", now=late)
    next_day = datetime(2025, 6, 2, 0, 0, 1, tzinfo=UTC)
    _reserve(db, "0.40", now=next_day)
    with db.transaction() as session:  # settled after midnight: charged to its own day
        settle(session, rid, Decimal("0.25"), next_day)
    assert _counters(db, DAY)["tier:premium"] == (_n("0.40"), 0, _n("0.25"))
    assert _counters(db, date(2025, 6, 2))["tier:premium"] == (_n("0.40"), _n("0.40"), 0)


def test_spend_reports_by_scope_model_and_key(db: Database) -> None:
    policy = BudgetPolicy(daily_total_usd=Decimal("1"), key_caps_usd={"flows": Decimal("0.5")})
    a = _reserve(db, "0.10", policy=policy, model="m/a", key="flows")
    b = _reserve(db, "0.08", policy=policy, model="m/b", tier="fast", key="spare")
    c = _reserve(db, "0.05", policy=policy, model="m/a", key="flows")
    _reserve(db, "0.01", policy=policy, model="m/a", key="flows")
    with db.transaction() as session:
        settle(session, a, Decimal("0.07"), NOW)
        release(session, b, NOW)
        settle(session, c, Decimal("0.02"), NOW)
    with db.transaction() as session:
        scopes = {s.scope: s for s in spend_by_scope(session, DAY, policy)}
        models = spend_by_model(session, DAY)
        keys = spend_by_key(session, DAY)
    assert list(scopes) == sorted(scopes)
    assert scopes["key:flows"].spent_usd == Decimal("0.09")
    assert scopes["key:flows"].reserved_usd == Decimal("0.01")
    assert scopes["key:flows"].remaining_usd == Decimal("0.40")
    assert scopes["tier:fast"].spent_usd == 0
    assert scopes["tier:fast"].cap_usd == Decimal("0.1")
    assert scopes["tier:advanced"].cap_usd == Decimal("0.35")  # untouched, from the policy
    assert [(m.name, m.calls, m.reserved_usd, m.spent_usd) for m in models] == [
        ("m/a", 3, Decimal("0.01"), Decimal("0.09")),
        ("m/b", 0, Decimal(0), Decimal(0)),
    ]
    assert [(k.name, k.calls) for k in keys] == [("flows", 3), ("spare", 0)]


# --- eight processes against one small budget -----------------------------------------

WORKERS = 8
MISSES_TO_STOP = 6  # consecutive refusals before a worker gives up
MIN_RESERVE, MAX_RESERVE = Decimal("0.01"), Decimal("0.20")
RACE_POLICY_ARGS: dict[str, Any] = {
    "daily_total_usd": Decimal("25"),  # tier:premium 10.00 binds; key:flows 15, total 25
    "key_caps_usd": {"flows": Decimal("15")},
}
WORKER_DEADLINE_S = 40


def _spend_in_child(url: str, seed: int, go: Any, out: Any) -> None:
    policy = BudgetPolicy(**RACE_POLICY_ARGS)
    rng = random.Random(seed)
    database = Database.from_url(url)
    with database.engine.connect():
        pass  # connect before the start line
    go.wait(60)
    started = time.monotonic()
    misses = reserved = settled = released = refusals = busy = 0
    settled_sum = Decimal(0)
    intervals: list[tuple[float, float]] = []
    while misses < MISSES_TO_STOP and time.monotonic() - started < WORKER_DEADLINE_S:
        amount = Decimal(rng.randint(10_000_000, 200_000_000)).scaleb(-9)  # 0.01 .. 0.20
        try:
            with database.transaction() as session:
                r = reserve(
                    session,
                    policy,
                    now=NOW,
                    tier="premium",
                    key_alias="flows",
                    model=f"m/{seed % 3}",
                    task="race",
                    amount_usd=amount,
                    ttl=TTL,
                )
        except BudgetExhaustedError:
            misses += 1
            refusals += 1
            continue
        except RetryableError:
            busy += 1
            continue
        held_from = time.monotonic()
        misses = 0
        reserved += 1
        time.sleep(rng.random() * 0.002)  # "the call"
        with database.transaction() as session:
            if rng.random() < 0.2:
                release(session, r.id, NOW)
                released += 1
            else:
                actual = Decimal(rng.randint(0, charge_nusd(amount))).scaleb(-9)
                settle(session, r.id, actual, NOW)
                settled_sum += actual
                settled += 1
        intervals.append((held_from, time.monotonic()))
    out.put(
        {
            "seed": seed,
            "reserved": reserved,
            "settled": settled,
            "released": released,
            "refusals": refusals,
            "busy": busy,
            "gave_up": misses >= MISSES_TO_STOP,
            "settled_sum": str(settled_sum),
            "seconds": time.monotonic() - started,
            "intervals": intervals,
        }
    )
    database.dispose()


def _peak_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    peak = level = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def test_eight_processes_never_overspend_one_small_budget(db: Database) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    go, out = context.Event(), context.Queue()
    children = [
        context.Process(target=_spend_in_child, args=(url, seed, go, out))
        for seed in range(WORKERS)
    ]
    t0 = time.monotonic()
    for child in children:
        child.start()
    go.set()
    results = collect_reports(out, children, timeout_s=WORKER_DEADLINE_S + 30)
    wall = time.monotonic() - t0
    assert [c.exitcode for c in children] == [0] * WORKERS

    policy = BudgetPolicy(**RACE_POLICY_ARGS)
    counters = _counters(db)
    for scope, (cap, held, spent) in counters.items():
        assert cap == policy.cap_nusd(scope)
        assert spent + held <= cap, f"{scope} overspent: {spent + held} > {cap}"
        assert held == 0  # every worker settled or released what it held
    with db.transaction() as session:
        _assert_counters_match_reservations(session, DAY)
    # the workers' own account of what they settled agrees to the nano-dollar
    claimed = sum((Decimal(r["settled_sum"]) for r in results), Decimal(0))
    assert counters["tier:premium"][2] == charge_nusd(claimed)
    # the budget was really fought over and used up, not merely left alone
    assert all(r["gave_up"] for r in results), "a worker hit its deadline"
    binding = counters["tier:premium"]
    assert binding[2] >= binding[0] - charge_nusd(MAX_RESERVE)
    peak = _peak_overlap([tuple(i) for r in results for i in r["intervals"]])
    assert peak >= 2, "no two reservations were ever held at once"
    print(  # shown with pytest -s: timings for the report
        f"\n[{db.dialect}] {WORKERS} workers, wall {wall:.1f}s, "
        f"work {max(r['seconds'] for r in results):.1f}s, "
        f"reservations {sum(r['reserved'] for r in results)}, "
        f"settled {sum(r['settled'] for r in results)}, "
        f"released {sum(r['released'] for r in results)}, "
        f"refusals {sum(r['refusals'] for r in results)}, busy {sum(r['busy'] for r in results)}, "
        f"peak holds at once {peak}, spent {binding[2] / NANO_USD} of {binding[0] / NANO_USD}"
    )
