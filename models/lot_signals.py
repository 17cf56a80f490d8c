"""Traceability signals: a production lot, or a supplier component lot, with more complaints than
its siblings.

A lot's expected count for a problem code is the rate of the same model's other lots (complaints
per unit-month in service) times the lot's own unit-months; the excess is judged with a one-sided
exact Poisson test (P(X >= observed)) and Benjamini-Hochberg across every (lot, code) tested that
night. A supplier component lot pools the production lots built from it against their models'
other lots the same way, so a bad component shared by several lots shows even when each lot alone
is too small to.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats
from statsmodels.stats.multitest import multipletests

from models.trends import falls_below

LOT_SIGNAL_COLUMNS = (
    "scope_value",
    "device_model",
    "code",
    "observed",
    "expected",
    "unit_months",
    "p_value",
    "q_value",
    "signal",
)


def poisson_upper_p(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """One-sided exact Poisson p-value P(X >= observed | mean expected); 1 when observed is 0."""
    k = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    return np.where(k > 0, stats.poisson.sf(k - 1, np.maximum(mu, 1e-12)), 1.0)


def _judge(frame: pl.DataFrame, alpha: float, min_count: int, min_ratio: float) -> pl.DataFrame:
    if frame.is_empty():
        return frame.with_columns(
            p_value=pl.lit(None, pl.Float64),
            q_value=pl.lit(None, pl.Float64),
            signal=pl.lit(None, pl.Boolean),
        )
    p = poisson_upper_p(frame["observed"].to_numpy(), frame["expected"].to_numpy())
    q = multipletests(p, alpha=alpha, method="fdr_bh")[1]
    # q < alpha by a margin (models/trends.py `falls_below`): a tie is no signal on any machine
    significant = pl.Series(falls_below(q, alpha), dtype=pl.Boolean)
    return frame.with_columns(p_value=pl.Series(p), q_value=pl.Series(q)).with_columns(
        signal=pl.lit(significant)
        & (pl.col("observed") >= min_count)
        & (pl.col("observed") >= min_ratio * pl.col("expected"))
    )


def lot_code_signals(
    complaints: pl.DataFrame,
    lot_unit_months: pl.DataFrame,
    *,
    alpha: float = 0.01,
    min_count: int = 3,
    min_ratio: float = 2.0,
) -> pl.DataFrame:
    """Per (lot, problem code): complaints against the model's other lots.

    `complaints`: lot_number, device_model, problem_code (one row per complaint).
    `lot_unit_months`: lot_number, device_model, unit_months (exposure up to the night).
    A signal needs q < alpha, at least `min_count` complaints and `min_ratio` times the expected.
    """
    counts = (
        complaints.filter(pl.col("lot_number").is_not_null() & pl.col("problem_code").is_not_null())
        .group_by("lot_number", "device_model", "problem_code")
        .agg(observed=pl.len().cast(pl.Int64))
    )
    model_totals = counts.group_by("device_model", "problem_code").agg(
        model_observed=pl.col("observed").sum()
    )
    model_exposure = lot_unit_months.group_by("device_model").agg(
        model_unit_months=pl.col("unit_months").sum()
    )
    frame = (
        counts.join(lot_unit_months, on=["lot_number", "device_model"], how="inner")
        .join(model_totals, on=["device_model", "problem_code"])
        .join(model_exposure, on="device_model")
        .with_columns(
            sibling_rate=(pl.col("model_observed") - pl.col("observed"))
            / (pl.col("model_unit_months") - pl.col("unit_months"))
        )
        .filter(pl.col("model_unit_months") > pl.col("unit_months"))
        .with_columns(
            # A lot alone on its model has no siblings: half a complaint over their exposure
            # keeps the expectation positive without inventing a rate.
            expected=pl.max_horizontal(
                pl.col("sibling_rate"),
                0.5 / (pl.col("model_unit_months") - pl.col("unit_months")),
            )
            * pl.col("unit_months")
        )
        .rename({"lot_number": "scope_value", "problem_code": "code"})
        .sort("scope_value", "code")
    )
    return _judge(frame, alpha, min_count, min_ratio).select(LOT_SIGNAL_COLUMNS)


def component_lot_signals(
    complaints: pl.DataFrame,
    lot_unit_months: pl.DataFrame,
    lot_components: pl.DataFrame,
    *,
    alpha: float = 0.01,
    min_count: int = 3,
    min_ratio: float = 2.0,
    min_lots: int = 2,
) -> pl.DataFrame:
    """Per (supplier component lot, problem code), pooling the production lots built from it.

    `lot_components`: lot_number, component_lot (one row per pair). Component lots used by fewer
    than `min_lots` production lots are left to the lot signals. `device_model` in the result
    lists the models concerned, ';'-separated.
    """
    used = lot_components.group_by("component_lot").agg(lots=pl.col("lot_number").n_unique())
    shared = lot_components.join(used.filter(pl.col("lots") >= min_lots), on="component_lot")
    per_lot = lot_code_signals(
        complaints, lot_unit_months, alpha=1.0, min_count=0, min_ratio=0.0
    ).rename({"scope_value": "lot_number"})
    # Every lot built from the component lot counts, with zero complaints where it had none.
    codes = per_lot.select("code").unique()
    exposure = shared.join(lot_unit_months, on="lot_number").join(codes, how="cross")
    pooled = (
        exposure.join(
            per_lot.select("lot_number", "code", "observed", "expected"),
            on=["lot_number", "code"],
            how="left",
        )
        .with_columns(pl.col("observed").fill_null(0))
        .join(
            _sibling_rates(complaints, lot_unit_months),
            on=["device_model", "code"],
            how="left",
        )
        .with_columns(
            expected=pl.coalesce(
                pl.col("expected"), pl.col("model_rate").fill_null(0.0) * pl.col("unit_months")
            )
        )
        .group_by("component_lot", "code")
        .agg(
            observed=pl.col("observed").sum(),
            expected=pl.col("expected").sum(),
            unit_months=pl.col("unit_months").sum(),
            device_model=pl.col("device_model").unique().sort().str.join(";"),
        )
        .filter(pl.col("observed") > 0)
        .rename({"component_lot": "scope_value"})
        .sort("scope_value", "code")
    )
    return _judge(pooled, alpha, min_count, min_ratio).select(LOT_SIGNAL_COLUMNS)


def _sibling_rates(complaints: pl.DataFrame, lot_unit_months: pl.DataFrame) -> pl.DataFrame:
    """Rate per unit-month of each model and code over all its lots (for lots without cases)."""
    counts = (
        complaints.filter(pl.col("lot_number").is_not_null() & pl.col("problem_code").is_not_null())
        .group_by("device_model", "problem_code")
        .agg(n=pl.len())
        .rename({"problem_code": "code"})
    )
    exposure = lot_unit_months.group_by("device_model").agg(um=pl.col("unit_months").sum())
    return counts.join(exposure, on="device_model").select(
        "device_model", "code", model_rate=pl.col("n") / pl.col("um")
    )
