"""The configuration set through the HTTP API, checked, and laid over the settings at
the start of every cycle.

The API may change a few *safe* settings (:data:`SAFE_SETTINGS`), named as their
``LYRA_`` variables without the prefix in lower case, plus ``routing_policies`` (the
routing policy per task, which the LLM catalog otherwise gives). A change is checked the
way the settings are at start (the same :class:`~lyra.config.Settings` validation:
types, ranges, the tier shares summing to one, the promotion floor below the kill
switch), then against the phase in force: a consensus threshold below the phase's, or an
order mode bolder than the phase's, would loosen a rule only a promotion may loosen, and
is refused by name (:class:`ConfigRefusedError`). The quorum (``min_votes``,
``min_weight_share``) may only be raised above what the environment sets: "never trades
without quorum" is the promise, and a token must not be the way around it
(docs/domain.md, "Consensus"); lowering it takes a change of the environment and a
restart. The core risk rules (2%, 20%, 15%, 10,000 USD) are capped by the settings
themselves, so no value can loosen them.

:func:`build_runtime <lyra.bootstrap.runtime.build_runtime>` calls
:func:`persisted_overlay` once the database is open, so a change is in force from the
next cycle. A stored phase-bound figure that a later promotion has overtaken (a threshold
of 0.85 once phase 5 asks 0.90) is left out, never allowed to make a cycle fail: the
phase's own figure is stricter. A run's own parameters still win over the overlay, as
they win over the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, get_args

from pydantic import ValidationError

from lyra.config import Settings
from lyra.errors import UserError
from lyra.rollout.phases import MODE_ORDER, OrderMode, PhaseInForce, get_phase
from lyra.spend.catalog import Catalog, RoutingPolicy
from lyra.store.api_config import persisted_config
from lyra.store.db import Database

__all__ = [
    "ROUTING",
    "SAFE_SETTINGS",
    "ConfigRefusedError",
    "check_changes",
    "config_view",
    "overlay",
    "persisted_overlay",
    "with_routing",
]

_log = logging.getLogger(__name__)

#: Settings the API may change: budget, tier split, and figures that may only tighten.
SAFE_SETTINGS: Final = (
    "daily_budget_usd",
    "tier_shares",
    "consensus_threshold",
    "order_mode",
    "capital_cap_usd",
    "risk_per_trade",
    "risk_max_asset_share",
    "risk_max_drawdown",
    "risk_premium_vote_above_usd",
    "min_votes",
    "min_weight_share",
)
#: The routing policy per task (``{"news": "cost-aware"}``): catalog data, no variable.
ROUTING: Final = "routing_policies"
_POLICIES: Final = frozenset(get_args(RoutingPolicy))


class ConfigRefusedError(UserError):
    """A configuration change refused: ``setting`` names it, ``code`` says the kind
    (``unknown_setting``, ``invalid``, ``loosening_refused``)."""

    def __init__(self, setting: str, code: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.code = code
        self.message = message


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, OrderMode):
        return value.value
    return value


def _shares(value: str) -> dict[str, str]:
    pairs = (p.split("=", 1) for p in value.split(",") if "=" in p)
    return {tier.strip(): share.strip() for tier, share in pairs}


def config_view(settings: Settings, catalog: Catalog) -> dict[str, Any]:
    """The safe settings in force, JSON-ready (money and fractions as decimal strings)."""
    view: dict[str, Any] = {n: _jsonable(getattr(settings, n)) for n in SAFE_SETTINGS}
    view["tier_shares"] = _shares(settings.tier_shares)
    view[ROUTING] = {task: route.policy for task, route in sorted(catalog.tasks.items())}
    return view


def _routing(value: Any, catalog: Catalog) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigRefusedError(ROUTING, "invalid", "must be an object of task: policy")
    out: dict[str, str] = {}
    for task, policy in value.items():
        if task not in catalog.tasks:
            known = ", ".join(sorted(catalog.tasks))
            raise ConfigRefusedError(ROUTING, "invalid", f"unknown task {task!r} (known: {known})")
        if policy not in _POLICIES:
            known = ", ".join(sorted(_POLICIES))
            raise ConfigRefusedError(
                ROUTING, "invalid", f"{task}: unknown policy {policy!r} (known: {known})"
            )
        out[str(task)] = str(policy)
    return out


def _setting_value(name: str, value: Any) -> Any:
    """A JSON value as the settings take it (tier shares as ``tier=share,...``)."""
    if name == "tier_shares" and isinstance(value, Mapping):
        return ",".join(f"{tier}={share}" for tier, share in value.items())
    if isinstance(value, float):
        return Decimal(str(value))  # JSON numbers: read as written, never as binary floats
    return value


def _validated(settings: Settings, values: Mapping[str, Any]) -> Settings:
    merged = {**settings.model_dump(), **values}
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"] if not isinstance(p, int))
        name = loc if loc in values else next(iter(values), "config")
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigRefusedError(name, "invalid", message) from None


#: Quorum figures the API may raise but never lower below the environment's.
_QUORUM: Final = ("min_votes", "min_weight_share")


def _quorum_loosened(base: Settings, name: str, value: Any) -> bool:
    return bool(Decimal(str(value)) < Decimal(str(getattr(base, name))))


def _loosening(new: Settings, phase: PhaseInForce, base: Settings) -> None:
    """Refuse, by name, a figure looser than the phase in force (or, for the quorum, the
    environment) allows."""
    for name in _QUORUM:
        if _quorum_loosened(base, name, getattr(new, name)):
            raise ConfigRefusedError(
                name,
                "loosening_refused",
                f"{getattr(new, name)} is below the environment's {getattr(base, name)}; "
                "the API may only raise the quorum",
            )
    spec = get_phase(phase.number)
    if new.consensus_threshold is not None and new.consensus_threshold < spec.threshold:
        raise ConfigRefusedError(
            "consensus_threshold",
            "loosening_refused",
            f"{new.consensus_threshold} is below phase {spec.number}'s threshold "
            f"{spec.threshold}; only a promotion may lower it",
        )
    mode = new.order_mode
    if mode is not None and MODE_ORDER.index(OrderMode(mode)) > MODE_ORDER.index(spec.order_mode):
        raise ConfigRefusedError(
            "order_mode",
            "loosening_refused",
            f"{mode} is bolder than phase {spec.number}'s {spec.order_mode.value}; "
            "only a promotion may allow it",
        )


def check_changes(
    settings: Settings, catalog: Catalog, changes: Mapping[str, Any], phase: PhaseInForce
) -> dict[str, Any]:
    """``changes`` checked (module docstring), as the JSON values to store; a
    :class:`ConfigRefusedError` naming the first setting refused."""
    stored: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name == ROUTING:
            stored[name] = _routing(value, catalog)
        elif name in SAFE_SETTINGS:
            values[name] = _setting_value(name, value)
        else:
            known = ", ".join((*SAFE_SETTINGS, ROUTING))
            raise ConfigRefusedError(
                name, "unknown_setting", f"not a setting the API may change (known: {known})"
            )
    new = _validated(settings, values) if values else settings
    _loosening(new, phase, settings)
    for name in values:
        stored[name] = _jsonable(getattr(new, name))
    return stored


def with_routing(catalog: Catalog, routing: Mapping[str, str]) -> Catalog:
    """``catalog`` with the routing policy of each task in ``routing`` replaced."""
    if not routing:
        return catalog
    tasks = {
        task: route.model_copy(update={"policy": routing[task]}) if task in routing else route
        for task, route in catalog.tasks.items()
    }
    return catalog.model_copy(update={"tasks": tasks})


def overlay(
    settings: Settings, persisted: Mapping[str, Any], phase: PhaseInForce | None
) -> tuple[Settings, dict[str, str]]:
    """``settings`` with the stored changes laid over them, and the routing policies.

    A stored value that no longer passes (a setting renamed, a range tightened) is left
    out with a warning; so is a phase-bound figure the phase in force has overtaken."""
    values = {n: _setting_value(n, v) for n, v in persisted.items() if n in SAFE_SETTINGS}
    for name in _QUORUM:
        if name in values and _quorum_loosened(settings, name, values[name]):
            _log.warning("stored API %s below the environment's left out", name)
            values.pop(name)
    spec = get_phase(phase.number) if phase is not None else None
    if spec is not None:
        threshold = values.get("consensus_threshold")
        if threshold is not None and Decimal(str(threshold)) < spec.threshold:
            values.pop("consensus_threshold")
        mode = values.get("order_mode")
        if mode is not None and MODE_ORDER.index(OrderMode(mode)) > MODE_ORDER.index(
            spec.order_mode
        ):
            values.pop("order_mode")
    result = settings
    for name, value in values.items():
        try:
            result = _validated(result, {name: value})
        except ConfigRefusedError as exc:
            _log.warning("stored API setting left out: %s", exc)
    routing = persisted.get(ROUTING)
    policies = (
        {str(t): str(p) for t, p in routing.items() if p in _POLICIES}
        if isinstance(routing, Mapping)
        else {}
    )
    return result, policies


def persisted_overlay(
    settings: Settings, database: Database, phase: PhaseInForce | None
) -> tuple[Settings, dict[str, str]]:
    """:func:`overlay` of what the database holds (nothing stored: ``settings`` as is)."""
    with database.transaction() as session:
        persisted = persisted_config(session)
    if not persisted:
        return settings, {}
    return overlay(settings, persisted, phase)
