"""The voting panel from settings and the run's phase: the panel file's members for that
phase (docs/domain.md, "Panels"), offline analysts and, with the LLM provider, the LLM
tiers through one gateway session beside (or instead of) them.

The live cycle (:func:`build_panel`) and a backtest (:mod:`lyra.bootstrap.backtest`) read
the same :func:`panel_spec`, so a backtest of phase N judges the panel phase N runs with.

Usage::

    panel = build_panel(settings, run.number, models=models, catalog=catalog)
    async with panel.open(cycle_id) as analysts: ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from lyra.config import Settings
from lyra.decision.analysts import Analyst, build_offline_panel
from lyra.decision.analysts.llm import llm_panel
from lyra.decision.panel_spec import PanelSpec, load_panels
from lyra.services.runtime import ModelSource
from lyra.spend.catalog import Catalog

__all__ = ["Panel", "build_panel", "panel_spec"]


def panel_spec(settings: Settings, phase: int) -> PanelSpec:
    """The panel of ``phase``: ``LYRA_PANEL_FILE``'s (else the shipped file's), with the
    offline members ``LYRA_OFFLINE_ANALYSTS`` names when it names any (that wins)."""
    spec = load_panels(settings.panel_file).panel_for(phase)
    return spec.with_offline(settings.offline_analysts)


@dataclass(frozen=True, slots=True)
class Panel:
    """The panel of a cycle: ``spec``'s members (None: the shipped file's default panel),
    ``offline`` names replacing its offline members when given, and its LLM tiers through
    ``models`` when the LLM provider is on (``catalog`` set)."""

    offline: tuple[str, ...] = ()
    models: ModelSource | None = None
    catalog: Catalog | None = None
    offline_beside_llm: bool = True
    spec: PanelSpec | None = None
    #: The members that vote: ``spec`` with ``offline`` applied (set at construction).
    members: PanelSpec = field(init=False)
    #: ``catalog`` with its panel slots replaced by the members' LLM tiers.
    llm_catalog: Catalog | None = field(init=False)

    def __post_init__(self) -> None:
        members = (self.spec or load_panels().default).with_offline(self.offline)
        object.__setattr__(self, "members", members)
        voting = members.catalog_for(self.catalog) if self.catalog is not None else None
        object.__setattr__(self, "llm_catalog", voting)  # unknown tiers fail at start
        self._offline()  # bad names or weights fail at start, by name

    def _offline(self) -> list[Analyst]:
        return build_offline_panel(self.members.offline_names, self.members.offline_weights)

    @property
    def llm_members(self) -> int:
        """How many members ask an LLM."""
        if self.models is None or self.llm_catalog is None:
            return 0
        return len(self.llm_catalog.panel)

    @asynccontextmanager
    async def open(self, cycle_id: str | None) -> AsyncIterator[Sequence[Analyst]]:
        """The panel for the block; its LLM members share one gateway session."""
        offline = self._offline()
        if self.models is None or self.llm_catalog is None:
            yield offline
            return
        async with self.models.open() as asker:
            llm = llm_panel(self.llm_catalog, asker, cycle_id)
            yield [*llm, *offline] if self.offline_beside_llm else llm


def build_panel(
    settings: Settings, phase: int, *, models: ModelSource | None, catalog: Catalog | None
) -> Panel:
    """The panel of a run of ``phase``: the members :func:`panel_spec` gives."""
    return Panel(
        models=models,
        catalog=catalog,
        offline_beside_llm=settings.offline_beside_llm,
        spec=panel_spec(settings, phase),
    )
