"""SQL for the signal assets: what the pipeline knew on a given night ($night), never later."""

from __future__ import annotations

from assets.marts.queries import COMPLAINTS_AS_OF_SQL

# Complaints as known on a night ($as_of): the current version of that night (see
# assets/marts/queries.py), with the family of the model.
COMPLAINTS_KNOWN_ON_NIGHT_SQL = f"""
SELECT c.complaint_id, c.received_date, date_trunc('month', c.received_date)::DATE AS month,
       c.device_model, p.device_family, c.lot_number, c.problem_code, c.patient_outcome,
       c.country, c.description
FROM ({COMPLAINTS_AS_OF_SQL}) c
JOIN staging.products p USING (device_model)
"""

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
