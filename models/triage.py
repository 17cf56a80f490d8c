"""Complaint triage: outcome severity, p(reportable) and an IMDRF Annex A code suggestion.

A suggestion never overrides a human decision. It helps order the work of complaints that have no
reportability decision yet, and raises a review flag where the model calls a complaint likely
reportable that a human decided was not (``review_flags``).

How it is trained (``fit_triage``), on the firm's own decided complaints (reportability decision
'yes' or 'no'), sorted by complaint id:

* Features: TF-IDF of the narrative (word 1-2-grams, sublinear tf, capped vocabulary) plus one-hot
  structured intake fields (malfunction, device family, source, health-effect and problem codes).
  The patient outcome is never a feature: it is what the outcome model predicts, and the rules
  derive reportability from it.
* Classifier: logistic regression (``class_weight='balanced'``, fixed ``random_state``: deaths are
  rare), wrapped in ``CalibratedClassifierCV`` (sigmoid by default, stratified k-fold with a fixed
  seed) so that the probabilities are calibrated on data the regression was not fitted on.
* Outcome model: death / serious_injury / injury / none, on decided complaints whose recorded
  outcome is known (not 'unknown').
* Reportability model: binary, label = the rule-derived reportability (reportable in any regime in
  ``marts.vigilance_flags``), falling back to the human decision where a complaint has no rule row.
  Not the human decision itself: the rules are the reviewed, cited regulatory criteria, whereas a
  model trained to imitate the human decisions would learn their errors and so tend to agree with
  exactly the wrong 'no' decisions the review flag is meant to catch.
* Problem-code suggester: the same features without the problem code, to the complaint's IMDRF
  Annex A code, on complaints that carry one (codes seen fewer than ``min_code_count`` times are
  left out: they cannot be calibrated by k-fold); returns the top code and its probability.

The operating threshold on p(reportable) is chosen on out-of-fold predictions of the training
data (never on the data it is then applied to) as the highest threshold that keeps the recall of
reportable complaints at or above ``target_recall``: for triage a missed reportable event
(a late or missing MDR/vigilance report) costs far more than reviewing a false alarm, so recall
is fixed first and precision is whatever the highest such threshold gives. Decided complaints are
scored out of fold too, so that a review flag on a human 'no' never comes from a model that has
seen that complaint's label.

``evaluate_on_maude`` measures the same recipe (text only) on 1,995 real FDA MAUDE reports.

Deterministic: fixed seeds, explicit sorts; ``TriageModel.version`` is a hash of the training
data, the parameters and the scikit-learn version, so the same inputs give the same version and
the same predictions.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import pickle
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pandas as pd
import polars as pl
import sklearn
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from models.pickling import stable_pickle

P = ParamSpec("P")
R = TypeVar("R")

OUTCOMES: tuple[str, ...] = ("death", "serious_injury", "injury", "none")
TEXT_COLUMN = "description"
CATEGORICAL_COLUMNS: tuple[str, ...] = (
    "malfunction",
    "device_family",
    "source",
    "health_effect_code",
    "problem_code",
)
REVIEW_FLAG = "triage_suggests_reportable"
MAUDE_CLASSES: tuple[str, ...] = ("death", "injury", "malfunction")
MAUDE_REPORTABLE: tuple[str, ...] = ("death", "injury")
# Bump when the recipe changes in a way the parameters do not show (features, solver, labels).
RECIPE = "tfidf-word12+onehot/logreg-balanced/calibrated-cv/rule-label/stacked-base/v2"
# What a suggestion rests on (`suggestion_basis`).
BASIS_BASE = "base"  # the MAUDE base model alone: the firm has too few decided complaints
BASIS_FIRM = "firm"  # the firm's own model: the base model did not improve it
BASIS_STACKED = "firm+base"  # the firm's model and the base model, stacked


SUGGESTION_SCHEMA: dict[str, pl.DataType] = {
    "complaint_id": pl.Utf8(),
    "predicted_outcome": pl.Utf8(),
    "p_reportable": pl.Float64(),
    "likely_reportable": pl.Boolean(),
    "suggested_problem_code": pl.Utf8(),
    "problem_code_probability": pl.Float64(),
    "model_version": pl.Utf8(),
    **{f"p_{name}": pl.Float64() for name in OUTCOMES},
    "scored_out_of_fold": pl.Boolean(),
    "operating_threshold": pl.Float64(),
    # the MAUDE base model's p(death or serious injury) and the narrative's words that raised it
    "p_serious_base": pl.Float64(),
    "drivers": pl.Utf8(),
    "suggestion_basis": pl.Utf8(),
}


@dataclass(frozen=True)
class TriageParams:
    """Hyperparameters and operating choices (config/pipeline.toml ``[triage]``)."""

    target_recall: float = 0.95
    seed: int = 0
    calibration: str = "sigmoid"  # or "isotonic"
    cv_folds: int = 5
    max_features: int = 20000
    ngram_max: int = 2
    min_df: int = 2
    c: float = 4.0
    max_iter: int = 2000
    min_code_count: int = 10
    code_cv_folds: int = 3
    # the most recent complaints a night trains on (by awareness date, then id): the nightly cost
    # stays bounded as history grows, and the model follows the current narratives; 0 = all
    max_training_rows: int = 50000
    # the model is refitted on a fixed calendar (every N days from TRAINING_EPOCH, a Monday) on
    # the complaints as they were known on that day (`training_cutoff`); in between, nights reuse
    # it and score only new or changed complaints. 1 = refit every night.
    retrain_every_days: int = 7
    # the stack of the firm's and the base model is used only when its out-of-fold Brier score
    # is at least this share lower than the firm model's: a near tie keeps the simpler model and
    # cannot flip with the last digit of a floating-point sum
    stack_min_brier_gain: float = 0.02

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> TriageParams:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in section.items() if k in known})


@dataclass
class TriageModel:
    outcome: Pipeline
    reportable: Pipeline
    problem_code: Pipeline | None
    threshold: float
    version: str
    params: TriageParams
    training: dict[str, Any] = field(default_factory=dict)
    # out-of-fold p(reportable) of every training complaint: complaint_id -> probability
    oof_p_reportable: dict[str, float] = field(default_factory=dict)
    # the label of every training complaint: complaint_id -> 1 reportable / 0 not
    oof_label: dict[str, int] = field(default_factory=dict)
    # how the base model is combined with this one (`adapt_to_base`); None: not yet decided
    adaptation: Adaptation | None = None


@dataclass
class Adaptation:
    """The firm's model combined with the MAUDE base model (`adapt_to_base`): `basis` says which
    suggestion is used; `stack` maps (logit p_firm, logit p_base) to p(reportable) when stacked."""

    basis: str
    stack: LogisticRegression | None
    threshold: float
    reason: str
    brier_firm: float
    brier_stacked: float
    oof_p: dict[str, float] = field(default_factory=dict)


TRAINING_EPOCH = dt.date(2000, 1, 3)  # a Monday: with a 7-day cadence every cutoff is a Monday

# --------------------------------------------------------------------------------------------
# building blocks


def training_cutoff(as_of: dt.date, every_days: int) -> dt.date:
    """The night whose knowledge the model of `as_of` is trained on: the latest day <= `as_of`
    that lies a whole number of `every_days` after TRAINING_EPOCH. With 7 days, Saturday
    2026-10-31 trains on Monday 2026-10-26, and so does every night up to Sunday 2026-11-01."""
    if every_days < 1:
        raise ValueError(f"retrain_every_days must be at least 1, got {every_days}")
    return as_of - dt.timedelta(days=(as_of - TRAINING_EPOCH).days % every_days)


def dump_model(model: TriageModel) -> bytes:
    """The fitted model as bytes, to keep between nights (`models.pickling.stable_pickle`: the
    same model gives the same bytes in any process)."""
    return stable_pickle(
        model,
        [
            transformer
            for pipeline in (model.outcome, model.reportable, model.problem_code)
            if pipeline is not None
            for _, transformer, _ in pipeline.named_steps["features"].transformers_
        ],
    )


def load_model(data: bytes) -> TriageModel:
    # only ever bytes that dump_model wrote into the pipeline's own warehouse
    model = pickle.loads(data)
    if not isinstance(model, TriageModel):
        raise TypeError(f"stored triage model is a {type(model).__name__}, not a TriageModel")
    return model


def _single_threaded(function: Callable[P, R]) -> Callable[P, R]:
    """Run with one BLAS/OpenMP thread: sparse logistic regression gains nothing from more, a
    loaded machine loses 10-20x to oversubscription, and one thread keeps float sums in the same
    order, so predictions are identical from run to run."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=1):
            return function(*args, **kwargs)

    return wrapper


def _as_pandas(frame: pl.DataFrame, categorical: Sequence[str]) -> pd.DataFrame:
    data: dict[str, list[str]] = {
        TEXT_COLUMN: [t or "" for t in frame[TEXT_COLUMN].cast(pl.Utf8).to_list()]
    }
    for column in categorical:
        values = frame[column].cast(pl.Utf8).to_list() if column in frame.columns else []
        data[column] = [v if v not in (None, "") else "(none)" for v in values] or [
            "(none)"
        ] * frame.height
    return pd.DataFrame(data)


def make_classifier(
    params: TriageParams, categorical: Sequence[str], folds: int, binary: bool = False
) -> Pipeline:
    """TF-IDF text + one-hot fields -> calibrated, class-balanced logistic regression
    (liblinear for a binary target, multinomial lbfgs otherwise)."""
    transformers: list[tuple[str, Any, Any]] = [
        (
            "text",
            TfidfVectorizer(
                ngram_range=(1, params.ngram_max),
                sublinear_tf=True,
                min_df=params.min_df,
                max_features=params.max_features,
                lowercase=True,
                strip_accents="unicode",
                dtype=np.float64,
            ),
            TEXT_COLUMN,
        )
    ]
    if categorical:
        transformers.append(("fields", OneHotEncoder(handle_unknown="ignore"), list(categorical)))
    regression = LogisticRegression(
        C=params.c,
        class_weight="balanced",
        max_iter=params.max_iter,
        random_state=params.seed,
        solver="liblinear" if binary else "lbfgs",
    )
    calibrated = CalibratedClassifierCV(
        regression,
        method=params.calibration,
        cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=params.seed),
    )
    return Pipeline([("features", ColumnTransformer(transformers)), ("model", calibrated)])


def _folds(labels: Sequence[Any], wanted: int) -> int:
    counts: dict[Any, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    smallest = min(counts.values()) if counts else 0
    if smallest < 2:
        raise ValueError(f"every class needs at least 2 examples, got {sorted(counts.items())}")
    return max(2, min(wanted, smallest))


def _fit(
    pipeline: Pipeline,
    x: pd.DataFrame,
    y: np.ndarray,
    params: TriageParams,
    oof_folds: int | None = None,
) -> np.ndarray | None:
    """Fit `pipeline` in place; with `oof_folds`, also return out-of-fold probabilities.

    The text and one-hot features are fitted once on all rows (label-free: vocabulary and idf
    only), then the calibrated classifier is cross-validated and fitted on them: the same model as
    refitting the features per fold, at a fraction of the cost."""
    features = pipeline.named_steps["features"]
    matrix = features.fit_transform(x)
    classifier = pipeline.named_steps["model"]
    oof = None
    if oof_folds is not None:
        oof = cross_val_predict(
            clone(classifier),
            matrix,
            y,
            cv=StratifiedKFold(n_splits=oof_folds, shuffle=True, random_state=params.seed),
            method="predict_proba",
        )
    classifier.fit(matrix, y)
    return oof


def choose_threshold(
    scores: Sequence[float], labels: Sequence[int | bool], target_recall: float
) -> float:
    """Highest threshold t such that predicting positive for score >= t keeps the recall of the
    positives >= target_recall. With scores [0.9, 0.8, 0.3, 0.2], labels [1, 1, 1, 0] and target
    1.0 this is 0.3 (all three positives need to be kept); with target 0.6 it is 0.8."""
    if not 0.0 < target_recall <= 1.0:
        raise ValueError("target_recall must be in (0, 1]")
    positives = sorted((float(s) for s, y in zip(scores, labels, strict=True) if y), reverse=True)
    if not positives:
        raise ValueError("no positive examples to set a recall threshold on")
    needed = max(1, math.ceil(target_recall * len(positives) - 1e-9))
    return positives[needed - 1]


def model_version(fingerprint: str, params: TriageParams) -> str:
    """`triage-<sha256[:12]>` over the training data fingerprint, parameters and sklearn version."""
    payload = json.dumps(
        {
            "data": fingerprint,
            "params": asdict(params),
            "recipe": RECIPE,
            "sklearn": sklearn.__version__,
        },
        sort_keys=True,
    )
    return "triage-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


def data_fingerprint(frame: pl.DataFrame, columns: Sequence[str]) -> str:
    """sha256 of the rows of `columns`, whatever their order: the rows are sorted on every
    column, so ties on the first one (several models per country, codes per family) cannot
    reorder between runs and give the same data another fingerprint."""
    digest = hashlib.sha256()
    for row in frame.select(columns).sort(list(columns), nulls_last=True).iter_rows():
        digest.update(json.dumps(row, default=str).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# training and prediction on the firm's complaints


def most_recent(frame: pl.DataFrame, limit: int) -> pl.DataFrame:
    """The `limit` most recent rows by `received_date` (then complaint_id), in complaint_id
    order; all rows when `limit` is 0 or the frame has no received_date."""
    if not limit or frame.height <= limit or "received_date" not in frame.columns:
        return frame
    return (
        frame.sort(["received_date", "complaint_id"], descending=True)
        .head(limit)
        .sort("complaint_id")
    )


def training_labels(frame: pl.DataFrame) -> pl.DataFrame:
    """Decided complaints with a `reportable_label`: the rule-derived reportability
    (`rule_reportable`) where known, else the human decision."""
    decision = pl.col("reportability_decision").str.to_lowercase().str.strip_chars()
    rule = (
        pl.col("rule_reportable")
        if "rule_reportable" in frame.columns
        else pl.lit(None, dtype=pl.Boolean)
    )
    return (
        frame.filter(decision.is_in(["yes", "no"]))
        .with_columns(reportable_label=pl.coalesce(rule, decision == "yes").cast(pl.Int8))
        .sort("complaint_id")
    )


@_single_threaded
def fit_triage(
    frame: pl.DataFrame, params: TriageParams | None = None, version: str | None = None
) -> TriageModel:
    """Fit the three models on the decided complaints of `frame`.

    `frame` columns: complaint_id, description, patient_outcome, reportability_decision and the
    CATEGORICAL_COLUMNS; optionally rule_reportable (bool, reportable in any regime).
    `version`: the model version when the caller has already fingerprinted the training data
    (see `model_version`); by default a fingerprint of `frame` is hashed here."""
    params = params or TriageParams()
    decided = most_recent(training_labels(frame), params.max_training_rows)
    categorical = [c for c in CATEGORICAL_COLUMNS if c in frame.columns]

    # reportability: calibrated binary model, threshold from out-of-fold predictions
    y_rep = decided["reportable_label"].to_numpy()
    folds = _folds(y_rep.tolist(), params.cv_folds)
    reportable = make_classifier(params, categorical, folds, binary=True)
    oof = _fit(reportable, _as_pandas(decided, categorical), y_rep, params, oof_folds=folds)
    assert oof is not None
    oof = oof[:, 1]
    threshold = choose_threshold(oof.tolist(), y_rep.tolist(), params.target_recall)
    predicted = oof >= threshold

    # outcome severity
    known = decided.filter(pl.col("patient_outcome").is_in(list(OUTCOMES)))
    y_out = known["patient_outcome"].to_numpy()
    outcome = make_classifier(params, categorical, _folds(y_out.tolist(), params.cv_folds))
    _fit(outcome, _as_pandas(known, categorical), y_out, params)

    # IMDRF Annex A problem code from the narrative and the other fields
    code_fields = [c for c in categorical if c != "problem_code"]
    coded = most_recent(
        frame.filter(pl.col("problem_code").is_not_null() & (pl.col("problem_code") != "")),
        params.max_training_rows,
    )
    counts = coded.group_by("problem_code").len().filter(pl.col("len") >= params.min_code_count)
    coded = coded.filter(pl.col("problem_code").is_in(counts["problem_code"].to_list())).sort(
        "complaint_id"
    )
    code_model: Pipeline | None = None
    if counts.height >= 2:
        y_code = coded["problem_code"].to_numpy()
        code_model = make_classifier(
            params, code_fields, _folds(y_code.tolist(), params.code_cv_folds)
        )
        _fit(code_model, _as_pandas(coded, code_fields), y_code, params)

    fingerprint_columns = [
        "complaint_id",
        TEXT_COLUMN,
        "patient_outcome",
        "reportability_decision",
        *categorical,
        *(["rule_reportable"] if "rule_reportable" in frame.columns else []),
    ]
    version = version or model_version(data_fingerprint(frame, fingerprint_columns), params)
    training = {
        "n_train_reportable": int(decided.height),
        "n_reportable": int(y_rep.sum()),
        "n_train_outcome": int(known.height),
        "n_train_problem_code": int(coded.height),
        "n_problem_codes": int(counts.height),
        "threshold": float(threshold),
        "oof_recall_at_threshold": float(recall_score(y_rep, predicted, zero_division=0)),
        "oof_precision_at_threshold": float(precision_score(y_rep, predicted, zero_division=0)),
        "oof_flagged_share": float(predicted.mean()),
        "calibration_folds": int(folds),
    }
    return TriageModel(
        outcome=outcome,
        reportable=reportable,
        problem_code=code_model,
        threshold=float(threshold),
        version=version,
        params=params,
        training=training,
        oof_p_reportable=dict(zip(decided["complaint_id"].to_list(), oof.tolist(), strict=True)),
        oof_label=dict(
            zip(decided["complaint_id"].to_list(), [int(v) for v in y_rep], strict=True)
        ),
    )


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _stack_features(p_firm: np.ndarray, p_base: np.ndarray) -> np.ndarray:
    return np.column_stack([_logit(p_firm), _logit(p_base)])


@_single_threaded
def adapt_to_base(model: TriageModel, base_scores: dict[str, float]) -> Adaptation:
    """Decide how the base model's p(death or serious injury) joins the firm's model.

    On the firm's decided training complaints, a logistic regression stacks the firm model's
    out-of-fold p(reportable) and the base model's score (the base model never saw these
    complaints); its own out-of-fold probabilities (stratified k-fold, fixed seed) are compared
    with the firm model's by Brier score. The stack is used when it scores at least
    `stack_min_brier_gain` lower (relative), else the firm model alone; the operating
    threshold is set on the out-of-fold probabilities of the one used (recall of reportable >=
    target_recall)."""
    ids = sorted(model.oof_p_reportable)
    y = np.array([model.oof_label[i] for i in ids])
    p_firm = np.array([model.oof_p_reportable[i] for i in ids])
    p_base = np.array([base_scores.get(i, 0.5) for i in ids])
    params = model.params
    folds = _folds(y.tolist(), params.cv_folds)
    stack = LogisticRegression(random_state=params.seed, max_iter=params.max_iter)
    features = _stack_features(p_firm, p_base)
    stacked_oof = cross_val_predict(
        stack,
        features,
        y,
        cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=params.seed),
        method="predict_proba",
    )[:, 1]
    brier_firm = float(brier_score_loss(y, p_firm))
    brier_stacked = float(brier_score_loss(y, stacked_oof))
    if brier_stacked <= (1.0 - params.stack_min_brier_gain) * brier_firm:
        stack.fit(features, y)
        threshold = choose_threshold(stacked_oof.tolist(), y.tolist(), params.target_recall)
        return Adaptation(
            BASIS_STACKED,
            stack,
            threshold,
            f"stacked: out-of-fold Brier score {brier_stacked:.4f} against {brier_firm:.4f} for "
            f"the firm's model alone (at least {params.stack_min_brier_gain:.0%} lower), on "
            f"{len(ids)} decided complaints",
            brier_firm,
            brier_stacked,
            dict(zip(ids, stacked_oof.tolist(), strict=True)),
        )
    return Adaptation(
        BASIS_FIRM,
        None,
        model.threshold,
        f"firm's model alone: the stack's out-of-fold Brier score {brier_stacked:.4f} is not "
        f"{params.stack_min_brier_gain:.0%} lower than its {brier_firm:.4f}, on {len(ids)} "
        "decided complaints",
        brier_firm,
        brier_stacked,
        {},
    )


@_single_threaded
def predict_triage(
    model: TriageModel,
    frame: pl.DataFrame,
    base: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per complaint of `frame`: predicted outcome and its probabilities, p_reportable,
    likely_reportable (p_reportable >= the operating threshold), the suggested problem code and
    its probability, and the model version. A complaint the model was trained on gets its
    out-of-fold p_reportable (`scored_out_of_fold`), so a flag never echoes its own label.

    `base`: complaint_id, p_serious_base, drivers from the MAUDE base model; with the model's
    `adaptation` stacked, p_reportable is the stack of the firm's and the base model's scores."""
    frame = frame.sort("complaint_id")
    if base is None:
        base = pl.DataFrame(
            {"complaint_id": frame["complaint_id"]},
        ).with_columns(p_serious_base=pl.lit(None, pl.Float64), drivers=pl.lit(None, pl.Utf8))
    base = frame.select("complaint_id").join(base, on="complaint_id", how="left")
    categorical = [c for c in CATEGORICAL_COLUMNS if c in frame.columns]
    x = _as_pandas(frame, categorical)
    ids = frame["complaint_id"].to_list()
    outcome_p = model.outcome.predict_proba(x)
    classes = [str(c) for c in model.outcome.classes_]
    columns: dict[str, Any] = {"complaint_id": ids}
    probs = {name: np.zeros(frame.height) for name in OUTCOMES}
    for i, name in enumerate(classes):
        probs[name] = outcome_p[:, i]
    order = np.array(OUTCOMES)
    stacked = np.column_stack([probs[name] for name in OUTCOMES])
    columns["predicted_outcome"] = order[stacked.argmax(axis=1)].tolist()
    in_sample = model.reportable.predict_proba(x)[:, 1]
    adaptation = model.adaptation
    stacked = adaptation is not None and adaptation.stack is not None
    threshold = adaptation.threshold if adaptation is not None else model.threshold
    if stacked:
        assert adaptation is not None and adaptation.stack is not None
        p_base = base["p_serious_base"].fill_null(0.5).to_numpy()
        in_sample = adaptation.stack.predict_proba(_stack_features(in_sample, p_base))[:, 1]
        oof = [adaptation.oof_p.get(i) for i in ids]
    else:
        oof = [model.oof_p_reportable.get(i) for i in ids]
    columns["p_reportable"] = [
        float(o) if o is not None else float(p) for o, p in zip(oof, in_sample, strict=True)
    ]
    columns["scored_out_of_fold"] = [o is not None for o in oof]
    columns["likely_reportable"] = [p >= threshold for p in columns["p_reportable"]]
    for name in OUTCOMES:
        columns[f"p_{name}"] = probs[name].tolist()
    if model.problem_code is not None:
        code_fields = [c for c in categorical if c != "problem_code"]
        code_p = model.problem_code.predict_proba(_as_pandas(frame, code_fields))
        code_classes = np.array([str(c) for c in model.problem_code.classes_])
        best = code_p.argmax(axis=1)
        columns["suggested_problem_code"] = code_classes[best].tolist()
        columns["problem_code_probability"] = code_p[np.arange(frame.height), best].tolist()
    else:
        columns["suggested_problem_code"] = [None] * frame.height
        columns["problem_code_probability"] = [None] * frame.height
    columns["operating_threshold"] = [threshold] * frame.height
    columns["model_version"] = [model.version] * frame.height
    columns["p_serious_base"] = base["p_serious_base"].to_list()
    columns["drivers"] = base["drivers"].to_list()
    columns["suggestion_basis"] = [BASIS_STACKED if stacked else BASIS_FIRM] * frame.height
    return pl.DataFrame(columns).select(list(SUGGESTION_SCHEMA)).cast(SUGGESTION_SCHEMA)


def base_suggestions(
    frame: pl.DataFrame, base: pl.DataFrame, threshold: float, version: str
) -> pl.DataFrame:
    """Suggestions from the MAUDE base model alone, for a firm whose own model cannot be trained
    yet: p_reportable is the base model's p(death or serious injury); likely_reportable at the
    base model's threshold, predicted_outcome 'serious_injury' (death or serious injury) there,
    else 'none'. The base model does not tell death from serious injury, nor learn which
    malfunctions are reportable (marts.vigilance_flags judges those by the rules)."""
    rows = frame.select("complaint_id").join(base, on="complaint_id", how="left")
    p = pl.col("p_serious_base")
    return (
        rows.with_columns(
            p_reportable=p,
            likely_reportable=p >= threshold,
            predicted_outcome=pl.when(p >= threshold)
            .then(pl.lit("serious_injury"))
            .when(p.is_not_null())
            .then(pl.lit("none")),
            operating_threshold=pl.lit(threshold, pl.Float64),
            model_version=pl.lit(version),
            suggestion_basis=pl.lit(BASIS_BASE),
            scored_out_of_fold=pl.lit(False),
        )
        .select(
            [
                pl.col(name)
                if name in rows.columns or name in _BASE_FILLED
                else pl.lit(None, dtype).alias(name)
                for name, dtype in SUGGESTION_SCHEMA.items()
            ]
        )
        .cast(SUGGESTION_SCHEMA)
        .sort("complaint_id")
    )


_BASE_FILLED = {
    "p_reportable",
    "likely_reportable",
    "predicted_outcome",
    "operating_threshold",
    "model_version",
    "suggestion_basis",
    "scored_out_of_fold",
}


def review_flags(suggestions: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """Complaints the model calls likely reportable that a human decided were not ('no').

    `suggestions`: complaint_id, likely_reportable, p_reportable (+ model_version, optional);
    `decisions`: complaint_id, reportability_decision. The human decision stands; the flag only
    asks for a second look. Columns: complaint_id, flag, detail."""
    schema = {"complaint_id": pl.Utf8, "flag": pl.Utf8, "detail": pl.Utf8}
    if suggestions.is_empty() or decisions.is_empty():
        return pl.DataFrame(schema=schema)
    version = (
        pl.col("model_version")
        if "model_version" in suggestions.columns
        else pl.lit("triage model", dtype=pl.Utf8)
    )
    said_no = decisions.filter(
        pl.col("reportability_decision").str.to_lowercase().str.strip_chars() == "no"
    ).select("complaint_id")
    return (
        suggestions.filter(pl.col("likely_reportable").fill_null(False))
        .join(said_no, on="complaint_id", how="inner")
        .select(
            "complaint_id",
            pl.lit(REVIEW_FLAG).alias("flag"),
            pl.format(
                "human decision 'no' but {} gives p(reportable) = {} (likely reportable)",
                version,
                pl.col("p_reportable").round(3),
            ).alias("detail"),
        )
        .unique("complaint_id", keep="first")
        .sort("complaint_id")
    )


# --------------------------------------------------------------------------------------------
# evaluation on real MAUDE narratives


def load_maude(path: Path | str) -> pl.DataFrame:
    """The MAUDE web reports with `event_type` in death/injury/malfunction ('Other' dropped) and
    `text` = event description + manufacturer narrative. 'Patient Problem' is left out: its
    codes (e.g. 'Death', 'No Clinical Signs, Symptoms or Conditions') partly restate the
    event type, i.e. leak the label."""
    raw = pl.read_csv(path, infer_schema_length=0)
    event = (
        pl.col("Event Type")
        .str.replace_all("\u00a0", " ")
        .str.replace(r"(?i)^\s*event type\s*", "")
        .str.strip_chars()
        .str.to_lowercase()
    )
    return (
        raw.with_columns(
            event_type=event,
            text=pl.concat_str(
                [
                    pl.col("Event Description").fill_null(""),
                    pl.col("Manufacturer Narrative").fill_null(""),
                ],
                separator=" ",
            ),
            report_id=pl.col("MDRFOI ID"),
        )
        .filter(pl.col("event_type").is_in(list(MAUDE_CLASSES)))
        .select("report_id", "event_type", "text")
        .sort("report_id")
    )


@_single_threaded
def evaluate_on_maude(
    path: Path | str, params: TriageParams | None = None, cross_validate: bool = True
) -> dict[str, Any]:
    """Outcome model recipe (text only) on real MAUDE reports: stratified 25% hold-out; the
    threshold on p(death) + p(injury) is chosen on out-of-fold predictions of the training part
    (recall of death + injury >= target_recall) and then applied to the hold-out. With
    `cross_validate`, also the 5-fold macro-F1 (mean, sd) over all reports."""
    params = params or TriageParams()
    data = load_maude(path)
    x = pd.DataFrame({TEXT_COLUMN: data["text"].to_list()})
    y = np.array(data["event_type"].to_list())
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=params.seed
    )
    folds = _folds(y_train.tolist(), params.cv_folds)
    model = make_classifier(params, [], folds)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=params.seed)
    oof = cross_val_predict(model, x_train, y_train, cv=splitter, method="predict_proba")
    classes = sorted(set(y_train.tolist()))  # sklearn orders classes like this
    rep_idx = [classes.index(c) for c in MAUDE_REPORTABLE]
    is_rep_train = np.isin(y_train, MAUDE_REPORTABLE)
    threshold = choose_threshold(
        oof[:, rep_idx].sum(axis=1).tolist(), is_rep_train.tolist(), params.target_recall
    )
    model.fit(x_train, y_train)
    proba = model.predict_proba(x_test)
    predicted = np.array(classes)[proba.argmax(axis=1)]
    score = proba[:, rep_idx].sum(axis=1)
    is_rep = np.isin(y_test, MAUDE_REPORTABLE)
    flagged = score >= threshold

    cv_f1: list[float] = []
    outer = StratifiedKFold(n_splits=5, shuffle=True, random_state=params.seed)
    for train_idx, test_idx in outer.split(x, y) if cross_validate else []:
        fold_model = make_classifier(params, [], _folds(y[train_idx].tolist(), params.cv_folds))
        fold_model.fit(x.iloc[train_idx], y[train_idx])
        cv_f1.append(
            float(f1_score(y[test_idx], fold_model.predict(x.iloc[test_idx]), average="macro"))
        )

    matrix = confusion_matrix(y_test, predicted, labels=list(MAUDE_CLASSES))
    return {
        "n_reports": len(y),
        "n_per_class": {c: int((y == c).sum()) for c in MAUDE_CLASSES},
        "n_test": len(y_test),
        "n_test_per_class": {c: int((y_test == c).sum()) for c in MAUDE_CLASSES},
        "threshold": float(threshold),
        "oof_recall_death_injury_train": float(
            recall_score(is_rep_train, oof[:, rep_idx].sum(axis=1) >= threshold)
        ),
        "macro_f1": float(f1_score(y_test, predicted, average="macro")),
        "f1_per_class": {
            c: float(v)
            for c, v in zip(
                MAUDE_CLASSES,
                f1_score(y_test, predicted, labels=list(MAUDE_CLASSES), average=None),
                strict=True,
            )
        },
        "recall_death_injury": float(recall_score(is_rep, flagged)),
        "precision_death_injury": float(precision_score(is_rep, flagged, zero_division=0)),
        "flagged_share": float(flagged.mean()),
        "recall_death_at_threshold": float(flagged[y_test == "death"].mean()),
        "confusion_matrix": {
            "labels": list(MAUDE_CLASSES),
            "rows_true_cols_predicted": matrix.astype(int).tolist(),
        },
        "cv_macro_f1_mean": float(np.mean(cv_f1)) if cv_f1 else None,
        "cv_macro_f1_sd": float(np.std(cv_f1, ddof=1)) if cv_f1 else None,
    }
