"""``lyra.execution`` and ``lyra.portfolio`` are front doors with honest ``__all__`` lists,
and their pure modules (ids, checks, fees, the fill model, accounting) do no I/O."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import lyra.execution
import lyra.portfolio

PURE = [
    "lyra/execution/types.py",
    "lyra/execution/client_ids.py",
    "lyra/execution/checks.py",
    "lyra/execution/fees.py",
    "lyra/execution/paper.py",
    "lyra/portfolio/accounting.py",
]
ADAPTERS = ("sqlalchemy", "alembic", "httpx", "aiohttp", "ccxt", "prefect", "lyra.store")


@pytest.mark.parametrize("package", [lyra.execution, lyra.portfolio])
def test_every_exported_name_exists_once(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    assert len(names) == len(set(names))
    assert all(hasattr(package, name) for name in names)


@pytest.mark.parametrize("path", PURE)
def test_pure_modules_import_no_adapter(path: str) -> None:
    tree = ast.parse((Path(lyra.execution.__file__).parents[2] / path).read_text())
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    bad = [m for m in imported if m and m.startswith(ADAPTERS)]
    assert bad == [], f"{path} imports {bad}"


def test_lyra_never_imports_prefect_from_these_packages() -> None:
    for name in (
        "lyra.services.submission",
        "lyra.exchanges.ccxt_orders",
        "lyra.services.pre_trade",
    ):
        module = importlib.import_module(name)
        source = Path(str(module.__file__)).read_text()
        assert "import prefect" not in source
        assert "from prefect" not in source
