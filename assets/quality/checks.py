"""Dagster asset checks: GX suites on whole staged tables, and the table rules of the gate.

`suite_checks` is the one factory that turns a suite (`expectations/<schema.table>.json`) into
checks: critical expectations into a blocking ERROR check (a failure stops everything downstream
and the night's index names the check), warnings into a WARN check the UI shows. Temporal rules
(a date after the as-of night) are judged when a row arrives, so on the staged table they are run
with an open-ended night. Every result is kept in `audit.check_results`.

A staged table is not judged whole every night. Its row-wise expectations (each row judged alone,
see gx_suites.split_suite) run once per batch (the rows one run loaded, `run_id`) and are kept in
the append-only ledger `audit.validated_batches` under a fingerprint of the suite and the
parameter values it reads; each night judges only the batches not yet validated under tonight's
fingerprint (new, killed before their check, failed, or changed) and sums the ledger over the
batches in the table. Set-wise expectations (uniqueness, ...) run on the whole table every night,
reading only their columns. The night's results thus do not depend on how the rows arrived.
"""

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.quality.gx_suites import (
    ExpectationOutcome,
    SuiteOutcome,
    combine_batch_outcomes,
    split_suite,
    suite_columns,
    suite_definition,
    validate_frame,
    validation_fingerprint,
)
from assets.quality.row_rules import record_check_results, row_rule_parameters
from assets.resources import WAREHOUSE_POOL, NightSettings
from assets.warehouse import (
    ensure_warehouse,
    query_frame,
    table_columns,
    unresolved_quarantined_records,
)
from pipelines.settings import load_config

OPEN_ENDED_NIGHT = dt.date(9999, 12, 30)
FAILING_ROWS_KEPT = 20  # failing rows kept per expectation and batch in the ledger
VALIDATION_CHUNK_ROWS = 250_000  # rows of a batch handed to GX at once


@dataclass(frozen=True)
class StagedJudgement:
    """A staged table judged by its suite: the results, and how they were reached."""

    outcome: SuiteOutcome
    fingerprint: str
    batches: int  # batches (distinct run_id) in the table
    judged_tonight: tuple[str, ...]  # batches whose row-wise expectations this run judged

    def note(self) -> str:
        earlier = self.batches - len(self.judged_tonight)
        return (
            f"Row-wise expectations: {self.batches} batch(es) in the table, "
            f"{len(self.judged_tonight)} judged by this run, {earlier} validated by earlier runs "
            f"under the same fingerprint {self.fingerprint[:12]} (audit.validated_batches); "
            "failing rows listed are the first of all batches. Set-wise expectations: judged on "
            "the whole table by this run."
        )


def _ledger_outcome(
    suite: str, index: int, row: tuple[Any, ...] | None
) -> ExpectationOutcome | None:
    """A ledger row (success, element_count, unexpected_count, failing_rows) as an outcome."""
    if row is None:
        return None
    success, element_count, unexpected_count, failing = row
    expectation = suite_definition(suite)["expectations"][index]
    return ExpectationOutcome(
        expectation_type=expectation["type"],
        columns=(),
        severity=expectation["severity"],
        scope=expectation["meta"]["scope"],
        reason=expectation["meta"]["reason"],
        success=bool(success),
        element_count=int(element_count),
        unexpected_count=int(unexpected_count),
        failing_rows=tuple((str(f), int(r), str(w)) for f, r, w in json.loads(failing)),
        index=index,
    )


def _append_to_ledger(
    con: duckdb.DuckDBPyConnection,
    *,
    suite: str,
    fingerprint: str,
    batch_run_id: str,
    batch_rows: int,
    outcome: SuiteOutcome,
    run_id: str,
) -> None:
    """One validation of one batch: its rows in one transaction (a kill leaves all or none)."""
    gate_passed = not outcome.failed(severity="critical")
    con.execute("BEGIN TRANSACTION")
    try:
        seq = con.execute(
            "SELECT coalesce(max(validation_seq), 0) + 1 FROM audit.validated_batches"
        ).fetchall()[0][0]
        con.executemany(
            "INSERT INTO audit.validated_batches (suite, fingerprint, batch_run_id, batch_rows, "
            "validation_seq, expectation_index, check_name, severity, success, element_count, "
            "unexpected_count, failing_rows, gate_passed, validated_by_run_id, validated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
            [
                (
                    suite,
                    fingerprint,
                    batch_run_id,
                    batch_rows,
                    seq,
                    o.index,
                    o.check_name,
                    o.severity,
                    o.success,
                    o.element_count,
                    o.unexpected_count,
                    json.dumps([list(r) for r in o.failing_rows[:FAILING_ROWS_KEPT]]),
                    gate_passed,
                    run_id,
                )
                for o in outcome.outcomes
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def judge_staged_table(
    con: duckdb.DuckDBPyConnection, suite: str, parameters: dict[str, Any], run_id: str
) -> StagedJudgement:
    """Judge staged table `suite` (`schema.table`): validate the batches not yet validated under
    tonight's fingerprint with the row-wise expectations and append them to the ledger, combine
    the ledger over the batches in the table, and run the set-wise expectations on the whole
    table. `run_id` is the run judging (it names itself in the ledger)."""
    schema, table = suite.split(".", 1)  # names from the suite file, never from data
    available = table_columns(con, f"{schema}.{table}")
    if not available:
        raise ValueError(
            f"{suite}: the staged table {schema}.{table} does not exist: materialise its "
            "ingestion asset before its checks"
        )
    if "run_id" not in available:
        raise ValueError(
            f"{suite}: the staged table {schema}.{table} has no run_id column, so its rows "
            "cannot be validated by batch: add the run that loaded each row to its loader"
        )
    fingerprint = validation_fingerprint(suite, parameters)
    row_wise, set_wise = split_suite(suite)
    batches = {
        batch: int(rows)
        for batch, rows in con.execute(
            f"SELECT run_id, count(*) FROM {schema}.{table} GROUP BY run_id ORDER BY run_id"
        ).fetchall()
    }
    if None in batches:
        raise ValueError(
            f"{suite}: {batches[None]} row(s) of {schema}.{table} have no run_id and cannot be "
            "validated by batch: reload them through ingestion (which sets the run)"
        )
    outcomes: list[ExpectationOutcome] = []
    judged: list[str] = []
    if row_wise and batches:
        # latest validation under tonight's fingerprint of every batch in the ledger
        latest = {
            batch: (int(rows), bool(gate))
            for batch, rows, gate in con.execute(
                "SELECT batch_run_id, arg_max(batch_rows, validation_seq), "
                "arg_max(gate_passed, validation_seq) FROM audit.validated_batches "
                "WHERE suite = ? AND fingerprint = ? GROUP BY batch_run_id",
                [suite, fingerprint],
            ).fetchall()
        }
        listed = ", ".join(f'"{c}"' for c in suite_columns(suite, available, part="row"))
        for batch, rows in batches.items():
            if latest.get(batch) == (rows, True):
                continue  # validated, gate passed, and the batch still has the rows judged
            outcome, batch_rows = _validate_batch(
                con,
                suite,
                f"SELECT {listed} FROM {schema}.{table} WHERE run_id = ?",
                batch,
                parameters,
            )
            _append_to_ledger(
                con,
                suite=suite,
                fingerprint=fingerprint,
                batch_run_id=batch,
                batch_rows=batch_rows,
                outcome=outcome,
                run_id=run_id,
            )
            judged.append(batch)
        ledger: dict[tuple[str, int], tuple[Any, ...]] = {}
        for batch, rows, index, *result in con.execute(
            """
            SELECT v.batch_run_id, v.batch_rows, v.expectation_index, v.success,
                   v.element_count, v.unexpected_count, v.failing_rows
            FROM audit.validated_batches v
            JOIN (SELECT batch_run_id, max(validation_seq) AS seq
                  FROM audit.validated_batches WHERE suite = ? AND fingerprint = ?
                  GROUP BY batch_run_id) l
              ON v.batch_run_id = l.batch_run_id AND v.validation_seq = l.seq
            """,
            [suite, fingerprint],
        ).fetchall():
            if batches.get(batch) == rows:
                ledger[(batch, int(index))] = tuple(result)
        outcomes.extend(
            combine_batch_outcomes(
                suite,
                index,
                [_ledger_outcome(suite, index, ledger.get((b, index))) for b in batches],
                keep=FAILING_ROWS_KEPT,
            )
            for index in row_wise
        )
    if set_wise:
        listed = ", ".join(f'"{c}"' for c in suite_columns(suite, available, part="set"))
        frame = query_frame(con, f"SELECT {listed} FROM {schema}.{table}")
        outcomes.extend(validate_frame(suite, frame, parameters, part="set").outcomes)
    return StagedJudgement(
        outcome=SuiteOutcome(suite, tuple(sorted(outcomes, key=lambda o: o.index))),
        fingerprint=fingerprint,
        batches=len(batches),
        judged_tonight=tuple(judged),
    )


def _validate_batch(
    con: duckdb.DuckDBPyConnection,
    suite: str,
    sql: str,
    batch: str,
    parameters: dict[str, Any] | None,
) -> tuple[SuiteOutcome, int]:
    """The row-wise expectations of `suite` on one batch, handed to GX VALIDATION_CHUNK_ROWS
    rows at a time (a rebuild loads millions of rows in one batch) and combined as batches are:
    row-wise results do not depend on which rows are judged together. (outcome, rows)."""
    chunks: list[SuiteOutcome] = []
    rows = 0
    for record_batch in con.sql(sql, params=[batch]).to_arrow_reader(VALIDATION_CHUNK_ROWS):
        frame = pl.from_arrow(record_batch)
        assert isinstance(frame, pl.DataFrame)
        rows += frame.height
        chunks.append(validate_frame(suite, frame, parameters, part="row"))
    if len(chunks) == 1:
        return chunks[0], rows
    by_index: dict[int, list[ExpectationOutcome | None]] = {}
    for chunk in chunks:
        for outcome in chunk.outcomes:
            by_index.setdefault(outcome.index, []).append(outcome)
    combined = tuple(
        combine_batch_outcomes(suite, index, found, keep=FAILING_ROWS_KEPT)
        for index, found in sorted(by_index.items())
    )
    return SuiteOutcome(suite, combined), rows


def _outcome_metadata(outcome: SuiteOutcome, severity: str) -> dict:
    relevant = [o for o in outcome.outcomes if o.severity == severity]
    failed = [o for o in relevant if not o.success]
    lines = [
        f"- **{o.reason}**: {o.unexpected_count} of {o.element_count} rows"
        + (f" (first: {o.failing_rows[0][0]} row {o.failing_rows[0][1]})" if o.failing_rows else "")
        for o in failed
    ]
    return {
        "suite": outcome.suite,
        "expectations_evaluated": len(relevant),
        "expectations_failed": len(failed),
        "failures": dg.MetadataValue.md("\n".join(lines) if lines else "All expectations met."),
    }


def suite_checks(asset_key: Sequence[str], suite: str) -> dg.AssetChecksDefinition:
    """A blocking critical check and a warning check for one staged table, from its suite."""
    base = suite.replace(".", "_")
    description = suite_definition(suite)["meta"].get("description", "")
    key = dg.AssetKey(list(asset_key))

    @dg.multi_asset_check(
        pool=WAREHOUSE_POOL,
        name=f"{base}_suite",
        specs=[
            dg.AssetCheckSpec(
                name=f"{base}_critical_rules",
                asset=key,
                blocking=True,
                description=f"Critical expectations of {suite}: {description}",
            ),
            dg.AssetCheckSpec(
                name=f"{base}_warning_rules",
                asset=key,
                description=f"Warning expectations of {suite}: {description}",
            ),
        ],
    )
    def _suite_check(context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource):
        with warehouse.get_connection() as con:
            ensure_warehouse(con)
            judgement = judge_staged_table(
                con, suite, row_rule_parameters(con, OPEN_ENDED_NIGHT), context.run.run_id
            )
            outcome = judgement.outcome
            record_check_results(con, outcome, table_name=suite, run_id=context.run.run_id)
        context.log.info(f"{suite}: {judgement.note()}")
        for severity, name, level in (
            ("critical", f"{base}_critical_rules", dg.AssetCheckSeverity.ERROR),
            ("warning", f"{base}_warning_rules", dg.AssetCheckSeverity.WARN),
        ):
            yield dg.AssetCheckResult(
                check_name=name,
                asset_key=key,
                passed=not outcome.failed(severity=severity),
                severity=level,
                metadata={
                    **_outcome_metadata(outcome, severity),
                    "batches": judgement.batches,
                    "batches_judged_by_this_run": len(judgement.judged_tonight),
                    "validation_fingerprint": judgement.fingerprint,
                    "how_judged": judgement.note(),
                },
            )

    return _suite_check


def _record(
    con,
    *,
    suite: str,
    table: str,
    run_id: str,
    name: str,
    severity: str,
    passed: bool,
    reason: str,
    details: dict,
) -> None:
    con.execute(
        "INSERT INTO audit.check_results (suite, table_name, file_path, run_id, check_name, "
        "severity, scope, success, element_count, unexpected_count, reason, details, checked_at) "
        "VALUES (?, ?, NULL, ?, ?, ?, 'table', ?, NULL, NULL, ?, ?, now()::TIMESTAMP)",
        [suite, table, run_id, name, severity, passed, reason, json.dumps(details, default=str)],
    )


def accounting_check(asset_key: Sequence[str], source: str) -> dg.AssetChecksDefinition:
    """Blocking: for every file of the source, rows read = rows loaded + rows quarantined, and
    the quarantine holds exactly the rows the audit says it does."""
    key = dg.AssetKey(list(asset_key))

    @dg.asset_check(
        pool=WAREHOUSE_POOL,
        asset=key,
        name=f"{source}_row_accounting",
        blocking=True,
        description=(
            f"Every {source} file: rows read = rows loaded + rows quarantined, and "
            "quarantine.rejected_rows holds exactly the quarantined rows. Nothing is lost."
        ),
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource):
        with warehouse.get_connection() as con:
            ensure_warehouse(con)
            broken = con.execute(
                """
                SELECT a.file_path, a.rows_read, a.rows_loaded, a.rows_quarantined,
                       count(q.file_path) AS stored
                FROM audit.ingested_files a
                LEFT JOIN quarantine.rejected_rows q USING (file_path, sha256)
                WHERE a.source = ?
                GROUP BY ALL
                HAVING a.rows_read <> a.rows_loaded + a.rows_quarantined
                    OR count(q.file_path) <> a.rows_quarantined
                ORDER BY a.file_path
                """,
                [source],
            ).fetchall()
            files = con.execute(
                "SELECT count(*), coalesce(sum(rows_read), 0) FROM audit.ingested_files "
                "WHERE source = ?",
                [source],
            ).fetchall()[0]
            _record(
                con,
                suite="table_rules",
                table=f"staging.{source}",
                run_id=context.run.run_id,
                name="row_accounting",
                severity="critical",
                passed=not broken,
                reason="rows read = rows loaded + rows quarantined per file",
                details={"broken_files": [b[0] for b in broken]},
            )
        return dg.AssetCheckResult(
            passed=not broken,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "files": int(files[0]),
                "rows_read": int(files[1]),
                "broken_files": dg.MetadataValue.md(
                    "\n".join(
                        f"- {b[0]}: read {b[1]}, loaded {b[2]}, quarantined {b[3]}, stored {b[4]}"
                        for b in broken
                    )
                    or "None."
                ),
            },
        )

    return _check


def volume_check(asset_key: Sequence[str], source: str) -> dg.AssetChecksDefinition:
    """Warn when tonight's new rows are far outside what recent nights brought."""
    key = dg.AssetKey(list(asset_key))

    @dg.asset_check(
        pool=WAREHOUSE_POOL,
        asset=key,
        name=f"{source}_volume_within_recent_range",
        description=(
            f"Rows of {source} loaded by this run against the median of recent runs that "
            "loaded any (bounds in config/pipeline.toml [quality]). A first load passes."
        ),
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource):
        quality = load_config().section("quality")
        nights = int(quality.get("volume_recent_runs", 14))
        low, high = (
            float(quality.get("volume_ratio_low", 0.2)),
            float(quality.get("volume_ratio_high", 5.0)),
        )
        with warehouse.get_connection() as con:
            ensure_warehouse(con)
            per_run = con.execute(
                """
                SELECT run_id, sum(rows_read) AS rows, min(ingested_at) AS started
                FROM audit.ingested_files WHERE source = ? GROUP BY run_id ORDER BY started
                """,
                [source],
            ).fetchall()
            tonight = sum(r[1] for r in per_run if r[0] == context.run.run_id)
            history = [int(r[1]) for r in per_run if r[0] != context.run.run_id][-nights:]
            if not history or tonight == 0:
                passed, note = (
                    True,
                    "no earlier load to compare with" if not history else ("no new rows tonight"),
                )
                median = None
            else:
                ordered = sorted(history)
                median = ordered[len(ordered) // 2]
                passed = low * median <= tonight <= high * median
                note = f"{tonight} rows tonight against a median of {median}"
            _record(
                con,
                suite="table_rules",
                table=f"staging.{source}",
                run_id=context.run.run_id,
                name="volume_within_recent_range",
                severity="warning",
                passed=passed,
                reason=note,
                details={"tonight": tonight, "history": history},
            )
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rows_tonight": int(tonight), "recent_median": median, "note": note},
        )

    return _check


@dg.asset_check(
    pool=WAREHOUSE_POOL,
    asset=dg.AssetKey(["staging", "complaint_versions"]),
    name="complaint_extract_freshness",
    description=(
        "Warns when the newest complaint version is older than the configured number of days "
        "before the run's as-of date: the nightly complaint extract may have stopped."
    ),
)
def complaint_extract_freshness(
    context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource, night: NightSettings
):
    limit = int(load_config().section("quality").get("complaint_freshness_days", 3))
    as_of = night.as_of_date()
    with warehouse.get_connection() as con:
        ensure_warehouse(con)
        newest = con.execute(
            "SELECT max(updated_at)::DATE FROM staging.complaint_versions "
            "WHERE updated_at < CAST(? AS DATE) + INTERVAL 1 DAY",
            [as_of],
        ).fetchall()[0][0]
        age = None if newest is None else (as_of - newest).days
        passed = age is not None and age <= limit
        note = (
            "no complaint version at all"
            if age is None
            else f"newest complaint version {newest}, {age} day(s) before {as_of}"
        )
        _record(
            con,
            suite="table_rules",
            table="staging.complaint_versions",
            run_id=context.run.run_id,
            name="complaint_extract_freshness",
            severity="warning",
            passed=passed,
            reason=note,
            details={"limit_days": limit},
        )
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"newest_version": str(newest), "age_days": age, "limit_days": limit},
    )


@dg.asset_check(
    pool=WAREHOUSE_POOL,
    asset=dg.AssetKey(["staging", "complaints"]),
    name="models_with_complaints_have_shipments",
    description=(
        "Every device model with complaints has shipments: without them its complaint rate has "
        "no denominator."
    ),
)
def models_with_complaints_have_shipments(
    context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource
):
    with warehouse.get_connection() as con:
        ensure_warehouse(con)
        missing = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT c.device_model FROM staging.complaints c "
                "WHERE NOT EXISTS (SELECT 1 FROM staging.distribution d "
                "WHERE d.device_model = c.device_model) ORDER BY 1"
            ).fetchall()
        ]
        _record(
            con,
            suite="table_rules",
            table="staging.complaints",
            run_id=context.run.run_id,
            name="models_with_complaints_have_shipments",
            severity="warning",
            passed=not missing,
            reason="every model with complaints has shipments",
            details={"models_without_shipments": missing},
        )
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"models_without_shipments": dg.MetadataValue.json(missing)},
    )


@dg.asset_check(
    pool=WAREHOUSE_POOL,
    asset=dg.AssetKey(["staging", "complaints"]),
    name="no_serious_complaint_waits_in_quarantine",
    description=(
        "Patient safety net: a quarantined complaint row whose patient_outcome is death or "
        "serious_injury must be fixed and re-sent at once, because until it loads no "
        "reportability clock is computed for it. Fails with ERROR severity (not blocking)."
    ),
)
def no_serious_complaint_waits_in_quarantine(
    context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource
):
    with warehouse.get_connection() as con:
        ensure_warehouse(con)
        serious = []
        for q in unresolved_quarantined_records(con, "complaint_versions"):
            outcome = q.fields.get("patient_outcome", "").strip().lower()
            text = q.raw_record.lower()
            if outcome in {"death", "serious_injury"} or (
                not q.fields and ("death" in text or "serious_injury" in text)
            ):
                serious.append(
                    (q.file_path, q.row_number, q.fields.get("complaint_id", "?"), q.reason)
                )
        _record(
            con,
            suite="table_rules",
            table="quarantine.rejected_rows",
            run_id=context.run.run_id,
            name="no_serious_complaint_waits_in_quarantine",
            severity="critical",
            passed=not serious,
            reason="no death or serious injury complaint in quarantine",
            details={"rows": [list(s[:3]) for s in serious]},
        )
    return dg.AssetCheckResult(
        passed=not serious,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "serious_complaints_in_quarantine": len(serious),
            "rows": dg.MetadataValue.md(
                "\n".join(f"- {c} ({f} row {r}): {why}" for f, r, c, why in serious) or "None."
            ),
        },
    )
