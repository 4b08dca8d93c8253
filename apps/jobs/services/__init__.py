"""Writes of the jobs app, one module per sub-domain: `tracking` (experiments, runs and what
they log, as the MLflow API writes them), `logged_models` (MLflow 3 logged models) and
`tokens` (run tokens for job containers). Import them by module:
`from apps.jobs.services import tracking`.
"""
