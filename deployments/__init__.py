"""Prefect-facing pieces beside ``prefect.yaml``: concurrency limits, task runners, the
phase schedules applied through the Prefect API, and ``lyra serve``'s processes.

The logic these apply (which schedule should be active, names, readiness) lives in
:mod:`lyra.orchestration`; this package only talks to Prefect. ``Dockerfile`` and
``k8s-base-job-template.yaml`` here are the scale-out templates (docs/scale-out.md).
"""
