"""The Dagster definitions: the asset graph, its metadata, the schedule and the sensor."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from assets.night_outcome import SAFETY_STEP_KEYS
from assets.resources import LandingFolder
from pipelines.definitions import build_definitions
from pipelines.jobs import NIGHTLY_JOB_NAME
from pipelines.sensors import build_landing_sensor
from pipelines.settings import Locations

# A snapshot of the graph: a change here is a reviewed change of the pipeline itself.
EXPECTED_GRAPH = {
    "reference/code_tables": ("reference", []),
    "staging/products": ("ingestion", ["reference/code_tables"]),
    "staging/risk_register": ("ingestion", ["reference/code_tables", "staging/products"]),
    "staging/lots": ("ingestion", ["reference/code_tables", "staging/products"]),
    "staging/distribution": (
        "ingestion",
        ["reference/code_tables", "staging/lots", "staging/products"],
    ),
    "staging/service": ("ingestion", ["reference/code_tables", "staging/products"]),
    "staging/complaint_versions": (
        "ingestion",
        ["reference/code_tables", "staging/lots", "staging/products"],
    ),
    "staging/complaints": ("ingestion", ["staging/complaint_versions"]),
    "staging/maude_master": ("ingestion", ["reference/code_tables"]),
    "staging/maude_devices": ("ingestion", ["reference/code_tables"]),
    "staging/maude_texts": ("ingestion", ["reference/code_tables"]),
    "staging/maude_patients": ("ingestion", ["reference/code_tables"]),
    "staging/maude_device_problems": ("ingestion", ["reference/code_tables"]),
    "marts/units_in_service": ("marts", ["staging/distribution", "staging/products"]),
    "marts/complaint_rates": (
        "marts",
        ["marts/units_in_service", "staging/complaint_versions", "staging/products"],
    ),
    "marts/signals": (
        "signals",
        [
            "marts/units_in_service",
            "staging/complaint_versions",
            "staging/determinations",
            "staging/distribution",
            "staging/lots",
            "staging/maude_device_problems",
            "staging/maude_devices",
            "staging/maude_master",
            "staging/risk_register",
            "staging/service",
        ],
    ),
    "marts/signal_evidence": ("signals", ["marts/signals"]),
    "marts/model_versions": ("signals", ["marts/signals"]),
    "marts/compliance_flags": (
        "vigilance",
        ["marts/triage_suggestions", "marts/vigilance_flags"],
    ),
    "marts/triage_suggestions": (
        "vigilance",
        [
            "reference/code_tables",
            "staging/complaint_versions",
            "staging/determinations",
            "staging/distribution",
            "staging/maude_devices",  # the MAUDE base model's training reports
            "staging/maude_master",
            "staging/maude_texts",
            "staging/products",
            "staging/risk_register",
            "staging/submissions",
        ],
    ),
    "marts/risk_feedback": (
        "vigilance",
        [
            "marts/units_in_service",
            "staging/complaint_versions",
            "staging/products",
            "staging/risk_register",
        ],
    ),
    "marts/fsca_scope": (
        "vigilance",
        [
            "marts/signals",
            "reference/code_tables",
            "staging/distribution",
            "staging/lots",
            "staging/products",
        ],
    ),
    "marts/vigilance_flags": (
        "vigilance",
        [
            "reference/code_tables",
            "staging/complaint_versions",
            "staging/distribution",
            "staging/determinations",
            "staging/products",
            "staging/risk_register",
            "staging/submissions",
        ],
    ),
    "reports/pms_reports": (
        "reports",
        [
            "marts/complaint_rates",
            "marts/compliance_flags",
            "marts/fsca_scope",
            "marts/risk_feedback",
            "marts/signals",
            "marts/triage_suggestions",
            "marts/units_in_service",
            "marts/vigilance_flags",
            "reference/code_tables",
            "staging/capa",
            "staging/complaint_versions",
            "staging/fsca",
            "staging/products",
            "staging/psur_inputs",
            "staging/risk_register",
            "staging/submissions",
        ],
    ),
    "staging/submissions": ("ingestion", ["reference/code_tables"]),
    "staging/determinations": ("ingestion", ["reference/code_tables"]),
    "staging/fsca": ("ingestion", ["reference/code_tables", "staging/products"]),
    "staging/capa": ("ingestion", ["reference/code_tables", "staging/products"]),
    "staging/psur_inputs": ("ingestion", ["reference/code_tables", "staging/products"]),
    "reports/vigilance_page": (
        "vigilance",
        ["marts/vigilance_flags", "staging/complaint_versions", "staging/products"],
    ),
    "audit/run_record": ("audit", ["marts/vigilance_flags", "reports/vigilance_page"]),
}

# README, "The safety-critical path": what may be upstream of the vigilance flags, the morning
# page and the audit record. Nothing of signals, triage, rates, risk feedback, FSCA, MAUDE,
# service or the family reports.
SAFETY_PATH = ("marts/vigilance_flags", "reports/vigilance_page", "audit/run_record")
ALLOWED_UPSTREAM_OF_SAFETY_PATH = {
    "reference/code_tables",
    "staging/products",
    "staging/risk_register",
    "staging/lots",
    "staging/distribution",
    "staging/complaint_versions",
    "staging/submissions",  # a submission meets an obligation
    "staging/determinations",  # a determination starts or closes one
    *SAFETY_PATH,
}


def definitions(tmp_path: Path) -> dg.Definitions:
    return build_definitions(
        Locations(tmp_path / "landing", tmp_path / "wh" / "pms.duckdb", tmp_path / "reports"),
        as_of="2026-10-31",
    )


def test_asset_graph_matches_snapshot(tmp_path: Path) -> None:
    graph = definitions(tmp_path).resolve_asset_graph()
    actual = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        actual[key.to_user_string()] = (
            node.group_name,
            sorted(p.to_user_string() for p in node.parent_keys),
        )
    assert actual == {k: (g, sorted(p)) for k, (g, p) in EXPECTED_GRAPH.items()}


def test_nothing_outside_the_safety_path_is_upstream_of_it(tmp_path: Path) -> None:
    graph = definitions(tmp_path).resolve_asset_graph()
    for name in SAFETY_PATH:
        upstream = graph.upstream_key_iterator(dg.AssetKey(name.split("/")))
        names = {key.to_user_string() for key in upstream}
        assert names <= ALLOWED_UPSTREAM_OF_SAFETY_PATH, (name, names)


def test_safety_steps_run_after_every_other_ready_step(tmp_path: Path) -> None:
    """The in-process executor takes the ready step of highest `dagster/priority` first: the
    page and the record carry the lowest, so they read a run in which everything else is done."""
    job = definitions(tmp_path).resolve_job_def(NIGHTLY_JOB_NAME)
    priorities = {
        node.name: int(node.tags.get("dagster/priority", 0)) for node in job.graph.node_defs
    }
    others = [p for name, p in priorities.items() if name not in SAFETY_STEP_KEYS]
    assert priorities["reports__vigilance_page"] < min(others)
    assert priorities["audit__run_record"] < priorities["reports__vigilance_page"]


def test_every_asset_has_description_owner_and_kind(tmp_path: Path) -> None:
    graph = definitions(tmp_path).resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        spec = graph.get(key)
        assert spec.description, key
        assert spec.owners, key
        assert spec.kinds, key


def test_every_staged_landing_table_has_blocking_suite_and_accounting_checks(
    tmp_path: Path,
) -> None:
    defs = definitions(tmp_path)
    graph = defs.resolve_asset_graph()
    checks = {
        (key.asset_key.to_user_string(), key.name): graph.get_check_spec(key)
        for key in graph.asset_check_keys
    }
    for table in ("products", "risk_register", "lots", "distribution", "service"):
        asset = f"staging/{table}"
        assert checks[(asset, f"staging_{table}_critical_rules")].blocking
        assert not checks[(asset, f"staging_{table}_warning_rules")].blocking
        assert checks[(asset, f"{table}_row_accounting")].blocking
    for table in ("submissions", "determinations", "fsca", "capa", "psur_inputs"):
        asset = f"staging/{table}"  # the optional sources
        assert checks[(asset, f"staging_{table}_critical_rules")].blocking
        assert not checks[(asset, f"staging_{table}_warning_rules")].blocking
        assert checks[(asset, f"{table}_row_accounting")].blocking
    versions = "staging/complaint_versions"
    assert checks[(versions, "staging_complaint_versions_critical_rules")].blocking
    assert (versions, "complaint_extract_freshness") in checks
    assert ("staging/complaints", "no_serious_complaint_waits_in_quarantine") in checks


def test_nightly_job_selects_every_asset(tmp_path: Path) -> None:
    defs = definitions(tmp_path)
    job = defs.resolve_job_def(NIGHTLY_JOB_NAME)
    assert job.asset_layer.selected_asset_keys == set(
        defs.resolve_asset_graph().get_all_asset_keys()
    )


def test_schedule_runs_at_two_and_replays_the_tick_date(tmp_path: Path) -> None:
    schedule = definitions(tmp_path).resolve_schedule_def("pms_nightly_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.job_name == NIGHTLY_JOB_NAME
    tick = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
    [request] = schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=tick)
    ).run_requests
    assert request.run_config == {"resources": {"night": {"config": {"as_of": "2026-11-28"}}}}


def test_landing_sensor_fires_once_per_change(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "complaints").mkdir(parents=True)
    sensor = build_landing_sensor()
    resources = {"landing": LandingFolder(path=str(landing))}
    with dg.build_sensor_context(resources=resources) as context:
        assert isinstance(sensor(context), dg.SkipReason)
    (landing / "complaints" / "c.csv").write_text("complaint_id\n")
    with dg.build_sensor_context(resources=resources) as context:
        first = sensor(context)
        assert isinstance(first, dg.RunRequest)
        cursor = context.cursor
    with dg.build_sensor_context(resources=resources, cursor=cursor) as context:
        assert isinstance(sensor(context), dg.SkipReason)


def test_the_safety_marts_carry_their_checks(tmp_path: Path) -> None:
    # issue 17: marts.vigilance_flags and marts.signals had no check in the UI
    graph = definitions(tmp_path).resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("marts/vigilance_flags", "every_current_complaint_has_a_vigilance_row") in checks
    assert ("marts/vigilance_flags", "every_open_initial_report_has_a_due_date") in checks
    assert ("marts/signals", "signals_have_one_row_a_status_and_a_date") in checks


def test_cli_runs_carry_the_label_the_ui_lists_a_jobs_runs_by() -> None:
    """Issue 17 #9: runs started by `pms run` show on the job page and the timeline only with the
    repository label of the workspace's code location (Dagster issue 17707)."""
    import yaml

    from pipelines.cli import CODE_LOCATION, _ui_repository_tag

    workspace = yaml.safe_load((Path(__file__).parents[1] / "workspace.yaml").read_text())
    locations = [entry["python_module"]["location_name"] for entry in workspace["load_from"]]
    assert locations == [CODE_LOCATION]
    assert _ui_repository_tag() == {".dagster/repository": f"__repository__@{CODE_LOCATION}"}


# The columns the data contract (spec/data-contract.md, section 3 "What it publishes") names for
# the published marts: each is described in the Dagster UI (issue 17 #9).
CONTRACT_PUBLISHED_COLUMNS = {
    "marts.complaint_rates": ("complaints", "units_in_service", "rate_per_1000"),
    "marts.signals": (
        "signal_id",
        "scope",
        "scope_value",
        "code",
        "method",
        "period_start",
        "period_end",
        "detected_on",
        "observed",
        "expected",
        "statistic",
        "threshold",
        "status",
    ),
    "marts.vigilance_flags": (
        "complaint_id",
        "regime",
        "rule",
        "day_zero",
        "due_date",
        "status",
        "days_remaining",
        "as_of",
    ),
    "marts.triage_suggestions": (
        "complaint_id",
        "predicted_outcome",
        "p_reportable",
        "suggested_problem_code",
        "model_version",
    ),
}


def test_every_published_column_is_described_in_the_ui() -> None:
    import duckdb

    from assets.column_docs import column_description
    from assets.metadata import table_metadata

    undescribed = [
        f"{table}.{column}"
        for table, columns in CONTRACT_PUBLISHED_COLUMNS.items()
        for column in columns
        if not column_description(table, column)
    ]
    assert undescribed == []
    con = duckdb.connect(":memory:")
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.complaint_rates (device_model VARCHAR, complaints BIGINT, x INT)"
    )
    schema = table_metadata(con, "marts", "complaint_rates", "device_model")[
        "dagster/column_schema"
    ]
    described = {c.name: c.description for c in schema.columns}
    assert described["complaints"] == "Complaints received in the month."
    assert described["x"] is None
