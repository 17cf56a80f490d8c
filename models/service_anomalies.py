"""Cohorts that fail early: per-serial service features, an isolation forest, and a lot test.

``serial_features`` summarises the field-service history of each serial (repairs, failures per
1,000 usage hours, usage hours at the first failure, days from installation to the first
repair...). ``fit_isolation_forest`` scores the serials (lower = more anomalous; a serial is
anomalous when sklearn's decision function is below 0). ``cohort_anomalies`` tests, per lot,
whether the share of anomalous serials is above the share among all other scored serials
(one-sided Fisher exact test, i.e. the hypergeometric tail) with a Benjamini-Hochberg adjustment
across lots.

Serial numbers in the service records do not encode the lot (``VP3-00000066``); the lot comes
from a mapping frame serial_number -> lot_number, e.g. ``serial_lot_map_from_complaints`` (the
pairs named on complaints) or ``serial_lot_map_from_lots`` (serial ranges: serials are numbered
consecutively per device model through its lots in manufacturing order).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats
from sklearn.ensemble import IsolationForest

from models.trends import fdr_adjust

FEATURE_COLUMNS = (
    "repairs",
    "failures",
    "components_replaced",
    "failures_per_1000h",
    "max_usage_hours",
    "hours_to_first_failure",
    "days_to_first_repair",
)

RESULT_COLUMNS = (
    "lot_number",
    "device_model",
    "serials",
    "observed",
    "expected",
    "share",
    "overall_share",
    "p_value",
    "statistic",
    "threshold",
    "median_hours_to_first_failure",
    "top_component",
)


def _clean(service: pl.DataFrame) -> pl.DataFrame:
    df = service
    casts = []
    if df.schema["usage_hours"] != pl.Float64:
        casts.append(pl.col("usage_hours").cast(pl.Float64, strict=False))
    if df.schema["service_date"] != pl.Date:
        casts.append(pl.col("service_date").cast(pl.String).str.to_date(strict=False))
    if df.schema["failure_found"] != pl.Boolean:
        casts.append(
            pl.col("failure_found").cast(pl.String).str.to_lowercase().is_in(["true", "1", "yes"])
        )
    if casts:
        df = df.with_columns(casts)
    return df.filter(
        pl.col("serial_number").is_not_null()
        & pl.col("device_model").is_not_null()
        & pl.col("service_date").is_not_null()
    ).with_columns(
        pl.when(pl.col("usage_hours") >= 0).then(pl.col("usage_hours")).alias("usage_hours"),
        pl.col("failure_found").fill_null(False),
    )


def serial_features(service: pl.DataFrame) -> pl.DataFrame:
    """One row per (serial_number, device_model), sorted, with FEATURE_COLUMNS and dates.

    Input columns: serial_number, device_model, service_date, service_type, failure_found,
    component_code, usage_hours (strings are parsed; unparseable values become null).
    ``hours_to_first_failure`` and ``days_to_first_repair`` are null when the serial has had no
    failure / repair; ``failures_per_1000h`` is null when no usage hours are known.
    """
    df = _clean(service)
    is_fail = pl.col("failure_found")
    is_repair = pl.col("service_type") == "repair"
    feats = (
        df.group_by("serial_number", "device_model")
        .agg(
            pl.len().alias("records"),
            is_repair.sum().cast(pl.Int64).alias("repairs"),
            is_fail.sum().cast(pl.Int64).alias("failures"),
            pl.col("component_code")
            .filter(is_fail & pl.col("component_code").is_not_null())
            .n_unique()
            .cast(pl.Int64)
            .alias("components_replaced"),
            pl.col("usage_hours").max().alias("max_usage_hours"),
            pl.col("usage_hours").filter(is_fail).min().alias("hours_to_first_failure"),
            pl.col("service_date")
            .filter(pl.col("service_type") == "installation")
            .min()
            .alias("installation_date"),
            pl.col("service_date").min().alias("first_service_date"),
            pl.col("service_date").filter(is_repair).min().alias("first_repair_date"),
            pl.col("component_code")
            .filter(is_fail & pl.col("component_code").is_not_null())
            .mode()
            .sort()
            .first()
            .alias("top_component"),
        )
        .with_columns(
            pl.when(pl.col("max_usage_hours") > 0)
            .then(pl.col("failures") / pl.col("max_usage_hours") * 1000.0)
            .alias("failures_per_1000h"),
            (pl.col("first_repair_date") - pl.coalesce("installation_date", "first_service_date"))
            .dt.total_days()
            .alias("days_to_first_repair"),
        )
    )
    return feats.select(
        "serial_number",
        "device_model",
        "records",
        *FEATURE_COLUMNS,
        "installation_date",
        "first_repair_date",
        "top_component",
    ).sort("device_model", "serial_number")


def _matrix(features: pl.DataFrame) -> np.ndarray:
    """Numeric matrix for the forest: log1p of counts and hours; censored values filled.

    A serial without a failure gets its max usage hours as hours to first failure (it has run
    that long without one); without a repair, days to first repair = 10 years (never).
    """
    f = features.with_columns(
        pl.col("max_usage_hours").fill_null(0.0),
        pl.col("failures_per_1000h").fill_null(0.0),
    ).with_columns(
        pl.col("hours_to_first_failure").fill_null(pl.col("max_usage_hours")),
        pl.col("days_to_first_repair").fill_null(3650).clip(0, 3650),
    )
    x = f.select(FEATURE_COLUMNS).to_numpy().astype(float)
    return np.log1p(np.clip(x, 0.0, None))


@dataclass(frozen=True)
class ServiceModel:
    forest: IsolationForest
    params: dict[str, object]
    version: str


def fit_isolation_forest(
    features: pl.DataFrame,
    seed: int = 0,
    contamination: float | str = "auto",
    n_estimators: int = 200,
) -> tuple[ServiceModel, pl.DataFrame]:
    """Fit an IsolationForest on serial features; return the model and the scored features.

    Added columns: ``anomaly_score`` (sklearn decision_function: lower = more anomalous,
    negative = anomalous) and ``anomalous`` (bool). ``version`` = SHA-256 of the parameters and
    of the training matrix, so a re-fit on other data gets another version.
    """
    feats = features.sort("device_model", "serial_number")
    x = _matrix(feats)
    params: dict[str, object] = {
        "seed": int(seed),
        "contamination": contamination,
        "n_estimators": int(n_estimators),
        "features": list(FEATURE_COLUMNS),
        "transform": "log1p",
    }
    forest = IsolationForest(
        n_estimators=n_estimators, contamination=contamination, random_state=seed, n_jobs=1
    ).fit(x)
    digest = hashlib.sha256()
    digest.update(json.dumps(params, sort_keys=True).encode("utf-8"))
    digest.update(np.ascontiguousarray(np.round(x, 9)).tobytes())
    model = ServiceModel(forest=forest, params=params, version=digest.hexdigest())
    return model, score_serials(model, feats)


def score_serials(model: ServiceModel, features: pl.DataFrame) -> pl.DataFrame:
    feats = features.sort("device_model", "serial_number")
    score = model.forest.decision_function(_matrix(feats)) if feats.height else np.zeros(0)
    return feats.with_columns(
        pl.Series("anomaly_score", score, dtype=pl.Float64),
        pl.Series("anomalous", score < 0, dtype=pl.Boolean),
    )


def serial_lot_map_from_complaints(complaints: pl.DataFrame) -> pl.DataFrame:
    """serial_number -> lot_number as named on complaints (serials naming one lot only)."""
    pairs = (
        complaints.select("serial_number", "lot_number")
        .drop_nulls()
        .unique()
        .filter(pl.col("serial_number").str.strip_chars() != "")
    )
    ok = pairs.group_by("serial_number").agg(pl.len().alias("n")).filter(pl.col("n") == 1)
    return pairs.join(ok.select("serial_number"), on="serial_number").sort("serial_number")


def serial_lot_map_from_lots(lots: pl.DataFrame, serials: pl.DataFrame) -> pl.DataFrame:
    """serial_number -> lot_number from lot quantities: serials PREFIX-NNNNNNNN are numbered
    from 1 per device model through its lots ordered by (manufacture_date, lot_number).

    ``lots``: lot_number, device_model, manufacture_date, quantity. ``serials``: serial_number,
    device_model. Serials outside every range are left out.
    """
    lt = (
        lots.select(
            "lot_number",
            "device_model",
            pl.col("manufacture_date").cast(pl.String).str.to_date(strict=False),
            pl.col("quantity").cast(pl.Int64, strict=False),
        )
        .drop_nulls()
        .unique(subset="lot_number", keep="first")
        .sort("device_model", "manufacture_date", "lot_number")
        .with_columns(
            (pl.col("quantity").cum_sum().over("device_model") - pl.col("quantity") + 1).alias(
                "first_no"
            )
        )
        .with_columns((pl.col("first_no") + pl.col("quantity") - 1).alias("last_no"))
    )
    sn = (
        serials.select("serial_number", "device_model")
        .unique()
        .with_columns(
            pl.col("serial_number").str.extract(r"-(\d+)$").cast(pl.Int64, strict=False).alias("no")
        )
        .drop_nulls("no")
        .sort("device_model", "no")
    )
    out = sn.join_asof(
        lt.sort("device_model", "first_no"),
        left_on="no",
        right_on="first_no",
        by="device_model",
        strategy="backward",
        check_sortedness=False,
    ).filter(pl.col("no") <= pl.col("last_no"))
    return out.select("serial_number", "lot_number").sort("serial_number")


def cohort_anomalies(
    scored: pl.DataFrame,
    *,
    cohort_column: str = "lot_number",
    lot_map: pl.DataFrame | None = None,
    alpha: float = 0.01,
    min_serials: int = 3,
    flagged_only: bool = True,
) -> pl.DataFrame:
    """Cohorts whose share of anomalous serials is above the share of all other serials.

    ``scored``: output of ``fit_isolation_forest`` / ``score_serials``. When it has no
    ``cohort_column``, ``lot_map`` (serial_number -> cohort_column) is joined; unmapped serials
    count in the overall share but belong to no cohort. For each cohort with at least
    ``min_serials`` serials: observed = anomalous serials, expected = serials x the share among
    all other serials, p = one-sided Fisher exact (hypergeometric tail), ``statistic`` = BH
    q-value across cohorts, flagged when <= ``threshold`` (alpha). Sorted by q then cohort.
    """
    df = scored
    if cohort_column not in df.columns:
        if lot_map is None:
            raise ValueError(f"no {cohort_column!r} column and no lot_map given")
        df = df.join(
            lot_map.select("serial_number", cohort_column).unique(subset="serial_number"),
            on="serial_number",
            how="left",
        )
    n_all = df.height
    k_all = int(df["anomalous"].sum())
    g = (
        df.filter(pl.col(cohort_column).is_not_null())
        .group_by(cohort_column)
        .agg(
            pl.col("device_model").mode().sort().first().alias("device_model"),
            pl.len().cast(pl.Int64).alias("serials"),
            pl.col("anomalous").sum().cast(pl.Int64).alias("observed"),
            pl.col("hours_to_first_failure").median().alias("median_hours_to_first_failure"),
            pl.col("top_component").drop_nulls().mode().sort().first().alias("top_component"),
        )
        .filter(pl.col("serials") >= min_serials)
        .sort(cohort_column)
    )
    n = g["serials"].to_numpy().astype(float)
    k = g["observed"].to_numpy().astype(float)
    rest_share = np.where(n_all - n > 0, (k_all - k) / np.maximum(n_all - n, 1), 0.0)
    pval = np.where(k > 0, stats.hypergeom.sf(k - 1, n_all, k_all, n), 1.0)
    g = g.with_columns(
        pl.Series("expected", n * rest_share),
        (pl.col("observed") / pl.col("serials")).alias("share"),
        pl.Series("overall_share", rest_share),
        pl.Series("p_value", pval),
        pl.Series("statistic", fdr_adjust(pval)[0]),
        pl.lit(alpha).alias("threshold"),
    ).with_columns(
        ((pl.col("statistic") <= alpha) & (pl.col("observed") > pl.col("expected"))).alias(
            "flagged"
        )
    )
    cols = [cohort_column if c == "lot_number" else c for c in RESULT_COLUMNS] + ["flagged"]
    g = g.select(cols).sort("statistic", cohort_column)
    return g.filter(pl.col("flagged")) if flagged_only else g
