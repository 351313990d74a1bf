"""prefect.yaml stays deployable: every entrypoint is a flow and its parameters fit it."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_deployment_points_at_a_flow_with_matching_parameters() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    deployments = spec["deployments"]
    assert deployments
    for deployment in deployments:
        path, _, name = deployment["entrypoint"].partition(":")
        assert (ROOT / path).exists(), path
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert hasattr(flow, "fn"), f"{deployment['entrypoint']} is not a Prefect flow"
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.get("parameters") or {}) <= accepted
        assert deployment["work_pool"]["name"] == "lyra-process"
        assert flow.__doc__ or flow.fn.__doc__, "the Prefect UI shows the flow's docstring"
