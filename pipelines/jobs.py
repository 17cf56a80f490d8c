"""The nightly job: the whole asset graph, in one process (DuckDB has a single writer)."""

from __future__ import annotations

import dagster as dg

from pipelines.hooks import step_memory

NIGHTLY_JOB_NAME = "pms_nightly"

pms_nightly = dg.define_asset_job(
    NIGHTLY_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description=(
        "Ingest every new landing file, rebuild the marts as of the night, publish the reports. "
        "Runs in one process: DuckDB allows one writer per file."
    ),
    executor_def=dg.in_process_executor,
    hooks={step_memory},
)
