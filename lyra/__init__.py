"""Lyra: crypto trading decisions by weighted consensus of several analysts.

The library holds all logic and never imports Prefect; ``flows/`` and ``tasks/`` wrap it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
