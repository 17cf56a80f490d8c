"""Code tables shipped with the project (see assets/reference/PROVENANCE.md) into `reference.*`.

IMDRF annexes A-G become one table `reference.imdrf_terms` (annex, code, term, definition,
parent_code, level); FDA's product classification file becomes `reference.fda_product_codes`;
FDA's device problem codes `reference.fda_device_problem_codes`. The files are parsed as they
are: key spellings differ between annexes, and the FDA files are Latin-1 pipe-delimited text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.warehouse import FileLoadResult, RejectedRow, record_quarantine

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"

IMDRF_ANNEX_FILES: dict[str, str] = {
    "A": "imdrf/annex_a_2024.json",
    "B": "imdrf/annex_b.json",
    "C": "imdrf/annex_c.json",
    "D": "imdrf/annex_d.json",
    "E": "imdrf/annex_e.json",
    "F": "imdrf/annex_f.json",
    "G": "imdrf/annex_g.json",
}
FDA_PRODUCT_CODES_FILE = "fda/foiclass.txt"
FDA_DEVICE_PROBLEM_CODES_FILE = "fda/deviceproblemcodes.txt"

REFERENCE_DDL = (
    "CREATE TABLE IF NOT EXISTS reference.imdrf_terms (annex VARCHAR, code VARCHAR, "
    "term VARCHAR, definition VARCHAR, parent_code VARCHAR, level INTEGER, source_file VARCHAR)",
    "CREATE TABLE IF NOT EXISTS reference.fda_product_codes (product_code VARCHAR, "
    "device_name VARCHAR, device_class VARCHAR, regulation_number VARCHAR, "
    "review_panel VARCHAR, medical_specialty VARCHAR, implant_flag BOOLEAN, "
    "life_sustaining_flag BOOLEAN, summary_malfunction_reporting VARCHAR, source_file VARCHAR)",
    "CREATE TABLE IF NOT EXISTS reference.fda_device_problem_codes (device_problem_code INTEGER, "
    "description VARCHAR, error_type VARCHAR, source_file VARCHAR)",
)


@dataclass(frozen=True)
class ImdrfTerm:
    annex: str
    code: str
    term: str
    definition: str
    parent_code: str | None
    level: int


def imdrf_field(entry: dict[str, object], name: str) -> str:
    """A value whatever the annex's key spelling (code/Code, definition/Definition)."""
    for key, value in entry.items():
        if key.strip().lower() == name:
            return str(value or "").strip()
    return ""


def parse_imdrf_annex(annex: str, entries: list[dict[str, object]]) -> list[ImdrfTerm]:
    terms = []
    for entry in entries:
        code = imdrf_field(entry, "code")
        if not code:
            continue
        level = max(1, (len(code) - 1) // 2)
        parent = code[:-2] if level > 1 else None
        terms.append(
            ImdrfTerm(
                annex,
                code,
                imdrf_field(entry, "term"),
                imdrf_field(entry, "definition"),
                parent,
                level,
            )
        )
    return sorted(terms, key=lambda t: t.code)


def ensure_reference_tables(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in REFERENCE_DDL:
        con.execute(ddl)


def load_imdrf_annex(
    con: duckdb.DuckDBPyConnection, path: Path, file_path: str, sha256: str, run_id: str
) -> FileLoadResult:
    ensure_reference_tables(con)
    annex = next(a for a, f in IMDRF_ANNEX_FILES.items() if f == file_path)
    entries = json.loads(path.read_text(encoding="utf-8"))
    terms = parse_imdrf_annex(annex, entries)
    con.execute("DELETE FROM reference.imdrf_terms WHERE annex = ?", [annex])
    con.executemany(
        "INSERT INTO reference.imdrf_terms VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(t.annex, t.code, t.term, t.definition, t.parent_code, t.level, file_path) for t in terms],
    )
    skipped = len(entries) - len(terms)
    rejected = [
        RejectedRow(i + 1, "code", "IMDRF entry without a code", json.dumps(e))
        for i, e in enumerate(entries)
        if not imdrf_field(e, "code")
    ]
    record_quarantine(
        con,
        source="reference",
        file_path=file_path,
        sha256=sha256,
        run_id=run_id,
        rejected=rejected,
    )
    return FileLoadResult(len(entries), len(terms), skipped)


def _pipe_rows(path: Path) -> tuple[list[str], list[tuple[int, str, list[str]]]]:
    text = path.read_bytes().decode("latin-1")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    header = [h.strip() for h in lines[0].split("|")]
    rows = [(i + 1, ln, ln.split("|")) for i, ln in enumerate(lines) if i > 0 and ln.strip()]
    return header, rows


def load_fda_product_codes(
    con: duckdb.DuckDBPyConnection, path: Path, file_path: str, sha256: str, run_id: str
) -> FileLoadResult:
    ensure_reference_tables(con)
    header, rows = _pipe_rows(path)
    index = {h.lower(): i for i, h in enumerate(header)}
    good, rejected = [], []
    for row_number, raw, fields in rows:
        if len(fields) != len(header):
            rejected.append(
                RejectedRow(
                    row_number,
                    None,
                    f"expected {len(header)} '|'-separated fields, found {len(fields)}",
                    raw,
                )
            )
            continue

        def get(name: str, fields: list[str] = fields) -> str:
            return fields[index[name]].strip()

        good.append(
            {
                "product_code": get("productcode"),
                "device_name": get("devicename"),
                "device_class": get("deviceclass"),
                "regulation_number": get("regulationnumber"),
                "review_panel": get("review_panel"),
                "medical_specialty": get("medicalspecialty"),
                "implant_flag": get("implant_flag") == "Y",
                "life_sustaining_flag": get("life_sustain_support_flag") == "Y",
                "summary_malfunction_reporting": get("summarymalfunctionreporting"),
                "source_file": file_path,
            }
        )
    frame = pl.DataFrame(good).sort("product_code")
    con.execute("DELETE FROM reference.fda_product_codes")
    con.register("incoming_codes", frame.to_arrow())
    try:
        con.execute("INSERT INTO reference.fda_product_codes BY NAME SELECT * FROM incoming_codes")
    finally:
        con.unregister("incoming_codes")
    record_quarantine(
        con,
        source="reference",
        file_path=file_path,
        sha256=sha256,
        run_id=run_id,
        rejected=rejected,
    )
    return FileLoadResult(len(rows), len(good), len(rejected))


def load_fda_device_problem_codes(
    con: duckdb.DuckDBPyConnection, path: Path, file_path: str, sha256: str, run_id: str
) -> FileLoadResult:
    ensure_reference_tables(con)
    header, rows = _pipe_rows(path)
    good, rejected = [], []
    for row_number, raw, fields in rows:
        if len(fields) != len(header) or not fields[0].strip().isdigit():
            rejected.append(
                RejectedRow(
                    row_number,
                    None,
                    f"expected {len(header)} fields starting with a numeric code, found {raw!r}",
                    raw,
                )
            )
            continue
        good.append((int(fields[0]), fields[1].strip(), fields[2].strip(), file_path))
    con.execute("DELETE FROM reference.fda_device_problem_codes")
    con.executemany(
        "INSERT INTO reference.fda_device_problem_codes VALUES (?, ?, ?, ?)", sorted(good)
    )
    record_quarantine(
        con,
        source="reference",
        file_path=file_path,
        sha256=sha256,
        run_id=run_id,
        rejected=rejected,
    )
    return FileLoadResult(len(rows), len(good), len(rejected))


REFERENCE_LOADERS = {
    **{f: load_imdrf_annex for f in IMDRF_ANNEX_FILES.values()},
    FDA_PRODUCT_CODES_FILE: load_fda_product_codes,
    FDA_DEVICE_PROBLEM_CODES_FILE: load_fda_device_problem_codes,
}
