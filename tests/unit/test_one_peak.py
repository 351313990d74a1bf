"""One peak (issue 14): the portfolio report's peak and the kill switch's high-water mark
are one figure, by one definition (lyra.risk.killswitch.running_peak), on the same data.

Before: the guard's kill switch saw the funded 25,000 while the account's first snapshot
came after the fill's fees (24,967.49), so the report said one peak and the switch another.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from lyra.risk.killswitch import running_peak
from lyra.services import market_cycle, pre_trade
from lyra.services.runtime import Runtime
from lyra.services.trade_decision import take_decision
from lyra.store.accounts import value_account
from lyra.store.killswitch import killswitch_state
from tests.unit.test_services_on_fakes import _cycle, runtime  # noqa: F401 (the fixture)


def test_running_peak_is_the_highest_equity_observed() -> None:
    assert running_peak(None, Decimal(25_000)) == Decimal(25_000)
    assert running_peak(Decimal(25_000), Decimal("24967.49")) == Decimal(25_000)
    assert running_peak(Decimal(100), Decimal(90), Decimal(120)) == Decimal(120)


def test_the_reports_peak_and_the_kill_switchs_agree_after_a_paper_trade(
    runtime: Runtime,  # noqa: F811
) -> None:
    async def scenario() -> tuple[Decimal, Decimal]:
        cycle = await _cycle(runtime)
        data = await market_cycle.fetch_market_data(runtime, cycle, "fakex", "BTC/USD")
        snapshot = market_cycle.build_snapshot(data)
        votes = await market_cycle.gather_votes(runtime, snapshot, cycle.cycle_id)
        decision = market_cycle.decide_and_record(runtime, cycle, snapshot, votes)
        context = pre_trade.start(runtime)
        guarded = await pre_trade.guard(runtime, context)
        outcome = await take_decision(runtime, context, decision.decision_id)
        assert outcome.status == "filled"
        assert outcome.fee > 0
        summary = await pre_trade.finish(runtime, context, [outcome], guard_result=guarded)
        return summary.equity, summary.peak_equity

    equity, reported = asyncio.run(scenario())
    with runtime.database.transaction() as session:
        portfolio = value_account(session, "paper").peak_equity
        switch = killswitch_state(session).high_water
    assert equity < Decimal(25_000)  # the fill's fee is paid
    assert reported == portfolio == switch == Decimal(25_000)
