"""The parts of a PSUR / PMS report that MDCG 2022-21 asks for beyond the computed figures: the
cover (manufacturer, SRN, notified body, certificate, Basic UDI-DI), the intended purpose, the
population exposed, the IMDRF annex tables of the serious incidents, the register of field
safety corrective actions actually taken, CAPA, and the text inputs people write (literature,
registries, PMCF findings, actions from the previous PSUR).

Each reads the warehouse for one family and period. What comes from people and is missing is
never left blank: the section says what is missing and who supplies it (`missing(...)`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import duckdb

from assets.marts.queries import complaints_as_of_sql
from assets.reports.sections import REPORTED_SQL
from assets.warehouse import source_delivered, table_columns, table_exists
from models.exposure import population_exposed
from models.redaction import redact

# Optional products.csv columns (data contract extension, README "Inputs for the PSUR"): kept
# in staging.products.extra_fields, read here by name; who supplies each when it is missing.
PRODUCT_FACTS = {
    "manufacturer": "the legal manufacturer's name (regulatory affairs)",
    "srn": "the manufacturer's single registration number in EUDAMED (regulatory affairs)",
    "basic_udi_di": "the Basic UDI-DI (regulatory affairs, UDI management)",
    "notified_body": "the notified body's name and number (regulatory affairs)",
    "certificate": "the certificate number (regulatory affairs)",
    "intended_purpose": "the intended purpose as in the technical documentation (regulatory "
    "affairs)",
    "emdn_code": "the EMDN code (regulatory affairs)",
    "uses_per_unit_year": "the uses of one unit per year, for the population estimate "
    "(product management or marketing)",
}
TEXT_SECTIONS = {
    "previous_psur_actions": (
        "Actions from the previous PSUR",
        "the status of the actions the previous PSUR decided (the PMS team)",
    ),
    "literature": (
        "Scientific literature",
        "the literature review of the period (clinical affairs)",
    ),
    "registries": ("Registries and databases", "registry findings (clinical affairs)"),
    "pmcf": (
        "Post-market clinical follow-up",
        "the main PMCF findings (clinical affairs, PMCF evaluation report)",
    ),
}


def missing(what: str, file: str) -> str:
    """The sentence a section shows instead of data people must supply."""
    return f"Not supplied: {what}, in {file}."


def _product_fact_sql(con: duckdb.DuckDBPyConnection) -> str:
    if "extra_fields" not in table_columns(con, "staging.products"):
        return ", ".join(f"CAST(NULL AS VARCHAR) AS {k}" for k in PRODUCT_FACTS)
    return ", ".join(
        f"nullif(trim(json_extract_string(extra_fields, '$.{k}')), '') AS {k}"
        for k in PRODUCT_FACTS
    )


def product_facts(con: duckdb.DuckDBPyConnection, family: str) -> list[dict[str, Any]]:
    """Per device model of the family, the optional products.csv facts (None when absent)."""
    rows = con.execute(
        f"""
        SELECT device_model, implantable, {_product_fact_sql(con)}
        FROM staging.products WHERE device_family = $family ORDER BY device_model
        """,
        {"family": family},
    ).fetchall()
    keys = ("device_model", "implantable", *PRODUCT_FACTS)
    return [dict(zip(keys, r, strict=True)) for r in rows]


def cover(facts: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The cover page's lines: each fact's distinct values over the family's models, or what is
    missing and who supplies it."""
    out = []
    labels = {
        "manufacturer": "Manufacturer",
        "srn": "Single registration number (SRN)",
        "notified_body": "Notified body",
        "certificate": "Certificate",
        "basic_udi_di": "Basic UDI-DI",
        "emdn_code": "EMDN code",
    }
    for key, label in labels.items():
        values = sorted({str(f[key]) for f in facts if f.get(key)})
        without = sorted(f["device_model"] for f in facts if not f.get(key))
        if values and not without:
            value = "; ".join(values)
        elif values:
            value = (
                "; ".join(values)
                + " ("
                + missing(f"{PRODUCT_FACTS[key]} for {', '.join(without)}", "products.csv")
                + ")"
            )
        else:
            value = missing(PRODUCT_FACTS[key], f"products.csv column {key}")
        out.append({"label": label, "value": value, "missing": not values or bool(without)})
    return out


def population(
    con: duckdb.DuckDBPyConnection,
    family: str,
    start: dt.date,
    end: dt.date,
    facts: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Per model, the population exposed in the period (models.exposure.population_exposed) from
    marts.units_in_service: units shipped net of returns and unit-months in the period."""
    rows = dict(
        (model, (float(shipped or 0), float(unit_months or 0)))
        for model, shipped, unit_months in con.execute(
            """
            SELECT device_model, sum(units_shipped + units_returned), sum(units_in_service)
            FROM marts.units_in_service
            WHERE device_family = $family AND month BETWEEN $start AND $end
            GROUP BY ALL
            """,
            {"family": family, "start": start.replace(day=1), "end": end},
        ).fetchall()
    )
    out = []
    for f in facts:
        shipped, unit_months = rows.get(f["device_model"], (0.0, 0.0))
        try:
            uses = float(f["uses_per_unit_year"]) if f.get("uses_per_unit_year") else None
        except ValueError:
            uses = None
        estimate, basis = population_exposed(
            implantable=bool(f["implantable"]),
            units_shipped_in_period=shipped,
            unit_months_in_period=unit_months,
            uses_per_unit_year=uses,
        )
        out.append(
            {
                "device_model": f["device_model"],
                "units_shipped": shipped,
                "unit_months": unit_months,
                "estimate": estimate,
                "basis": basis,
            }
        )
    return out


# IMDRF annexes of the complaint extract (data contract): A problem, D investigation conclusion,
# E health effect (clinical signs), G component. Annex F (health impact) and B/C (investigation
# type and findings) are not columns of the extract.
ANNEX_COLUMNS = (
    ("E", "health_effect_code", "Health effects: clinical signs, symptoms and conditions"),
    ("D", "investigation_conclusion_code", "Investigation conclusions (cause)"),
    ("G", "component_code", "Components involved"),
)
ANNEX_NOT_IN_DATA = (
    "IMDRF Annex F (health impact) and Annexes B and C (investigation type and findings) are not "
    "columns of the complaint extract (data contract): not tabulated."
)


def annex_tables(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    family: str,
    start: dt.date,
    end: dt.date,
) -> list[dict[str, Any]]:
    """The serious incidents reported in the period (sections.REPORTED_SQL) by IMDRF Annex E, D
    and G code, each with its term and how many have no code. Sources: staging.submissions,
    staging.complaint_versions (as of), reference.imdrf_terms."""
    if not source_delivered(con, "submissions"):
        return []
    present = set(table_columns(con, "staging.complaint_versions"))
    out = []
    for annex, column, title in ANNEX_COLUMNS:
        if column not in present:
            continue
        rows = con.execute(
            f"""
            WITH {REPORTED_SQL.strip()},
            c AS ({complaints_as_of_sql("v.complaint_id IN (SELECT complaint_id FROM reported)")})
            SELECT coalesce(nullif(trim(c.{column}), ''), '(none)') AS code, t.term, count(*)
            FROM c
            JOIN staging.products p ON p.device_model = c.device_model
            LEFT JOIN reference.imdrf_terms t ON t.annex = $annex AND t.code = trim(c.{column})
            WHERE p.device_family = $family AND c.received_date BETWEEN $start AND $end
            GROUP BY ALL ORDER BY count(*) DESC, code
            """,
            {"as_of": as_of, "family": family, "start": start, "end": end, "annex": annex},
        ).fetchall()
        out.append(
            {
                "annex": annex,
                "title": title,
                "rows": [{"code": c, "term": t or "", "count": int(n)} for c, t, n in rows],
            }
        )
    return out


FSCA_COLUMNS = (
    "fsca_id",
    "started_on",
    "action_type",
    "reason",
    "device_models",
    "lots",
    "countries",
    "fsn_reference",
    "status",
    "closed_on",
    "signal_id",
)
CAPA_COLUMNS = (
    "capa_id",
    "opened_on",
    "source",
    "problem",
    "root_cause",
    "actions",
    "status",
    "closed_on",
    "effectiveness",
)


def _open_in_period(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: tuple[str, ...],
    family: str,
    start: dt.date,
    end: dt.date,
    free_text: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The family's rows of a register (`table` and `columns` from this module's fixed lists;
    the first column the id, the second the opening date) open at any time in the period, the
    free-text columns redacted."""
    opened = columns[1]
    rows = con.execute(
        f"""
        SELECT {", ".join(columns)} FROM {table}
        WHERE device_family = $family AND {opened} <= $end
          AND (closed_on IS NULL OR closed_on >= $start)
        ORDER BY {opened}, {columns[0]}
        """,
        {"family": family, "start": start, "end": end},
    ).fetchall()
    out = [dict(zip(columns, r, strict=True)) for r in rows]
    for row in out:
        for k in free_text:
            row[k] = redact(row[k]) if row[k] else row[k]
    return out


def fsca_register(
    con: duckdb.DuckDBPyConnection, family: str, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """The field safety corrective actions the firm took (staging.fsca, from fsca/*.csv) that
    were open at any time in the period; or what is missing."""
    if not source_delivered(con, "fsca"):
        return {
            "rows": [],
            "missing": missing(
                "the register of field safety corrective actions (regulatory affairs, vigilance)",
                "fsca/*.csv",
            ),
        }
    return {
        "rows": _open_in_period(con, "staging.fsca", FSCA_COLUMNS, family, start, end),
        "missing": "",
    }


def capa_register(
    con: duckdb.DuckDBPyConnection, family: str, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """Corrective and preventive actions of the family open at any time in the period
    (staging.capa, from capa/*.csv); or what is missing."""
    if not source_delivered(con, "capa"):
        return {
            "rows": [],
            "missing": missing("the CAPA register (quality assurance)", "capa/*.csv"),
        }
    rows = _open_in_period(
        con,
        "staging.capa",
        CAPA_COLUMNS,
        family,
        start,
        end,
        free_text=("problem", "root_cause", "actions", "effectiveness"),
    )
    return {"rows": rows, "missing": ""}


def text_inputs(
    con: duckdb.DuckDBPyConnection, family: str, end: dt.date
) -> dict[str, dict[str, Any]]:
    """Per text section (previous-PSUR actions, literature, registries, PMCF), the text people
    wrote for this family and period end (staging.psur_inputs, from psur_inputs/*.csv), or what
    is missing and who supplies it."""
    found: dict[str, dict[str, Any]] = defaultdict(dict)
    if table_exists(con, "staging.psur_inputs"):
        for section, text, source, author, updated_on in con.execute(
            """
            SELECT section, text, source, author, updated_on FROM staging.psur_inputs
            WHERE device_family = $family AND period_end = $end ORDER BY section
            """,
            {"family": family, "end": end},
        ).fetchall():
            found[section] = {
                "text": redact(text),
                "source": source,
                "author": author,
                "updated_on": updated_on,
            }
    out = {}
    for section, (title, who) in TEXT_SECTIONS.items():
        out[section] = {
            "title": title,
            **found.get(section, {}),
            "missing": ""
            if section in found
            else missing(f"{who} for the period ending {end}", "psur_inputs/*.csv"),
        }
    return out
