"""``lyra.news`` is one front door: every public name of its modules, and nothing else."""

from __future__ import annotations

import importlib

import lyra.news

MODULES = ["aggregate", "items", "lexicon", "sentiment"]


def test_the_package_exports_every_public_name_of_its_modules() -> None:
    expected: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(f"lyra.news.{name}")
        exported = set(module.__all__)
        assert all(hasattr(module, n) for n in exported), name
        expected |= exported
    assert set(lyra.news.__all__) == expected
    assert all(getattr(lyra.news, n) is not None for n in lyra.news.__all__)
    assert len(lyra.news.__all__) == len(set(lyra.news.__all__))
