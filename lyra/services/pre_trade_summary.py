"""What a pre-trade run did, as plain serialisable summaries (the flow's persisted result),
with the renderings the flow's artifacts and the CLI show."""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from lyra.risk.killswitch import drawdown

__all__ = ["PreTradeSummary", "TradeOutcome", "equity_markdown", "order_table"]


class TradeOutcome(BaseModel):
    """What pre-trade risk did with one decision."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    exchange: str
    symbol: str
    side: str
    status: str
    approved: bool | None = None
    quantity: Decimal | None = None
    notional: Decimal | None = None
    reasons: tuple[str, ...] = ()
    client_order_id: str | None = None
    sent: bool = False
    filled: Decimal = Decimal(0)
    average: Decimal | None = None
    fee: Decimal = Decimal(0)
    detail: str | None = None


class PreTradeSummary(BaseModel):
    """What one pre-trade run did (the flow's persisted result)."""

    model_config = ConfigDict(frozen=True)

    phase: int
    mode: str
    account: str
    market_time: datetime
    #: The run's consensus threshold (the phase's, or the stricter one it was given).
    threshold: Decimal | None = None
    outcomes: tuple[TradeOutcome, ...]
    reconciled: tuple[str, ...] = ()
    kill_switch_tripped: bool = False
    cancelled_orders: int = 0
    cash: Decimal = Decimal(0)
    equity: Decimal = Decimal(0)
    peak_equity: Decimal = Decimal(0)
    realised_pnl: Decimal = Decimal(0)
    unrealised_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    chart_path: str | None = None
    #: What the kill switch observed: ``exchange`` (live: balances marked to market) or
    #: ``ledger``; the exchanges' equity, and the ledger's discrepancies against it.
    equity_source: str = "ledger"
    exchange_equity: Decimal | None = None
    equity_discrepancies: tuple[str, ...] = ()


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def order_table(summary: PreTradeSummary) -> list[dict[str, str]]:
    """Rows of the orders artifact: one per decision taken up."""
    return [
        {
            "exchange": o.exchange,
            "symbol": o.symbol,
            "side": o.side,
            "status": o.status,
            "quantity": "" if o.quantity is None else str(o.quantity),
            "filled": str(o.filled),
            "average": _money(o.average),
            "fee": _money(o.fee),
            "client_order_id": o.client_order_id or "",
            "reasons": "; ".join(o.reasons) or (o.detail or ""),
        }
        for o in summary.outcomes
    ]


def equity_markdown(summary: PreTradeSummary) -> str:
    """The account's figures and its equity curve (embedded PNG) as Markdown."""
    fall = drawdown(summary.equity, summary.peak_equity)
    lines = [
        f"# {summary.account} account, phase {summary.phase} ({summary.mode})",
        "",
        f"Market time {summary.market_time:%Y-%m-%d %H:%M} UTC.",
        "",
        "| cash | equity | peak | drawdown | realised P&L | unrealised P&L | fees |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {_money(summary.cash)} | {_money(summary.equity)} | {_money(summary.peak_equity)} "
        f"| {fall:.2%} | {_money(summary.realised_pnl)} | {_money(summary.unrealised_pnl)} "
        f"| {_money(summary.fees)} |",
        "",
        f"Kill switch: {'TRIPPED' if summary.kill_switch_tripped else 'armed'}"
        f"; open orders cancelled: {summary.cancelled_orders}.",
    ]
    if summary.equity_source == "exchange":
        lines += ["", f"Equity at the exchanges: {_money(summary.exchange_equity)}."]
    if summary.equity_discrepancies:
        lines += ["", "Ledger and exchange disagree (EquityDiscrepancy):", ""]
        lines += [f"- {line}" for line in summary.equity_discrepancies]
    if summary.chart_path and Path(summary.chart_path).exists():
        data = base64.b64encode(Path(summary.chart_path).read_bytes()).decode("ascii")
        lines += ["", f"![equity curve](data:image/png;base64,{data})", "", summary.chart_path]
    return "\n".join(lines) + "\n"
