"""Score the pipeline's alarms against the generator's planted truth (`_truth/signals.csv`).

A planted signal is caught by a method when an alarm of that method on the planted scope and code
fires on or after its onset; the delay is counted in days from the onset, or, for a drift, from
the day the drifting rate reaches twice the baseline (the size the targets speak of). Trend alarms
on series the truth lists as `null` are false alarms, counted per 100 null series-years.

A peer detector run on the same series (methods named `peer_*`, pipelines/peer.py) is scored like
a trend method, each on its own; the combined set is ours alone, so the peer stays a comparison.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from models.narrative_topics import GENERIC_PROBLEM_CODES

TREND_METHODS = ("poisson_exact_fdr", "cusum", "ewma", "maxsprt", "changepoint")
COMBINED = "combined"
PEER_PREFIX = "peer_"
_PEER = pl.col("method").str.starts_with(PEER_PREFIX)
_ON_SERIES = pl.col("method").is_in(TREND_METHODS) | _PEER


@dataclass(frozen=True)
class Scored:
    detections: (
        pl.DataFrame
    )  # signal_id, kind, method, onset, target_onset, detected_on, delay_days
    false_alarms: pl.DataFrame  # method, false_alarms
    null_series_years: float
    other_alarms: pl.DataFrame  # alarms on no planted signal and no null series: scope, method, n


def target_onset(kind: str, onset: dt.date, size: float, extract: dt.date) -> dt.date:
    """When a planted signal reaches twice its baseline (its onset, except for a drift)."""
    if kind != "drift" or size <= 2.0:
        return onset
    span = (extract - onset).days
    return onset + dt.timedelta(days=round(span * (2.0 - 1.0) / (size - 1.0)))


def _matches(truth: dict, alarms: pl.DataFrame, hazard_codes: dict[str, set[str]]) -> pl.DataFrame:
    kind, value, code = truth["kind"], truth["scope_value"], truth["code"]
    if kind in ("rate_step", "drift"):
        hazards = {h for h, codes in hazard_codes.items() if code in codes}
        return alarms.filter(
            (pl.col("scope") == "device_family")
            & (pl.col("scope_value") == value)
            & pl.col("code").is_in([code, *sorted(hazards)])
            & _ON_SERIES
        )
    if kind in ("bad_lot", "bad_component_lot"):
        return alarms.filter(
            (pl.col("scope") == "lot") & (pl.col("scope_value") == value) & (pl.col("code") == code)
        )
    if kind == "narrative_new_mode":
        return alarms.filter(
            (pl.col("scope_value") == value) & pl.col("method").str.starts_with("narrative")
        )
    if kind == "maude_disproportion":
        return alarms.filter(
            (pl.col("scope") == "product_code")
            & (pl.col("scope_value") == value)
            & (pl.col("code") == code)
        )
    if kind == "service_early_failure":
        return alarms.filter(
            (pl.col("scope_value") == value) & (pl.col("method") == "service_isolation_forest")
        )
    return alarms.clear()


def score(
    alarms: pl.DataFrame,
    truth: pl.DataFrame,
    hazards: pl.DataFrame,
    *,
    start: dt.date,
    extract: dt.date,
) -> Scored:
    """`alarms`: scope, scope_value, code, method, detected_on. `truth`: the truth file.
    `hazards`: hazard_id, device_family, problem_code (one row per mapped code)."""
    hazard_codes: dict[str, set[str]] = {}
    for hazard_id, code in hazards.select("hazard_id", "problem_code").iter_rows():
        hazard_codes.setdefault(hazard_id, set()).add(code)
    rows = []
    matched_ids: set[tuple] = set()
    for t in truth.filter(pl.col("kind") != "null").iter_rows(named=True):
        onset = dt.date.fromisoformat(t["onset_date"])
        target = target_onset(t["kind"], onset, float(t["size"] or 0), extract)
        hits = _matches(t, alarms, hazard_codes)
        matched_ids |= set(hits.select("scope", "scope_value", "code", "method").iter_rows())
        hits = hits.filter(pl.col("detected_on") >= onset)
        for method in [*sorted(set(hits["method"].to_list())), COMBINED]:
            chosen = hits.filter(~_PEER if method == COMBINED else pl.col("method") == method)
            detected = chosen["detected_on"].min() if not chosen.is_empty() else None
            rows.append(
                {
                    "signal_id": t["signal_id"],
                    "kind": t["kind"],
                    "method": method,
                    "onset": onset,
                    "target_onset": target,
                    "detected_on": detected,
                    "delay_days": None if detected is None else (detected - target).days,
                }
            )
    detections = pl.DataFrame(
        rows,
        schema={
            "signal_id": pl.String,
            "kind": pl.String,
            "method": pl.String,
            "onset": pl.Date,
            "target_onset": pl.Date,
            "detected_on": pl.Date,
            "delay_days": pl.Int64,
        },
    )
    nulls = truth.filter(pl.col("kind") == "null")
    null_keys = {(f, c) for f, c in nulls.select("scope_value", "code").iter_rows()}
    planted_keys = {
        (f, c)
        for f, c in truth.filter(pl.col("kind").is_in(["rate_step", "drift"]))
        .select("scope_value", "code")
        .iter_rows()
    }
    # A new failure mode seen only in narratives is coded with generic codes: a trend on those
    # codes in its family is that mode showing, not a false alarm.
    planted_keys |= {
        (f, c)
        for (f,) in truth.filter(pl.col("kind") == "narrative_new_mode")
        .select("scope_value")
        .iter_rows()
        for c in GENERIC_PROBLEM_CODES
    }

    def on_null_series(family: str, code: str) -> bool:
        codes = hazard_codes.get(code, {code})
        keys = {(family, c) for c in codes}
        return bool(keys & null_keys) and not keys & planted_keys

    trend = alarms.filter(_ON_SERIES)
    false = trend.filter(
        pl.struct("scope_value", "code").map_elements(
            lambda s: on_null_series(s["scope_value"], s["code"]), return_dtype=pl.Boolean
        )
    )
    per_method = false.group_by("method").agg(false_alarms=pl.len())
    combined = false.filter(~_PEER).select("scope_value", "code").unique().height
    false_alarms = pl.concat(
        [
            per_method,
            pl.DataFrame({"method": [COMBINED], "false_alarms": [combined]}).cast(
                {"false_alarms": per_method.schema.get("false_alarms", pl.UInt32)}
            ),
        ]
    ).sort("method")
    years = (extract - start).days / 365.25
    unmatched = alarms.filter(
        ~pl.struct("scope", "scope_value", "code", "method").map_elements(
            lambda s: (s["scope"], s["scope_value"], s["code"], s["method"]) in matched_ids,
            return_dtype=pl.Boolean,
        )
        & ~_ON_SERIES
    )
    other = unmatched.group_by("scope", "method").agg(n=pl.len()).sort("scope", "method")
    return Scored(detections, false_alarms, nulls.height * years, other)
