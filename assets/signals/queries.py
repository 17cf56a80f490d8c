"""SQL for the signal assets: what the pipeline knew on a given night ($night), never later."""

from __future__ import annotations

from assets.marts.queries import COMPLAINTS_AS_OF_SQL


# Complaints as known on a night ($as_of): the current version of that night (see
# assets/marts/queries.py), with the family of the model.
def _complaints_known_on_night(extra_columns: str = "") -> str:
    return f"""
SELECT c.complaint_id, c.received_date, date_trunc('month', c.received_date)::DATE AS month,
       c.device_model, p.device_family, c.lot_number, c.problem_code, c.patient_outcome,
       c.country{extra_columns}
FROM ({COMPLAINTS_AS_OF_SQL}) c
JOIN staging.products p USING (device_model)
"""


COMPLAINTS_KNOWN_ON_NIGHT_SQL = _complaints_known_on_night()
# The same with the narrative, for the as-of night's narrative model only: the replayed nights
# need no text, and two million narratives per night would cost memory for nothing.
NARRATIVES_KNOWN_ON_NIGHT_SQL = _complaints_known_on_night(
    ", c.description, md5(c.description) AS text_hash"
)

# The firm's own FDA product codes (disproportionality is published for these).
OWN_PRODUCT_CODES_SQL = "SELECT product_code FROM staging.products"

# The first complaint received (the replay starts at the end of its month) and the first MAUDE
# report received (the disproportionality window is read from then on).
FIRST_COMPLAINT_SQL = "SELECT min(received_date) FROM staging.complaint_versions"
FIRST_MAUDE_REPORT_SQL = "SELECT min(date_received) FROM staging.maude_master"

# Unit-months in service per family and month, from shipments up to $night.
FAMILY_EXPOSURE_SQL = """
SELECT device_family, month, sum(units_in_service) AS units_in_service
FROM marts.units_in_service
WHERE month <= CAST($night AS DATE)
GROUP BY ALL
"""

# Unit-months each production lot has been in service by $night (shipments less returns, each
# unit counted from its ship date).
LOT_UNIT_MONTHS_SQL = """
SELECT d.lot_number, d.device_model,
       greatest(sum(d.units * date_diff('day', d.ship_date, CAST($night AS DATE)) / 30.4375), 0)
           AS unit_months
FROM staging.distribution d
WHERE d.lot_number IS NOT NULL AND d.ship_date <= CAST($night AS DATE)
GROUP BY ALL
"""

# Supplier component lots of each production lot.
LOT_COMPONENTS_SQL = """
SELECT lot_number, trim(component_lot) AS component_lot
FROM (
    SELECT lot_number, unnest(string_split(component_lots, ';')) AS component_lot
    FROM staging.lots WHERE component_lots IS NOT NULL
)
WHERE trim(component_lot) <> ''
"""

# Hazards of the risk file with the problem codes they map.
HAZARD_CODES_SQL = """
SELECT hazard_id, device_family, severity, expected_rate,
       trim(unnest(string_split(problem_codes, ';'))) AS problem_code
FROM staging.risk_register
WHERE problem_codes IS NOT NULL
"""

# MAUDE reports received in the window ($window_start, $night] per (FDA product code, FDA device
# problem code), each report counted once per pair (bulk files and openFDA pages may both carry
# it). A trailing window lets a change in reporting show instead of drowning in all the years.
MAUDE_PAIRS_SQL = """
SELECT d.device_report_product_code AS product_code,
       CAST(p.device_problem_code AS VARCHAR) AS problem_code,
       count(DISTINCT m.mdr_report_key) AS n11
FROM staging.maude_master m
JOIN staging.maude_devices d USING (mdr_report_key)
JOIN staging.maude_device_problems p USING (mdr_report_key)
WHERE m.date_received <= CAST($night AS DATE)
  AND m.date_received > CAST($window_start AS DATE)
  AND d.device_report_product_code IS NOT NULL AND p.device_problem_code IS NOT NULL
GROUP BY ALL
"""

# Field-service records dated by $night.
SERVICE_KNOWN_ON_NIGHT_SQL = """
SELECT service_id, serial_number, device_model, service_date, service_type, failure_found,
       component_code, part_number, usage_hours
FROM staging.service
WHERE service_date <= CAST($night AS DATE)
"""

# The MAUDE reports behind each pair of the same window (evidence of a disproportionality signal).
MAUDE_PAIR_REPORTS_SQL = """
SELECT DISTINCT d.device_report_product_code AS product_code,
       CAST(p.device_problem_code AS VARCHAR) AS problem_code, m.mdr_report_key
FROM staging.maude_master m
JOIN staging.maude_devices d USING (mdr_report_key)
JOIN staging.maude_device_problems p USING (mdr_report_key)
WHERE m.date_received <= CAST($night AS DATE)
  AND m.date_received > CAST($window_start AS DATE)
  AND d.device_report_product_code IN (SELECT product_code FROM staging.products)
ORDER BY 1, 2, 3
"""

# What people decided about signals by $night (data contract, determinations/): the status of a
# signal follows its latest evaluation (models/signal_life.py).
SIGNAL_EVALUATIONS_SQL = """
SELECT determination_id, subject, value, decided_on, decided_by, rationale
FROM staging.determinations
WHERE kind = 'signal_evaluation' AND decided_on <= CAST($as_of AS DATE)
ORDER BY decided_on, determination_id
"""

# Production lots as the service signals read them (serial numbers map to lots by quantity).
SERVICE_LOTS_SQL = """
SELECT lot_number, device_model, manufacture_date, quantity FROM staging.lots
"""

# --- Replay memo (models/replay_memo.py) ---------------------------------------------------------
# Each query below lists, for one input of the night queries, every row with `known_from`: the
# first night the row is seen (NULL: never), then exactly the columns the night queries read.
# MONTHLY_DIGEST_SQL totals them per month of `known_from`; cumulated, they fingerprint a night.

# COMPLAINTS_AS_OF_SQL keeps versions with updated_at before the night's end and received_date
# by the night, and ranks them by updated_at, source_file and source_row.
COMPLAINT_VERSION_ROWS_SQL = """
SELECT CASE WHEN updated_at IS NOT NULL AND received_date IS NOT NULL
            THEN greatest(CAST(updated_at AS DATE), received_date) END AS known_from,
       complaint_id, updated_at, source_file, source_row, received_date, device_model,
       lot_number, problem_code, patient_outcome, country, description
FROM staging.complaint_versions
"""

# FAMILY_EXPOSURE_SQL reads the months up to the night.
EXPOSURE_ROWS_SQL = """
SELECT month AS known_from, device_family, month, units_in_service FROM marts.units_in_service
"""

# LOT_UNIT_MONTHS_SQL reads shipments with a lot up to the night.
SHIPMENT_ROWS_SQL = """
SELECT ship_date AS known_from, lot_number, device_model, ship_date, units
FROM staging.distribution
WHERE lot_number IS NOT NULL
"""

# MAUDE_PAIRS_SQL and MAUDE_PAIR_REPORTS_SQL read the joined reports received by the night.
MAUDE_ROWS_SQL = """
SELECT m.date_received AS known_from, m.mdr_report_key, d.device_report_product_code,
       CAST(p.device_problem_code AS VARCHAR) AS device_problem_code
FROM staging.maude_master m
JOIN staging.maude_devices d USING (mdr_report_key)
JOIN staging.maude_device_problems p USING (mdr_report_key)
"""

# SERVICE_KNOWN_ON_NIGHT_SQL reads the records dated by the night.
SERVICE_ROWS_SQL = """
SELECT service_date AS known_from, service_id, serial_number, device_model, service_date,
       service_type, failure_found, component_code, part_number, usage_hours
FROM staging.service
"""

MONTHLY_ROWS_SQL = {
    "complaint_versions": COMPLAINT_VERSION_ROWS_SQL,
    "exposure": EXPOSURE_ROWS_SQL,
    "shipments": SHIPMENT_ROWS_SQL,
    "maude": MAUDE_ROWS_SQL,
    "service": SERVICE_ROWS_SQL,
}

# Rows and hash sum per month of `known_from` ({rows} is one of MONTHLY_ROWS_SQL).
MONTHLY_DIGEST_SQL = """
SELECT CAST(date_trunc('month', known_from) AS DATE) AS month, count(*) AS n,
       sum(CAST(hash(*COLUMNS(*)) AS HUGEINT)) AS s
FROM ({rows})
WHERE known_from IS NOT NULL
GROUP BY ALL
ORDER BY month
"""

# The own product codes and model families (the night queries read the whole table).
PRODUCT_ROWS_SQL = "SELECT device_model, device_family, product_code FROM staging.products"

# Inputs the night queries read whole: rows and hash sum ({rows} is one of WHOLE_TABLE_ROWS_SQL).
WHOLE_TABLE_ROWS_SQL = {
    "hazards": HAZARD_CODES_SQL,
    "lot_components": LOT_COMPONENTS_SQL,
    "service_lots": SERVICE_LOTS_SQL,
    "products": PRODUCT_ROWS_SQL,
}
TABLE_DIGEST_SQL = """
SELECT count(*) AS n, coalesce(sum(CAST(hash(*COLUMNS(*)) AS HUGEINT)), 0) AS s FROM ({rows})
"""

# State of the replay memo: the canonical nights replayed with their fingerprints, and the
# detections (with evidence) of the replay-loop and service methods on those nights.
CREATE_STATE_SQL = """
CREATE SCHEMA IF NOT EXISTS signals_state;
CREATE TABLE IF NOT EXISTS signals_state.replayed_nights (night DATE, fingerprint VARCHAR);
CREATE TABLE IF NOT EXISTS signals_state.detections (
    signal_id VARCHAR, scope VARCHAR, scope_value VARCHAR, code VARCHAR, method VARCHAR,
    period_start DATE, period_end DATE, detected_on DATE, observed DOUBLE, expected DOUBLE,
    statistic DOUBLE, threshold DOUBLE
);
CREATE TABLE IF NOT EXISTS signals_state.detection_evidence (
    signal_id VARCHAR, evidence_type VARCHAR, evidence_id VARCHAR
);
CREATE TABLE IF NOT EXISTS signals_state.narrative_models (
    training_digest VARCHAR, model_version VARCHAR, fit_until DATE, documents BIGINT, model BLOB
);
CREATE TABLE IF NOT EXISTS signals_state.narrative_labels (
    training_digest VARCHAR, month DATE, month_digest VARCHAR, complaint_id VARCHAR,
    text_hash VARCHAR, topic BIGINT, oov_share DOUBLE
);
"""

STORED_NIGHTS_SQL = "SELECT night, fingerprint FROM signals_state.replayed_nights ORDER BY night"

# What the narrative method kept from the last night (models/narrative_replay.py): the fitted
# topic model and the labels of the judged complaints, each under the digest of its training set.
STORED_NARRATIVE_MODELS_SQL = """
SELECT training_digest, model_version, fit_until, documents, model
FROM signals_state.narrative_models
"""

STORED_NARRATIVE_LABELS_SQL = """
SELECT training_digest, month, month_digest, complaint_id, text_hash, topic, oov_share
FROM signals_state.narrative_labels
"""

# Stored detections of the nights before the restart point ($before).
STORED_DETECTIONS_SQL = """
SELECT signal_id, scope, scope_value, code, method, period_start, period_end, detected_on,
       observed, expected, statistic, threshold
FROM signals_state.detections
WHERE detected_on < CAST($before AS DATE)
ORDER BY signal_id
"""

STORED_EVIDENCE_SQL = """
SELECT e.signal_id, e.evidence_type, e.evidence_id
FROM signals_state.detection_evidence e
JOIN signals_state.detections d USING (signal_id)
WHERE d.detected_on < CAST($before AS DATE)
ORDER BY e.signal_id, e.evidence_type, e.evidence_id
"""
