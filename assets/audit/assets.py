"""Audit asset: the night's chained run record and the reportability decisions that changed."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.audit.trail import append_run_record, run_reason, run_reason_with_problems
from assets.metadata import markdown_table
from assets.night_outcome import AUDIT_STEP_PRIORITY, night_problems, rescued_run_id
from assets.resources import WAREHOUSE_POOL, NightSettings
from assets.warehouse import ensure_warehouse
from pipelines.settings import code_version, load_config

AUDIT_OWNERS = ["team:quality-assurance"]


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["audit", "run_record"],
    group_name="audit",
    owners=AUDIT_OWNERS,
    kinds={"duckdb"},
    op_tags={"dagster/priority": AUDIT_STEP_PRIORITY},
    deps=[
        dg.AssetKey(["reports", "vigilance_page"]),
        dg.AssetKey(["marts", "vigilance_flags"]),
    ],
    description=(
        "Safety-critical, the last step of every night. The append-only audit trail "
        "(21 CFR 11.10(e), EU GMP Annex 11 §9), written last each "
        "night in one transaction: audit.reportability_changes gets one row per reportability "
        "decision (complaint, regime, report kind, received date) whose rule, route, status, "
        "due date, reported date or data state changed since the last recorded state (first "
        "appearance = change from nothing; no change = no row); audit.runs gets one record: "
        "sequence, run id, as-of, wall-clock time, user (PMS_USER or the OS user), host, code "
        "version, configuration sha256, reason (PMS_RUN_REASON), and sha256 digests of the rows "
        "the run wrote to audit.ingested_files, staging.complaint_versions and "
        "audit.reportability_changes. The reason also names every step of the night that "
        "failed or was skipped and every failed ERROR check (and, in a pms_safety_net run, "
        "what stopped the night it stands in for). Each record carries the hash of the one before "
        "(models/audit_chain.py), so a silent edit, deletion or reordering breaks the chain "
        "and `pms verify-audit` names the run."
    ),
)
def audit_run_record(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, night: NightSettings
) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    config = load_config()
    version = code_version()
    problems = night_problems(context)
    with warehouse.get_connection() as con:
        ensure_warehouse(con)
        con.execute("BEGIN TRANSACTION")
        try:
            record = append_run_record(
                con,
                run_id=context.run.run_id,
                as_of=as_of,
                code_version=version,
                config_sha256=config.sha256,
                reason=run_reason_with_problems(
                    run_reason(), problems, rescued_run_id(dict(context.run.tags))
                ),
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    changes = record["status_changes"]
    shown = [
        (c["complaint_id"], c["regime"], c["report_kind"], c["old_status"], c["new_status"])
        for c in changes
    ]
    context.log.info(
        f"audit record #{record['sequence']} of run {record['run_id']}: "
        f"{record['status_changes_rows']} status change(s), hash {record['record_hash']}"
    )
    return dg.MaterializeResult(
        metadata={
            "sequence": record["sequence"],
            "record_hash": record["record_hash"],
            "prev_hash": record["prev_hash"],
            "status_changes": record["status_changes_rows"],
            "complaint_versions_sealed": record["versions_rows"],
            "ingested_files_sealed": record["inputs_rows"],
            "user": record["user_name"],
            "reason": record["reason"],
            "failures_recorded": len(problems),
            "first_status_changes": dg.MetadataValue.md(
                markdown_table(shown, ["complaint", "regime", "report", "from", "to"])
            ),
        }
    )
