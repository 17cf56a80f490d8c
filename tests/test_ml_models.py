"""Narrative topic model and service-record anomaly models: determinism, synthetic cases, demo."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from models.narrative_replay import (
    NarrativeJudgement,
    NarrativeSettings,
    NarrativeState,
    empty_narrative_state,
    judge_narratives,
)
from models.narrative_topics import (
    GENERIC_PROBLEM_CODES,
    LABEL_SCHEMA,
    alarms_from_labels,
    assign_topics,
    fit_topic_model,
    label_months,
    latest_versions,
    prepare_narratives,
)
from models.service_anomalies import (
    cohort_anomalies,
    fit_isolation_forest,
    serial_features,
    serial_lot_map_from_complaints,
    serial_lot_map_from_lots,
)
from models.trends import fdr_adjust

ROOT = Path(__file__).resolve().parents[1]

PROBLEMS = {
    "Alpha": [
        ("occlusion alarm sounds repeatedly although the line is clear", "A160105"),
        ("battery drains within an hour after a full charge", "A0719"),
        ("keypad button does not register when pressed", "A150105"),
        ("housing cracked after a drop from the bed rail", "A0404"),
    ],
    "Beta": [
        ("reading differs from the arterial blood gas by several points", "A090805"),
        ("probe cable insulation torn near the connector", "A070503"),
        ("screen backlight flickers during the night", "A090206"),
        ("sensor clip too loose for small fingers", "A1005"),
    ],
}
CONTEXT = [
    "nurse reported",
    "biomed engineer reported",
    "customer called",
    "distributor informed us",
    "physician reports",
]
OUTCOME = ["no injury", "no harm", "patient fine", "no adverse consequence", ""]
NEW_PHRASE = "firmware watchdog reboot loop wipes the calibration table overnight"
NEW_MONTH = dt.date(2025, 3, 1)
AS_OF = dt.date(2025, 6, 30)  # the night the synthetic corpus' last month ends


def _months(start: dt.date, n: int) -> list[dt.date]:
    out = []
    for k in range(n):
        m = start.year * 12 + start.month - 1 + k
        out.append(dt.date(m // 12, m % 12 + 1, 1))
    return out


def synthetic_corpus(seed: int = 7, new_per_month: int = 8) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for month in _months(dt.date(2024, 1, 1), 18):
        for fam, problems in PROBLEMS.items():
            n = 60
            for _ in range(n):
                text, code = problems[rng.integers(len(problems))]
                rows.append(
                    (fam, month, f"{rng.choice(CONTEXT)}: {text}. {rng.choice(OUTCOME)}", code)
                )
            if fam == "Alpha" and month >= NEW_MONTH:
                for _ in range(new_per_month):
                    code = ["A26", None, "A2204"][rng.integers(3)]
                    rows.append((fam, month, f"{rng.choice(CONTEXT)}: {NEW_PHRASE}.", code))
    return pl.DataFrame(
        {
            "complaint_id": [f"C{i:05d}" for i in range(len(rows))],
            "device_family": [r[0] for r in rows],
            "month": [r[1] for r in rows],
            "description": [r[2] for r in rows],
            "problem_code": [r[3] for r in rows],
        },
        schema_overrides={"problem_code": pl.String},
    )


def with_text_hash(frame: pl.DataFrame) -> pl.DataFrame:
    """The complaints as the nightly job reads them: with a hash of the narrative."""
    return frame.with_columns(text_hash=pl.col("description").hash().cast(pl.String))


def judge(
    frame: pl.DataFrame,
    fit_until: dt.date,
    *,
    as_of: dt.date = AS_OF,
    stored: NarrativeState | None = None,
    code_version: str = "test",
    **settings: int,
) -> NarrativeJudgement:
    """The narrative method as the nightly job runs it (models/narrative_replay.py) on the night
    `as_of`, its model fitted on the months up to `fit_until`; a fresh warehouse unless `stored`
    (the state an earlier night kept)."""
    fit_months = as_of.year * 12 + as_of.month - (fit_until.year * 12 + fit_until.month)
    judgement = judge_narratives(
        with_text_hash(frame),
        as_of,
        NarrativeSettings(fit_months=fit_months, **settings),
        stored if stored is not None else empty_narrative_state(),
        code_version,
    )
    assert judgement.fit_until == fit_until
    return judgement


# ---- narrative topics -----------------------------------------------------------------------


def test_topic_model_is_deterministic_and_versioned() -> None:
    texts = synthetic_corpus()["description"].to_list()
    a = fit_topic_model(texts, n_topics=6, seed=3)
    b = fit_topic_model(texts, n_topics=6, seed=3)
    assert a.top_terms == b.top_terms
    assert a.version == b.version and len(a.version) == 64
    assert np.array_equal(assign_topics(a, texts), assign_topics(b, texts))
    c = fit_topic_model(texts, n_topics=7, seed=3)
    assert c.version != a.version
    labels = assign_topics(a, ["", "zzzz qqqq"])
    assert labels.tolist() == [-1, -1]  # no known term: all-zero row


def test_benjamini_hochberg_by_hand() -> None:
    q = fdr_adjust(np.array([0.01, 0.04, 0.03, 0.5]))[0]
    assert np.allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_generic_codes_exist_in_annex_a() -> None:
    import json

    annex = json.loads((ROOT / "assets/reference/imdrf/annex_a_2024.json").read_text())
    codes = {e["code"] for e in annex}
    assert codes >= GENERIC_PROBLEM_CODES


def test_new_phrase_flagged_at_onset_not_before_history_only_model() -> None:
    frame = synthetic_corpus()
    fit_until = dt.date(2025, 1, 1)
    alarms = judge(frame, fit_until, n_topics=6, seed=0).alarms
    assert alarms["month"].min() > fit_until
    alpha = alarms.filter(pl.col("device_family") == "Alpha")
    assert alpha.height >= 1
    first = alpha["month"].min()
    assert NEW_MONTH <= first <= _months(NEW_MONTH, 2)[1]
    hit = alpha.filter(pl.col("month") == first).row(0, named=True)
    assert hit["unexplained"] is True and hit["statistic"] <= hit["threshold"]
    assert alarms.filter(pl.col("device_family") == "Beta").height == 0


def test_new_phrase_gets_an_emerging_topic_when_the_model_knows_it() -> None:
    # fitted up to the onset month: the model has seen the new phrase (a month of it, enough to
    # make its own topic), so its narratives are not novel afterwards; the share of its topic
    # rises against the baseline
    frame = synthetic_corpus(new_per_month=30)
    judgement = judge(frame, NEW_MONTH, n_topics=12, seed=0)
    assert judgement.model is not None and "watchdog" in judgement.model.vectorizer.vocabulary_
    out = judgement.alarms
    alpha = out.filter(pl.col("device_family") == "Alpha")
    assert alpha.height >= 1
    first = alpha.sort("month").row(0, named=True)
    assert NEW_MONTH <= first["month"] <= _months(NEW_MONTH, 2)[1]
    assert first["topic"] >= 0 and "watchdog" in first["top_terms"] and first["unexplained"]
    assert out.filter(pl.col("device_family") == "Beta").height == 0
    # same call twice: same output
    again = judge(frame, NEW_MONTH, n_topics=12, seed=0)
    assert out.equals(again.alarms) and again.state.model.equals(judgement.state.model)


def test_no_new_phrase_no_alarm() -> None:
    frame = synthetic_corpus(new_per_month=0)
    judgement = judge(frame, dt.date(2025, 1, 1), n_topics=6, seed=0)
    assert judgement.model is not None and judgement.alarms.height == 0


def test_labelling_only_the_judged_months_changes_no_alarm() -> None:
    # The tests read the months after the fit and their baseline; labelling the older months
    # too must give the very same alarms.
    frame = synthetic_corpus()
    fit_until = dt.date(2025, 1, 1)
    judgement = judge(frame, fit_until, n_topics=6, seed=0, baseline_months=6)
    model, alarms = judgement.model, judgement.alarms
    assert model is not None and alarms.height > 0
    assert judgement.state.labels["month"].min() == dt.date(2024, 8, 1)  # 6 months before
    everything = prepare_narratives(with_text_hash(frame))
    labels = label_months(model, everything).select("complaint_id", *LABEL_SCHEMA)
    expected = alarms_from_labels(
        everything.join(labels, on="complaint_id", how="left"), model, fit_until, baseline_months=6
    )
    assert alarms.equals(expected)


def test_training_is_capped_to_the_most_recent_narratives() -> None:
    frame = synthetic_corpus()
    fossil = pl.DataFrame(
        {
            "complaint_id": [f"A{i:03d}" for i in range(30)],
            "device_family": ["Alpha"] * 30,
            "month": [dt.date(2023, 1, 1)] * 30,
            "description": ["gearbox fossilised grease seized"] * 30,
            "problem_code": [None] * 30,
        },
        schema_overrides={"problem_code": pl.String},
    )
    frame = pl.concat([fossil, frame])
    fit_until = dt.date(2024, 7, 1)
    whole = judge(frame, fit_until, n_topics=6, seed=0).model
    capped = judge(frame, fit_until, n_topics=6, seed=0, max_training_documents=500).model
    assert whole is not None and capped is not None
    assert whole.n_documents == frame.filter(pl.col("month") <= fit_until).height
    assert capped.n_documents == 500
    assert "fossilised" in whole.vectorizer.vocabulary_
    assert "fossilised" not in capped.vectorizer.vocabulary_
    # a cap above the corpus changes nothing
    same = judge(frame, fit_until, n_topics=6, seed=0, max_training_documents=10**6).model
    assert same is not None and same.version == whole.version


def test_month_labels_depend_on_the_month_only_and_are_kept_while_it_is_unchanged() -> None:
    frame = prepare_narratives(synthetic_corpus()).with_columns(
        text_hash=pl.col("description").hash().cast(pl.String)
    )
    model = fit_topic_model(frame["description"].to_list(), n_topics=6, seed=0)
    judged = frame.filter(pl.col("month") >= dt.date(2025, 1, 1))
    fresh = label_months(model, judged)
    assert fresh.height == judged.height
    assert fresh["complaint_id"].n_unique() == judged.height
    # a month labelled alone gets the labels it gets among the other months
    march = judged.filter(pl.col("month") == dt.date(2025, 3, 1))
    assert label_months(model, march).equals(fresh.filter(pl.col("month") == dt.date(2025, 3, 1)))
    # the next night: one narrative of April changed; only April is labelled again
    april = dt.date(2025, 4, 1)
    changed_id = judged.filter(pl.col("month") == april)["complaint_id"][0]
    tonight = judged.with_columns(
        description=pl.when(pl.col("complaint_id") == changed_id)
        .then(pl.lit("firmware watchdog reboot loop wipes the calibration table overnight"))
        .otherwise(pl.col("description"))
    ).with_columns(text_hash=pl.col("description").hash().cast(pl.String))
    marked = fresh.with_columns(oov_share=pl.lit(-1.0))  # stored labels, recognisable
    kept = label_months(model, tonight, marked)
    reused = kept.filter(pl.col("oov_share") == -1.0)["month"].unique().to_list()
    assert april not in reused and len(reused) == fresh["month"].n_unique() - 1
    assert kept.filter(pl.col("month") == april).equals(
        label_months(model, tonight.filter(pl.col("month") == april))
    )
    assert label_months(model, tonight).filter(pl.col("month") == april)["oov_share"].min() >= 0


def test_the_next_night_reuses_the_model_and_relabels_only_the_changed_month() -> None:
    frame = synthetic_corpus()
    fit_until = dt.date(2025, 1, 1)
    first = judge(frame, fit_until, n_topics=6, seed=0)
    months = first.state.labels["month"].n_unique()
    assert not first.state.model_reused
    assert (first.state.months_labelled, first.state.months_kept) == (months, 0)
    # the same complaints the next night: the model and every month's labels are kept
    again = judge(frame, fit_until, n_topics=6, seed=0, stored=first.state)
    assert again.state.model_reused
    assert (again.state.months_labelled, again.state.months_kept) == (0, months)
    assert again.state.model.equals(first.state.model)
    assert again.state.labels.equals(first.state.labels) and again.alarms.equals(first.alarms)
    # one narrative of a judged month changed: that month alone is labelled again, and the night
    # publishes and keeps what a fresh warehouse would
    april = dt.date(2025, 4, 1)
    changed_id = frame.filter(pl.col("month") == april)["complaint_id"][0]
    edited = frame.with_columns(
        description=pl.when(pl.col("complaint_id") == changed_id)
        .then(pl.lit(NEW_PHRASE))
        .otherwise(pl.col("description"))
    )
    tonight = judge(edited, fit_until, n_topics=6, seed=0, stored=first.state)
    assert tonight.state.model_reused
    assert (tonight.state.months_labelled, tonight.state.months_kept) == (1, months - 1)
    scratch = judge(edited, fit_until, n_topics=6, seed=0)
    assert tonight.state.model.equals(scratch.state.model)
    assert tonight.state.labels.equals(scratch.state.labels)
    assert tonight.alarms.equals(scratch.alarms)
    # other narrative code: the digest changes, the model is fitted again
    other = judge(frame, fit_until, n_topics=6, seed=0, stored=first.state, code_version="v2")
    assert not other.state.model_reused and other.state.months_kept == 0


def test_too_few_narratives_to_fit_on_no_model_and_no_state() -> None:
    judgement = judge(synthetic_corpus(), dt.date(2025, 1, 1), min_training_documents=10**6)
    assert judgement.model is None and judgement.alarms.is_empty()
    assert judgement.state.model.is_empty() and judgement.state.labels.is_empty()


# ---- service anomalies ----------------------------------------------------------------------


def service_table(bad_lot: str | None = "L05", seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    """10 lots x 20 serials; installation then 1-3 repairs; bad_lot's at a tenth of the hours."""
    rng = np.random.default_rng(seed)
    rows, mapping = [], []
    for lot_i in range(10):
        lot = f"L{lot_i:02d}"
        for s in range(20):
            sn = f"PMP-{lot_i * 100 + s:08d}"
            mapping.append((sn, lot))
            install = dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 60)))
            rows.append((sn, install, "installation", "false", None, "0.0"))
            hours = 0.0
            for _ in range(int(rng.integers(1, 4))):
                step = rng.uniform(1500, 4000) * (0.1 if lot == bad_lot else 1.0)
                hours += step
                day = install + dt.timedelta(days=int(hours / 10))
                fail = rng.random() < 0.7 or lot == bad_lot
                comp = "G04090" if lot == bad_lot else ["G02002", "G0301204", None][s % 3]
                rows.append(
                    (
                        sn,
                        day,
                        "repair",
                        "true" if fail else "false",
                        comp if fail else None,
                        f"{hours:.1f}",
                    )
                )
    service = pl.DataFrame(
        rows,
        schema=[
            "serial_number",
            "service_date",
            "service_type",
            "failure_found",
            "component_code",
            "usage_hours",
        ],
        orient="row",
    ).with_columns(pl.lit("Pump X").alias("device_model"), pl.col("service_date").cast(pl.String))
    lot_map = pl.DataFrame(mapping, schema=["serial_number", "lot_number"], orient="row")
    return service, lot_map


def test_serial_features_by_hand() -> None:
    service = pl.DataFrame(
        {
            "serial_number": ["A1", "A1", "A1", "B1", "B1"],
            "device_model": ["M"] * 5,
            "service_date": ["2024-01-01", "2024-01-11", "2024-03-01", "2024-01-01", "n/a"],
            "service_type": ["installation", "repair", "repair", "installation", "repair"],
            "failure_found": ["false", "true", "true", "false", "true"],
            "component_code": [None, "G1", "G2", None, "G1"],
            "usage_hours": ["0.0", "100", "not_a_number", "0.0", "5"],
        }
    )
    f = serial_features(service)
    a = f.filter(pl.col("serial_number") == "A1").row(0, named=True)
    assert a["repairs"] == 2 and a["failures"] == 2 and a["components_replaced"] == 2
    assert a["max_usage_hours"] == 100.0 and a["hours_to_first_failure"] == 100.0
    assert a["failures_per_1000h"] == pytest.approx(20.0) and a["days_to_first_repair"] == 10
    b = f.filter(pl.col("serial_number") == "B1").row(0, named=True)  # bad date row dropped
    assert b["repairs"] == 0 and b["days_to_first_repair"] is None


def test_early_failing_lot_flagged_and_null_table_not() -> None:
    service, lot_map = service_table("L05")
    feats = serial_features(service)
    m1, scored = fit_isolation_forest(feats, seed=0)
    m2, scored2 = fit_isolation_forest(feats, seed=0)
    assert m1.version == m2.version and scored.equals(scored2)
    out = cohort_anomalies(scored, lot_map=lot_map, alpha=0.01)
    assert out["lot_number"].to_list() == ["L05"]
    row = out.row(0, named=True)
    assert row["observed"] > row["expected"] and row["statistic"] <= row["threshold"]

    null_service, null_map = service_table(None)
    _, null_scored = fit_isolation_forest(serial_features(null_service), seed=0)
    assert cohort_anomalies(null_scored, lot_map=null_map, alpha=0.01).height == 0


# ---- the generated demo folder --------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ml_landing")
    pms = Path(sys.executable).parent / "pms"
    cmd = [str(pms)] if pms.exists() else [sys.executable, "-m", "pipelines.cli"]
    subprocess.run(
        [*cmd, "generate", "--out", str(out), "--seed", "42", "--scale", "demo"],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    return out


def _signal(root: Path, kind: str) -> dict[str, str]:
    sig = pl.read_csv(root / "_truth/signals.csv", infer_schema=False)
    return sig.filter(pl.col("kind") == kind).row(0, named=True)


def test_demo_narrative_new_mode_flagged(demo: Path) -> None:
    truth = _signal(demo, "narrative_new_mode")
    onset = dt.date.fromisoformat(truth["onset_date"]).replace(day=1)
    extract = dt.date(2026, 10, 31)
    raw = pl.read_csv(demo / "complaints/*.csv", infer_schema=False)
    current = latest_versions(raw, dt.datetime.combine(extract, dt.time(23, 59, 59)))
    families = pl.read_csv(demo / "products.csv").select("device_model", "device_family")
    frame = (
        current.join(families, on="device_model", how="inner")
        .with_columns(pl.col("received_date").str.to_date(strict=False).alias("received"))
        .filter(pl.col("received").is_not_null() & (pl.col("received") <= extract))
        .select(
            "complaint_id",
            "device_family",
            pl.col("received").dt.truncate("1mo").alias("month"),
            "description",
            "problem_code",
        )
    )
    m = onset.year * 12 + onset.month - 1 - 2  # fit on history up to 2 months before onset
    fit_until = dt.date(m // 12, m % 12 + 1, 1)
    alarms = judge(frame, fit_until, as_of=extract, n_topics=20, seed=0).alarms
    hits = alarms.filter(pl.col("device_family") == truth["scope_value"]).sort("month")
    assert hits.height >= 1
    first = hits.row(0, named=True)
    assert onset <= first["month"] <= _months(onset, 3)[2]
    assert first["unexplained"]
    false_alarms = alarms.filter(
        (pl.col("device_family") != truth["scope_value"]) | (pl.col("month") < onset)
    )
    print(f"\nnarrative: first alarm {first['month']} (onset {onset}); false {false_alarms.height}")
    assert false_alarms.height <= 2


def test_demo_service_early_failure_lot_flagged(demo: Path) -> None:
    truth = _signal(demo, "service_early_failure")
    service = pl.read_csv(demo / "service/*.csv", infer_schema=False)
    lots = pl.read_csv(demo / "lots/*.csv", infer_schema=False)
    complaints = pl.read_csv(demo / "complaints/*.csv", infer_schema=False)
    feats = serial_features(service)
    lot_map = serial_lot_map_from_lots(lots, feats)
    check = serial_lot_map_from_complaints(complaints).join(lot_map, on="serial_number")
    assert check.height > 100 and (check["lot_number"] == check["lot_number_right"]).mean() > 0.99
    _, scored = fit_isolation_forest(feats, seed=0)
    out = cohort_anomalies(scored, lot_map=lot_map, alpha=0.01)
    assert truth["scope_value"] in out["lot_number"].to_list()
    print(f"\nservice: flagged lots {out['lot_number'].to_list()}")
    assert out.height <= 2
