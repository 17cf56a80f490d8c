"""Writing and verifying the audit trail in the warehouse (plain DuckDB, no Dagster).

`append_run_record` is called once per night by the asset audit/run_record, inside one
transaction: it appends the reportability decisions that changed since the last recorded state
to audit.reportability_changes, then the run's chained record to audit.runs. Nothing here ever
updates or deletes a row: the tables are append-only, and `verify_audit_trail` (behind
`pms verify-audit`) recomputes the chain and every sealed digest to show that they stayed so.
The hashing rules live in models/audit_chain.py.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import os
import socket
from dataclasses import dataclass, field
from typing import Any

import duckdb

from assets.warehouse import table_exists
from models.audit_chain import (
    DECISION_FIELDS,
    DECISION_KEY,
    GENESIS_HASH,
    Finding,
    record_hash,
    verify_chain,
    verify_evidence,
)

DEFAULT_REASON = "nightly run"

# The evidence a run record seals: (table, digest field, row-count field).
EVIDENCE_TABLES = (
    ("audit.ingested_files", "inputs_digest", "inputs_rows"),
    ("staging.complaint_versions", "versions_digest", "versions_rows"),
    ("audit.reportability_changes", "status_changes_digest", "status_changes_rows"),
)


def run_user() -> str:
    """Who started the run: PMS_USER when set (a service account names the person), else the
    operating-system user."""
    if os.environ.get("PMS_USER"):
        return os.environ["PMS_USER"]
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def run_reason() -> str:
    """Why the run happened: PMS_RUN_REASON when set (a re-run, a correction), else the default."""
    return os.environ.get("PMS_RUN_REASON") or DEFAULT_REASON


REASON_PROBLEMS_SHOWN = 50  # problems spelled out in a record's reason; the rest are counted


def run_reason_with_problems(reason: str, problems: list[Any], rescued_run: str | None) -> str:
    """The reason of a run record: why it ran, what it stands in for, and what went wrong
    (each problem's `line()`, in their fixed order)."""
    parts = [reason]
    if rescued_run:
        parts.append(f"safety net for the stopped run {rescued_run}")
    if problems:
        lines = [p.line() for p in problems[:REASON_PROBLEMS_SHOWN]]
        more = len(problems) - len(lines)
        parts.append(
            f"completed with {len(problems)} failure(s): "
            + "; ".join(lines)
            + (f"; and {more} more" if more > 0 else "")
        )
    return "; ".join(parts)


def dict_rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# One digest per sealed table and run: every row of the run as its JSON text, the lines sorted
# by DuckDB (so the digest does not depend on storage order; the sort spills to disk when it must)
# and fed to sha256 joined by newlines, a batch at a time, so a rebuild sealing millions of rows
# never holds them as one string. Identifiers come from EVIDENCE_TABLES, never from data.
EVIDENCE_LINES_SQL = """
SELECT line FROM (SELECT CAST(to_json(t) AS VARCHAR) AS line FROM {table} t WHERE run_id = ?)
ORDER BY line
"""
EVIDENCE_BATCH_ROWS = 50_000


def evidence_digest(con: duckdb.DuckDBPyConnection, table: str, run_id: str) -> tuple[int, str]:
    """(rows, sha256 hex of the rows' sorted JSON lines joined by newlines) of one run."""
    digest = hashlib.sha256()
    count = 0
    cursor = con.execute(EVIDENCE_LINES_SQL.format(table=table), [run_id])
    while batch := cursor.fetchmany(EVIDENCE_BATCH_ROWS):
        for (line,) in batch:
            if count:
                digest.update(b"\n")
            digest.update(line.encode("utf-8"))
            count += 1
    return count, digest.hexdigest()


def run_evidence(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """Digest and row count of the rows a run wrote to each sealed table, as found now."""
    found: dict[str, Any] = {}
    for table, digest_field, rows_field in EVIDENCE_TABLES:
        count, digest = (
            evidence_digest(con, table, run_id)
            if table_exists(con, table)
            else (0, hashlib.sha256(b"").hexdigest())
        )
        found[digest_field] = digest
        found[rows_field] = int(count)
    return found


_KEY = ", ".join(DECISION_KEY)
_FIELDS = ", ".join(DECISION_FIELDS)

# The last recorded state of each decision still standing (a decision recorded as gone has
# status NULL), and tonight's flags (the first row of a key by status, then rule).
_LATEST_STATE = f"""
SELECT {_KEY}, {", ".join(f"new_{f} AS {f}" for f in DECISION_FIELDS)}
FROM audit.reportability_changes
QUALIFY row_number() OVER (PARTITION BY {_KEY} ORDER BY sequence DESC) = 1
"""
_CURRENT_FLAGS = f"""
SELECT {_KEY}, {_FIELDS} FROM marts.vigilance_flags
QUALIFY row_number() OVER (PARTITION BY {_KEY} ORDER BY status, rule) = 1
"""

# The night's change rows, decided in DuckDB as `models.audit_chain.reportability_changes`
# decides them in Python (the reference, and the test of this query): a decision whose tracked
# fields differ from its last recorded state, including first appearance (old fields NULL) and
# disappearance (new fields NULL). The set difference treats NULLs as equal, as Python's `==`
# does, so a decision identical on both sides is never a change. A night touches few of the
# millions of standing decisions, and a rebuild that records all of them never holds them in
# Python. {current} is _CURRENT_FLAGS, or NO_FLAGS_SQL before any flags exist.
_CHANGED_KEYS = f"""
SELECT DISTINCT {_KEY} FROM (
    (SELECT * FROM latest EXCEPT SELECT * FROM flags)
    UNION ALL
    (SELECT * FROM flags EXCEPT SELECT * FROM latest)
)
"""
# Keys match with NULLs equal (a complaint without a received date is still one decision).
_SAME_KEY = " AND ".join(f"{{a}}.{k} IS NOT DISTINCT FROM {{b}}.{k}" for k in DECISION_KEY)
_OLD_NEW = ", ".join(f"l.{f} AS old_{f}, f.{f} AS new_{f}" for f in DECISION_FIELDS)
CHANGE_COLUMNS = (*DECISION_KEY, *(f"{p}_{f}" for f in DECISION_FIELDS for p in ("old", "new")))
CHANGE_ROWS_SQL = f"""
WITH latest AS (SELECT * FROM ({_LATEST_STATE}) WHERE status IS NOT NULL),
     flags AS ({{current}}),
     changed AS ({_CHANGED_KEYS})
SELECT {", ".join(f"coalesce(l.{k}, f.{k}) AS {k}" for k in DECISION_KEY)}, {_OLD_NEW}
FROM (SELECT * FROM latest l SEMI JOIN changed c ON {_SAME_KEY.format(a="l", b="c")}) l
FULL OUTER JOIN (SELECT * FROM flags f SEMI JOIN changed c ON {_SAME_KEY.format(a="f", b="c")}) f
    ON {_SAME_KEY.format(a="l", b="f")}
"""
_KEY_ORDER = ", ".join(f"{k} NULLS LAST" for k in DECISION_KEY)  # as models.audit_chain sorts
INSERT_CHANGES_SQL = f"""
INSERT INTO audit.reportability_changes (sequence, run_id, as_of, {", ".join(CHANGE_COLUMNS)},
                                         changed_at)
SELECT $sequence, $run_id, $as_of, {", ".join(CHANGE_COLUMNS)}, $changed_at
FROM ({{changes}})
ORDER BY {_KEY_ORDER}
"""
# No flags table yet (a night stopped before the vigilance step): nothing is current.
NO_FLAGS_SQL = f"""
SELECT {_KEY}, {_FIELDS} FROM ({_LATEST_STATE}) WHERE false
"""
SHOWN_CHANGES = 20  # change rows returned with the record, for a person to read


def append_run_record(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    as_of: dt.date,
    code_version: str,
    config_sha256: str,
    user_name: str | None = None,
    hostname: str | None = None,
    reason: str | None = None,
    recorded_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Append the night's reportability changes and its chained run record; return the record
    (with `status_changes`: the first SHOWN_CHANGES change rows in key order; the count is
    `status_changes_rows`). The caller owns the transaction."""
    recorded_at = (recorded_at or dt.datetime.now(dt.UTC)).replace(tzinfo=None)
    last = con.execute(
        "SELECT sequence, record_hash FROM audit.runs ORDER BY sequence DESC LIMIT 1"
    ).fetchall()
    sequence = int(last[0][0]) + 1 if last else 1
    prev_hash = str(last[0][1]) if last else GENESIS_HASH

    current = _CURRENT_FLAGS if table_exists(con, "marts.vigilance_flags") else NO_FLAGS_SQL
    changes = CHANGE_ROWS_SQL.format(current=current)
    con.execute(
        INSERT_CHANGES_SQL.format(changes=changes),
        {"sequence": sequence, "run_id": run_id, "as_of": as_of, "changed_at": recorded_at},
    )
    shown = dict_rows(
        con,
        f"SELECT {', '.join(CHANGE_COLUMNS)} FROM audit.reportability_changes "
        f"WHERE sequence = ? ORDER BY {_KEY_ORDER} "
        f"LIMIT {SHOWN_CHANGES}",
        [sequence],
    )

    record: dict[str, Any] = {
        "sequence": sequence,
        "run_id": run_id,
        "as_of": as_of,
        "recorded_at": recorded_at,
        "user_name": user_name or run_user(),
        "hostname": hostname or socket.gethostname(),
        "code_version": code_version,
        "config_sha256": config_sha256,
        "reason": reason or run_reason(),
        **run_evidence(con, run_id),
    }
    record["prev_hash"] = prev_hash
    record["record_hash"] = record_hash(prev_hash, record)
    con.execute(
        f"INSERT INTO audit.runs ({', '.join(record)}) VALUES ({', '.join(['?'] * len(record))})",
        list(record.values()),
    )
    return {**record, "status_changes": shown}


def seal_stopped_night(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    as_of: dt.date,
    code_version: str,
    config_sha256: str,
    stopped_at: list[str],
) -> dict[str, Any]:
    """The run record of a night stopped before audit/run_record (by a blocking check or a failed
    step upstream of it): the files it ingested and the complaint versions it loaded are sealed
    all the same, and the reason names the checks ("table: check") and steps that stopped it.
    One transaction; nothing when the run already has a
    record or the warehouse has no audit trail yet."""
    if not table_exists(con, "audit.runs"):
        return {}
    if con.execute("SELECT count(*) FROM audit.runs WHERE run_id = ?", [run_id]).fetchall()[0][0]:
        return {}
    checks = sorted(s for s in stopped_at if ": " in s)  # "table: check"
    steps = sorted(s for s in stopped_at if ": " not in s)
    parts = [run_reason()]
    if checks:
        parts.append(f"stopped at blocking check(s): {', '.join(checks)}")
    if steps:
        parts.append(f"stopped at failed step(s): {', '.join(steps)}")
    reason = "; ".join(parts)
    con.execute("BEGIN TRANSACTION")
    try:
        record = append_run_record(
            con,
            run_id=run_id,
            as_of=as_of,
            code_version=code_version,
            config_sha256=config_sha256,
            reason=reason,
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return record


@dataclass
class AuditReport:
    runs: int
    last_hash: str
    findings: list[Finding] = field(default_factory=list)
    uncovered_versions: int = 0  # versions loaded by runs that left no record (stopped nights)

    @property
    def intact(self) -> bool:
        return not self.findings


def verify_audit_trail(con: duckdb.DuckDBPyConnection) -> AuditReport:
    """Recompute the chain over audit.runs and every run's sealed digests from the tables."""
    if not table_exists(con, "audit.runs"):
        raise LookupError("the warehouse has no audit trail (table audit.runs is missing)")
    records = dict_rows(con, "SELECT * FROM audit.runs ORDER BY sequence, recorded_at, run_id")
    findings = verify_chain(records)
    recomputed = {str(r["run_id"]): run_evidence(con, str(r["run_id"])) for r in records}
    findings += verify_evidence(records, recomputed)
    findings.sort(key=lambda f: (f.position, f.problem != "record_hash"))
    uncovered = 0
    if table_exists(con, "staging.complaint_versions"):
        uncovered = int(
            con.execute(
                "SELECT count(*) FROM staging.complaint_versions "
                "WHERE run_id NOT IN (SELECT run_id FROM audit.runs)"
            ).fetchall()[0][0]
        )
    last = str(records[-1]["record_hash"]) if records else GENESIS_HASH
    return AuditReport(len(records), last, findings, uncovered)


def format_report(report: AuditReport) -> str:
    """What `pms verify-audit` prints."""
    lines = []
    if report.intact:
        lines.append(f"audit trail intact: {_runs(report.runs)}, last hash {report.last_hash}")
    else:
        lines.append(
            f"audit trail BROKEN: {len(report.findings)} finding(s) over {_runs(report.runs)}"
        )
        lines += [f"  {finding.message}" for finding in report.findings]
    if report.uncovered_versions:
        lines.append(
            f"note: {report.uncovered_versions} complaint version(s) were loaded by runs that "
            "left no run record (stopped nights); the chain does not seal them"
        )
    return "\n".join(lines)


def _runs(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"
