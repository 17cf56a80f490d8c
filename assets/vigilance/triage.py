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
import json
import pickle

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.ingestion.reference import REFERENCE_DIR
from assets.marts.queries import COMPLAINTS_AS_OF_SQL
from assets.metadata import markdown_table, table_metadata
from assets.resources import WAREHOUSE_POOL, NightSettings
from assets.vigilance.assets import assess_night
from assets.warehouse import query_frame
from models.pickling import stable_pickle
from models.triage import (
    BASIS_BASE,
    BASIS_FIRM,
    SUGGESTION_SCHEMA,
    TriageModel,
    TriageParams,
    adapt_to_base,
    base_suggestions,
    data_fingerprint,
    dump_model,
    fit_triage,
    load_model,
    model_version,
    predict_triage,
    training_cutoff,
)
from models.triage_base import (
    BaseModel,
    BaseParams,
    base_version,
    drivers,
    fit_base,
    landing_reports,
    model_card,
    model_card_markdown,
    predict_serious,
    reference_reports,
    split_metrics,
    training_sample,
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

# Real MAUDE reports shipped with the pipeline: the base model always learns from them.
REFERENCE_REPORTS = REFERENCE_DIR / "maude-reports" / "maude_web_reports_1995.csv"

# The landing folder's MAUDE reports received by the cutoff night that have an event description
# (text type D): one row per report, its latest event type and its first device's product code.
MAUDE_TRAINING_KEYS_SQL = """
SELECT CAST(m.mdr_report_key AS VARCHAR) AS report_id, d.product_code, m.date_received,
       m.event_type
FROM (SELECT mdr_report_key, arg_max(event_type, date_received) AS event_type,
             max(date_received) AS date_received
      FROM staging.maude_master
      WHERE date_received <= $cutoff
      GROUP BY mdr_report_key) m
LEFT JOIN (SELECT mdr_report_key,
                  arg_min(device_report_product_code, device_sequence_number) AS product_code
           FROM staging.maude_devices GROUP BY mdr_report_key) d USING (mdr_report_key)
WHERE m.mdr_report_key IN (SELECT mdr_report_key FROM staging.maude_texts
                           WHERE text_type_code = 'D')
ORDER BY report_id
"""

# The event descriptions of the sampled reports (registered as `base_sample`).
MAUDE_TRAINING_TEXTS_SQL = """
SELECT CAST(mdr_report_key AS VARCHAR) AS report_id,
       string_agg(text, ' ' ORDER BY mdr_text_key, text) AS text
FROM staging.maude_texts
WHERE text_type_code = 'D'
  AND CAST(mdr_report_key AS VARCHAR) IN (SELECT report_id FROM base_sample)
GROUP BY ALL
ORDER BY report_id
"""

STATE_DDL = (
    "CREATE SCHEMA IF NOT EXISTS triage_state",
    "CREATE TABLE IF NOT EXISTS triage_state.models (model_version VARCHAR, "
    "training_cutoff DATE, training_rows BIGINT, model BLOB)",
    "CREATE TABLE IF NOT EXISTS triage_state.base_models (model_version VARCHAR, "
    "training_cutoff DATE, training_reports BIGINT, model BLOB)",
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


def base_training_reports(con: duckdb.DuckDBPyConnection, cutoff, params: BaseParams):
    """The base model's training reports: the shipped real MAUDE reports, and a stratified
    sample (models.triage_base.training_sample) of the landing folder's MAUDE reports known on the
    cutoff night."""
    reference = reference_reports(pl.read_csv(REFERENCE_REPORTS, infer_schema_length=0))
    keys = landing_reports(query_frame(con, MAUDE_TRAINING_KEYS_SQL, {"cutoff": cutoff}))
    if keys.is_empty():
        return reference
    sample = training_sample(keys, params.max_reports, params.seed)
    con.register("base_sample", sample.select("report_id").to_arrow())
    try:
        texts = query_frame(con, MAUDE_TRAINING_TEXTS_SQL)
    finally:
        con.unregister("base_sample")
    landing = (
        sample.drop("text")
        .join(texts, on="report_id")
        .filter(pl.col("text").str.strip_chars() != "")
        .select(reference.columns)
    )
    return pl.concat([reference, landing])


def base_model(
    con: duckdb.DuckDBPyConnection, cutoff, params: BaseParams
) -> tuple[BaseModel, bool]:
    """The MAUDE base model of the cutoff night: the stored one when its version (a hash of its
    training reports and parameters) matches, else fitted and stored. Returns it and whether it
    was reused."""
    reports = base_training_reports(con, cutoff, params)
    version = base_version(reports, params)
    stored = con.execute(
        "SELECT model FROM triage_state.base_models WHERE model_version = ?", [version]
    ).fetchall()
    if stored:
        model = pickle.loads(stored[0][0])  # only bytes this asset wrote
        if isinstance(model, BaseModel):
            return model, True
    model = fit_base(reports, params)
    con.execute("DELETE FROM triage_state.base_models")
    con.execute(
        "INSERT INTO triage_state.base_models VALUES (?, ?, ?, ?)",
        [
            model.version,
            cutoff,
            reports.height,
            stable_pickle(model, [model.pipeline.named_steps["text"]]),
        ],
    )
    return model, False


def base_scores(model: BaseModel, frame: pl.DataFrame) -> pl.DataFrame:
    """complaint_id, p_serious_base and drivers of the base model for each complaint."""
    texts = frame["description"].to_list()
    return pl.DataFrame(
        {
            "complaint_id": frame["complaint_id"],
            "p_serious_base": predict_serious(model, texts),
            "drivers": drivers(model, texts),
        },
        schema={"complaint_id": pl.Utf8, "p_serious_base": pl.Float64, "drivers": pl.Utf8},
    )


# The night's complaints whose patient outcome is known: the base model's transfer test.
KNOWN_OUTCOME_SQL = f"""
SELECT complaint_id, description, patient_outcome FROM ({TRIAGE_FIELDS_SQL})
WHERE patient_outcome IN ('death', 'serious_injury', 'injury', 'none')
ORDER BY complaint_id
"""


def night_model_card(
    con: duckdb.DuckDBPyConnection,
    as_of,
    base: BaseModel,
    model: TriageModel | None,
    reason: str,
) -> dict:
    """The night's model card (models.triage_base.model_card), with the base model scored on
    every complaint whose outcome is known (death or serious injury against the rest)."""
    known = query_frame(con, KNOWN_OUTCOME_SQL, {"as_of": as_of})
    on_firm = None
    if not known.is_empty():
        labels = known["patient_outcome"].is_in(["death", "serious_injury"]).to_numpy().astype(int)
        scores = predict_serious(base, known["description"].to_list())
        on_firm = split_metrics(labels, scores, scores >= base.threshold)
    if model is None:
        basis = BASIS_BASE
        basis_reason = (
            f"The firm's own model cannot be trained yet ({reason}); the MAUDE base model "
            "suggests for every complaint without a decision."
        )
        firm = None
    else:
        adaptation = model.adaptation
        basis = adaptation.basis if adaptation else BASIS_FIRM
        basis_reason = adaptation.reason if adaptation else "no base model to combine"
        firm = {
            "version": model.version,
            "n_train": int(model.training["n_train_reportable"]),
            "n_reportable": int(model.training["n_reportable"]),
            "oof_recall": float(model.training["oof_recall_at_threshold"]),
            "threshold": float(adaptation.threshold if adaptation else model.threshold),
            "adaptation": basis_reason,
        }
    return model_card(as_of.isoformat(), base, basis, basis_reason, firm, on_firm)


def triage_model(
    con: duckdb.DuckDBPyConnection, cutoff, params: TriageParams, base: BaseModel
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
            (
                data_fingerprint(training, columns)
                + _label_inputs_fingerprint(all_labels)
                + base.version
            ).encode("utf-8")
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
    trained = training.filter(pl.col("complaint_id").is_in(list(model.oof_p_reportable)))
    scores = base_scores(base, trained)
    model.adaptation = adapt_to_base(
        model, dict(zip(scores["complaint_id"], scores["p_serious_base"], strict=True))
    )
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
        # the base model's training reports
        dg.AssetKey(["staging", "maude_master"]),
        dg.AssetKey(["staging", "maude_devices"]),
        dg.AssetKey(["staging", "maude_texts"]),
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
        "only new or changed complaints are scored. A base model learnt from public MAUDE "
        "reports (the shipped real reports and a stratified sample of the landing folder's "
        "MAUDE files) gives every complaint p_serious_base (death or serious injury) and the "
        "words that drove it; it suggests alone while the firm has too few decided complaints, "
        "and is stacked with the firm's model when that lowers the out-of-fold Brier score "
        "(suggestion_basis; the model card in the metadata says which and why). A suggestion "
        "never overrides a human decision."
    ),
)
def triage_suggestions_asset(
    warehouse: DuckDBResource, night: NightSettings
) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    section = load_config().section("triage")
    params = TriageParams.from_config(section)
    base_params = BaseParams(**section.get("base", {}))
    cutoff = training_cutoff(as_of, params.retrain_every_days)
    with warehouse.get_connection() as con:
        for statement in STATE_DDL:
            con.execute(statement)
        base, base_reused = base_model(con, cutoff, base_params)
        model, reused, reason = triage_model(con, cutoff, params, base)
        con.execute(TONIGHT_SQL, {"as_of": as_of})
        version = model.version if model else base.version
        to_score = query_frame(con, UNSCORED_SQL, {"version": version})

        def suggest(batch: pl.DataFrame) -> pl.DataFrame:
            scores = base_scores(base, batch)
            if model is None:  # no firm model yet: the base model suggests on day one
                return base_suggestions(batch, scores, base.threshold, base.version)
            return predict_triage(model, batch, scores)

        # in slices: a complaint's scores do not depend on its batch, and memory stays bounded
        # on the night everything is scored (a new model, a rebuild)
        scored = pl.concat(
            [pl.DataFrame(schema=SUGGESTION_SCHEMA)]
            + [
                suggest(to_score.slice(start, SCORING_SLICE_ROWS))
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
        card = night_model_card(con, as_of, base, model, reason)
        con.execute(
            "CREATE OR REPLACE TABLE marts.triage_model_card (as_of DATE, model_version VARCHAR, "
            "suggestion_basis VARCHAR, card_json VARCHAR, card_markdown VARCHAR)"
        )
        card_markdown = model_card_markdown(card)
        con.execute(
            "INSERT INTO marts.triage_model_card VALUES (?, ?, ?, ?, ?)",
            [
                as_of,
                version,
                card["suggestion_basis"],
                json.dumps(card, sort_keys=True),
                card_markdown,
            ],
        )
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
            "base_model_version": base.version,
            "base_model_reused": base_reused,
            "suggestion_basis": card["suggestion_basis"],
            "model_card": dg.MetadataValue.md(card_markdown),
        }
    )
