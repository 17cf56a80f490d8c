"""Complaint triage model: threshold rule, determinism, calibration, review flags, MAUDE figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from models.triage import (
    OUTCOMES,
    REVIEW_FLAG,
    TriageParams,
    base_suggestions,
    choose_threshold,
    data_fingerprint,
    evaluate_on_maude,
    fit_triage,
    load_maude,
    model_version,
    predict_triage,
    review_flags,
)

ROOT = Path(__file__).resolve().parents[1]
MAUDE = ROOT / "assets" / "reference" / "maude-reports" / "maude_web_reports_1995.csv"

# narrative, outcome, problem code, malfunction: each reads unambiguously
TEMPLATES = [
    ("patient died after the pump stopped infusing, death confirmed", "death", "A160105", True),
    ("patient expired in theatre, fatal bleed after the lead fractured", "death", "A0404", True),
    ("pt hospitalised for surgery to revise the implant, serious harm", "serious_injury", "A0404",
     True),
    ("required surgical intervention and icu admission, life threatening", "serious_injury",
     "A160105", True),
    ("minor skin burn treated on the ward with a dressing", "injury", "A2204", False),
    ("small bruise at the site, first aid only, recovered", "injury", "A2204", False),
    ("occlusion alarm sounded, no harm to the patient, pump replaced", "none", "A160105", True),
    ("display flickers, no patient involvement, no injury", "none", "A2204", True),
]  # fmt: skip


def complaints(copies: int = 6, undecided: int = 2) -> pl.DataFrame:
    rows = []
    n = 0
    for copy in range(copies + undecided):
        for text, outcome, code, malfunction in TEMPLATES:
            n += 1
            reportable = outcome in {"death", "serious_injury"}
            decided = copy < copies
            rows.append(
                {
                    "complaint_id": f"C{n:04d}",
                    # vary the wording a little so that folds do not see identical rows
                    "description": f"{text} case {copy} ward {n % 5}",
                    "patient_outcome": outcome,
                    "reportability_decision": ("yes" if reportable else "no") if decided else None,
                    "malfunction": malfunction,
                    "device_family": "Infusa" if n % 2 else "Cardiolink",
                    "source": "customer",
                    "health_effect_code": None,
                    "problem_code": code,
                    "rule_reportable": reportable if decided else None,
                }
            )
    return pl.DataFrame(rows)


SMALL = TriageParams(cv_folds=3, min_df=1, min_code_count=3, code_cv_folds=3)


@pytest.fixture(scope="module")
def fitted():
    frame = complaints()
    return frame, fit_triage(frame, SMALL)


def test_threshold_keeps_the_required_recall():
    assert choose_threshold([0.9, 0.8, 0.3, 0.2], [1, 1, 1, 0], 1.0) == 0.3
    # two of three positives (0.67 >= 0.6) are kept at 0.8
    assert choose_threshold([0.9, 0.8, 0.3, 0.2], [1, 1, 1, 0], 0.6) == 0.8
    # 0.95 of 20 positives = 19: the 19th highest positive score
    scores = [i / 20 for i in range(20, 0, -1)]
    assert choose_threshold(scores, [1] * 20, 0.95) == pytest.approx(0.1)
    assert choose_threshold([0.5, 0.4], [True, False], 0.95) == 0.5
    with pytest.raises(ValueError):
        choose_threshold([0.5], [0], 0.95)
    with pytest.raises(ValueError):
        choose_threshold([0.5], [1], 0.0)


def test_same_inputs_same_version_and_predictions(fitted):
    frame, model = fitted
    again = fit_triage(frame.sample(fraction=1.0, shuffle=True, seed=3), SMALL)
    assert model.version == again.version
    assert model.version.startswith("triage-") and len(model.version) == len("triage-") + 12
    first = predict_triage(model, frame)
    second = predict_triage(again, frame.reverse())
    assert first.equals(second)
    # a changed parameter or changed data gives another version
    assert fit_triage(frame, TriageParams(**{**SMALL.__dict__, "c": 1.0})).version != (
        model.version
    )
    changed = frame.with_columns(
        pl.when(pl.col("complaint_id") == "C0001")
        .then(pl.lit("no"))
        .otherwise(pl.col("reportability_decision"))
        .alias("reportability_decision")
    )
    assert fit_triage(changed, SMALL).version != model.version
    assert model_version("abc", SMALL) == model_version("abc", SMALL)
    assert model_version("abc", SMALL) != model_version("abd", SMALL)


def test_probabilities_are_probabilities(fitted):
    frame, model = fitted
    out = predict_triage(model, frame)
    probs = out.select([f"p_{o}" for o in OUTCOMES]).to_numpy()
    assert ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert out["p_reportable"].is_between(0, 1).all()
    assert out["problem_code_probability"].is_between(0, 1).all()
    assert set(out["predicted_outcome"]) <= set(OUTCOMES)
    assert (out["likely_reportable"] == (out["p_reportable"] >= model.threshold)).all()
    assert out["model_version"].unique().to_list() == [model.version]


def test_hand_made_narratives_are_read(fitted):
    frame, model = fitted
    undecided = frame.filter(pl.col("reportability_decision").is_null())
    out = predict_triage(model, undecided).join(undecided, on="complaint_id")
    assert not out["scored_out_of_fold"].any()
    died = out.filter(pl.col("description").str.contains("died|expired"))
    assert died.height == 4
    assert (died["predicted_outcome"] == "death").all()
    assert (out["predicted_outcome"] == out["patient_outcome"]).all()
    assert (out["suggested_problem_code"] == out["problem_code"]).all()
    serious = out["patient_outcome"].is_in(["death", "serious_injury"])
    assert out.filter(serious)["likely_reportable"].all()
    assert out.filter(serious)["p_reportable"].min() > out.filter(~serious)["p_reportable"].max()
    # decided complaints get their out-of-fold probability
    decided = predict_triage(model, frame.filter(pl.col("reportability_decision").is_not_null()))
    assert decided["scored_out_of_fold"].all()


def test_review_flag_only_for_likely_reportable_against_a_human_no():
    suggestions = pl.DataFrame(
        {
            "complaint_id": ["A", "B", "C", "D", "E"],
            "likely_reportable": [True, True, False, True, None],
            "p_reportable": [0.97, 0.91, 0.10, 0.88, 0.5],
            "model_version": ["triage-x"] * 5,
        }
    )
    decisions = pl.DataFrame(
        {
            "complaint_id": ["A", "B", "C", "D", "E"],
            "reportability_decision": ["No", "yes", "no", None, "no"],
        }
    )
    flags = review_flags(suggestions, decisions)
    assert flags["complaint_id"].to_list() == ["A"]
    assert flags["flag"].to_list() == [REVIEW_FLAG]
    assert "triage-x" in flags["detail"][0] and "0.97" in flags["detail"][0]
    assert flags.columns == ["complaint_id", "flag", "detail"]
    empty = review_flags(suggestions.clear(), decisions)
    assert empty.is_empty() and empty.columns == ["complaint_id", "flag", "detail"]


def test_maude_labels_and_text():
    data = load_maude(MAUDE)
    assert data.height == 1994  # the one 'Other' report is dropped
    counts = dict(data.group_by("event_type").len().iter_rows())
    assert counts == {"death": 25, "injury": 1503, "malfunction": 466}
    assert not data["text"].str.contains("Patient Problem").any()


def test_maude_hold_out_meets_the_recall_target():
    # measured (seed 0, 25% hold-out): macro-F1 0.822, recall death+injury 0.955 at the
    # threshold 0.585 chosen on out-of-fold predictions of the training part
    result = evaluate_on_maude(MAUDE, cross_validate=False)
    assert result["n_test"] == 499
    assert result["oof_recall_death_injury_train"] >= 0.95
    assert result["recall_death_injury"] >= 0.95
    assert result["macro_f1"] >= 0.75
    assert result["precision_death_injury"] >= 0.9
    matrix = np.array(result["confusion_matrix"]["rows_true_cols_predicted"])
    assert matrix.sum() == 499
    assert matrix.sum(axis=1).tolist() == [6, 376, 117]


def test_too_few_decided_complaints_is_an_error_the_asset_can_report():
    # the asset then suggests from the MAUDE base model alone (tests/test_triage_base.py)
    frame = complaints(copies=1, undecided=1)
    with pytest.raises(ValueError):
        fit_triage(frame, SMALL)
    undecided = frame.filter(pl.col("reportability_decision").is_null())
    base = undecided.select("complaint_id").with_columns(
        p_serious_base=pl.lit(0.7), drivers=pl.lit("word")
    )
    rows = base_suggestions(undecided, base, 0.5, "base-test")
    assert rows.height == len(TEMPLATES)
    assert rows["likely_reportable"].all() and rows["p_reportable"].is_not_null().all()
    assert rows.columns == predict_triage(fit_triage(complaints(), SMALL), complaints()).columns


def test_training_is_bounded_to_the_most_recent_complaints() -> None:
    import datetime as dt

    from models.triage import most_recent

    frame = pl.DataFrame(
        {
            "complaint_id": ["A", "B", "C", "D"],
            "received_date": [
                dt.date(2024, 1, 1),
                dt.date(2025, 1, 1),
                dt.date(2023, 1, 1),
                dt.date(2025, 1, 1),
            ],
        }
    )
    assert most_recent(frame, 2)["complaint_id"].to_list() == ["B", "D"]
    assert most_recent(frame, 3)["complaint_id"].to_list() == ["A", "B", "D"]
    assert most_recent(frame, 0).height == 4
    assert most_recent(frame.drop("received_date"), 2).height == 4


@pytest.mark.parametrize(
    ("as_of", "every", "cutoff"),
    [
        ("2026-10-31", 7, "2026-10-26"),  # Saturday -> the Monday before
        ("2026-10-26", 7, "2026-10-26"),  # a Monday is its own cutoff
        ("2026-11-01", 7, "2026-10-26"),  # Sunday still trains on that Monday
        ("2026-11-02", 7, "2026-11-02"),
        ("2026-01-01", 7, "2025-12-29"),  # across the year end
        ("2026-10-31", 1, "2026-10-31"),  # 1 = refit every night
        ("2000-01-16", 14, "2000-01-03"),  # 13 days after the epoch
        ("2000-01-17", 14, "2000-01-17"),
    ],
)
def test_training_cutoff_is_a_fixed_calendar(as_of: str, every: int, cutoff: str) -> None:
    import datetime as dt

    from models.triage import training_cutoff

    assert training_cutoff(dt.date.fromisoformat(as_of), every) == dt.date.fromisoformat(cutoff)


def test_training_cutoff_rejects_a_cadence_below_one_day() -> None:
    import datetime as dt

    from models.triage import training_cutoff

    with pytest.raises(ValueError, match="at least 1"):
        training_cutoff(dt.date(2026, 10, 31), 0)


def test_stored_model_gives_the_same_bytes_in_any_process_and_the_same_predictions(
    tmp_path: Path,
) -> None:
    """A reused model must score exactly as a refit one: pickled bytes do not depend on the
    process (hash seed, memory addresses) and a round trip predicts identically."""
    import hashlib
    import os
    import subprocess
    import sys

    from models.triage import dump_model, load_model

    frame = complaints()
    script = (
        "import hashlib, sys\n"
        "import polars as pl\n"
        "from models.triage import TriageParams, dump_model, fit_triage\n"
        f"frame = pl.read_parquet({str(tmp_path / 'c.parquet')!r})\n"
        "params = TriageParams(cv_folds=3, min_df=1, min_code_count=3, code_cv_folds=3)\n"
        "print(hashlib.sha256(dump_model(fit_triage(frame, params))).hexdigest())\n"
    )
    frame.write_parquet(tmp_path / "c.parquet")
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    model = fit_triage(frame, SMALL)
    data = dump_model(model)
    assert digests == {hashlib.sha256(data).hexdigest()}
    again = load_model(data)
    assert predict_triage(again, frame).equals(predict_triage(model, frame))
    with pytest.raises(TypeError, match="not a TriageModel"):
        load_model(__import__("pickle").dumps({"not": "a model"}))


def test_scores_do_not_depend_on_the_batch(fitted) -> None:
    """Scoring only tonight's new complaints gives each the same numbers as scoring all."""
    frame, model = fitted
    whole = predict_triage(model, frame)
    parts = pl.concat(
        [predict_triage(model, frame.head(7)), predict_triage(model, frame.slice(7))]
    ).sort("complaint_id")
    assert parts.equals(whole)


def test_data_fingerprint_ignores_row_order_even_with_ties_on_the_first_column() -> None:
    # Markets as the rules read them: several models per country. A DISTINCT query returns
    # them in any order; the model version must not change with it.
    markets = pl.DataFrame(
        {
            "country": ["DE", "DE", "DE", "US", "US", None],
            "device_model": ["M-2", "M-1", "M-3", "M-1", None, "M-2"],
        }
    )
    columns = sorted(markets.columns)
    expected = data_fingerprint(markets, columns)
    for seed in range(20):
        shuffled = markets.sample(fraction=1.0, shuffle=True, seed=seed)
        assert data_fingerprint(shuffled, columns) == expected
    changed = markets.with_columns(
        device_model=pl.when(pl.col("device_model") == "M-3")
        .then(pl.lit("M-4"))
        .otherwise(pl.col("device_model"))
    )
    assert data_fingerprint(changed, columns) != expected
