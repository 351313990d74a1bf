"""A phase run may be stricter than its phase, never looser (issue 7: phase deployments
carry their threshold, order mode and capital cap as parameters)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lyra.config import load_settings
from lyra.errors import ConfigError
from lyra.rollout.phases import OrderMode, get_phase, tighten


def test_the_phase_figures_themselves_pass_unchanged() -> None:
    for number in range(1, 6):
        phase = get_phase(number)
        assert tighten(phase, phase.threshold, phase.order_mode.value) == phase


def test_a_higher_threshold_and_a_more_cautious_mode_are_taken() -> None:
    run = tighten(get_phase(4), Decimal("0.95"), "paper")
    assert run.threshold == Decimal("0.95")
    assert run.order_mode is OrderMode.PAPER


@pytest.mark.parametrize(
    ("number", "threshold", "mode", "message"),
    [
        (3, Decimal("0.79"), None, "consensus threshold 0.79 is below phase 3's 0.80"),
        (3, None, "live", "order mode live is bolder than phase 3's paper"),
        (1, None, "validate", "order mode validate is bolder than phase 1's none"),
    ],
)
def test_a_looser_run_is_refused_by_name(
    number: int, threshold: Decimal | None, mode: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tighten(get_phase(number), threshold, mode)


def test_settings_refuse_a_looser_run() -> None:
    with pytest.raises(ConfigError, match="bolder than phase 2's validate"):
        load_settings(phase=2, order_mode="paper")
    settings = load_settings(phase=5, consensus_threshold=Decimal("0.95"), order_mode="validate")
    assert settings.phase_spec.threshold == Decimal("0.95")
    assert settings.phase_spec.order_mode is OrderMode.VALIDATE
