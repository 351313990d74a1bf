"""Spend per model and tier as Markdown and as a PNG chart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from lyra.services.spend_report import SpendLine, spend_chart_png, spend_markdown

LINES = [
    SpendLine("advanced", "openai/gpt-5-mini", 2, Decimal("0.0040")),
    SpendLine("premium", "openai/gpt-5", 1, Decimal("0.0120")),
]


def test_markdown_totals_and_bars_scale_with_cost() -> None:
    text = spend_markdown("Spend", LINES)
    assert "Total: **0.016000 USD** over 3 calls" in text
    rows = {line.split("|")[2].strip(): line for line in text.splitlines() if "openai/" in line}
    assert rows["openai/gpt-5"].count("█") == 30
    assert rows["openai/gpt-5-mini"].count("█") == 10
    assert "| premium | 0.012000 |" in text


def test_markdown_of_a_run_without_calls_says_so() -> None:
    assert "No LLM calls in this run" in spend_markdown("Spend", [])


def test_chart_is_a_png(tmp_path: Path) -> None:
    path = spend_chart_png("Spend", LINES, tmp_path / "reports" / "spend.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
