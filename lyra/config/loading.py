"""Load the settings once, turning every problem into one clear :class:`ConfigError`.

An environment variable that starts with ``LYRA_`` but names no setting is an error (a
typo such as ``LYRA_PAHSE`` must not silently leave the default in force); a bad value
is one line naming the variable as the user spelled it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from lyra.config.settings import ENV_PREFIX, Settings
from lyra.errors import ConfigError

__all__ = ["load_settings"]

#: Environment variables with the prefix that are not settings but are allowed.
_ALLOWED_EXTRA_ENV = frozenset({"LYRA_TEST_POSTGRES_URL"})


def _unknown_env_names(environ: Mapping[str, str]) -> list[str]:
    known = {f"{ENV_PREFIX}{name}".upper() for name in Settings.model_fields}
    return sorted(
        name
        for name in environ
        if name.upper().startswith(ENV_PREFIX)
        and name.upper() not in known
        and name.upper() not in _ALLOWED_EXTRA_ENV
    )


def _describe(exc: ValidationError) -> str:
    """One line naming each bad setting as the user spelled it (LYRA_PHASE), and why."""
    parts = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"] if not isinstance(p, int))
        name = f"{ENV_PREFIX}{loc}".upper() if loc else "combination"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{name}: {message}")
    return "invalid setting " + "; ".join(parts)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once, turning every problem into one clear :class:`ConfigError`.

    The environment is checked for misspelt ``LYRA_`` names first. Keyword ``overrides``
    win over the environment.
    """
    unknown = _unknown_env_names(os.environ)
    if unknown:
        name = unknown[0]
        known = [f"{ENV_PREFIX}{n}".upper() for n in Settings.model_fields]
        guess = difflib.get_close_matches(name.upper(), known, n=1)
        hint = f" (did you mean {guess[0]}?)" if guess else ""
        raise ConfigError(f"unknown setting {name}{hint}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
