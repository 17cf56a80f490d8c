"""New failure modes in narratives as the nightly job judges them on the as-of night.

The composition of models/narrative_topics.py that production runs, with its memo:

1. ``prepare_narratives`` on the complaints known that night that carry a narrative;
2. the topic model is fitted on ``training_set``: the complaints received up to
   ``fit_months`` before the as-of month (at most ``max_training_documents`` of the most recent),
   and not at all with fewer than ``min_training_documents`` of them;
3. ``judged_set`` (the months after the fit and their baseline) is labelled month by month
   (``label_months``) and judged by ``alarms_from_labels``; a month's decision uses only that
   month and the ones before.

The memo (``NarrativeState``, kept by the caller between nights): the fitted model is kept under
the digest of what it was fitted on (``training_digest``) and reused while that is unchanged (a
new month or a changed training narrative refits it); a judged month keeps its labels while the
model and its narratives are unchanged. Tonight's state is exactly what tonight needed, so it is
the same whatever the history of runs, and the alarms equal those of a fit from scratch.

Plain Polars and scikit-learn: the caller reads the stored state and writes the returned one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import sklearn

from models.narrative_topics import (
    LABEL_SCHEMA,
    MONTH_LABEL_SCHEMA,
    RESULT_SCHEMA,
    TopicModel,
    alarms_from_labels,
    dump_topic_model,
    fit_topic_model,
    judged_set,
    label_months,
    load_topic_model,
    prepare_narratives,
    training_set,
)
from models.replay_memo import digest

# signals_state.narrative_models: the fitted model under the digest of what it was fitted on
NARRATIVE_MODEL_SCHEMA = {
    "training_digest": pl.String,
    "model_version": pl.String,
    "fit_until": pl.Date,
    "documents": pl.Int64,
    "model": pl.Binary,
}
# signals_state.narrative_labels: the judged complaints' labels under the same digest
NARRATIVE_LABEL_SCHEMA = {"training_digest": pl.String, **MONTH_LABEL_SCHEMA}
# the complaints as known on the as-of night, with their narrative
NARRATIVE_COLUMNS = (
    "complaint_id",
    "device_family",
    "month",
    "description",
    "problem_code",
    "text_hash",
)


@dataclass(frozen=True)
class NarrativeSettings:
    """How the narrative method is fitted and judged. ``fit_months``: the model is fitted on the
    months up to that many before the as-of month; ``max_training_documents`` (0: no cap) the
    most recent narratives it is fitted on; ``baseline_months`` the months a judged month is
    compared with; fewer than ``min_training_documents`` to fit on: no model, no alarm."""

    fit_months: int = 12
    max_training_documents: int = 0
    seed: int = 0
    n_topics: int = 20
    baseline_months: int = 12
    min_training_documents: int = 200

    @classmethod
    def from_signals(cls, settings: Mapping[str, Any]) -> NarrativeSettings:
        """The settings of the `[signals]` configuration section."""
        return cls(
            fit_months=int(settings.get("narrative_fit_months", 12)),
            max_training_documents=int(settings.get("narrative_max_training_documents", 0)),
            seed=int(settings.get("seed", 0)),
        )


@dataclass(frozen=True)
class NarrativeState:
    """What the narrative model keeps for the next night: the fitted model under the digest of
    what it was fitted on, and the labels of tonight's judged complaints under the same digest.
    Exactly what tonight needed, so the state is the same whatever the history of runs."""

    model: pl.DataFrame  # NARRATIVE_MODEL_SCHEMA
    labels: pl.DataFrame  # NARRATIVE_LABEL_SCHEMA
    model_reused: bool = False
    months_labelled: int = 0  # judged months labelled tonight (new or changed)
    months_kept: int = 0  # judged months whose labels were kept from an earlier night


def empty_narrative_state() -> NarrativeState:
    """No model and no labels: a warehouse that never judged narratives, or a night with too few
    to fit on."""
    return NarrativeState(
        pl.DataFrame(schema=NARRATIVE_MODEL_SCHEMA), pl.DataFrame(schema=NARRATIVE_LABEL_SCHEMA)
    )


@dataclass(frozen=True)
class NarrativeJudgement:
    """The as-of night's narrative judgement: the state to keep, the first day of the last month
    the model is fitted on, the model (None when there were too few narratives to fit on) and
    the first alarm of each (family, topic) and of each family's novelty series (topic -1)."""

    state: NarrativeState
    fit_until: dt.date
    model: TopicModel | None = None
    alarms: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RESULT_SCHEMA))


def narrative_fit_until(as_of: dt.date, fit_months: int) -> dt.date:
    """First day of the last month the topic model is fitted on: `fit_months` before as-of's."""
    fit_until = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    for _ in range(fit_months - 1):
        fit_until = (fit_until - dt.timedelta(days=1)).replace(day=1)
    return fit_until


def training_digest(train: pl.DataFrame, params: dict[str, Any], code_version: str) -> str:
    """sha256 of what a fit reads: the training rows (complaint, month, narrative hash, in fit
    order), the parameters, the model code (`code_version`) and the scikit-learn version."""
    h = hashlib.sha256()
    h.update(
        digest({"params": params, "code": code_version, "sklearn": sklearn.__version__}).encode()
    )
    for complaint_id, month, text_hash in train.select(
        "complaint_id", "month", "text_hash"
    ).iter_rows():
        h.update(f"\n{complaint_id}\t{month}\t{text_hash}".encode())
    return h.hexdigest()


def judge_narratives(
    complaints: pl.DataFrame,
    as_of: dt.date,
    settings: NarrativeSettings,
    stored: NarrativeState,
    code_version: str,
) -> NarrativeJudgement:
    """Fit (or reuse) the topic model, label (or keep) the judged months and judge them.

    `complaints`: the as-of night's, one row per complaint with NARRATIVE_COLUMNS (`text_hash`
    a hash of the narrative); those without a narrative are left out. `stored`: the state the
    previous night kept (any rows under another training digest are ignored). `code_version`:
    a version of the narrative code, part of the training digest, so a change refits."""
    fit_until = narrative_fit_until(as_of, settings.fit_months)
    prepared = prepare_narratives(
        complaints.select(NARRATIVE_COLUMNS).filter(pl.col("description").is_not_null())
    )
    if prepared.filter(pl.col("month") <= fit_until).height < settings.min_training_documents:
        return NarrativeJudgement(empty_narrative_state(), fit_until)
    params = {
        "n_topics": settings.n_topics,
        "seed": settings.seed,
        "max_training_documents": settings.max_training_documents,
        "fit_until": fit_until,
    }
    train = training_set(prepared, fit_until, settings.max_training_documents)
    fitted_on = training_digest(train, params, code_version)
    model_row = stored.model.filter(pl.col("training_digest") == fitted_on).select(
        list(NARRATIVE_MODEL_SCHEMA)
    )
    model_reused = model_row.height > 0
    if model_reused:
        model = load_topic_model(model_row["model"][0])
    else:
        model = fit_topic_model(
            train["description"].to_list(), n_topics=settings.n_topics, seed=settings.seed
        )
        model_row = pl.DataFrame(
            [(fitted_on, model.version, fit_until, model.n_documents, dump_topic_model(model))],
            schema=NARRATIVE_MODEL_SCHEMA,
            orient="row",
        )
    judged = judged_set(prepared, fit_until, baseline_months=settings.baseline_months)
    kept = stored.labels.filter(pl.col("training_digest") == fitted_on).select(
        list(MONTH_LABEL_SCHEMA)
    )
    labels = label_months(model, judged, kept)
    alarms = alarms_from_labels(
        judged.join(labels.select("complaint_id", *LABEL_SCHEMA), on="complaint_id", how="left"),
        model,
        fit_until,
        baseline_months=settings.baseline_months,
    )
    months = labels.select("month", "month_digest").unique()
    kept_months = months.join(
        kept.select("month", "month_digest").unique(), on=["month", "month_digest"]
    )
    state = NarrativeState(
        model_row,
        labels.with_columns(training_digest=pl.lit(fitted_on))
        .select(list(NARRATIVE_LABEL_SCHEMA))
        .sort("month", "complaint_id"),
        model_reused=model_reused,
        months_labelled=months.height - kept_months.height,
        months_kept=kept_months.height,
    )
    return NarrativeJudgement(state, fit_until, model, alarms)
