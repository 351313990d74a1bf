"""The strategy evidence and the walk-forward choice of the default panel (issue 16):
the choice reads only the selection window, and docs/strategies.md names every strategy."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from lyra.bootstrap import build_runtime
from lyra.config import load_settings
from lyra.decision.analysts import build_offline_panel
from lyra.decision.analysts.base import Analyst
from lyra.decision.analysts.registry import OFFLINE_ANALYSTS
from lyra.decision.votes import Action, AnalystKind, Ballot, MarketSnapshot, Vote
from lyra.exchanges.datafiles import FEEDS, read_candles
from lyra.services.backtest_plan import BacktestPlan
from lyra.services.strategy_selection import (
    SelectionRule,
    WalkForward,
    default_panel_toml,
    walk_forward,
)
from scripts.strategies_doc import render

# Ten days to choose on, the next ten to report on: a few hundred hourly candles each.
SELECT = (datetime(2019, 3, 1, tzinfo=UTC), datetime(2019, 3, 11, tzinfo=UTC))
REPORT = (datetime(2019, 3, 11, tzinfo=UTC), datetime(2019, 3, 21, tzinfo=UTC))
HORIZON = 24
RIGHT_IN_SELECTION = "planted:right-in-selection"
RIGHT_IN_REPORT = "planted:right-in-report"
REAL = ("offline:ema-trend", "offline:rsi-reversion")


def _closes() -> Mapping[datetime, float]:
    """Coinbase BTC/USD hourly closes by close time (the planted analysts' oracle)."""
    feed = next(f for f in FEEDS if f.exchange == "coinbase" and f.timeframe == "1h")
    candles = read_candles(feed)
    closes = pd.DatetimeIndex(candles["timestamp"]) + timedelta(hours=1)
    return dict(zip(closes.to_pydatetime(), candles["close"].astype(float), strict=True))


@dataclass(frozen=True)
class _Oracle:
    """Calls the move of the next ``HORIZON`` candles right inside ``[start, end)`` and
    exactly wrong outside it: perfect on one window only."""

    name: str
    start: datetime
    end: datetime
    closes: Mapping[datetime, float]
    weight: Decimal = Decimal(1)
    kind: AnalystKind = "offline"

    async def vote(self, snapshot: MarketSnapshot) -> Vote:
        now = self.closes[snapshot.as_of]
        later = self.closes.get(snapshot.as_of + timedelta(hours=HORIZON), now)
        rises = later > now
        if not self.start <= snapshot.as_of < self.end:
            rises = not rises
        action = Action.BUY if rises else Action.SELL
        ballot = Ballot(action, Decimal("0.9"), "planted", None)
        return Vote(self.name, "offline", self.weight, ballot)


def _panel_of(planted: Sequence[_Oracle]) -> object:
    by_name = {p.name: p for p in planted}

    def build(names: Sequence[str], weights: Mapping[str, Decimal]) -> list[Analyst]:
        return [
            replace(by_name[n], weight=weights[n])
            if n in by_name
            else OFFLINE_ANALYSTS[n].analyst_class(weights[n])
            for n in names
        ]

    return build


def _plan(window: tuple[datetime, datetime]) -> BacktestPlan:
    return BacktestPlan(
        start=window[0], end=window[1], exchanges=("coinbase",), symbols=("BTC/USD",)
    )


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> WalkForward:
    """Two registered strategies and the two planted ones, walked forward once (every
    registered one would be slower and prove nothing more here)."""
    home = tmp_path_factory.mktemp("lyra") / ".lyra"
    runtime = build_runtime(load_settings(home=home), phase=1)
    closes = _closes()
    planted = [
        _Oracle(RIGHT_IN_SELECTION, *SELECT, closes),
        _Oracle(RIGHT_IN_REPORT, *REPORT, closes),
    ]
    analysts = [*build_offline_panel(list(REAL)), *planted]
    return asyncio.run(
        walk_forward(
            runtime,
            analysts,
            selection_plan=_plan(SELECT),
            report_plan=_plan(REPORT),
            rule=SelectionRule(min_resolved=100),
            panel_of=_panel_of(planted),  # type: ignore[arg-type]
        )
    )


def test_a_strategy_right_only_in_the_report_window_is_not_chosen(walk: WalkForward) -> None:
    # planted right: it is perfect where the panel is judged, so only reading the report
    # window could choose it
    assert walk.report_evidence.figures[RIGHT_IN_REPORT].hit_rate == 1.0
    assert walk.selection_evidence.figures[RIGHT_IN_REPORT].hit_rate == 0.0
    assert RIGHT_IN_REPORT not in walk.selection.members
    verdict = next(c for c in walk.selection.candidates if c.name == RIGHT_IN_REPORT)
    assert "hit rate" in verdict.reason


def test_a_strategy_right_in_the_selection_window_is_chosen_at_its_learned_weight(
    walk: WalkForward,
) -> None:
    assert walk.selection_evidence.figures[RIGHT_IN_SELECTION].hit_rate == 1.0
    assert RIGHT_IN_SELECTION in walk.selection.members
    # a perfect record doubles the weight (the learned-weight ceiling)
    assert walk.selection.weights[RIGHT_IN_SELECTION] == Decimal(2)
    assert f'"{RIGHT_IN_SELECTION}" = "2' in default_panel_toml(walk.selection)
    # the chosen panel is backtested on both windows, the report window after the other
    assert walk.chosen.report_sweep is not None
    assert walk.chosen.selection_sweep is not None
    assert walk.chosen.report_sweep.plan.start >= walk.chosen.selection_sweep.plan.end


def test_every_strategy_is_measured_with_its_own_trading_figures(walk: WalkForward) -> None:
    for evidence in (walk.selection_evidence, walk.report_evidence):
        assert set(evidence.figures) == {*REAL, RIGHT_IN_SELECTION, RIGHT_IN_REPORT}
    # alone at 0.50 the oracle's calls trade through the paper broker (its 24-hour calls
    # flip hour by hour, so fees can still make it lose: no return is asserted)
    assert walk.selection_evidence.figures[RIGHT_IN_SELECTION].trades > 0


def test_the_report_window_may_not_start_before_the_selection_window_ends(
    tmp_path: Path,
) -> None:
    runtime = build_runtime(load_settings(home=tmp_path / ".lyra"), phase=1)
    early = (SELECT[1] - timedelta(days=1), REPORT[1])
    with pytest.raises(ValueError, match="before the selection window ends"):
        asyncio.run(
            walk_forward(runtime, [], selection_plan=_plan(SELECT), report_plan=_plan(early))
        )


def test_the_document_names_every_registered_strategy_and_the_chosen_panel(
    walk: WalkForward,
) -> None:
    doc = render(walk)
    assert doc.startswith("<!-- generated by scripts/strategies_doc.py")
    for name in OFFLINE_ANALYSTS:  # measured or not, each has a row and its definition
        assert f"### `{name}`" in doc
        assert f"| `{name}`" in doc
    assert f"| `{RIGHT_IN_SELECTION}` | 2" in doc  # the chosen member and its weight
    assert "[default]\noffline = [" in doc
    assert "not LLMs" in doc
