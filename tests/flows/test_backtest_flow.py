"""The backtest flow on the Prefect engine: one flow run for the whole window, a progress
artifact that reaches 100%, the report artifact, and the CLI's JSON as its result."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.backtest import backtest
from lyra import bootstrap


@pytest.fixture
def lyra_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    yield tmp_path / ".lyra"
    bootstrap.dispose_all()


async def _artifacts(key: str) -> list[object]:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    return list(found)


async def test_backtest_flow_reports_progress_the_sweep_and_charts(lyra_env: Path) -> None:
    result = await backtest(
        start=datetime(2019, 5, 1, tzinfo=UTC),
        end=datetime(2019, 5, 8, tzinfo=UTC),
        exchanges=["coinbase"],
        thresholds=[Decimal("0.5"), Decimal("0.6")],
    )
    sweep = [row["threshold"] for row in result["sweep"]]
    assert sweep[0] == 0.5
    assert {0.6, 0.7, 0.75, 0.8, 0.85, 0.9} <= set(sweep)
    assert result["window"]["exchanges"] == ["coinbase"]
    assert result["contaminated"] is False
    progress = await _artifacts("backtest-progress")
    assert progress
    assert float(progress[0].data) == pytest.approx(100.0)  # type: ignore[attr-defined]
    report = await _artifacts("backtest-report")
    assert report
    text = str(report[0].data)  # type: ignore[attr-defined]
    assert "| threshold |" in text
    assert "data:image/png;base64," in text
    pngs = sorted(p.name for p in (lyra_env / "reports" / "backtest").glob("*.png"))
    assert len(pngs) == 4
