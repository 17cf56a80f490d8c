"""The landing-folder sources of the data contract, as data.

Each `SourceSpec` says where a source's files are, which columns the contract requires, how to
type them, and how a new file changes the staging table. Column names here are the fixed list
every SQL identifier comes from: nothing a landing file says becomes an identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnKind = Literal["str", "date", "timestamp", "int", "float", "bool", "enum"]
LoadMode = Literal["snapshot", "append", "upsert", "versioned"]

COMPLAINT_SOURCES = (
    "customer",
    "distributor",
    "field_service",
    "healthcare_professional",
    "patient",
    "literature",
    "clinical_study",
    "social_media",
    "regulator",
)
PATIENT_OUTCOMES = ("none", "injury", "serious_injury", "death", "unknown")
INVESTIGATION_STATUSES = ("open", "in_progress", "closed", "not_required")
REPORTABILITY_DECISIONS = ("yes", "no", "pending")
SERVICE_TYPES = ("installation", "preventive_maintenance", "repair", "inspection", "upgrade")

DUCKDB_TYPES: dict[ColumnKind, str] = {
    "str": "VARCHAR",
    "enum": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind = "str"
    required: bool = False
    allowed: tuple[str, ...] = ()
    pattern: str | None = None  # a regular expression the trimmed text must match in full
    pattern_hint: str = ""  # how the pattern reads to a person

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.kind]


@dataclass(frozen=True)
class SourceSpec:
    name: str  # staging table name and audit source
    glob: str  # relative to the landing folder
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # unique inside one file; upsert key across files
    mode: LoadMode

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _req(name: str, kind: ColumnKind = "str", **kw: object) -> Column:
    return Column(name, kind, required=True, **kw)  # type: ignore[arg-type]


COUNTRY = {"pattern": r"[A-Z]{2}", "pattern_hint": "an ISO 3166-1 alpha-2 code such as DE"}

PRODUCTS = SourceSpec(
    name="products",
    glob="products.csv",
    columns=(
        _req("device_model"),
        _req("device_family"),
        _req("product_code", pattern=r"[A-Z]{3}", pattern_hint="a three-letter FDA product code"),
        _req("eu_class", "enum", allowed=("I", "IIa", "IIb", "III")),
        _req("us_class", "enum", allowed=("1", "2", "3")),
        _req("implantable", "bool"),
        _req("launch_date", "date"),
        Column("description"),
    ),
    key=("device_model",),
    mode="snapshot",
)

RISK_REGISTER = SourceSpec(
    name="risk_register",
    glob="risk_register.csv",
    columns=(
        _req("hazard_id"),
        _req("device_family"),
        _req("hazard"),
        Column("hazardous_situation"),
        _req("harm"),
        Column("problem_codes"),
        Column("health_effect_codes"),
        _req("severity", "int", allowed=("1", "2", "3", "4", "5")),
        _req("expected_rate", "float"),
        _req("acceptability", "enum", allowed=("acceptable", "alarp", "unacceptable")),
    ),
    key=("hazard_id",),
    mode="snapshot",
)

LOTS = SourceSpec(
    name="lots",
    glob="lots/*.csv",
    columns=(
        _req("lot_number"),
        _req("device_model"),
        _req("manufacture_date", "date"),
        _req("quantity", "int"),
        Column("component_lots"),
        Column("expiry_date", "date"),
    ),
    key=("lot_number",),
    mode="upsert",
)

DISTRIBUTION = SourceSpec(
    name="distribution",
    glob="distribution/*.csv",
    columns=(
        _req("ship_date", "date"),
        _req("device_model"),
        Column("lot_number"),
        _req("country", **COUNTRY),  # type: ignore[arg-type]
        _req("units", "int"),
    ),
    key=(),
    mode="append",
)

COMPLAINTS = SourceSpec(
    name="complaint_versions",
    glob="complaints/*.csv",
    columns=(
        _req("complaint_id"),
        _req("received_date", "date"),
        _req("updated_at", "timestamp"),
        Column("event_date", "date"),
        _req("device_model"),
        Column("lot_number"),
        Column("serial_number"),
        Column("udi_di"),
        _req("country", **COUNTRY),  # type: ignore[arg-type]
        _req("source", "enum", allowed=COMPLAINT_SOURCES),
        Column("problem_code"),
        Column("health_effect_code"),
        Column("component_code"),
        _req("patient_outcome", "enum", allowed=PATIENT_OUTCOMES),
        _req("malfunction", "bool"),
        _req("description"),
        _req("investigation_status", "enum", allowed=INVESTIGATION_STATUSES),
        Column("investigation_closed_date", "date"),
        Column("investigation_conclusion_code"),
        Column("not_investigated_reason"),
        Column("reportability_decision", "enum", allowed=REPORTABILITY_DECISIONS),
        Column("reported_date", "date"),
        Column("regulatory_report_id"),
    ),
    key=("complaint_id", "updated_at"),
    mode="versioned",
)

SERVICE = SourceSpec(
    name="service",
    glob="service/*.csv",
    columns=(
        _req("service_id"),
        _req("serial_number"),
        _req("device_model"),
        _req("service_date", "date"),
        _req("service_type", "enum", allowed=SERVICE_TYPES),
        _req("failure_found", "bool"),
        Column("component_code"),
        Column("part_number"),
        Column("description"),
        Column("related_complaint_id"),
        Column("usage_hours", "float"),
    ),
    key=("service_id",),
    mode="upsert",
)

# data contract §1 "submissions/*.csv": every regulatory report the firm submitted, per authority
REPORT_KINDS = ("initial", "follow_up", "supplemental", "final", "final_non_reportable", "summary")
SUBMISSIONS = SourceSpec(
    name="submissions",
    glob="submissions/*.csv",
    columns=(
        _req("complaint_id"),
        _req(
            "authority",
            pattern=r"FDA|HC|EU:[A-Z]{2}|[A-Za-z][A-Za-z0-9_.:-]{0,39}",
            pattern_hint="FDA, HC, EU:<ISO country> or another regulator's short name",
        ),
        _req("report_kind", "enum", allowed=REPORT_KINDS),
        _req("submitted_date", "date"),
        Column("report_number"),
        Column("submitted_by"),
    ),
    key=("complaint_id", "authority", "report_kind", "submitted_date"),
    mode="append",
)

# data contract §1 "determinations/*.csv": decisions people recorded; append-only
DETERMINATION_KINDS = (
    "reportability",
    "causality",
    "remedial_action_required",
    "serious_public_health_threat",
    "fda_request",
    "signal_evaluation",
    "fsca_decision",
)
DETERMINATIONS = SourceSpec(
    name="determinations",
    glob="determinations/*.csv",
    columns=(
        _req("determination_id"),
        _req("kind", "enum", allowed=DETERMINATION_KINDS),
        _req("subject"),
        _req("value"),
        _req("decided_on", "date"),
        _req("decided_by"),
        _req("rationale"),
    ),
    key=("determination_id",),
    mode="upsert",
)

# data contract §1 "fsca/*.csv": the register of field safety corrective actions (MDR Art. 2(68),
# Art. 89; MDCG 2022-21 PSUR section "FSCA"), one row per FSCA, a later file updates it (status,
# closure). `action_type` follows the FSCA kinds of MDCG 2022-21: return of the device,
# modification, exchange, destruction, retrofit, advice on use; a software update (a kind of
# modification) and `other` are kept apart for the register's reader.
FSCA_ACTION_TYPES = (
    "return",
    "modification",
    "exchange",
    "destruction",
    "retrofit",
    "advice_on_use",
    "software_update",
    "other",
)
FSCA_STATUSES = ("open", "closed")
FSCA = SourceSpec(
    name="fsca",
    glob="fsca/*.csv",
    columns=(
        _req("fsca_id"),
        _req("device_family"),
        _req("started_on", "date"),
        _req("action_type", "enum", allowed=FSCA_ACTION_TYPES),
        _req("reason"),
        Column("device_models"),  # ';'-separated
        Column("lots"),  # ';'-separated
        Column("countries"),  # ';'-separated ISO 3166-1 alpha-2 codes
        Column("fsn_reference"),  # the field safety notice
        _req("status", "enum", allowed=FSCA_STATUSES),
        Column("closed_on", "date"),
        Column("signal_id"),  # the signal that led to it, if any
    ),
    key=("fsca_id",),
    mode="upsert",
)

# data contract §1 "capa/*.csv": the CAPA register (ISO 13485:2016 8.5.2-8.5.3; MDCG 2022-21 PSUR
# section "preventive and corrective actions"), one row per CAPA, a later file updates it.
CAPA_SOURCES = ("complaint", "trend", "fsca", "audit", "nonconformity", "other")
CAPA_STATUSES = ("open", "implemented", "effectiveness_verified", "closed")
CAPA = SourceSpec(
    name="capa",
    glob="capa/*.csv",
    columns=(
        _req("capa_id"),
        _req("device_family"),
        _req("opened_on", "date"),
        _req("source", "enum", allowed=CAPA_SOURCES),
        _req("problem"),
        Column("root_cause"),
        Column("actions"),
        _req("status", "enum", allowed=CAPA_STATUSES),
        Column("closed_on", "date"),
        Column("effectiveness"),
    ),
    key=("capa_id",),
    mode="upsert",
)

# data contract §1 "psur_inputs/*.csv": the texts people write for a PSUR (MDCG 2022-21: the
# scientific literature, registries and databases, the main PMCF findings, the status of the
# actions the previous PSUR decided), per device family and PSUR period (`period_end`, the last
# day of the period). A later file with the same family, section and period replaces the text.
PSUR_INPUT_SECTIONS = ("literature", "registries", "pmcf", "previous_psur_actions")
PSUR_INPUTS = SourceSpec(
    name="psur_inputs",
    glob="psur_inputs/*.csv",
    columns=(
        _req("device_family"),
        _req("section", "enum", allowed=PSUR_INPUT_SECTIONS),
        _req("period_end", "date"),
        _req("text"),
        _req("source"),  # the reference: a search protocol, a registry report, a PMCF report id
        _req("author"),
        _req("updated_on", "date"),
    ),
    key=("device_family", "section", "period_end"),
    mode="upsert",
)

LANDING_CSV_SOURCES: tuple[SourceSpec, ...] = (
    PRODUCTS,
    RISK_REGISTER,
    LOTS,
    DISTRIBUTION,
    COMPLAINTS,
    SERVICE,
    SUBMISSIONS,
    DETERMINATIONS,
    FSCA,
    CAPA,
    PSUR_INPUTS,
)

LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("extra_fields", "VARCHAR"),  # unknown columns of the file, kept as a JSON object
    ("source_file", "VARCHAR"),
    ("source_row", "BIGINT"),
    ("source_sha256", "VARCHAR"),
    ("run_id", "VARCHAR"),
)


def staging_ddl(spec: SourceSpec, table: str | None = None) -> str:
    """CREATE TABLE statement for a typed staging table of `spec` (identifiers from the spec)."""
    cols = [f"{c.name} {c.duckdb_type}" for c in spec.columns]
    cols += [f"{name} {typ}" for name, typ in LINEAGE_COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS staging.{table or spec.name} ({', '.join(cols)})"


def raw_ddl(spec: SourceSpec) -> str:
    """CREATE TABLE for the raw copy: every contract column as text, as read, with lineage."""
    cols = [f"{c.name} VARCHAR" for c in spec.columns]
    cols += [f"{name} {typ}" for name, typ in LINEAGE_COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS raw.{spec.name} ({', '.join(cols)})"
