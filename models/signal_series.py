"""Monthly series that the trend methods judge: observed complaints against what is expected.

Two kinds of series, both per device family:
- per hazard of the risk file (series id = hazard_id): complaints whose problem code the hazard
  maps, against expected_rate (per 1,000 units in service per year) x units in service / 12,000;
  this is the EU MDR Art. 88 comparison with the technical documentation;
- per problem code that no hazard of the family maps (series id = "family|code"): against the
  family's own past rate for the code, taken over the months before the last `recent_months`.
"""

from __future__ import annotations

import polars as pl

SERIES_COLUMNS = ("series_id", "device_family", "code", "month", "observed", "expected")


def hazard_series(
    complaints: pl.DataFrame, exposure: pl.DataFrame, hazards: pl.DataFrame
) -> pl.DataFrame:
    """`complaints`: device_family, month, problem_code; `exposure`: device_family, month,
    units_in_service; `hazards`: hazard_id, device_family, expected_rate, problem_code (one row
    per mapped code)."""
    per_hazard = hazards.select("hazard_id", "device_family", "expected_rate").unique()
    counts = (
        complaints.join(
            hazards.select("hazard_id", "device_family", "problem_code"),
            on=["device_family", "problem_code"],
        )
        .group_by("hazard_id", "month")
        .agg(observed=pl.len().cast(pl.Int64))
    )
    return (
        per_hazard.join(exposure.filter(pl.col("units_in_service") > 0), on="device_family")
        .join(counts, on=["hazard_id", "month"], how="left")
        .with_columns(
            observed=pl.col("observed").fill_null(0),
            expected=pl.col("expected_rate") * pl.col("units_in_service") / 12_000.0,
        )
        .select(
            series_id=pl.col("hazard_id"),
            device_family=pl.col("device_family"),
            code=pl.col("hazard_id"),
            month=pl.col("month"),
            observed=pl.col("observed"),
            expected=pl.col("expected"),
        )
        .sort("series_id", "month")
    )


def unmapped_code_series(
    complaints: pl.DataFrame,
    exposure: pl.DataFrame,
    hazards: pl.DataFrame,
    *,
    recent_months: int = 12,
    min_baseline_months: int = 12,
    min_baseline_count: int = 3,
) -> pl.DataFrame:
    """Series for problem codes the family's risk file does not map, against the family's own
    past rate. A code needs `min_baseline_months` of exposure before the recent window and
    `min_baseline_count` complaints in it to get a baseline; others are not judged yet."""
    mapped = hazards.select("device_family", "problem_code").unique()
    coded = complaints.filter(pl.col("problem_code").is_not_null()).join(
        mapped, on=["device_family", "problem_code"], how="anti"
    )
    if coded.is_empty():
        return pl.DataFrame(schema=dict.fromkeys(SERIES_COLUMNS, pl.String)).cast(
            {"month": pl.Date, "observed": pl.Int64, "expected": pl.Float64}
        )
    months = exposure.filter(pl.col("units_in_service") > 0)
    last = months.group_by("device_family").agg(last_month=pl.col("month").max())
    baseline_end = last.with_columns(
        baseline_end=pl.col("last_month").dt.offset_by(f"-{recent_months}mo")
    )
    counts = coded.group_by("device_family", "problem_code", "month").agg(
        observed=pl.len().cast(pl.Int64)
    )
    grid = counts.select("device_family", "problem_code").unique().join(months, on="device_family")
    series = (
        grid.join(counts, on=["device_family", "problem_code", "month"], how="left")
        .with_columns(pl.col("observed").fill_null(0))
        .join(baseline_end, on="device_family")
    )
    baseline = (
        series.filter(pl.col("month") <= pl.col("baseline_end"))
        .group_by("device_family", "problem_code")
        .agg(
            base_count=pl.col("observed").sum(),
            base_units=pl.col("units_in_service").sum(),
            base_months=pl.len(),
        )
        .filter(
            (pl.col("base_months") >= min_baseline_months)
            & (pl.col("base_count") >= min_baseline_count)
        )
    )
    return (
        series.join(baseline, on=["device_family", "problem_code"])
        .with_columns(
            expected=pl.col("base_count") / pl.col("base_units") * pl.col("units_in_service")
        )
        .select(
            series_id=pl.col("device_family") + pl.lit("|") + pl.col("problem_code"),
            device_family=pl.col("device_family"),
            code=pl.col("problem_code"),
            month=pl.col("month"),
            observed=pl.col("observed"),
            expected=pl.col("expected"),
        )
        .sort("series_id", "month")
    )
