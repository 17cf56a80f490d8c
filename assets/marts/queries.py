"""SQL shared by the mart assets: what the pipeline knew on the night of `as_of`."""

from __future__ import annotations


# The version of each complaint that was current on the night of `as_of` (parameter $as_of):
# only versions updated by the end of that day, only complaints received by then. `only` narrows
# the complaints with a condition on the version `v` (a fixed text from code, never data).
def complaints_as_of_sql(only: str = "") -> str:
    return f"""
SELECT * EXCLUDE (version_rank) FROM (
    SELECT v.*, row_number() OVER (
        PARTITION BY complaint_id ORDER BY updated_at DESC, source_file DESC, source_row DESC
    ) AS version_rank
    FROM staging.complaint_versions v
    WHERE v.updated_at < CAST($as_of AS DATE) + INTERVAL 1 DAY
      AND v.received_date <= CAST($as_of AS DATE){f" AND ({only})" if only else ""}
) WHERE version_rank = 1
"""


COMPLAINTS_AS_OF_SQL = complaints_as_of_sql()

# Shipments with the family of their model; a model missing from products.csv keeps its rows
# under a visible placeholder family instead of disappearing from the denominator.
SHIPMENTS_WITH_FAMILY_SQL = """
SELECT d.ship_date, d.device_model,
       coalesce(p.device_family, '(model not in products.csv)') AS device_family,
       d.country, d.units
FROM staging.distribution d
LEFT JOIN staging.products p USING (device_model)
WHERE d.ship_date <= CAST($as_of AS DATE)
"""
