"""Triage asset: model suggestions (outcome, p(reportable), IMDRF code) for undecided complaints.

The model (models/triage.py) is trained each night on the complaints decided by then and never
overrides a human decision. Decided 'no' complaints are scored too (out of fold) so that a
'likely reportable' suggestion against a human 'no' can be raised for review
(models.triage.review_flags).
"""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.marts.queries import COMPLAINTS_AS_OF_SQL
from assets.metadata import markdown_table, table_metadata
from assets.resources import WAREHOUSE_POOL, NightSettings
from assets.warehouse import query_frame, replace_table
from models.triage import (
    SUGGESTION_SCHEMA,
    TriageModel,
    TriageParams,
    fit_triage,
    predict_triage,
    unscored,
)
from pipelines.settings import load_config

TRIAGE_OWNERS = ["team:regulatory-affairs"]

TRIAGE_INPUT_SQL = f"""
SELECT c.complaint_id, c.received_date, c.description, c.patient_outcome,
       c.reportability_decision,
       c.malfunction, p.device_family, c.source, c.health_effect_code, c.problem_code,
       r.rule_reportable
FROM ({COMPLAINTS_AS_OF_SQL}) c
LEFT JOIN staging.products p USING (device_model)
LEFT JOIN (
    SELECT complaint_id, bool_or(reportable) AS rule_reportable
    FROM marts.vigilance_flags GROUP BY complaint_id
) r USING (complaint_id)
ORDER BY c.complaint_id
"""


def _decision(column: str = "reportability_decision") -> pl.Expr:
    return pl.col(column).fill_null("").str.to_lowercase().str.strip_chars()


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["marts", "triage_suggestions"],
    group_name="vigilance",
    owners=TRIAGE_OWNERS,
    kinds={"duckdb", "polars", "scikitlearn"},
    deps=[
        dg.AssetKey(["staging", "complaint_versions"]),
        dg.AssetKey(["marts", "vigilance_flags"]),
        dg.AssetKey(["staging", "products"]),
    ],
    description=(
        "Model suggestions for every current complaint without a reportability decision (none "
        "or 'pending'), plus decided 'no' complaints scored out of fold for the review flag: "
        "predicted outcome (death, serious_injury, injury, none) with calibrated probabilities, "
        "p_reportable and likely_reportable at the operating threshold (highest threshold "
        "keeping out-of-fold recall of reportable >= target_recall), a suggested IMDRF Annex A "
        "problem code and the model version. Trained nightly on the decided complaints "
        "(TF-IDF narrative + intake fields, calibrated logistic regression). A suggestion never "
        "overrides a human decision."
    ),
)
def triage_suggestions_asset(
    warehouse: DuckDBResource, night: NightSettings
) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    params = TriageParams.from_config(load_config().section("triage"))
    with warehouse.get_connection() as con:
        complaints = query_frame(con, TRIAGE_INPUT_SQL, {"as_of": as_of})
        # every complaint without a 'yes': undecided ones (the contract) and human 'no' ones
        # (scored out of fold, for the review flag); a 'yes' needs no triage
        to_score = complaints.filter(_decision() != "yes")
        try:
            model: TriageModel | None = fit_triage(complaints, params)
        except ValueError as error:  # too few decided complaints of a class to train on
            model, reason = None, str(error)
        scored = predict_triage(model, to_score) if model else unscored(to_score, reason)
        suggestions = (
            scored.join(
                to_score.select("complaint_id", "reportability_decision"),
                on="complaint_id",
                how="left",
            )
            .with_columns(
                human_decision=pl.when(_decision() == "")
                .then(pl.lit(None, dtype=pl.Utf8))
                .otherwise(_decision()),
                as_of=pl.lit(as_of),
            )
            .select(
                "complaint_id",
                "human_decision",
                *[c for c in SUGGESTION_SCHEMA if c != "complaint_id"],
                "as_of",
            )
            .sort("complaint_id")
        )
        replace_table(con, "marts", "triage_suggestions", suggestions)
        metadata = table_metadata(
            con,
            "marts",
            "triage_suggestions",
            "human_decision IS NOT DISTINCT FROM 'no', p_reportable DESC NULLS LAST, complaint_id",
        )
    undecided = suggestions.filter(pl.col("human_decision").fill_null("") != "no")
    against_no = suggestions.filter(
        (pl.col("human_decision") == "no") & pl.col("likely_reportable").fill_null(False)
    ).height
    counts = (
        undecided.group_by("predicted_outcome", "likely_reportable")
        .agg(pl.len().alias("n"))
        .sort("predicted_outcome", "likely_reportable")
        .rows()
    )
    if model is None:
        model_metadata: dict[str, object] = {"model_version": None, "untrained_reason": reason}
    else:
        training = model.training
        model_metadata = {
            "model_version": model.version,
            "n_train": int(training["n_train_reportable"]),
            "n_train_reportable_label": int(training["n_reportable"]),
            "n_train_outcome": int(training["n_train_outcome"]),
            "n_train_problem_code": int(training["n_train_problem_code"]),
            "operating_threshold": float(model.threshold),
            "target_recall": float(params.target_recall),
            "oof_recall_at_threshold": float(training["oof_recall_at_threshold"]),
            "oof_precision_at_threshold": float(training["oof_precision_at_threshold"]),
        }
    return dg.MaterializeResult(
        metadata={
            **metadata,
            **model_metadata,
            "as_of": as_of.isoformat(),
            "undecided_complaints": int(undecided.height),
            "likely_reportable_undecided": int(
                undecided["likely_reportable"].fill_null(False).sum()
            ),
            "likely_reportable_against_human_no": int(against_no),
            "undecided_by_suggestion": dg.MetadataValue.md(
                markdown_table(counts, ["predicted outcome", "likely reportable", "complaints"])
            ),
        }
    )
