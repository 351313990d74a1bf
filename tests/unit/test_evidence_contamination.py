"""Training cutoffs in the catalog and the contamination rule of a backtest window."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from lyra.errors import ConfigError, UserError
from lyra.evidence.contamination import (
    CONTAMINATION_NOTE,
    ContaminatedBacktestError,
    Contamination,
    contaminated_models,
    panel_models,
    require_uncontaminated,
)
from lyra.spend.catalog import Catalog, load_catalog

SHIPPED = Path(__file__).parents[2] / "lyra/spend/data/catalog.yaml"


def _catalog(cutoffs: dict[str, Any], panel_tiers: tuple[str, ...] = ("premium",)) -> Catalog:
    """premium (p1, p2) -> advanced (a1, p1) -> fast (f1); specialized (s1) -> fast."""
    return Catalog.model_validate(
        {
            "tiers": {
                "premium": {"models": ["x/p1", "x/p2"], "downgrade_to": "advanced"},
                "advanced": {"models": ["x/a1", "x/p1"], "downgrade_to": "fast"},
                "specialized": {"models": ["x/s1"], "downgrade_to": "fast"},
                "fast": {"models": ["x/f1"], "downgrade_to": None},
            },
            "models": {
                m: {"prompt": "0", "completion": "0", "training_cutoff": cutoffs.get(m)}
                for m in ("x/p1", "x/p2", "x/a1", "x/s1", "x/f1")
            },
            "tasks": {"market_analysis": {"tier": "fast", "policy": "cost-aware", "max_tokens": 9}},
            "panel": [{"name": f"llm:{tier}", "tier": tier, "weight": "1"} for tier in panel_tiers],
        }
    )


ALL_2024 = {m: "2024-06" for m in ("x/p1", "x/p2", "x/a1", "x/s1", "x/f1")}


def test_every_model_of_the_shipped_catalog_has_a_training_cutoff() -> None:
    catalog = load_catalog()
    for model in catalog.models:
        cutoff = catalog.training_cutoff(model)
        assert date(2023, 1, 1) <= cutoff <= date(2026, 1, 1), model
    # a month is the whole month; a day is that day
    assert catalog.training_cutoff("meta-llama/llama-3.3-70b-instruct") == date(2023, 12, 31)
    assert catalog.training_cutoff("openai/gpt-5") == date(2024, 9, 30)


def test_every_shipped_cutoff_cites_its_source_in_a_comment() -> None:
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "training_cutoff:" in line and not line.lstrip().startswith("#"):
            assert lines[i - 1].lstrip().startswith("# "), line


def test_a_catalog_file_without_a_cutoff_is_a_config_error_naming_the_model(
    tmp_path: Path,
) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    bad = tmp_path / "catalog.yaml"
    bad.write_text(text.replace(', training_cutoff: "2024-11"', ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x-ai/grok-4-fast: no training_cutoff"):
        load_catalog(bad)
    bad.write_text(text.replace('"2024-11"', '"2024-13"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x-ai/grok-4-fast.*month must be 01\.\.12"):
        load_catalog(bad)
    bad.write_text(text.replace('"2024-11"', '"soon"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"models\.x-ai/grok-4-fast\.training_cutoff"):
        load_catalog(bad)


def test_cutoffs_read_months_days_and_yaml_dates() -> None:
    catalog = _catalog({"x/p1": "2024-02", "x/p2": "2024-02-10", "x/a1": date(2023, 5, 6)})
    assert catalog.training_cutoff("x/p1") == date(2024, 2, 29)  # leap year
    assert catalog.training_cutoff("x/p2") == date(2024, 2, 10)
    assert catalog.training_cutoff("x/a1") == date(2023, 5, 6)
    with pytest.raises(ConfigError, match="x/s1 has no training_cutoff"):
        catalog.training_cutoff("x/s1")


def test_panel_models_follow_each_slot_down_its_downgrade_chain_once_each() -> None:
    assert panel_models(_catalog(ALL_2024)) == ("x/p1", "x/p2", "x/a1", "x/f1")
    both = _catalog(ALL_2024, panel_tiers=("specialized", "premium"))
    assert panel_models(both) == ("x/s1", "x/f1", "x/p1", "x/p2", "x/a1")
    shipped = load_catalog()
    assert set(panel_models(shipped)) == set(shipped.models)  # every tier has a slot


def test_a_model_is_contaminated_when_its_cutoff_is_on_or_after_the_window_start() -> None:
    catalog = _catalog({**ALL_2024, "x/a1": "2024-06-15", "x/f1": "2023-12"})
    on_cutoff = datetime(2024, 6, 15, 23, 0, tzinfo=UTC)
    assert [c.model for c in contaminated_models(catalog, on_cutoff)] == [
        "x/p1",
        "x/p2",
        "x/a1",  # the window's first day is the cutoff day itself
    ]
    day_after = datetime(2024, 6, 16, tzinfo=UTC)
    assert [c.model for c in contaminated_models(catalog, day_after)] == ["x/p1", "x/p2"]
    clean = datetime(2024, 7, 1, tzinfo=UTC)
    assert contaminated_models(catalog, clean) == ()
    # the day is the UTC day: 2024-07-01 09:00 in Sydney is still June 30 in UTC
    from zoneinfo import ZoneInfo

    sydney = datetime(2024, 7, 1, 9, 0, tzinfo=ZoneInfo("Australia/Sydney"))
    assert [c.model for c in contaminated_models(catalog, sydney)] == ["x/p1", "x/p2"]
    with pytest.raises(ValueError, match="naive"):
        contaminated_models(catalog, datetime(2024, 7, 1))  # noqa: DTZ001


def test_describe_names_the_model_its_cutoff_and_the_window() -> None:
    item = Contamination("openai/gpt-5", date(2024, 9, 30), datetime(2019, 1, 1, tzinfo=UTC))
    assert item.describe() == (
        "openai/gpt-5 was trained on data up to 2024-09 and the window starts 2019-01-01: "
        "its votes there may be memory of prices, not skill"
    )
    day = Contamination("x/p1", date(2024, 9, 12), datetime(2024, 1, 5, 7, tzinfo=UTC))
    assert "up to 2024-09-12 and the window starts 2024-01-05" in day.describe()


def test_a_contaminated_window_is_refused_unless_allowed() -> None:
    catalog = load_catalog()
    start = datetime(2019, 1, 1, tzinfo=UTC)
    with pytest.raises(ContaminatedBacktestError) as caught:
        require_uncontaminated(catalog, start, allow=False)
    error = caught.value
    assert isinstance(error, UserError)
    message = str(error)
    assert message.startswith(
        "contaminated backtest: openai/gpt-5 was trained on data up to 2024-09"
    )
    assert "--allow-contaminated" in message
    assert len(error.contaminations) == len(catalog.models)
    allowed = require_uncontaminated(catalog, start, allow=True)
    assert allowed == error.contaminations
    assert allowed[0] == Contamination("openai/gpt-5", date(2024, 9, 30), start)


def test_a_clean_window_returns_nothing_either_way() -> None:
    catalog = load_catalog()
    after = datetime(2026, 1, 1, tzinfo=UTC)
    assert require_uncontaminated(catalog, after, allow=False) == ()
    assert require_uncontaminated(catalog, after, allow=True) == ()


def test_the_note_is_one_sentence_with_its_source() -> None:
    assert CONTAMINATION_NOTE.count(". ") == 0
    assert CONTAMINATION_NOTE.endswith(".")
    assert "arXiv:2510.07920" in CONTAMINATION_NOTE
    assert "cutoff" in CONTAMINATION_NOTE
