"""Attempt-log and manifest ingestion, per the data contract."""
