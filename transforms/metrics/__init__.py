"""Accuracy, retention and progress tables (docs/tables.md), as pure Polars functions."""
