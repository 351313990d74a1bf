"""Report files under one folder (``<home>/reports``): the Runtime's report sink."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ReportFolder"]


@dataclass(frozen=True, slots=True)
class ReportFolder:
    """Reports written under ``root``; sub-folders are created as needed."""

    root: Path

    def path(self, relative: str) -> Path:
        """The file ``relative`` under the folder, its own folder created."""
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_text(self, relative: str, text: str) -> Path:
        """Write ``text`` (UTF-8) to ``relative`` under the folder; its path."""
        target = self.path(relative)
        target.write_text(text, encoding="utf-8")
        return target
