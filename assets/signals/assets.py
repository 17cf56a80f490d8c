"""Signal assets: every method replayed night by night, so `detected_on` is the first night an
alarm would have fired using only the data received by then.

The nights are the month ends from the first complaint to the run's as-of date, and the as-of
date itself. On each night the complaints are taken as they were known that night (latest version
updated by then); shipments, lots, MAUDE reports and service records dated after it are ignored.

The replay is memoised (models/replay_memo.py): each month-end night gets a fingerprint of the
input rows known by then, the configuration, the whole-table inputs and the code, kept in
`signals_state` with the detections of the replayed methods. A run reuses the nights before the
first night whose fingerprint changed and replays the rest, so the published tables are the same
as a replay from scratch.
"""

import calendar
import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import sklearn
from dagster_duckdb import DuckDBResource

from assets.metadata import markdown_table, table_metadata
from assets.resources import WAREHOUSE_POOL, NightSettings
from assets.signals.queries import (
    COMPLAINTS_KNOWN_ON_NIGHT_SQL,
    CREATE_STATE_SQL,
    FAMILY_EXPOSURE_SQL,
    HAZARD_CODES_SQL,
    LOT_COMPONENTS_SQL,
    LOT_UNIT_MONTHS_SQL,
    MAUDE_PAIR_REPORTS_SQL,
    MAUDE_PAIRS_SQL,
    MONTHLY_DIGEST_SQL,
    MONTHLY_ROWS_SQL,
    NARRATIVES_KNOWN_ON_NIGHT_SQL,
    SERVICE_KNOWN_ON_NIGHT_SQL,
    SERVICE_LOTS_SQL,
    SIGNAL_EVALUATIONS_SQL,
    STORED_DETECTIONS_SQL,
    STORED_EVIDENCE_SQL,
    STORED_NIGHTS_SQL,
    TABLE_DIGEST_SQL,
    WHOLE_TABLE_ROWS_SQL,
)
from assets.warehouse import query_frame, replace_table, table_exists
from models import trends
from models.data_coverage import CoverageSettings, complaint_coverage
from models.disproportionality import DisproportionalityThresholds, disproportionality
from models.lot_signals import component_lot_signals, lot_code_signals
from models.narrative_topics import (
    LABEL_SCHEMA,
    MONTH_LABEL_SCHEMA,
    alarms_from_labels,
    dump_topic_model,
    fit_topic_model,
    judged_set,
    label_months,
    load_topic_model,
    prepare_narratives,
    training_set,
)
from models.replay_memo import (
    STATE_VERSION,
    canonical_nights,
    code_version,
    digest,
    night_fingerprints,
    restart_point,
)
from models.service_anomalies import (
    cohort_anomalies,
    fit_isolation_forest,
    serial_features,
    serial_lot_map_from_lots,
)
from models.signal_life import EVALUATION_SCHEMA, established_windows, signal_life
from models.signal_series import hazard_series, series_with_coverage, unmapped_code_series
from pipelines.settings import load_config

SIGNAL_OWNERS = ["team:quality-engineering"]
SIGNAL_COLUMNS = (
    "signal_id",
    "scope",
    "scope_value",
    "code",
    "method",
    "period_start",
    "period_end",
    "detected_on",
    "observed",
    "expected",
    "statistic",
    "threshold",
    "status",
)
# Methods judged once for the as-of night: never stored in the replay state.
NARRATIVE_METHODS = ("narrative_novelty", "narrative_topic")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The code behind a replayed night: a change to any of it invalidates the stored nights.
SIGNAL_MODEL_FILES = (
    "models/trends.py",
    "models/lot_signals.py",
    "models/disproportionality.py",
    "models/signal_series.py",
    "models/service_anomalies.py",
    "models/replay_memo.py",
    "models/data_coverage.py",
)
STATE_SCHEMA = "signals_state"
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
EVIDENCE_SCHEMA = {"signal_id": pl.String, "evidence_type": pl.String, "evidence_id": pl.String}
DISPROPORTIONALITY_METHODS = {
    "signal_prr": ("prr", "prr", "prr_threshold"),
    "signal_ror": ("ror", "ror_lower", "ror_threshold"),
    "signal_ic": ("bcpnn_ic", "ic025", "ic_threshold"),
    "signal_mgps": ("mgps", "eb05", "eb05_threshold"),
}


def signal_id(scope: str, scope_value: str, code: str, method: str) -> str:
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
        return pl.DataFrame(
            [self.models[k] for k in sorted(self.models)],
            schema={
                "model": pl.String,
                "version": pl.String,
                "fitted_on": pl.Date,
                "parameters": pl.String,
            },
        )

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
        return pl.DataFrame(
            [
                {"signal_id": sid, "evidence_type": kind, "evidence_id": ident}
                for sid, items in sorted(self.evidence.items())
                for kind, ident in items
            ],
            schema=EVIDENCE_SCHEMA,
        )


def night_coverage(
    complaints: pl.DataFrame, exposure: pl.DataFrame, night: dt.date, settings: dict[str, Any]
) -> pl.DataFrame:
    """The months the complaints known on `night` cover, per family (models/data_coverage.py)."""
    received = complaints.group_by("device_family", "month").agg(received=pl.len())
    return complaint_coverage(
        received,
        exposure.filter(pl.col("units_in_service") > 0).select("device_family", "month"),
        night,
        CoverageSettings(**settings.get("coverage", {})),
    )


def _trend_alarms(
    detections: FirstDetections,
    night: dt.date,
    complaints: pl.DataFrame,
    exposure: pl.DataFrame,
    hazards: pl.DataFrame,
    settings: dict[str, Any],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Judge the night's series; returns them (covered months, `judged` after the warm-up) and
    the night's coverage."""
    coverage = night_coverage(complaints, exposure, night, settings)
    series = pl.concat(
        [
            hazard_series(complaints, exposure, hazards, coverage),
            unmapped_code_series(complaints, exposure, hazards, coverage),
        ],
        how="vertical_relaxed",
    )
    # A series is judged once it has been expected to show a few complaints: right after a launch
    # one complaint against a hundredth of one is noise, not a trend.
    warm_up = float(settings.get("min_cumulative_expected", 2.0))
    series = series.with_columns(
        judged=pl.col("expected").cum_sum().over("series_id", order_by="month") >= warm_up
    )
    judged = series.filter(pl.col("judged"))
    if judged.is_empty():
        return series, coverage
    alarms = trends.series_alarms(
        judged.select("series_id", "month", "observed", "expected"),
        methods=settings.get("trend_methods", trends.METHODS),
        fdr_alpha=float(settings.get("fdr_alpha", 0.05)),
        ewma_lam=float(settings.get("ewma_lambda", 0.2)),
        ewma_L=float(settings.get("ewma_limit", 3.0)),
        maxsprt_max_expected=float(settings.get("maxsprt_max_expected", 100.0)),
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


def _lot_alarms(
    detections: FirstDetections,
    night: dt.date,
    complaints: pl.DataFrame,
    lot_unit_months: pl.DataFrame,
    lot_components: pl.DataFrame,
    settings: dict[str, Any],
) -> None:
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


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier (later when negative), clipped to the month's end."""
    index = day.year * 12 + day.month - 1 - months
    year, month = index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def own_disproportionality(
    pairs: pl.DataFrame, own_product_codes: set[str], thresholds: DisproportionalityThresholds
) -> pl.DataFrame:
    """Disproportionality of every pair against all devices, kept for the firm's codes."""
    if pairs.is_empty():
        return pairs
    table = disproportionality(pairs.select("product_code", "problem_code", "n11"), thresholds)
    return table.filter(pl.col("product_code").is_in(sorted(own_product_codes)))


def _disproportionality_alarms(
    detections: FirstDetections,
    night: dt.date,
    own: pl.DataFrame,
    thresholds: DisproportionalityThresholds,
    reports: pl.DataFrame,
) -> None:
    """Pairs of the firm's product codes that cross a threshold. Those already disproportionate
    on the first night judged are kept as well: models/signal_life.py calls them `established`,
    to be evaluated once, never hidden."""
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


def signal_code_version() -> str:
    """sha256 of the code a replayed night runs: the signal assets and their models."""
    files = [
        path.relative_to(PROJECT_ROOT).as_posix()
        for path in (PROJECT_ROOT / "assets" / "signals").glob("*.py")
    ]
    return code_version(PROJECT_ROOT, [*files, *SIGNAL_MODEL_FILES])


# Taken when the code is loaded: the version of the code that runs, whatever the disk says later.
SIGNAL_CODE_VERSION = signal_code_version()


def _night_fingerprints(
    con: duckdb.DuckDBPyConnection,
    nights: list[dt.date],
    settings: dict[str, Any],
    maude_first: dt.date | None,
    baseline_end: dt.date,
) -> dict[dt.date, str]:
    """Fingerprint of each canonical night: one grouped query per dated input (monthly rows and
    hash sums), the whole-table inputs, the settings, the MAUDE baseline and the code."""
    monthly = {
        name: con.execute(MONTHLY_DIGEST_SQL.format(rows=rows)).fetchall()
        for name, rows in MONTHLY_ROWS_SQL.items()
    }
    whole = {
        name: [int(v) for v in con.execute(TABLE_DIGEST_SQL.format(rows=rows)).fetchall()[0]]
        for name, rows in WHOLE_TABLE_ROWS_SQL.items()
    }
    context = digest(
        {
            "state_version": STATE_VERSION,
            "code": SIGNAL_CODE_VERSION,
            "settings": settings,
            "tables": whole,
            "maude_first": maude_first,
            "baseline_end": baseline_end,
        }
    )
    return night_fingerprints(nights, monthly, context)


@dg.multi_asset(
    pool=WAREHOUSE_POOL,
    specs=[
        dg.AssetSpec(
            key=["marts", "signals"],
            group_name="signals",
            owners=SIGNAL_OWNERS,
            kinds={"duckdb", "polars", "scikitlearn"},
            deps=[
                dg.AssetKey(["staging", "complaint_versions"]),
                dg.AssetKey(["staging", "risk_register"]),
                dg.AssetKey(["staging", "lots"]),
                dg.AssetKey(["staging", "distribution"]),
                dg.AssetKey(["staging", "service"]),
                dg.AssetKey(["staging", "determinations"]),
                dg.AssetKey(["staging", "maude_master"]),
                dg.AssetKey(["staging", "maude_devices"]),
                dg.AssetKey(["staging", "maude_device_problems"]),
                dg.AssetKey(["marts", "units_in_service"]),
            ],
            description=(
                "One row per alarm: trends against the risk file (exact Poisson with BH, "
                "CUSUM, EWMA, MaxSPRT, changepoint) per hazard and per unmapped problem code, "
                "lot and supplier-lot excess, MAUDE disproportionality (PRR, ROR, BCPNN IC025, "
                "MGPS EB05) for the firm's product codes, new failure modes in narratives, and "
                "service cohorts that fail early. `detected_on` is the first night the alarm "
                "would have fired with only the data received by then; `status` is the signal's "
                "life (new, ongoing, established, or the latest signal_evaluation: confirmed, "
                "refuted, closed) with that evaluation. Also publishes marts.signal_series (the "
                "series judged tonight, month by month, covered or not) and marts.data_coverage "
                "(the months the complaint data cover per family, and why a month is not)."
            ),
        ),
        dg.AssetSpec(
            key=["marts", "model_versions"],
            group_name="signals",
            owners=SIGNAL_OWNERS,
            kinds={"duckdb", "scikitlearn"},
            deps=[dg.AssetKey(["marts", "signals"])],
            description=(
                "The fitted models behind tonight's signals (the narrative topic model, the "
                "service Isolation Forest): name, version (sha256 of parameters and fitted "
                "state), the night fitted and the parameters with their fixed seed."
            ),
        ),
        dg.AssetSpec(
            key=["marts", "signal_evidence"],
            group_name="signals",
            owners=SIGNAL_OWNERS,
            kinds={"duckdb"},
            deps=[dg.AssetKey(["marts", "signals"])],
            description=(
                "The complaints and serial numbers behind each signal "
                "(signal_id, evidence_type, evidence_id). Also publishes "
                "marts.maude_disproportionality: every MAUDE problem code of the firm's product "
                "codes against all devices over the trailing window, as of the night."
            ),
        ),
    ],
    name="signal_detection",
)
def signal_detection(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, night: NightSettings
):
    as_of = night.as_of_date()
    settings = load_config().section("signals")
    thresholds = DisproportionalityThresholds(**settings.get("disproportionality", {}))
    detections = FirstDetections()
    with warehouse.get_connection() as con:
        con.execute(CREATE_STATE_SQL)
        hazards = query_frame(con, HAZARD_CODES_SQL)
        lot_components = query_frame(con, LOT_COMPONENTS_SQL)
        own_codes = {
            r[0] for r in con.execute("SELECT product_code FROM staging.products").fetchall()
        }
        first = con.execute("SELECT min(received_date) FROM staging.complaint_versions").fetchall()[
            0
        ][0]
        nights = review_nights(first, as_of) if first else [as_of]
        window_months = int(settings.get("disproportionality_window_months", 12))
        maude_first = con.execute("SELECT min(date_received) FROM staging.maude_master").fetchall()[
            0
        ][0]
        baseline_end = (
            months_before(maude_first, -int(settings.get("disproportionality_baseline_months", 12)))
            if maude_first
            else as_of
        )
        # The memo: canonical (month-end) nights before the first changed one are reused; the
        # as-of night is always replayed (tonight's MAUDE table and model fits come from it).
        canonical = canonical_nights(nights)
        fingerprints = _night_fingerprints(con, canonical, settings, maude_first, baseline_end)
        restart = restart_point(fingerprints, dict(con.execute(STORED_NIGHTS_SQL).fetchall()))
        start = min(restart, as_of) if restart is not None else as_of
        detections.preload(
            query_frame(con, STORED_DETECTIONS_SQL, {"before": start}),
            query_frame(con, STORED_EVIDENCE_SQL, {"before": start}),
        )
        replayed = [n for n in nights if n >= start]
        reused = sum(1 for n in canonical if n < start)
        # the first night the MAUDE window is judged: pairs flagged then are established
        baseline_night = next(
            (n for n in nights if maude_first is not None and n >= max(maude_first, baseline_end)),
            None,
        )
        latest_own = pl.DataFrame()
        tonight_series = tonight_coverage = pl.DataFrame()
        narratives: pl.DataFrame | None = None  # the as-of night's complaints with their text
        for n in replayed:
            params = {"night": n}
            if n == as_of:  # ranked once for the trend, lot and narrative methods alike
                narratives = query_frame(con, NARRATIVES_KNOWN_ON_NIGHT_SQL, {"as_of": n})
                complaints = narratives.drop("description", "text_hash")
            else:
                complaints = query_frame(con, COMPLAINTS_KNOWN_ON_NIGHT_SQL, {"as_of": n})
            exposure = query_frame(con, FAMILY_EXPOSURE_SQL, params)
            series, coverage = _trend_alarms(detections, n, complaints, exposure, hazards, settings)
            if n == as_of:
                tonight_series, tonight_coverage = series, coverage
            _lot_alarms(
                detections,
                n,
                complaints,
                query_frame(con, LOT_UNIT_MONTHS_SQL, params),
                lot_components,
                settings,
            )
            if maude_first is None or n < maude_first:
                continue
            window = {"night": n, "window_start": months_before(n, window_months)}
            own = own_disproportionality(
                query_frame(con, MAUDE_PAIRS_SQL, window), own_codes, thresholds
            )
            latest_own = own
            if n < baseline_end:
                continue
            _disproportionality_alarms(
                detections, n, own, thresholds, query_frame(con, MAUDE_PAIR_REPORTS_SQL, window)
            )
        if narratives is None:
            narratives = query_frame(con, NARRATIVES_KNOWN_ON_NIGHT_SQL, {"as_of": as_of})
        narrative_state = _narrative_alarms(detections, con, narratives, as_of, settings)
        _service_alarms(
            detections,
            replayed,
            query_frame(con, SERVICE_KNOWN_ON_NIGHT_SQL, {"night": as_of}),
            query_frame(con, SERVICE_LOTS_SQL),
            settings,
        )
        evaluations = (
            query_frame(con, SIGNAL_EVALUATIONS_SQL, {"as_of": as_of})
            if table_exists(con, "staging.determinations")
            else pl.DataFrame(schema=EVALUATION_SCHEMA)
        )
        alarms = detections.frame()
        hazard_codes = {
            (family, hazard): sorted(codes)
            for family, hazard, codes in hazards.group_by("device_family", "hazard_id")
            .agg(pl.col("problem_code"))
            .iter_rows()
        }
        signals = signal_life(
            alarms,
            as_of,
            established_windows(
                alarms,
                tonight_series,
                baseline_night,
                int(settings.get("established_grace_months", 2)),
            ),
            evaluations,
            hazard_codes,
        ).with_columns(as_of=pl.lit(as_of))
        stored_rows, stored_evidence = detections.stored_frames(canonical)
        # Tonight's tables and the memo they were computed with are committed together.
        con.execute("BEGIN TRANSACTION")
        try:
            replace_table(con, "marts", "signals", signals)
            replace_table(con, "marts", "signal_evidence", detections.evidence_frame())
            replace_table(con, "marts", "model_versions", detections.models_frame())
            replace_table(
                con,
                "marts",
                "signal_series",
                series_with_coverage(tonight_series, tonight_coverage).with_columns(
                    as_of=pl.lit(as_of)
                ),
            )
            replace_table(
                con, "marts", "data_coverage", tonight_coverage.with_columns(as_of=pl.lit(as_of))
            )
            replace_table(
                con,
                "marts",
                "maude_disproportionality",
                latest_own.with_columns(as_of=pl.lit(as_of), window_months=pl.lit(window_months))
                if not latest_own.is_empty()
                else pl.DataFrame({"as_of": [as_of]}).clear(),
            )
            replace_table(
                con,
                STATE_SCHEMA,
                "replayed_nights",
                pl.DataFrame(
                    sorted(fingerprints.items()),
                    schema={"night": pl.Date, "fingerprint": pl.String},
                    orient="row",
                ),
            )
            replace_table(con, STATE_SCHEMA, "detections", stored_rows)
            replace_table(con, STATE_SCHEMA, "detection_evidence", stored_evidence)
            replace_table(con, STATE_SCHEMA, "narrative_models", narrative_state.model)
            replace_table(con, STATE_SCHEMA, "narrative_labels", narrative_state.labels)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        signal_md = table_metadata(con, "marts", "signals", "detected_on, scope, scope_value")
        evidence_md = table_metadata(con, "marts", "signal_evidence", "signal_id, evidence_id")
        models_md = table_metadata(con, "marts", "model_versions", "model")
    new = signals.filter(pl.col("status") == "new")
    summary = markdown_table(
        signals.group_by("method").agg(pl.len().alias("alarms")).sort("method").rows(),
        ["method", "alarms"],
    )
    context.log.info(
        f"{signals.height} signals, {new.height} new; {len(replayed)} night(s) replayed from "
        f"{start}, {reused} reused"
    )
    yield dg.MaterializeResult(
        asset_key=["marts", "signals"],
        metadata={
            **signal_md,
            "nights_replayed": len(replayed),
            "nights_reused": reused,
            "narrative_model_reused": narrative_state.model_reused,
            "narrative_months_labelled": narrative_state.months_labelled,
            "narrative_months_kept": narrative_state.months_kept,
            "new_tonight": new.height,
            "alarms_by_method": dg.MetadataValue.md(summary),
        },
    )
    yield dg.MaterializeResult(asset_key=["marts", "signal_evidence"], metadata=evidence_md)
    yield dg.MaterializeResult(
        asset_key=["marts", "model_versions"],
        metadata={
            **models_md,
            "versions": dg.MetadataValue.json(
                {m: v["version"] for m, v in sorted(detections.models.items())}
            ),
        },
    )


# The narrative model's code: a change refits the model and relabels every narrative.
NARRATIVE_CODE_VERSION = code_version(
    PROJECT_ROOT, ["models/narrative_topics.py", "models/pickling.py"]
)


@dataclass(frozen=True)
class NarrativeState:
    """What the narrative model keeps for the next night: the fitted model under the digest of
    what it was fitted on, and the labels of tonight's judged complaints under the same digest.
    Exactly what tonight needed, so the state is the same whatever the history of runs."""

    model: pl.DataFrame
    labels: pl.DataFrame
    model_reused: bool = False
    months_labelled: int = 0  # judged months labelled tonight (new or changed)
    months_kept: int = 0  # judged months whose labels were kept from an earlier night


NARRATIVE_MODEL_SCHEMA = {
    "training_digest": pl.String,
    "model_version": pl.String,
    "fit_until": pl.Date,
    "documents": pl.Int64,
    "model": pl.Binary,
}
NARRATIVE_LABEL_SCHEMA = {"training_digest": pl.String, **MONTH_LABEL_SCHEMA}
EMPTY_NARRATIVE_STATE = NarrativeState(
    pl.DataFrame(schema=NARRATIVE_MODEL_SCHEMA), pl.DataFrame(schema=NARRATIVE_LABEL_SCHEMA)
)


def narrative_fit_until(as_of: dt.date, fit_months: int) -> dt.date:
    """First day of the last month the topic model is fitted on: `fit_months` before as-of's."""
    fit_until = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    for _ in range(fit_months - 1):
        fit_until = (fit_until - dt.timedelta(days=1)).replace(day=1)
    return fit_until


def training_digest(train: pl.DataFrame, params: dict[str, Any]) -> str:
    """sha256 of what a fit reads: the training rows (complaint, month, narrative hash, in fit
    order), the parameters, the model code and the scikit-learn version."""
    h = hashlib.sha256()
    h.update(
        digest(
            {"params": params, "code": NARRATIVE_CODE_VERSION, "sklearn": sklearn.__version__}
        ).encode()
    )
    for complaint_id, month, text_hash in train.select(
        "complaint_id", "month", "text_hash"
    ).iter_rows():
        h.update(f"\n{complaint_id}\t{month}\t{text_hash}".encode())
    return h.hexdigest()


def _narrative_alarms(
    detections: FirstDetections,
    con: duckdb.DuckDBPyConnection,
    complaints: pl.DataFrame,
    as_of: dt.date,
    settings: dict[str, Any],
) -> NarrativeState:
    """New failure modes: the topic model is fitted on the complaints received up to
    `narrative_fit_months` before the as-of night (at most `narrative_max_training_documents`
    of the most recent) and judges the months after, month by month (a month's decision uses
    only that month and the ones before).

    The fit and the labels are memoised: the model is reused while what it was fitted on is
    unchanged (a new month, or a changed training narrative, refits it), and a complaint is
    labelled again only when the model or its narrative changed. `complaints`: the as-of
    night's (NARRATIVES_KNOWN_ON_NIGHT_SQL); `con` reads and the caller writes the kept state."""
    fit_until = narrative_fit_until(as_of, int(settings.get("narrative_fit_months", 12)))
    prepared = prepare_narratives(
        complaints.select(
            "complaint_id", "device_family", "month", "description", "problem_code", "text_hash"
        ).filter(pl.col("description").is_not_null())
    )
    if prepared.filter(pl.col("month") <= fit_until).height < 200:
        return EMPTY_NARRATIVE_STATE
    params = {
        "n_topics": 20,
        "seed": int(settings.get("seed", 0)),
        "max_training_documents": int(settings.get("narrative_max_training_documents", 0)),
        "fit_until": fit_until,
    }
    train = training_set(prepared, fit_until, params["max_training_documents"])
    fitted_on = training_digest(train, params)
    stored = con.execute(
        "SELECT training_digest, model_version, fit_until, documents, model "
        "FROM signals_state.narrative_models WHERE training_digest = ?",
        [fitted_on],
    ).fetchall()
    if stored:
        model_row = pl.DataFrame(stored, schema=NARRATIVE_MODEL_SCHEMA, orient="row")
        model = load_topic_model(stored[0][4])
    else:
        model = fit_topic_model(
            train["description"].to_list(), n_topics=params["n_topics"], seed=params["seed"]
        )
        model_row = pl.DataFrame(
            [(fitted_on, model.version, fit_until, model.n_documents, dump_topic_model(model))],
            schema=NARRATIVE_MODEL_SCHEMA,
            orient="row",
        )
    judged = judged_set(prepared, fit_until, baseline_months=12)
    kept = query_frame(
        con,
        "SELECT month, month_digest, complaint_id, text_hash, topic, oov_share "
        "FROM signals_state.narrative_labels WHERE training_digest = ?",
        [fitted_on],
    )
    labels = label_months(model, judged, kept)
    alarms = alarms_from_labels(
        judged.join(labels.select("complaint_id", *LABEL_SCHEMA), on="complaint_id", how="left"),
        model,
        fit_until,
    )
    detections.fitted(
        "narrative_topic_model",
        model.version,
        fit_until,
        {**model.params, "documents": model.n_documents, "fit_until": fit_until},
    )
    for r in alarms.iter_rows(named=True):
        month_end = (r["month"].replace(day=28) + dt.timedelta(days=4)).replace(
            day=1
        ) - dt.timedelta(days=1)
        topic = r["topic"]
        code = "novelty" if topic == -1 else f"topic-{topic}"
        detections.add(
            {
                "scope": "device_family",
                "scope_value": r["device_family"],
                "code": code,
                "method": "narrative_novelty" if topic == -1 else "narrative_topic",
                "period_start": r["month"],
                "period_end": month_end,
                "detected_on": min(month_end, as_of),
                "observed": float(r["observed"]),
                "expected": float(r["expected"]),
                "statistic": float(r["statistic"]),
                "threshold": float(r["threshold"]),
            }
        )
    months = labels.select("month", "month_digest").unique()
    kept_months = months.join(
        kept.select("month", "month_digest").unique(), on=["month", "month_digest"]
    )
    return NarrativeState(
        model_row,
        labels.with_columns(training_digest=pl.lit(fitted_on))
        .select(list(NARRATIVE_LABEL_SCHEMA))
        .sort("month", "complaint_id"),
        model_reused=bool(stored),
        months_labelled=months.height - kept_months.height,
        months_kept=kept_months.height,
    )


def _service_alarms(
    detections: FirstDetections,
    nights: list[dt.date],
    service: pl.DataFrame,
    lots: pl.DataFrame,
    settings: dict[str, Any],
) -> None:
    """Service cohorts that fail early, re-fitted on the records known each night."""
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
