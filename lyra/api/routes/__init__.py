"""The API's routes, one module per area, each an ``APIRouter`` under
``/api/v1/ai/orchestrator`` (:data:`lyra.api.app.PREFIX`)."""
