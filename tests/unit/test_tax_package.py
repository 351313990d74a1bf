"""The compliance package's front door is honest (that it is pure is the domain contract
of pyproject.toml, checked by lint-imports)."""

from __future__ import annotations

import lyra.compliance as compliance


def test_all_lists_exactly_the_public_names() -> None:
    """Every name in __all__ exists; every public re-export is listed."""
    for name in compliance.__all__:
        assert hasattr(compliance, name)
    assert sorted(compliance.__all__) == sorted(set(compliance.__all__))
