"""Vigilance asset: which complaint is reportable where, due when, and what is overdue."""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.marts.queries import COMPLAINTS_AS_OF_SQL
from assets.metadata import markdown_table, table_metadata
from assets.resources import NightSettings
from assets.warehouse import query_frame, replace_table
from models.vigilance import SERIOUS_SEVERITY, compliance_flags, vigilance_flags
from pipelines.settings import load_config

VIGILANCE_OWNERS = ["team:regulatory-affairs"]

SERIOUS_CODES_SQL = """
SELECT DISTINCT device_family, trim(unnest(string_split(problem_codes, ';'))) AS problem_code
FROM staging.risk_register
WHERE severity >= $serious AND problem_codes IS NOT NULL
"""

MARKETS_SQL = """
SELECT DISTINCT device_model, country FROM staging.distribution
WHERE ship_date <= CAST($as_of AS DATE) AND units > 0
"""


@dg.asset(
    key=["marts", "vigilance_flags"],
    group_name="vigilance",
    owners=VIGILANCE_OWNERS,
    kinds={"duckdb", "polars"},
    deps=[
        dg.AssetKey(["staging", "complaint_versions"]),
        dg.AssetKey(["staging", "risk_register"]),
        dg.AssetKey(["staging", "distribution"]),
        dg.AssetKey(["staging", "products"]),
    ],
    description=(
        "Per complaint (current version as of the night) and regulatory regime: the rule that "
        "makes it reportable (config/vigilance_rules.csv, each rule citing its source), due "
        "date, status (open, submitted_on_time, submitted_late, overdue, not_reportable) and "
        "days remaining. Regimes apply by event country or by the model's markets "
        "(config/vigilance_regimes.csv)."
    ),
)
def vigilance_flags_asset(warehouse: DuckDBResource, night: NightSettings) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    with warehouse.get_connection() as con:
        complaints = query_frame(
            con,
            f"""
            SELECT c.complaint_id, c.received_date, c.device_model, p.device_family, c.country,
                   c.patient_outcome, c.malfunction, c.problem_code, c.reported_date
            FROM ({COMPLAINTS_AS_OF_SQL}) c LEFT JOIN staging.products p USING (device_model)
            """,
            {"as_of": as_of},
        )
        flags = vigilance_flags(
            complaints,
            query_frame(con, SERIOUS_CODES_SQL, {"serious": SERIOUS_SEVERITY}),
            query_frame(con, MARKETS_SQL, {"as_of": as_of}),
            as_of,
        )
        replace_table(con, "marts", "vigilance_flags", flags)
        metadata = table_metadata(con, "marts", "vigilance_flags", "complaint_id, regime")
    counts = (
        flags.group_by("regime", "status").agg(pl.len().alias("n")).sort("regime", "status").rows()
    )
    urgent = flags.filter(pl.col("status").is_in(["overdue", "open"])).sort("due_date")
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "as_of": as_of.isoformat(),
            "overdue": int(flags.filter(pl.col("status") == "overdue").height),
            "open": int(flags.filter(pl.col("status") == "open").height),
            "by_status": dg.MetadataValue.md(markdown_table(counts, ["regime", "status", "n"])),
            "open_and_overdue_by_due_date": dg.MetadataValue.md(
                markdown_table(
                    urgent.select(
                        "complaint_id", "regime", "rule", "due_date", "status", "days_remaining"
                    )
                    .head(20)
                    .rows(),
                    ["complaint", "regime", "rule", "due", "status", "days left"],
                )
            ),
        }
    )


@dg.asset(
    key=["marts", "compliance_flags"],
    group_name="vigilance",
    owners=VIGILANCE_OWNERS,
    kinds={"duckdb", "polars"},
    deps=[dg.AssetKey(["marts", "vigilance_flags"])],
    description=(
        "Complaint-handling findings (ISO 13485 8.2.2, 21 CFR 820.198) as of the night: no "
        "reportability evaluation within the configured days, investigations open past the "
        "firm's limit, closed without a conclusion code, not investigated without a reason, "
        "late submissions, and human 'not reportable' decisions that a rule contradicts (raised "
        "for review, never overridden)."
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
            con, "SELECT complaint_id, regime, rule, reportable, status FROM marts.vigilance_flags"
        )
        found = compliance_flags(
            complaints,
            flags,
            as_of,
            evaluation_limit_days=int(limits.get("evaluation_limit_days", 5)),
            investigation_limit_days=int(limits.get("investigation_limit_days", 30)),
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
