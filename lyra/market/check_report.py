"""The candle data checks of one cycle as Markdown (the cycle's Prefect artifact).

A passed batch is a line; a quarantined one names each failed check and its detail, so a
person sees at once which market was held and why (:mod:`lyra.market.checks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from lyra.market.check_results import CheckResult

__all__ = ["markdown_summary"]

_MAX_DETAIL: Final = 300  # characters of a check's detail shown in the summary table


def markdown_summary(results: Sequence[CheckResult]) -> str:
    """A Markdown report of one cycle's data checks (for a Prefect artifact)."""
    failed = [result for result in results if not result.passed]
    lines = [
        "## Candle data checks",
        "",
        f"{len(results)} batches checked, {len(failed)} quarantined.",
    ]
    if not results:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "| market | candles | last candle | result | failed checks |",
        "|---|---:|---|---|---|",
    ]
    for result in results:
        last = "-" if result.last is None else f"{result.last:%Y-%m-%d %H:%M}"
        verdict = "passed" if result.passed else "**quarantined**"
        details = "<br>".join(
            _cell(f"`{check.name}`: {_clip(check.detail)}") for check in result.failed
        )
        lines.append(
            f"| {_cell(result.market)} | {result.candles} | {last} | {verdict} | {details} |"
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
