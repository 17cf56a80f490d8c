"""Risk-management feedback assets: the risk file against the field (ISO 14971 clause 10) and the
scope of a field safety corrective action when a lot or supplier-lot signal holds."""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.marts.queries import COMPLAINTS_AS_OF_SQL
from assets.metadata import markdown_table, table_metadata
from assets.resources import WAREHOUSE_POOL, NightSettings
from assets.signals.queries import FAMILY_EXPOSURE_SQL
from assets.warehouse import query_frame, replace_table
from models.fsca import DEFAULT_FSCA_METHODS, fsca_scope, fsca_summary
from models.risk_feedback import DEFAULT_OUTCOME_SEVERITY, risk_feedback
from pipelines.settings import load_config

RISK_OWNERS = ["team:risk-management"]
FSCA_OWNERS = ["team:regulatory-affairs"]

HAZARDS_SQL = """
SELECT hazard_id, device_family, hazard, harm, severity, expected_rate, problem_codes,
       acceptability
FROM staging.risk_register
"""

RISK_COMPLAINTS_SQL = f"""
SELECT c.complaint_id, c.received_date, p.device_family, c.problem_code, c.patient_outcome
FROM ({COMPLAINTS_AS_OF_SQL}) c JOIN staging.products p USING (device_model)
"""

LOT_SIGNALS_SQL = """
SELECT signal_id, method, scope_value, code, detected_on, status
FROM marts.signals
WHERE list_contains($methods, method) AND detected_on <= CAST($as_of AS DATE)
"""

LOTS_SQL = """
SELECT lot_number, device_model, manufacture_date, expiry_date, component_lots
FROM staging.lots
"""

DISTRIBUTION_SQL = """
SELECT ship_date, device_model, lot_number, country, units
FROM staging.distribution
WHERE ship_date <= CAST($as_of AS DATE)
"""

PRODUCTS_SQL = """
SELECT device_model, device_family, product_code, eu_class, description FROM staging.products
"""

TERMS_SQL = "SELECT code, term FROM reference.imdrf_terms ORDER BY annex, code"


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["marts", "risk_feedback"],
    group_name="vigilance",
    owners=RISK_OWNERS,
    kinds={"duckdb", "polars"},
    deps=[
        dg.AssetKey(["staging", "risk_register"]),
        dg.AssetKey(["staging", "complaint_versions"]),
        dg.AssetKey(["staging", "products"]),
        dg.AssetKey(["marts", "units_in_service"]),
    ],
    description=(
        "Risk-file feedback (ISO 14971 clause 10): per hazard of the risk register and window "
        "(trailing months ending on the night, and since first shipment), complaints of the "
        "family with one of the hazard's IMDRF problem codes, units-in-service years, the "
        "observed rate per 1,000 units per year with its exact Poisson interval against "
        "expected_rate ('update_required' when the lower bound exceeds it), and whether "
        "observed harms (patient outcome mapped to the 1..5 severity scale) were more severe "
        "than the risk file assumed."
    ),
)
def risk_feedback_asset(warehouse: DuckDBResource, night: NightSettings) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    settings = load_config().section("risk_feedback")
    window_months = int(settings.get("window_months", 12))
    confidence = float(settings.get("confidence", 0.95))
    mapping = {
        str(k): int(v)
        for k, v in dict(settings.get("outcome_severity", DEFAULT_OUTCOME_SEVERITY)).items()
    }
    with warehouse.get_connection() as con:
        feedback = risk_feedback(
            query_frame(con, HAZARDS_SQL),
            query_frame(con, RISK_COMPLAINTS_SQL, {"as_of": as_of}),
            query_frame(con, FAMILY_EXPOSURE_SQL, {"night": as_of}),
            as_of,
            window_months=window_months,
            confidence=confidence,
            outcome_severity_map=mapping,
            include_cumulative=bool(settings.get("include_cumulative", True)),
        )
        replace_table(con, "marts", "risk_feedback", feedback)
        metadata = table_metadata(con, "marts", "risk_feedback", "hazard_id, window_name")
    shown = [
        "hazard_id",
        "window_name",
        "occurrences",
        "observed_rate_per_1000_per_year",
        "ci_lower",
        "expected_rate",
        "observed_max_severity",
        "severity",
    ]
    updates = feedback.filter(pl.col("update_required"))
    exceeded = feedback.filter(pl.col("severity_exceeded"))
    rounded = [pl.col(c).round(3) for c in ("observed_rate_per_1000_per_year", "ci_lower")]
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "as_of": as_of.isoformat(),
            "window_months": window_months,
            "confidence": confidence,
            "outcome_severity": dg.MetadataValue.json(mapping),
            "hazards_update_required": int(updates["hazard_id"].n_unique()),
            "hazards_severity_exceeded": int(exceeded["hazard_id"].n_unique()),
            "update_required": dg.MetadataValue.md(
                markdown_table(updates.with_columns(rounded).select(shown).rows(), shown)
            ),
            "severity_exceeded": dg.MetadataValue.md(
                markdown_table(
                    exceeded.select(
                        "hazard_id",
                        "window_name",
                        "severity",
                        "observed_max_severity",
                        "deaths",
                        "serious_injuries",
                    ).rows(),
                    ["hazard", "window_name", "assumed", "observed", "deaths", "serious injuries"],
                )
            ),
        }
    )


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["marts", "fsca_scope"],
    group_name="vigilance",
    owners=FSCA_OWNERS + RISK_OWNERS,
    kinds={"duckdb", "polars"},
    deps=[
        dg.AssetKey(["marts", "signals"]),
        dg.AssetKey(["reference", "code_tables"]),
        dg.AssetKey(["staging", "lots"]),
        dg.AssetKey(["staging", "distribution"]),
        dg.AssetKey(["staging", "products"]),
    ],
    description=(
        "Advisory-notice (FSCA / field safety notice) scope of lot and supplier component-lot "
        "signals: per signal, affected lot and country, the lots concerned ('signalled lot', "
        "'contains component lot X'; lots sharing a component lot with a signalled lot as "
        "candidates), their model, product code and description, manufacture and expiry dates, "
        "units shipped, returned and still in the field, first and last ship dates (shipments up "
        "to the night only), and the signal's IMDRF code and term."
    ),
)
def fsca_scope_asset(warehouse: DuckDBResource, night: NightSettings) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    settings = load_config().section("fsca")
    methods = [str(m) for m in settings.get("methods", DEFAULT_FSCA_METHODS)]
    statuses = settings.get("statuses")
    with warehouse.get_connection() as con:
        scope = fsca_scope(
            query_frame(con, LOT_SIGNALS_SQL, {"methods": methods, "as_of": as_of}),
            query_frame(con, LOTS_SQL),
            query_frame(con, DISTRIBUTION_SQL, {"as_of": as_of}),
            query_frame(con, PRODUCTS_SQL),
            as_of,
            methods=methods,
            statuses=None if statuses is None else [str(s) for s in statuses],
            terms=query_frame(con, TERMS_SQL),
            include_candidates=bool(settings.get("include_candidates", True)),
        )
        replace_table(con, "marts", "fsca_scope", scope)
        metadata = table_metadata(
            con, "marts", "fsca_scope", "signal_id, candidate, lot_number, country"
        )
    summary = fsca_summary(scope)
    firm = scope.filter(~pl.col("candidate"))
    columns = [
        "signal_id",
        "method",
        "scope_value",
        "code",
        "affected_lots",
        "countries",
        "units_net",
        "candidate_lots",
        "candidate_units_net",
    ]
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "as_of": as_of.isoformat(),
            "methods": dg.MetadataValue.json(methods),
            "signals": int(summary.height),
            "affected_lots": int(firm["lot_number"].n_unique()),
            "units_in_field": int(firm["units_net"].sum()),
            "candidate_lots": int(scope.filter(pl.col("candidate"))["lot_number"].n_unique()),
            "by_signal": dg.MetadataValue.md(
                markdown_table(
                    summary.select(columns)
                    .with_columns(
                        countries=pl.when(pl.col("countries") == "")
                        .then(0)
                        .otherwise(pl.col("countries").str.split(";").list.len())
                    )
                    .rows(),
                    [c if c != "countries" else "countries (n)" for c in columns],
                )
            ),
        }
    )
