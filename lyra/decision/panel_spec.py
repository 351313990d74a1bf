"""Panels as data: which offline strategies and which LLM tiers vote, with which weights,
in each rollout phase (docs/domain.md, "Panels").

The shipped ``lyra/decision/panels.toml`` (or the user's, ``LYRA_PANEL_FILE``) holds a
``default`` panel and optional per-phase ones::

    [default.offline]
    ema-trend = 1
    rsi-reversion = 1

    [default.llm]
    premium = 1.5
    fast = 0.8

    [phase.3.offline]          # phase 3 votes with exactly these offline members
    ema-trend = 1.5
    donchian-breakout = 1

A phase's ``offline`` or ``llm`` table replaces the default's (members are never merged:
what a phase lists is what votes); a table it leaves out is the default's. A panel with
no ``llm`` table uses the catalog's ``panel:`` slots. Weights are read as exact decimals
(``tomllib``'s ``parse_float=Decimal``): ``1.2`` is ``Decimal("1.2")``, never a binary
float's neighbour.

Everything is checked when the file is read, and the first problem is one line naming the
file, the key and what is wrong: an unknown strategy, tier or phase, a weight that is not
a finite number >= 0, a member listed twice (``ema-trend`` and ``offline:ema-trend``).

Pure apart from :func:`load_panels` reading the file: a settings check, the composition
root and tests all parse the same way.

Usage::

    spec = panel_for(3)                                  # the shipped file's phase 3
    spec = load_panels(Path("my-panels.toml")).panel_for(3)
    spec = spec.with_offline(["rsi-reversion"])         # LYRA_OFFLINE_ANALYSTS wins
    analysts = build_offline_panel(spec.offline_names, spec.offline_weights)
    catalog = spec.catalog_for(load_catalog())           # its panel: the spec's LLM tiers
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Final

from lyra.decision.analysts.base import OFFLINE_PREFIX
from lyra.decision.analysts.registry import OFFLINE_ANALYSTS, canonical_name
from lyra.errors import ConfigError
from lyra.rollout.phases import PHASES
from lyra.spend.catalog import TIERS, Catalog, PanelSlot

__all__ = [
    "LLM_PREFIX",
    "SHIPPED_PANELS",
    "Member",
    "PanelSpec",
    "Panels",
    "load_panels",
    "panel_for",
    "parse_panels",
]

#: The prefix of an LLM member's name: the tier ``premium`` votes as ``llm:premium``.
LLM_PREFIX: Final = "llm:"

#: The shipped panel file.
SHIPPED_PANELS: Final = Path(str(files("lyra.decision") / "panels.toml"))

_SECTIONS: Final = ("offline", "llm")


@dataclass(frozen=True, slots=True)
class Member:
    """One voting member: an offline strategy's full name (``offline:ema-trend``) or an
    LLM tier (``premium``), and its consensus weight."""

    name: str
    weight: Decimal


@dataclass(frozen=True, slots=True)
class PanelSpec:
    """The panel of one phase: offline members, and LLM tiers (None: the catalog's slots).

    ``source`` says where it came from (``panels.toml: phase.3``), for logs and errors.
    """

    offline: tuple[Member, ...]
    llm: tuple[Member, ...] | None
    source: str

    @property
    def offline_names(self) -> tuple[str, ...]:
        """The offline members' full names, in the file's order."""
        return tuple(member.name for member in self.offline)

    @property
    def offline_weights(self) -> dict[str, Decimal]:
        """Each offline member's weight by full name."""
        return {member.name: member.weight for member in self.offline}

    def with_offline(self, names: Sequence[str]) -> PanelSpec:
        """This panel with ``names`` as its offline members when any are given (an
        explicit ``LYRA_OFFLINE_ANALYSTS`` or a backtest's ``--analyst`` wins over the
        file); each keeps the weight this panel gives it, else its registry default.
        ConfigError for an unknown or repeated name."""
        if not names:
            return self
        chosen = [canonical_name(name) for name in names]
        repeated = sorted({name for name in chosen if chosen.count(name) > 1})
        if repeated:
            raise ConfigError(f"offline analysts listed more than once: {', '.join(repeated)}")
        weights = self.offline_weights
        members = tuple(
            Member(name, weights.get(name, OFFLINE_ANALYSTS[name].default_weight))
            for name in chosen
        )
        return replace(self, offline=members, source=f"{self.source}, offline from settings")

    def llm_slots(self, catalog: Catalog) -> tuple[PanelSlot, ...]:
        """The LLM members as catalog panel slots (``llm:<tier>``); the catalog's own
        slots when this panel names no tiers. ConfigError for a tier the catalog lacks."""
        if self.llm is None:
            return catalog.panel
        missing = [member.name for member in self.llm if member.name not in catalog.tiers]
        if missing:
            raise ConfigError(
                f"panel file {self.source}.llm.{missing[0]}: the LLM catalog has no such tier "
                f"(tiers: {', '.join(catalog.tiers)})"
            )
        return tuple(
            PanelSlot.model_validate(
                {"name": LLM_PREFIX + member.name, "tier": member.name, "weight": member.weight}
            )
            for member in self.llm
        )

    def catalog_for(self, catalog: Catalog) -> Catalog:
        """``catalog`` with its ``panel`` replaced by this panel's LLM slots, so every
        consumer of the catalog's panel (live LLM members, the vote journal's replay, the
        contamination check) sees the same members."""
        if self.llm is None:
            return catalog
        return catalog.model_copy(update={"panel": self.llm_slots(catalog)})


@dataclass(frozen=True, slots=True)
class Panels:
    """A whole panel file: the default panel and the phases that have their own."""

    source: str
    default: PanelSpec
    phases: Mapping[int, PanelSpec]

    def panel_for(self, phase: int) -> PanelSpec:
        """The panel of ``phase`` (1..5): its own if the file has one, else the default.
        ConfigError for a number that is not a phase."""
        if phase not in PHASES:
            raise ConfigError(
                f"panel file {self.source}: phase.{phase}: unknown phase (phases are 1..5)"
            )
        return self.phases.get(phase, self.default)


def parse_panels(text: str, source: str, *, tiers: Sequence[str] = TIERS) -> Panels:
    """The panels of a file's ``text``; ConfigError ``panel file <source>: <key>: <problem>``.

    ``tiers`` are the LLM tiers a member may name (the catalog's)."""
    label = f"panel file {source}"
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from None
    for key in raw:
        if key not in ("default", "phase"):
            raise ConfigError(f"{label}: {key}: unknown key (keys: default, phase)")
    if "default" not in raw:
        raise ConfigError(f"{label}: default: missing (give [default.offline])")
    default = _panel(raw["default"], "default", str(source), tiers, base=None)
    phases: dict[int, PanelSpec] = {}
    phase_table = raw.get("phase", {})
    if not isinstance(phase_table, dict):
        raise ConfigError(f"{label}: phase: not a table (write [phase.3.offline])")
    for key, table in phase_table.items():
        number = int(key) if key.isascii() and key.isdigit() else None
        if number not in PHASES:
            raise ConfigError(f"{label}: phase.{key}: unknown phase (phases are 1..5)")
        assert number is not None  # for mypy: PHASES has no None key
        if number in phases:
            raise ConfigError(f"{label}: phase.{key}: phase {number} is given twice")
        phases[number] = _panel(table, f"phase.{key}", str(source), tiers, base=default)
    return Panels(source=str(source), default=default, phases=MappingProxyType(phases))


def load_panels(path: Path | None = None, *, tiers: Sequence[str] = TIERS) -> Panels:
    """The panels of the file at ``path`` (None: the shipped ``panels.toml``)."""
    source = path or SHIPPED_PANELS
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"panel file {source}: cannot be read: {reason}") from None
    return parse_panels(text, str(source), tiers=tiers)


def panel_for(phase: int, path: Path | None = None) -> PanelSpec:
    """The panel of ``phase`` in the file at ``path`` (None: the shipped one)."""
    return load_panels(path).panel_for(phase)


def _panel(
    table: object, key: str, source: str, tiers: Sequence[str], base: PanelSpec | None
) -> PanelSpec:
    """One panel table; a phase's missing section is ``base``'s."""
    label = f"panel file {source}"
    if not isinstance(table, dict):
        raise ConfigError(f"{label}: {key}: not a table (write [{key}.offline])")
    for section in table:
        if section not in _SECTIONS:
            raise ConfigError(f"{label}: {key}.{section}: unknown key (keys: offline, llm)")
    if base is None and "offline" not in table:
        raise ConfigError(f"{label}: {key}.offline: missing (name at least one strategy)")
    if base is not None and not table:
        raise ConfigError(f"{label}: {key}: empty (give {key}.offline or {key}.llm)")
    offline = base.offline if base else ()
    if "offline" in table:
        entries = _weights(table["offline"], f"{key}.offline", label)
        names = [_strategy(name, f"{key}.offline", label) for name, _ in entries]
        _refuse_repeats(names, f"{key}.offline", label)
        offline = tuple(
            Member(name, weight) for name, (_, weight) in zip(names, entries, strict=True)
        )
        if not any(member.weight > 0 for member in offline):
            raise ConfigError(f"{label}: {key}.offline: every weight is 0 (nothing would count)")
    llm = base.llm if base else None
    if "llm" in table:
        entries = _weights(table["llm"], f"{key}.llm", label)
        for name, _ in entries:
            if name not in tiers:
                raise ConfigError(
                    f"{label}: {key}.llm.{name}: unknown tier (tiers: {', '.join(tiers)})"
                )
        llm = tuple(Member(name, weight) for name, weight in entries)
    return PanelSpec(offline=offline, llm=llm, source=f"{source}: {key}")


def _weights(table: object, key: str, label: str) -> list[tuple[str, Decimal]]:
    """``name = weight`` pairs of a section, each weight a finite number >= 0."""
    if not isinstance(table, dict):
        raise ConfigError(f"{label}: {key}: not a table of name = weight")
    if not table:
        raise ConfigError(f"{label}: {key}: empty (name at least one member)")
    pairs = []
    for name, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise ConfigError(f"{label}: {key}.{name}: weight {value!r} is not a number")
        weight = Decimal(value)
        if not weight.is_finite():
            raise ConfigError(f"{label}: {key}.{name}: weight {value} is not finite")
        if weight < 0:
            raise ConfigError(f"{label}: {key}.{name}: weight {value} is negative")
        pairs.append((name, weight))
    return pairs


def _strategy(name: str, where: str, label: str) -> str:
    """The registry's full name of ``name`` (prefix optional); ConfigError otherwise."""
    stripped = name.strip()
    full = stripped if stripped.startswith(OFFLINE_PREFIX) else OFFLINE_PREFIX + stripped
    if full not in OFFLINE_ANALYSTS:
        known = ", ".join(n.removeprefix(OFFLINE_PREFIX) for n in OFFLINE_ANALYSTS)
        raise ConfigError(f"{label}: {where}.{name}: unknown strategy (known: {known})")
    return full


def _refuse_repeats(names: list[str], where: str, label: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            short = name.removeprefix(OFFLINE_PREFIX)
            raise ConfigError(f"{label}: {where}.{short}: listed twice (with or without offline:)")
        seen.add(name)
