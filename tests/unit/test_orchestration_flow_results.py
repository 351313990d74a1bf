"""Every deployed flow persists a result that `run_deployment(...).state.result()` can load.

A worker loads a flow from its file (the module is named after the file, e.g.
``news_sentiment``, not ``flows.news_sentiment``), and the result is pickled with that
module name; a caller elsewhere cannot import it and the result does not load
(``ModuleNotFoundError: No module named 'promote_phase'`` was seen end to end). So the
types a flow returns must live in an importable package module (``lyra...``), never in the
flow file itself.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]


def _deployed_flows() -> list[object]:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    flows = []
    for deployment in spec["deployments"]:
        path, _, name = deployment["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flows.append(getattr(module, name))
    return flows


def _models(annotation: object) -> list[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def test_every_flow_persists_results_of_types_defined_outside_flow_files() -> None:
    offenders = []
    for flow in _deployed_flows():
        assert flow.persist_result is True, f"{flow.name} must persist its result"  # type: ignore[attr-defined]
        hints = typing.get_type_hints(flow.fn)  # type: ignore[attr-defined]
        for model in _models(hints.get("return")):
            if model.__module__.startswith("flows."):
                offenders.append(f"{flow.name}: {model.__module__}.{model.__name__}")  # type: ignore[attr-defined]
    assert sorted(set(offenders)) == []
