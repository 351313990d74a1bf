"""A run of a phase may be stricter than its phase, never looser; and which phase is in
force is decided in one place (explicit > recorded > LYRA_PHASE > the entry's default)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from lyra.bootstrap import resolve_phase_run
from lyra.config import load_settings
from lyra.errors import ConfigError
from lyra.risk import RiskLimits, phase_capital
from lyra.rollout.phases import OrderMode, PhaseRun, get_phase, phase_in_force


def test_the_phase_figures_themselves_pass_unchanged() -> None:
    for number in range(1, 6):
        phase = get_phase(number)
        run = PhaseRun.of(number, threshold=phase.threshold, order_mode=phase.order_mode.value)
        assert (run.threshold, run.order_mode, run.capital_cap) == (
            phase.threshold,
            phase.order_mode,
            None,
        )


def test_a_higher_threshold_and_a_more_cautious_mode_are_taken() -> None:
    run = PhaseRun.of(4, threshold=Decimal("0.95"), order_mode="paper")
    assert run.threshold == Decimal("0.95")
    assert run.order_mode is OrderMode.PAPER
    assert run.describe() == "phase 4 (Controlled live testing) at 0.95, paper orders"


@pytest.mark.parametrize(
    ("number", "threshold", "mode", "message"),
    [
        (3, Decimal("0.79"), None, "consensus threshold 0.79 is below phase 3's 0.80"),
        (3, None, "live", "order mode live is bolder than phase 3's paper"),
        (1, None, "validate", "order mode validate is bolder than phase 1's none"),
        (3, Decimal("1.2"), None, "not a fraction"),
    ],
)
def test_a_looser_run_is_refused_by_name(
    number: int, threshold: Decimal | None, mode: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PhaseRun.of(number, threshold=threshold, order_mode=mode)


def test_a_runs_capital_cap_only_lowers_the_phases_figure() -> None:
    limits = RiskLimits(paper_capital_usd=Decimal(25_000))
    equity = Decimal(50_000)
    assert phase_capital(PhaseRun.of(3), limits, equity=equity) == Decimal(25_000)
    lower = PhaseRun.of(3, capital_cap=Decimal(5_000))
    assert phase_capital(lower, limits, equity=equity) == Decimal(5_000)
    higher = PhaseRun.of(3, capital_cap=Decimal(40_000))  # never above the phase's figure
    assert phase_capital(higher, limits, equity=equity) == Decimal(25_000)
    analysis_only = PhaseRun.of(3, order_mode="none")
    assert phase_capital(analysis_only, limits, equity=equity) == 0


@pytest.mark.parametrize(
    ("requested", "recorded", "configured", "expected"),
    [
        (2, 4, 1, (2, "parameter")),
        (None, 4, 1, (4, "recorded")),
        (None, None, 1, (1, "setting")),
        (None, None, None, (3, "default")),
    ],
)
def test_the_phase_in_force_has_one_order_of_precedence(
    requested: int | None,
    recorded: int | None,
    configured: int | None,
    expected: tuple[int, str],
) -> None:
    chosen = phase_in_force(
        requested=requested, recorded=recorded, configured=configured, default=3
    )
    assert (chosen.number, chosen.source) == expected


def test_settings_refuse_a_looser_run_of_the_configured_phase() -> None:
    with pytest.raises(ConfigError, match="bolder than phase 2's validate"):
        load_settings(phase=2, order_mode="paper")


def test_the_runs_figures_come_from_parameters_then_settings() -> None:
    settings = load_settings(consensus_threshold=Decimal("0.95"), order_mode="validate")
    chosen, run = resolve_phase_run(settings, recorded=5)
    assert (chosen.number, chosen.source) == (5, "recorded")
    assert (run.threshold, run.order_mode) == (Decimal("0.95"), OrderMode.VALIDATE)
    _, given = resolve_phase_run(settings, recorded=5, consensus_threshold=Decimal("0.97"))
    assert given.threshold == Decimal("0.97")


def test_a_setting_looser_than_the_recorded_phase_is_refused_by_name() -> None:
    settings = load_settings(consensus_threshold=Decimal("0.80"))
    with pytest.raises(ConfigError, match=r"LYRA_CONSENSUS_THRESHOLD: .*below phase 4's 0\.85"):
        resolve_phase_run(settings, recorded=4)


def test_the_error_names_where_the_looser_figure_came_from() -> None:
    settings = load_settings(order_mode="live")  # fine for phase 5, bolder than phase 3's
    with pytest.raises(ConfigError, match=r"^LYRA_ORDER_MODE: order mode live is bolder"):
        resolve_phase_run(settings, recorded=3, consensus_threshold=Decimal("0.90"))
    with pytest.raises(ConfigError, match=r"^the consensus_threshold parameter: .*below"):
        resolve_phase_run(load_settings(), recorded=3, consensus_threshold=Decimal("0.5"))


def test_lyra_phase_in_a_dot_env_file_is_the_phase_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LYRA_PHASE", raising=False)
    (tmp_path / ".env").write_text("LYRA_PHASE=1\n", encoding="utf-8")
    chosen, run = resolve_phase_run(load_settings(), recorded=None, default_phase=3)
    assert (chosen.number, chosen.source) == (1, "setting")
    assert run.order_mode is OrderMode.NONE
