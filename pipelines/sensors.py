"""A sensor on the landing folder: a run starts when the set of files (names, sizes, modification
times) changes. The nightly schedule stays the reference; the sensor only brings a run forward."""

import datetime as dt
import hashlib

import dagster as dg

from assets.ingestion.sources import LANDING_CSV_SOURCES
from assets.night_outcome import RESCUES_RUN_TAG, publishes_the_morning
from assets.resources import LandingFolder
from pipelines.jobs import (
    KNOWN_DATA_ONLY,
    SAFETY_NET_TIER_TAG,
    SAFETY_PATH_KEYS,
    pms_nightly,
    pms_safety_net,
)
from pipelines.schedules import night_run_config
from pipelines.settings import load_config

LANDING_GLOBS = (*(s.glob for s in LANDING_CSV_SOURCES), "maude/*", "openfda/*.json")


def landing_fingerprint(landing: LandingFolder) -> tuple[str, int]:
    """sha256 over the sorted (path, size, mtime) of every landing file, and the file count."""
    root = landing.root
    entries: list[str] = []
    if root.is_dir():
        for pattern in LANDING_GLOBS:
            for path in root.glob(pattern):
                if path.is_file():
                    stat = path.stat()
                    entries.append(
                        f"{path.relative_to(root).as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}"
                    )
    entries.sort()
    return hashlib.sha256("\n".join(entries).encode()).hexdigest(), len(entries)


def build_landing_sensor() -> dg.SensorDefinition:
    interval = int(load_config().section("sensor").get("minimum_interval_seconds", 300))

    @dg.sensor(
        name="landing_folder_sensor",
        job=pms_nightly,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Starts the nightly job when files appear or change in the landing folder.",
    )
    def landing_folder_sensor(context: dg.SensorEvaluationContext, landing: LandingFolder):
        fingerprint, count = landing_fingerprint(landing)
        if count == 0:
            return dg.SkipReason(f"No landing files in {landing.root}.")
        if fingerprint == context.cursor:
            return dg.SkipReason("No new or changed landing file since the last run request.")
        context.update_cursor(fingerprint)
        as_of = dt.datetime.now(dt.UTC).date().isoformat()
        return dg.RunRequest(
            run_key=fingerprint,
            run_config=night_run_config(as_of),
            tags={"pms/as_of": as_of, "pms/trigger": "landing_sensor"},
        )

    return landing_folder_sensor


def morning_page_published(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether a run materialised both the morning page and the audit record."""
    return publishes_the_morning(
        {
            record.event_log_entry.dagster_event.asset_key
            for record in instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=10_000
            ).records
            if record.event_log_entry.dagster_event is not None
        }
    )


@dg.run_status_sensor(
    name="safety_net_after_failed_night",
    run_status=dg.DagsterRunStatus.FAILURE,
    monitored_jobs=[pms_nightly, pms_safety_net],
    request_job=pms_safety_net,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "When a nightly run fails before publishing the morning page and the audit record (a "
        "blocking check, or a failure upstream of the vigilance flags), runs pms_safety_net for "
        "the same night (then, if that fails too, its second attempt on what is already known), "
        "so the clocks of known obligations stay on the page."
    ),
)
def safety_net_after_failed_night(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    if morning_page_published(context.instance, run.run_id):
        return dg.SkipReason(f"Run {run.run_id} published its morning page and audit record.")
    rescued = run.tags.get(RESCUES_RUN_TAG)
    tags = {
        RESCUES_RUN_TAG: rescued or run.run_id,
        "pms/as_of": run.tags.get("pms/as_of", ""),
        "pms/trigger": "safety_net_sensor",
    }
    run_config = {"resources": dict((run.run_config or {}).get("resources", {}))}
    if rescued is None:  # a nightly run: the whole safety net
        return dg.RunRequest(run_key=f"safety-net-{run.run_id}", run_config=run_config, tags=tags)
    if run.tags.get(SAFETY_NET_TIER_TAG) == KNOWN_DATA_ONLY:
        return dg.SkipReason(
            f"The safety net failed on known data too (run {run.run_id}): see its log."
        )
    return dg.RunRequest(
        run_key=f"safety-net-known-{rescued}",
        run_config=run_config,
        asset_selection=list(SAFETY_PATH_KEYS),
        tags={**tags, SAFETY_NET_TIER_TAG: KNOWN_DATA_ONLY},
    )
