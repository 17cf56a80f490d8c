"""The triage base model learnt from public MAUDE reports (models/triage_base.py), checked against
FDA's own files and hand-worked cases, and against the issue's measure on device types the model
never saw."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from models.triage import (
    BASIS_BASE,
    BASIS_FIRM,
    BASIS_STACKED,
    TriageModel,
    TriageParams,
    adapt_to_base,
    base_suggestions,
)
from models.triage_base import (
    FIRM_OUTCOMES,
    MAUDE_EVENT_TYPES,
    BaseParams,
    drivers,
    firm_reports,
    fit_base,
    generalisation,
    landing_reports,
    model_card,
    model_card_markdown,
    predict_serious,
    reference_reports,
    serious_labels,
    split_narratives,
    threshold_for_recall,
    training_sample,
)

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "assets" / "reference"
MAUDE = REFERENCE / "maude-reports" / "maude_web_reports_1995.csv"


@pytest.fixture(scope="module")
def reference() -> pl.DataFrame:
    return reference_reports(pl.read_csv(MAUDE, infer_schema_length=0))


def test_event_type_codes_are_fdas():
    # openFDA's code list for device-event `event_type` (assets/reference/fda/openfda/enums.csv,
    # FDA/openfda): D Death, IN/IL/IJ Injury, M Malfunction, O Other, * No answer provided.
    enums = pl.read_csv(REFERENCE / "fda" / "openfda" / "enums.csv", infer_schema_length=0)
    fda = dict(enums.filter(pl.col("key_name") == "event_type").select("code", "code_desc").rows())
    labelled = {code: desc.lower() for code, desc in fda.items() if desc in ("Death", "Injury")}
    labelled |= {code: "malfunction" for code, desc in fda.items() if desc == "Malfunction"}
    assert labelled == MAUDE_EVENT_TYPES
    assert "O" not in MAUDE_EVENT_TYPES and "*" not in MAUDE_EVENT_TYPES  # no label


def test_firm_outcomes_follow_the_mdr_definition_of_serious_injury():
    # 21 CFR 803.3: an MDR "injury" is a serious injury (life-threatening, permanent impairment,
    # or needing intervention to preclude it); a non-serious injury is not one.
    assert FIRM_OUTCOMES["death"] == "death"
    assert FIRM_OUTCOMES["serious_injury"] == "injury"
    assert FIRM_OUTCOMES["injury"] == FIRM_OUTCOMES["none"] == "not_serious"
    frame = pl.DataFrame(
        {
            "complaint_id": ["C3", "C1", "C2", "C4"],
            "received_date": [dt.date(2025, 1, 2)] * 4,
            "patient_outcome": ["injury", "death", "serious_injury", "unknown"],
            "description": ["cut finger", "patient died", None, "?"],
            "product_code": ["FRN", None, "FRN", "FRN"],
        }
    )
    reports = firm_reports(frame)
    assert reports["report_id"].to_list() == ["C1", "C2", "C3"]  # unknown: no label
    assert serious_labels(reports["event_type"].to_list()).tolist() == [1, 1, 0]
    assert reports["product_group"].to_list() == ["(none)", "FRN", "FRN"]
    assert reports["text"].to_list() == ["patient died", "", "cut finger"]


def test_swapped_narratives_of_the_web_reports_are_put_back():
    # MDRFOI 20111086 of the shipped reports: FDA's page has the reporter's account under
    # "Manufacturer Narrative" and the manufacturer's investigation under "Event Description".
    raw = pl.read_csv(MAUDE, infer_schema_length=0).filter(pl.col("MDRFOI ID") == "20111086")
    description, narrative = raw["Event Description"][0], raw["Manufacturer Narrative"][0]
    assert description.startswith("The device was not returned for analysis")
    event, manufacturer = split_narratives(description, narrative)
    assert event.startswith("It was reported that") and manufacturer == description
    # an account in its right place stays there, and an empty column never wins
    assert split_narratives(narrative, description) == (narrative, description)
    assert split_narratives(None, "It was reported that the clip detached.")[0].startswith("It")
    assert split_narratives("The pump stopped.", None) == ("The pump stopped.", "")


def test_threshold_for_recall_by_hand():
    scores = np.array([0.9, 0.8, 0.3, 0.2])
    labels = np.array([1, 1, 1, 0])
    assert threshold_for_recall(scores, labels, 1.0) == 0.3  # all three positives kept
    assert threshold_for_recall(scores, labels, 0.6) == 0.8  # ceil(0.6 x 3) = 2 positives
    with pytest.raises(ValueError, match="no serious"):
        threshold_for_recall(scores, np.zeros(4), 0.95)


def _keys(sizes: dict[str, int]) -> pl.DataFrame:
    rows = [
        {"report_id": f"{group}-{i:03d}", "product_group": group, "year": 2024}
        for group, size in sizes.items()
        for i in range(size)
    ]
    return pl.DataFrame(rows).with_columns(
        source=pl.lit("maude_landing"), event_type=pl.lit("malfunction"), text=pl.lit("x")
    )


def test_training_sample_fills_strata_equally_by_hand():
    # strata A 10, B 2, C 5 and room for 9: an equal cap of 3 leaves B whole (2); the 7 left
    # share between A and C: 3 each and the one left over to the first by name, A.
    sample = training_sample(_keys({"A": 10, "B": 2, "C": 5}), 9, seed=0)
    counts = dict(sample.group_by("product_group").len().rows())
    assert counts == {"A": 4, "B": 2, "C": 3}
    # the same reports in another order give the same sample; another seed another one
    shuffled = _keys({"A": 10, "B": 2, "C": 5}).sample(fraction=1.0, shuffle=True, seed=3)
    assert training_sample(shuffled, 9, seed=0).equals(sample)
    assert not training_sample(_keys({"A": 10, "B": 2, "C": 5}), 9, seed=1).equals(sample)
    # room for all: every report, sorted
    assert training_sample(_keys({"A": 3}), 10)["report_id"].to_list() == [
        "A-000",
        "A-001",
        "A-002",
    ]


def test_landing_reports_keep_labelled_reports_only():
    frame = pl.DataFrame(
        {
            "report_id": ["4", "1", "2", "3", "5"],
            "product_code": ["FRN", "FRN", None, "DXY", "DXY"],
            "date_received": [dt.date(2025, 5, 1)] * 5,
            "event_type": ["M", "D", "IN", "O", "*"],
        }
    )
    reports = landing_reports(frame)
    assert reports["report_id"].to_list() == ["1", "2", "4"]
    assert reports["event_type"].to_list() == ["death", "injury", "malfunction"]
    assert reports["product_group"].to_list() == ["FRN", "(none)", "FRN"]
    assert reports["text"].is_null().all()  # filled after sampling


def test_base_model_out_of_domain_on_the_real_reports(reference: pl.DataFrame):
    # Issue 16's measure: device types the model never saw (each held out in turn), on the
    # shipped real reports, the threshold set on the training device types only. Target
    # recall 0.95 at specificity 0.70; measured 0.943 and 0.740 (README, "Day one: a base
    # model from public MAUDE").
    wanted = ("in-domain (stratified 5-fold)", "each product group held out in turn")
    rows = {r["split"]: r for r in generalisation(reference, BaseParams(), splits=wanted)}
    held_out = rows["each product group held out in turn"]
    assert held_out["reports"] == 1994 and held_out["serious"] == 1528
    assert held_out["recall_death_injury"] >= 0.93
    assert held_out["specificity_malfunction"] >= 0.70
    # Platt scaling on the scores of unseen groups: Brier 0.144 (0.199 uncalibrated)
    assert held_out["brier"] <= 0.16
    in_domain = rows["in-domain (stratified 5-fold)"]
    assert in_domain["recall_death_injury"] >= 0.95
    assert in_domain["specificity_malfunction"] > held_out["specificity_malfunction"]


def test_base_model_is_deterministic_and_names_its_drivers(reference: pl.DataFrame):
    first = fit_base(reference)
    again = fit_base(reference.sample(fraction=1.0, shuffle=True, seed=5))
    assert first.version == again.version and first.version.startswith("base-")
    texts = [
        "It was reported that the patient died shortly after the procedure.",
        "It was reported that the packaging was torn; the device was not used on a patient.",
        None,
    ]
    p = predict_serious(first, texts)
    assert np.array_equal(p, predict_serious(again, texts))
    assert p[0] > first.threshold > p[1]
    words = drivers(first, texts)
    # up to three terms of the narrative itself, none starting or ending with a stop word
    assert 1 <= len(words[0].split("; ")) <= 3
    assert all(term in texts[0].lower() for term in words[0].split("; "))
    assert "the" not in " ".join(words[0].split("; ")).split()
    assert words[2] == ""
    assert first.card["reports_by_event_type"] == {"death": 25, "injury": 1503, "malfunction": 466}
    grouped = first.card["grouped_out_of_fold"]
    assert grouped["recall_death_injury"] >= 0.95  # the threshold is set on these scores


def test_day_one_suggestions_and_the_model_card(reference: pl.DataFrame):
    base = fit_base(reference)
    complaints = pl.DataFrame(
        {"complaint_id": ["C2", "C1"], "description": ["patient died", "screen flickers"]}
    )
    scores = pl.DataFrame(
        {
            "complaint_id": ["C1", "C2"],
            "p_serious_base": predict_serious(base, ["screen flickers", "patient died"]),
            "drivers": drivers(base, ["screen flickers", "patient died"]),
        }
    )
    rows = base_suggestions(complaints, scores, base.threshold, base.version)
    assert rows["complaint_id"].to_list() == ["C1", "C2"]
    assert rows["p_reportable"].is_not_null().all()
    assert rows["suggestion_basis"].to_list() == [BASIS_BASE] * 2
    assert rows["model_version"].to_list() == [base.version] * 2
    assert rows.filter(pl.col("complaint_id") == "C2")["likely_reportable"].item()
    card = model_card("2026-01-05", base, BASIS_BASE, "no decided complaints", None, None)
    text = model_card_markdown(card)
    assert base.version in text and "1994 MAUDE reports" in text and "no decided" in text


def _firm_model(labels: list[int], p_firm: list[float]) -> TriageModel:
    ids = [f"C{i:03d}" for i in range(len(labels))]
    return TriageModel(
        outcome=None,  # type: ignore[arg-type]  # adapt_to_base reads the out-of-fold scores only
        reportable=None,  # type: ignore[arg-type]
        problem_code=None,
        threshold=0.5,
        version="triage-test",
        params=TriageParams(),
        oof_p_reportable=dict(zip(ids, p_firm, strict=True)),
        oof_label=dict(zip(ids, labels, strict=True)),
    )


def test_adaptation_stacks_only_a_base_model_that_helps():
    rng = random.Random(7)
    labels = [1 if i % 3 else 0 for i in range(300)]
    # the firm's model knows little (scores near 0.5 whatever the label) ...
    p_firm = [0.5 + rng.uniform(-0.05, 0.05) for _ in labels]
    model = _firm_model(labels, p_firm)
    ids = sorted(model.oof_p_reportable)
    # ... a base model that separates the classes is stacked,
    informative = {
        i: (0.9 if y else 0.1) + rng.uniform(-0.05, 0.05) for i, y in zip(ids, labels, strict=True)
    }
    stacked = adapt_to_base(model, informative)
    assert stacked.basis == BASIS_STACKED and stacked.stack is not None
    assert stacked.brier_stacked < 0.98 * stacked.brier_firm
    # ... one that is noise is not: a calibrated firm model (each label drawn with the firm's
    # probability) stays alone
    calibrated = [rng.uniform(0.05, 0.95) for _ in labels]
    drawn = [int(rng.random() < p) for p in calibrated]
    noise = {i: rng.uniform(0.0, 1.0) for i in ids}
    alone = adapt_to_base(_firm_model(drawn, calibrated), noise)
    assert alone.basis == BASIS_FIRM and alone.stack is None and alone.threshold == 0.5
