"""The layer contract of DESIGN.md, checked over the source's imports.

- nothing under ``lyra/`` imports prefect (``lyra/cli.py`` may import the ``flows``
  package inside a command: it is an entry point like ``flows/``);
- pure modules (consensus, votes, phases, indicators, the audit chain, the offline
  analysts) import no adapter: no database, HTTP, exchange or Redis library, and no
  ``lyra.store``;
- ``tasks/`` and ``flows/`` hold no logic of their own beyond wiring (checked loosely:
  they import their steps from ``lyra``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LYRA = ROOT / "lyra"

PURE_MODULES = [
    "lyra/decision/consensus.py",
    "lyra/decision/votes.py",
    "lyra/rollout/phases.py",
    "lyra/market/indicators.py",
    "lyra/market/types.py",
    "lyra/market/regime.py",
    "lyra/market/patterns.py",
    "lyra/market/spreads.py",
    "lyra/market/timeframes.py",
    "lyra/security/audit_chain.py",
    "lyra/resilience/breaker.py",
    "lyra/spend/budget.py",
    "lyra/news/aggregate.py",
    "lyra/news/items.py",
    "lyra/news/lexicon.py",
    "lyra/security/redaction.py",
    "lyra/security/untrusted.py",
    "lyra/spend/routing.py",
    "lyra/decision/ballots.py",
    "lyra/spend/catalog.py",
    *sorted(str(p.relative_to(ROOT)) for p in (LYRA / "llm" / "analysts").glob("*.py")),
]
ADAPTER_PACKAGES = {
    "sqlalchemy",
    "alembic",
    "httpx",
    "aiohttp",
    "ccxt",
    "redis",
    "psycopg",
    "prefect",
    "requests",
    "lyra.store",
    "lyra.bootstrap",
}
IO_CALLS = {"open"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _matches(module: str, packages: set[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_no_module_of_lyra_imports_prefect() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted(LYRA.rglob("*.py"))
        for module in _imports(path)
        if _matches(module, {"prefect", "prefect_dask"})
    ]
    assert offenders == []


@pytest.mark.parametrize("relative", PURE_MODULES)
def test_pure_module_imports_no_adapter_and_opens_no_file(relative: str) -> None:
    path = ROOT / relative
    assert path.exists(), f"{relative} listed as pure but missing"
    adapters = sorted(m for m in _imports(path) if _matches(m, ADAPTER_PACKAGES))
    assert adapters == []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in IO_CALLS
    ]
    assert calls == []


def test_the_layer_check_would_catch_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from prefect import flow\nimport sqlalchemy.orm\n", encoding="utf-8")
    assert _matches("prefect", {"prefect"})
    assert {m for m in _imports(bad) if _matches(m, ADAPTER_PACKAGES)} == {
        "prefect",
        "sqlalchemy.orm",
    }


def test_flows_and_tasks_take_their_steps_from_lyra() -> None:
    for folder in ("flows", "tasks"):
        for path in sorted((ROOT / folder).glob("*.py")):
            if path.name == "__init__.py":
                continue
            source = path.read_text(encoding="utf-8")
            assert len(source.splitlines()) < 200, f"{path.name} grew beyond thin wiring"
            assert any(m.startswith(("lyra", "tasks")) for m in _imports(path)), path.name
