"""Write docs/strategies.md from a walk-forward backtest of every registered strategy.

Run from the repository root: ``.venv/bin/python scripts/strategies_doc.py``. It runs
:func:`lyra.services.strategy_selection.walk_forward` on the shipped hourly candles:
every strategy's record and solo figures on the selection window and on the report
window (one vote pass each), the default panel chosen on the selection window only, and
that panel's backtest (the sweep table ``lyra backtest`` prints) on both windows; beside
it, the default panel of lyra/decision/panels.toml on both windows, and the
cross-exchange-spread strategy on both venues (its only input is their spread). Then it
writes docs/strategies.md, replaces the marked block of README.md's evidence section with
the default panel's figures on both windows, and prints the chosen panel as settings TOML.

``--time-full-history`` also times one ``run_backtest`` of all the strategies over the
whole shipped hourly history (issue 16's performance target) and prints the seconds.

Nothing touches the network; Lyra's home is a temporary folder. Several minutes on two
cores (the vote passes of twenty strategies dominate); a progress bar shows each pass.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn  # noqa: E402

from lyra.bootstrap import build_runtime, dispose_all  # noqa: E402
from lyra.config import load_settings  # noqa: E402
from lyra.decision.analysts import build_offline_panel  # noqa: E402
from lyra.decision.analysts.registry import OFFLINE_ANALYSTS  # noqa: E402
from lyra.services.backtest import BacktestPanel, BacktestReport, run_backtest  # noqa: E402
from lyra.services.backtest_plan import DEFAULT_THRESHOLDS, BacktestPlan  # noqa: E402
from lyra.services.runtime import Runtime  # noqa: E402
from lyra.services.strategy_evidence import (  # noqa: E402
    SOLO_THRESHOLD,
    StrategyFigures,
    WindowEvidence,
    panel_sweep,
    strategy_evidence,
)
from lyra.services.strategy_selection import (  # noqa: E402
    DIRECTIONAL_WHAT_IF,
    PanelRun,
    PanelSelection,
    SelectionRule,
    StageProgress,
    WalkForward,
    default_panel_toml,
    walk_forward,
)

DOC = ROOT / "docs" / "strategies.md"
#: The data starts 2017-07-01 11:00 UTC; the slowest indicator (Ichimoku span B) is
#: defined from the 78th candle on, so the selection window starts once all are.
SELECTION = (datetime(2017, 7, 5, tzinfo=UTC), datetime(2019, 1, 1, tzinfo=UTC))
#: 2019 to the end of the shipped Coinbase hourly file (2019-10-17).
REPORT = (datetime(2019, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC))
FULL_HISTORY = (SELECTION[0], datetime(2019, 10, 18, tzinfo=UTC))
#: Coinbase only: the Bitfinex hourly file repeats Coinbase's values over their common
#: range (lyra/market/data/ORIGIN.md), so counting it would double every count and add
#: no evidence.
EXCHANGES = ("coinbase",)
SYMBOLS = ("BTC/USD",)


def plan_of(
    window: tuple[datetime, datetime], exchanges: Sequence[str] = EXCHANGES
) -> BacktestPlan:
    return BacktestPlan(
        start=window[0],
        end=window[1],
        exchanges=tuple(exchanges),
        symbols=SYMBOLS,
        thresholds=DEFAULT_THRESHOLDS,
    )


# --- the document ------------------------------------------------------------------------


def _paragraphs(doc: str | None) -> list[str]:
    text = inspect.cleandoc(doc or "")
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def definition(name: str) -> tuple[str, str, str]:
    """(first paragraph of the module docstring, its sources paragraph, source path)."""
    module = sys.modules[OFFLINE_ANALYSTS[name].analyst_class.__module__]
    paragraphs = _paragraphs(module.__doc__)
    sources = next((p for p in paragraphs if p.lower().startswith("source")), "")
    path = Path(module.__file__ or "").resolve()
    try:
        shown = path.relative_to(ROOT).as_posix()
    except ValueError:
        shown = path.name
    return (paragraphs[0] if paragraphs else ""), sources, shown


def _num(value: float | None, places: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{places}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _window(evidence: WindowEvidence) -> str:
    return f"{evidence.start:%Y-%m-%d} to {evidence.end:%Y-%m-%d}"


#: Why a strategy has no record where the data cannot give it one (said instead of zeros).
NO_RECORD = {
    "offline:news-sentiment-momentum": (
        "no record: no point-in-time news history ships with Lyra (a backtest's sentiment "
        'is "none yet"), so it abstained on every candle; its figures would measure the '
        "missing data, not the rule"
    ),
    "offline:cross-exchange-spread": (
        "no record: it was fed the Coinbase-Bitfinex spreads point in time, but the "
        "shipped Bitfinex hourly file repeats Coinbase's prices (lyra/market/data/ORIGIN.md), "
        "so every spread is 0, its z-score undefined, and the rule never had a spread to "
        "judge; a record needs two venues' real prices"
    ),
}
SPREAD = "offline:cross-exchange-spread"


def figures_table(evidence: WindowEvidence, chosen: Sequence[str]) -> list[str]:
    lines = [
        "| strategy | votes | resolved | hit rate | by chance | Brier | by chance | "
        "buy/sell hit rate | trades | return | Sharpe | max drawdown |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in OFFLINE_ANALYSTS:
        f = evidence.figures.get(name)
        mark = " **(chosen)**" if name in chosen else ""
        if f is None:
            lines.append(f"| `{name}`{mark} | not measured |||||||||||")
            continue
        if f.resolved == 0:
            why = "; ".join(filter(None, (NO_RECORD.get(name), _abstained(f))))
            lines.append(f"| `{name}`{mark} | {f.votes} | 0 | {why} |||||||||")
            continue
        lines.append(
            f"| `{name}`{mark} | {f.votes} | {f.resolved} | {_num(f.hit_rate)} | "
            f"{_num(f.baseline_hit_rate)} | {_num(f.brier)} | {_num(f.baseline_brier)} | "
            f"{_num(f.directional_hit_rate)} | {f.trades} | "
            f"{_pct(f.total_return)} | {_num(f.sharpe, 2)} | {_pct(f.max_drawdown)} |"
        )
    return lines


def _abstained(figures: StrategyFigures) -> str:
    """The most frequent abstention of a strategy without a record, measured."""
    if figures.abstention is None:
        return "" if figures.name in NO_RECORD else "no record"
    reason, count = figures.abstention
    return f'most frequent abstention: "{reason}" ({count} of {figures.votes} votes)'


def sweep_table(report: BacktestReport | None) -> list[str]:
    if report is None:
        return ["No panel was chosen, so there is no sweep."]
    lines = [
        "| threshold | decisions | trades | return | Sharpe | max drawdown | decision hit rate |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in sorted(report.sweep, key=lambda r: r.threshold):
        lines.append(
            f"| {row.threshold} | {row.decisions} | {row.trades} | {_pct(row.total_return)} | "
            f"{_num(row.sharpe, 2)} | {_pct(row.max_drawdown)} | {_num(row.hit_rate)} |"
        )
    hold = report.buy_and_hold
    lines += [
        "",
        f"Buy-and-hold over the same window: return {_pct(hold.total_return)}, "
        f"Sharpe {_num(hold.sharpe, 2)}, max drawdown {_pct(hold.max_drawdown)}.",
    ]
    return lines


def render(walk: WalkForward, extra: Extra | None = None) -> str:
    """docs/strategies.md for ``walk`` (and the registry default's sweeps and the spread
    strategy's two-venue record, when measured)."""
    if extra is not None:
        walk = _with_spread_record(walk, extra)
    selection = walk.selection
    chosen = selection.members
    rule = selection.rule
    out = [
        "<!-- generated by scripts/strategies_doc.py from a backtest; do not edit -->",
        "",
        "# The strategy library: each strategy's measured record",
        "",
        "Generated by `scripts/strategies_doc.py` from a backtest; do not edit by hand "
        "(run `.venv/bin/python scripts/strategies_doc.py` again).",
        "",
        "**What these figures are.** Every figure is on the shipped BTC/USD hourly candles "
        f"of Coinbase only, {_window(walk.selection_evidence)} (selection window) and "
        f"{_window(walk.report_evidence)} (report window; the data ends 2019-10-17). The "
        "Bitfinex hourly file repeats Coinbase's values, so it is left out rather than "
        "counted twice. Nothing here says how a strategy does on another market or "
        "period. The cross-exchange-spread strategy alone is measured on both venues "
        "(the spreads of Coinbase against Bitfinex, each read on candles closed by the "
        "instant), since spreads are its only input; see its row. "
        "The offline strategies are fixed rules, not LLMs: they have no training "
        "data, so the contamination question of an LLM backtest (docs/evidence.md) does "
        "not apply to them.",
        "",
        "**How they are measured.** One backtest pass per window takes every strategy's "
        "vote at every hourly close (`lyra.services.strategy_evidence`). A vote is "
        "resolved 24 candles later, as docs/evidence.md defines it for every vote: *hit "
        "rate* is the share of right calls (buy: the price rose; sell: it fell; hold: it "
        "moved less than 1%), *Brier* the mean of (confidence - right)^2. *By chance* is "
        "the baseline of the same calls: the hit rate a forecaster without skill making "
        "them would get from the window's base rates (the share of candles followed by a "
        "rise, a fall, a move under 1%), and the Brier score of stating each call's base "
        "rate as its confidence. A coin's 0.5 and 0.25 are the baseline only of a call "
        "that is right half the time: a hold, right on a move under 1%, is right far less "
        "often on hourly bitcoin, so a strategy that holds a lot has a low hit rate "
        "without being worse than chance. *Buy/sell hit rate* is the hit rate of its buy "
        "and sell calls alone. *Trades*, *return*, *Sharpe* and *max drawdown* are "
        f"the strategy trading alone at threshold {SOLO_THRESHOLD} through Lyra's risk "
        "checks, kill switch and paper broker (10,000 USD, fills at the next candle's "
        "open with slippage and the taker fee). A drawdown near 15% is the kill switch: "
        "at 15% below the peak it stops new risk for the rest of the window (nobody "
        "resets it inside a backtest), so a losing strategy's figures stop there.",
        "",
        "## The default panel, chosen walk-forward",
        "",
        f"Chosen on the selection window only ({_window(walk.selection_evidence)}) by "
        "`lyra.services.strategy_selection`: a member has at least "
        f"{rule.min_resolved} resolved votes, a hit rate above its calls' *by chance* hit "
        "rate and a Brier score below their *by chance* Brier score (a Brier skill score "
        "above 0), both as the selection window's table shows them, and weighs its learned "
        "weight (1.0 x hit rate / 0.5, within 0.5 and 2). The report window was not read "
        "to choose it.",
        "",
        *panel_section(walk.chosen, "chosen panel"),
    ]
    if extra is not None:
        out += default_section(extra)
    out += calibration_section(walk.selection_evidence)
    if walk.what_if is not None:
        out += [
            "## What-if: a looser rule (not the default)",
            "",
            "The same walk-forward with a looser rule, to measure whether one would have "
            "done better out of sample: only a strategy's buy and sell calls are judged "
            "(at least "
            f"{walk.what_if.selection.rule.min_resolved} resolved, hit rate above their "
            "*by chance* hit rate) and there is no Brier condition, so its members' "
            "confidences need not mean what they say.",
            "",
            *panel_section(walk.what_if, "what-if panel"),
        ]
    out += [
        "## Every strategy on the selection window",
        "",
        *figures_table(walk.selection_evidence, chosen),
        "",
        "## Every strategy on the report window",
        "",
        *figures_table(walk.report_evidence, chosen),
        "",
        "## Definitions",
        "",
    ]
    for name in OFFLINE_ANALYSTS:
        summary, sources, path = definition(name)
        out += [f"### `{name}`", "", summary, ""]
        if sources:
            out += [sources, ""]
        out += [f"Code: [`{path}`](../{path})", ""]
    out += [
        "## Appendix: the chosen panel as settings",
        "",
        "The default panel the rule chose, as `[default]` settings TOML (an empty list "
        "when it chose nobody: the registry's default then stays).",
        "",
        "```toml",
        default_panel_toml(selection).rstrip("\n"),
        "```",
        "",
    ]
    return "\n".join(out)


def panel_section(run: PanelRun, title: str) -> list[str]:
    """A rule's members, the left-out strategies, and the panel's sweep on both windows."""
    selection = run.selection
    out: list[str] = []
    if selection.members:
        out += ["| member | weight | why |", "|---|---:|---|"]
        out += [
            f"| `{c.name}` | {c.weight} | {c.reason} |" for c in selection.candidates if c.chosen
        ]
    else:
        out.append(
            "**No strategy passed the rule**, so there is no panel to backtest and the "
            "registry's default panel stays as it is: on this evidence no default panel "
            "reaches the phase thresholds with confidences that mean what they say."
        )
    out += ["", "Left out:", ""]
    out += [f"- `{c.name}`: {c.reason}" for c in selection.candidates if not c.chosen]
    if not selection.members:
        return [*out, ""]
    return [
        *out,
        "",
        f"### The {title}'s sweep on the report window (out of sample)",
        "",
        *sweep_table(run.report_sweep),
        "",
        f"### The {title}'s sweep on the selection window (in sample: it was chosen here)",
        "",
        *sweep_table(run.selection_sweep),
        "",
        reaches(run),
        "",
    ]


def reaches(run: PanelRun) -> str:
    """Whether the panel acted at a phase threshold (0.70+) in each window."""
    parts = []
    for label, report in (("report", run.report_sweep), ("selection", run.selection_sweep)):
        if report is None:
            continue
        acting = [r for r in report.sweep if r.threshold >= 0.70 and r.decisions > 0]
        if acting:
            top = max(r.threshold for r in acting)
            parts.append(f"on the {label} window it reached phase thresholds up to {top}")
        else:
            parts.append(f"on the {label} window it never reached phase 1's 0.70")
    if not parts:
        return ""
    text = "; ".join(parts)
    return f"**Does the panel reach the phase thresholds?** {text[:1].upper()}{text[1:]}."


@dataclass(frozen=True, slots=True)
class Extra:
    """What the script measures beside the walk-forward: the default panel of
    lyra/decision/panels.toml on both windows, and the cross-exchange-spread strategy on
    both venues (the only strategy that reads the second one)."""

    default_names: tuple[str, ...]
    default_selection: BacktestReport
    default_report: BacktestReport
    spread_selection: WindowEvidence
    spread_report: WindowEvidence


def _with_spread_record(walk: WalkForward, extra: Extra) -> WalkForward:
    """``walk`` with the spread strategy's figures from its two-venue pass."""

    def merged(evidence: WindowEvidence, spread: WindowEvidence) -> WindowEvidence:
        figures = dict(evidence.figures)
        if SPREAD in spread.figures:
            figures[SPREAD] = spread.figures[SPREAD]
        return replace(evidence, figures=figures)

    return replace(
        walk,
        selection_evidence=merged(walk.selection_evidence, extra.spread_selection),
        report_evidence=merged(walk.report_evidence, extra.spread_report),
    )


def default_section(extra: Extra) -> list[str]:
    names = ", ".join(f"`{n}`" for n in extra.default_names)
    return [
        "## The default panel as it stands",
        "",
        f"The offline default of `lyra/decision/panels.toml`: {names}, at their configured "
        "weights (what the walk-forward chooses is applied by a person editing that file, "
        "never by this script). Its sweep (`lyra backtest` over the same Coinbase "
        "candles):",
        "",
        f"### Selection window ({_report_window(extra.default_selection)})",
        "",
        *sweep_table(extra.default_selection),
        "",
        f"### Report window ({_report_window(extra.default_report)}, out of sample)",
        "",
        *sweep_table(extra.default_report),
        "",
        reaches(PanelRun(select_nobody(), extra.default_selection, extra.default_report)),
        "",
    ]


#: Buy/sell calls a confidence bin needs before its hit rate is read as a calibration.
CALIBRATION_MIN_CALLS = 100
PHASE_1 = 0.70


def calibration_section(evidence: WindowEvidence) -> list[str]:
    """Whether confidences calibrated on the selection window could reach phase 1's 0.70."""
    rows = [
        "| strategy | buy/sell calls | best bin's hit rate | bins (calls: hit rate) |",
        "|---|---:|---:|---|",
    ]
    reaching: list[str] = []
    for name in OFFLINE_ANALYSTS:
        f = evidence.figures.get(name)
        if f is None or not f.directional_bins:
            continue
        best = f.best_calibrated(CALIBRATION_MIN_CALLS)
        any_bin = f.best_calibrated(1)  # a thin bin too: isotonic regression may keep it
        if any_bin is not None and any_bin >= PHASE_1:
            reaching.append(name)
        bins = ", ".join(
            f"{i / len(f.directional_bins):.1f}-{(i + 1) / len(f.directional_bins):.1f} "
            f"{n}: {_num(right / n if n else None, 2)}"
            for i, (n, right) in enumerate(f.directional_bins)
        )
        rows.append(f"| `{name}` | {f.directional} | {_num(best)} | {bins} |")
    if reaching:
        verdict = (
            "Some strategies have a bin (possibly a thin one) at or above 0.70 ("
            + ", ".join(f"`{n}`" for n in reaching)
            + "): a calibrated panel of them might reach phase 1; this document does not "
            "run one, so it claims nothing either way."
        )
    else:
        verdict = (
            "**No strategy has a confidence bin whose buy or sell calls were right 70% of "
            f"the time** (the table's best is over bins of at least {CALIBRATION_MIN_CALLS} "
            "calls; no thinner bin reaches 0.70 either), so a calibration "
            "learned on the selection window (isotonic per strategy: a confidence mapped to "
            "its bin's hit rate, neighbouring bins pooled to keep it monotone) states no "
            "buy or sell confidence of 0.70 or more. A panel's score for an action is at "
            "most the largest confidence among the votes for it (docs/domain.md, "
            "Consensus: a weighted share of the valid weight), so with confidences that "
            "mean what they say no panel of these strategies, whatever its members and "
            "weights, reaches phase 1's 0.70 on any window, 2019 included. That is the "
            "honest result; the thresholds are not lowered to change it."
        )
    return [
        "## Would calibrated confidences reach the phase thresholds?",
        "",
        "Issue 16 asks that confidences mean what they say (calibrated against outcomes). "
        "Each strategy's buy and sell calls on the selection window "
        f"({_window(evidence)}), by stated confidence, with how often they were right "
        "after 24 candles (nothing of the report window is read):",
        "",
        *rows,
        "",
        verdict,
        "",
    ]


def _report_window(report: BacktestReport) -> str:
    return f"{report.plan.start:%Y-%m-%d} to {report.plan.end:%Y-%m-%d}"


def select_nobody() -> PanelSelection:
    return PanelSelection(SELECTION[0], SELECTION[1], SelectionRule(), ())


README = ROOT / "README.md"
README_BEGIN = "<!-- strategies:begin (generated by scripts/strategies_doc.py) -->"
README_END = "<!-- strategies:end -->"


def readme_block(walk: WalkForward, extra: Extra) -> str:
    """The README's evidence figures: the default panel's sweep at 0.50 and phase 1's
    0.70 on both windows, with a link to docs/strategies.md."""

    def row(label: str, report: BacktestReport) -> list[str]:
        out = []
        for sweep in sorted(report.sweep, key=lambda r: r.threshold):
            if sweep.threshold not in (Decimal("0.50"), Decimal("0.70")):
                continue
            out.append(
                f"| {label} ({_report_window(report)}) | {sweep.threshold} | {sweep.decisions} "
                f"| {sweep.trades} | {_pct(sweep.total_return)} | {_num(sweep.sharpe, 2)} | "
                f"{_pct(sweep.max_drawdown)} | {_pct(report.buy_and_hold.total_return)} |"
            )
        return out

    chosen = walk.selection.members
    verdict = (
        f"the walk-forward rule chose {', '.join(f'`{n}`' for n in chosen)}"
        if chosen
        else "no strategy beat its calls' by-chance hit rate and Brier score on the "
        "selection window, so the walk-forward rule chose nobody and the default stays"
    )
    return "\n".join(
        [
            README_BEGIN,
            "The strategy library's record ([docs/strategies.md](docs/strategies.md), "
            "generated by `scripts/strategies_doc.py`): every strategy's hit rate, Brier "
            "score and solo trading on Coinbase BTC/USD hourly, chosen on the selection "
            "window 2017-07..2018-12 and reported on 2019 (to the data's end, 2019-10-17); "
            f"{verdict}. The default offline panel on both windows:",
            "",
            "| window | threshold | decisions | trades | return | Sharpe | max drawdown "
            "| buy-and-hold |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *row("selection", extra.default_selection),
            *row("report", extra.default_report),
            README_END,
        ]
    )


def write_readme(block: str, path: Path = README) -> None:
    """Replace the marked block of the README's evidence section (nothing else)."""
    text = path.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        print(f"{path}: no {README_BEGIN!r} block; README left alone", flush=True)
        return
    head, _, rest = text.partition(README_BEGIN)
    _, _, tail = rest.partition(README_END)
    path.write_text(head + block + tail, encoding="utf-8")


# --- running it --------------------------------------------------------------------------


@contextmanager
def progress_bar() -> Iterator[StageProgress]:
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as bar:
        tasks: dict[str, object] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)  # type: ignore[arg-type]

        yield report


async def full_history_seconds(
    runtime: Runtime, names: Sequence[str], report: Callable[[int, int], None]
) -> float:
    """One ``run_backtest`` of ``names`` over the whole history (both exchanges, as
    ``benchmarks/backtest.py`` runs its full history); empty: the registry's default."""
    plan = plan_of(FULL_HISTORY, ("coinbase", "bitfinex"))
    panel = BacktestPanel(build_offline_panel(list(names)))
    started = time.perf_counter()
    await run_backtest(runtime, plan, panel, progress=report)
    return time.perf_counter() - started


async def main_async(runtime: Runtime, time_full: bool) -> tuple[WalkForward, Extra]:
    analysts = build_offline_panel(list(OFFLINE_ANALYSTS))
    with progress_bar() as report:
        walk = await walk_forward(
            runtime,
            analysts,
            selection_plan=plan_of(SELECTION),
            report_plan=plan_of(REPORT),
            what_if=DIRECTIONAL_WHAT_IF,
            progress=report,
        )
        default = build_offline_panel()
        sweeps = [
            await panel_sweep(
                runtime, plan_of(window), default, progress=partial(report, f"default, {label}")
            )
            for label, window in (("selection", SELECTION), ("report", REPORT))
        ]
        spread = build_offline_panel([SPREAD])
        both = ("coinbase", "bitfinex")
        records = [
            await strategy_evidence(
                runtime,
                plan_of(window, both),
                spread,
                progress=partial(report, f"spreads on both venues, {label}"),
            )
            for label, window in (("selection", SELECTION), ("report", REPORT))
        ]
        extra = Extra(
            tuple(member.name for member in default), sweeps[0], sweeps[1], records[0], records[1]
        )
        if time_full:
            for label, names in (("all strategies", list(OFFLINE_ANALYSTS)), ("default", [])):
                stage = f"full history, {label}"
                seconds = await full_history_seconds(runtime, names, partial(report, stage))
                print(f"{stage}: run_backtest {seconds:.1f} s", flush=True)
    return walk, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-full-history", action="store_true")
    parser.add_argument("--output", type=Path, default=DOC)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lyra-strategies-doc-") as folder:
        try:
            runtime = build_runtime(load_settings(home=Path(folder) / "home"), phase=1)
            walk, extra = asyncio.run(main_async(runtime, args.time_full_history))
        finally:
            dispose_all()
    args.output.write_text(render(walk, extra), encoding="utf-8")
    if args.output == DOC:
        write_readme(readme_block(walk, extra))
    print(default_panel_toml(walk.selection), end="")
    print(f"wrote {args.output} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
