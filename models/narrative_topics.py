"""New failure modes in complaint narratives: an NMF topic model and monthly emergence tests.

A topic model (TF-IDF on word 1-2-grams, then NMF) is fitted on the narratives received up to a
``fit_until`` month and applied to later months, so an evaluation never looks ahead. For each
device family x topic, the share of the month's complaints falling in the topic is tested against
its share in the ``baseline_months`` months before (one-sided binomial test, baseline share with a
Jeffreys half-count), with a Benjamini-Hochberg adjustment across (family, topic) in each month.
A genuinely new failure mode may fall into an existing topic or none, so ``alarms_from_labels``
also tests, per family and month in the same way, the share of complaints that the fitted model
explains poorly: a narrative is novel when the share of its terms outside the fitted vocabulary
exceeds ``oov_threshold`` (a high quantile of the training narratives, at least 0.25). The best
topic weight separates badly on the synthetic demo (narratives are dominated by reporting
boilerplate that the topics explain well); the vocabulary share separates well.
models/narrative_replay.py composes these steps as the nightly job runs them.

An alarm is ``unexplained`` when most of the topic's complaints that month carry no problem code
or one of ``GENERIC_PROBLEM_CODES``: no IMDRF Annex A code explains the cluster.

The model is a versioned artifact: ``TopicModel.version`` is the SHA-256 of the parameters and the
fitted vocabulary. Fitting is deterministic for a given seed and input order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import pickle
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import stats
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from models.pickling import stable_pickle
from models.trends import fdr_adjust

# IMDRF Annex A codes (2024 release) that do not describe a device problem. A complaint coded
# with one of these, or with no code, is "not explained" by the coding:
#   A22    Human-Device Interface Problem (category heading only)
#   A2204  Inadequate User Interface (catch-all for display/UI complaints)
#   A24    Adverse Event Without Identified Device or Use Problem
#   A25    No Apparent Adverse Event, and A2501 (prophylactic removal)
#   A26    Insufficient Information
#   A27    Appropriate Term/Code Not Available
# Specific interface terms (A2201-A2203, A2205, A2206) and use problems (A23..) name a problem and
# are not in the list.
GENERIC_PROBLEM_CODES: frozenset[str] = frozenset(
    {"A22", "A2204", "A24", "A25", "A2501", "A26", "A27"}
)

# complaint-handling boilerplate on top of the English stop words
DOMAIN_STOP_WORDS: frozenset[str] = frozenset(
    {
        "pt", "patient", "patients", "reported", "reports", "report", "reporter", "reporting",
        "caller", "called", "customer", "user", "rn", "dr", "hcp", "nurse", "physician",
        "surgeon", "dist", "dealer", "email", "phone", "info", "add", "additional", "pls",
        "advise", "please", "per", "says", "said", "noticed", "stated", "states", "fu",
        "follow", "sn", "serial", "no", "mfr", "teh", "device", "unit", "product", "received",
    }
)  # fmt: skip

STOP_WORDS: tuple[str, ...] = tuple(sorted(ENGLISH_STOP_WORDS | DOMAIN_STOP_WORDS))
TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z]{2,}\b"  # letters only: no serials, dates, phone numbers
NOVEL = -1  # topic id of the novelty series and of rows with no known term

# The first alarm of a (device_family, topic): its month, the test and the topic's terms.
RESULT_SCHEMA = {
    "device_family": pl.String,
    "topic": pl.Int64,
    "month": pl.Date,
    "observed": pl.Int64,
    "total": pl.Int64,
    "expected": pl.Float64,
    "baseline_count": pl.Int64,
    "baseline_total": pl.Int64,
    "p_value": pl.Float64,
    "statistic": pl.Float64,
    "threshold": pl.Float64,
    "top_terms": pl.String,
    "unexplained": pl.Boolean,
    "generic_share": pl.Float64,
}
RESULT_COLUMNS = tuple(RESULT_SCHEMA)


@dataclass(frozen=True)
class TopicModel:
    vectorizer: TfidfVectorizer
    nmf: NMF
    top_terms: tuple[tuple[str, ...], ...]
    params: dict[str, object]
    novelty_threshold: float  # best topic weight below it: poorly explained
    oov_threshold: float  # share of a narrative's terms outside the vocabulary above it: novel
    version: str
    n_documents: int = field(default=0)

    @property
    def n_topics(self) -> int:
        return len(self.top_terms)

    def terms(self, topic: int, k: int = 8) -> str:
        if topic == NOVEL:
            return "(poorly explained by the fitted topics)"
        return ", ".join(self.top_terms[topic][:k])


def _version(params: dict[str, object], vocabulary: list[str]) -> str:
    payload = json.dumps({"params": params, "vocabulary": vocabulary}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def fit_topic_model(
    texts: list[str],
    n_topics: int = 20,
    seed: int = 0,
    *,
    min_df: int = 5,
    max_df: float = 0.5,
    n_top_terms: int = 10,
    novelty_quantile: float = 0.05,
) -> TopicModel:
    """TF-IDF (1-2-grams, English + complaint boilerplate stop words) then NMF (nndsvda)."""
    docs = [t or "" for t in texts]
    min_df_eff = max(1, min(min_df, len(docs) // 20))
    params: dict[str, object] = {
        "n_topics": int(n_topics),
        "seed": int(seed),
        "min_df": int(min_df_eff),
        "max_df": float(max_df),
        "ngram_range": [1, 2],
        "token_pattern": TOKEN_PATTERN,
        "stop_words": len(STOP_WORDS),
        "novelty_quantile": float(novelty_quantile),
        "sublinear_tf": True,
    }
    vectorizer = TfidfVectorizer(
        lowercase=True,
        stop_words=list(STOP_WORDS),
        token_pattern=TOKEN_PATTERN,
        ngram_range=(1, 2),
        min_df=min_df_eff,
        max_df=max_df,
        sublinear_tf=True,
        dtype=np.float64,
    )
    x = vectorizer.fit_transform(docs)
    k = int(min(n_topics, x.shape[1], x.shape[0]))
    nmf = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400, tol=1e-4)
    w = nmf.fit_transform(x)
    vocab = vectorizer.get_feature_names_out()
    top = tuple(
        tuple(str(vocab[j]) for j in np.argsort(-row, kind="stable")[:n_top_terms])
        for row in nmf.components_
    )
    best = w.max(axis=1) if w.shape[1] else np.zeros(w.shape[0])
    informative = best[x.getnnz(axis=1) > 0]
    thr = float(np.quantile(informative, novelty_quantile)) if informative.size else 0.0
    oov = _oov_share(vectorizer, docs)
    oov_thr = float(np.quantile(oov, 1.0 - novelty_quantile / 5)) if oov.size else 1.0
    return TopicModel(
        vectorizer=vectorizer,
        nmf=nmf,
        top_terms=top,
        params=params,
        novelty_threshold=thr,
        oov_threshold=max(oov_thr, 0.25),
        version=_version(params, [str(v) for v in vocab]),
        n_documents=len(docs),
    )


def _oov_share(vectorizer: TfidfVectorizer, texts: list[str]) -> np.ndarray:
    analyzer = vectorizer.build_analyzer()
    vocab = vectorizer.vocabulary_
    out = np.zeros(len(texts))
    for i, t in enumerate(texts):
        terms = analyzer(t or "")
        if terms:
            out[i] = sum(term not in vocab for term in terms) / len(terms)
    return out


def novelty_scores(model: TopicModel, texts: list[str]) -> np.ndarray:
    """Share of each narrative's terms (after stop words, 1-2-grams) outside the vocabulary."""
    return _oov_share(model.vectorizer, texts)


def topic_weights(model: TopicModel, texts: list[str]) -> np.ndarray:
    """Document-topic weights W (n_texts x n_topics)."""
    if not texts:
        return np.zeros((0, model.n_topics))
    return model.nmf.transform(model.vectorizer.transform([t or "" for t in texts]))


def assign_topics(model: TopicModel, texts: list[str]) -> np.ndarray:
    """Best topic per text (argmax of W); -1 when the row of W is all zeros."""
    w = topic_weights(model, texts)
    if w.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    best = np.argmax(w, axis=1).astype(np.int64)
    return np.where(w.max(axis=1) > 0, best, NOVEL)


def latest_versions(complaints: pl.DataFrame, as_of: dt.datetime | None = None) -> pl.DataFrame:
    """One row per complaint_id: the version with the latest updated_at (on or before as_of).

    ``updated_at`` may be a string (ISO) or datetime; unparseable rows are dropped.
    """
    df = complaints
    if df.schema["updated_at"] == pl.String:
        df = df.with_columns(pl.col("updated_at").str.to_datetime(strict=False))
    df = df.filter(pl.col("updated_at").is_not_null() & pl.col("complaint_id").is_not_null())
    if as_of is not None:
        df = df.filter(pl.col("updated_at") <= as_of)
    return (
        df.sort(["complaint_id", "updated_at"])
        .group_by("complaint_id", maintain_order=True)
        .last()
        .sort("complaint_id")
    )


def _add_months(month: dt.date, k: int) -> dt.date:
    m = month.year * 12 + month.month - 1 + k
    return dt.date(m // 12, m % 12 + 1, 1)


def _is_generic(code: pl.Expr) -> pl.Expr:
    return code.is_null() | (code.str.strip_chars() == "") | code.is_in(list(GENERIC_PROBLEM_CODES))


def _monthly_tests(
    labelled: pl.DataFrame,
    *,
    baseline_months: int,
    alpha: float,
    start_month: dt.date | None,
    min_count: int,
    min_baseline_months: int,
    topics: list[int],
) -> pl.DataFrame:
    """Per (family, label, month): binomial test of the month's share against the baseline.

    ``labelled`` has device_family, month, label, generic. Returns all tested cells with q-values
    (BH per month across every tested (family, label)).
    """
    totals = labelled.group_by("device_family", "month").agg(pl.len().alias("total"))
    counts = labelled.group_by("device_family", "month", "label").agg(
        pl.len().alias("observed"), pl.col("generic").mean().alias("generic_share")
    )
    fams = sorted(labelled["device_family"].unique().to_list())
    months = sorted(labelled["month"].unique().to_list())
    if not fams or not months:
        return pl.DataFrame()
    span, m = [], months[0]
    while m <= months[-1]:
        span.append(m)
        m = _add_months(m, 1)
    grid = (
        pl.DataFrame({"device_family": fams})
        .join(pl.DataFrame({"month": span}, schema={"month": pl.Date}), how="cross")
        .join(pl.DataFrame({"label": topics}, schema={"label": pl.Int64}), how="cross")
    )
    g = (
        grid.join(totals, on=["device_family", "month"], how="left")
        .join(counts, on=["device_family", "month", "label"], how="left")
        .with_columns(pl.col("total", "observed").fill_null(0).cast(pl.Int64))
        .sort("device_family", "label", "month")
    )
    w = baseline_months
    over = ["device_family", "label"]
    g = g.with_columns(
        (pl.col("observed").rolling_sum(w + 1, min_samples=1).over(over) - pl.col("observed"))
        .fill_null(0)
        .alias("baseline_count"),
        (pl.col("total").rolling_sum(w + 1, min_samples=1).over(over) - pl.col("total"))
        .fill_null(0)
        .alias("baseline_total"),
        ((pl.col("total") > 0).cast(pl.Int64).rolling_sum(w + 1, min_samples=1).over(over)).alias(
            "_active"
        ),
    ).with_columns((pl.col("_active") - (pl.col("total") > 0).cast(pl.Int64)).alias("_active"))
    g = g.filter(
        (pl.col("total") > 0)
        & (pl.col("_active") >= min_baseline_months)
        & (pl.col("baseline_total") > 0)
    )
    if start_month is not None:
        g = g.filter(pl.col("month") >= start_month)
    if g.height == 0:
        return pl.DataFrame()
    x = g["observed"].to_numpy().astype(float)
    n = g["total"].to_numpy().astype(float)
    p0 = (g["baseline_count"].to_numpy() + 0.5) / (g["baseline_total"].to_numpy() + 1.0)
    pval = np.where(x > 0, stats.binom.sf(x - 1, n, p0), 1.0)
    g = g.with_columns(
        pl.Series("p_value", pval), pl.Series("expected", n * p0), pl.lit(alpha).alias("threshold")
    )
    qs = []
    for part in g.partition_by("month", maintain_order=True):
        qs.append(
            part.with_columns(pl.Series("statistic", fdr_adjust(part["p_value"].to_numpy())[0]))
        )
    g = pl.concat(qs).with_columns(
        ((pl.col("statistic") <= alpha) & (pl.col("observed") >= min_count)).alias("alarm")
    )
    return g.drop("_active").sort("device_family", "label", "month")


def _first_alarms(tested: pl.DataFrame, model: TopicModel) -> pl.DataFrame:
    if tested.height == 0 or not tested["alarm"].any():
        return pl.DataFrame(schema=RESULT_SCHEMA)
    first = (
        tested.filter(pl.col("alarm"))
        .sort("device_family", "label", "month")
        .group_by("device_family", "label", maintain_order=True)
        .first()
        .rename({"label": "topic"})
    )
    terms = [model.terms(int(t)) for t in first["topic"]]
    return (
        first.with_columns(
            pl.Series("top_terms", terms, dtype=pl.String),
            (pl.col("generic_share").fill_null(0.0) > 0.5).alias("unexplained"),
        )
        .select(RESULT_COLUMNS)
        .sort("month", "device_family", "topic")
    )


def prepare_narratives(frame: pl.DataFrame) -> pl.DataFrame:
    """Complaints with a family and a month, month-truncated, empty text for none, the generic
    coding marked; sorted by month, family and complaint_id (the order everything reads)."""
    df = frame.filter(pl.col("device_family").is_not_null() & pl.col("month").is_not_null())
    if df.schema["month"] != pl.Date:
        df = df.with_columns(pl.col("month").cast(pl.Date))
    return df.with_columns(
        pl.col("month").dt.truncate("1mo"),
        pl.col("description").fill_null(""),
        _is_generic(pl.col("problem_code")).alias("generic"),
    ).sort("month", "device_family", "complaint_id")


def training_set(
    prepared: pl.DataFrame, fit_until: dt.date, max_training_documents: int = 0
) -> pl.DataFrame:
    """The complaints the topic model is fitted on: months <= fit_until; with
    ``max_training_documents`` > 0 only that many most recent (by month, then complaint_id), so
    the fit costs the same after ten years as after one (a failure mode last seen before them
    counts as new again when it comes back). In ``prepare_narratives`` order."""
    train = prepared.filter(pl.col("month") <= fit_until.replace(day=1))
    if max_training_documents > 0 and train.height > max_training_documents:
        train = (
            train.sort("month", "complaint_id", descending=True)
            .head(max_training_documents)
            .sort("month", "device_family", "complaint_id")
        )
    return train


def judged_set(prepared: pl.DataFrame, fit_until: dt.date, baseline_months: int) -> pl.DataFrame:
    """The complaints the monthly tests read: the months after the fit and their baseline."""
    first_tested = _add_months(fit_until.replace(day=1), 1)
    return prepared.filter(pl.col("month") >= _add_months(first_tested, -baseline_months))


LABEL_SCHEMA = {"topic": pl.Int64, "oov_share": pl.Float64}


def narrative_labels(model: TopicModel, texts: list[str]) -> pl.DataFrame:
    """Per text: its best topic (``assign_topics``) and the share of its terms outside the
    vocabulary (``novelty_scores``). A text's labels depend on the model and the text only."""
    return pl.DataFrame(
        {"topic": assign_topics(model, texts), "oov_share": novelty_scores(model, texts)},
        schema=LABEL_SCHEMA,
    )


MONTH_LABEL_SCHEMA = {
    "month": pl.Date,
    "month_digest": pl.String,
    "complaint_id": pl.String,
    "text_hash": pl.String,
    **LABEL_SCHEMA,
}


def month_digest(complaint_ids: list[str], text_hashes: list[str]) -> str:
    """sha256 of one month's complaints and narrative hashes, in complaint_id order."""
    h = hashlib.sha256()
    for complaint_id, text_hash in sorted(zip(complaint_ids, text_hashes, strict=True)):
        h.update(f"{complaint_id}\t{text_hash}\n".encode())
    return h.hexdigest()


def label_months(
    model: TopicModel, judged: pl.DataFrame, kept: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Labels of the judged complaints (MONTH_LABEL_SCHEMA), a month at a time.

    NMF's transform stops on a tolerance summed over its whole batch, so a text's weights depend
    slightly on the texts labelled with it. Each month is therefore labelled as one batch, its
    complaints in complaint_id order: the labels depend on the model and the month's narratives
    only. ``kept``: labels of an earlier night by the same model; a month whose complaints and
    narratives are unchanged (same ``month_digest``) keeps them, any other month is labelled
    again whole. ``judged`` has complaint_id, month, description and text_hash."""
    out = []
    for (month,), batch in sorted(
        judged.select("month", "complaint_id", "description", "text_hash")
        .partition_by("month", as_dict=True, maintain_order=True)
        .items()
    ):
        batch = batch.sort("complaint_id")
        key = month_digest(batch["complaint_id"].to_list(), batch["text_hash"].to_list())
        reused = (
            kept.filter((pl.col("month") == month) & (pl.col("month_digest") == key))
            if kept is not None
            else None
        )
        if reused is not None and reused.height == batch.height:
            out.append(reused.select(list(MONTH_LABEL_SCHEMA)).sort("complaint_id"))
            continue
        labels = narrative_labels(model, batch["description"].to_list())
        out.append(
            pl.concat(
                [
                    batch.select("month", "complaint_id", "text_hash").with_columns(
                        month_digest=pl.lit(key)
                    ),
                    labels,
                ],
                how="horizontal",
            ).select(list(MONTH_LABEL_SCHEMA))
        )
    if not out:
        return pl.DataFrame(schema=MONTH_LABEL_SCHEMA)
    return pl.concat(out).cast(MONTH_LABEL_SCHEMA)  # type: ignore[arg-type]


def alarms_from_labels(
    labelled: pl.DataFrame,
    model: TopicModel,
    fit_until: dt.date,
    *,
    baseline_months: int = 12,
    alpha: float = 0.01,
    min_count: int = 3,
    min_baseline_months: int = 6,
) -> pl.DataFrame:
    """The first alarms of the topics and of the novelty series (topic -1, novel when the share
    of terms outside the vocabulary exceeds the model's ``oov_threshold``) for the months after
    ``fit_until``. ``labelled``: prepared complaints with ``topic`` and ``oov_share``. Month t is
    tested against months t-baseline_months..t-1 of the same family, so a decision at t uses only
    months <= t. A cell alarms when its BH q-value (``statistic``) is <= alpha (``threshold``)
    and it has at least ``min_count`` complaints; the family needs ``min_baseline_months`` months
    with complaints in the baseline. One row per alarming (family, topic): its first month."""
    kw = dict(
        baseline_months=baseline_months,
        alpha=alpha,
        start_month=_add_months(fit_until.replace(day=1), 1),
        min_count=min_count,
        min_baseline_months=min_baseline_months,
    )
    topics = _first_alarms(
        _monthly_tests(
            labelled.with_columns(label=pl.col("topic")), topics=list(range(model.n_topics)), **kw
        ),
        model,
    )
    novel = pl.when(pl.col("oov_share") > model.oov_threshold).then(NOVEL).otherwise(0)
    novelty = _first_alarms(
        _monthly_tests(labelled.with_columns(label=novel.cast(pl.Int64)), topics=[NOVEL], **kw),
        model,
    )
    return pl.concat([topics, novelty]).sort("month", "device_family", "topic")


def dump_topic_model(model: TopicModel) -> bytes:
    """The fitted model as bytes, to keep between nights (``models.pickling.stable_pickle``)."""
    return stable_pickle(model, [model.vectorizer])


def load_topic_model(data: bytes) -> TopicModel:
    # only ever bytes that dump_topic_model wrote into the pipeline's own warehouse
    model = pickle.loads(data)
    if not isinstance(model, TopicModel):
        raise TypeError(f"stored topic model is a {type(model).__name__}, not a TopicModel")
    return model


def distinctive_terms(
    evidence: Sequence[str | None], background: Sequence[str | None], k: int = 8
) -> list[str]:
    """The words a signal's narratives use far more than the family's others: the `k` with the
    highest smoothed log-odds ratio (add-one counts of documents containing the word, words of
    at least three letters in at least two evidence narratives, English stop words left out),
    ties broken by the word. What a reader needs to see in a signal called "topic-5"."""

    def docs(texts: Sequence[str | None]) -> list[set[str]]:
        return [
            {w for w in re.findall(r"[a-z]{3,}", (t or "").lower()) if w not in ENGLISH_STOP_WORDS}
            for t in texts
        ]

    inside, outside = docs(evidence), docs(background)
    n_in, n_out = len(inside), len(outside)
    counts_in: dict[str, int] = {}
    for d in inside:
        for w in d:
            counts_in[w] = counts_in.get(w, 0) + 1
    counts_out: dict[str, int] = {}
    for d in outside:
        for w in d:
            if w in counts_in:
                counts_out[w] = counts_out.get(w, 0) + 1
    scored = []
    for w, a in counts_in.items():
        if a < 2:
            continue
        b = counts_out.get(w, 0)
        odds_in = (a + 1) / (n_in - a + 1)
        odds_out = (b + 1) / (n_out - b + 1)
        scored.append((round(math.log(odds_in / odds_out), 9), w))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [w for score, w in scored[:k] if score > 0]
