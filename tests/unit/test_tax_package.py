"""The compliance package is pure (DESIGN.md "Rules of the house": tax rules do no I/O
beyond reading the file they are given) and its front door is honest."""

from __future__ import annotations

import ast
from pathlib import Path

import lyra.compliance as compliance

PACKAGE = Path(compliance.__file__).parent
FORBIDDEN = (
    "sqlalchemy",
    "alembic",
    "prefect",
    "httpx",
    "aiohttp",
    "ccxt",
    "redis",
    "psycopg",
    "lyra.store",
    "lyra.bootstrap",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_compliance_module_imports_an_adapter() -> None:
    """Tax rules are testable without a database, Prefect or the network."""
    for path in PACKAGE.glob("*.py"):
        bad = {n for n in _imports(path) if n.startswith(FORBIDDEN)}
        assert not bad, f"{path.name} imports {bad}"


def test_all_lists_exactly_the_public_names() -> None:
    """Every name in __all__ exists; every public re-export is listed."""
    for name in compliance.__all__:
        assert hasattr(compliance, name)
    assert sorted(compliance.__all__) == sorted(set(compliance.__all__))
