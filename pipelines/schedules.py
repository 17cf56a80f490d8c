"""The nightly schedule: cron and time zone from config/pipeline.toml; the tick's date is the
run's as-of date, so a replayed tick reproduces that night."""

import dagster as dg

from pipelines.jobs import pms_nightly
from pipelines.settings import load_config


def night_run_config(as_of: str) -> dict:
    return {"resources": {"night": {"config": {"as_of": as_of}}}}


def build_nightly_schedule() -> dg.ScheduleDefinition:
    schedule = load_config().section("schedule")

    @dg.schedule(
        name="pms_nightly_schedule",
        job=pms_nightly,
        cron_schedule=str(schedule.get("cron", "0 2 * * *")),
        execution_timezone=str(schedule.get("timezone", "UTC")),
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Every night: ingest, detect, flag and publish, as of the tick's date.",
    )
    def pms_nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        as_of = context.scheduled_execution_time.date().isoformat()
        return dg.RunRequest(
            run_key=f"night-{as_of}", run_config=night_run_config(as_of), tags={"pms/as_of": as_of}
        )

    return pms_nightly_schedule
