"""Print where the warehouse and reports are, with each table's row count (after `make run`)."""

from transforms.settings import Settings
from transforms.warehouse import connect, query, scalar


def main() -> None:
    settings = Settings.from_env()
    con = connect(settings.warehouse, settings.duckdb_memory)
    tables = query(con, "SELECT table_name, estimated_size FROM duckdb_tables() ORDER BY 1")
    print(f"\nwarehouse: {settings.warehouse.resolve()}")
    for name, _ in tables.iter_rows():
        if name.endswith("__staging"):
            continue
        count = scalar(con, f'SELECT count(*) FROM "{name}"')
        print(f"  {name:<24} {count:>12,} rows")
    reports = settings.reports.resolve()
    index = reports / "index.html"
    print(f"reports:   {index if index.exists() else reports}")


if __name__ == "__main__":
    main()
