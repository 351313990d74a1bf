"""The voting panel from settings: the offline analysts, and with the LLM provider the
catalog's panel slots through one gateway session beside (or instead of) them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from lyra.decision.analysts import Analyst, build_offline_panel
from lyra.decision.analysts.llm import llm_panel
from lyra.services.runtime import ModelSource
from lyra.spend.catalog import Catalog

__all__ = ["Panel"]


@dataclass(frozen=True, slots=True)
class Panel:
    """The panel of a cycle: ``offline`` analyst names (empty: all), and the ``catalog``'s
    LLM slots through ``models`` when the LLM provider is on."""

    offline: tuple[str, ...] = ()
    models: ModelSource | None = None
    catalog: Catalog | None = None
    offline_beside_llm: bool = True

    def __post_init__(self) -> None:
        build_offline_panel(self.offline or None)  # bad names fail at start, by name

    @property
    def llm_members(self) -> int:
        """How many members ask an LLM."""
        return len(self.catalog.panel) if self.models is not None and self.catalog else 0

    @asynccontextmanager
    async def open(self, cycle_id: str | None) -> AsyncIterator[Sequence[Analyst]]:
        """The panel for the block; its LLM members share one gateway session."""
        offline = build_offline_panel(self.offline or None)
        if self.models is None or self.catalog is None:
            yield offline
            return
        async with self.models.open() as asker:
            llm = llm_panel(self.catalog, asker, cycle_id)
            yield [*llm, *offline] if self.offline_beside_llm else llm
