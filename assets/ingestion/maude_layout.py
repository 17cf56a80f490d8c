"""Column layouts of FDA's MAUDE bulk files, as FDA publishes them.

Source: FDA's own loader (FDA/openfda ``openfda/maude/pipeline.py``) for the lower-case names and
FDA's test fixtures (FDA/openfda ``openfda/maude/tests/data/``) for the device header. Readers map
a file's own header to these names; position is the fallback only for a file without a header.
"""

from __future__ import annotations

# Master file (mdrfoi*.txt), FDA loader's 81 field names; older rows carry the first 77.
MDRFOI_COLUMNS_81: tuple[str, ...] = (
    "mdr_report_key",
    "event_key",
    "report_number",
    "report_source_code",
    "manufacturer_link_flag",
    "number_devices_in_event",
    "number_patients_in_event",
    "date_received",
    "adverse_event_flag",
    "product_problem_flag",
    "date_report",
    "date_of_event",
    "reprocessed_and_reused_flag",
    "reporter_occupation_code",
    "health_professional",
    "initial_report_to_fda",
    "date_facility_aware",
    "report_date",
    "report_to_fda",
    "date_report_to_fda",
    "event_location",
    "date_report_to_manufacturer",
    "manufacturer_contact_t_name",
    "manufacturer_contact_f_name",
    "manufacturer_contact_l_name",
    "manufacturer_contact_address_1",
    "manufacturer_contact_address_2",
    "manufacturer_contact_city",
    "manufacturer_contact_state",
    "manufacturer_contact_zip_code",
    "manufacturer_contact_zip_ext",
    "manufacturer_contact_country",
    "manufacturer_contact_postal_code",
    "manufacturer_contact_area_code",
    "manufacturer_contact_exchange",
    "manufacturer_contact_phone_number",
    "manufacturer_contact_extension",
    "manufacturer_contact_pcountry",
    "manufacturer_contact_pcity",
    "manufacturer_contact_plocal",
    "manufacturer_g1_name",
    "manufacturer_g1_address_1",
    "manufacturer_g1_address_2",
    "manufacturer_g1_city",
    "manufacturer_g1_state",
    "manufacturer_g1_zip_code",
    "manufacturer_g1_zip_code_ext",
    "manufacturer_g1_country",
    "manufacturer_g1_postal_code",
    "date_manufacturer_received",
    "device_date_of_manufacturer",
    "single_use_flag",
    "remedial_action",
    "previous_use_code",
    "removal_correction_number",
    "event_type",
    "distributor_name",
    "distributor_address_1",
    "distributor_address_2",
    "distributor_city",
    "distributor_state",
    "distributor_zip_code",
    "distributor_zip_code_ext",
    "report_to_manufacturer",
    "manufacturer_name",
    "manufacturer_address_1",
    "manufacturer_address_2",
    "manufacturer_city",
    "manufacturer_state",
    "manufacturer_zip_code",
    "manufacturer_zip_code_ext",
    "manufacturer_country",
    "manufacturer_postal_code",
    "type_of_report",
    "source_type",
    "date_added",
    "date_changed",
    "reporter_country_code",
    "pma_pmn_number",
    "exemption_number",
    "summary_report_flag",
)

# Device file (foidev*.txt, DEVICE*.txt): 45 fields; older rows carry the first 28.
FOIDEV_COLUMNS_45: tuple[str, ...] = (
    "mdr_report_key",
    "device_event_key",
    "implant_flag",
    "date_removed_flag",
    "device_sequence_number",
    "date_received",
    "brand_name",
    "generic_name",
    "manufacturer_d_name",
    "manufacturer_d_address_1",
    "manufacturer_d_address_2",
    "manufacturer_d_city",
    "manufacturer_d_state",
    "manufacturer_d_zip_code",
    "manufacturer_d_zip_code_ext",
    "manufacturer_d_country",
    "manufacturer_d_postal_code",
    "expiration_date_of_device",
    "model_number",
    "catalog_number",
    "lot_number",
    "other_id_number",
    "device_operator",
    "device_availability",
    "date_returned_to_manufacturer",
    "device_report_product_code",
    "device_age_text",
    "device_evaluated_by_manufacturer",
    "baseline_brand_name",
    "baseline_generic_name",
    "baseline_model_number",
    "baseline_catalog_number",
    "baseline_other_id_number",
    "baseline_device_family",
    "baseline_shelf_life_contained",
    "baseline_shelf_life_in_months",
    "baseline_pma_flag",
    "baseline_pma_number",
    "baseline_510_k__flag",
    "baseline_510_k__number",
    "baseline_preamendment_flag",
    "baseline_transitional_flag",
    "baseline_510_k__exempt_flag",
    "baseline_date_first_marketed",
    "baseline_date_ceased_marketing",
)

FOIDEV_COLUMNS_28: tuple[str, ...] = FOIDEV_COLUMNS_45[:28]

PATIENT_COLUMNS: tuple[str, ...] = (
    "mdr_report_key",
    "patient_sequence_number",
    "date_received",
    "sequence_number_treatment",
    "sequence_number_outcome",
)

FOITEXT_COLUMNS: tuple[str, ...] = (
    "mdr_report_key",
    "mdr_text_key",
    "text_type_code",
    "patient_sequence_number",
    "date_report",
    "text",
)

FOIDEVPROBLEM_COLUMNS: tuple[str, ...] = (
    "mdr_report_key",
    "device_problem_code",
)

# ---------------------------------------------------------------------------------------------
# Upper-case headers FDA publishes today. Facts (column names and order) from a public
# third-party MAUDE loader: abenison-crypto/maude-analyzer @ 30aef411d00c,
# ``config/schemas/master_schemas.py`` (MASTER_COLUMNS_84 / _86) and
# ``config/schemas/device_schemas.py`` (DEVICE_COLUMNS_2020_PLUS); the upper-case to lower-case
# renames follow FDA's own loader (FDA/openfda @ d7325786000c, ``openfda/maude/pipeline.py``,
# FIELD_MAPPING). mdrfoithru2023.txt carries the 84, mdrfoi.txt (2024 on) the 86; the 86 add
# MFR_REPORT_TYPE after DATE_MANUFACTURER_RECEIVED and REPORTER_STATE_CODE before
# REPORTER_COUNTRY_CODE.
# ---------------------------------------------------------------------------------------------

MDRFOI_COLUMNS_86: tuple[str, ...] = (
    "MDR_REPORT_KEY",
    "EVENT_KEY",
    "REPORT_NUMBER",
    "REPORT_SOURCE_CODE",
    "MANUFACTURER_LINK_FLAG_",
    "NUMBER_DEVICES_IN_EVENT",
    "NUMBER_PATIENTS_IN_EVENT",
    "DATE_RECEIVED",
    "ADVERSE_EVENT_FLAG",
    "PRODUCT_PROBLEM_FLAG",
    "DATE_REPORT",
    "DATE_OF_EVENT",
    "REPROCESSED_AND_REUSED_FLAG",
    "REPORTER_OCCUPATION_CODE",
    "HEALTH_PROFESSIONAL",
    "INITIAL_REPORT_TO_FDA",
    "DATE_FACILITY_AWARE",
    "REPORT_DATE",
    "REPORT_TO_FDA",
    "DATE_REPORT_TO_FDA",
    "EVENT_LOCATION",
    "DATE_REPORT_TO_MANUFACTURER",
    "MANUFACTURER_CONTACT_T_NAME",
    "MANUFACTURER_CONTACT_F_NAME",
    "MANUFACTURER_CONTACT_L_NAME",
    "MANUFACTURER_CONTACT_STREET_1",
    "MANUFACTURER_CONTACT_STREET_2",
    "MANUFACTURER_CONTACT_CITY",
    "MANUFACTURER_CONTACT_STATE",
    "MANUFACTURER_CONTACT_ZIP_CODE",
    "MANUFACTURER_CONTACT_ZIP_EXT",
    "MANUFACTURER_CONTACT_COUNTRY",
    "MANUFACTURER_CONTACT_POSTAL",
    "MANUFACTURER_CONTACT_AREA_CODE",
    "MANUFACTURER_CONTACT_EXCHANGE",
    "MANUFACTURER_CONTACT_PHONE_NO",
    "MANUFACTURER_CONTACT_EXTENSION",
    "MANUFACTURER_CONTACT_PCOUNTRY",
    "MANUFACTURER_CONTACT_PCITY",
    "MANUFACTURER_CONTACT_PLOCAL",
    "MANUFACTURER_G1_NAME",
    "MANUFACTURER_G1_STREET_1",
    "MANUFACTURER_G1_STREET_2",
    "MANUFACTURER_G1_CITY",
    "MANUFACTURER_G1_STATE_CODE",
    "MANUFACTURER_G1_ZIP_CODE",
    "MANUFACTURER_G1_ZIP_CODE_EXT",
    "MANUFACTURER_G1_COUNTRY_CODE",
    "MANUFACTURER_G1_POSTAL_CODE",
    "DATE_MANUFACTURER_RECEIVED",
    "MFR_REPORT_TYPE",
    "DEVICE_DATE_OF_MANUFACTURE",
    "SINGLE_USE_FLAG",
    "REMEDIAL_ACTION",
    "PREVIOUS_USE_CODE",
    "REMOVAL_CORRECTION_NUMBER",
    "EVENT_TYPE",
    "DISTRIBUTOR_NAME",
    "DISTRIBUTOR_ADDRESS_1",
    "DISTRIBUTOR_ADDRESS_2",
    "DISTRIBUTOR_CITY",
    "DISTRIBUTOR_STATE_CODE",
    "DISTRIBUTOR_ZIP_CODE",
    "DISTRIBUTOR_ZIP_CODE_EXT",
    "REPORT_TO_MANUFACTURER",
    "MANUFACTURER_NAME",
    "MANUFACTURER_ADDRESS_1",
    "MANUFACTURER_ADDRESS_2",
    "MANUFACTURER_CITY",
    "MANUFACTURER_STATE_CODE",
    "MANUFACTURER_ZIP_CODE",
    "MANUFACTURER_ZIP_CODE_EXT",
    "MANUFACTURER_COUNTRY_CODE",
    "MANUFACTURER_POSTAL_CODE",
    "TYPE_OF_REPORT",
    "SOURCE_TYPE",
    "DATE_ADDED",
    "DATE_CHANGED",
    "REPORTER_STATE_CODE",
    "REPORTER_COUNTRY_CODE",
    "PMA_PMN_NUM",
    "EXEMPTION_NUMBER",
    "SUMMARY_REPORT",
    "NOE_SUMMARIZED",
    "SUPPL_DATES_FDA_RECEIVED",
    "SUPPL_DATES_MFR_RECEIVED",
)

# mdrfoithru2023.txt: the 86 without MFR_REPORT_TYPE and REPORTER_STATE_CODE.
MDRFOI_COLUMNS_84: tuple[str, ...] = tuple(
    c for c in MDRFOI_COLUMNS_86 if c not in ("MFR_REPORT_TYPE", "REPORTER_STATE_CODE")
)

# DEVICE*.txt (2020 on): 34 columns; IMPLANT_DATE_YEAR, DATE_REMOVED_YEAR and
# SERVICED_BY_3RD_PARTY_FLAG after DEVICE_SEQUENCE_NO, DEVICE_OPERATOR before
# EXPIRATION_DATE_OF_DEVICE, COMBINATION_PRODUCT_FLAG, UDI-DI and UDI-PUBLIC at the end.
DEVICE_COLUMNS_34: tuple[str, ...] = (
    "MDR_REPORT_KEY",
    "DEVICE_EVENT_KEY",
    "IMPLANT_FLAG",
    "DATE_REMOVED_FLAG",
    "DEVICE_SEQUENCE_NO",
    "IMPLANT_DATE_YEAR",
    "DATE_REMOVED_YEAR",
    "SERVICED_BY_3RD_PARTY_FLAG",
    "DATE_RECEIVED",
    "BRAND_NAME",
    "GENERIC_NAME",
    "MANUFACTURER_D_NAME",
    "MANUFACTURER_D_ADDRESS_1",
    "MANUFACTURER_D_ADDRESS_2",
    "MANUFACTURER_D_CITY",
    "MANUFACTURER_D_STATE_CODE",
    "MANUFACTURER_D_ZIP_CODE",
    "MANUFACTURER_D_ZIP_CODE_EXT",
    "MANUFACTURER_D_COUNTRY_CODE",
    "MANUFACTURER_D_POSTAL_CODE",
    "DEVICE_OPERATOR",
    "EXPIRATION_DATE_OF_DEVICE",
    "MODEL_NUMBER",
    "CATALOG_NUMBER",
    "LOT_NUMBER",
    "OTHER_ID_NUMBER",
    "DEVICE_AVAILABILITY",
    "DATE_RETURNED_TO_MANUFACTURER",
    "DEVICE_REPORT_PRODUCT_CODE",
    "DEVICE_AGE_TEXT",
    "DEVICE_EVALUATED_BY_MANUFACTUR",
    "COMBINATION_PRODUCT_FLAG",
    "UDI-DI",
    "UDI-PUBLIC",
)

# The device header FDA publishes today (alias for generators).
DEVICE_HEADER: tuple[str, ...] = DEVICE_COLUMNS_34

# Whole-name renames after the generic normalisation in canonical_field_name(); the keys are
# already lower-cased, '-'/' ' turned into '_', trailing '_' stripped.
_FIELD_ALIASES: dict[str, str] = {
    "manufacturer_contact_postal": "manufacturer_contact_postal_code",
    "device_date_of_manufacture": "device_date_of_manufacturer",
    "device_evaluated_by_manufactur": "device_evaluated_by_manufacturer",
    "summary_report": "summary_report_flag",
    "foi_text": "text",
    "problem_code": "device_problem_code",
    "baseline_preamendment": "baseline_preamendment_flag",
    "baseline_transitional": "baseline_transitional_flag",
}


def canonical_field_name(header_name: str) -> str:
    """Map a header name as FDA writes it to the canonical lower-case field name.

    MANUFACTURER_LINK_FLAG_ -> manufacturer_link_flag, MANUFACTURER_G1_STREET_1 ->
    manufacturer_g1_address_1, MANUFACTURER_G1_STATE_CODE -> manufacturer_g1_state,
    PMA_PMN_NUM -> pma_pmn_number, DEVICE_SEQUENCE_NO -> device_sequence_number,
    UDI-DI -> udi_di. Names that are already canonical come back unchanged; unknown names are
    only normalised (lower case, '_' separators), so extra columns are kept, not refused.
    """
    name = header_name.strip().strip("\ufeff").strip('"').strip().lower()
    name = name.replace("-", "_").replace(" ", "_").rstrip("_")
    if name in _FIELD_ALIASES:
        return _FIELD_ALIASES[name]
    for n in ("1", "2"):
        if name.endswith(f"_street_{n}"):
            name = name[: -len(f"_street_{n}")] + f"_address_{n}"
    if name.startswith(("manufacturer", "distributor")) and name.endswith(
        ("_state_code", "_country_code")
    ):
        name = name[: -len("_code")]
    if name.endswith("_no"):
        name = name[: -len("_no")] + "_number"
    elif name.endswith("_num"):
        name = name[: -len("_num")] + "_number"
    return name


def _union(*layouts: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for layout in layouts:
        for col in layout:
            seen.setdefault(canonical_field_name(col), None)
    return tuple(seen)


# Every canonical master field any layout carries (81, then the 84/86 additions), in order.
MDRFOI_CANONICAL_COLUMNS: tuple[str, ...] = _union(MDRFOI_COLUMNS_81, MDRFOI_COLUMNS_86)
# Every canonical device field (45-column layout, then the 2020+ additions).
FOIDEV_CANONICAL_COLUMNS: tuple[str, ...] = _union(FOIDEV_COLUMNS_45, DEVICE_COLUMNS_34)
