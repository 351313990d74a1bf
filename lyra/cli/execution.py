"""Commands: ``lyra portfolio``.

Prints the account as stored: cash, each position (quantity, average cost, mark,
unrealised P&L), realised P&L, fees, equity, its peak and the drawdown. Positions are
marked at their last known price (the last fill or the last run's mark): the command
makes no network call, so it also works when an exchange is down.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from lyra.config import load_settings
from lyra.errors import UserError

if TYPE_CHECKING:
    from lyra.portfolio import Valuation

__all__ = ["portfolio_command", "portfolio_json", "register"]

out = Console(highlight=False, soft_wrap=False, width=160)

AccountOption = Annotated[
    str, typer.Option("--account", help="paper (phases 1-3) or live (phases 4-5).")
]
FormatOption = Annotated[
    Literal["table", "json"], typer.Option("--format", help="table (default) or json.")
]


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _plain(value: Decimal | None) -> str | None:
    """A decimal as plain text without the trailing zeros of PostgreSQL's NUMERIC scale."""
    if value is None:
        return None
    return format(value.normalize(), "f") if value else "0"


def portfolio_json(account: str, valuation: Valuation) -> dict[str, object]:
    """The valuation as JSON-ready values, money as decimal strings."""
    return {
        "account": account,
        "cash": _plain(valuation.cash),
        "positions": [
            {
                "exchange": line.exchange,
                "symbol": line.symbol,
                "quantity": _plain(line.quantity),
                "average_cost": _plain(line.average_cost),
                "mark": _plain(line.mark),
                "value": _plain(line.value),
                "unrealised_pnl": _plain(line.unrealised),
                "realised_pnl": _plain(line.realised),
                "fees": _plain(line.fees),
            }
            for line in valuation.lines
        ],
        "realised_pnl": _plain(valuation.realised_pnl),
        "unrealised_pnl": _plain(valuation.unrealised_pnl),
        "fees": _plain(valuation.fees),
        "equity": _plain(valuation.equity),
        "peak_equity": _plain(valuation.peak_equity),
        "drawdown": _plain(valuation.drawdown),
    }


def portfolio_command(account: AccountOption = "paper", format: FormatOption = "table") -> None:
    """The account: cash, positions, realised and unrealised P&L, fees, equity, peak."""
    from lyra.bootstrap import open_database
    from lyra.store.accounts import cash_balance, is_funded, value_account

    if account not in ("paper", "live"):
        raise UserError(f"--account must be paper or live, not {account!r}")
    settings = load_settings()
    with open_database(settings).transaction() as session:
        funded = is_funded(session, account)
        valuation = value_account(session, account)
        cash = cash_balance(session, account)
    if format == "json":
        out.print_json(json.dumps(portfolio_json(account, valuation)))
        return
    if not funded:
        out.print(f"no {account} account yet: run `lyra run` with LYRA_PHASE=3")
        return
    positions = Table(title=f"{account} positions", title_justify="left")
    for column in ("exchange", "symbol", "quantity", "avg cost", "mark", "value", "unrealised"):
        positions.add_column(
            column, justify="left" if column in ("exchange", "symbol") else "right"
        )
    for line in valuation.lines:
        if line.quantity:
            positions.add_row(
                line.exchange,
                line.symbol,
                _quantity(line.quantity),
                _money(line.average_cost),
                _money(line.mark),
                _money(line.value),
                _money(line.unrealised),
            )
    totals = Table(title=f"{account} account", title_justify="left", show_header=False)
    totals.add_column("figure")
    totals.add_column("value", justify="right")
    for name, value in (
        ("cash", _money(cash)),
        ("positions at market", _money(valuation.positions_value)),
        ("realised P&L", _money(valuation.realised_pnl)),
        ("unrealised P&L", _money(valuation.unrealised_pnl)),
        ("fees", _money(valuation.fees)),
        ("equity", _money(valuation.equity)),
        ("peak equity", _money(valuation.peak_equity)),
        ("drawdown", f"{valuation.drawdown:.2%}"),
    ):
        totals.add_row(name, value)
    if positions.row_count:
        out.print(positions)
    else:
        out.print(f"no open {account} positions")
    out.print(totals)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``lyra`` app."""
    app.command("portfolio")(portfolio_command)
