"""Risk-file feedback (ISO 14971:2019 clause 10; ISO/TR 24971 clause 10): what production and
post-production information says about each hazard of the risk file.

Per hazard and window, the occurrences are the complaints of the hazard's device family whose
IMDRF Annex A problem code is one of the hazard's `problem_codes`, received in the window. The
exposure is the family's units in service over the same window in unit-years: the sum of the
monthly mean units in service (marts.units_in_service) divided by 12, the same denominator the
trend signals use (expected = expected_rate x units_in_service / 12,000). A month the window only
partly covers (the as-of month before its last day, the first month of a trailing window that
does not start on the 1st) counts for the fraction of its days inside the window, so that the
complaints and the exposure cover the same days.

The observed rate per 1,000 units in service per year carries an exact (Garwood) Poisson
interval; the risk file needs an update when the interval's lower bound exceeds the hazard's
`expected_rate` (the data are then incompatible with the estimate, not merely above it). Patient
outcomes are mapped to the register's 1..5 severity scale (configurable; by default death = 5,
serious injury = 4, injury = 2, none and unknown have no severity), and `severity_exceeded` says
that an observed harm was more severe than the risk file assumed for the hazard.

Two windows per hazard: the trailing `window_months` months ending on the as-of night, and the
cumulative period since the family's first shipment. Nothing after the as-of night is used.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping

import numpy as np
import polars as pl

from models.rates import poisson_count_interval

DEFAULT_OUTCOME_SEVERITY: dict[str, int] = {"death": 5, "serious_injury": 4, "injury": 2}
CUMULATIVE_WINDOW = "since_first_shipment"

RISK_FEEDBACK_SCHEMA: dict[str, pl.DataType] = {
    "hazard_id": pl.String(),
    "device_family": pl.String(),
    "hazard": pl.String(),
    "harm": pl.String(),
    "severity": pl.Int64(),
    "acceptability": pl.String(),
    "problem_codes": pl.String(),
    "expected_rate": pl.Float64(),
    "window_name": pl.String(),
    "window_start": pl.Date(),
    "window_end": pl.Date(),
    "occurrences": pl.Int64(),
    "units_in_service_years": pl.Float64(),
    "observed_rate_per_1000_per_year": pl.Float64(),
    "ci_lower": pl.Float64(),
    "ci_upper": pl.Float64(),
    "confidence": pl.Float64(),
    "update_required": pl.Boolean(),
    "deaths": pl.Int64(),
    "serious_injuries": pl.Int64(),
    "injuries": pl.Int64(),
    "observed_max_severity": pl.Int64(),
    "severity_exceeded": pl.Boolean(),
    "complaints_above_severity": pl.Int64(),
    "finding": pl.String(),
    "as_of": pl.Date(),
}


def trailing_window_label(months: int) -> str:
    return f"trailing_{int(months)}_months"


def trailing_window_start(as_of: dt.date, months: int) -> dt.date:
    """First day of the trailing window of `months` months that ends on `as_of` (inclusive).

    2026-10-31, 12 -> 2025-11-01; 2026-10-15, 12 -> 2025-10-16 (clipped to month ends).
    """
    if months < 1:
        raise ValueError(f"window_months must be >= 1, got {months}")
    index = as_of.year * 12 + as_of.month - 1 - months
    year, month = index // 12, index % 12 + 1
    same_day = dt.date(year, month, min(as_of.day, calendar.monthrange(year, month)[1]))
    if as_of.day == calendar.monthrange(as_of.year, as_of.month)[1]:
        # A month end: whole calendar months (31 Oct -> from 1 Nov, 28 Feb -> from 1 Mar).
        nxt = (dt.date(year, month, 28) + dt.timedelta(days=4)).replace(day=1)
        return nxt
    return same_day + dt.timedelta(days=1)


def family_unit_years(
    exposure: pl.DataFrame, start: dt.date | None, as_of: dt.date
) -> pl.DataFrame:
    """Unit-years in service per device family over [start, as_of] (start None = all months).

    `exposure`: device_family, month (first day), units_in_service (monthly mean, any finer
    breakdown such as model and country is summed). Each month counts for the fraction of its
    days inside the window. Returns device_family, first_month, units_in_service_years.
    """
    months = (
        exposure.select(
            pl.col("device_family").cast(pl.String),
            pl.col("month").cast(pl.Date),
            pl.col("units_in_service").cast(pl.Float64),
        )
        .filter(pl.col("month") <= as_of)
        .with_columns(
            month_end=pl.col("month").dt.month_end(),
            days=pl.col("month").dt.month_end().dt.day().cast(pl.Int64),
        )
    )
    lo = pl.col("month") if start is None else pl.max_horizontal(pl.col("month"), pl.lit(start))
    hi = pl.min_horizontal(pl.col("month_end"), pl.lit(as_of))
    covered = ((hi - lo).dt.total_days() + 1).clip(lower_bound=0)
    return (
        months.with_columns(fraction=covered / pl.col("days"))
        .group_by("device_family")
        .agg(
            first_month=pl.col("month").min(),
            units_in_service_years=(pl.col("units_in_service") * pl.col("fraction")).sum() / 12.0,
        )
        .sort("device_family")
    )


def outcome_severity(outcomes: pl.Expr, mapping: Mapping[str, int] | None = None) -> pl.Expr:
    """The register's 1..5 severity of a patient outcome (null when the mapping has none)."""
    mapping = dict(DEFAULT_OUTCOME_SEVERITY if mapping is None else mapping)
    return outcomes.replace_strict(
        {k: int(v) for k, v in mapping.items()}, default=None, return_dtype=pl.Int64
    )


def hazard_codes(hazards: pl.DataFrame) -> pl.DataFrame:
    """One row per (hazard_id, device_family, problem_code) from the ';'-separated list."""
    return (
        hazards.select("hazard_id", "device_family", "problem_codes")
        .with_columns(problem_code=pl.col("problem_codes").str.split(";"))
        .explode("problem_code")
        .with_columns(pl.col("problem_code").str.strip_chars())
        .filter(pl.col("problem_code").is_not_null() & (pl.col("problem_code") != ""))
        .select("hazard_id", "device_family", "problem_code")
        .unique()
    )


def risk_feedback(
    hazards: pl.DataFrame,
    complaints: pl.DataFrame,
    exposure: pl.DataFrame,
    as_of: dt.date,
    *,
    window_months: int = 12,
    confidence: float = 0.95,
    outcome_severity_map: Mapping[str, int] | None = None,
    include_cumulative: bool = True,
) -> pl.DataFrame:
    """One row per hazard and window (trailing `window_months`, and since first shipment).

    `hazards`: hazard_id, device_family, hazard, harm, severity, expected_rate, problem_codes
    (';'-separated), acceptability. `complaints`: complaint_id, received_date, device_family,
    problem_code, patient_outcome (the versions current on the night). `exposure`:
    device_family, month, units_in_service. Complaints received after `as_of` and exposure months
    after it are ignored. Columns and types: RISK_FEEDBACK_SCHEMA; sorted by hazard_id, window.
    """
    severity_map = outcome_severity_map
    windows: list[tuple[str, dt.date | None]] = [
        (trailing_window_label(window_months), trailing_window_start(as_of, window_months))
    ]
    if include_cumulative:
        windows.append((CUMULATIVE_WINDOW, None))
    register = hazards.select(
        pl.col("hazard_id").cast(pl.String),
        pl.col("device_family").cast(pl.String),
        pl.col("hazard").cast(pl.String),
        pl.col("harm").cast(pl.String),
        pl.col("severity").cast(pl.Int64),
        pl.col("acceptability").cast(pl.String),
        pl.col("problem_codes").cast(pl.String),
        pl.col("expected_rate").cast(pl.Float64),
    )
    codes = hazard_codes(register)
    known = complaints.filter(pl.col("received_date") <= as_of).select(
        "complaint_id",
        "received_date",
        "device_family",
        "problem_code",
        "patient_outcome",
        observed_severity=outcome_severity(pl.col("patient_outcome"), severity_map),
    )
    matched = known.join(codes, on=["device_family", "problem_code"], how="inner").join(
        register.select("hazard_id", "severity"), on="hazard_id"
    )
    frames = []
    for label, start in windows:
        cases = matched if start is None else matched.filter(pl.col("received_date") >= start)
        counted = cases.group_by("hazard_id").agg(
            occurrences=pl.col("complaint_id").n_unique().cast(pl.Int64),
            deaths=(pl.col("patient_outcome") == "death").sum().cast(pl.Int64),
            serious_injuries=(pl.col("patient_outcome") == "serious_injury").sum().cast(pl.Int64),
            injuries=(pl.col("patient_outcome") == "injury").sum().cast(pl.Int64),
            observed_max_severity=pl.col("observed_severity").max().cast(pl.Int64),
            complaints_above_severity=(pl.col("observed_severity") > pl.col("severity"))
            .sum()
            .cast(pl.Int64),
        )
        years = family_unit_years(exposure, start, as_of)
        frame = (
            register.join(counted, on="hazard_id", how="left")
            .join(years, on="device_family", how="left")
            .with_columns(
                pl.col("occurrences", "deaths", "serious_injuries", "injuries").fill_null(0),
                pl.col("complaints_above_severity").fill_null(0),
                pl.col("units_in_service_years").fill_null(0.0),
                window_name=pl.lit(label),
                window_start=pl.lit(start, pl.Date) if start is not None else pl.col("first_month"),
                window_end=pl.lit(as_of, pl.Date),
            )
        )
        frames.append(frame.drop("first_month"))
    table = pl.concat(frames, how="vertical").sort("hazard_id", "window_name")
    lower, upper = poisson_count_interval(table["occurrences"].to_numpy(), confidence)
    years_arr = table["units_in_service_years"].to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(years_arr > 0, 1000.0 / years_arr, np.nan)
    k = table["occurrences"].to_numpy().astype(float)
    table = table.with_columns(
        observed_rate_per_1000_per_year=pl.Series(k * scale).fill_nan(None),
        ci_lower=pl.Series(lower * scale).fill_nan(None),
        ci_upper=pl.Series(upper * scale).fill_nan(None),
        confidence=pl.lit(float(confidence)),
    ).with_columns(
        update_required=(pl.col("ci_lower") > pl.col("expected_rate")).fill_null(False),
        severity_exceeded=(pl.col("observed_max_severity") > pl.col("severity")).fill_null(False),
        as_of=pl.lit(as_of, pl.Date),
    )
    table = table.with_columns(
        finding=pl.Series([_finding(r) for r in table.iter_rows(named=True)], dtype=pl.String)
    )
    return table.select(
        [pl.col(name).cast(dtype) for name, dtype in RISK_FEEDBACK_SCHEMA.items()]
    ).sort("hazard_id", "window_name")


def _finding(r: dict) -> str:
    """A sentence a risk manager can paste into the risk management file review."""
    pct = f"{round(100 * r['confidence'])}%"
    if r["units_in_service_years"] <= 0:
        text = f"{r['occurrences']} occurrence(s) with no units in service in the window"
    else:
        text = (
            f"{r['occurrences']} occurrence(s) over {r['units_in_service_years']:,.1f} unit-years: "
            f"{r['observed_rate_per_1000_per_year']:.2f} per 1,000 units per year "
            f"({pct} CI {r['ci_lower']:.2f}-{r['ci_upper']:.2f}) against expected "
            f"{r['expected_rate']:g}"
        )
        if r["update_required"]:
            text += "; lower bound above the risk file estimate: risk file update required"
        elif r["ci_upper"] < r["expected_rate"]:
            text += "; below the risk file estimate"
        else:
            text += "; consistent with the risk file estimate"
    if r["severity_exceeded"]:
        harms = []
        if r["deaths"]:
            harms.append(f"{r['deaths']} death(s)")
        if r["serious_injuries"]:
            harms.append(f"{r['serious_injuries']} serious injury(ies)")
        if r["injuries"]:
            harms.append(f"{r['injuries']} injury(ies)")
        text += (
            f". Observed harm severity {r['observed_max_severity']} exceeds the assumed "
            f"severity {r['severity']} ({', '.join(harms)}): review the severity estimate"
        )
    return text + "."
