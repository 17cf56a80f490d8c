"""Monthly series that the trend methods judge: observed complaints against what is expected.

Two kinds of series, both per device family:
- per hazard of the risk file (series id = hazard_id): complaints whose problem code the hazard
  maps, against expected_rate (per 1,000 units in service per year) x units in service / 12,000;
  this is the EU MDR Art. 88 comparison with the technical documentation;
- per problem code that no hazard of the family maps (series id = "family|code"): against the
  family's own past rate for the code, taken over the months before the last `recent_months`.

Only the months the data cover are judged (models/data_coverage.py): a month before the data
begin or in an extract gap is left out of the series, not counted as zero complaints, and the
night's partial month expects its share of a month.

A family whose complaints follow the calendar (winter wards, respiratory seasons) expects more in
its high season: `seasonal_fits` tests each family's monthly complaints for a yearly cycle and
`seasonally_weighted` weights its unit-months by it, so the risk file's yearly rate is kept on
average and a winter is not read as a rise.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import statsmodels.api as sm
from scipy import stats
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

SERIES_COLUMNS = ("series_id", "device_family", "code", "month", "observed", "expected")


def covered_exposure(exposure: pl.DataFrame, coverage: pl.DataFrame | None) -> pl.DataFrame:
    """The months of `exposure` (device_family, month, units_in_service > 0) the data cover,
    units scaled by the month's covered share; all of them when `coverage` is None."""
    months = exposure.filter(pl.col("units_in_service") > 0)
    if coverage is None:
        return months
    return months.join(
        coverage.filter(pl.col("covered")).select("device_family", "month", "share"),
        on=["device_family", "month"],
    ).select(
        "device_family",
        "month",
        units_in_service=pl.col("units_in_service") * pl.col("share"),
    )


def hazard_series(
    complaints: pl.DataFrame,
    exposure: pl.DataFrame,
    hazards: pl.DataFrame,
    coverage: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`complaints`: device_family, month, problem_code; `exposure`: device_family, month,
    units_in_service; `hazards`: hazard_id, device_family, expected_rate, problem_code (one row
    per mapped code); `coverage`: models/data_coverage.py rows (None: every month covered)."""
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
        per_hazard.join(covered_exposure(exposure, coverage), on="device_family")
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


@dataclass(frozen=True)
class SeasonSettings:
    """Thresholds of `seasonal_fits` (config/pipeline.toml `[signals.season]`)."""

    # covered months a family needs before its season is estimated: two full cycles
    min_months: int = 24
    # the yearly cycle is used when the test of it (quasi-Poisson likelihood ratio, 2 df) gives a
    # p-value below this; otherwise every month weighs 1
    alpha: float = 0.001


@dataclass(frozen=True)
class SeasonalFit:
    """One family's yearly cycle: `factors[m - 1]` weighs calendar month m (mean 1 over the
    year; all 1.0 when the cycle is not significant or the family has too few months)."""

    device_family: str
    months: int
    p_value: float
    factors: tuple[float, ...]

    @property
    def seasonal(self) -> bool:
        return any(f != 1.0 for f in self.factors)


FLAT_YEAR = (1.0,) * 12


def _harmonics(month_of_year: np.ndarray) -> np.ndarray:
    angle = 2.0 * math.pi * month_of_year / 12.0
    return np.column_stack([np.sin(angle), np.cos(angle)])


def seasonal_fit(
    device_family: str,
    month_of_year: np.ndarray,
    observed: np.ndarray,
    units: np.ndarray,
    settings: SeasonSettings = SeasonSettings(),
) -> SeasonalFit:
    """Test one family's monthly complaints (all problem codes) for a yearly cycle.

    Poisson regression with offset log(unit-months), a linear trend in time and one pair of
    yearly harmonics, against the same model without them: the form R `surveillance` uses for
    seasonal baselines (`algo.glrpois` with `estimateGLRPoisHook`; Farrington-type harmonics).
    The deviance difference is divided by the dispersion of the full model (quasi-Poisson, at
    least 1: a family's monthly totals vary more than Poisson) and referred to chi-squared with 2
    degrees of freedom. Months are given in time order."""
    y = np.asarray(observed, dtype=float)
    units = np.asarray(units, dtype=float)
    n = y.size
    if n < settings.min_months or y.sum() <= 0 or not (units > 0).all():
        return SeasonalFit(device_family, n, math.nan, FLAT_YEAR)
    trend = np.arange(n, dtype=float) / 12.0
    base = np.column_stack([np.ones(n), trend])
    full = np.column_stack([base, _harmonics(np.asarray(month_of_year, dtype=float))])
    offset = np.log(units)
    poisson = sm.families.Poisson()
    with warnings.catch_warnings():
        # counts the model fits exactly (a noiseless test series) are fine, not "separation"
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        null_fit = sm.GLM(y, base, family=poisson, offset=offset).fit()
        full_fit = sm.GLM(y, full, family=poisson, offset=offset).fit()
    dispersion = max(1.0, float(full_fit.pearson_chi2) / max(1, n - full.shape[1]))
    statistic = max(0.0, float(null_fit.deviance - full_fit.deviance)) / dispersion
    p_value = float(stats.chi2.sf(statistic, 2))
    if not p_value < settings.alpha:
        return SeasonalFit(device_family, n, p_value, FLAT_YEAR)
    year = _harmonics(np.arange(1, 13, dtype=float)) @ np.asarray(full_fit.params[2:4])
    weights = np.exp(year)
    factors = tuple(float(round(w, 6)) for w in weights / weights.mean())
    return SeasonalFit(device_family, n, p_value, factors)


def seasonal_fits(
    complaints: pl.DataFrame,
    exposure: pl.DataFrame,
    coverage: pl.DataFrame | None = None,
    settings: SeasonSettings = SeasonSettings(),
) -> list[SeasonalFit]:
    """`seasonal_fit` for every family over its covered months, by family name.

    `complaints`: device_family, month (every complaint known on the night, coded or not);
    `exposure`, `coverage` as for `hazard_series`."""
    months = covered_exposure(exposure, coverage)
    counts = complaints.group_by("device_family", "month").agg(observed=pl.len())
    grid = (
        months.join(counts, on=["device_family", "month"], how="left")
        .with_columns(pl.col("observed").fill_null(0))
        .sort("device_family", "month")
    )
    fits = []
    for (family,), g in grid.group_by("device_family", maintain_order=True):
        fits.append(
            seasonal_fit(
                str(family),
                g["month"].dt.month().to_numpy(),
                g["observed"].to_numpy(),
                g["units_in_service"].to_numpy(),
                settings,
            )
        )
    return fits


def seasonally_weighted(exposure: pl.DataFrame, fits: list[SeasonalFit]) -> pl.DataFrame:
    """`exposure` with each family's unit-months weighed by its calendar month's factor (families
    without a seasonal fit unchanged): what a month of use is expected to produce."""
    seasonal = [f for f in fits if f.seasonal]
    if not seasonal:
        return exposure
    factors = pl.DataFrame(
        {
            "device_family": [f.device_family for f in seasonal for _ in range(12)],
            "month_of_year": [m for _ in seasonal for m in range(1, 13)],
            "season_factor": [x for f in seasonal for x in f.factors],
        },
        schema={
            "device_family": pl.String,
            "month_of_year": pl.Int8,
            "season_factor": pl.Float64,
        },
    )
    return (
        exposure.with_columns(month_of_year=pl.col("month").dt.month())
        .join(factors, on=["device_family", "month_of_year"], how="left")
        .with_columns(
            units_in_service=pl.col("units_in_service") * pl.col("season_factor").fill_null(1.0)
        )
        .drop("month_of_year", "season_factor")
    )


# The fewest complaints a family's own past rate of a code may rest on (config/pipeline.toml
# `unmapped_min_baseline_count`); below it the code has "too little data" and is not judged.
UNMAPPED_MIN_BASELINE_COUNT = 3


def baseline_rate_limit(count: np.ndarray, confidence: float) -> np.ndarray:
    """The exact (Garwood 1936) upper `confidence` limit of a Poisson count: the baseline count a
    rate estimated from `count` complaints may stand for. The gamma quantile at `confidence` with
    shape count + 1; 3 complaints at 0.9 give 6.68, 100 give 113.0 (a rate from few complaints is
    not under-estimated by chance, and one from many barely moves)."""
    return stats.gamma.ppf(confidence, np.asarray(count, dtype=float) + 1.0)


BASELINE_SCHEMA = {
    "device_family": pl.String,
    "problem_code": pl.String,
    "base_count": pl.Int64,
    "base_units": pl.Float64,
    "base_months": pl.Int64,
}


def _unmapped_baselines(
    complaints: pl.DataFrame,
    exposure: pl.DataFrame,
    hazards: pl.DataFrame,
    coverage: pl.DataFrame | None,
    recent_months: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The monthly grid of every coded complaint no hazard of its family maps (device_family,
    problem_code, month, units_in_service, observed), and each code's baseline before the last
    `recent_months` covered months (BASELINE_SCHEMA; base_months 0 when the family has no month
    before them)."""
    mapped = hazards.select("device_family", "problem_code").unique()
    coded = complaints.filter(pl.col("problem_code").is_not_null()).join(
        mapped, on=["device_family", "problem_code"], how="anti"
    )
    months = covered_exposure(exposure, coverage)
    # the baseline ends before the last `recent_months` covered months of the family
    baseline_end = (
        months.sort("month", descending=True)
        .group_by("device_family", maintain_order=True)
        .agg(baseline_end=pl.col("month").get(recent_months, null_on_oob=True))
    )
    counts = coded.group_by("device_family", "problem_code", "month").agg(
        observed=pl.len().cast(pl.Int64)
    )
    grid = (
        counts.select("device_family", "problem_code")
        .unique()
        .join(months, on="device_family")
        .join(counts, on=["device_family", "problem_code", "month"], how="left")
        .with_columns(pl.col("observed").fill_null(0))
        .join(baseline_end, on="device_family", how="left")
    )
    baselines = (
        counts.select("device_family", "problem_code")
        .unique()
        .join(
            grid.filter(pl.col("month") <= pl.col("baseline_end"))
            .group_by("device_family", "problem_code")
            .agg(
                base_count=pl.col("observed").sum(),
                base_units=pl.col("units_in_service").sum(),
                base_months=pl.len(),
            ),
            on=["device_family", "problem_code"],
            how="left",
        )
        .with_columns(
            pl.col("base_count", "base_months").fill_null(0), pl.col("base_units").fill_null(0.0)
        )
        .cast(BASELINE_SCHEMA)
    )
    return grid, baselines


@dataclass(frozen=True)
class UnmappedCodes:
    """The problem codes no hazard of their family maps, on one night: `series` (SERIES_COLUMNS)
    judged against the family's own past rate; `too_little_data` (device_family, code,
    base_months, base_count, reason) the codes without enough data for that rate; `unjudged`
    the covered months of those codes with their complaints and no expected count (SERIES_COLUMNS,
    `judged` false, `note` the reason), published beside the series so a rare code is seen."""

    series: pl.DataFrame
    too_little_data: pl.DataFrame
    unjudged: pl.DataFrame


def unmapped_codes(
    complaints: pl.DataFrame,
    exposure: pl.DataFrame,
    hazards: pl.DataFrame,
    coverage: pl.DataFrame | None = None,
    *,
    recent_months: int = 12,
    min_baseline_months: int = 12,
    min_baseline_count: int = UNMAPPED_MIN_BASELINE_COUNT,
    baseline_confidence: float | None = None,
) -> UnmappedCodes:
    """Judge every unmapped code against the family's own past rate (with `baseline_confidence`,
    its exact upper confidence limit: see `baseline_rate_limit`). A code needs
    `min_baseline_months` covered months of exposure before the recent window (the last
    `recent_months` covered months) and `min_baseline_count` complaints in it to get a baseline;
    the others have too little data, with the reason."""
    grid, baselines = _unmapped_baselines(complaints, exposure, hazards, coverage, recent_months)
    grid = grid.with_columns(
        series_id=pl.col("device_family") + pl.lit("|") + pl.col("problem_code")
    )
    enough = (pl.col("base_months") >= min_baseline_months) & (
        pl.col("base_count") >= min_baseline_count
    )
    judged = baselines.filter(enough)
    if baseline_confidence is not None:
        judged = judged.with_columns(
            base_count=pl.Series(
                baseline_rate_limit(judged["base_count"].to_numpy(), baseline_confidence),
                dtype=pl.Float64,
            )
        )
    series = (
        grid.join(judged, on=["device_family", "problem_code"])
        .with_columns(
            expected=pl.col("base_count") / pl.col("base_units") * pl.col("units_in_service")
        )
        .select(
            "series_id",
            "device_family",
            code="problem_code",
            month="month",
            observed="observed",
            expected="expected",
        )
        .cast({"observed": pl.Int64, "expected": pl.Float64})
        .sort("series_id", "month")
    )
    short = (
        baselines.filter(~enough)
        .select(
            "device_family",
            code="problem_code",
            base_months="base_months",
            base_count="base_count",
            reason=pl.format(
                "too little data: {} covered month(s) and {} complaint(s) before the last {} "
                "months; a baseline needs {} months and {} complaints",
                "base_months",
                "base_count",
                pl.lit(recent_months),
                pl.lit(min_baseline_months),
                pl.lit(min_baseline_count),
            ),
        )
        .sort("device_family", "code")
    )
    unjudged = (
        grid.join(
            short.select("device_family", problem_code="code", note="reason"),
            on=["device_family", "problem_code"],
        )
        .select(
            "series_id",
            "device_family",
            code="problem_code",
            month="month",
            observed=pl.col("observed").cast(pl.Int64),
            expected=pl.lit(None, pl.Float64),
            judged=pl.lit(False),
            note="note",
        )
        .sort("series_id", "month")
    )
    return UnmappedCodes(series, short, unjudged)


def unmapped_code_series(
    complaints: pl.DataFrame,
    exposure: pl.DataFrame,
    hazards: pl.DataFrame,
    coverage: pl.DataFrame | None = None,
    **rules: Any,
) -> pl.DataFrame:
    """`unmapped_codes(...).series`: the codes judged against the family's own past rate
    (`rules`: the keyword arguments of `unmapped_codes`)."""
    return unmapped_codes(complaints, exposure, hazards, coverage, **rules).series


def too_little_data(
    complaints: pl.DataFrame,
    exposure: pl.DataFrame,
    hazards: pl.DataFrame,
    coverage: pl.DataFrame | None = None,
    **rules: Any,
) -> pl.DataFrame:
    """`unmapped_codes(...).too_little_data`: the codes without enough data for a baseline, and
    why ("too little data", never an alarm)."""
    return unmapped_codes(complaints, exposure, hazards, coverage, **rules).too_little_data


PUBLISHED_SERIES_SCHEMA = {
    "series_id": pl.String,
    "scope": pl.String,
    "scope_value": pl.String,
    "code": pl.String,
    "month": pl.Date,
    "observed": pl.Int64,
    "expected": pl.Float64,
    "covered": pl.Boolean,
    "judged": pl.Boolean,
    "coverage_note": pl.String,
}


def series_with_coverage(series: pl.DataFrame, coverage: pl.DataFrame) -> pl.DataFrame:
    """The night's series as published: every covered month judged or in its warm-up (`judged`),
    and every month of the family the data do not cover, with no count and the reason (a month
    without data is shown as such, never as zero complaints). `series`: SERIES_COLUMNS and
    `judged`; `coverage`: models/data_coverage.py rows."""
    covered = series.join(
        coverage.select("device_family", "month", "reason"),
        on=["device_family", "month"],
        how="left",
    ).with_columns(
        covered=pl.lit(True),
        # the month's coverage note, else why the series is not judged (too little data)
        reason=pl.coalesce(
            pl.when(pl.col("reason") != "").then(pl.col("reason")),
            pl.col("note") if "note" in series.columns else pl.lit(None, pl.String),
            pl.lit(""),
        ),
    )
    uncovered = (
        series.select("series_id", "device_family", "code")
        .unique()
        .join(
            coverage.filter(~pl.col("covered")).select("device_family", "month", "reason"),
            on="device_family",
        )
        .with_columns(covered=pl.lit(False), judged=pl.lit(False))
    )
    return (
        pl.concat([covered, uncovered], how="diagonal_relaxed")
        .select(
            "series_id",
            scope=pl.lit("device_family"),
            scope_value="device_family",
            code="code",
            month="month",
            observed=pl.col("observed").cast(pl.Int64),
            expected="expected",
            covered="covered",
            judged="judged",
            coverage_note="reason",
        )
        .cast(PUBLISHED_SERIES_SCHEMA)
        .sort("scope_value", "series_id", "month")
    )
