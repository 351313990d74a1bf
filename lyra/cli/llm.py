"""``lyra keys``, ``lyra models`` and ``lyra budget``: the gateway's commands.

Key values are read from a hidden prompt (or standard input when piped), never from the
command line, where they would land in shell history and process listings.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from lyra.config import Settings, load_settings
from lyra.errors import ConfigError, LyraError, UserError

__all__ = ["budget_command", "keys_app", "models_app"]

keys_app = typer.Typer(help="OpenRouter API keys in the encrypted keystore.", no_args_is_help=True)
models_app = typer.Typer(help="The LLM catalog and its prices.", no_args_is_help=True)

out = Console(highlight=False, soft_wrap=False, width=160)


def _secret(prompt: str, *, confirm: bool = False) -> SecretStr:
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise ConfigError(f"{prompt}: nothing on standard input")
        return SecretStr(line)
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return SecretStr(value)


def _passphrase(settings: Settings) -> SecretStr:
    return settings.keystore_passphrase or _secret("Keystore passphrase", confirm=False)


@keys_app.command("set")
def keys_set(
    alias: str,
    tiers: Annotated[
        str, typer.Option(help="Tiers this key serves, e.g. premium,advanced (default all).")
    ] = "",
    daily_cap: Annotated[str, typer.Option(help="Daily cap in USD for this key.")] = "",
) -> None:
    """Store (or replace) the key ALIAS; the key is read from a hidden prompt or stdin."""
    from lyra.security.keystore import Keystore, default_keystore_path
    from lyra.spend.catalog import TIERS

    settings = load_settings()
    wanted = frozenset(t.strip() for t in tiers.split(",") if t.strip())
    unknown = sorted(wanted - set(TIERS))
    if unknown:
        raise ConfigError(f"unknown tier {unknown[0]} (tiers: {', '.join(TIERS)})")
    try:
        cap = Decimal(daily_cap) if daily_cap else None
    except InvalidOperation:
        raise ConfigError(f"--daily-cap {daily_cap!r} is not an amount in USD") from None
    if cap is not None and (not cap.is_finite() or cap < 0):
        raise ConfigError("--daily-cap must be a non-negative amount in USD")
    secret = _secret(f"OpenRouter key for {alias}")
    keystore = Keystore(default_keystore_path(settings.home))
    info = keystore.set(alias, secret, _passphrase(settings), wanted, cap)
    out.print(f"stored key {info.alias} in {keystore.path}")


@keys_app.command("list")
def keys_list() -> None:
    """Key aliases with their tiers, caps and status: why a key is disabled, since when,
    and its way back (never the keys)."""
    from lyra.bootstrap import open_database
    from lyra.bootstrap.key_check import probe_cooldown
    from lyra.security.keystore import Keystore, default_keystore_path
    from lyra.store.key_status import KeyState, key_states

    settings = load_settings()
    keystore = Keystore(default_keystore_path(settings.home))
    with open_database(settings).transaction() as session:
        states = key_states(session)
    cooldown = probe_cooldown(settings)
    table = Table(title=f"Keys ({keystore.path})")
    for column in ("alias", "source", "tiers", "daily cap USD"):
        table.add_column(column)
    table.add_column("status", overflow="fold")
    rows: list[tuple[str, str, str, str]] = []
    if keystore.exists():
        for info in keystore.entries():
            cap = "-" if info.daily_cap_usd is None else str(info.daily_cap_usd)
            rows.append((info.alias, "keystore", ",".join(sorted(info.tiers)) or "all", cap))
    if settings.openrouter_api_keys is not None:
        from lyra.llm.keys import parse_key_list

        for alias in parse_key_list(settings.openrouter_api_keys):
            rows.append((alias, "environment", "see LYRA_OPENROUTER_KEY_TIERS", "-"))
    for alias, source, tier_text, cap in rows:
        status = states.get(alias, KeyState(alias)).describe(cooldown)
        table.add_row(alias, source, tier_text, cap, status)
    out.print(table if rows else "no keys: add one with `lyra keys set ALIAS`")


@keys_app.command("enable")
def keys_enable(
    alias: str,
    by: Annotated[
        str, typer.Option("--by", help="Who enables the key (default: your user name).")
    ] = "",
    note: Annotated[str, typer.Option("--note", help="Why, e.g. credits topped up.")] = "",
) -> None:
    """Enable the disabled key ALIAS again (audited with who and why)."""
    import getpass

    from lyra.bootstrap import open_database
    from lyra.security.keystore import Keystore, default_keystore_path, is_valid_alias
    from lyra.store.key_status import enable_key, key_states

    if not is_valid_alias(alias):  # a key pasted here must not be printed back
        raise UserError("ALIAS: not a key alias (1 to 32 of the characters a-z 0-9 _ -)")
    settings = load_settings()
    known: set[str] = set()
    keystore = Keystore(default_keystore_path(settings.home))
    if keystore.exists():
        known.update(info.alias for info in keystore.entries())
    if settings.openrouter_api_keys is not None:
        from lyra.llm.keys import parse_key_list

        known.update(parse_key_list(settings.openrouter_api_keys))
    person = " ".join(by.split()) or getpass.getuser()
    with open_database(settings).transaction() as session:
        known.update(key_states(session))
        if alias not in known:
            raise UserError(f"no key {alias!r}: see `lyra keys list`")
        enabled = enable_key(
            session, alias, datetime.now(UTC), by=person, note=" ".join(note.split())
        )
    if enabled:
        out.print(f"key {alias} enabled by {person}")
    else:
        out.print(f"key {alias} was not disabled: nothing to do")


@models_app.command("sync")
def models_sync() -> None:
    """Refresh the catalog models' prices from the provider's models endpoint."""
    from lyra.bootstrap import build_runtime
    from lyra.services.price_sync import fetch_and_store_prices

    report = asyncio.run(fetch_and_store_prices(build_runtime(load_settings())))
    out.print(
        f"prices: {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.missing_upstream)} not listed upstream"
        + (f" ({', '.join(report.missing_upstream)})" if report.missing_upstream else "")
    )


def budget_command() -> None:
    """Today's LLM spend (UTC day) by scope, model and key against the caps."""
    from lyra.bootstrap import open_database
    from lyra.bootstrap.gateway import budget_policy
    from lyra.llm.keys import KeySpec
    from lyra.spend.budget import budget_day
    from lyra.store.budget import expire_stale
    from lyra.store.budget_report import spend_by_key, spend_by_model, spend_by_scope

    settings = load_settings()
    day = budget_day(datetime.now(UTC))
    keys: list[KeySpec] = []
    if settings.llm_provider == "openrouter":
        from lyra.bootstrap.gateway import key_pool

        keys = key_pool(settings)
    policy = budget_policy(settings, keys)
    with open_database(settings).transaction() as session:
        expire_stale(session, datetime.now(UTC))
        scopes = spend_by_scope(session, day, policy)
        models = spend_by_model(session, day)
        by_key = spend_by_key(session, day)
    table = Table(title=f"LLM budget for {day} (UTC)")
    for column in ("scope", "cap", "spent", "reserved", "remaining"):
        table.add_column(column, justify="left" if column == "scope" else "right")
    for s in scopes:
        table.add_row(
            s.scope,
            f"{s.cap_usd:.2f}",
            f"{s.spent_usd:.6f}",
            f"{s.reserved_usd:.6f}",
            f"{s.remaining_usd:.6f}",
        )
    out.print(table)
    for title, rows in (("by model", models), ("by key", by_key)):
        detail = Table(title=f"Spend {title}")
        for column in ("name", "calls", "spent", "reserved"):
            detail.add_column(column, justify="left" if column == "name" else "right")
        for r in rows:
            detail.add_row(
                r.name or "-", str(r.calls), f"{r.spent_usd:.6f}", f"{r.reserved_usd:.6f}"
            )
        out.print(detail)


@keys_app.command("status")
def keys_status() -> None:
    """Ask the provider about each key (usage, limit) and store the answer."""
    from lyra.bootstrap import open_database
    from lyra.bootstrap.gateway import key_pool
    from lyra.bootstrap.key_check import probe_cooldown
    from lyra.openrouter.client import OpenRouterClient
    from lyra.store.key_status import KeyState, key_states, save_key_status

    settings = load_settings()
    keys = key_pool(settings)

    async def fetch() -> list[tuple[str, dict[str, object] | str]]:
        answers: list[tuple[str, dict[str, object] | str]] = []
        async with OpenRouterClient(settings.openrouter_base_url) as client:
            for key in keys:
                try:
                    status = await client.key_status(key.secret)
                    answers.append((key.alias, status.model_dump(mode="json")))
                except LyraError as exc:
                    answers.append((key.alias, f"error: {exc}"))
        return answers

    answers = asyncio.run(fetch())
    table = Table(title="Key status (from the provider)")
    for column in ("alias", "label", "usage USD", "limit USD", "remaining USD", "lyra"):
        table.add_column(column)
    now = datetime.now(UTC)
    with open_database(settings).transaction() as session:
        for alias, answer in answers:
            if isinstance(answer, dict):
                save_key_status(session, alias, answer, now)
        states = key_states(session)
    cooldown = probe_cooldown(settings)
    for alias, answer in answers:
        state = states.get(alias, KeyState(alias)).describe(cooldown)
        if isinstance(answer, str):
            table.add_row(alias, "-", "-", "-", "-", f"{state}; {answer}")
            continue
        table.add_row(
            alias,
            str(answer.get("label", "")),
            str(answer.get("usage", "")),
            str(answer.get("limit") if answer.get("limit") is not None else "none"),
            str(
                answer.get("limit_remaining") if answer.get("limit_remaining") is not None else "-"
            ),
            state,
        )
    out.print(table)
