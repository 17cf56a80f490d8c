"""The Dagster definitions: one set for the UI, the schedule and `pms run` alike."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from assets.audit.assets import audit_run_record
from assets.ingestion.assets import (
    reference_code_tables,
    staging_capa,
    staging_complaints,
    staging_determinations,
    staging_distribution,
    staging_fda_adverse_events,
    staging_fsca,
    staging_lots,
    staging_products,
    staging_psur_inputs,
    staging_risk_register,
    staging_service,
    staging_submissions,
)
from assets.marts.assets import complaint_rates, units_in_service
from assets.quality.definitions import QUALITY_CHECKS
from assets.reports.assets import pms_reports, vigilance_page_asset
from assets.resources import LandingFolder, NightSettings, ReportFolder
from assets.signals.assets import signal_detection
from assets.vigilance.assets import compliance_flags_asset, vigilance_flags_asset
from assets.vigilance.risk import fsca_scope_asset, risk_feedback_asset
from assets.vigilance.triage import triage_suggestions_asset
from pipelines.jobs import pms_nightly, pms_safety_net
from pipelines.schedules import build_nightly_schedule
from pipelines.sensors import build_landing_sensor, safety_net_after_failed_night
from pipelines.settings import Locations, locations_for_environment
from pipelines.warehouse_backends import warehouse_resource

ALL_ASSETS = [
    reference_code_tables,
    staging_products,
    staging_risk_register,
    staging_lots,
    staging_distribution,
    staging_complaints,
    staging_service,
    staging_submissions,
    staging_determinations,
    staging_fsca,
    staging_capa,
    staging_psur_inputs,
    staging_fda_adverse_events,
    units_in_service,
    complaint_rates,
    signal_detection,
    vigilance_flags_asset,
    triage_suggestions_asset,
    compliance_flags_asset,
    risk_feedback_asset,
    fsca_scope_asset,
    pms_reports,
    vigilance_page_asset,
    audit_run_record,
]


def build_resources(locations: Locations, as_of: str = "") -> dict[str, object]:
    Path(locations.warehouse).parent.mkdir(parents=True, exist_ok=True)
    return {
        # A DuckDB file, or a DuckLake on PostgreSQL (PMS_WAREHOUSE_BACKEND=ducklake).
        "warehouse": warehouse_resource(locations.warehouse),
        "landing": LandingFolder(path=str(locations.landing)),
        "reports": ReportFolder(path=str(locations.reports)),
        "night": NightSettings(as_of=as_of),
    }


def build_definitions(locations: Locations | None = None, as_of: str = "") -> dg.Definitions:
    """The definitions for one environment (PMS_ENV and PMS_* paths when `locations` is None)."""
    return dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=QUALITY_CHECKS,
        jobs=[pms_nightly, pms_safety_net],
        schedules=[build_nightly_schedule()],
        sensors=[build_landing_sensor(), safety_net_after_failed_night],
        resources=build_resources(
            locations or locations_for_environment(), as_of or os.environ.get("PMS_AS_OF", "")
        ),
    )


defs = build_definitions()
