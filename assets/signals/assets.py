"""Signal assets: the nightly replay of every signal method (models/signal_replay.py), wired to
the warehouse.

On each night of the replay the asset reads what the pipeline knew that night (assets/signals/
queries.py: complaints as known then, exposure, lot unit-months, the MAUDE window), hands it to
the models and, at the end, publishes tonight's tables and the memo together in one transaction.

The replay is memoised (models/replay_memo.py): each month-end night gets a fingerprint of the
input rows known by then, the configuration, the whole-table inputs and the code, kept in
`signals_state` with the detections of the replayed methods. A run reuses the nights before the
first night whose fingerprint changed and replays the rest, so the published tables are the same
as a replay from scratch. The narrative model's state (models/narrative_replay.py) is read from
and written back to `signals_state` as well.
"""

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.metadata import markdown_table, table_metadata
from assets.resources import WAREHOUSE_POOL, NightSettings
from assets.signals.queries import (
    COMPLAINTS_KNOWN_ON_NIGHT_SQL,
    CREATE_STATE_SQL,
    FAMILY_EXPOSURE_SQL,
    FIRST_COMPLAINT_SQL,
    FIRST_MAUDE_REPORT_SQL,
    HAZARD_CODES_SQL,
    LOT_COMPONENTS_SQL,
    LOT_UNIT_MONTHS_SQL,
    MAUDE_PAIR_REPORTS_SQL,
    MAUDE_PAIRS_SQL,
    MONTHLY_DIGEST_SQL,
    MONTHLY_ROWS_SQL,
    NARRATIVES_KNOWN_ON_NIGHT_SQL,
    OWN_PRODUCT_CODES_SQL,
    SERVICE_KNOWN_ON_NIGHT_SQL,
    SERVICE_LOTS_SQL,
    SIGNAL_EVALUATIONS_SQL,
    STORED_DETECTIONS_SQL,
    STORED_EVIDENCE_SQL,
    STORED_NARRATIVE_LABELS_SQL,
    STORED_NARRATIVE_MODELS_SQL,
    STORED_NIGHTS_SQL,
    TABLE_DIGEST_SQL,
    WHOLE_TABLE_ROWS_SQL,
)
from assets.warehouse import query_frame, replace_table, staged_or_empty
from models.disproportionality import DisproportionalityThresholds
from models.narrative_replay import NarrativeSettings, NarrativeState
from models.replay_memo import (
    STATE_VERSION,
    canonical_nights,
    code_version,
    digest,
    night_fingerprints,
    restart_point,
)
from models.signal_replay import (
    FirstDetections,
    MaudeCalendar,
    disproportionality_alarms,
    lot_alarms,
    narrative_alarms,
    own_disproportionality,
    review_nights,
    service_alarms,
    signals_as_of,
    trend_alarms,
)
from models.signal_series import series_with_coverage
from pipelines.settings import load_config

SIGNAL_OWNERS = ["team:quality-engineering"]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The code behind a replayed night: a change to any of it invalidates the stored nights.
SIGNAL_MODEL_FILES = (
    "models/signal_replay.py",
    "models/trends.py",
    "models/lot_signals.py",
    "models/disproportionality.py",
    "models/signal_series.py",
    "models/service_anomalies.py",
    "models/replay_memo.py",
    "models/data_coverage.py",
)
# The narrative model's code: a change refits the model and relabels every narrative. (The
# narrative methods are judged once for the as-of night, never stored with the replayed nights.)
NARRATIVE_MODEL_FILES = (
    "models/narrative_replay.py",
    "models/narrative_topics.py",
    "models/pickling.py",
)
STATE_SCHEMA = "signals_state"


def signal_code_version() -> str:
    """sha256 of the code a replayed night runs: the signal assets and their models."""
    files = [
        path.relative_to(PROJECT_ROOT).as_posix()
        for path in (PROJECT_ROOT / "assets" / "signals").glob("*.py")
    ]
    return code_version(PROJECT_ROOT, [*files, *SIGNAL_MODEL_FILES])


# Taken when the code is loaded: the version of the code that runs, whatever the disk says later.
SIGNAL_CODE_VERSION = signal_code_version()
NARRATIVE_CODE_VERSION = code_version(PROJECT_ROOT, NARRATIVE_MODEL_FILES)


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
        own_codes = {r[0] for r in con.execute(OWN_PRODUCT_CODES_SQL).fetchall()}
        first = con.execute(FIRST_COMPLAINT_SQL).fetchall()[0][0]
        nights = review_nights(first, as_of) if first else [as_of]
        maude = MaudeCalendar.from_first_report(
            con.execute(FIRST_MAUDE_REPORT_SQL).fetchall()[0][0], as_of, settings
        )
        # The memo: canonical (month-end) nights before the first changed one are reused; the
        # as-of night is always replayed (tonight's MAUDE table and model fits come from it).
        canonical = canonical_nights(nights)
        fingerprints = _night_fingerprints(
            con, canonical, settings, maude.first_report, maude.baseline_end
        )
        restart = restart_point(fingerprints, dict(con.execute(STORED_NIGHTS_SQL).fetchall()))
        start = min(restart, as_of) if restart is not None else as_of
        detections.preload(
            query_frame(con, STORED_DETECTIONS_SQL, {"before": start}),
            query_frame(con, STORED_EVIDENCE_SQL, {"before": start}),
        )
        replayed = [n for n in nights if n >= start]
        reused = sum(1 for n in canonical if n < start)
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
            series, coverage = trend_alarms(
                detections,
                n,
                complaints,
                query_frame(con, FAMILY_EXPOSURE_SQL, params),
                hazards,
                settings,
            )
            if n == as_of:
                tonight_series, tonight_coverage = series, coverage
            lot_alarms(
                detections,
                n,
                complaints,
                query_frame(con, LOT_UNIT_MONTHS_SQL, params),
                lot_components,
                settings,
            )
            window_start = maude.window_start(n)
            if window_start is None:
                continue
            window = {"night": n, "window_start": window_start}
            latest_own = own_disproportionality(
                query_frame(con, MAUDE_PAIRS_SQL, window), own_codes, thresholds
            )
            if maude.judges(n):
                disproportionality_alarms(
                    detections,
                    n,
                    latest_own,
                    thresholds,
                    query_frame(con, MAUDE_PAIR_REPORTS_SQL, window),
                )
        if narratives is None:
            narratives = query_frame(con, NARRATIVES_KNOWN_ON_NIGHT_SQL, {"as_of": as_of})
        narrative_state = narrative_alarms(
            detections,
            narratives,
            as_of,
            NarrativeSettings.from_signals(settings),
            NarrativeState(
                query_frame(con, STORED_NARRATIVE_MODELS_SQL),
                query_frame(con, STORED_NARRATIVE_LABELS_SQL),
            ),
            NARRATIVE_CODE_VERSION,
        )
        service_alarms(
            detections,
            replayed,
            query_frame(con, SERVICE_KNOWN_ON_NIGHT_SQL, {"night": as_of}),
            query_frame(con, SERVICE_LOTS_SQL),
            settings,
        )
        evaluations = staged_or_empty(
            con, "staging.determinations", SIGNAL_EVALUATIONS_SQL, {"as_of": as_of}
        )
        signals = signals_as_of(
            detections,
            as_of,
            tonight_series,
            maude.baseline_night(nights),
            evaluations,
            hazards,
            settings,
        )
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
                latest_own.with_columns(
                    as_of=pl.lit(as_of), window_months=pl.lit(maude.window_months)
                )
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
