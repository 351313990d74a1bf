"""The layer rules of docs/architecture.md are import-linter contracts (pyproject.toml),
run by `make lint`; here, that the project keeps them, and that they are the transitive
kind: a package ``__init__`` that pulls an adapter into a pure module breaks them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_the_project_keeps_every_layer_contract() -> None:
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in done.stdout


def test_the_layers_run_from_the_entry_points_down_to_the_domain() -> None:
    [layers] = [c for c in _contracts() if c["type"] == "layers"]
    order = [str(layer) for layer in layers["layers"]]  # type: ignore[attr-defined]
    position = {name: i for i, layer in enumerate(order) for name in _names(layer)}
    assert position["lyra.cli"] < position["tasks"] < position["lyra.services"]
    assert position["lyra.services"] < position["lyra.store"] < position["lyra.decision"]
    assert "|" in order[position["lyra.store"]]  # adapters: independent of each other
    assert position["lyra.bootstrap"] == position["lyra.config"]  # settings: entry side only


def test_the_purity_contracts_are_transitive() -> None:
    purity = [c for c in _contracts() if c["type"] == "forbidden" and "pure" in str(c["name"])]
    assert purity
    assert all(not c.get("allow_indirect_imports") for c in purity)
    forbidden = set(purity[0]["forbidden_modules"])  # type: ignore[arg-type]
    assert {"sqlalchemy", "httpx", "ccxt", "redis", "prefect"} <= forbidden


def test_an_adapter_smuggled_in_through_a_package_init_is_caught(tmp_path: Path) -> None:
    package = tmp_path / "shop"
    (package / "domain").mkdir(parents=True)
    (package / "store").mkdir()
    (package / "__init__.py").write_text("")
    (package / "store" / "__init__.py").write_text("")
    (package / "store" / "db.py").write_text("import sqlalchemy\n")
    # the pure module imports only its own package, whose __init__ imports the store
    (package / "domain" / "__init__.py").write_text("from shop.store import db\n")
    (package / "domain" / "rules.py").write_text("import shop.domain\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = shop\ninclude_external_packages = True\n\n"
        "[importlinter:contract:pure]\nname = The domain is pure\ntype = forbidden\n"
        "source_modules =\n    shop.domain\nforbidden_modules =\n    sqlalchemy\n"
    )
    done = subprocess.run(
        [str(LINT_IMPORTS), "--config", ".importlinter", "--no-cache"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "shop.store.db -> sqlalchemy" in done.stdout


def _names(layer: str) -> list[str]:
    return [part.strip() for part in layer.replace(":", "|").split("|")]
