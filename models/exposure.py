"""Exposure: units in service per device model, country and month, from shipments.

Units in service at a date = units shipped up to it, less returns (negative units), less units
retired when a service life is configured for their family (they leave that many months after
the month they shipped). A month's exposure is the mean of the units in service at its start and
at its end, which treats shipments as spread evenly over the month.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping

import polars as pl

EXPOSURE_COLUMNS = (
    "device_family",
    "device_model",
    "country",
    "month",
    "units_shipped",
    "units_returned",
    "units_in_service_end",
    "units_in_service",
    "month_complete",
)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def monthly_units_in_service(
    shipments: pl.DataFrame,
    *,
    as_of: dt.date,
    service_life_months: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """Units in service per (device_family, device_model, country, month) up to `as_of`.

    `shipments` has ship_date (date), device_family, device_model, country and units (int,
    negative for returns). Shipments after `as_of` are ignored. Months run from each model and
    country's first shipment to the month of `as_of`; `month_complete` is false for that last
    month unless `as_of` is its last day.
    """
    service_life_months = dict(service_life_months or {})
    empty = pl.DataFrame(
        schema={
            "device_family": pl.String,
            "device_model": pl.String,
            "country": pl.String,
            "month": pl.Date,
            "units_shipped": pl.Int64,
            "units_returned": pl.Int64,
            "units_in_service_end": pl.Int64,
            "units_in_service": pl.Float64,
            "month_complete": pl.Boolean,
        }
    )
    shipped = shipments.filter(pl.col("ship_date") <= as_of)
    if shipped.is_empty():
        return empty
    last_month = month_start(as_of)
    monthly = (
        shipped.with_columns(month=pl.col("ship_date").dt.truncate("1mo"))
        .group_by("device_family", "device_model", "country", "month")
        .agg(
            units_shipped=pl.col("units").clip(lower_bound=0).sum().cast(pl.Int64),
            units_returned=(-pl.col("units").clip(upper_bound=0)).sum().cast(pl.Int64),
        )
    )
    first = monthly.group_by("device_family", "device_model", "country").agg(
        first_month=pl.col("month").min()
    )
    grid = first.with_columns(
        month=pl.date_ranges(pl.col("first_month"), pl.lit(last_month), interval="1mo")
    ).explode("month")
    series = (
        grid.drop("first_month")
        .join(monthly, on=["device_family", "device_model", "country", "month"], how="left")
        .with_columns(pl.col("units_shipped", "units_returned").fill_null(0))
        .sort("device_family", "device_model", "country", "month")
        .with_columns(net=pl.col("units_shipped") - pl.col("units_returned"))
    )
    keys = ["device_family", "device_model", "country"]
    life = pl.col("device_family").replace_strict(
        service_life_months, default=None, return_dtype=pl.Int64
    )
    cumulative = pl.col("net").cum_sum().over(keys)
    # Units shipped `life` months ago or earlier have retired: subtract the shipments (not the
    # returns) cumulated up to `life` months back; a return never makes exposure negative.
    retired = pl.lit(0, dtype=pl.Int64)
    for months in sorted(set(service_life_months.values())):
        lagged = pl.col("units_shipped").cum_sum().shift(months).over(keys).fill_null(0)
        retired = pl.when(life == months).then(lagged).otherwise(retired)
    series = series.with_columns(
        units_in_service_end=(cumulative - retired).clip(lower_bound=0).cast(pl.Int64)
    )
    series = series.with_columns(
        units_in_service=(
            (
                pl.col("units_in_service_end").shift(1).over(keys).fill_null(0)
                + pl.col("units_in_service_end")
            )
            / 2.0
        ),
        month_complete=(pl.col("month") < last_month) | pl.lit(as_of == month_end(last_month)),
    )
    return series.select(EXPOSURE_COLUMNS).sort("device_family", "device_model", "country", "month")


def month_end(day: dt.date, months_later: int = 0) -> dt.date:
    """The last day of the month `months_later` months after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months_later
    year, month = index // 12, index % 12 + 1
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def population_exposed(
    *,
    implantable: bool,
    units_shipped_in_period: float,
    unit_months_in_period: float,
    uses_per_unit_year: float | None,
) -> tuple[float | None, str]:
    """An estimate of the patients (or patient uses) exposed to a device model in a period, as
    MDCG 2022-21 asks of a PSUR ("an estimate of the size ... of the population using the
    device"), with the basis in words; (None, why) when the data do not allow one.

    - An implant is used by one patient each: the units shipped (net of returns) in the period.
    - Any other device: unit-months in service in the period x uses per unit per year / 12, with
      `uses_per_unit_year` given by the manufacturer (products.csv). A single-use device that is
      not an implant has no such rate; its estimate is left to the manufacturer.
    """
    if implantable:
        return (
            max(units_shipped_in_period, 0.0),
            "implant: one patient per unit shipped in the period (net of returns)",
        )
    if uses_per_unit_year is None or uses_per_unit_year < 0:
        return (
            None,
            "not estimated: products.csv gives no uses_per_unit_year for this model "
            "(supplied by product management or marketing)",
        )
    return (
        unit_months_in_period * uses_per_unit_year / 12.0,
        f"unit-months in service x {uses_per_unit_year:g} uses per unit per year / 12",
    )
