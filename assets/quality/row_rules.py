"""Row rules at ingestion: each landing file's typed rows are judged by its source's GX suite.

A row failing a critical row-scope rule is not loaded: it goes to quarantine with every reason it
failed, marked `recheck` because such rules depend on references (a model, a lot, a code) or on
the night (a date not yet reached) and may pass on a later night. Warnings are recorded in
`audit.check_results` and the row loads.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import polars as pl
from iso3166 import countries_by_alpha2

from assets.quality.gx_suites import SuiteOutcome, suite_path, validate_frame
from assets.warehouse import RejectedRow, table_exists

IMDRF_PARAMETERS = {
    "imdrf_annex_a_codes": "A",
    "imdrf_annex_d_codes": "D",
    "imdrf_annex_e_codes": "E",
    "imdrf_annex_g_codes": "G",
}


def suite_for_source(source: str) -> str | None:
    name = f"staging.{source}"
    return name if suite_path(name).exists() else None


def _values(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> list[str]:
    if not table_exists(con, f"{schema}.{table}"):
        return []
    rows = con.execute(
        f"SELECT DISTINCT {column} FROM {schema}.{table} WHERE {column} IS NOT NULL ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def row_rule_parameters(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, Any]:
    """Everything the row rules compare against, read once per night."""
    parameters: dict[str, Any] = {
        "known_device_models": _values(con, "staging", "products", "device_model"),
        "known_device_families": _values(con, "staging", "products", "device_family"),
        "known_lot_numbers": _values(con, "staging", "lots", "lot_number"),
        "iso_country_codes": sorted(countries_by_alpha2),
        "fda_product_codes": _values(con, "reference", "fda_product_codes", "product_code"),
        "as_of": dt.datetime.combine(as_of, dt.time()),
        "as_of_end": dt.datetime.combine(as_of, dt.time()) + dt.timedelta(days=1, microseconds=-1),
    }
    for name, annex in IMDRF_PARAMETERS.items():
        rows = (
            con.execute(
                "SELECT code FROM reference.imdrf_terms WHERE annex = ? ORDER BY code", [annex]
            ).fetchall()
            if table_exists(con, "reference.imdrf_terms")
            else []
        )
        parameters[name] = [r[0] for r in rows]
    return parameters


def apply_row_rules(
    source: str,
    loaded: pl.DataFrame,
    raw_by_row: dict[tuple[str, int], str],
    parameters: dict[str, Any],
) -> tuple[list[tuple[str, RejectedRow]], SuiteOutcome | None]:
    """((file, row to quarantine) pairs, the suite outcome) for typed rows of one or more
    files; `loaded` has `source_file` and `source_row`. The caller removes the rejected rows."""
    suite = suite_for_source(source)
    if suite is None or loaded.is_empty():
        return [], None
    outcome = validate_frame(suite, loaded, parameters)
    rejected = [
        (
            file_path,
            RejectedRow(
                row,
                reasons[0][0] or None,
                "; ".join(reason for _, reason in reasons),
                raw_by_row.get((file_path, row), ""),
                recheck=True,
            ),
        )
        for (file_path, row), reasons in sorted(outcome.row_rejections().items())
    ]
    return rejected, outcome


def record_check_results(
    con: duckdb.DuckDBPyConnection,
    outcome: SuiteOutcome,
    *,
    table_name: str,
    run_id: str,
    file_path: str | None = None,
    checked_on: str = "staged table",
) -> None:
    """Keep every expectation's result in audit.check_results (the audit trail and reports)."""
    rows = [
        (
            outcome.suite,
            table_name,
            file_path,
            run_id,
            f"{o.expectation_type}({', '.join(o.columns)})",
            o.severity,
            o.scope,
            o.success,
            o.element_count,
            o.unexpected_count,
            o.reason,
            json.dumps(o.as_record(), sort_keys=True),
            checked_on,
        )
        for o in outcome.outcomes
    ]
    if rows:
        con.executemany(
            "INSERT INTO audit.check_results (suite, table_name, file_path, run_id, check_name, "
            "severity, scope, success, element_count, unexpected_count, reason, details, "
            "checked_at, checked_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?)",
            rows,
        )
