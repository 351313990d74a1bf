"""``lyra.evidence`` is one front door, and pure: no adapter, no file, no database."""

from __future__ import annotations

import importlib
from pathlib import Path

import lyra.evidence

MODULES = ["contamination", "metrics", "track_record", "weights"]
EVIDENCE = Path(lyra.evidence.__file__).parent


def test_the_package_exports_every_public_name_of_its_modules() -> None:
    expected: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(f"lyra.evidence.{name}")
        assert all(hasattr(module, n) for n in module.__all__), name
        expected |= set(module.__all__)
    assert set(lyra.evidence.__all__) == expected
    assert len(lyra.evidence.__all__) == len(set(lyra.evidence.__all__))


def test_every_module_of_the_package_is_listed() -> None:
    found = {p.stem for p in EVIDENCE.glob("*.py") if p.stem != "__init__"}
    assert found == set(MODULES)
