"""The model-price sync flow: daily in production (``lyra models sync`` on a schedule)."""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed, State

from flows.alert_hooks import ALERT_HOOKS
from lyra.bootstrap import build_runtime
from lyra.config import load_settings
from lyra.services.price_sync import PriceSyncSummary
from lyra.services.price_sync import sync_model_prices as sync

FLOW_NAME = "sync-model-prices"


@flow(name=FLOW_NAME, persist_result=True, validate_parameters=True, **ALERT_HOOKS)
async def sync_model_prices() -> PriceSyncSummary | State:
    """Refresh the catalog models' per-token prices from the provider's models list.

    Prices only size budget reservations; the recorded cost of a call is the provider's
    ``usage.cost``. A model the provider no longer lists keeps its catalog price and is
    reported. With the offline analysts (``LYRA_LLM_PROVIDER=offline``) there is nothing
    to price: the run ends in the state ``Skipped`` and fetches nothing.
    """
    report = await sync(build_runtime(load_settings()))
    if report is None:
        reason = "offline analysts: no LLM is called, no prices to sync"
        summary = PriceSyncSummary(updated=[], unchanged=[], missing_upstream=[], skipped=reason)
        return Completed(name="Skipped", message=reason, data=summary)
    return PriceSyncSummary(
        updated=list(report.updated),
        unchanged=list(report.unchanged),
        missing_upstream=list(report.missing_upstream),
    )
