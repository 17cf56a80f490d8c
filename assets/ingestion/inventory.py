"""What the landing folder holds, against what the pipeline read: nothing given is lost unseen.

A file that no source of the data contract reads (a `.CSV` where `.csv` is expected, a file in a
sub-folder, a MAUDE code table, a stray export) is not loaded, and a contract file of a source
whose step did not run tonight (a blocking check stopped the night) is not read yet. Both are
listed on the morning page, so a person sees them instead of trusting that everything was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.ingestion.driver import landing_files
from assets.ingestion.fda import maude_kind
from assets.ingestion.sources import LANDING_CSV_SOURCES

# Folders of the landing folder that are not input: the generator's planted truth.
NOT_INPUT = ("_truth",)
MAX_LISTED = 200


@dataclass(frozen=True)
class LandingInventory:
    not_contract: list[str]  # files no source reads, relative paths, sorted
    not_read_yet: list[str]  # contract files with no audit.ingested_files row yet


def contract_files(landing: Path) -> list[str]:
    """Relative paths of the files some source of the data contract reads."""
    found = {
        p.relative_to(landing).as_posix()
        for spec in LANDING_CSV_SOURCES
        for p in landing_files(landing, spec.glob)
    }
    found |= {
        p.relative_to(landing).as_posix()
        for p in landing_files(landing, "maude/*")
        if maude_kind(p.name) is not None
    }
    found |= {p.relative_to(landing).as_posix() for p in landing_files(landing, "openfda/*.json")}
    return sorted(found)


def landing_inventory(con: duckdb.DuckDBPyConnection, landing: Path) -> LandingInventory:
    """Files no source reads, and contract files not read yet (no audit row for their path)."""
    if not landing.is_dir():
        return LandingInventory([], [])
    every = sorted(
        p.relative_to(landing).as_posix()
        for p in landing.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(landing).parts)
        and p.relative_to(landing).parts[0] not in NOT_INPUT
    )
    contract = contract_files(landing)
    claimed = set(contract)
    read = {
        row[0]
        for row in con.execute(
            "SELECT DISTINCT file_path FROM audit.ingested_files WHERE file_path IN "
            "(SELECT unnest(?))",
            [contract],
        ).fetchall()
    }
    return LandingInventory(
        not_contract=[f for f in every if f not in claimed],
        not_read_yet=[f for f in contract if f not in read],
    )
