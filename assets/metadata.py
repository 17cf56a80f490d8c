"""Metadata every table asset attaches: row count, column schema, a markdown preview."""

from __future__ import annotations

from typing import Any

import dagster as dg
import duckdb

from assets.column_docs import column_description
from assets.warehouse import query_frame


def table_metadata(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    preview_order: str,
    preview_rows: int = 5,
) -> dict[str, Any]:
    """Standard Dagster metadata for `schema.table` (names come from code, never from data)."""
    count = con.execute(f"SELECT count(*) FROM {schema}.{table}").fetchall()[0][0]
    columns = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    preview = query_frame(
        con, f"SELECT * FROM {schema}.{table} ORDER BY {preview_order} LIMIT {int(preview_rows)}"
    )
    shown = [c for c, _ in columns if c not in {"extra_fields", "source_sha256", "run_id"}][:8]
    return {
        "dagster/row_count": int(count),
        "dagster/table_name": f"{schema}.{table}",
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(
                    name=name,
                    type=typ,
                    description=column_description(f"{schema}.{table}", name),
                )
                for name, typ in columns
            ]
        ),
        "preview": dg.MetadataValue.md(markdown_table(preview.select(shown).rows(), shown)),
    }


def markdown_table(rows: list[tuple[Any, ...]], header: list[str], max_cell: int = 60) -> str:
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_cell else text[: max_cell - 1] + "…"

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
