"""A sensor on the landing folder: a run starts when the set of files (names, sizes, modification
times) changes. The nightly schedule stays the reference; the sensor only brings a run forward."""

import datetime as dt
import hashlib

import dagster as dg

from assets.ingestion.sources import LANDING_CSV_SOURCES
from assets.resources import LandingFolder
from pipelines.jobs import pms_nightly
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
