"""Panels as data: the panel file's parsing, every refusal, per-phase panels, the
precedence of LYRA_OFFLINE_ANALYSTS, and the bootstrap panel of a phase following the file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest

from lyra import bootstrap
from lyra.bootstrap.backtest import backtest_panel, backtest_plan
from lyra.bootstrap.panel import Panel, build_panel, panel_spec
from lyra.config import Settings, load_settings
from lyra.decision.analysts import DEFAULT_OFFLINE_PANEL
from lyra.decision.panel_spec import SHIPPED_PANELS, load_panels, panel_for, parse_panels
from lyra.errors import ConfigError, UserError
from lyra.spend.catalog import TIERS, load_catalog
from lyra.structured import Asker

D = Decimal

BASE = """
[default.offline]
ema-trend = 1
rsi-reversion = 0.5

[default.llm]
premium = 1.5
fast = 0.8
"""


def _parse(text: str) -> object:
    return parse_panels(text, "p.toml")


def test_the_default_panel_parses_to_full_names_and_exact_decimal_weights() -> None:
    panels = parse_panels(BASE, "p.toml")
    spec = panels.default
    assert spec.offline_names == ("offline:ema-trend", "offline:rsi-reversion")
    assert spec.offline_weights == {"offline:ema-trend": D(1), "offline:rsi-reversion": D("0.5")}
    assert spec.llm is not None
    assert [(m.name, m.weight) for m in spec.llm] == [("premium", D("1.5")), ("fast", D("0.8"))]
    assert all(panels.panel_for(n) == spec for n in range(1, 6))  # no phase of its own


def test_a_phase_table_replaces_only_the_sections_it_gives() -> None:
    text = BASE + '[phase.3.offline]\ndonchian-breakout = 2\n"offline:ema-trend" = 1.5\n'
    text += "[phase.5.llm]\nadvanced = 1\n"
    panels = parse_panels(text, "p.toml")
    three, five = panels.panel_for(3), panels.panel_for(5)
    assert three.offline_weights == {
        "offline:donchian-breakout": D(2),
        "offline:ema-trend": D("1.5"),
    }
    assert three.llm == panels.default.llm  # phase 3 left llm out: the default's
    assert five.offline == panels.default.offline
    assert five.llm is not None
    assert [m.name for m in five.llm] == ["advanced"]
    assert panels.panel_for(2) == panels.default


def test_a_panel_without_llm_uses_the_catalogs_slots_and_one_with_tiers_replaces_them() -> None:
    catalog = load_catalog()
    bare = parse_panels("[default.offline]\nema-trend = 1\n", "p.toml").default
    assert bare.llm is None
    assert bare.catalog_for(catalog) is catalog
    voting = parse_panels(BASE, "p.toml").default.catalog_for(catalog)
    assert [(s.name, s.tier, s.weight) for s in voting.panel] == [
        ("llm:premium", "premium", D("1.5")),
        ("llm:fast", "fast", D("0.8")),
    ]
    assert voting.tiers == catalog.tiers  # only the panel changes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[default.offline\n", "p.toml: not valid TOML"),
        ("[default.offline]\nema-trend = 1\nema-trend = 2\n", "p.toml: not valid TOML"),
        ("[defaults.offline]\nema-trend = 1\n", "p.toml: defaults: unknown key"),
        ("[phase.3.offline]\nema-trend = 1\n", "p.toml: default: missing"),
        ("[default.llm]\npremium = 1\n", "p.toml: default.offline: missing"),
        ("[default.offline]\nvibes = 1\n", "p.toml: default.offline.vibes: unknown strategy"),
        ("[default.offline]\nema-trend = -1\n", "default.offline.ema-trend: weight -1 is negative"),
        (
            "[default.offline]\nema-trend = nan\n",
            "default.offline.ema-trend: weight NaN is not finite",
        ),
        (
            "[default.offline]\nema-trend = inf\n",
            "default.offline.ema-trend: weight Infinity is not",
        ),
        (
            '[default.offline]\nema-trend = "1"\n',
            "default.offline.ema-trend: weight '1' is not a number",
        ),
        (
            "[default.offline]\nema-trend = true\n",
            "default.offline.ema-trend: weight True is not a",
        ),
        ("[default.offline]\nema-trend = 0\n", "default.offline: every weight is 0"),
        ("[default.offline]\n", "default.offline: empty"),
        (
            '[default.offline]\nema-trend = 1\n"offline:ema-trend" = 2\n',
            "default.offline.ema-trend: listed twice",
        ),
        (
            "[default.offline]\nema-trend = 1\n[default.llm]\ngenius = 1\n",
            "default.llm.genius: unknown tier",
        ),
        (
            "[default.offline]\nema-trend = 1\n[default.votes]\nx = 1\n",
            "default.votes: unknown key",
        ),
        (
            "[default.offline]\nema-trend = 1\n[phase.6.offline]\nema-trend = 1\n",
            "phase.6: unknown phase",
        ),
        (
            "[default.offline]\nema-trend = 1\n[phase.two.offline]\nema-trend = 1\n",
            "phase.two: unknown phase",
        ),
        (
            "[default.offline]\nema-trend = 1\n[phase.3.offline]\nema-trend = 1\n"
            '[phase."03".offline]\nema-trend = 2\n',
            "phase.03: phase 3 is given twice",
        ),
        ("[default.offline]\nema-trend = 1\n[phase.3]\n", "phase.3: empty"),
        (
            "[default.offline]\nema-trend = 1\n[phase.3.offline]\nvibes = 1\n",
            "phase.3.offline.vibes: unknown strategy",
        ),
    ],
)
def test_every_problem_is_one_line_naming_the_file_the_key_and_the_problem(
    text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(text)
    assert message in str(caught.value)
    assert str(caught.value).startswith("panel file p.toml: ")
    assert "\n" not in str(caught.value)


def test_tiers_are_checked_against_the_catalog_given() -> None:
    text = "[default.offline]\nema-trend = 1\n[default.llm]\npremium = 1\n"
    with pytest.raises(ConfigError, match=r"default\.llm\.premium: unknown tier \(tiers: fast\)"):
        parse_panels(text, "p.toml", tiers=("fast",))
    spec = parse_panels(text, "p.toml", tiers=(*TIERS, "extra")).default
    lean = load_catalog().model_copy(update={"tiers": {"fast": load_catalog().tiers["fast"]}})
    with pytest.raises(ConfigError, match=r"default\.llm\.premium: the LLM catalog has no such"):
        spec.catalog_for(lean)


def test_an_unknown_phase_asked_for_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"phase\.7: unknown phase"):
        parse_panels(BASE, "p.toml").panel_for(7)


def test_an_unreadable_file_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"panel file .*absent\.toml: cannot be read"):
        load_panels(tmp_path / "absent.toml")


def test_named_offline_analysts_win_and_keep_the_files_weight_where_it_gives_one() -> None:
    spec = parse_panels(BASE, "p.toml").default
    chosen = spec.with_offline(["rsi-reversion", "offline:zscore-reversion"])
    assert chosen.offline_weights == {
        "offline:rsi-reversion": D("0.5"),  # the file's weight
        "offline:zscore-reversion": D(1),  # not in the file: the registry's default
    }
    assert chosen.llm == spec.llm  # the LLM members are the file's either way
    assert spec.with_offline([]) is spec
    with pytest.raises(ConfigError, match="unknown offline analyst 'vibes'"):
        spec.with_offline(["vibes"])
    with pytest.raises(ConfigError, match="more than once"):
        spec.with_offline(["ema-trend", "offline:ema-trend"])


def test_the_shipped_file_parses_and_its_default_is_the_registrys_fallback() -> None:
    assert SHIPPED_PANELS.is_file()
    shipped = load_panels()
    assert shipped.default.offline_names == DEFAULT_OFFLINE_PANEL  # change both together
    assert panel_for(1) == shipped.panel_for(1)
    catalog = load_catalog()
    assert shipped.default.catalog_for(catalog).panel == catalog.panel  # same LLM members today


# --- settings and the bootstrap -------------------------------------------------------------

PHASED = (
    BASE
    + "[phase.3.offline]\ndonchian-breakout = 2\nsupertrend = 1\n[phase.3.llm]\nadvanced = 1.1\n"
)


@pytest.fixture
def panel_file(tmp_path: Path) -> Path:
    path = tmp_path / "panels.toml"
    path.write_text(PHASED, encoding="utf-8")
    return path


def test_a_bad_panel_file_is_refused_at_start_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[default.offline]\nvibes = 1\n", encoding="utf-8")
    monkeypatch.setenv("LYRA_PANEL_FILE", str(bad))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert isinstance(caught.value, UserError)  # the CLI's one line and exit 2
    assert "LYRA_PANEL_FILE" in text
    assert "default.offline.vibes: unknown strategy" in text
    assert "\n" not in text


class _Models:
    """A model source whose asker is never asked (building LLM members asks nothing)."""

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Asker]:
        yield cast(Asker, object())


async def _members(panel: Panel) -> dict[str, Decimal]:
    async with panel.open(None) as analysts:
        return {analyst.name: analyst.weight for analyst in analysts}


def test_the_bootstrap_panel_of_phase_3_follows_the_file(
    settings: Settings, panel_file: Path
) -> None:
    own = load_settings(home=settings.home, panel_file=panel_file)
    panel = build_panel(own, 3, models=_Models(), catalog=load_catalog())
    assert asyncio.run(_members(panel)) == {
        "llm:advanced": D("1.1"),
        "offline:donchian-breakout": D(2),
        "offline:supertrend": D(1),
    }
    assert panel.llm_members == 1
    other = build_panel(own, 2, models=None, catalog=None)  # phase 2: the default panel
    assert asyncio.run(_members(other)) == {
        "offline:ema-trend": D(1),
        "offline:rsi-reversion": D("0.5"),
    }


def test_lyra_offline_analysts_win_over_the_file_for_the_offline_members(
    settings: Settings, panel_file: Path
) -> None:
    own = load_settings(
        home=settings.home, panel_file=panel_file, offline_analysts="supertrend,ma-ribbon"
    )
    spec = panel_spec(own, 3)
    assert spec.offline_weights == {"offline:supertrend": D(1), "offline:ma-ribbon": D(1)}
    assert spec.llm is not None
    assert [m.name for m in spec.llm] == ["advanced"]


def test_the_backtest_votes_with_the_same_panel_as_the_runs_phase(
    settings: Settings, panel_file: Path
) -> None:
    own = load_settings(home=settings.home, panel_file=panel_file)
    runtime = bootstrap.build_runtime(own, phase=3)
    try:
        plan = backtest_plan(own)
        chosen = backtest_panel(own, runtime, plan)
        assert {a.name: a.weight for a in chosen.analysts} == {
            "offline:donchian-breakout": D(2),
            "offline:supertrend": D(1),
        }
        named = backtest_panel(own, runtime, backtest_plan(own, analysts=["supertrend"]), phase=1)
        assert [a.name for a in named.analysts] == ["offline:supertrend"]  # --analyst wins
        live = build_panel(own, runtime.run.number, models=None, catalog=None)
        assert asyncio.run(_members(live)) == {a.name: a.weight for a in chosen.analysts}
    finally:
        bootstrap.dispose_all()


def test_the_runtime_of_a_phase_3_run_votes_with_the_files_phase_3_panel(
    settings: Settings, panel_file: Path
) -> None:
    # The live cycle's panel (lyra.bootstrap.runtime) is built for the run's phase: before
    # this it ignored LYRA_PANEL_FILE and every phase table.
    own = load_settings(home=settings.home, panel_file=panel_file)
    runtime = bootstrap.build_runtime(own, phase=3)
    try:
        assert asyncio.run(_members(runtime.panel)) == {
            "offline:donchian-breakout": D(2),
            "offline:supertrend": D(1),
        }
    finally:
        runtime.database.dispose()
