"""Read the project's copies of the public code tables the generator draws its codes from.

The files live in the project (``assets/reference/``), next to this package; nothing outside the
repository is read. Each table is parsed once per process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assets.ingestion.reference import IMDRF_ANNEX_FILES, imdrf_field

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "assets" / "reference"

_ANNEX_FILES = IMDRF_ANNEX_FILES


@dataclass(frozen=True)
class ProductCode:
    code: str
    device_name: str
    device_class: str
    regulation_number: str
    medical_specialty: str
    implant: bool
    life_sustaining: bool
    summary_malfunction_reporting: str


@cache
def annex_terms(annex: str, selectable_only: bool = False) -> dict[str, str]:
    """code -> term of one IMDRF annex (A..G), whatever the annex's key spelling."""
    path = REFERENCE_DIR / _ANNEX_FILES[annex]
    entries = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for entry in entries:
        code = imdrf_field(entry, "code")
        if not code:
            continue
        status = imdrf_field(entry, "status").lower()
        if selectable_only and ("not selectable" in status or "retired" in status):
            continue
        out.setdefault(code, imdrf_field(entry, "term"))
    return out


@cache
def product_codes() -> dict[str, ProductCode]:
    """FDA product classification file (pipe-delimited, Latin-1, CRLF): code -> record."""
    text = (REFERENCE_DIR / "fda" / "foiclass.txt").read_bytes().decode("latin-1")
    lines = [ln.rstrip("\r") for ln in text.split("\n") if ln.strip()]
    header = lines[0].split("|")
    idx = {name: i for i, name in enumerate(header)}
    out: dict[str, ProductCode] = {}
    for line in lines[1:]:
        f = line.split("|")
        if len(f) < len(header):  # a row with a wrong field count: skip it, do not crash
            continue

        def g(name: str, f: list[str] = f) -> str:
            return f[idx[name]].strip()

        code = g("PRODUCTCODE")
        if len(code) != 3:
            continue
        out[code] = ProductCode(
            code=code,
            device_name=g("DEVICENAME"),
            device_class=g("DEVICECLASS"),
            regulation_number=g("REGULATIONNUMBER"),
            medical_specialty=g("MEDICALSPECIALTY"),
            implant=g("Implant_Flag") == "Y",
            life_sustaining=g("Life_Sustain_support_flag") == "Y",
            summary_malfunction_reporting=g("SummaryMalfunctionReporting"),
        )
    return out


@cache
def device_problem_codes() -> dict[int, str]:
    """FDA legacy device problem codes: code -> description."""
    text = (REFERENCE_DIR / "fda" / "deviceproblemcodes.txt").read_bytes().decode("latin-1")
    out: dict[int, str] = {}
    for line in text.splitlines()[1:]:
        f = line.split("|")
        if len(f) >= 2 and f[0].strip().isdigit():
            out[int(f[0])] = f[1].strip()
    return out
