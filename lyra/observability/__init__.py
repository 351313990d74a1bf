"""What a person watching Lyra sees: Prometheus metrics and alerts, read from the database.

Flows run as separate processes, so both read the state every process writes (the LLM
call log, budgets, breakers, decisions, orders, the kill switch, cycles) instead of
counting in memory; docs/observability.md describes the metrics, the alerts and the
Grafana dashboard built on them.

- :func:`render_metrics`, :func:`metrics_router`: ``GET /metrics`` (lyra/observability/metrics.py)
- :func:`evaluate_alerts`: the alert rules, pure (alert_rules.py)
- :func:`check_alerts`: read, evaluate, rate-limit, send (alerts.py, alert_limits.py, notify.py)
"""

from lyra.observability.alert_limits import Admitted, AlertLedger
from lyra.observability.alert_rules import (
    Alert,
    AlertSnapshot,
    AlertThresholds,
    FailedRunFact,
    PromotionFact,
    Severity,
    evaluate_alerts,
)
from lyra.observability.alerts import AlertConfig, AlertEvents, check_alerts
from lyra.observability.metrics import METRIC_NAMES, LyraCollector, metrics_router, render_metrics
from lyra.observability.notify import AlertSender, AppriseSender, RecordingSender

__all__ = [
    "METRIC_NAMES",
    "Admitted",
    "Alert",
    "AlertConfig",
    "AlertEvents",
    "AlertLedger",
    "AlertSender",
    "AlertSnapshot",
    "AlertThresholds",
    "AppriseSender",
    "FailedRunFact",
    "LyraCollector",
    "PromotionFact",
    "RecordingSender",
    "Severity",
    "check_alerts",
    "evaluate_alerts",
    "metrics_router",
    "render_metrics",
]
