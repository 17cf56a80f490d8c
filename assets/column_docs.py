"""What the columns of the published tables mean, in the words of the data contract (section 3,
"What it publishes") and the README: shown beside each column in the Dagster UI (the asset's
column schema). A column without an entry here is shown without a description; the test in
tests/test_definitions.py keeps every column the contract names for a published table described.
"""

from __future__ import annotations

COLUMN_DOCS: dict[str, dict[str, str]] = {
    "marts.vigilance_flags": {
        "complaint_id": "The complaint (or, for a determination's own clock, its subject).",
        "regime": "FDA_MDR, EU_MDR, HC_CMDR, CLINICAL_STUDY, or NONE_ENCODED (assess locally).",
        "authority": "The authority the report goes to: FDA, EU:<country>, HC, or the local "
        "one. Each authority is its own obligation.",
        "report_kind": "initial, supplemental, follow_up, final, final_non_reportable, "
        "five_day, public_health_threat, foreign_risk_notice.",
        "rule": "The encoded rule (config/vigilance_rules.csv) whose clock this is.",
        "route": "individual report, trend (EU Art. 88 count) or none.",
        "reportable": "Whether the rule asks for a report on the facts known on the night.",
        "criteria_met": "The criteria met, ';'-separated (death, serious_injury, "
        "serious_malfunction, doubt:...).",
        "reason": "Why, in words: the facts and the paragraph behind them.",
        "day_zero": "The day the clock started: the awareness date of the version that first met "
        "the criterion (21 CFR 803.3 'become aware'; MDR Art. 87).",
        "due_date": "Day zero plus the rule's days (calendar or work days).",
        "reported_date": "The date of the submission to this authority that met the obligation.",
        "report_number": "That submission's report number.",
        "status": "open, submitted_on_time, submitted_late, overdue, undetermined (in doubt: "
        "report unless decided), decided_not_reportable (a person's 'no', for second review), "
        "not_reportable.",
        "days_remaining": "Days from the night to the due date (negative when overdue).",
        "decision": "The recorded reportability decision that applies, if any.",
        "decided_by": "Who recorded that decision.",
        "decided_on": "When it was recorded.",
        "decision_rationale": "Why, as recorded.",
        "downgraded_on": "When later facts removed the criterion (the EU then owes a final "
        "non-reportable report).",
        "data_state": "staged, or quarantined (the row failed a data check; its clock runs).",
        "as_of": "The night the flags stand for.",
    },
    "marts.triage_suggestions": {
        "complaint_id": "A current complaint without a 'yes' reportability decision.",
        "predicted_outcome": "death, serious_injury, injury or none.",
        "p_reportable": "Calibrated probability that it is reportable (in base mode: of death or "
        "serious injury, calibrated to MAUDE's mix).",
        "suggested_problem_code": "Suggested IMDRF Annex A problem code.",
        "model_version": "The model that scored it (a hash of its training rows and parameters).",
        "suggestion_basis": "base (public MAUDE), firm (the firm's decisions) or firm+base.",
        "p_serious_base": "The base model's probability of death or serious injury.",
        "drivers": "The words that raised the probability most.",
    },
    "marts.signals": {
        "signal_id": "One signal across nights (a hash of method, scope and code).",
        "scope": "device_family, device_model, product_code or lot.",
        "scope_value": "The family, model, product code or lot.",
        "code": "IMDRF or FDA problem code, a risk-register hazard_id, or a narrative topic.",
        "method": "The detection method (README, Signals).",
        "period_start": "First month of the window the statistic was computed on.",
        "period_end": "Last month of that window.",
        "detected_on": "The night the alarm would first have fired, on the data known then.",
        "observed": "Observed count.",
        "expected": "Expected count under the baseline.",
        "statistic": "The method's statistic (its reading and direction are in the reports).",
        "threshold": "The threshold it was judged against.",
        "status": "new, ongoing, established, or the latest evaluation: confirmed, refuted, "
        "closed.",
    },
    "staging.complaint_versions": {
        "complaint_id": "The complaint; one row per version of it.",
        "received_date": "The day the complaint first reached the manufacturer.",
        "updated_at": "When this version's information reached the manufacturer: a version "
        "that first carries reportable information starts that obligation's clock.",
        "event_date": "When the event happened (never after received_date).",
        "device_model": "Device model (products.csv).",
        "lot_number": "Production lot.",
        "serial_number": "Serial number of the unit.",
        "udi_di": "UDI device identifier.",
        "country": "ISO country of the event.",
        "source": "Who reported it: customer, distributor, field_service, "
        "healthcare_professional, patient, literature, clinical_study, social_media, regulator.",
        "problem_code": "IMDRF Annex A device problem code (may be empty at intake).",
        "health_effect_code": "IMDRF Annex E health effect code.",
        "component_code": "IMDRF Annex G component code.",
        "patient_outcome": "none, injury, serious_injury, death or unknown.",
        "malfunction": "Whether the device malfunctioned.",
        "description": "The narrative as received (may hold personal data: reports show it "
        "redacted).",
        "investigation_status": "open, in_progress, closed or not_required.",
        "investigation_closed_date": "When the investigation closed.",
        "investigation_conclusion_code": "IMDRF Annex D investigation conclusion code.",
        "not_investigated_reason": "Why no investigation was needed.",
        "reportability_decision": "The human decision: yes, no, pending or empty.",
        "reported_date": "Legacy: one report date for all authorities (satisfies none that "
        "submissions/ does not confirm).",
        "regulatory_report_id": "Legacy report number.",
        "extra_fields": "Columns of the file the contract does not name, as a JSON object.",
        "source_file": "The landing file the row came from.",
        "source_row": "Its row number in that file.",
    },
    "marts.complaint_rates": {
        "device_family": "Device family (products.csv).",
        "device_model": "Device model.",
        "month": "Calendar month (first day).",
        "complaints": "Complaints received in the month.",
        "units_in_service": "Mean units in service over the month (shipped less returned).",
        "rate_per_1000": "Complaints per 1,000 units in service in the month.",
    },
    "marts.units_in_service": {
        "device_family": "Device family (products.csv).",
        "device_model": "Device model.",
        "country": "ISO country of the shipments.",
        "month": "Calendar month (first day).",
        "units_shipped": "Units shipped in the month.",
        "units_returned": "Units returned in the month (negative).",
        "units_in_service_end": "Units in service at the month's end (cumulative).",
        "units_in_service": "Mean of the month's start and end: the month's exposure.",
    },
}


def column_description(table: str, column: str) -> str | None:
    """The description of `table`'s `column` (schema.table), or None."""
    return COLUMN_DOCS.get(table, {}).get(column)
