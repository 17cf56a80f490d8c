"""Mart assets: exposure (units in service) and complaint rates, as of the run's night."""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.marts.queries import COMPLAINTS_AS_OF_SQL, SHIPMENTS_WITH_FAMILY_SQL
from assets.metadata import table_metadata
from assets.resources import WAREHOUSE_POOL, NightSettings
from assets.warehouse import query_frame, replace_table
from models.exposure import monthly_units_in_service
from models.rates import monthly_complaint_rates
from pipelines.settings import load_config

MART_OWNERS = ["team:quality-engineering"]
MART_GROUP = "marts"
SERIOUS_OUTCOMES = ("death", "serious_injury")


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["marts", "units_in_service"],
    group_name=MART_GROUP,
    owners=MART_OWNERS,
    kinds={"duckdb", "polars"},
    deps=[dg.AssetKey(["staging", "distribution"]), dg.AssetKey(["staging", "products"])],
    description=(
        "Exposure, the denominator of every rate: units in service per device family, model, "
        "country and month up to the run's as-of date (shipped less returns, less units past a "
        "configured service life; the month's mean of its start and end)."
    ),
)
def units_in_service(warehouse: DuckDBResource, night: NightSettings) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    service_life = load_config().section("exposure").get("service_life_months", {})
    with warehouse.get_connection() as con:
        shipments = query_frame(con, SHIPMENTS_WITH_FAMILY_SQL, {"as_of": as_of})
        exposure = monthly_units_in_service(
            shipments, as_of=as_of, service_life_months=service_life
        ).with_columns(as_of=pl.lit(as_of))
        replace_table(con, "marts", "units_in_service", exposure)
        metadata = table_metadata(
            con, "marts", "units_in_service", "device_family, device_model, country, month"
        )
    return dg.MaterializeResult(metadata={**metadata, "as_of": as_of.isoformat()})


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["marts", "complaint_rates"],
    group_name=MART_GROUP,
    owners=MART_OWNERS,
    kinds={"duckdb", "polars"},
    deps=[
        dg.AssetKey(["marts", "units_in_service"]),
        dg.AssetKey(["staging", "complaint_versions"]),
        dg.AssetKey(["staging", "products"]),
    ],
    description=(
        "Complaints per device family, model and month (by received date, the day of awareness) "
        "against units in service: complaints, serious complaints (death or serious injury), "
        "rate per 1,000 units in service with its exact Poisson 95% interval. Uses only the "
        "complaint versions received by the run's as-of date."
    ),
)
def complaint_rates(warehouse: DuckDBResource, night: NightSettings) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    with warehouse.get_connection() as con:
        complaints = query_frame(
            con,
            f"""
            SELECT coalesce(p.device_family, '(model not in products.csv)') AS device_family,
                   c.device_model,
                   date_trunc('month', c.received_date)::DATE AS month,
                   c.patient_outcome IN {SERIOUS_OUTCOMES} AS serious
            FROM ({COMPLAINTS_AS_OF_SQL}) c
            LEFT JOIN staging.products p USING (device_model)
            """,
            {"as_of": as_of},
        )
        exposure = query_frame(
            con,
            """
            SELECT device_family, device_model, month,
                   sum(units_in_service) AS units_in_service,
                   bool_and(month_complete) AS month_complete
            FROM marts.units_in_service GROUP BY ALL
            """,
        )
        rates = monthly_complaint_rates(complaints, exposure).with_columns(as_of=pl.lit(as_of))
        replace_table(con, "marts", "complaint_rates", rates)
        metadata = table_metadata(
            con, "marts", "complaint_rates", "device_family, device_model, month"
        )
        totals = con.execute(
            "SELECT sum(complaints), "
            "round(sum(complaints) * 1000.0 / nullif(sum(units_in_service), 0), 4) "
            "FROM marts.complaint_rates"
        ).fetchall()[0]
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "as_of": as_of.isoformat(),
            "complaints_counted": int(totals[0] or 0),
            "overall_rate_per_1000_unit_months": float(totals[1] or 0.0),
        }
    )
