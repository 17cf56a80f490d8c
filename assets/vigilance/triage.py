"""Triage asset: model suggestions (outcome, p(reportable), IMDRF code) for undecided complaints.

The model (models/triage.py) is refitted on a fixed calendar (`[triage] retrain_every_days`) on
the complaints as they were known on the training cutoff (`models.triage.training_cutoff`), with
the rule-derived reportability of that night as the label. It is kept in `triage_state.models`
under its version (a hash of the training rows, the label inputs, the parameters and the recipe),
so a night whose cutoff data are unchanged reuses it and a clean rebuild refits the very same
model. Scores are kept in `triage_state.scores` by model version, complaint and a hash of the
complaint's model inputs: a night scores only new and changed complaints. Both tables hold
exactly what the night's output needs, so the warehouse after a night is the same whatever the
history of earlier runs.

A suggestion never overrides a human decision. Decided 'no' complaints are scored too (out of
fold when they were trained on) so that a 'likely reportable' suggestion against a human 'no' can
be raised for review (models.triage.review_flags).
"""

import hashlib

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.marts.queries import COMPLAINTS_AS_OF_SQL
from assets.metadata import markdown_table, table_metadata
from assets.resources import WAREHOUSE_POOL, NightSettings
from assets.vigilance.assets import assess_night
from assets.warehouse import query_frame
from models.triage import (
    SUGGESTION_SCHEMA,
    TriageModel,
    TriageParams,
    data_fingerprint,
    dump_model,
    fit_triage,
    load_model,
    model_version,
    predict_triage,
    training_cutoff,
    unscored,
)
from models.vigilance import CONFIG_DIR, VigilanceSettings
from pipelines.settings import load_config

TRIAGE_OWNERS = ["team:regulatory-affairs"]
SCORING_SLICE_ROWS = 50_000  # complaints scored at once

# A reportability decision as written: case and surrounding white space do not matter.
DECISION_SQL = (
    "lower(regexp_replace(coalesce(c.reportability_decision, ''), '^\\s+|\\s+$', '', 'g'))"
)

# Every complaint as known on the night $as_of, with what the model and the rules read.
TRIAGE_FIELDS_SQL = f"""
SELECT c.complaint_id, c.received_date, c.description, c.patient_outcome,
       c.reportability_decision, c.malfunction, p.device_family, c.source,
       c.health_effect_code, c.problem_code,
       c.device_model, p.product_code, c.country, c.reported_date,
       {DECISION_SQL} AS decision
FROM ({COMPLAINTS_AS_OF_SQL}) c
LEFT JOIN staging.products p USING (device_model)
"""

# The training rows of a cutoff night: the $limit most recent decided complaints and the $limit
# most recent complaints with a problem code (by awareness date, then id), as fit_triage picks
# them (models.triage.most_recent); $limit = 0 takes all.
TRAINING_ROWS_SQL = f"""
SELECT * EXCLUDE (decided_rank, coded_rank) FROM (
    SELECT *,
           CASE WHEN decision IN ('yes', 'no') THEN row_number() OVER (
               PARTITION BY decision IN ('yes', 'no')
               ORDER BY received_date DESC, complaint_id DESC) END AS decided_rank,
           CASE WHEN coalesce(problem_code, '') <> '' THEN row_number() OVER (
               PARTITION BY coalesce(problem_code, '') <> ''
               ORDER BY received_date DESC, complaint_id DESC) END AS coded_rank
    FROM ({TRIAGE_FIELDS_SQL})
)
WHERE CAST($limit AS BIGINT) = 0 OR decided_rank <= $limit OR coded_rank <= $limit
ORDER BY complaint_id
"""

# The model's inputs of one complaint, hashed: a stored score is reused only for the same model
# version and the same inputs.
MODEL_INPUTS = (
    "description",
    "malfunction",
    "device_family",
    "source",
    "health_effect_code",
    "problem_code",
)
FEATURE_HASH_SQL = (
    "md5(to_json([" + ", ".join(f"CAST({c} AS VARCHAR)" for c in MODEL_INPUTS) + "]))"
)

# Tonight's complaints to suggest for: every complaint without a 'yes' (undecided ones, and
# human 'no' ones for the review flag).
# The fields are kept with them, so that the complaints still to score are not ranked again.
TONIGHT_SQL = f"""
CREATE OR REPLACE TEMP TABLE triage_tonight AS
SELECT *, nullif(decision, '') AS human_decision, {FEATURE_HASH_SQL} AS feature_hash
FROM ({TRIAGE_FIELDS_SQL})
WHERE decision <> 'yes'
"""

# Complaints of tonight without a stored score of model $version for their current inputs.
UNSCORED_SQL = """
SELECT t.* EXCLUDE (human_decision, feature_hash) FROM triage_tonight t
ANTI JOIN (SELECT complaint_id, feature_hash FROM triage_state.scores
           WHERE model_version = $version) s USING (complaint_id, feature_hash)
ORDER BY complaint_id
"""

SCORE_COLUMNS = ", ".join(c for c in SUGGESTION_SCHEMA if c != "complaint_id")

STATE_DDL = (
    "CREATE SCHEMA IF NOT EXISTS triage_state",
    "CREATE TABLE IF NOT EXISTS triage_state.models (model_version VARCHAR, "
    "training_cutoff DATE, training_rows BIGINT, model BLOB)",
    "CREATE TABLE IF NOT EXISTS triage_state.scores (complaint_id VARCHAR, "
    "feature_hash VARCHAR, "
    + ", ".join(
        f"{c} {'DOUBLE' if t == pl.Float64() else 'BOOLEAN' if t == pl.Boolean() else 'VARCHAR'}"
        for c, t in SUGGESTION_SCHEMA.items()
        if c != "complaint_id"
    )
    + ")",
)


def rule_labels(con: duckdb.DuckDBPyConnection, cutoff) -> pl.DataFrame:
    """Per complaint known on the cutoff night: whether a rule (or doubt) makes it reportable to
    any authority (`models.vigilance.assess_vigilance`, initial reports)."""
    settings = VigilanceSettings.from_config(load_config().section("vigilance"))
    return (
        assess_night(con, cutoff, settings)
        .filter(pl.col("report_kind") == "initial")
        .group_by("complaint_id")
        .agg(rule_reportable=pl.col("reportable").any())
        .sort("complaint_id")
    )


def _label_inputs_fingerprint(labels: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    for name in ("vigilance_rules.csv", "vigilance_regimes.csv"):
        digest.update((CONFIG_DIR / name).read_bytes())
    digest.update(data_fingerprint(labels, sorted(labels.columns)).encode("utf-8"))
    return digest.hexdigest()


def triage_model(
    con: duckdb.DuckDBPyConnection, cutoff, params: TriageParams
) -> tuple[TriageModel | None, bool, str]:
    """The model of the training cutoff night: the stored one when its version (the training
    rows and label inputs of that night) matches, else fitted and stored. Returns the model (None
    when too few complaints are decided), whether it was reused, and why it is missing."""
    training = query_frame(
        con, TRAINING_ROWS_SQL, {"as_of": cutoff, "limit": params.max_training_rows}
    ).drop("decision")
    all_labels = rule_labels(con, cutoff)
    columns = [c for c in training.columns if c != "received_date"]
    version = model_version(
        hashlib.sha256(
            (data_fingerprint(training, columns) + _label_inputs_fingerprint(all_labels)).encode(
                "utf-8"
            )
        ).hexdigest(),
        params,
    )
    stored = con.execute(
        "SELECT model FROM triage_state.models WHERE model_version = ?", [version]
    ).fetchall()
    if stored:
        return load_model(stored[0][0]), True, ""
    labels = all_labels.join(training.select("complaint_id"), on="complaint_id", how="semi")
    try:
        model = fit_triage(
            training.join(labels, on="complaint_id", how="left").sort("complaint_id"),
            params,
            version=version,
        )
    except ValueError as error:  # too few decided complaints of a class to train on
        con.execute("DELETE FROM triage_state.models")
        return None, False, str(error)
    con.execute("DELETE FROM triage_state.models")
    con.execute(
        "INSERT INTO triage_state.models VALUES (?, ?, ?, ?)",
        [version, cutoff, training.height, dump_model(model)],
    )
    return model, False, ""


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["marts", "triage_suggestions"],
    group_name="vigilance",
    owners=TRIAGE_OWNERS,
    kinds={"duckdb", "polars", "scikitlearn"},
    deps=[
        dg.AssetKey(["staging", "complaint_versions"]),
        dg.AssetKey(["staging", "products"]),
        # what the rules read to label the training complaints
        dg.AssetKey(["staging", "risk_register"]),
        dg.AssetKey(["staging", "distribution"]),
        dg.AssetKey(["staging", "submissions"]),
        dg.AssetKey(["staging", "determinations"]),
        dg.AssetKey(["reference", "code_tables"]),
    ],
    description=(
        "Model suggestions for every current complaint without a reportability decision (none "
        "or 'pending'), plus decided 'no' complaints scored out of fold for the review flag: "
        "predicted outcome (death, serious_injury, injury, none) with calibrated probabilities, "
        "p_reportable and likely_reportable at the operating threshold (highest threshold "
        "keeping out-of-fold recall of reportable >= target_recall), a suggested IMDRF Annex A "
        "problem code and the model version. Trained every `retrain_every_days` (a fixed "
        "calendar) on the decided complaints as known on that cutoff night, labelled by the "
        "rules (TF-IDF narrative + intake fields, calibrated logistic regression); in between, "
        "only new or changed complaints are scored. A suggestion never overrides a human "
        "decision."
    ),
)
def triage_suggestions_asset(
    warehouse: DuckDBResource, night: NightSettings
) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    params = TriageParams.from_config(load_config().section("triage"))
    cutoff = training_cutoff(as_of, params.retrain_every_days)
    with warehouse.get_connection() as con:
        for statement in STATE_DDL:
            con.execute(statement)
        model, reused, reason = triage_model(con, cutoff, params)
        con.execute(TONIGHT_SQL, {"as_of": as_of})
        version = model.version if model else f"untrained: {reason}"
        to_score = query_frame(con, UNSCORED_SQL, {"version": version})
        if to_score.is_empty():
            scored = pl.DataFrame(schema=SUGGESTION_SCHEMA)
        elif model is None:
            scored = unscored(to_score, reason)
        else:
            # in slices: a complaint's scores do not depend on its batch, and memory stays
            # bounded on the night everything is scored (a new model, a rebuild)
            scored = pl.concat(
                [
                    predict_triage(model, to_score.slice(start, SCORING_SLICE_ROWS))
                    for start in range(0, to_score.height, SCORING_SLICE_ROWS)
                ]
            )
        con.register("new_scores", scored.to_arrow())
        try:
            # the scores tonight needs: kept ones of this model version for unchanged inputs,
            # and the new ones; nothing else, so the table is the same after any history
            con.execute(
                f"""
                CREATE OR REPLACE TABLE triage_state.scores AS
                SELECT complaint_id, feature_hash, {SCORE_COLUMNS} FROM (
                    SELECT s.* FROM triage_state.scores s
                    JOIN triage_tonight t USING (complaint_id, feature_hash)
                    WHERE s.model_version = $version
                    UNION ALL BY NAME
                    SELECT t.feature_hash, n.*
                    FROM new_scores n JOIN triage_tonight t USING (complaint_id)
                )
                ORDER BY complaint_id
                """,
                {"version": version},
            )
        finally:
            con.unregister("new_scores")
        con.execute(
            f"""
            CREATE OR REPLACE TABLE marts.triage_suggestions AS
            SELECT t.complaint_id, t.human_decision, {SCORE_COLUMNS},
                   CAST($as_of AS DATE) AS as_of
            FROM triage_tonight t JOIN triage_state.scores s USING (complaint_id)
            ORDER BY t.complaint_id
            """,
            {"as_of": as_of},
        )
        metadata = table_metadata(
            con,
            "marts",
            "triage_suggestions",
            "human_decision IS NOT DISTINCT FROM 'no', p_reportable DESC NULLS LAST, complaint_id",
        )
        counts = con.execute(
            """
            SELECT predicted_outcome, likely_reportable, count(*) FROM marts.triage_suggestions
            WHERE human_decision IS DISTINCT FROM 'no'
            GROUP BY ALL ORDER BY predicted_outcome NULLS FIRST, likely_reportable NULLS FIRST
            """
        ).fetchall()
        undecided, likely_undecided, against_no = con.execute(
            """
            SELECT count(*) FILTER (WHERE human_decision IS DISTINCT FROM 'no'),
                   count(*) FILTER (WHERE human_decision IS DISTINCT FROM 'no'
                                    AND likely_reportable),
                   count(*) FILTER (WHERE human_decision = 'no' AND likely_reportable)
            FROM marts.triage_suggestions
            """
        ).fetchall()[0]
        con.execute("DROP TABLE triage_tonight")
    if model is None:
        model_metadata: dict[str, object] = {"model_version": None, "untrained_reason": reason}
    else:
        training = model.training
        model_metadata = {
            "model_version": model.version,
            "model_reused": reused,
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
            "training_cutoff": cutoff.isoformat(),
            "scored_tonight": int(scored.height),
            "undecided_complaints": int(undecided),
            "likely_reportable_undecided": int(likely_undecided),
            "likely_reportable_against_human_no": int(against_no),
            "undecided_by_suggestion": dg.MetadataValue.md(
                markdown_table(counts, ["predicted outcome", "likely reportable", "complaints"])
            ),
        }
    )
