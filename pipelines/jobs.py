"""The nightly job: the whole asset graph, in one process (DuckDB has a single writer)."""

from __future__ import annotations

import dagster as dg

from assets.night_outcome import KNOWN_DATA_ONLY, SAFETY_CRITICAL_ASSETS, SAFETY_NET_TIER_TAG
from pipelines.hooks import step_memory

__all__ = ["KNOWN_DATA_ONLY", "SAFETY_NET_TIER_TAG"]

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

SAFETY_NET_JOB_NAME = "pms_safety_net"

# The assets of the safety-critical path once tonight's complaint files are in (README, "The
# safety-critical path"): the vigilance flags, the morning page and the audit record.
SAFETY_PATH_KEYS = SAFETY_CRITICAL_ASSETS
# The optional PSUR sources (staging/fsca, staging/capa, staging/psur_inputs) feed the family
# reports only: the nightly job (every asset) reads them, the safety net does not.
COMPLAINT_INGESTION_KEYS = (
    dg.AssetKey(["staging", "complaint_versions"]),
    dg.AssetKey(["staging", "complaints"]),
    dg.AssetKey(["staging", "submissions"]),
    dg.AssetKey(["staging", "determinations"]),
)

# Run when a nightly run ended without its morning page (a blocking check, or a failure
# upstream of the flags), with the tag pms/rescues_run naming that run: tonight's complaint files
# are read (their row rules still quarantine what they must), then the flags from the staged
# data as it stands plus what waits in quarantine, the page and the record. No check runs: the
# nightly run's checks are named on the page. If that fails too, the same job runs again on
# SAFETY_PATH_KEYS alone (tag pms/safety_net_tier = known_data_only).
pms_safety_net = dg.define_asset_job(
    SAFETY_NET_JOB_NAME,
    selection=dg.AssetSelection.assets(
        *COMPLAINT_INGESTION_KEYS, *SAFETY_PATH_KEYS
    ).without_checks(),
    description=(
        "The safety-critical path alone, for a night whose nightly run stopped before "
        "publishing its morning page: tonight's complaint files, vigilance flags, morning page "
        "and audit record, no checks. The page names the checks and steps that stopped the "
        "nightly run; the clocks of known obligations keep counting."
    ),
    executor_def=dg.in_process_executor,
    hooks={step_memory},
)
