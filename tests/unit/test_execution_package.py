"""``lyra.execution`` and ``lyra.portfolio`` are front doors with honest ``__all__`` lists
(that they are pure is the domain contract of pyproject.toml, checked by lint-imports)."""

from __future__ import annotations

import pytest

import lyra.execution
import lyra.portfolio


@pytest.mark.parametrize("package", [lyra.execution, lyra.portfolio])
def test_every_exported_name_exists_once(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    assert len(names) == len(set(names))
    assert all(hasattr(package, name) for name in names)
