"""Deployment definitions beside ``prefect.yaml``: phase parameters, serve entry point and
work-pool templates (the orchestration issue fills this package; ``prefect.yaml`` at the
repository root already deploys the market-analysis flow)."""
