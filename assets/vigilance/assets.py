"""Vigilance asset: which complaint is reportable where, due when, and what is overdue."""

import datetime as dt

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.marts.queries import COMPLAINTS_AS_OF_SQL
from assets.metadata import markdown_table, table_metadata
from assets.resources import WAREHOUSE_POOL, NightSettings
from assets.warehouse import query_frame, replace_table, unresolved_quarantined_records
from models.triage import review_flags
from models.vigilance import (
    SERIOUS_SEVERITY,
    Rule,
    compliance_flags,
    load_rules,
    quarantined_complaint_flags,
    supplemental_reports,
    vigilance_flags,
)
from pipelines.settings import load_config

VIGILANCE_OWNERS = ["team:regulatory-affairs"]

SERIOUS_CODES_SQL = """
SELECT DISTINCT device_family, trim(unnest(string_split(problem_codes, ';'))) AS problem_code
FROM staging.risk_register
WHERE severity >= $serious AND problem_codes IS NOT NULL
"""

EXPECTED_EFFECTS_SQL = """
SELECT DISTINCT device_family,
       trim(unnest(string_split(health_effect_codes, ';'))) AS health_effect_code
FROM staging.risk_register
WHERE expected_rate IS NOT NULL AND health_effect_codes IS NOT NULL
"""

VMSR_PRODUCT_CODES_SQL = """
SELECT product_code FROM reference.fda_product_codes
WHERE summary_malfunction_reporting = 'Eligible' ORDER BY product_code
"""

# Every version known on the night; a supplemental report's submission date is an optional
# column of the complaint extract, kept in extra_fields.
VERSIONS_AS_OF_SQL = """
SELECT complaint_id, updated_at, event_date, lot_number, serial_number, udi_di, problem_code,
       health_effect_code, component_code, patient_outcome, malfunction,
       investigation_conclusion_code,
       TRY_CAST(json_extract_string(extra_fields, '$.supplemental_reported_date') AS DATE)
           AS supplemental_reported_date
FROM staging.complaint_versions
WHERE updated_at < CAST($as_of AS DATE) + INTERVAL 1 DAY
  AND received_date <= CAST($as_of AS DATE)
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

# The fields the rules read, for every complaint as known on the night $as_of.
RULE_INPUT_SQL = f"""
SELECT c.complaint_id, c.received_date, c.device_model, p.device_family,
       p.product_code, c.country, c.patient_outcome, c.malfunction, c.problem_code,
       c.health_effect_code, c.reported_date
FROM ({COMPLAINTS_AS_OF_SQL}) c LEFT JOIN staging.products p USING (device_model)
"""


def opted_in(rules: tuple[Rule, ...], settings: dict) -> list[str]:
    """The optional programmes (rules' `opt_in`) the firm's configuration switches on."""
    return sorted({r.opt_in for r in rules if r.opt_in and settings.get(r.opt_in, False)})


def rule_context(con, as_of) -> dict[str, pl.DataFrame]:
    """What the rules read besides the complaint itself, as known on the night `as_of`."""
    return {
        "serious_codes": query_frame(con, SERIOUS_CODES_SQL, {"serious": SERIOUS_SEVERITY}),
        "markets": query_frame(con, MARKETS_SQL, {"as_of": as_of}),
        "vmsr_product_codes": query_frame(con, VMSR_PRODUCT_CODES_SQL),
        "expected_effects": query_frame(con, EXPECTED_EFFECTS_SQL),
    }


def initial_flags(
    complaints: pl.DataFrame,
    context: dict[str, pl.DataFrame],
    as_of,
    rules: tuple[Rule, ...],
    opt_ins: list[str],
) -> pl.DataFrame:
    """`models.vigilance.vigilance_flags` of `complaints` (RULE_INPUT_SQL columns)."""
    return vigilance_flags(
        complaints,
        context["serious_codes"],
        context["markets"],
        as_of,
        rules,
        vmsr_product_codes=context["vmsr_product_codes"]["product_code"],
        expected_effects=context["expected_effects"],
        opt_ins=opt_ins,
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
        dg.AssetKey(["reference", "code_tables"]),
    ],
    description=(
        "Per complaint (current version as of the night) and regulatory regime: the rule that "
        "makes it reportable (config/vigilance_rules.csv, each rule citing its source), route "
        "(individual report, FDA summary malfunction report, EU Art. 88 trend reporting), due "
        "date, status (open, submitted_on_time, submitted_late, overdue, not_reportable) and "
        "days remaining; plus the supplemental reports new information calls for after a "
        "report (report_kind 'supplemental'), and complaint rows that look reportable while they "
        "wait in quarantine (data_state 'quarantined'), so no clock stops at the quality gate. "
        "Regimes apply by event country or by the model's "
        "markets (config/vigilance_regimes.csv)."
    ),
)
def vigilance_flags_asset(warehouse: DuckDBResource, night: NightSettings) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    settings = load_config().section("vigilance")
    rules = load_rules()
    opt_ins = opted_in(rules, settings)
    with warehouse.get_connection() as con:
        context = rule_context(con, as_of)
        complaints = query_frame(con, RULE_INPUT_SQL, {"as_of": as_of})
        initial = initial_flags(complaints, context, as_of, rules, opt_ins)
        supplemental = supplemental_reports(
            query_frame(con, VERSIONS_AS_OF_SQL, {"as_of": as_of}), initial, as_of, rules
        )
        waiting = quarantined_complaint_flags(
            quarantined_complaints(con, as_of),
            context["serious_codes"],
            context["markets"],
            as_of,
            rules,
        )
        flags = pl.concat([initial, supplemental, waiting]).sort(
            "complaint_id", "regime", "report_kind", "received_date"
        )
        replace_table(con, "marts", "vigilance_flags", flags)
        metadata = table_metadata(
            con, "marts", "vigilance_flags", "complaint_id, regime, report_kind, received_date"
        )
    counts = (
        flags.group_by("regime", "report_kind", "status")
        .agg(pl.len().alias("n"))
        .sort("regime", "report_kind", "status")
        .rows()
    )
    routes = flags.group_by("regime", "route").agg(pl.len().alias("n")).sort("regime", "route")
    urgent = flags.filter(pl.col("status").is_in(["overdue", "open"])).sort("due_date")
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "as_of": as_of.isoformat(),
            "overdue": int(flags.filter(pl.col("status") == "overdue").height),
            "open": int(flags.filter(pl.col("status") == "open").height),
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
        "Complaint-handling findings (ISO 13485 8.2.2, 21 CFR 820.198) as of the night: no "
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
