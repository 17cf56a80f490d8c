"""The signal replay: every method judged night by night, so an alarm's `detected_on` is the first
night it would have fired using only the data received by then.

The nights are the month ends from the first complaint to the as-of night, and the as-of night
itself (``review_nights``). Each night the caller passes what was known that night (complaints as
known then, exposure, lot unit-months, the MAUDE window) and the adapters below turn each model's
output into detections:

- ``trend_alarms``: hazard and unmapped-code series against the covered exposure
  (models/signal_series.py, models/data_coverage.py) judged by models/trends.py;
- ``lot_alarms``: production and supplier lots with excess complaints (models/lot_signals.py);
- ``disproportionality_alarms``: the firm's MAUDE product-code x problem-code pairs over a trailing
  window (models/disproportionality.py), from the night the baseline is judged (``MaudeCalendar``);
- ``narrative_alarms``: new failure modes in the as-of night's narratives
  (models/narrative_replay.py), judged once and never stored in the replay state;
- ``service_alarms``: service cohorts that fail early (models/service_anomalies.py).

``FirstDetections`` keeps the first night each alarm fired; ``signals_as_of`` gives each its life
(models/signal_life.py). Plain Polars: the caller reads the warehouse and writes the tables.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from models import trends
from models.data_coverage import CoverageSettings, complaint_coverage
from models.disproportionality import DisproportionalityThresholds, disproportionality
from models.exposure import month_end
from models.lot_signals import component_lot_signals, lot_code_signals
from models.narrative_replay import NarrativeSettings, NarrativeState, judge_narratives
from models.narrative_topics import NOVEL
from models.service_anomalies import (
    cohort_anomalies,
    fit_isolation_forest,
    serial_features,
    serial_lot_map_from_lots,
)
from models.signal_life import established_windows, signal_life
from models.signal_series import (
    UNMAPPED_MIN_BASELINE_COUNT,
    SeasonSettings,
    hazard_series,
    seasonal_fits,
    seasonally_weighted,
    unmapped_codes,
)

# Methods judged once for the as-of night: never stored in the replay state.
NARRATIVE_METHODS = ("narrative_novelty", "narrative_topic")
# One detection: the alarm key (scope, scope value, code, method), its window, the first night it
# fired and what it showed that night.
DETECTION_SCHEMA = {
    "signal_id": pl.String,
    "scope": pl.String,
    "scope_value": pl.String,
    "code": pl.String,
    "method": pl.String,
    "period_start": pl.Date,
    "period_end": pl.Date,
    "detected_on": pl.Date,
    "observed": pl.Float64,
    "expected": pl.Float64,
    "statistic": pl.Float64,
    "threshold": pl.Float64,
}
# The complaints, MAUDE reports and service serial numbers behind a detection.
EVIDENCE_SCHEMA = {"signal_id": pl.String, "evidence_type": pl.String, "evidence_id": pl.String}
MODEL_SCHEMA = {
    "model": pl.String,
    "version": pl.String,
    "fitted_on": pl.Date,
    "parameters": pl.String,
}
# Disproportionality flag -> (method, statistic, threshold) of models/disproportionality.py
DISPROPORTIONALITY_METHODS = {
    "signal_prr": ("prr", "prr", "prr_threshold"),
    "signal_ror": ("ror", "ror_lower", "ror_threshold"),
    "signal_ic": ("bcpnn_ic", "ic025", "ic_threshold"),
    "signal_mgps": ("mgps", "eb05", "eb05_threshold"),
}


def signal_id(scope: str, scope_value: str, code: str, method: str) -> str:
    """The stable id of an alarm key: the same alarm has the same id on every night and run."""
    key = "\x1f".join((scope, scope_value, code, method))
    return "SIG-" + hashlib.sha256(key.encode()).hexdigest()[:12].upper()


def review_nights(first: dt.date, as_of: dt.date) -> list[dt.date]:
    """Month ends from the month of `first` up to `as_of`, then `as_of` itself."""
    nights: list[dt.date] = []
    month = first.replace(day=1)
    while True:
        nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        end = nxt - dt.timedelta(days=1)
        if end >= as_of:
            break
        nights.append(end)
        month = nxt
    return [*nights, as_of]


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier (later when negative), clipped to the month's end."""
    index = day.year * 12 + day.month - 1 - months
    year, month = index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class FirstDetections:
    """Keeps the first night each alarm key fired, with what it showed that night."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.evidence: dict[str, list[tuple[str, str]]] = {}
        self.models: dict[str, dict[str, Any]] = {}  # the last fit of each model, by name

    def fitted(self, name: str, version: str, fitted_on: dt.date, params: dict[str, Any]) -> None:
        """Record a fitted model: its version (a hash of parameters and fitted state)."""
        self.models[name] = {
            "model": name,
            "version": version,
            "fitted_on": fitted_on,
            "parameters": json.dumps(params, sort_keys=True, default=str),
        }

    def models_frame(self) -> pl.DataFrame:
        """The fitted models behind tonight's signals (marts.model_versions), by name."""
        return pl.DataFrame([self.models[k] for k in sorted(self.models)], schema=MODEL_SCHEMA)

    def preload(self, rows: pl.DataFrame, evidence: pl.DataFrame) -> None:
        """Take detections stored by an earlier run (nights before the restart point): they
        keep their first night, so a replayed night cannot claim them again."""
        items: dict[str, list[tuple[str, str]]] = {}
        for sid, kind, ident in evidence.iter_rows():
            items.setdefault(sid, []).append((kind, ident))
        for row in rows.iter_rows(named=True):
            self.rows[row["signal_id"]] = row
            self.evidence[row["signal_id"]] = sorted(set(items.get(row["signal_id"], ())))

    def stored_frames(self, nights: Iterable[dt.date]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The detections (and their evidence) first seen on `nights` by the stored methods."""
        keep = set(nights)
        sids = [
            sid
            for sid, r in sorted(self.rows.items())
            if r["detected_on"] in keep and r["method"] not in NARRATIVE_METHODS
        ]
        rows = pl.DataFrame(
            [{k: self.rows[sid][k] for k in DETECTION_SCHEMA} for sid in sids],
            schema=DETECTION_SCHEMA,
        )
        evidence = pl.DataFrame(
            [
                {"signal_id": sid, "evidence_type": kind, "evidence_id": ident}
                for sid in sids
                for kind, ident in self.evidence.get(sid, [])
            ],
            schema=EVIDENCE_SCHEMA,
        )
        return rows, evidence

    def add(self, row: dict[str, Any], evidence: Iterable[tuple[str, str]] = ()) -> None:
        """An alarm of the night with its evidence; ignored when its key fired earlier."""
        sid = signal_id(row["scope"], row["scope_value"], row["code"], row["method"])
        if sid in self.rows:
            return
        self.rows[sid] = {"signal_id": sid, **row}
        self.evidence[sid] = sorted(set(evidence))

    def frame(self) -> pl.DataFrame:
        """Every alarm with its first detection (its status is set by models/signal_life.py)."""
        records = [r for _, r in sorted(self.rows.items())]
        return pl.DataFrame(records, schema=DETECTION_SCHEMA).sort(
            "detected_on", "scope", "scope_value", "code", "method"
        )

    def evidence_frame(self) -> pl.DataFrame:
        """The evidence of every alarm (marts.signal_evidence), by signal_id."""
        return pl.DataFrame(
            [
                {"signal_id": sid, "evidence_type": kind, "evidence_id": ident}
                for sid, items in sorted(self.evidence.items())
                for kind, ident in items
            ],
            schema=EVIDENCE_SCHEMA,
        )


@dataclass(frozen=True)
class MaudeCalendar:
    """When MAUDE is read and judged. From the first MAUDE report on, each night reads the
    reports of the trailing `window_months`; from `baseline_end` (the first report plus the
    baseline months) on, the pairs that cross a threshold are alarms. Without MAUDE reports
    nothing is read and `baseline_end` is the as-of night."""

    first_report: dt.date | None
    baseline_end: dt.date
    window_months: int

    @classmethod
    def from_first_report(
        cls, first_report: dt.date | None, as_of: dt.date, settings: Mapping[str, Any]
    ) -> MaudeCalendar:
        """The calendar of the `[signals]` settings for MAUDE reports received from
        `first_report` on."""
        baseline_months = int(settings.get("disproportionality_baseline_months", 12))
        return cls(
            first_report,
            months_before(first_report, -baseline_months) if first_report else as_of,
            int(settings.get("disproportionality_window_months", 12)),
        )

    def window_start(self, night: dt.date) -> dt.date | None:
        """The day before the night's trailing window begins; None before the first report."""
        if self.first_report is None or night < self.first_report:
            return None
        return months_before(night, self.window_months)

    def judges(self, night: dt.date) -> bool:
        """Whether the night's disproportionate pairs are alarms (the baseline is over)."""
        return self.first_report is not None and night >= max(self.first_report, self.baseline_end)

    def baseline_night(self, nights: Iterable[dt.date]) -> dt.date | None:
        """The first night judged: the pairs flagged then are established, not new."""
        return next((n for n in nights if self.judges(n)), None)


def night_coverage(
    complaints: pl.DataFrame,
    exposure: pl.DataFrame,
    night: dt.date,
    settings: Mapping[str, Any],
) -> pl.DataFrame:
    """The months the complaints known on `night` cover, per family (models/data_coverage.py)."""
    received = complaints.group_by("device_family", "month").agg(received=pl.len())
    return complaint_coverage(
        received,
        exposure.filter(pl.col("units_in_service") > 0).select("device_family", "month"),
        night,
        CoverageSettings(**settings.get("coverage", {})),
    )


def trend_alarms(
    detections: FirstDetections,
    night: dt.date,
    complaints: pl.DataFrame,
    exposure: pl.DataFrame,
    hazards: pl.DataFrame,
    settings: Mapping[str, Any],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Judge the night's hazard and unmapped-code series and add their alarms, with the
    complaints of each alarm's window as evidence.

    `complaints`: as known on the night, with device_family, month, problem_code and
    complaint_id; `exposure`: unit-months in service per family and month; `hazards`: the risk
    file's hazards with the problem codes they map. Returns the night's series (covered months,
    `judged` once the cumulative expected count reaches `min_cumulative_expected`) and the
    night's coverage."""
    coverage = night_coverage(complaints, exposure, night, settings)
    # a family's yearly cycle weighs its unit-months: a winter is expected, not a rise
    fits = seasonal_fits(
        complaints, exposure, coverage, SeasonSettings(**settings.get("season", {}))
    )
    for fit in fits:
        if fit.seasonal:
            params = {"months": fit.months, "p_value": fit.p_value, "factors": fit.factors}
            version = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
            detections.fitted(f"season:{fit.device_family}", version[:12], night, params)
    exposure = seasonally_weighted(exposure, fits)
    confidence = settings.get("unmapped_baseline_confidence")
    unmapped = unmapped_codes(
        complaints,
        exposure,
        hazards,
        coverage,
        min_baseline_count=int(
            settings.get("unmapped_min_baseline_count", UNMAPPED_MIN_BASELINE_COUNT)
        ),
        baseline_confidence=None if confidence is None else float(confidence),
    )
    series = pl.concat(
        [hazard_series(complaints, exposure, hazards, coverage), unmapped.series],
        how="vertical_relaxed",
    )
    # A series is judged once it has been expected to show a few complaints: right after a launch
    # one complaint against a hundredth of one is noise, not a trend.
    warm_up = float(settings.get("min_cumulative_expected", 2.0))
    series = series.with_columns(
        judged=pl.col("expected").cum_sum().over("series_id", order_by="month") >= warm_up
    )
    judged = series.filter(pl.col("judged"))
    # codes with too little data for a baseline: returned (and published) beside the series,
    # never judged
    series = pl.concat(
        [series.with_columns(note=pl.lit(None, pl.String)), unmapped.unjudged],
        how="vertical_relaxed",
    )
    if judged.is_empty():
        return series, coverage
    alarms = trends.series_alarms(
        judged.select("series_id", "month", "observed", "expected"),
        methods=settings.get("trend_methods", trends.METHODS),
        fdr_alpha=float(settings.get("fdr_alpha", 0.05)),
        ewma_lam=float(settings.get("ewma_lambda", 0.2)),
        ewma_L=float(settings.get("ewma_limit", 3.0)),
        maxsprt_max_expected=float(settings.get("maxsprt_max_expected", 100.0)),
        changepoint_min_rate_ratio=float(settings.get("changepoint_min_rate_ratio", 1.0)),
    )
    if alarms.is_empty():
        return series, coverage
    families = dict(series.select("series_id", "device_family").unique().iter_rows())
    codes = dict(series.select("series_id", "code").unique().iter_rows())
    mapped = hazards.group_by("hazard_id").agg(pl.col("problem_code"))
    hazard_codes = {h: set(c) for h, c in mapped.iter_rows()}
    for a in alarms.sort("series_id", "method").iter_rows(named=True):
        sid, family = a["series_id"], families[a["series_id"]]
        code = codes[sid]
        wanted = hazard_codes.get(code, {code})
        window = complaints.filter(
            (pl.col("device_family") == family)
            & pl.col("problem_code").is_in(list(wanted))
            & pl.col("month").is_between(a["period_start"], a["period_end"])
        )
        detections.add(
            {
                "scope": "device_family",
                "scope_value": family,
                "code": code,
                "method": a["method"],
                "period_start": a["period_start"],
                "period_end": a["period_end"],
                "detected_on": night,
                "observed": float(a["observed"]),
                "expected": float(a["expected"]),
                "statistic": float(a["statistic"]),
                "threshold": float(a["threshold"]),
            },
            (("complaint", c) for c in window["complaint_id"].to_list()),
        )
    return series, coverage


def lot_alarms(
    detections: FirstDetections,
    night: dt.date,
    complaints: pl.DataFrame,
    lot_unit_months: pl.DataFrame,
    lot_components: pl.DataFrame,
    settings: Mapping[str, Any],
) -> None:
    """Add the production lots and supplier component lots with more complaints of a code than
    their unit-months in service predict (q-value below `lot_alpha`), with those complaints as
    evidence. `lot_unit_months`: unit-months per lot by the night; `lot_components`: the
    component lots of each production lot."""
    alpha = float(settings.get("lot_alpha", 0.01))
    lot_cases = complaints.select("complaint_id", "lot_number", "device_model", "problem_code")
    results = (
        ("lot_poisson", "lot_number", lot_code_signals(lot_cases, lot_unit_months, alpha=alpha)),
        (
            "supplier_lot_poisson",
            "component_lot",
            component_lot_signals(lot_cases, lot_unit_months, lot_components, alpha=alpha),
        ),
    )
    for method, kind, frame in results:
        for r in frame.filter(pl.col("signal")).iter_rows(named=True):
            lots = (
                [r["scope_value"]]
                if kind == "lot_number"
                else lot_components.filter(pl.col("component_lot") == r["scope_value"])[
                    "lot_number"
                ].to_list()
            )
            cases = lot_cases.filter(
                pl.col("lot_number").is_in(lots) & (pl.col("problem_code") == r["code"])
            )
            detections.add(
                {
                    "scope": "lot",
                    "scope_value": r["scope_value"],
                    "code": r["code"],
                    "method": method,
                    "period_start": None,
                    "period_end": night,
                    "detected_on": night,
                    "observed": float(r["observed"]),
                    "expected": float(r["expected"]),
                    "statistic": float(r["q_value"]),
                    "threshold": alpha,
                },
                (("complaint", c) for c in cases["complaint_id"].to_list()),
            )


def own_disproportionality(
    pairs: pl.DataFrame, own_product_codes: set[str], thresholds: DisproportionalityThresholds
) -> pl.DataFrame:
    """Disproportionality of every pair against all devices, kept for the firm's codes.
    `pairs`: MAUDE reports (n11) per product code and problem code over the window."""
    if pairs.is_empty():
        return pairs
    table = disproportionality(pairs.select("product_code", "problem_code", "n11"), thresholds)
    return table.filter(pl.col("product_code").is_in(sorted(own_product_codes)))


def disproportionality_alarms(
    detections: FirstDetections,
    night: dt.date,
    own: pl.DataFrame,
    thresholds: DisproportionalityThresholds,
    reports: pl.DataFrame,
) -> None:
    """Add the pairs of the firm's product codes that cross a threshold (`own`, from
    ``own_disproportionality``), with the window's MAUDE reports of the pair (`reports`) as
    evidence. Those already disproportionate on the first night judged are kept as well:
    models/signal_life.py calls them `established`, to be evaluated once, never hidden."""
    if own.is_empty():
        return
    limits = {
        "prr_threshold": thresholds.prr,
        "ror_threshold": thresholds.ror_lower,
        "ic_threshold": thresholds.ic025,
        "eb05_threshold": thresholds.eb05,
    }
    for r in own.iter_rows(named=True):
        for flag, (method, statistic, limit) in DISPROPORTIONALITY_METHODS.items():
            if r[flag]:
                detections.add(
                    {
                        "scope": "product_code",
                        "scope_value": r["product_code"],
                        "code": str(r["problem_code"]),
                        "method": method,
                        "period_start": None,
                        "period_end": night,
                        "detected_on": night,
                        "observed": float(r["n11"]),
                        "expected": float(r["expected"]),
                        "statistic": float(r[statistic]),
                        "threshold": float(limits[limit]),
                    },
                    (
                        ("maude_report", str(k))
                        for k in reports.filter(
                            (pl.col("product_code") == r["product_code"])
                            & (pl.col("problem_code") == str(r["problem_code"]))
                        )["mdr_report_key"].to_list()
                    ),
                )


def narrative_alarms(
    detections: FirstDetections,
    complaints: pl.DataFrame,
    as_of: dt.date,
    settings: NarrativeSettings,
    stored: NarrativeState,
    code_version: str,
) -> NarrativeState:
    """New failure modes in the as-of night's narratives (models/narrative_replay.py): record
    the topic model and add the first alarm of each family's topic (`topic-<n>`) and novelty
    series (`novelty`), detected at the end of its month (the as-of night for the as-of month).
    Returns the narrative state to keep for the next night."""
    judgement = judge_narratives(complaints, as_of, settings, stored, code_version)
    model, fit_until = judgement.model, judgement.fit_until
    if model is None:
        return judgement.state
    detections.fitted(
        "narrative_topic_model",
        model.version,
        fit_until,
        {**model.params, "documents": model.n_documents, "fit_until": fit_until},
    )
    labels = judgement.state.labels.join(
        complaints.select("complaint_id", "device_family").unique("complaint_id"),
        on="complaint_id",
    )
    for r in judgement.alarms.iter_rows(named=True):
        last_day = month_end(r["month"])
        topic = r["topic"]
        # the month's narratives of the family the alarm counted: the topic's, or the novel ones
        counted = labels.filter(
            (pl.col("device_family") == r["device_family"]) & (pl.col("month") == r["month"])
        ).filter(
            pl.col("oov_share") > model.oov_threshold
            if topic == NOVEL
            else pl.col("topic") == topic
        )
        detections.add(
            {
                "scope": "device_family",
                "scope_value": r["device_family"],
                "code": "novelty" if topic == NOVEL else f"topic-{topic}",
                "method": "narrative_novelty" if topic == NOVEL else "narrative_topic",
                "period_start": r["month"],
                "period_end": last_day,
                "detected_on": min(last_day, as_of),
                "observed": float(r["observed"]),
                "expected": float(r["expected"]),
                "statistic": float(r["statistic"]),
                "threshold": float(r["threshold"]),
            },
            (("complaint", c) for c in sorted(counted["complaint_id"].to_list())),
        )
    return judgement.state


def service_alarms(
    detections: FirstDetections,
    nights: Sequence[dt.date],
    service: pl.DataFrame,
    lots: pl.DataFrame,
    settings: Mapping[str, Any],
) -> None:
    """Service cohorts that fail early, re-fitted on the records known each night: add each
    production lot whose serial numbers the Isolation Forest finds anomalous more often than
    chance (`service_alpha`), with those serial numbers as evidence. `service`: the records
    dated by the last night; `lots`: production lots (serial numbers map to lots by quantity)."""
    alpha = float(settings.get("service_alpha", 0.01))
    for n in nights:
        known = service.filter(pl.col("service_date") <= n)
        if known.height < 200:
            continue
        features = serial_features(known)
        service_model, scored = fit_isolation_forest(features, seed=int(settings.get("seed", 0)))
        detections.fitted(
            "service_isolation_forest",
            service_model.version,
            n,
            {**service_model.params, "serials": features.height},
        )
        lot_map = serial_lot_map_from_lots(lots, features)
        cohorts = cohort_anomalies(scored, lot_map=lot_map, alpha=alpha)
        for r in cohorts.iter_rows(named=True):
            serials = scored.join(lot_map, on="serial_number").filter(
                (pl.col("lot_number") == r["lot_number"]) & pl.col("anomalous")
            )["serial_number"]
            detections.add(
                {
                    "scope": "lot",
                    "scope_value": r["lot_number"],
                    "code": str(r.get("top_component") or ""),
                    "method": "service_isolation_forest",
                    "period_start": None,
                    "period_end": n,
                    "detected_on": n,
                    "observed": float(r["observed"]),
                    "expected": float(r["expected"]),
                    "statistic": float(r["statistic"]),
                    "threshold": float(r["threshold"]),
                },
                (("service_serial", s) for s in serials.to_list()),
            )


def signals_as_of(
    detections: FirstDetections,
    as_of: dt.date,
    series: pl.DataFrame,
    baseline_night: dt.date | None,
    evaluations: pl.DataFrame | None,
    hazards: pl.DataFrame,
    settings: Mapping[str, Any],
) -> pl.DataFrame:
    """marts.signals: every alarm with its life on the as-of night (models/signal_life.py):
    established from the series judged tonight (`series`) and the first night MAUDE was judged
    (`baseline_night`), evaluated by `evaluations` (signal_evaluation determinations), a hazard
    answered through any of the problem codes it maps."""
    alarms = detections.frame()
    hazard_codes = {
        (family, hazard): sorted(codes)
        for family, hazard, codes in hazards.group_by("device_family", "hazard_id")
        .agg(pl.col("problem_code"))
        .iter_rows()
    }
    return signal_life(
        alarms,
        as_of,
        established_windows(
            alarms, series, baseline_night, int(settings.get("established_grace_months", 2))
        ),
        evaluations,
        hazard_codes,
    ).with_columns(as_of=pl.lit(as_of))
