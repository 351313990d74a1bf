"""The ``lyra`` command: an entry point, like ``flows/`` (typer + rich).

Each command module registers its sub-commands on :data:`app`; :func:`main` runs it.
"""

from lyra.cli.main import app, main

__all__ = ["app", "main"]
