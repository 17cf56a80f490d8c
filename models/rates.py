"""Complaint rates per 1,000 units in service, with exact (Garwood) Poisson intervals."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats


def poisson_count_interval(
    counts: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Exact two-sided interval for a Poisson mean given observed counts (Garwood 1936).

    lower = chi2(alpha/2; 2k) / 2 (0 when k = 0), upper = chi2(1 - alpha/2; 2k + 2) / 2.
    """
    k = np.asarray(counts, dtype=float)
    alpha = 1.0 - confidence
    lower = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
    upper = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    return lower, upper


def rate_per_1000(
    counts: np.ndarray, units_in_service: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rate, lower, upper) per 1,000 units in service; NaN where there is no exposure."""
    k = np.asarray(counts, dtype=float)
    n = np.asarray(units_in_service, dtype=float)
    lower, upper = poisson_count_interval(k, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(n > 0, 1000.0 / n, np.nan)
    return k * scale, lower * scale, upper * scale


def monthly_complaint_rates(
    complaints: pl.DataFrame, exposure: pl.DataFrame, confidence: float = 0.95
) -> pl.DataFrame:
    """Complaints per device family, model and month against units in service.

    `complaints`: one row per complaint with device_family, device_model, month and serious
    (bool). `exposure`: device_family, device_model, month, units_in_service (already summed over
    countries), month_complete. Months with exposure and no complaint count 0; complaints for a
    month without exposure keep a NaN rate, never a division by zero.
    """
    keys = ["device_family", "device_model", "month"]
    counted = complaints.group_by(keys).agg(
        complaints=pl.len().cast(pl.Int64),
        serious_complaints=pl.col("serious").sum().cast(pl.Int64),
    )
    joined = (
        exposure.join(counted, on=keys, how="full", coalesce=True)
        .with_columns(
            pl.col("complaints", "serious_complaints").fill_null(0),
            pl.col("units_in_service").fill_null(0.0),
            pl.col("month_complete").fill_null(True),
        )
        .sort(keys)
    )
    rate, lower, upper = rate_per_1000(
        joined["complaints"].to_numpy(), joined["units_in_service"].to_numpy(), confidence
    )
    serious_rate, _, _ = rate_per_1000(
        joined["serious_complaints"].to_numpy(), joined["units_in_service"].to_numpy(), confidence
    )
    return joined.with_columns(
        rate_per_1000=pl.Series(rate).fill_nan(None),
        rate_ci_lower=pl.Series(lower).fill_nan(None),
        rate_ci_upper=pl.Series(upper).fill_nan(None),
        serious_rate_per_1000=pl.Series(serious_rate).fill_nan(None),
    ).select(
        *keys,
        "complaints",
        "serious_complaints",
        "units_in_service",
        "rate_per_1000",
        "rate_ci_lower",
        "rate_ci_upper",
        "serious_rate_per_1000",
        "month_complete",
    )
