"""Every exchange export format Lyra reads, by the ``--exchange`` name that selects it.

Differences as data (docs/style.md): an exchange is one module of this package defining
``FORMAT`` (or ``FORMATS`` when the exchange has several exports, as Kraken has its
trades and its ledgers exports) and one line of :data:`_MODULES`. ``--exchange auto``
tries every format in this order (:mod:`lyra.compliance.importers.detect`);
``--exchange kraken`` tries Kraken's formats only.

Usage::

    >>> from lyra.compliance.importers.registry import EXCHANGE_NAMES
    >>> EXCHANGE_NAMES[:2]
    ('coinspot', 'swyftx')
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType, ModuleType
from typing import Final

from lyra.compliance.importers.formats import ExportFormat
from lyra.errors import UserError

__all__ = ["AUTO", "EXCHANGES", "EXCHANGE_NAMES", "FORMATS", "formats_for"]

#: The ``--exchange`` value that detects the format from the file's header.
AUTO: Final = "auto"

#: ``--exchange`` name -> the module (in this package) that defines its formats: the
#: Australian venues first (the ones an Australian's records most often come from).
_MODULES: Final = (
    ("coinspot", "coinspot"),
    ("swyftx", "swyftx"),
    ("btcmarkets", "btcmarkets"),
    ("independent-reserve", "independent_reserve"),
    ("kraken", "kraken"),
    ("binance", "binance"),
    ("coinbase", "coinbase"),
)

#: The exchange names ``--exchange`` accepts besides ``auto`` (the issue's contract).
EXCHANGE_NAMES: Final = tuple(name for name, _ in _MODULES)


def _module(name: str) -> ModuleType | None:
    """The exchange module, or None while it is not written yet (only the module itself
    missing is tolerated: an import error inside it is a bug and is raised)."""
    qualified = f"{__package__}.{name}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name == qualified:
            return None
        raise


def _formats_of(module: ModuleType) -> tuple[ExportFormat, ...]:
    found = getattr(module, "FORMATS", None)
    if found is None:
        found = (module.FORMAT,)
    formats = tuple(found)
    if not formats or not all(isinstance(f, ExportFormat) for f in formats):
        raise TypeError(f"{module.__name__}: FORMAT/FORMATS must be ExportFormat")
    return formats


def _load() -> Mapping[str, tuple[ExportFormat, ...]]:
    table: dict[str, tuple[ExportFormat, ...]] = {}
    for name, module_name in _MODULES:
        module = _module(module_name)
        if module is not None:
            table[name] = _formats_of(module)
    return MappingProxyType(table)


#: ``--exchange`` name -> its formats, in detection order.
EXCHANGES: Final = _load()
#: Every format, in the order ``auto`` tries them.
FORMATS: Final = tuple(f for formats in EXCHANGES.values() for f in formats)


def formats_for(
    exchange: str, table: Mapping[str, tuple[ExportFormat, ...]] | None = None
) -> tuple[ExportFormat, ...]:
    """The formats ``--exchange exchange`` selects (every one for ``auto``) from ``table``
    (default :data:`EXCHANGES`); a :class:`~lyra.errors.UserError` for another name."""
    known = EXCHANGES if table is None else table
    if exchange == AUTO:
        return tuple(f for formats in known.values() for f in formats)
    try:
        return known[exchange]
    except KeyError:
        names = ", ".join((AUTO, *known))
        raise UserError(f"--exchange {exchange!r} is not one of {names}") from None
