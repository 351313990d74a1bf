"""Commands: ``lyra risk assess``, ``lyra killswitch status|reset``.

``lyra risk assess --input FILE.json`` is a contract (docs/domain.md, Contracts): it prints
``{approved, quantity, notional, risk_amount, checks: [{name, passed, detail}], reasons}``
on stdout and exits 0 *whether or not the order is approved*: the verdict is the output,
and a refusal is not a failure of the command. Input that cannot be assessed (a missing
field, NaN, a stop on the wrong side, an unknown symbol; a file too large, nested too
deep, with a key twice or an over-long number: :mod:`lyra.risk.request`) is one line on
stderr naming the field or the problem, and exit 2. A UTF-8 byte order mark is skipped.
The assessment is pure: it reads only the file and the settings (the limits, the
tradable symbols, the phase capital), never the stored kill switch, so a what-if file
cannot trip the real switch; pass ``kill_switch_tripped`` to model one.

``lyra killswitch status`` shows the stored switch; ``lyra killswitch reset --by NAME
--reason TEXT`` re-arms it (audited).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from lyra.errors import UserError

__all__ = ["register"]

risk_app = typer.Typer(help="Pre-trade risk checks.", no_args_is_help=True)
killswitch_app = typer.Typer(help="The drawdown kill switch.", no_args_is_help=True)

out = Console(highlight=False, soft_wrap=True)


@risk_app.command("assess")
def risk_assess(
    input_file: Annotated[
        Path | None,
        typer.Option("--input", help="The request as JSON (docs/domain.md, Contracts)."),
    ] = None,
) -> None:
    """Assess one proposed trade and print the verdict as JSON (exit 0, approved or not)."""
    from lyra.bootstrap import risk_limits
    from lyra.config import load_settings
    from lyra.risk import assess, parse_request_json
    from lyra.risk.request import MAX_INPUT_CHARS

    if input_file is None:
        raise UserError("--input: required: the request as a JSON file")
    text = _read_request(input_file, MAX_INPUT_CHARS)
    limits = risk_limits(load_settings())
    result = assess(parse_request_json(text), limits)
    typer.echo(json.dumps(result.to_json(), indent=2))


def _read_request(path: Path, limit: int) -> str:
    """The file's text (UTF-8, a byte order mark skipped), read no further than ``limit``
    characters' worth: a huge file is refused without being loaded."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(4 * limit + 4)  # UTF-8: at most 4 bytes a character
            if handle.read(1):
                raise UserError(
                    f"--input {path}: larger than a request can be ({limit:,} characters)"
                )
        return raw.decode("utf-8-sig")
    except OSError as exc:
        raise UserError(f"--input {path}: cannot read: {exc}") from None
    except UnicodeDecodeError as exc:
        raise UserError(
            f"--input {path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


@killswitch_app.command("status")
def killswitch_status() -> None:
    """Show whether the kill switch is tripped, why, and its last reset."""
    from lyra.bootstrap import open_database
    from lyra.config import load_settings
    from lyra.risk.figures import fmt, pct
    from lyra.store.killswitch import killswitch_state

    with open_database(load_settings()).transaction() as session:
        state = killswitch_state(session)
    if state.tripped:
        out.print(f"kill switch: TRIPPED at {_when(state.tripped_at)}: {state.reason}")
        out.print(
            "no new risk until a person resets it: lyra killswitch reset --by NAME --reason TEXT"
        )
    else:
        out.print("kill switch: armed (not tripped)")
    if state.last_equity is not None and state.high_water is not None:
        fall = state.current_drawdown
        out.print(
            f"last check {_when(state.checked_at)}: equity {fmt(state.last_equity)}, "
            f"high-water {fmt(state.high_water)}, drawdown {pct(fall)}"
        )
    if state.reset_at is not None:
        out.print(f"last reset {_when(state.reset_at)} by {state.reset_by}: {state.reset_reason}")


@killswitch_app.command("reset")
def killswitch_reset(
    by: Annotated[str, typer.Option("--by", help="Who resets the switch (a person).")] = "",
    reason: Annotated[str, typer.Option("--reason", help="Why it is safe to trade again.")] = "",
) -> None:
    """Re-arm a tripped kill switch (audited with NAME and TEXT; both required)."""
    # checked here rather than by typer, so a missing option is one line and exit 2
    if not by.strip():
        raise UserError("--by: required: the name of the person resetting the kill switch")
    if not reason.strip():
        raise UserError("--reason: required: why it is safe to take new risk again")
    from lyra.bootstrap import open_database
    from lyra.config import load_settings
    from lyra.store.killswitch import killswitch_state, reset_killswitch

    with open_database(load_settings()).transaction() as session:
        was_tripped = killswitch_state(session).tripped
        state = reset_killswitch(session, by=by, reason=reason, now=datetime.now(UTC))
    if not was_tripped:
        out.print("kill switch was not tripped: nothing to reset")
        return
    out.print(f"kill switch reset by {state.reset_by}: {state.reset_reason}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``lyra`` app."""
    app.add_typer(risk_app, name="risk")
    app.add_typer(killswitch_app, name="killswitch")
