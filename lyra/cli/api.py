"""``lyra api``: serve the orchestrator HTTP API, and manage its tokens.

``lyra api --host --port`` serves it with uvicorn until Ctrl-C (``lyra serve`` also
starts it beside the worker). ``lyra api token create --role viewer|operator|admin
[--name N]`` makes a token and prints it once, as the last word of the last line; only
its SHA-256 digest is stored, so it cannot be shown again. ``lyra api token revoke
ID_OR_NAME`` revokes it; ``lyra api token list`` lists tokens (never their values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from lyra.config import Settings, load_settings
from lyra.errors import UserError

if TYPE_CHECKING:
    import uvicorn

__all__ = ["api_app", "api_server", "register"]

api_app = typer.Typer(help="The orchestrator HTTP API (docs/api.md).")
token_app = typer.Typer(help="API tokens: create, revoke, list.", no_args_is_help=True)
api_app.add_typer(token_app, name="token")

out = Console(highlight=False, soft_wrap=True)

_ROLES = ("viewer", "operator", "admin")


@api_app.callback(invoke_without_command=True)
def api(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the API with uvicorn (docs at /docs); Ctrl-C stops it."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings()
    out.print(
        f"lyra api: serving on http://{host}:{port} (docs at /docs, Prometheus at /metrics)",
        markup=False,
    )
    api_server(settings, host, port).run()


def api_server(settings: Settings, host: str, port: int) -> uvicorn.Server:
    """The server ``lyra api`` runs: the API and, beside it without a token (a scraper has
    none), ``GET /metrics`` read from the same database (docs/observability.md)."""
    from lyra.api.server import server
    from lyra.observability.metrics import metrics_router

    return server(settings, host, port, extra_routers=lambda c: [metrics_router(c.database)])


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")],
    name: Annotated[str | None, typer.Option(help="A name to know it by.")] = None,
) -> None:
    """Make a token; it is printed once, as the last word of the last line."""
    from lyra.bootstrap import open_database
    from lyra.store.api_tokens import ROLES, create_token

    chosen = next((r for r in ROLES if r == role), None)
    if chosen is None:
        raise UserError(f"--role {role!r} is not one of {', '.join(_ROLES)}")
    with open_database(load_settings()).transaction() as session:
        try:
            issued = create_token(session, chosen, name)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    info = issued.info
    out.print(
        f"token {info.id} ({info.name}, {info.role}) created; it is shown only now, and "
        "only its digest is stored:",
        markup=False,
    )
    typer.echo(f"token: {issued.token}")  # plain echo: never wrapped


@token_app.command("revoke")
def token_revoke(ident: Annotated[str, typer.Argument(help="The token's id or name.")]) -> None:
    """Revoke the live tokens with this id or name."""
    from lyra.bootstrap import open_database
    from lyra.store.api_tokens import revoke_token

    with open_database(load_settings()).transaction() as session:
        revoked = revoke_token(session, ident)
    if not revoked:
        raise UserError(f"no live token has the id or name {ident!r}")
    for info in revoked:
        out.print(f"revoked token {info.id} ({info.name}, {info.role})", markup=False)


@token_app.command("list")
def token_list() -> None:
    """Every token: id, name, role, created, revoked (never its value)."""
    from lyra.bootstrap import open_database
    from lyra.store.api_tokens import list_tokens

    with open_database(load_settings()).transaction() as session:
        tokens = list_tokens(session)
    table = Table(title="API tokens")
    for column in ("id", "name", "role", "created (UTC)", "revoked"):
        table.add_column(column)
    for t in tokens:
        revoked = "-" if t.revoked_at is None else f"{t.revoked_at:%Y-%m-%d %H:%M}"
        table.add_row(t.id, t.name, t.role, f"{t.created_at:%Y-%m-%d %H:%M}", revoked)
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``lyra api`` to the ``lyra`` app."""
    app.add_typer(api_app, name="api")
