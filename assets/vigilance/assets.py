"""Vigilance asset: which complaint is reportable where, due when, and what is overdue."""

import datetime as dt

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.marts.queries import COMPLAINTS_AS_OF_SQL
from assets.metadata import markdown_table, table_metadata
from assets.resources import WAREHOUSE_POOL, NightSettings
from assets.warehouse import (
    query_frame,
    replace_table,
    staged_or_empty,
    unresolved_quarantined_records,
)
from models.triage import review_flags
from models.vigilance import (
    SERIOUS_SEVERITY,
    VigilanceSettings,
    assess_vigilance,
    compliance_flags,
    quarantined_complaint_flags,
)
from pipelines.settings import load_config

VIGILANCE_OWNERS = ["team:regulatory-affairs"]

SERIOUS_CODES_SQL = """
SELECT DISTINCT device_family, trim(unnest(string_split(problem_codes, ';'))) AS problem_code
FROM staging.risk_register
WHERE severity >= $serious AND problem_codes IS NOT NULL
"""

VMSR_PRODUCT_CODES_SQL = """
SELECT product_code FROM reference.fda_product_codes
WHERE summary_malfunction_reporting = 'Eligible' ORDER BY product_code
"""

# Every version known on the night, with the optional contract columns the extract may carry
# (kept in extra_fields by ingestion).
VERSIONS_AS_OF_SQL = """
SELECT complaint_id, received_date, updated_at, event_date, device_model, lot_number,
       serial_number, udi_di, country, source, problem_code, health_effect_code, component_code,
       patient_outcome, malfunction, investigation_status, investigation_closed_date,
       investigation_conclusion_code, reportability_decision, reported_date,
       lower(trim(json_extract_string(extra_fields, '$.causality'))) AS causality,
       lower(trim(json_extract_string(extra_fields, '$.hospitalised')))
           IN ('true', 't', 'yes', 'y', '1') AS hospitalised
FROM staging.complaint_versions
WHERE updated_at < CAST($as_of AS DATE) + INTERVAL 1 DAY
  AND received_date <= CAST($as_of AS DATE)
ORDER BY complaint_id, updated_at, source_file, source_row
"""

PRODUCTS_SQL = """
SELECT device_model, device_family, product_code, implantable, eu_class, us_class,
       upper(trim(json_extract_string(extra_fields, '$.ca_class'))) AS ca_class
FROM staging.products ORDER BY device_model
"""
RISK_REGISTER_SQL = """
SELECT hazard_id, device_family, problem_codes, health_effect_codes, severity, expected_rate
FROM staging.risk_register ORDER BY hazard_id
"""
DISTRIBUTION_SQL = """
SELECT device_model, country, ship_date, units FROM staging.distribution
WHERE ship_date <= CAST($as_of AS DATE)
"""
SUBMISSIONS_SQL = """
SELECT complaint_id, authority, report_kind, submitted_date, report_number, submitted_by
FROM staging.submissions WHERE submitted_date <= CAST($as_of AS DATE)
ORDER BY complaint_id, submitted_date, authority, report_kind
"""
DETERMINATIONS_SQL = """
SELECT determination_id, kind, subject, value, decided_on, decided_by, rationale
FROM staging.determinations WHERE decided_on <= CAST($as_of AS DATE)
ORDER BY decided_on, determination_id
"""


QUARANTINE_FIELDS = (
    "complaint_id",
    "received_date",
    "updated_at",
    "device_model",
    "country",
    "patient_outcome",
    "malfunction",
    "problem_code",
)


def quarantine_ref(file_path: str, row_number: int | None) -> str:
    """How a person finds a quarantined record: its landing file and row."""
    return (
        f"{file_path} row {row_number}" if row_number is not None else f"{file_path} (whole file)"
    )


def lenient_timestamp(text: str | None) -> dt.datetime | None:
    """An ISO 8601 date or timestamp read from quarantined text (UTC, naive), or None."""
    try:
        value = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def quarantined_complaints(con, as_of) -> pl.DataFrame:
    """Quarantined complaint rows whose information no staged version known on the night
    supersedes, as text, with the family of their model when it is known. Dates are read
    leniently: a record whose dates cannot be read stays (doubt counts against delay)."""
    rows = []
    for q in unresolved_quarantined_records(con, "complaint_versions"):
        received = lenient_timestamp((q.fields.get("received_date") or "")[:10])
        rows.append(
            {
                **{name: q.fields.get(name) for name in QUARANTINE_FIELDS},
                "readable": q.readable,
                "quarantine_ref": quarantine_ref(q.file_path, q.row_number),
                "received_on": received.date() if received else None,
                "updated_ts": lenient_timestamp(q.fields.get("updated_at")),
            }
        )
    records = pl.DataFrame(
        rows,
        schema={
            **dict.fromkeys(QUARANTINE_FIELDS, pl.String),
            "readable": pl.Boolean,
            "quarantine_ref": pl.String,
            "received_on": pl.Date,
            "updated_ts": pl.Datetime("us"),
        },
    )
    staged = query_frame(
        con,
        f"SELECT complaint_id, CAST(updated_at AS TIMESTAMP) AS staged_at "
        f"FROM ({COMPLAINTS_AS_OF_SQL})",
        {"as_of": as_of},
    ).with_columns(pl.col("staged_at").cast(pl.Datetime("us")))
    families = query_frame(con, "SELECT device_model, device_family FROM staging.products")
    received, updated = pl.col("received_on"), pl.col("updated_ts")
    return (
        records.filter(received.is_null() | (received <= as_of))
        .join(staged, on="complaint_id", how="left")
        .filter(pl.col("staged_at").is_null() | updated.is_null() | (updated > pl.col("staged_at")))
        .join(families, on="device_model", how="left")
        .drop("received_on", "updated_ts", "staged_at")
    )


MARKETS_SQL = """
SELECT DISTINCT device_model, country FROM staging.distribution
WHERE ship_date <= CAST($as_of AS DATE) AND units > 0
"""


def assess_night(con, as_of, settings: VigilanceSettings) -> pl.DataFrame:
    """`models.vigilance.assess_vigilance` over everything the warehouse knows on the night."""
    return assess_vigilance(
        query_frame(con, VERSIONS_AS_OF_SQL, {"as_of": as_of}),
        query_frame(con, PRODUCTS_SQL),
        query_frame(con, RISK_REGISTER_SQL),
        query_frame(con, DISTRIBUTION_SQL, {"as_of": as_of}),
        as_of,
        submissions=staged_or_empty(con, "staging.submissions", SUBMISSIONS_SQL, {"as_of": as_of}),
        determinations=staged_or_empty(
            con, "staging.determinations", DETERMINATIONS_SQL, {"as_of": as_of}
        ),
        vmsr_product_codes=query_frame(con, VMSR_PRODUCT_CODES_SQL)["product_code"].to_list(),
        settings=settings,
    )


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["marts", "vigilance_flags"],
    group_name="vigilance",
    owners=VIGILANCE_OWNERS,
    kinds={"duckdb", "polars"},
    deps=[
        dg.AssetKey(["staging", "complaint_versions"]),
        dg.AssetKey(["staging", "risk_register"]),
        dg.AssetKey(["staging", "distribution"]),
        dg.AssetKey(["staging", "products"]),
        dg.AssetKey(["staging", "submissions"]),
        dg.AssetKey(["staging", "determinations"]),
        dg.AssetKey(["reference", "code_tables"]),
    ],
    description=(
        "Every regulatory obligation of every complaint known on the night (docs/vigilance.md): "
        "one row per complaint, regime (FDA_MDR, EU_MDR, HC_CMDR; NONE_ENCODED for an event in "
        "a country with no encoded regime, assess locally; CLINICAL_STUDY apart) and report "
        "(initial, supplemental, follow_up, final, five_day, public_health_threat, "
        "foreign_risk_notice), with the rule (config/vigilance_rules.csv, each citing its "
        "paragraph), day_zero (the awareness of the version that first carried the information), "
        "due date, the submission to that authority that met it (submissions/), status (open, "
        "overdue, submitted_on_time, submitted_late, undetermined: in doubt, on the shortest "
        "plausible clock; decided_not_reportable: a person's recorded no against a rule, for "
        "second review; not_reportable), who decided and why (determinations/), and complaint "
        "rows that look reportable while they wait in quarantine (data_state 'quarantined')."
    ),
)
def vigilance_flags_asset(warehouse: DuckDBResource, night: NightSettings) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    settings = VigilanceSettings.from_config(load_config().section("vigilance"))
    with warehouse.get_connection() as con:
        staged = assess_night(con, as_of, settings)
        waiting = quarantined_complaint_flags(
            quarantined_complaints(con, as_of),
            query_frame(con, SERIOUS_CODES_SQL, {"serious": SERIOUS_SEVERITY}),
            query_frame(con, MARKETS_SQL, {"as_of": as_of}),
            as_of,
        )
        flags = pl.concat([staged, waiting]).sort(
            "complaint_id", "regime", "report_kind", "day_zero", "rule", nulls_last=False
        )
        replace_table(con, "marts", "vigilance_flags", flags)
        metadata = table_metadata(
            con, "marts", "vigilance_flags", "complaint_id, regime, report_kind, day_zero, rule"
        )
    opt_ins = sorted(settings.opt_ins)
    counts = (
        flags.group_by("regime", "report_kind", "status")
        .agg(pl.len().alias("n"))
        .sort("regime", "report_kind", "status")
        .rows()
    )
    routes = flags.group_by("regime", "route").agg(pl.len().alias("n")).sort("regime", "route")
    urgent = flags.filter(pl.col("status").is_in(["overdue", "open", "undetermined"])).sort(
        "due_date", "complaint_id", "regime", nulls_last=True
    )
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "as_of": as_of.isoformat(),
            "overdue": int(flags.filter(pl.col("status") == "overdue").height),
            "open": int(flags.filter(pl.col("status") == "open").height),
            "undetermined": int(flags.filter(pl.col("status") == "undetermined").height),
            "decided_not_reportable": int(
                flags.filter(pl.col("status") == "decided_not_reportable").height
            ),
            "none_encoded": int(flags.filter(pl.col("regime") == "NONE_ENCODED").height),
            "programmes_opted_in": ", ".join(opt_ins) or "none",
            "reportable_rows_in_quarantine": int(waiting.height),
            "by_status": dg.MetadataValue.md(
                markdown_table(counts, ["regime", "report", "status", "n"])
            ),
            "by_route": dg.MetadataValue.md(
                markdown_table(routes.rows(), ["regime", "route", "n"])
            ),
            "open_and_overdue_by_due_date": dg.MetadataValue.md(
                markdown_table(
                    urgent.select(
                        "complaint_id",
                        "regime",
                        "report_kind",
                        "rule",
                        "due_date",
                        "status",
                        "days_remaining",
                    )
                    .head(20)
                    .rows(),
                    ["complaint", "regime", "report", "rule", "due", "status", "days left"],
                )
            ),
        }
    )


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["marts", "compliance_flags"],
    group_name="vigilance",
    owners=VIGILANCE_OWNERS,
    kinds={"duckdb", "polars"},
    deps=[
        dg.AssetKey(["marts", "vigilance_flags"]),
        dg.AssetKey(["marts", "triage_suggestions"]),
    ],
    description=(
        "Complaint-handling findings (ISO 13485:2016 8.2.2; 21 CFR 820.35(a)) as of the night: no "
        "reportability evaluation within the configured days, investigations open past the "
        "firm's limit, closed without a conclusion code, not investigated without a reason, "
        "late submissions, and human 'not reportable' decisions that a rule or the triage model "
        "contradicts (raised for review, never overridden)."
    ),
)
def compliance_flags_asset(warehouse: DuckDBResource, night: NightSettings) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    limits = load_config().section("vigilance")
    with warehouse.get_connection() as con:
        complaints = query_frame(
            con,
            f"""
            SELECT complaint_id, received_date, investigation_status,
                   investigation_conclusion_code, not_investigated_reason,
                   reportability_decision
            FROM ({COMPLAINTS_AS_OF_SQL})
            """,
            {"as_of": as_of},
        )
        flags = query_frame(
            con,
            "SELECT complaint_id, regime, report_kind, rule, reportable, status "
            "FROM marts.vigilance_flags",
        )
        found = compliance_flags(
            complaints,
            flags,
            as_of,
            evaluation_limit_days=int(limits.get("evaluation_limit_days", 5)),
            investigation_limit_days=int(limits.get("investigation_limit_days", 30)),
        )
        suggestions = query_frame(
            con,
            "SELECT complaint_id, likely_reportable, p_reportable, model_version "
            "FROM marts.triage_suggestions",
        )
        found = (
            pl.concat(
                [
                    found,
                    review_flags(suggestions, complaints).with_columns(as_of=pl.lit(as_of)),
                ],
                how="vertical_relaxed",
            )
            .unique()
            .sort("complaint_id", "flag", "detail")
        )
        replace_table(con, "marts", "compliance_flags", found)
        metadata = table_metadata(con, "marts", "compliance_flags", "complaint_id, flag")
    counts = found.group_by("flag").agg(pl.len().alias("n")).sort("flag").rows()
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "as_of": as_of.isoformat(),
            "by_flag": dg.MetadataValue.md(markdown_table(counts, ["flag", "complaints"])),
        }
    )
