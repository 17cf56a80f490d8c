"""Form readiness (models/report_forms.py, config/report_forms.csv) on cases worked by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from models.report_forms import (
    READINESS_SCHEMA,
    FormField,
    form_for,
    form_readiness,
    load_form_fields,
)

D = dt.date.fromisoformat

# The columns the data contract (spec/data-contract.md, section 1) defines for complaints/*.csv
# (including the optional `causality` and `hospitalised`) and products.csv. Every source_column
# in config/report_forms.csv must be one of them.
CONTRACT_COMPLAINT_COLUMNS = frozenset(
    {
        "complaint_id",
        "received_date",
        "updated_at",
        "event_date",
        "device_model",
        "lot_number",
        "serial_number",
        "udi_di",
        "country",
        "source",
        "problem_code",
        "health_effect_code",
        "component_code",
        "patient_outcome",
        "malfunction",
        "description",
        "investigation_status",
        "investigation_closed_date",
        "investigation_conclusion_code",
        "not_investigated_reason",
        "reportability_decision",
        "reported_date",
        "regulatory_report_id",
        "causality",
        "hospitalised",
    }
)
CONTRACT_PRODUCT_COLUMNS = frozenset(
    {
        "device_model",
        "device_family",
        "product_code",
        "eu_class",
        "us_class",
        "implantable",
        "launch_date",
        "description",
    }
)
CONTRACT_COLUMNS = CONTRACT_COMPLAINT_COLUMNS | CONTRACT_PRODUCT_COLUMNS

# A complaint with every contract column filled (products.csv columns joined on device_model).
FULL = {
    "complaint_id": "C-1",
    "received_date": D("2026-03-02"),
    "updated_at": "2026-03-02T09:00:00",
    "event_date": D("2026-02-27"),
    "device_model": "Infusa 200",
    "device_family": "Infusa",
    "product_code": "FRN",
    "eu_class": "IIb",
    "lot_number": "L-2401",
    "serial_number": "SN-77",
    "udi_di": "04012345000017",
    "country": "DE",
    "source": "healthcare_professional",
    "problem_code": "A0401",
    "health_effect_code": "E0101",
    "component_code": "G01001",
    "patient_outcome": "serious_injury",
    "malfunction": False,  # a boolean false is a value, not a gap
    "description": "Pump stopped during infusion; patient needed intervention.",
    "investigation_status": "closed",
    "investigation_closed_date": D("2026-03-20"),
    "investigation_conclusion_code": "D0101",
    "causality": "related",
    "hospitalised": True,
}

FDA_ALWAYS = (
    "Patient identifier; Age at time of event or date of birth; Sex; Weight; "
    "Relevant tests/laboratory data; Other relevant history; Operator of device; "
    "Single-use device reprocessed and reused; Device available for evaluation; "
    "Concomitant medical products and therapy dates; Initial reporter contact and occupation; "
    "Remedial action initiated; Usage of device"
)
MIR_ALWAYS = (
    "Manufacturer awareness date of reportability; Operator of the device; Usage of the device; "
    "Device current location/disposition; Manufacturer's preliminary analysis"
)
HC_ALWAYS = (
    "Reporter name and contact information; Other medical devices or accessories involved; "
    "Preliminary comments; Proposed course of action and timetable; Previous reports on the device"
)

# fields_required / data-supplied required fields per form, counted by hand from the CSV:
# FDA 3500A: 28 required, 13 of them no column supplies -> 15 from the data;
# MIR: 18 required, 5 always to collect -> 13; HC: 11 required, 5 always to collect -> 6.
FDA_REQUIRED, FDA_SUPPLIED = 28, 15
MIR_REQUIRED, MIR_SUPPLIED = 18, 13
HC_REQUIRED, HC_SUPPLIED = 11, 6


def complaints(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), infer_schema_length=None)


def reports(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["complaint_id", "regime", "report_kind"], orient="row")


def one(out: pl.DataFrame, complaint_id: str, regime: str) -> dict:
    rows = out.filter(
        (pl.col("complaint_id") == complaint_id) & (pl.col("regime") == regime)
    ).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


ALL_THREE = (
    ("C-1", "FDA_MDR", "initial"),
    ("C-1", "EU_MDR", "initial"),
    ("C-1", "HC_CMDR", "initial"),
)


# --------------------------------------------------------------------------------------------
# the CSV
# --------------------------------------------------------------------------------------------


def test_every_row_cites_its_source():
    fields = load_form_fields()
    assert fields
    for f in fields:
        assert f.source.strip(), f
        if f.form == "FDA_3500A":
            assert f.source.startswith("21 CFR 803.52("), f
        elif f.form == "EU_MIR":
            assert f.source.startswith("MIR form 7.3.1 section"), f
        else:
            assert f.form == "HC_MDPR", f
            # the section is the CMDR paragraph the citation names
            assert f.source.endswith(f"s. {f.section}"), f


def test_source_columns_are_contract_columns():
    for f in load_form_fields():
        if f.source_column:
            assert f.source_column in CONTRACT_COLUMNS, f


def test_csv_shape():
    fields = load_form_fields()
    assert {f.required for f in fields} <= {"true", "conditional"}
    assert {f.section for f in fields if f.form == "FDA_3500A"} == {"A", "B", "D", "E", "G", "H"}
    for form in ("FDA_3500A", "EU_MIR", "HC_MDPR"):
        labels = [f.field for f in fields if f.form == form]
        assert len(labels) == len(set(labels)), form
        assert 12 <= len(labels) <= 35, (form, len(labels))
    # CMDR s. 60(2)(a)-(i), less (b) (the firm's and importer's names: the firm's own records)
    assert {f.section for f in fields if f.form == "HC_MDPR"} == {f"60(2)({p})" for p in "acdefghi"}
    lot = {f.form: f for f in fields if f.source_column == "lot_number"}
    assert (lot["FDA_3500A"].section, lot["FDA_3500A"].required) == ("D", "true")
    assert lot["EU_MIR"].required == "true"


def test_load_rejects_bad_rows(tmp_path: Path):
    header = "form,section,field,source_column,required,source,note\n"
    bad_required = tmp_path / "a.csv"
    bad_required.write_text(header + "FDA_3500A,D,Lot number,lot_number,yes,21 CFR 803.52(c)(4),\n")
    with pytest.raises(ValueError, match="required"):
        load_form_fields(bad_required)
    no_citation = tmp_path / "b.csv"
    no_citation.write_text(header + "FDA_3500A,D,Lot number,lot_number,true, ,\n")
    with pytest.raises(ValueError, match="citation"):
        load_form_fields(no_citation)
    twice = tmp_path / "c.csv"
    twice.write_text(
        header
        + "FDA_3500A,D,Lot number,lot_number,true,21 CFR 803.52(c)(4),\n"
        + "FDA_3500A,D,Lot number,serial_number,true,21 CFR 803.52(c)(4),\n"
    )
    with pytest.raises(ValueError, match="twice"):
        load_form_fields(twice)
    no_column = tmp_path / "d.csv"
    no_column.write_text("form,section,field\nFDA_3500A,D,Lot number\n")
    with pytest.raises(ValueError, match="missing column"):
        load_form_fields(no_column)


# --------------------------------------------------------------------------------------------
# form_for
# --------------------------------------------------------------------------------------------


def test_form_for():
    assert form_for("FDA_MDR", "initial") == "FDA_3500A"
    assert form_for("FDA_MDR", "five_day") == "FDA_3500A"
    assert form_for("FDA_MDR", "supplemental") == "FDA_3500A"
    assert form_for("EU_MDR", "initial") == "EU_MIR"
    assert form_for("EU_MDR", "final") == "EU_MIR"
    assert form_for("HC_CMDR", "initial") == "HC_MDPR"
    assert form_for("HC_CMDR", "foreign_risk_notice") is None  # s. 61.2: a notice of its own
    assert form_for("NONE_ENCODED", "initial") is None
    assert form_for("TGA", "initial") is None


# --------------------------------------------------------------------------------------------
# form_readiness
# --------------------------------------------------------------------------------------------


def test_full_complaint_is_ready_but_for_the_always_to_collect_fields():
    out = form_readiness(reports(*ALL_THREE), complaints(FULL))
    assert out.schema == pl.Schema(READINESS_SCHEMA)
    assert out.height == 3

    fda = one(out, "C-1", "FDA_MDR")
    assert fda["form"] == "FDA_3500A"
    assert (fda["fields_required"], fda["fields_present"]) == (FDA_REQUIRED, FDA_SUPPLIED)
    assert fda["missing"] == ""
    assert fda["to_collect_always"] == FDA_ALWAYS
    assert fda["ready"] is True
    assert fda["conditional_missing"] == "Implant and explant dates"

    mir = one(out, "C-1", "EU_MDR")
    assert mir["form"] == "EU_MIR"
    assert (mir["fields_required"], mir["fields_present"]) == (MIR_REQUIRED, MIR_SUPPLIED)
    assert mir["missing"] == ""
    assert mir["to_collect_always"] == MIR_ALWAYS
    assert mir["ready"] is True
    assert mir["conditional_missing"] == (
        "Implant and explant dates; Accessories / associated devices; "
        "Patient age, gender and weight; Healthcare facility information; "
        "Type of investigation and findings codes (IMDRF Annex B and C); "
        "Results of the final investigation and actions taken"
    )

    hc = one(out, "C-1", "HC_CMDR")
    assert hc["form"] == "HC_MDPR"
    assert (hc["fields_required"], hc["fields_present"]) == (HC_REQUIRED, HC_SUPPLIED)
    assert hc["missing"] == ""
    assert hc["to_collect_always"] == HC_ALWAYS
    assert hc["ready"] is True
    assert hc["conditional_missing"] == ""


def test_empty_lot_number_is_missing_for_3500a_section_d_and_the_mir():
    out = form_readiness(reports(*ALL_THREE), complaints({**FULL, "lot_number": ""}))
    fda = one(out, "C-1", "FDA_MDR")
    assert fda["missing"] == "Lot number"
    assert fda["fields_present"] == FDA_SUPPLIED - 1
    assert fda["ready"] is False
    section = {f.field: f.section for f in load_form_fields() if f.form == "FDA_3500A"}
    assert section[fda["missing"]] == "D"

    mir = one(out, "C-1", "EU_MDR")
    assert mir["missing"] == "Lot/batch number"
    assert mir["fields_present"] == MIR_SUPPLIED - 1
    assert mir["ready"] is False

    # Health Canada: s. 60(2)(a) requires the identifier; the lot is asked, not required
    hc = one(out, "C-1", "HC_CMDR")
    assert hc["missing"] == ""
    assert hc["ready"] is True
    assert hc["conditional_missing"] == "Lot number"


def test_whitespace_and_null_count_as_missing():
    row = {
        **FULL,
        "lot_number": "   ",
        "udi_di": "\t",
        "description": " \n ",
        "event_date": None,
        "device_family": "\u00a0",  # a non-breaking space only
    }
    out = form_readiness(reports(("C-1", "FDA_MDR", "initial")), complaints(row))
    fda = one(out, "C-1", "FDA_MDR")
    # in the CSV's order: B3, B5, D1, D4 lot, D4 UDI
    assert fda["missing"] == (
        "Date of event; Describe event or problem; Brand name; Lot number; "
        "Unique device identifier (UDI)"
    )
    assert fda["fields_present"] == FDA_SUPPLIED - 5
    assert fda["fields_required"] == FDA_REQUIRED
    assert fda["ready"] is False


def test_absent_columns_count_as_missing():
    row = {k: v for k, v in FULL.items() if k not in ("udi_di", "eu_class", "serial_number")}
    out = form_readiness(
        reports(("C-1", "EU_MDR", "initial"), ("C-1", "FDA_MDR", "initial")), complaints(row)
    )
    assert one(out, "C-1", "FDA_MDR")["missing"] == "Unique device identifier (UDI)"
    mir = one(out, "C-1", "EU_MDR")
    assert mir["missing"] == "UDI-DI; Risk class"
    assert mir["conditional_missing"].startswith("Serial number; ")


def test_regime_without_a_form_gets_no_row():
    out = form_readiness(
        reports(
            ("C-1", "NONE_ENCODED", "initial"),
            ("C-1", "TGA", "initial"),
            ("C-1", "HC_CMDR", "foreign_risk_notice"),
        ),
        complaints(FULL),
    )
    assert out.height == 0
    assert out.schema == pl.Schema(READINESS_SCHEMA)
    mixed = form_readiness(
        reports(("C-1", "NONE_ENCODED", "initial"), ("C-1", "FDA_MDR", "initial")),
        complaints(FULL),
    )
    assert mixed.select("regime", "form").rows() == [("FDA_MDR", "FDA_3500A")]


def test_complaint_not_in_the_data_has_every_data_field_missing():
    out = form_readiness(reports(("C-404", "HC_CMDR", "initial")), complaints(FULL))
    hc = one(out, "C-404", "HC_CMDR")
    assert hc["fields_present"] == 0
    assert hc["missing"] == (
        "Device name; Device identifier; Date the manufacturer became aware; Date of incident; "
        "Details of the incident; Consequences for the patient, user or other person"
    )
    assert hc["ready"] is False


def test_sorted_and_deduplicated():
    second = {**FULL, "complaint_id": "C-0"}
    out = form_readiness(
        reports(
            ("C-1", "HC_CMDR", "initial"),
            ("C-1", "EU_MDR", "initial"),
            ("C-0", "FDA_MDR", "supplemental"),
            ("C-1", "EU_MDR", "initial"),
            ("C-0", "FDA_MDR", "initial"),
        ),
        complaints(FULL, second),
    )
    assert out.select("complaint_id", "regime", "report_kind").rows() == [
        ("C-0", "FDA_MDR", "initial"),
        ("C-0", "FDA_MDR", "supplemental"),
        ("C-1", "EU_MDR", "initial"),
        ("C-1", "HC_CMDR", "initial"),
    ]


def test_latest_version_of_a_complaint_counts():
    old = {**FULL, "updated_at": "2026-03-02T09:00:00", "lot_number": ""}
    new = {**FULL, "updated_at": "2026-03-09T15:30:00", "lot_number": "L-2401"}
    out = form_readiness(reports(("C-1", "FDA_MDR", "initial")), complaints(new, old))
    assert one(out, "C-1", "FDA_MDR")["missing"] == ""


def test_custom_fields():
    fields = [
        FormField("FDA_3500A", "D", "Lot number", "lot_number", "true", "21 CFR 803.52(c)(4)", ""),
        FormField("FDA_3500A", "A", "Weight", "", "true", "21 CFR 803.52(a)(4)", ""),
        FormField("FDA_3500A", "D", "Serial number", "serial_number", "conditional", "x", ""),
    ]
    out = form_readiness(
        reports(("C-1", "FDA_MDR", "initial")),
        complaints({"complaint_id": "C-1", "lot_number": None, "serial_number": "S"}),
        fields,
    )
    assert out.row(0, named=True) == {
        "complaint_id": "C-1",
        "regime": "FDA_MDR",
        "report_kind": "initial",
        "form": "FDA_3500A",
        "fields_required": 2,
        "fields_present": 0,
        "missing": "Lot number",
        "to_collect_always": "Weight",
        "ready": False,
        "conditional_missing": "",
    }
