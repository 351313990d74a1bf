"""``GET /config`` (viewer) and ``PUT /config`` (admin): the safe settings.

The settings are named as their ``LYRA_`` variables without the prefix, in lower case
(``daily_budget_usd``, ``tier_shares``, ``consensus_threshold``, ...), plus
``routing_policies`` (task: policy). A PUT body is an object of the settings to change;
each is checked as at start and against the phase in force
(:mod:`lyra.bootstrap.config_overlay`), stored with an audit record per change in one
transaction, and in force from the next cycle. A refusal names the setting: 422 for a
value that is not valid or not a setting the API may change, 409
(``loosening_refused``) for a change that would loosen what only a promotion may.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from lyra.api.auth import require, state_of
from lyra.api.context import ApiContext
from lyra.api.errors import ApiError
from lyra.api.schemas import ConfigData, Envelope
from lyra.bootstrap.config_overlay import ConfigRefusedError, check_changes, config_view
from lyra.rollout.phases import get_phase
from lyra.store.api_config import save_config
from lyra.store.api_tokens import TokenInfo

__all__ = ["router"]

router = APIRouter(tags=["config"])


def _data(context: ApiContext, changed: dict[str, Any] | None = None) -> ConfigData:
    current = context.current()
    phase = context.phase()
    return ConfigData(
        settings=config_view(current.settings, current.catalog),
        phase=phase.number,
        phase_threshold=get_phase(phase.number).threshold,
        changed=changed or {},
    )


@router.get("/config", response_model=Envelope[ConfigData], summary="The safe settings")
def get_config(
    request: Request, caller: Annotated[TokenInfo, Depends(require("viewer"))]
) -> Envelope[ConfigData]:
    """The safe settings in force (environment, ``.env`` and changes made here)."""
    return Envelope(data=_data(state_of(request).context))


@router.put(
    "/config",
    response_model=Envelope[ConfigData],
    summary="Change safe settings (from the next cycle)",
    responses={
        409: {"description": "The change would loosen a rule only a promotion may loosen"},
        422: {"description": "Not a setting the API may change, or an invalid value"},
    },
)
def put_config(
    request: Request,
    caller: Annotated[TokenInfo, Depends(require("admin"))],
    changes: Annotated[
        dict[str, Any],
        Body(examples=[{"daily_budget_usd": "150", "routing_policies": {"news": "cost-aware"}}]),
    ],
) -> Envelope[ConfigData]:
    """Check, store and audit ``changes``; in force from the next cycle."""
    context = state_of(request).context
    if not changes:
        raise ApiError(422, "invalid", "no setting to change")
    current = context.current()
    try:
        stored = check_changes(current.settings, current.catalog, changes, context.phase())
    except ConfigRefusedError as exc:
        status = 409 if exc.code == "loosening_refused" else 422
        raise ApiError(status, exc.code, str(exc), extra={"setting": exc.setting}) from None
    with context.database.transaction() as session:
        made = save_config(session, stored, by=f"api:{caller.name}"[:64])
    context.changed()
    return Envelope(data=_data(context, made))
