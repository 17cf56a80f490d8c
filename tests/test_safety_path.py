"""A failure outside the safety-critical path never prevents the vigilance flags, the morning
page and the audit record (issue 13, README "The safety-critical path").

The narrative model (signal detection) and the PDF printer are made to fail inside the real
nightly job: both steps are failures of the run, named on the morning page, on the index and in
the night's audit record, and `pms run` ends with exit 1 and a last line saying so.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from tests.test_blocked_night import PRODUCT_ROWS, complaint, run_argv, write_landing

NARRATIVE_FAILURE = "the narrative model could not be fitted (injected)"
PRINTER_FAILURE = "the PDF printer crashed (injected)"


def _fail(message: str):
    def raise_it(*args: object, **kwargs: object) -> None:
        raise RuntimeError(message)

    return raise_it


SCENARIOS = {
    # (module, attribute replaced, message, the step that fails)
    "narrative model": ("signals", "narrative_alarms", NARRATIVE_FAILURE, "signal_detection"),
    "PDF printer": ("reports", "print_to_pdf", PRINTER_FAILURE, "reports__pms_reports"),
}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def failed_night(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from assets.ingestion.sources import COMPLAINTS
    from assets.reports import assets as report_assets
    from assets.signals import assets as signal_assets

    module, attribute, message, step = SCENARIOS[request.param]
    base = tmp_path_factory.mktemp("failed")
    write_landing(base / "landing", PRODUCT_ROWS)
    death = complaint("C-9", "IP-100").replace(",none,", ",death,")
    (base / "landing" / "complaints" / "c9.csv").write_text(
        ",".join(COMPLAINTS.column_names) + "\n" + death + "\n"
    )
    target = {"signals": signal_assets, "reports": report_assets}[module]
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        mp.setattr(target, attribute, _fail(message))
        code = main(run_argv(base))
    return {"base": base, "code": code, "stderr": err.getvalue(), "message": message, "step": step}


def test_exit_1_with_a_last_line_naming_the_failed_step(failed_night: dict) -> None:
    assert failed_night["code"] == 1
    last = failed_night["stderr"].strip().splitlines()[-1]
    assert last.startswith("pms run: exit 1: ")
    assert failed_night["step"] in last
    assert "the morning page and the audit record were published by the nightly run" in last


def test_the_morning_page_is_published_with_the_failure_named(failed_night: dict) -> None:
    page = (failed_night["base"] / "reports" / "vigilance.html").read_text("utf-8")
    assert "completed with failures" in page
    assert failed_night["step"] in page and failed_night["message"] in page
    assert "C-9" in page  # tonight's death is on the page with its clock
    index = (failed_night["base"] / "reports" / "index.html").read_text("utf-8")
    assert failed_night["step"] in index
    assert "No family report has been published yet" in index
    if failed_night["step"] == "signal_detection":
        # the sections fed by signals say their table was not rebuilt tonight
        assert "Not rebuilt tonight: marts/signals" in page
        assert "reports__pms_reports" in page  # not run: it needs the signals


def test_the_audit_record_names_the_failure(failed_night: dict) -> None:
    with duckdb.connect(str(failed_night["base"] / "pms.duckdb"), read_only=True) as con:
        [(reason,)] = con.execute("SELECT reason FROM audit.runs").fetchall()
        flags = con.execute(
            "SELECT status FROM marts.vigilance_flags WHERE complaint_id = 'C-9'"
        ).fetchall()
    assert f"{failed_night['step']} (step failed)" in reason
    assert failed_night["message"] in reason
    assert flags and {s for (s,) in flags} <= {"open", "overdue"}
    assert main(["verify-audit", "--warehouse", str(failed_night["base"] / "pms.duckdb")]) == 0


def test_the_manifest_lists_the_failure(failed_night: dict) -> None:
    manifest = json.loads((failed_night["base"] / "reports" / "manifest.json").read_text())
    assert any(failed_night["step"] in p for p in manifest["problems"])
    assert any(r["path"] == "vigilance.html" for r in manifest["reports"])


def test_run_problems_of_a_clean_night_are_empty(tmp_path: Path) -> None:
    write_landing(tmp_path / "landing", PRODUCT_ROWS)
    assert main(run_argv(tmp_path)) == 0
    page = (tmp_path / "reports" / "vigilance.html").read_text("utf-8")
    assert "night-problems" not in page


def test_the_sensor_rescues_a_night_stopped_before_its_page(tmp_path: Path) -> None:
    """In the UI (schedule, sensor, a click), a failed nightly run without its morning page
    gets pms_safety_net for the same night from the run-status sensor; a rescue that fails too
    gets the second attempt on known data; a night that published its page gets nothing."""
    import dagster as dg

    from assets.night_outcome import KNOWN_DATA_ONLY, RESCUES_RUN_TAG, SAFETY_NET_TIER_TAG
    from pipelines.definitions import build_definitions
    from pipelines.jobs import NIGHTLY_JOB_NAME
    from pipelines.schedules import night_run_config
    from pipelines.sensors import safety_net_after_failed_night
    from pipelines.settings import Locations

    write_landing(tmp_path / "landing", PRODUCT_ROWS)
    defs = build_definitions(
        Locations(tmp_path / "landing", tmp_path / "pms.duckdb", tmp_path / "reports")
    )
    job = defs.resolve_job_def(NIGHTLY_JOB_NAME)
    config = night_run_config("2024-06-30")

    def sensor_answer(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult):
        run = instance.get_run_by_id(result.run_id)
        event = result.get_run_failure_event() if not result.success else None
        event = event or result.get_run_success_event()
        context = dg.build_run_status_sensor_context(
            sensor_name="safety_net_after_failed_night",
            dagster_event=event,
            dagster_instance=instance,
            dagster_run=run,
        )
        return safety_net_after_failed_night(context)

    with dg.DagsterInstance.ephemeral() as instance:
        clean = job.execute_in_process(instance=instance, run_config=config, raise_on_error=False)
        assert clean.success
        assert isinstance(sensor_answer(instance, clean), dg.SkipReason)
        write_landing(tmp_path / "landing", PRODUCT_ROWS[:1])  # a blocking check will fail
        stopped = job.execute_in_process(instance=instance, run_config=config, raise_on_error=False)
        assert not stopped.success
        request = sensor_answer(instance, stopped)
        assert isinstance(request, dg.RunRequest)
        assert request.tags[RESCUES_RUN_TAG] == stopped.run_id
        assert request.run_config == config
        assert request.asset_selection is None  # the whole safety net first
        # the safety net failing as well: the second attempt, on known data only
        safety = defs.resolve_job_def("pms_safety_net")
        with pytest.MonkeyPatch.context() as mp:
            from assets.reports import assets as report_assets

            mp.setattr(report_assets, "vigilance_page_context", _fail("page failed (injected)"))
            failed_rescue = safety.execute_in_process(
                instance=instance,
                run_config=config,
                raise_on_error=False,
                tags={RESCUES_RUN_TAG: stopped.run_id},
            )
        assert not failed_rescue.success
        second = sensor_answer(instance, failed_rescue)
        assert isinstance(second, dg.RunRequest)
        assert second.tags[SAFETY_NET_TIER_TAG] == KNOWN_DATA_ONLY
        assert second.tags[RESCUES_RUN_TAG] == stopped.run_id
        assert {k.to_user_string() for k in second.asset_selection} == {
            "marts/vigilance_flags",
            "reports/vigilance_page",
            "audit/run_record",
        }
