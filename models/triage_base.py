"""The triage base model: p(death or serious injury) from an event narrative, learnt from public
FDA MAUDE reports, so that a firm with no decided complaints yet (a new team, a new product line)
gets a suggestion for every open complaint on its first night.

Why MAUDE: every report carries FDA's event type (death, injury, malfunction; 21 CFR 803.3: an
"injury" in MAUDE is a serious injury) and its device's product code. The model learns the
difference between a serious outcome and a malfunction without patient harm from the reporter's
account of the event. It does not learn whether a malfunction is reportable: MAUDE holds only
reported events, and the malfunction rules of marts.vigilance_flags judge that.

Recipe (chosen for device types the model never saw, `generalisation` below; README):
* text: the event description only, never the manufacturer's narrative, which is written after
  the event type is known ("no adverse patient sequela", "no clinically significant delay");
  in the shipped web reports the two are swapped in about a third of the rows
  (`split_narratives` puts them back);
* features: TF-IDF of word 1-2-grams of letters-only tokens (numbers, lot and model numbers say
  nothing across device types), sublinear tf;
* classifier: logistic regression, class-balanced, liblinear, fixed seed; its score is
  calibrated by Platt scaling fitted on the out-of-fold scores of product groups each fold did
  not see (a sigmoid step fitted within the training device types, CalibratedClassifierCV, made
  held-out device types worse);
* operating threshold: the highest p that keeps the out-of-fold recall of death and serious
  injury at `target_recall`, with folds grouped by device type (product code), so the threshold
  is set as it will be used: on devices the fold's model did not see.

Problem codes and patient-problem codes were tried and left out: in MAUDE they are coded with
the event type at filing, and they raised in-domain specificity while halving it on held-out
device types.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
import sklearn
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, f1_score, roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline

BASE_RECIPE = "event-text/tfidf-word12-letters/logreg-balanced/grouped-platt-threshold/v2"
SERIOUS_EVENT_TYPES = ("death", "injury")
# FDA MAUDE master file EVENT_TYPE (openFDA enums: D death, IN/IL/IJ injury, M malfunction, O
# other, * no answer): other and no answer carry no label and are not trained on.
MAUDE_EVENT_TYPES = {
    "D": "death",
    "IN": "injury",
    "IL": "injury",
    "IJ": "injury",
    "M": "malfunction",
}
REPORT_COLUMNS = {
    "report_id": pl.String,
    "source": pl.String,
    "product_group": pl.String,
    "year": pl.Int32,
    "event_type": pl.String,
    "text": pl.String,
}

# The reporter's account opens like this; the manufacturer's narrative talks of its
# investigation. Used only to undo the swap of the two columns in the shipped web reports.
_REPORTER = re.compile(
    r"^\s*(it (was|is) (further )?reported|this was reported|reportedly|as reported|"
    r"user facility|the (patient|customer|user|physician|nurse) (reported|stated))",
    re.IGNORECASE,
)
_MANUFACTURER = re.compile(
    r"investigation|not (been |yet )?returned|capa\b|lot history|production record|"
    r"device history record|follow-up report|will be (provided|submitted)|"
    r"complaint (handling|history)|(has been|was) received for (analysis|evaluation)|"
    r"instructions for use|\bifu\b|\budi\b",
    re.IGNORECASE,
)


def _reporter_likeness(text: str) -> int:
    if not text:
        return -10
    return 3 * bool(_REPORTER.search(text)) - len(_MANUFACTURER.findall(text[:400]))


def split_narratives(description: str | None, narrative: str | None) -> tuple[str, str]:
    """(event description, manufacturer narrative) of a MAUDE web report whose two columns may be
    swapped: the text that reads more like a reporter's account (opens with "it was reported",
    names no investigation, lot history, CAPA or returned device) is the event description."""
    first, second = description or "", narrative or ""
    if _reporter_likeness(second) > _reporter_likeness(first):
        return second, first
    return first, second


# Device types of the shipped reference reports (all Abbott vascular and structural-heart
# devices, which carry no product code in the web pages), from their brand names; the first
# pattern that matches wins. A held-out device type is the stand-in for a held-out product code.
REFERENCE_DEVICE_TYPES: tuple[tuple[str, str], ...] = (
    ("vessel_closure", r"PERCLOSE|PROSTAR|STARCLOSE|VASCULAR SUTURE DELIVERY"),
    ("valve_repair_clip", r"MITRACLIP|TRICLIP|STEERABLE GUID"),
    ("coronary_stent", r"XIENCE|MULTI-LINK|GRAFTMASTER"),
    ("balloon_catheter", r"TREK|TRAVELER|ARMADA|DILATATION CATHETER|VIATRAC"),
    ("peripheral_stent", r"ABSOLUTE PRO|SUPERA|OMNILINK|HERCULINK|XPERT|ESPRIT"),
    ("carotid_embolic", r"ACCULINK|XACT|EMBOSHIELD|BAREWIRE"),
    ("guide_wire", r"HI-TORQUE|BALANCE MIDDLEWEIGHT|GUIDE WIRE|WIRE, GUIDE"),
    ("pressure_wire", r"PRESSUREWIRE"),
    ("inflation_access", r"INDEFLATOR|COPILOT"),
)


def reference_device_type(brand: str | None) -> str:
    name = re.sub(r"\s+", " ", re.sub(r"[\u00bf\u00ae\u2122]", "", brand or "")).strip().upper()
    for device_type, pattern in REFERENCE_DEVICE_TYPES:
        if re.search(pattern, name):
            return device_type
    return "other"


def reference_reports(raw: pl.DataFrame) -> pl.DataFrame:
    """The shipped MAUDE web reports (assets/reference/maude-reports, read as strings) as
    REPORT_COLUMNS: event type death, injury or malfunction ('Other' dropped), the event
    description put back where the scrape swapped it, the device type from the brand."""
    event = (
        raw["Event Type"]
        .str.replace_all("\u00a0", " ")
        .str.replace(r"(?i)^\s*event type\s*", "")
        .str.strip_chars()
        .str.to_lowercase()
    )
    texts = [
        split_narratives(d, n)[0]
        for d, n in zip(raw["Event Description"], raw["Manufacturer Narrative"], strict=True)
    ]
    years = raw["Event Date"].str.extract(r"(\d{4})\s*$", 1).cast(pl.Int32, strict=False)
    return (
        pl.DataFrame(
            {
                "report_id": raw["MDRFOI ID"],
                "source": "maude_reference",
                "product_group": [reference_device_type(b) for b in raw["Brand Name"]],
                "year": years,
                "event_type": event,
                "text": texts,
            }
        )
        .filter(pl.col("event_type").is_in(list(MAUDE_EVENT_TYPES.values())))
        .cast(REPORT_COLUMNS)
        .sort("report_id")
    )


def landing_reports(reports: pl.DataFrame) -> pl.DataFrame:
    """MAUDE bulk-file reports of the landing folder as REPORT_COLUMNS. `reports`: report_id,
    product_code, date_received (date), event_type (FDA code) and, optionally, text (the event
    description, text type D: without it, `text` is null, to be filled after sampling). Reports
    without a label, or with an empty text, are left out."""
    if "text" not in reports.columns:
        reports = reports.with_columns(text=pl.lit(None, pl.String))
    return (
        reports.with_columns(
            event_type=pl.col("event_type")
            .str.strip_chars()
            .str.to_uppercase()
            .replace_strict(MAUDE_EVENT_TYPES, default=None),
            product_group=pl.coalesce(pl.col("product_code"), pl.lit("(none)")),
            year=pl.col("date_received").dt.year(),
            source=pl.lit("maude_landing"),
            report_id=pl.col("report_id").cast(pl.String),
        )
        .filter(
            pl.col("event_type").is_not_null()
            & (pl.col("text").is_null() | (pl.col("text").str.strip_chars() != ""))
        )
        .select(list(REPORT_COLUMNS))
        .cast(REPORT_COLUMNS)
        .sort("report_id")
    )


# A firm's recorded patient outcome in MAUDE's terms: death, injury (a serious injury, 21 CFR
# 803.3) or neither; an unknown outcome has no label.
FIRM_OUTCOMES = {
    "death": "death",
    "serious_injury": "injury",
    "injury": "not_serious",
    "none": "not_serious",
}


def firm_reports(complaints: pl.DataFrame) -> pl.DataFrame:
    """A firm's complaints as REPORT_COLUMNS, to measure transfer between MAUDE and the firm:
    `complaints`: complaint_id, received_date (date), patient_outcome, description and
    product_code (the product group). Complaints with an unknown outcome are left out."""
    return (
        complaints.filter(pl.col("patient_outcome").is_in(list(FIRM_OUTCOMES)))
        .select(
            report_id=pl.col("complaint_id").cast(pl.String),
            source=pl.lit("firm"),
            product_group=pl.coalesce(pl.col("product_code"), pl.lit("(none)")),
            year=pl.col("received_date").dt.year(),
            event_type=pl.col("patient_outcome").replace_strict(FIRM_OUTCOMES),
            text=pl.col("description").fill_null(""),
        )
        .cast(REPORT_COLUMNS)
        .sort("report_id")
    )


def _draw_order(report_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{report_id}".encode()).hexdigest()


def training_sample(reports: pl.DataFrame, max_reports: int, seed: int = 0) -> pl.DataFrame:
    """At most `max_reports` reports, stratified by product group and year: every stratum keeps
    up to an equal share (smaller strata keep all theirs, the rest goes to the larger ones), and
    within a stratum the reports are drawn in the order of a hash of (seed, report id), so the
    same reports give the same sample on any machine, whatever their order."""
    if max_reports <= 0 or reports.height <= max_reports:
        return reports.sort("report_id")
    keyed = reports.with_columns(
        draw=pl.col("report_id").map_elements(lambda r: _draw_order(r, seed), pl.String),
        stratum=pl.concat_str(
            [pl.col("product_group"), pl.col("year").cast(pl.String).fill_null("?")],
            separator="|",
        ),
    )
    sizes = dict(keyed.group_by("stratum").len().sort("stratum").iter_rows())
    # water-filling: the largest equal cap per stratum whose total fits in max_reports
    quota, left, open_strata = {}, max_reports, sorted(sizes, key=lambda s: (sizes[s], s))
    while open_strata:
        cap = left // len(open_strata)
        small = [s for s in open_strata if sizes[s] <= cap]
        if not small:
            extra = left - cap * len(open_strata)
            for i, s in enumerate(sorted(open_strata)):
                quota[s] = cap + (1 if i < extra else 0)
            break
        for s in small:
            quota[s] = sizes[s]
            left -= sizes[s]
        open_strata = [s for s in open_strata if s not in small]
    caps = pl.DataFrame(
        {"stratum": list(quota), "quota": list(quota.values())},
        schema={"stratum": pl.String, "quota": pl.Int64},
    )
    return (
        keyed.join(caps, on="stratum")
        .filter(pl.col("draw").rank("ordinal").over("stratum") <= pl.col("quota"))
        .drop("draw", "stratum", "quota")
        .sort("report_id")
    )


@dataclass(frozen=True)
class BaseParams:
    """config/pipeline.toml `[triage.base]`."""

    target_recall: float = 0.95
    seed: int = 0
    c: float = 4.0
    ngram_max: int = 2
    min_df: int = 2
    max_features: int = 50000
    max_iter: int = 2000
    # folds of the grouped cross-validation that sets the operating threshold
    threshold_folds: int = 3
    # reports of the landing folder's MAUDE files a model is trained on (stratified sample)
    max_reports: int = 20000


@dataclass
class BaseModel:
    pipeline: Pipeline
    threshold: float
    version: str
    params: BaseParams
    card: dict[str, Any] = field(default_factory=dict)
    # Platt scaling of the regression's score, fitted on the grouped out-of-fold scores
    calibration: LogisticRegression | None = None


def make_pipeline(params: BaseParams) -> Pipeline:
    return Pipeline(
        [
            (
                "text",
                TfidfVectorizer(
                    ngram_range=(1, params.ngram_max),
                    min_df=params.min_df,
                    max_features=params.max_features,
                    sublinear_tf=True,
                    lowercase=True,
                    strip_accents="unicode",
                    token_pattern=r"(?u)\b[a-z][a-z]+\b",
                    dtype=np.float64,
                ),
            ),
            (
                "model",
                LogisticRegression(
                    C=params.c,
                    class_weight="balanced",
                    solver="liblinear",
                    max_iter=params.max_iter,
                    random_state=params.seed,
                ),
            ),
        ]
    )


def serious_labels(event_types: Sequence[str]) -> np.ndarray:
    return np.isin(np.asarray(event_types, dtype=object), SERIOUS_EVENT_TYPES).astype(int)


def threshold_for_recall(scores: np.ndarray, labels: np.ndarray, target_recall: float) -> float:
    """Highest threshold t with recall(scores >= t) >= target_recall: the ceil(target x P)-th
    highest score among the P positives (scores [0.9, 0.8, 0.3, 0.2], labels [1, 1, 1, 0]:
    0.3 for a target of 1.0, 0.8 for 0.6)."""
    positives = np.sort(np.asarray(scores, dtype=float)[np.asarray(labels) == 1])[::-1]
    if positives.size == 0:
        raise ValueError("no serious reports to set a recall threshold on")
    needed = max(1, math.ceil(target_recall * positives.size - 1e-9))
    return float(positives[needed - 1])


def grouped_threshold(
    texts: Sequence[str], labels: np.ndarray, groups: Sequence[str], params: BaseParams
) -> tuple[float, np.ndarray]:
    """The operating threshold from out-of-fold scores with folds grouped by product group: each
    report is scored by a model that never saw its device type (plain stratified folds when there
    are fewer groups than folds). Returns the threshold and the out-of-fold scores."""
    x = np.asarray(texts, dtype=object)
    distinct = sorted(set(groups))
    if len(distinct) >= params.threshold_folds:
        splits = GroupKFold(n_splits=params.threshold_folds).split(x, labels, np.asarray(groups))
    else:
        splits = StratifiedKFold(
            n_splits=params.threshold_folds, shuffle=True, random_state=params.seed
        ).split(x, labels)
    oof = np.zeros(labels.size)
    for train, test in splits:
        fold = make_pipeline(params).fit(x[train], labels[train])
        oof[test] = fold.predict_proba(x[test])[:, 1]
    return threshold_for_recall(oof, labels, params.target_recall), oof


def base_version(reports: pl.DataFrame, params: BaseParams) -> str:
    """`base-<sha256[:12]>` of the training reports (id, label, group, text), the parameters, the
    recipe and the scikit-learn version."""
    digest = hashlib.sha256()
    for row in (
        reports.select("source", "report_id", "event_type", "product_group", "text")
        .sort("source", "report_id")
        .iter_rows()
    ):
        digest.update(json.dumps(row).encode("utf-8"))
        digest.update(b"\n")
    payload = {
        "data": digest.hexdigest(),
        "params": asdict(params),
        "recipe": BASE_RECIPE,
        "sklearn": sklearn.__version__,
    }
    return "base-" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def fit_base(reports: pl.DataFrame, params: BaseParams | None = None) -> BaseModel:
    """Fit the base model on `reports` (REPORT_COLUMNS), sorted by source and report id."""
    params = params or BaseParams()
    reports = reports.sort("source", "report_id")
    labels = serious_labels(reports["event_type"].to_list())
    if labels.sum() < params.threshold_folds or (labels == 0).sum() < params.threshold_folds:
        raise ValueError(
            f"the base model needs at least {params.threshold_folds} serious and "
            f"{params.threshold_folds} malfunction reports, got {int(labels.sum())} and "
            f"{int((labels == 0).sum())}"
        )
    texts = reports["text"].to_list()
    groups = reports["product_group"].to_list()
    _, raw_oof = grouped_threshold(texts, labels, groups, params)
    # class-balanced weights pull the regression's scores towards 0.5; Platt scaling fitted on
    # the scores of product groups each fold did not see makes them probabilities for a device
    # type the model has not seen (monotone: the same reports stay above the threshold)
    calibration = platt(raw_oof, labels, params.seed)
    oof = calibration.predict_proba(_logit(raw_oof))[:, 1]
    threshold = threshold_for_recall(oof, labels, params.target_recall)
    pipeline = make_pipeline(params).fit(np.asarray(texts, dtype=object), labels)
    years = reports["year"].drop_nulls()
    card = {
        "recipe": BASE_RECIPE,
        "reports": reports.height,
        "reports_by_source": dict(reports.group_by("source").len().sort("source").iter_rows()),
        "reports_by_event_type": dict(
            reports.group_by("event_type").len().sort("event_type").iter_rows()
        ),
        "product_groups": reports["product_group"].n_unique(),
        "years": [int(years.min()), int(years.max())] if years.len() else None,
        "threshold": threshold,
        "target_recall": params.target_recall,
        "threshold_rule": (
            f"highest p keeping out-of-fold recall of death and serious injury >= "
            f"{params.target_recall}, {params.threshold_folds} folds grouped by product group"
        ),
        # the training reports scored by models that never saw their product group; the recall
        # is the target by construction (the threshold is set on these scores), the specificity
        # and calibration are what a new device type may expect
        "grouped_out_of_fold": split_metrics(labels, oof, oof >= threshold),
    }
    return BaseModel(pipeline, threshold, base_version(reports, params), params, card, calibration)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p)).reshape(-1, 1)


def platt(scores: np.ndarray, labels: np.ndarray, seed: int) -> LogisticRegression:
    """Platt scaling (a logistic regression on the logit of the score), monotone increasing."""
    return LogisticRegression(random_state=seed).fit(_logit(scores), labels)


def predict_serious(model: BaseModel, texts: Sequence[str | None]) -> np.ndarray:
    """Calibrated p(death or serious injury) for each narrative (an empty narrative gets the
    model's prior for no words)."""
    x = np.asarray([t or "" for t in texts], dtype=object)
    raw = model.pipeline.predict_proba(x)[:, 1]
    if model.calibration is None:
        return raw
    return model.calibration.predict_proba(_logit(raw))[:, 1]


def _edges_are_stop_words(term: str) -> bool:
    words = term.split()
    return words[0] in ENGLISH_STOP_WORDS or words[-1] in ENGLISH_STOP_WORDS


def drivers(model: BaseModel, texts: Sequence[str | None], top: int = 3) -> list[str]:
    """The words that pushed each narrative's score up most (coefficient x tf-idf weight), as
    'word; word; word', or '' when none did; a term that begins or ends with an English stop
    word ("the patient") is not shown, its content word is."""
    vectorizer: TfidfVectorizer = model.pipeline.named_steps["text"]
    coef = model.pipeline.named_steps["model"].coef_[0]
    names = vectorizer.get_feature_names_out()
    matrix = vectorizer.transform(np.asarray([t or "" for t in texts], dtype=object)).tocsr()
    out = []
    for i in range(matrix.shape[0]):
        row = matrix.getrow(i)
        weights = row.data * coef[row.indices]
        # ties broken by the term, so the list is the same on any machine
        ranked = sorted(
            (
                (w, names[j])
                for w, j in zip(weights, row.indices, strict=True)
                if w > 0 and not _edges_are_stop_words(names[j])
            ),
            key=lambda item: (-round(item[0], 9), item[1]),
        )
        out.append("; ".join(term for _, term in ranked[:top]))
    return out


# --------------------------------------------------------------------------------------------
# generalisation: how the recipe does on device types and sources it never saw


RELIABILITY_BINS = 10


def split_metrics(labels: np.ndarray, scores: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    """Death+injury recall and malfunction specificity of the operating decision `flagged`,
    macro-F1, ROC AUC and Brier score of `scores`, and a 10-bin reliability table (mean
    predicted, observed share serious, reports)."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    flagged = np.asarray(flagged, dtype=bool)
    positives, negatives = labels == 1, labels == 0
    bins = np.minimum((scores * RELIABILITY_BINS).astype(int), RELIABILITY_BINS - 1)
    reliability = [
        {
            "bin": f"{b / RELIABILITY_BINS:.1f}-{(b + 1) / RELIABILITY_BINS:.1f}",
            "mean_predicted": float(scores[bins == b].mean()),
            "observed_serious": float(labels[bins == b].mean()),
            "reports": int((bins == b).sum()),
        }
        for b in range(RELIABILITY_BINS)
        if (bins == b).any()
    ]
    both = bool(positives.any() and negatives.any())
    return {
        "reports": int(labels.size),
        "serious": int(positives.sum()),
        "not_serious": int(negatives.sum()),
        "recall_death_injury": float(flagged[positives].mean()) if positives.any() else None,
        "specificity_malfunction": float((~flagged[negatives]).mean()) if negatives.any() else None,
        "macro_f1": float(f1_score(labels, flagged.astype(int), average="macro", zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, scores)) if both else None,
        "brier": float(brier_score_loss(labels, scores)),
        "reliability": reliability,
    }


def _usable(labels: np.ndarray, params: BaseParams) -> bool:
    return bool(
        labels.sum() >= params.threshold_folds and (labels == 0).sum() >= params.threshold_folds
    )


def transfer(
    train: pl.DataFrame, test: pl.DataFrame, params: BaseParams | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fit on `train`, score `test` (both REPORT_COLUMNS): p(serious) and the decision at the
    threshold set on `train` alone."""
    model = fit_base(train, params)
    scores = predict_serious(model, test["text"].to_list())
    return scores, scores >= model.threshold


SPLITS = (
    "in-domain (stratified 5-fold)",
    "product group held out (grouped 5-fold)",
    "each product group held out in turn",
)


def generalisation(
    reports: pl.DataFrame,
    params: BaseParams | None = None,
    seed: int = 0,
    splits: tuple[str, ...] = SPLITS,
) -> list[dict[str, Any]]:
    """The recipe on `reports` (REPORT_COLUMNS), three ways: random stratified 5-fold
    (in-domain), grouped 5-fold by product group, and leave one product group out. Each fold
    trains a model (its threshold set on its own training groups) and scores the held-out part;
    the metrics pool the held-out scores. One dict per split of `splits` (all three by default):
    `split` and `split_metrics`."""
    params = params or BaseParams()
    reports = reports.sort("source", "report_id")
    labels = serious_labels(reports["event_type"].to_list())
    groups = np.asarray(reports["product_group"].to_list(), dtype=object)
    zero = np.zeros(labels.size)
    folds_of = {
        SPLITS[0]: lambda: list(
            StratifiedKFold(5, shuffle=True, random_state=seed).split(zero, labels)
        ),
        SPLITS[1]: lambda: list(
            GroupKFold(n_splits=min(5, len(set(groups)))).split(zero, labels, groups)
        ),
        SPLITS[2]: lambda: [
            (np.flatnonzero(groups != g), np.flatnonzero(groups == g)) for g in sorted(set(groups))
        ],
    }
    rows = []
    for name in splits:
        folds = folds_of[name]()
        scores = np.zeros(labels.size)
        flagged = np.zeros(labels.size, dtype=bool)
        tested = []
        for train, test in folds:
            if not _usable(labels[train], params):
                continue
            scores[test], flagged[test] = transfer(reports[train], reports[test], params)
            tested.append(test)
        held_out = np.sort(np.concatenate(tested))
        rows.append(
            {
                "split": name,
                **split_metrics(labels[held_out], scores[held_out], flagged[held_out]),
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# model card

KNOWN_LIMITS = (
    "The base model learns death or serious injury against malfunction from FDA's event types; "
    "it does not separate death from serious injury, nor learn which malfunctions are "
    "reportable (marts.vigilance_flags judges those by the rules).",
    "MAUDE holds reported events only, written in the reporter's and FDA's conventions; a firm's "
    "intake narratives are shorter and earlier, so scores on them are less certain than on "
    "MAUDE (see the transfer figures). p_serious_base is calibrated to MAUDE's mix of reports "
    "(about three in four serious): on a firm's complaints, far fewer of which are serious, it "
    "overstates the chance until the firm's own decisions recalibrate it.",
    "Held out by device type, recall and specificity vary widely between device types (README, "
    "'Day one'; peripheral stents 0.62-0.67 recall): a new device type's threshold should be "
    "re-checked once it has decided complaints.",
    "A suggestion never overrides a human decision; a human 'no' against a likely-reportable "
    "suggestion goes to second review.",
)


def _figures(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    if not metrics:
        return None
    keep = (
        "reports",
        "serious",
        "not_serious",
        "recall_death_injury",
        "specificity_malfunction",
        "macro_f1",
        "roc_auc",
        "brier",
        "reliability",
    )
    return {k: metrics.get(k) for k in keep}


def model_card(
    as_of: str,
    base: BaseModel,
    basis: str,
    basis_reason: str,
    firm: dict[str, Any] | None,
    base_on_firm: dict[str, Any] | None,
) -> dict[str, Any]:
    """The triage model card of a night: what the suggestions rest on and why, the base model's
    training data, version, threshold and figures, its transfer to the firm's complaints with a
    known outcome, the firm's own model (when trained) and the known limits."""
    return {
        "as_of": as_of,
        "suggestion_basis": basis,
        "basis_reason": basis_reason,
        "base_model": {
            "version": base.version,
            **{k: v for k, v in base.card.items() if k != "grouped_out_of_fold"},
            "product_group_held_out": _figures(base.card.get("grouped_out_of_fold")),
        },
        "base_on_firm_complaints": _figures(base_on_firm),
        "firm_model": firm,
        "evaluation_command": "pms triage-eval",
        "known_limits": list(KNOWN_LIMITS),
    }


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _num(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}f}"


def model_card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown (the Dagster UI and the reports show it)."""
    base = card["base_model"]
    lines = [
        f"**Triage model card, night of {card['as_of']}**",
        "",
        f"Suggestions rest on: **{card['suggestion_basis']}**. {card['basis_reason']}",
        "",
        f"Base model `{base['version']}` ({base['recipe']}): {base['reports']} MAUDE reports "
        f"({', '.join(f'{k} {v}' for k, v in base['reports_by_source'].items())}; "
        f"{', '.join(f'{k} {v}' for k, v in base['reports_by_event_type'].items())}), "
        f"{base['product_groups']} product groups, event years "
        f"{'-'.join(str(y) for y in base['years']) if base['years'] else 'unknown'}.",
        f"Operating threshold {_num(base['threshold'])}: {base['threshold_rule']}.",
        "",
        "| split | reports | death+injury recall | malfunction specificity | macro-F1 | "
        "ROC AUC | Brier |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [
        ("base, product group held out (training reports)", base["product_group_held_out"]),
        ("base on the firm's complaints with a known outcome", card["base_on_firm_complaints"]),
    ]
    for name, m in rows:
        if m:
            lines.append(
                f"| {name} | {m['reports']} | {_pct(m['recall_death_injury'])} | "
                f"{_pct(m['specificity_malfunction'])} | {_num(m['macro_f1'])} | "
                f"{_num(m['roc_auc'])} | {_num(m['brier'])} |"
            )
    firm = card["firm_model"]
    lines.append("")
    if firm:
        lines.append(
            f"Firm model `{firm['version']}`: {firm['n_train']} decided complaints "
            f"({firm['n_reportable']} reportable by the rules), out-of-fold recall "
            f"{_pct(firm['oof_recall'])} at threshold {_num(firm['threshold'])}; "
            f"{firm['adaptation']}."
        )
    else:
        lines.append("Firm model: not trained (see above).")
    lines += ["", f"Full evaluation by split: `{card['evaluation_command']}`.", "", "Known limits:"]
    lines += [f"- {limit}" for limit in card["known_limits"]]
    return "\n".join(lines)
