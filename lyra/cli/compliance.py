"""Commands: lyra tax report, lyra tax review, lyra tax import, lyra bas, lyra abn validate.

Contracts (docs/domain.md): ``lyra tax report --ledger FILE --entity individual|trust|smsf|company
--year 2024-25 [--method fifo|specific] [--prior-losses AMOUNT] --format json`` prints the
report JSON; ``lyra tax review --ledger FILE [--method fifo|specific] --format json`` prints
``{items: [{kind, row, detail}], needs_review}`` (exit 0 whether or not items are open);
``lyra tax import FILE... --out LEDGER.csv`` (:mod:`lyra.cli.tax_import`) turns exchange
exports into a ledger; ``lyra bas --ledger FILE --period 2025-Q3 --format json`` prints the
worksheet labels in whole dollars; ``lyra abn validate NUMBER`` prints valid/invalid, exit 0/1.

Also ``lyra tax seal-tfn`` (a TFN sealed for the entity file). Beyond the contract:
``--method lowest-tax``, ``--basis trader``, ``--same-day-average``, ``--timezone TZ`` (the
one times without an offset are read in: default the ``tax_timezone`` setting, else
Australia/Sydney) and ``--format csv|markdown|mytax`` (myTax item 18, individuals). A report
carries the review of its ledger (``needs_review``, ``review_items``: docs/tax.md "Review
before a report is final"). Each report produced is stored with its digest and appended to
the audit log (the ledger file itself is not stored: the nightly flow imports the
configured ledger); a review is not a report and is not stored.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import typer

from lyra.cli.tax_import import import_command
from lyra.errors import UserError

__all__ = ["register"]

tax_app = typer.Typer(
    help="Australian tax: exchange exports in, review, reports (CGT, myTax item 18).",
    no_args_is_help=True,
)
abn_app = typer.Typer(help="Australian Business Numbers.", no_args_is_help=True)

LedgerOption = Annotated[
    Path, typer.Option("--ledger", help="Transactions CSV (docs/domain.md header).")
]
TimezoneOption = Annotated[
    str | None,
    typer.Option(
        "--timezone",
        help="IANA timezone of times written without an offset (default: the tax_timezone "
        "setting, else Australia/Sydney). A date alone is always the Sydney day.",
    ),
]


def _decimal(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UserError(f"{name} {text!r} is not an amount") from None
    if not value.is_finite() or value < 0:
        raise UserError(f"{name} must be a positive amount, got {text}")
    return value


#: Encoded JSON is written to stdout in blocks of about this many characters.
_BLOCK = 1 << 20


def _echo_json(body: dict[str, Any]) -> None:
    """``body`` as indented JSON on stdout, written a block at a time: a year's report can
    be tens of megabytes, and one string of it (plus the millions of pieces it is joined
    from) would be several times that in memory; writing each piece on its own costs
    twice the time, so pieces are joined into blocks of :data:`_BLOCK` characters."""
    stream = sys.stdout
    pieces: list[str] = []
    size = 0
    for piece in json.JSONEncoder(indent=2).iterencode(body):
        pieces.append(piece)
        size += len(piece)
        if size >= _BLOCK:
            stream.write("".join(pieces))
            pieces.clear()
            size = 0
    pieces.append("\n")
    stream.write("".join(pieces))
    stream.flush()


def _timezone(name: str | None) -> ZoneInfo:
    """The declared timezone: ``--timezone``, else the ``tax_timezone`` setting
    (``LYRA_TAX_TIMEZONE``, default Australia/Sydney; docs/tax.md "Dates and timezones")."""
    from lyra.compliance.localtime import timezone_named

    if name is None:
        from lyra.config import load_settings

        name = load_settings().tax_timezone
    return timezone_named(name)


def _record(kind: str, entity: str, period: str, body: dict[str, Any], provisional: bool) -> None:
    from lyra.bootstrap import open_database
    from lyra.config import load_settings
    from lyra.store.compliance_tables import save_report

    with open_database(load_settings()).transaction() as session:
        save_report(
            session, kind=kind, entity=entity, period=period, body=body, provisional=provisional
        )


@tax_app.command("report")
def tax_report(
    ledger: LedgerOption,
    entity: Annotated[
        Literal["individual", "trust", "smsf", "company"],
        typer.Option("--entity", help="Entity type (sets the CGT discount)."),
    ],
    year: Annotated[str, typer.Option("--year", help="Income year, e.g. 2024-25.")],
    method: Annotated[
        Literal["fifo", "specific", "lowest-tax"],
        typer.Option("--method", help="Parcel identification."),
    ] = "fifo",
    prior_losses: Annotated[
        str, typer.Option("--prior-losses", help="Net capital losses from earlier years, AUD.")
    ] = "0",
    basis: Annotated[
        Literal["investor", "trader"],
        typer.Option("--basis", help="investor (CGT) or trader (revenue account)."),
    ] = "investor",
    same_day_average: Annotated[
        bool, typer.Option("--same-day-average", help="Average same-day acquisitions.")
    ] = False,
    output: Annotated[
        Literal["json", "csv", "markdown", "mytax"],
        typer.Option("--format", help="json | csv | markdown | mytax (item 18)."),
    ] = "json",
    timezone: TimezoneOption = None,
) -> None:
    """Capital gains (or trading income) for an income year, from a transactions CSV,
    with the review of that ledger (NEEDS REVIEW while any item is open)."""
    from lyra.compliance import (
        ShortfallError,
        build_tax_report,
        mytax_item18,
        tax_report_csv,
        tax_report_json,
        tax_report_markdown,
    )
    from lyra.compliance.review import review_file

    losses = _decimal(prior_losses, "--prior-losses")
    zone = _timezone(timezone)
    # Read as the review reads it: a row without its AUD value and a sale of coins no row
    # acquired are review items, not a refusal. The report is still built (the first at
    # $0, the second with a $0 cost base: the highest gain), says NEEDS REVIEW and is
    # provisional, so a person sees every figure and every reason it is not final.
    rows, items = review_file(ledger, method=method, timezone=zone)
    try:
        report = build_tax_report(
            rows,
            entity_type=entity,
            year=year,
            basis=basis,
            method=method,
            prior_losses=losses,
            same_day_average=same_day_average,
            timezone=zone.key,
            review_items=items,
            unknown_cost_base=True,
        )
    except ShortfallError as exc:  # a named parcel that cannot cover its disposal
        raise ShortfallError(f"{exc} (lyra tax review lists every such row)") from None
    # The rows are let go once the engine has worked them out, before the report is
    # rendered (a big ledger's rows and its rendered report need not be in memory together).
    del rows
    if output == "mytax":
        item = mytax_item18(report)
        _record("mytax18", entity, report.year.label, item, report.provisional)
        typer.echo(json.dumps(item, indent=2))
        return
    body = tax_report_json(report)
    _record("cgt", entity, report.year.label, body, report.provisional)
    if output == "csv":
        typer.echo(tax_report_csv(report), nl=False)
    elif output == "markdown":
        typer.echo(tax_report_markdown(report), nl=False)
    else:
        _echo_json(body)


@tax_app.command("review")
def tax_review(
    ledger: LedgerOption,
    method: Annotated[
        Literal["fifo", "specific", "lowest-tax"],
        typer.Option("--method", help="Parcel identification the report will use."),
    ] = "fifo",
    output: Annotated[
        Literal["json", "markdown"], typer.Option("--format", help="json | markdown.")
    ] = "json",
    timezone: TimezoneOption = None,
) -> None:
    """What to look at before a report is final: missing cost bases and AUD values, more
    sold than held, unmatched transfers, duplicates, unknown row kinds, parcels named
    while the method is FIFO. Exit 0 whether or not any item is open."""
    from lyra.compliance.review import review_file, review_json, review_markdown

    _, items = review_file(ledger, method=method, timezone=_timezone(timezone))
    if output == "markdown":
        typer.echo(review_markdown(items, ledger.name), nl=False)
    else:
        typer.echo(json.dumps(review_json(items), indent=2, ensure_ascii=False))


def bas_command(
    ledger: LedgerOption,
    period: Annotated[
        str, typer.Option("--period", help="2025-Q3 (quarter), 2025-07 (month) or 2024-25.")
    ],
    entity_file: Annotated[
        Path | None,
        typer.Option("--entity-file", help="Entity YAML (default LYRA_TAX_ENTITY_FILE)."),
    ] = None,
    output: Annotated[
        Literal["json", "markdown"], typer.Option("--format", help="json | markdown.")
    ] = "json",
) -> None:
    """The BAS GST worksheet (G1..G20, 1A, 1B, net GST) in whole dollars.

    Without ``--entity-file`` or ``LYRA_TAX_ENTITY_FILE`` the worksheet is the shipped
    sample company's (the embedded default): it is still produced, so the contract's
    command works on a fresh clone, but never silently: a line on stderr says so, the JSON
    says ``"sample_entity": true`` and its notes (and the Markdown) start with it."""
    from lyra.compliance import bas_period, bas_worksheet, load_entity, read_ledger
    from lyra.config import load_settings

    settings = load_settings()
    chosen = entity_file or settings.tax_entity_file
    entity = load_entity(chosen)
    zone = _timezone(settings.tax_timezone)  # naive times as LYRA_TAX_TIMEZONE declares
    worksheet = bas_worksheet(read_ledger(ledger, timezone=zone), entity, bas_period(period))
    body = worksheet.as_json(entity.name)
    body["sample_entity"] = chosen is None
    warning = None
    if chosen is None:
        warning = (
            f"SAMPLE ENTITY: no entity file given (--entity-file or LYRA_TAX_ENTITY_FILE), so "
            f"this BAS is for the shipped example {entity.name!r}, not for your business"
        )
        typer.echo(f"lyra: note: {warning}", err=True)
        body["notes"] = [warning, *worksheet.notes]
    _record("bas", entity.name, worksheet.period.label, body, False)
    if output == "markdown":
        markdown = worksheet.as_markdown(entity.name)
        typer.echo(markdown if warning is None else f"> **{warning}.**\n\n{markdown}", nl=False)
    else:
        typer.echo(json.dumps(body, indent=2))


@tax_app.command("seal-tfn")
def seal_tfn_command() -> None:
    """Seal a TFN for the entity file (AES-256-GCM): asks for it without echo, prints the
    ``tfn_sealed`` block to paste; the TFN itself is never printed or stored whole."""
    import yaml
    from pydantic import SecretStr

    from lyra.compliance import seal_tfn
    from lyra.config import load_settings
    from lyra.security.keystore import MIN_PASSPHRASE_CHARS

    settings = load_settings()
    tfn = SecretStr(typer.prompt("TFN", hide_input=True, err=True))
    passphrase = settings.keystore_passphrase or SecretStr(
        typer.prompt("Passphrase", hide_input=True, confirmation_prompt=True, err=True)
    )
    if len(passphrase.get_secret_value()) < MIN_PASSPHRASE_CHARS:
        raise UserError(f"the passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")
    sealed = seal_tfn(tfn, passphrase)
    typer.echo(f"# TFN {sealed.masked}, sealed: paste into the entity file")
    typer.echo(yaml.safe_dump({"tfn_sealed": sealed.model_dump()}, sort_keys=False), nl=False)


@abn_app.command("validate")
def abn_validate(number: Annotated[str, typer.Argument(help="The ABN, spaces allowed.")]) -> None:
    """Check an ABN's check digit (not whether it is active): prints valid or invalid."""
    from lyra.compliance import is_valid_abn

    if is_valid_abn(number):
        typer.echo("valid")
        return
    typer.echo("invalid")
    raise typer.Exit(1)


tax_app.command("import")(import_command)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``lyra`` app."""
    app.add_typer(tax_app, name="tax")
    app.add_typer(abn_app, name="abn")
    app.command("bas")(bas_command)
