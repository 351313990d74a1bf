"""``lyra tax import FILE... --out LEDGER.csv``: exchange exports into a ledger CSV.

Contract (issue 15; docs/domain.md "Contracts")::

    lyra tax import FILE... [--exchange auto|coinspot|swyftx|btcmarkets|independent-reserve|
        kraken|binance|coinbase] [--timezone TZ] [--prices PRICE_FILE] --out LEDGER.csv

writes a ledger that ``lyra tax report --ledger LEDGER.csv`` reads, and its manifest
``LEDGER.csv.import.json``; exit 0, or 2 with one line naming the file, row and field
(a :class:`~lyra.errors.UserError`, which :func:`lyra.cli.main.main` prints and maps to
2) and nothing written. The work is :func:`lyra.compliance.importers.pipeline.import_exports`;
this module only reads the options, builds the valuer and prints the summary.

AUD values an export lacks are estimated from daily prices: ``--prices FILE``
(``date,asset,quote,price,source``) first, then, with ``--stored-candles``, the candles
Lyra stored in its database, then the shipped candles (:func:`lyra.services.tax_prices.
build_valuer`); FX from ``LYRA_TAX_FX_FILE``. The database is opened only when asked,
so an import needs no database by default.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from lyra.compliance.importers.pipeline import ImportSummary

__all__ = ["ExchangeName", "import_command", "summary_lines"]

#: The ``--exchange`` values (the registry's names and ``auto``; a test keeps them equal).
ExchangeName = Literal[
    "auto",
    "coinspot",
    "swyftx",
    "btcmarkets",
    "independent-reserve",
    "kraken",
    "binance",
    "coinbase",
]


def import_command(
    files: Annotated[list[Path], typer.Argument(help="Exchange export files (CSV), one or more.")],
    out: Annotated[
        Path,
        typer.Option("--out", help="Ledger CSV to write; an existing one is kept and added to."),
    ],
    exchange: Annotated[
        ExchangeName,
        typer.Option("--exchange", help="The exports' exchange, or auto (from the header)."),
    ] = "auto",
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="IANA timezone of times without an offset (default: the tax_timezone "
            "setting, else Australia/Sydney). A date alone is the Sydney day.",
        ),
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option("--prices", help="Daily prices CSV: date,asset,quote,price,source."),
    ] = None,
    stored_candles: Annotated[
        bool,
        typer.Option(
            "--stored-candles", help="Also value from the candles stored in Lyra's database."
        ),
    ] = False,
) -> None:
    """Turn exchange exports into a ledger CSV (all or nothing; a file imported before adds
    nothing). Prints rows added, estimated AUD values, transfers and review items."""
    from lyra.compliance.importers.pipeline import import_exports
    from lyra.compliance.localtime import DEFAULT_TIMEZONE, timezone_named
    from lyra.config import load_settings
    from lyra.services.tax_prices import build_valuer

    settings = load_settings()
    zone = timezone_named(timezone or settings.tax_timezone or DEFAULT_TIMEZONE)
    database = None
    if stored_candles:
        from lyra.bootstrap import open_database

        database = open_database(settings)
    valuer = build_valuer(settings, prices, database=database)
    summary = import_exports(files, exchange=exchange, zone=zone, valuer=valuer, out=out)
    for line in summary_lines(summary):
        typer.echo(line)


def summary_lines(s: ImportSummary) -> list[str]:
    """The summary as the command prints it (one fact a line)."""
    lines: list[str] = []
    if s.written:
        lines.append(
            f"imported into {s.ledger}: {s.rows_added:,} rows added "
            f"({s.rows_total:,} in the ledger)"
        )
    else:
        lines.append(f"nothing to import into {s.ledger}: every file was imported before")
    for f in s.files:
        if f.skipped:
            lines.append(f"  {f.name}: skipped, {f.skipped}")
        else:
            lines.append(
                f"  {f.name}: {f.format}, {f.rows_read:,} rows read, {f.records:,} records, "
                f"{f.lines_added:,} ledger rows added"
            )
    if not s.written:
        return lines
    lines.append(f"AUD values estimated: {s.estimated_values:,} (aud_source estimate:...)")
    if s.missing_values:
        lines.append(
            f"AUD values missing: {s.missing_values:,} (aud_source missing:...): give their "
            "prices with --prices FILE and import the exports into a new ledger, or fill in "
            "their aud_value here"
        )
    lines.append(f"transfers: {s.matched_transfers:,} matched, {s.unmatched_transfers:,} unmatched")
    lines.append(f"timezone of times without an offset: {s.timezone}")
    if s.review_items:
        kinds = Counter(item.kind for item in s.review_items)
        listed = ", ".join(f"{kind} {count:,}" for kind, count in sorted(kinds.items()))
        lines.append(
            f"review items: {len(s.review_items):,} ({listed}): lyra tax review --ledger {s.ledger}"
        )
    else:
        lines.append("review items from the import: none")
    lines.append(f"manifest: {s.manifest}")
    return lines
