"""Load the settings once, turning every problem into one clear :class:`ConfigError`.

An environment variable that starts with ``LYRA_`` but names no setting is an error (a
typo such as ``LYRA_PAHSE`` must not silently leave the default in force), and so is such
a name in the ``.env`` file; a ``.env`` that is not UTF-8 text is refused naming the file.
A bad value is one line naming the variable as the user spelled it. Every check runs here,
before the entry writes anything (docs/architecture.md, "Settings").
"""

from __future__ import annotations

import difflib
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
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


def _dotenv_names() -> tuple[Path | None, list[str]]:
    """The ``.env`` file pydantic-settings will read (``Settings.model_config``), and the
    names it sets; ConfigError naming the file when it is not UTF-8 text or unreadable."""
    configured = Settings.model_config.get("env_file")
    if not isinstance(configured, str | os.PathLike):
        return None, []
    path = Path(configured).expanduser()
    if not path.is_file():
        return None, []
    encoding = str(Settings.model_config.get("env_file_encoding") or "utf-8")
    try:
        raw = path.read_bytes()
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"settings file {path.resolve()} is not {encoding} text (line {line}); "
            f"save it as {encoding}"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"settings file {path.resolve()} cannot be read: {exc.strerror}"
        ) from None
    return path, list(dotenv_values(stream=io.StringIO(text)))


def _refuse_unknown(names: list[str], where: str) -> None:
    unknown = _unknown_env_names(dict.fromkeys(names, ""))
    if unknown:
        name = unknown[0]
        known = [f"{ENV_PREFIX}{n}".upper() for n in Settings.model_fields]
        guess = difflib.get_close_matches(name.upper(), known, n=1)
        hint = f" (did you mean {guess[0]}?)" if guess else ""
        raise ConfigError(f"unknown setting {name}{where}{hint}")


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once, turning every problem into one clear :class:`ConfigError`.

    The environment and the ``.env`` file are checked for misspelt ``LYRA_`` names first.
    Keyword ``overrides`` win over the environment.
    """
    _refuse_unknown(list(os.environ), "")
    env_file, names = _dotenv_names()
    if env_file is not None:
        _refuse_unknown(names, f" in {env_file}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
