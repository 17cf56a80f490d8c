"""Dagster resources the assets need: where the landing folder and reports are, and the night.

The warehouse itself is a `dagster_duckdb.DuckDBResource` under the key `warehouse`.
"""

import datetime as dt
from pathlib import Path

import dagster as dg

# Every step that writes the DuckDB warehouse runs in this Dagster concurrency pool. DuckDB allows
# one writing process per file, so the pool's limit is 1 (set in the instance's dagster.yaml,
# `concurrency: pools: default_limit: 1`): runs on a multiprocess or Kubernetes executor then
# queue for the warehouse instead of failing on its file lock.
WAREHOUSE_POOL = "duckdb_warehouse"


class LandingFolder(dg.ConfigurableResource):
    """The folder the nightly extract drops files into (layout: data contract §1)."""

    path: str

    @property
    def root(self) -> Path:
        return Path(self.path)


class ReportFolder(dg.ConfigurableResource):
    """Where the PMS reports, index.html and manifest.json are published."""

    path: str

    @property
    def root(self) -> Path:
        return Path(self.path)


class NightSettings(dg.ConfigurableResource):
    """The night a run stands for. `as_of` (YYYY-MM-DD) limits every result to data received by
    then; empty means the run's own UTC date. Reports show this date, never the wall clock."""

    as_of: str = ""

    def as_of_date(self) -> dt.date:
        if self.as_of:
            return dt.date.fromisoformat(self.as_of)
        return dt.datetime.now(dt.UTC).date()
