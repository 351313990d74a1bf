"""``lyra backtest`` as scripts meet it (docs/evidence.md, "The backtest contract"): one
JSON object on stdout with the contract's keys; the first --threshold is the reported
one and the sweep always has the five phase thresholds; bad options are one line naming
the option, exit 2; the default run prints the sweep table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lyra.cli import main

WINDOW = ["--start", "2019-05-01T00:00:00Z", "--end", "2019-05-06T00:00:00Z"]


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_output_keeps_the_contract(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "backtest", *WINDOW, "--exchange", "coinbase", "--symbol", "BTC/USD",
        "--threshold", "0.55", "--threshold", "0.65", "--format", "json", "--no-charts",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert {
        "window",
        "metrics",
        "buy_and_hold",
        "equity",
        "trades",
        "sweep",
        "contaminated",
    } <= set(data)
    assert set(data["metrics"]) >= {
        "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "exposure", "trades",
        "win_rate", "profit_factor", "fees",
    }  # fmt: skip
    assert {"total_return", "max_drawdown"} <= set(data["buy_and_hold"])
    assert data["window"]["start"] == "2019-05-01T00:00:00Z"
    assert data["threshold"] == 0.55
    thresholds = [row["threshold"] for row in data["sweep"]]
    assert thresholds[0] == 0.55
    assert {0.65, 0.7, 0.75, 0.8, 0.85, 0.9} <= set(thresholds)
    for row in data["sweep"]:
        assert {"threshold", "trades", "total_return", "sharpe", "max_drawdown", "hit_rate"} <= set(
            row
        )
    assert data["metrics"]["trades"] == len(data["trades"]) == data["sweep"][0]["trades"]
    for point in data["equity"]:
        assert point["time"].endswith("Z")
    for trade in data["trades"]:
        assert set(trade) >= {"time", "exchange", "symbol", "side", "quantity", "price", "fee"}
    assert 0 <= data["metrics"]["max_drawdown"] < 1
    assert data["contaminated"] is False


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--threshold", "1.2"], "threshold"),
        (["--threshold", "abc"], "--threshold"),
        (["--start", "yesterday"], "--start"),
        (["--exchange", "nowhere"], "nowhere"),
        (["--symbol", "DOGE/USD"], "DOGE/USD"),
    ],
)
def test_bad_options_are_one_line_naming_them(
    cli_home: Path, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    code, out, err = run(capsys, "backtest", *WINDOW, *args, "--format", "json")
    assert code == 2
    assert out == ""
    assert named in err
    assert len(err.strip().splitlines()) == 1


def test_default_table_shows_the_sweep_and_writes_charts(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "backtest", *WINDOW)
    assert code == 0, err
    assert "Threshold sweep" in out
    for threshold in ("0.70", "0.75", "0.80", "0.85", "0.90"):
        assert threshold in out
    charts = list((cli_home / ".lyra" / "reports" / "backtest").glob("*.png"))
    assert len(charts) == 4


def _voters(out: str) -> list[str]:
    return sorted(row["analyst"] for row in json.loads(out)["scorecard"])


def test_phase_picks_that_phases_panel_from_the_panel_file(
    cli_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--phase N`` backtests the panel the live cycle of phase N would build
    (docs/domain.md, "Panels"); without it, phase 1's."""
    panels = cli_home / "panels.toml"
    panels.write_text(
        "[default.offline]\nema-trend = 1\nrsi-reversion = 1\n\n"
        "[phase.3.offline]\ndonchian-breakout = 1\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("LYRA_PANEL_FILE", str(panels))
    common = [*WINDOW, "--exchange", "coinbase", "--symbol", "BTC/USD", "--format", "json"]
    code, out, err = run(capsys, "backtest", *common, "--no-charts", "--phase", "3")
    assert code == 0, err
    assert _voters(out) == ["offline:donchian-breakout"]
    code, out, err = run(capsys, "backtest", *common, "--no-charts")
    assert code == 0, err
    assert _voters(out) == ["offline:ema-trend", "offline:rsi-reversion"]
    code, out, err = run(capsys, "backtest", *common, "--phase", "6")
    assert code == 2
    assert "--phase" in err
