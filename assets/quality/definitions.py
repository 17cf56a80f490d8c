"""Every asset check of the quality gate, attached to the asset it judges."""

import dagster as dg

from assets.quality.checks import (
    accounting_check,
    complaint_extract_freshness,
    models_with_complaints_have_shipments,
    no_serious_complaint_waits_in_quarantine,
    suite_checks,
    volume_check,
)
from assets.quality.mart_checks import MART_CHECKS

# (asset key, suite) for every staged landing table with a suite in expectations/
SUITED_TABLES = (
    (("staging", "products"), "staging.products"),
    (("staging", "risk_register"), "staging.risk_register"),
    (("staging", "lots"), "staging.lots"),
    (("staging", "distribution"), "staging.distribution"),
    (("staging", "service"), "staging.service"),
    (("staging", "complaint_versions"), "staging.complaint_versions"),
    (("staging", "maude_master"), "staging.maude_master"),
    (("staging", "submissions"), "staging.submissions"),
    (("staging", "determinations"), "staging.determinations"),
    (("staging", "fsca"), "staging.fsca"),
    (("staging", "capa"), "staging.capa"),
    (("staging", "psur_inputs"), "staging.psur_inputs"),
)
# (asset key, audit source) whose files must balance
ACCOUNTED_SOURCES = (
    *((key, suite.split(".", 1)[1]) for key, suite in SUITED_TABLES),
    (("staging", "maude_devices"), "maude_device"),
    (("staging", "maude_texts"), "maude_text"),
    (("staging", "maude_patients"), "maude_patient"),
    (("staging", "maude_device_problems"), "maude_problem"),
    (("staging", "maude_master"), "openfda"),
)
VOLUME_SOURCES = (
    (("staging", "complaint_versions"), "complaint_versions"),
    (("staging", "distribution"), "distribution"),
    (("staging", "service"), "service"),
)

QUALITY_CHECKS: list[dg.AssetChecksDefinition] = [
    *(suite_checks(key, suite) for key, suite in SUITED_TABLES),
    *(accounting_check(key, source) for key, source in ACCOUNTED_SOURCES),
    *(volume_check(key, source) for key, source in VOLUME_SOURCES),
    complaint_extract_freshness,
    models_with_complaints_have_shipments,
    no_serious_complaint_waits_in_quarantine,
    *MART_CHECKS,
]
