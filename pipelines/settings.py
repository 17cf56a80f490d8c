"""Versioned pipeline configuration (config/pipeline.toml) and where things live per environment.

The configuration file is part of the evidence: its sha256 goes into the audit trail and every
report's manifest. Paths come from the environment so that code never asks where it runs:
PMS_ENV selects `local` (defaults under the project folder) or `ci` (everything under one
temporary folder); PMS_LANDING, PMS_WAREHOUSE, PMS_REPORTS override single paths.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = PROJECT_ROOT / "config" / "pipeline.toml"

DEFAULT_LANDING = Path("data/landing")
DEFAULT_WAREHOUSE = Path("data/warehouse/pms.duckdb")
DEFAULT_REPORTS = Path("reports")


@dataclass(frozen=True)
class PipelineConfig:
    values: dict[str, Any]
    sha256: str
    path: Path

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.values.get(name, {}))


def load_config(path: Path | None = None) -> PipelineConfig:
    path = path or Path(os.environ.get("PMS_CONFIG", CONFIG_FILE))
    data = path.read_bytes()
    return PipelineConfig(
        tomllib.loads(data.decode("utf-8")), hashlib.sha256(data).hexdigest(), path
    )


@dataclass(frozen=True)
class Locations:
    landing: Path
    warehouse: Path
    reports: Path


def locations_for_environment(env: str | None = None) -> Locations:
    """Where the landing folder, the warehouse and the reports are for an environment."""
    env = env or os.environ.get("PMS_ENV", "local")
    if env == "ci":
        base = Path(os.environ.get("PMS_CI_DIR", "/tmp/pms-ci"))
        defaults = Locations(base / "landing", base / "warehouse" / "pms.duckdb", base / "reports")
    elif env == "local":
        defaults = Locations(
            PROJECT_ROOT / DEFAULT_LANDING,
            PROJECT_ROOT / DEFAULT_WAREHOUSE,
            PROJECT_ROOT / DEFAULT_REPORTS,
        )
    else:
        raise ValueError(f"PMS_ENV={env!r}: expected 'local' or 'ci'")
    return Locations(
        landing=Path(os.environ.get("PMS_LANDING", defaults.landing)),
        warehouse=Path(os.environ.get("PMS_WAREHOUSE", defaults.warehouse)),
        reports=Path(os.environ.get("PMS_REPORTS", defaults.reports)),
    )


def code_version() -> str:
    """The git commit the code runs from (with '-dirty' for uncommitted changes), else the
    package version: the same code always reports the same version."""
    import subprocess

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        return f"{commit}-dirty" if dirty else commit
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"pms-pipeline {version('pms-pipeline')}"
        except PackageNotFoundError:
            return "unknown"
