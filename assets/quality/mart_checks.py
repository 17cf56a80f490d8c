"""Asset checks on the safety-critical marts (issue 17): what the morning page and the reports
promise, checked on the table every night and shown on the asset in the Dagster UI.

- `marts.vigilance_flags`: every current complaint has at least one row (data contract: "never
  no row"), and no initial obligation under an encoded regime that is open, overdue or
  undetermined lacks a due date (a clock without a date is a clock nobody sees).
- `marts.signals`: one row per signal, each with a status of its life and a detection date on
  or before the night.
- `reports/pms_reports`: every family report's PDF carries every chart of its page (a blank chart
  box printed under a caption is how the reports failed before, issue 17).
All fail with ERROR severity, not blocking: the reports must still be published, and say so.
"""

import json

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.marts.queries import COMPLAINTS_AS_OF_SQL
from assets.quality.checks import _record
from assets.reports.assets import FAMILY_REPORTS_LISTING
from assets.resources import WAREHOUSE_POOL, NightSettings, ReportFolder
from assets.warehouse import ensure_warehouse, table_exists

# Regimes with an encoded clock (the others say "assess locally" or are outside post-market).
CLOCKLESS_REGIMES = ("NONE_ENCODED", "CLINICAL_STUDY")
SIGNAL_STATUSES = ("new", "ongoing", "established", "confirmed", "refuted", "closed")
EXAMPLES = 20  # complaint or signal ids shown in a failed check's metadata


def _outcome(
    con, context: dg.AssetCheckExecutionContext, table: str, reason: str, failing: list[tuple]
) -> dg.AssetCheckResult:
    """Record the check in audit.check_results (suite `mart_rules`) and return its result: it
    passes when nothing fails; the first EXAMPLES failing rows are kept and shown."""
    name = context.check_specs[0].name
    passed = not failing
    _record(
        con,
        suite="mart_rules",
        table=table,
        run_id=context.run.run_id,
        name=name,
        severity="critical",
        passed=passed,
        reason=reason,
        details={"failing": [r[0] for r in failing[:EXAMPLES]]},
    )
    examples = "\n".join(f"- {r[0]}" for r in failing[:EXAMPLES]) or "None."
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"failing": len(failing), "examples": dg.MetadataValue.md(examples)},
    )


@dg.asset_check(
    pool=WAREHOUSE_POOL,
    asset=dg.AssetKey(["marts", "vigilance_flags"]),
    name="every_current_complaint_has_a_vigilance_row",
    description=(
        "Every complaint known on the night has at least one row in marts.vigilance_flags: an "
        "event with no encoded regime gets NONE_ENCODED (assess locally), never no row."
    ),
)
def every_current_complaint_has_a_vigilance_row(
    context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource, night: NightSettings
):
    as_of = night.as_of_date()
    with warehouse.get_connection() as con:
        ensure_warehouse(con)
        missing = con.execute(
            f"""
            SELECT c.complaint_id FROM ({COMPLAINTS_AS_OF_SQL}) c
            WHERE NOT EXISTS (SELECT 1 FROM marts.vigilance_flags f
                              WHERE f.complaint_id = c.complaint_id)
            ORDER BY c.complaint_id
            """,
            {"as_of": as_of},
        ).fetchall()
        return _outcome(
            con,
            context,
            "marts.vigilance_flags",
            "every current complaint has a vigilance row",
            missing,
        )


@dg.asset_check(
    pool=WAREHOUSE_POOL,
    asset=dg.AssetKey(["marts", "vigilance_flags"]),
    name="every_open_initial_report_has_a_due_date",
    description=(
        "No initial report under an encoded regime that is open, overdue or undetermined lacks "
        "a due date (follow-up and final reports are due 'without delay' and have none)."
    ),
)
def every_open_initial_report_has_a_due_date(
    context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource
):
    with warehouse.get_connection() as con:
        ensure_warehouse(con)
        undated = con.execute(
            """
            SELECT complaint_id || ' ' || regime || ' ' || status FROM marts.vigilance_flags
            WHERE report_kind = 'initial' AND status IN ('open', 'overdue', 'undetermined')
              AND reportable AND due_date IS NULL AND regime NOT IN (SELECT unnest($clockless))
            ORDER BY 1
            """,
            {"clockless": list(CLOCKLESS_REGIMES)},
        ).fetchall()
        return _outcome(
            con,
            context,
            "marts.vigilance_flags",
            "every open initial report under an encoded regime has a due date",
            undated,
        )


@dg.asset_check(
    pool=WAREHOUSE_POOL,
    asset=dg.AssetKey(["marts", "signals"]),
    name="signals_have_one_row_a_status_and_a_date",
    description=(
        "marts.signals holds one row per signal id, each with a status of the signal's life "
        "(new, ongoing, established, confirmed, refuted, closed) and detected on or before the "
        "night."
    ),
)
def signals_have_one_row_a_status_and_a_date(
    context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource, night: NightSettings
):
    as_of = night.as_of_date()
    with warehouse.get_connection() as con:
        ensure_warehouse(con)
        bad = []
        if table_exists(con, "marts.signals"):
            bad = con.execute(
                """
                SELECT signal_id || ': ' || string_agg(DISTINCT problem, ', ') FROM (
                    SELECT signal_id, 'duplicate' AS problem FROM marts.signals
                    GROUP BY signal_id HAVING count(*) > 1
                    UNION ALL
                    SELECT signal_id, 'status ' || coalesce(status, 'missing') FROM marts.signals
                    WHERE status IS NULL OR status NOT IN (SELECT unnest($statuses))
                    UNION ALL
                    SELECT signal_id, 'detected after the night' FROM marts.signals
                    WHERE detected_on IS NULL OR detected_on > $as_of
                ) GROUP BY signal_id ORDER BY 1
                """,
                {"statuses": list(SIGNAL_STATUSES), "as_of": as_of},
            ).fetchall()
        return _outcome(
            con,
            context,
            "marts.signals",
            "one row per signal, a status of its life, detected by the night",
            bad,
        )


@dg.asset_check(
    pool=WAREHOUSE_POOL,
    asset=dg.AssetKey(["reports", "pms_reports"]),
    name="every_pdf_carries_its_charts",
    description=(
        "Every family report printed to PDF had each of its charts drawn when it was printed "
        "(counted in the page by the printer, kept in family_reports.json and the manifest); a "
        "night whose PDFs could not be printed at all fails too, with the reason."
    ),
)
def every_pdf_carries_its_charts(
    context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource, reports: ReportFolder
):
    try:
        listing = json.loads((reports.root / FAMILY_REPORTS_LISTING).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        listing = {"pdf_note": f"{FAMILY_REPORTS_LISTING} unreadable: {exc}", "reports": []}
    printed = [r for r in listing.get("reports", []) if r.get("pdf_of")]
    failing = [
        (f"{r['path']}: {r.get('charts_drawn', 0)} of {r.get('charts', '?')} charts drawn",)
        for r in printed
        if not r.get("charts") or r.get("charts_drawn") != r.get("charts")
    ]
    note = listing.get("pdf_note") or ""
    if not printed and "[reports] pdf = false" not in note:  # switched off: nothing promised
        failing = [(f"no PDF printed: {note or 'no family report'}",)]
    with warehouse.get_connection() as con:
        ensure_warehouse(con)
        return _outcome(
            con,
            context,
            "reports.pms_reports",
            "every family report's PDF carries every chart of its page",
            failing,
        )


MART_CHECKS = [
    every_current_complaint_has_a_vigilance_row,
    every_open_initial_report_has_a_due_date,
    signals_have_one_row_a_status_and_a_date,
    every_pdf_carries_its_charts,
]
