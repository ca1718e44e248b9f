"""Pure data logic: Polars/DuckDB in and out, no Dagster."""
