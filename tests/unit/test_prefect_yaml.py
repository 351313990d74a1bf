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


def test_the_phase_deployments_carry_exactly_their_phase_figures() -> None:
    """The parameters written in prefect.yaml are the phase table's (lyra/rollout/phases.py), so
    a change to one without the other fails here instead of making a run stricter."""
    from decimal import Decimal

    from lyra.rollout.phases import PHASES

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    phases = {
        d["name"]: d["parameters"] for d in spec["deployments"] if d["name"].startswith("phase-")
    }
    assert sorted(phases) == [f"phase-{n}" for n in PHASES]
    for number, phase in PHASES.items():
        parameters = phases[f"phase-{number}"]
        assert parameters["phase"] == number
        assert Decimal(parameters["consensus_threshold"]) == phase.threshold
        assert parameters["order_mode"] == phase.order_mode.value
