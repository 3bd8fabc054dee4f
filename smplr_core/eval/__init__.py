"""Evaluation: ``python -m smplr_core.eval`` / ``smplr-eval`` (metrics, table, JSON, plots)."""
