"""The warehouse layout every stage writes into: schemas, audit and quarantine tables.

DuckDB 2 refuses new work on a connection while a SELECT result is not fully fetched: read
results with `fetchall()` (not `fetchone()`), or use `con.cursor()`.

Plain DuckDB, no Dagster import, so readers, models and tests share one definition.
Schemas: ``reference`` (code tables shipped with the project), ``raw`` (every landing row as
text, with its lineage), ``staging`` (typed, validated rows), ``quarantine`` (rows and files
that failed, with a reason), ``marts`` (published results), ``audit`` (the evidence trail).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import polars as pl

SCHEMAS: tuple[str, ...] = ("reference", "raw", "staging", "quarantine", "marts", "audit")

AUDIT_INGESTED_FILES_DDL = """
CREATE TABLE IF NOT EXISTS audit.ingested_files (
    file_path VARCHAR NOT NULL,        -- path relative to the landing folder, '/'-separated
    sha256 VARCHAR NOT NULL,
    source VARCHAR NOT NULL,           -- products, complaints, maude_master, openfda, ...
    rows_read BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,           -- loaded | duplicate | rejected_file
    duplicate_of VARCHAR,              -- file_path first ingested with the same sha256
    file_bytes BIGINT NOT NULL
)
"""

QUARANTINE_REJECTED_ROWS_DDL = """
CREATE TABLE IF NOT EXISTS quarantine.rejected_rows (
    source VARCHAR NOT NULL,
    file_path VARCHAR NOT NULL,
    row_number BIGINT,                 -- record position, header = row 1; NULL for a whole file
    column_name VARCHAR,               -- the first offending column, NULL when not one column
    reason VARCHAR NOT NULL,           -- what was expected and what was found
    raw_record VARCHAR NOT NULL,       -- the record exactly as read (whole file text if unreadable)
    run_id VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,           -- of the file the record came from
    quarantined_at TIMESTAMP NOT NULL,
    header VARCHAR,                    -- the file's header (JSON list), to re-read the record
    recheck BOOLEAN NOT NULL DEFAULT false  -- may pass later (missing reference, future date)
)
"""

QUARANTINE_RESOLUTIONS_DDL = """
CREATE TABLE IF NOT EXISTS quarantine.resolutions (
    source VARCHAR NOT NULL,
    file_path VARCHAR NOT NULL,
    row_number BIGINT,
    sha256 VARCHAR NOT NULL,
    resolution VARCHAR NOT NULL,       -- what changed so that the record now loads
    resolved_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL
)
"""

AUDIT_CHECK_RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS audit.check_results (
    suite VARCHAR NOT NULL,            -- expectations/<suite>.json or a named table check
    table_name VARCHAR NOT NULL,
    file_path VARCHAR,                 -- set for row rules run on one landing file
    run_id VARCHAR NOT NULL,
    check_name VARCHAR NOT NULL,       -- expectation type and column(s)
    severity VARCHAR NOT NULL,         -- critical | warning | info
    scope VARCHAR NOT NULL,            -- row | table
    success BOOLEAN NOT NULL,
    element_count BIGINT,
    unexpected_count BIGINT,
    reason VARCHAR NOT NULL,
    details VARCHAR,                   -- JSON statistics
    checked_at TIMESTAMP NOT NULL,
    checked_on VARCHAR NOT NULL DEFAULT 'staged table'  -- 'incoming rows' or 'staged table'
)
"""


# Append-only ledger of row-wise validations of staged batches (the rows one run loaded): one row
# per expectation per validation. A batch counts as validated under a fingerprint when its latest
# validation (highest validation_seq) under it has gate_passed and it still has batch_rows rows;
# the nightly check then judges only batches that are not, and sums the ledger over the table.
AUDIT_VALIDATED_BATCHES_DDL = """
CREATE TABLE IF NOT EXISTS audit.validated_batches (
    suite VARCHAR NOT NULL,            -- expectations/<suite>.json
    fingerprint VARCHAR NOT NULL,      -- sha256 of the suite and the parameter values it reads
    batch_run_id VARCHAR NOT NULL,     -- the run that loaded the rows (staging run_id)
    batch_rows BIGINT NOT NULL,        -- rows of the batch when judged; another count re-judges
    validation_seq BIGINT NOT NULL,    -- 1, 2, ... per validation: the latest is the highest
    expectation_index INTEGER NOT NULL,  -- position of the expectation in the suite file
    check_name VARCHAR NOT NULL,       -- expectation type and column(s), as in check_results
    severity VARCHAR NOT NULL,         -- critical | warning | info
    success BOOLEAN NOT NULL,
    element_count BIGINT NOT NULL,
    unexpected_count BIGINT NOT NULL,
    failing_rows VARCHAR NOT NULL,     -- JSON [[file, row, found], ...], first 20 in file order
    gate_passed BOOLEAN NOT NULL,      -- every critical row-wise expectation passed on the batch
    validated_by_run_id VARCHAR NOT NULL,
    validated_at TIMESTAMP NOT NULL
)
"""


# The chained run records (models/audit_chain.py): one row per completed night, appended by the
# asset audit/run_record and never updated; `pms verify-audit` recomputes the chain.
AUDIT_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS audit.runs (
    sequence BIGINT NOT NULL,          -- 1, 2, ... in the order the records were written
    run_id VARCHAR NOT NULL,           -- the Dagster run
    as_of DATE NOT NULL,               -- the night the run stands for
    recorded_at TIMESTAMP NOT NULL,    -- wall clock (UTC) when the record was written
    user_name VARCHAR NOT NULL,        -- PMS_USER, else the operating-system user
    hostname VARCHAR NOT NULL,
    code_version VARCHAR NOT NULL,     -- git commit (+ '-dirty') or package version
    config_sha256 VARCHAR NOT NULL,    -- sha256 of config/pipeline.toml
    reason VARCHAR NOT NULL,           -- PMS_RUN_REASON, else 'nightly run'
    inputs_digest VARCHAR NOT NULL,    -- over the run's audit.ingested_files rows
    inputs_rows BIGINT NOT NULL,
    versions_digest VARCHAR NOT NULL,  -- over the staging.complaint_versions rows it loaded
    versions_rows BIGINT NOT NULL,
    status_changes_digest VARCHAR NOT NULL,  -- over its audit.reportability_changes rows
    status_changes_rows BIGINT NOT NULL,
    prev_hash VARCHAR NOT NULL,        -- record_hash of the record before (64 zeros first)
    record_hash VARCHAR NOT NULL       -- sha256(prev_hash, canonical content of this record)
)
"""

# Every change of a reportability decision (marts.vigilance_flags) from one run to the next;
# the latest row per key is the last recorded state (no mutable state table).
AUDIT_REPORTABILITY_CHANGES_DDL = """
CREATE TABLE IF NOT EXISTS audit.reportability_changes (
    sequence BIGINT NOT NULL,          -- of the run record written with it
    run_id VARCHAR NOT NULL,
    as_of DATE NOT NULL,
    complaint_id VARCHAR,
    regime VARCHAR,
    report_kind VARCHAR,
    received_date DATE,                -- distinguishes supplemental reports
    old_rule VARCHAR, new_rule VARCHAR,
    old_route VARCHAR, new_route VARCHAR,
    old_reportable BOOLEAN, new_reportable BOOLEAN,
    old_status VARCHAR, new_status VARCHAR,  -- new_status NULL: the decision is gone
    old_due_date DATE, new_due_date DATE,
    old_reported_date DATE, new_reported_date DATE,
    old_data_state VARCHAR, new_data_state VARCHAR,
    changed_at TIMESTAMP NOT NULL
)
"""


@dataclass(frozen=True)
class RejectedRow:
    """One record that could not be loaded, with a reason a person can act on."""

    row_number: int | None
    column_name: str | None
    reason: str
    raw_record: str
    recheck: bool = False  # may pass on a later night (a reference arrives, the date comes)


@dataclass(frozen=True)
class FileLoadResult:
    """Row accounting for one landing file: rows_read = rows_loaded + rows_quarantined.

    A loader writes its loaded rows and its quarantined rows itself (inside the transaction the
    ingestion driver opened for the file) and reports the counts here.
    """

    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    status: str = "loaded"  # loaded | duplicate | rejected_file

    def check_accounting(self, file_path: str) -> None:
        if self.rows_read != self.rows_loaded + self.rows_quarantined:
            raise AssertionError(
                f"{file_path}: row accounting broken: read {self.rows_read} != loaded "
                f"{self.rows_loaded} + quarantined {self.rows_quarantined}"
            )


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether `schema.table` exists in the warehouse."""
    schema, table = qualified.split(".")
    return bool(
        con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    )


def source_delivered(con: duckdb.DuckDBPyConnection, source: str) -> bool:
    """Whether any file of an optional landing source (`submissions`, `fsca`, ...) was ever
    ingested. Its staging table exists, empty, on every night, so an empty table means "none"
    only when a file said so; without an audit trail, whether the table exists."""
    if not table_exists(con, "audit.ingested_files"):
        return table_exists(con, f"staging.{source}")
    return bool(
        con.execute(
            "SELECT count(*) FROM audit.ingested_files WHERE source = ?", [source]
        ).fetchall()[0][0]
    )


def table_columns(con: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    """The columns of `schema.table` in their order (empty when it does not exist)."""
    schema, table = qualified.split(".")
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def ensure_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schemas and the audit and quarantine tables if they do not exist yet."""
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(AUDIT_INGESTED_FILES_DDL)
    con.execute(QUARANTINE_REJECTED_ROWS_DDL)
    con.execute(QUARANTINE_RESOLUTIONS_DDL)
    con.execute(AUDIT_CHECK_RESULTS_DDL)
    con.execute(AUDIT_VALIDATED_BATCHES_DDL)
    con.execute(AUDIT_RUNS_DDL)
    con.execute(AUDIT_REPORTABILITY_CHANGES_DDL)


def already_ingested(con: duckdb.DuckDBPyConnection, sha256: str) -> str | None:
    """The file_path first ingested with this sha256, or None when the content is new."""
    row = con.execute(
        "SELECT file_path FROM audit.ingested_files WHERE sha256 = ? AND status <> 'duplicate' "
        "ORDER BY ingested_at, file_path LIMIT 1",
        [sha256],
    ).fetchall()
    return str(row[0][0]) if row else None


def record_quarantine(
    con: duckdb.DuckDBPyConnection,
    *,
    source: str,
    file_path: str,
    sha256: str,
    run_id: str,
    rejected: Iterable[RejectedRow],
    header: str | None = None,
) -> int:
    """Append rejected records to quarantine.rejected_rows; returns how many were written."""
    rows = [
        (
            source,
            file_path,
            r.row_number,
            r.column_name,
            r.reason,
            r.raw_record,
            run_id,
            sha256,
            header,
            r.recheck,
        )
        for r in rejected
    ]
    if rows:
        con.executemany(
            "INSERT INTO quarantine.rejected_rows (source, file_path, row_number, column_name, "
            "reason, raw_record, run_id, sha256, quarantined_at, header, recheck) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?)",
            rows,
        )
    return len(rows)


def record_ingested_file(
    con: duckdb.DuckDBPyConnection,
    *,
    file_path: str,
    sha256: str,
    source: str,
    result: FileLoadResult,
    run_id: str,
    file_bytes: int,
    duplicate_of: str | None = None,
) -> None:
    """Append the per-file accounting row to audit.ingested_files."""
    result.check_accounting(file_path)
    con.execute(
        "INSERT INTO audit.ingested_files (file_path, sha256, source, rows_read, rows_loaded, "
        "rows_quarantined, ingested_at, run_id, status, duplicate_of, file_bytes) "
        "VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?)",
        [
            file_path,
            sha256,
            source,
            result.rows_read,
            result.rows_loaded,
            result.rows_quarantined,
            run_id,
            result.status,
            duplicate_of,
            file_bytes,
        ],
    )


def replace_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pl.DataFrame
) -> None:
    """Publish a frame as `schema.table`, replacing what was there (names come from code)."""
    con.register("published_frame", frame.to_arrow())
    try:
        con.execute(f"CREATE OR REPLACE TABLE {schema}.{table} AS SELECT * FROM published_frame")
    finally:
        con.unregister("published_frame")


def query_frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None
) -> pl.DataFrame:
    """Run a (parameterised) query and return its whole result as a Polars frame."""
    return con.sql(sql, params=params).pl()


@dataclass(frozen=True)
class QuarantinedRecord:
    file_path: str
    row_number: int | None  # None for a whole file kept as one record
    reason: str
    raw_record: str
    fields: dict[str, str]  # the raw text by header name; empty when it cannot be split

    @property
    def readable(self) -> bool:
        """Whether the raw text could be split into named fields."""
        return bool(self.fields)


def header_names(header: object) -> list[str]:
    """The column names a quarantined record's file had (a JSON list), or [] when unknown."""
    try:
        names = json.loads(header) if isinstance(header, str) and header else []
    except ValueError:
        return []
    return [str(name) for name in names] if isinstance(names, list) else []


def split_raw_fields(raw: object) -> list[str] | None:
    """The fields of one quarantined CSV record, or None when they cannot be known.

    Quarantined text is data and may hold any character (CR, LF, NUL, a BOM in the middle,
    replacement characters, megabyte fields, thousands of separators). This never raises: the
    record is parsed as one CSV record, then with line breaks and NUL read as spaces."""
    if not isinstance(raw, str) or not raw:
        return None
    for text in (raw, _LINE_BREAKS_AND_NUL.sub(" ", raw)):
        try:
            return next(csv.reader([text], strict=False), [])
        except (csv.Error, ValueError):
            continue
    return None


def split_raw_record(raw: object, header: object) -> dict[str, str]:
    """The fields of a quarantined record by its file's header; {} when they cannot be known
    (no header, text that cannot be split, or another number of fields than the header has,
    so that no field can be named by its position): such a record stays one that waits in
    quarantine, its fields unknown, so it is treated as possibly serious everywhere."""
    names = header_names(header)
    values = split_raw_fields(raw) if names else None
    if not values or len(values) != len(names):
        return {}  # fields by position mean nothing when their count is not the header's
    return dict(zip(names, values, strict=True))


# A quarantined record may hold one huge field (a narrative pasted whole); the landing reader
# allows the same (assets/ingestion/landing_csv.py).
csv.field_size_limit(max(csv.field_size_limit(), 256 * 1024 * 1024))
_LINE_BREAKS_AND_NUL = re.compile(r"[\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def unresolved_quarantined_records(
    con: duckdb.DuckDBPyConnection, source: str
) -> list[QuarantinedRecord]:
    """Rows of `source` waiting in quarantine (no resolution yet), split by their file's header
    where they can be (`split_raw_record`), in file and row order (a whole file last)."""
    rows = con.execute(
        """
        SELECT q.file_path, q.row_number, q.reason, q.raw_record, q.header
        FROM quarantine.rejected_rows q
        WHERE q.source = ?
          AND NOT EXISTS (SELECT 1 FROM quarantine.resolutions r
              WHERE r.file_path = q.file_path AND r.sha256 = q.sha256
                AND r.row_number IS NOT DISTINCT FROM q.row_number)
        ORDER BY q.file_path, q.row_number NULLS LAST, q.sha256
        """,
        [source],
    ).fetchall()
    return [
        QuarantinedRecord(
            str(file_path),
            None if row_number is None else int(row_number),
            str(reason or ""),
            raw if isinstance(raw, str) else "",
            split_raw_record(raw, header),
        )
        for file_path, row_number, reason, raw, header in rows
    ]


def staged_or_empty(con, table: str, sql: str, params: dict | None = None) -> pl.DataFrame | None:
    """The rows of an optional source, or None when its table does not exist yet."""
    return query_frame(con, sql, params) if table_exists(con, table) else None
