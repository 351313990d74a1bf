"""The fake OpenRouter priced as Lyra's catalog, for ``benchmarks/api.py`` and
``benchmarks/llm_cost.py``.

It is ``tests/support/fake_openrouter.py`` (imported, not copied) serving every model of
``lyra/spend/data/catalog.yaml`` at the catalog's prices, so a call's ``usage.cost`` is
what the real model would bill for the same token counts. Its answers fit whatever the
request's schema asks for: the orchestrator query's ``{response, confidence}``, headline
scores, or a trading vote (the fake's own :func:`structured_content`).

Run as a process (its CPU is then not the benchmark's): ``python -m
benchmarks.catalog_fake --serve --latency-ms 20`` prints ``{"base_url", "api_key"}`` on
one line and serves until stdin closes (without ``--serve`` it only says so and exits,
as ``make bench`` runs every script here); :func:`catalog_fake_server` does that from a script. Also
:func:`bench_settings`: Lyra's settings on a temporary home pointed at the fake.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from benchmarks.processes import served_fake  # noqa: E402
from lyra.config import Settings, load_settings  # noqa: E402
from lyra.spend.catalog import Catalog, load_catalog  # noqa: E402
from tests.support.fake_openrouter import (  # noqa: E402
    DEFAULT_KEY,
    FakeModel,
    FakeOpenRouter,
    structured_content,
)

__all__ = ["bench_settings", "catalog_fake_server", "catalog_models", "content"]

#: The orchestrator query's answer schema name (lyra.services.orchestrator_query).
QUERY_SCHEMA = "orchestrator_answer"


def catalog_models(catalog: Catalog | None = None, latency_s: float = 0.0) -> list[FakeModel]:
    """Every catalog model at the catalog's prices, answering after ``latency_s``."""
    catalog = catalog or load_catalog()
    return [
        FakeModel(name, price.prompt, price.completion, price.request, latency_s=latency_s)
        for name, price in catalog.models.items()
    ]


def content(model: str, request: Mapping[str, Any]) -> str:
    """A valid answer for the request's schema (deterministic)."""
    schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("name")
    if schema == QUERY_SCHEMA:
        return json.dumps({"response": f"{model}: BTC/USD looks range-bound", "confidence": 0.7})
    return structured_content(model, request)


def fake(latency_s: float = 0.0, *, record_requests: bool = False) -> FakeOpenRouter:
    """The fake (not started) over the catalog's models."""
    return FakeOpenRouter(
        models=catalog_models(latency_s=latency_s),
        content=content,
        record_requests=record_requests,
    )


@contextlib.contextmanager
def catalog_fake_server(latency_ms: float) -> Iterator[tuple[str, str]]:
    """The fake in its own process: (base_url, api_key); stopped on exit."""
    command = [sys.executable, "-m", "benchmarks.catalog_fake", "--serve"]
    with served_fake([*command, "--latency-ms", str(latency_ms)], ROOT) as fake:
        yield fake


def bench_settings(home: Path, base_url: str, **overrides: Any) -> Settings:
    """Lyra's settings on ``home`` with the fake as OpenRouter (one key, ``main``)."""
    return load_settings(
        home=home,
        llm_provider="openrouter",
        openrouter_base_url=base_url,
        openrouter_api_keys=SecretStr(f"main={DEFAULT_KEY}"),
        **overrides,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--serve", action="store_true", help="serve until stdin closes")
    args = parser.parse_args(argv)
    if not args.serve:
        print("a helper of benchmarks/api.py and benchmarks/llm_cost.py (--serve to run it)")
        return
    with fake(args.latency_ms / 1000) as server:
        print(json.dumps({"base_url": server.base_url, "api_key": server.api_key}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
