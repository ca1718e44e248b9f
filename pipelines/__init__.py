"""Dagster wiring only: assets, checks, jobs and schedules over `transforms` and `reports`."""
