"""End to end: `pms generate --scale demo`, then `pms run` into a real DuckDB file, twice.

Asserts the row accounting of every landing file, that nothing is silently lost, that a second
run over the same folder loads nothing, that a new file loads only its rows and a new complaint
version replaces the current one, and that the reports are reproducible byte for byte.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets.marts.queries import COMPLAINTS_AS_OF_SQL
from pipelines.cli import main
from tests.test_crash_recovery import snapshot

pytestmark = pytest.mark.e2e

SEED = 7
AS_OF = "2026-10-31"
CSV_GLOBS = {
    "products": "products.csv",
    "risk_register": "risk_register.csv",
    "lots": "lots/*.csv",
    "distribution": "distribution/*.csv",
    "complaint_versions": "complaints/*.csv",
    "service": "service/*.csv",
}


def data_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for row in csv.reader(handle) if row and any(f.strip() for f in row)) - 1


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(landing: Path, warehouse: Path, reports: Path) -> None:
    code = main(
        [
            "run",
            "--landing",
            str(landing),
            "--warehouse",
            str(warehouse),
            "--reports",
            str(reports),
            "--as-of",
            AS_OF,
        ]
    )
    assert code == 0


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("e2e")
    landing, warehouse, reports = base / "landing", base / "wh" / "pms.duckdb", base / "reports"
    dagster_home = base / "dagster_home"  # a real instance, so the webserver sees the runs
    dagster_home.mkdir()
    previous_home = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    assert main(["generate", "--out", str(landing), "--seed", str(SEED), "--scale", "demo"]) == 0
    run(landing, warehouse, reports)
    first_reports = {p.name: p.read_bytes() for p in reports.iterdir()}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        first_audit = con.execute("SELECT count(*) FROM audit.ingested_files").fetchall()[0][0]
        first_versions = con.execute("SELECT count(*) FROM staging.complaint_versions").fetchall()[
            0
        ][0]
    # the same night three times: the second and third reuse what the first stored (the signal
    # replay memo, the triage model and scores) and must still give the same bytes
    snapshots = [snapshot(base, warehouse, reports)]
    for _ in range(2):
        run(landing, warehouse, reports)
        snapshots.append(snapshot(base, warehouse, reports))
    if previous_home is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = previous_home
    return {
        "landing": landing,
        "warehouse": warehouse,
        "reports": reports,
        "dagster_home": dagster_home,
        "first_reports": first_reports,  # type: ignore[dict-item]
        "first_audit": first_audit,  # type: ignore[dict-item]
        "first_versions": first_versions,  # type: ignore[dict-item]
        "snapshots": snapshots,  # type: ignore[dict-item]
    }


def connect(night: dict) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(night["warehouse"]), read_only=True)


def test_audit_trail_is_chained_and_verifies(night: dict) -> None:
    with connect(night) as con:
        runs = con.execute(
            "SELECT sequence, status_changes_rows, versions_rows FROM audit.runs ORDER BY sequence"
        ).fetchall()
    assert [r[0] for r in runs[:2]] == [1, 2]
    assert runs[0][1] > 0 and runs[0][2] == night["first_versions"]
    assert runs[1][1:] == (0, 0)  # the same night again: a new record, nothing changed
    assert main(["verify-audit", "--warehouse", str(night["warehouse"])]) == 0


def test_every_landing_file_is_accounted_for(night: dict) -> None:
    landing: Path = night["landing"]
    with connect(night) as con:
        audited = {
            row[0]: row[1:]
            for row in con.execute(
                "SELECT file_path, source, rows_read, rows_loaded, rows_quarantined, status "
                "FROM audit.ingested_files WHERE source <> 'reference'"
            ).fetchall()
        }
        quarantined = dict(
            con.execute(
                "SELECT file_path, count(*) FROM quarantine.rejected_rows GROUP BY ALL"
            ).fetchall()
        )
    for source, pattern in CSV_GLOBS.items():
        files = sorted(landing.glob(pattern))
        assert files, pattern
        for path in files:
            rel = path.relative_to(landing).as_posix()
            assert rel in audited, f"{rel} was never ingested"
            src, read, loaded, rejected, status = audited[rel]
            assert src == source
            assert read == loaded + rejected
            assert quarantined.get(rel, 0) == rejected
            if status == "loaded":
                assert read == data_rows(path), rel
    for path in sorted((landing / "maude").glob("*")) + sorted(landing.glob("openfda/*.json")):
        assert path.relative_to(landing).as_posix() in audited


def test_planted_bad_rows_are_quarantined_where_they_are(night: dict) -> None:
    truth = night["landing"] / "_truth" / "bad_rows.csv"
    with truth.open(newline="", encoding="utf-8") as handle:
        planted = list(csv.DictReader(handle))
    assert planted
    with connect(night) as con:
        rows = set(
            con.execute("SELECT file_path, row_number FROM quarantine.rejected_rows").fetchall()
        )
    for bad in planted:
        assert (bad["file"], int(bad["row_number"])) in rows, bad


def test_the_same_night_three_times_gives_identical_tables_and_reports(night: dict) -> None:
    first, *again = night["snapshots"]
    assert len(again) == 2
    for later in again:
        differing = sorted(k for k in first.keys() | later.keys() if first.get(k) != later.get(k))
        assert differing == [], f"differs between runs of the same night: {differing}"
    assert any(k.startswith("triage_state.") for k in first)
    assert any(k.startswith("marts.signals") for k in first)


def test_second_run_over_the_same_folder_loads_nothing(night: dict) -> None:
    with connect(night) as con:
        assert (
            con.execute("SELECT count(*) FROM audit.ingested_files").fetchall()[0][0]
            == (night["first_audit"])
        )
        versions = con.execute("SELECT count(*) FROM staging.complaint_versions").fetchall()
        assert versions[0][0] == night["first_versions"]
        runs = con.execute("SELECT count(DISTINCT run_id) FROM audit.ingested_files").fetchall()
        assert runs[0][0] == 1


def test_complaint_rates_count_every_current_complaint(night: dict) -> None:
    with connect(night) as con:
        counted = con.execute("SELECT sum(complaints) FROM marts.complaint_rates").fetchall()
        current = con.execute(
            "SELECT count(*) FROM staging.complaints WHERE received_date <= DATE '2026-10-31'"
        ).fetchall()
        families = con.execute(
            "SELECT count(DISTINCT device_family) FROM marts.complaint_rates "
            "WHERE units_in_service > 0"
        ).fetchall()
        negative = con.execute(
            "SELECT count(*) FROM marts.complaint_rates WHERE rate_per_1000 < 0 "
            "OR units_in_service < 0"
        ).fetchall()
    assert counted == current
    assert families[0][0] >= 3
    assert negative[0][0] == 0


def test_reports_are_published_and_reproducible(night: dict) -> None:
    reports: Path = night["reports"]
    manifest = json.loads((reports / "manifest.json").read_text())
    assert manifest["as_of"] == AS_OF
    with connect(night) as con:
        families = con.execute("SELECT count(DISTINCT device_family) FROM staging.products")
        n_families = families.fetchall()[0][0]
    family_reports = [r for r in manifest["reports"] if "device_family" in r]
    assert len(family_reports) == n_families
    assert {r["path"] for r in manifest["reports"]} >= {"index.html", "vigilance.html"}
    for entry in manifest["reports"]:
        assert sha256(reports / entry["path"]) == entry["sha256"]
    index = (reports / "index.html").read_text()
    for entry in [*family_reports, {"path": "vigilance.html"}]:
        assert f'href="{entry["path"]}"' in index
    for name, data in night["first_reports"].items():
        if name != "manifest.json":
            assert (reports / name).read_bytes() == data, f"{name} differs between two runs"


def test_new_file_loads_only_its_rows_and_new_version_replaces_current(
    night: dict, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(night["landing"], landing)
    warehouse = tmp_path / "pms.duckdb"
    shutil.copy(night["warehouse"], warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(complaint_id, outcome)] = con.execute(
            "SELECT complaint_id, patient_outcome FROM staging.complaints "
            "WHERE patient_outcome = 'injury' ORDER BY complaint_id LIMIT 1"
        ).fetchall()
        before = con.execute("SELECT count(*) FROM staging.complaint_versions").fetchall()[0][0]
    source = sorted((landing / "complaints").glob("*.csv"))[-1]
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames
        template = next(iter(reader))
    escalated = dict(template)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        current = con.execute(
            "SELECT * FROM staging.complaints WHERE complaint_id = ?", [complaint_id]
        ).fetchall()
        names = [d[0] for d in con.description]
    row = dict(zip(names, current[0], strict=True))
    for key in header or []:
        value = row.get(key, escalated.get(key))
        escalated[key] = (
            "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )
    escalated["updated_at"] = "2026-10-31T08:00:00"
    escalated["patient_outcome"] = "death"
    new_file = landing / "complaints" / "complaints_escalation.csv"
    with new_file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header or [])
        writer.writeheader()
        writer.writerow(escalated)
    run(landing, warehouse, tmp_path / "reports")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        new_audit = con.execute(
            "SELECT file_path, rows_read, rows_loaded FROM audit.ingested_files "
            "WHERE file_path LIKE 'complaints/complaints_escalation%'"
        ).fetchall()
        after = con.execute("SELECT count(*) FROM staging.complaint_versions").fetchall()[0][0]
        now = con.execute(
            "SELECT patient_outcome FROM staging.complaints WHERE complaint_id = ?", [complaint_id]
        ).fetchall()
        history = con.execute(
            "SELECT count(*) FROM staging.complaint_versions WHERE complaint_id = ? "
            "AND patient_outcome = ?",
            [complaint_id, outcome],
        ).fetchall()
    assert new_audit == [("complaints/complaints_escalation.csv", 1, 1)]
    assert after == before + 1
    assert now == [("death",)]
    assert history[0][0] >= 1


def test_planted_signals_are_detected_without_look_ahead(night: dict) -> None:
    truth = night["landing"] / "_truth" / "signals.csv"
    with truth.open(newline="", encoding="utf-8") as handle:
        planted = {row["kind"]: row for row in csv.DictReader(handle)}
    with connect(night) as con:
        signals = con.execute(
            "SELECT scope, scope_value, code, method, detected_on FROM marts.signals"
        ).fetchall()
        evidence = con.execute(
            "SELECT count(*) FROM marts.signal_evidence e JOIN marts.signals s USING (signal_id)"
        ).fetchall()[0][0]
        latest_data = con.execute(
            "SELECT max(updated_at)::DATE FROM staging.complaint_versions"
        ).fetchall()[0][0]
    assert evidence > 0
    assert all(s[4] <= latest_data for s in signals)  # nothing detected after the last data
    bad_lot = planted["bad_lot"]
    assert any(
        s[0] == "lot" and s[1] == bad_lot["scope_value"] and s[2] == bad_lot["code"]
        for s in signals
    )
    maude = planted["maude_disproportion"]
    assert any(
        s[0] == "product_code" and s[1] == maude["scope_value"] and s[2] == maude["code"]
        for s in signals
    )
    service = planted["service_early_failure"]
    assert any(
        s[1] == service["scope_value"] and s[3] == "service_isolation_forest" for s in signals
    )


def test_vigilance_flags_match_the_generator_truth(night: dict) -> None:
    """Every obligation the generator's independent truth (synthetic/vigilance_truth.py, written
    from docs/vigilance.md and the law, sharing no code with models/vigilance.py) expects: the
    initial row of every complaint under FDA, EU, Health Canada, NONE_ENCODED and CLINICAL_STUDY,
    FDA supplemental reports (by the day of their information) and Health Canada's 72-hour
    notices, with rule, day 0, due date and status; and no such row the truth does not have."""
    truth = pl.read_csv(
        night["landing"] / "_truth" / "reportability.csv", infer_schema=False
    ).fill_null("")
    kinds = sorted(set(truth["report_kind"]))
    with connect(night) as con:
        flags = (
            con.sql(
                """
                SELECT complaint_id, regime, report_kind,
                       CASE WHEN route = 'trend' THEN 'NOT_REPORTABLE' ELSE rule END AS rule,
                       coalesce(CAST(day_zero AS VARCHAR), '') AS day_zero,
                       coalesce(CAST(due_date AS VARCHAR), '') AS due_date, status
                FROM marts.vigilance_flags
                WHERE data_state = 'staged'
                  AND (report_kind <> 'supplemental' OR regime = 'FDA_MDR')
                """
            )
            .pl()
            .filter(pl.col("report_kind").is_in(kinds))
        )
    # a supplemental report is one per day of new information; every other kind one per key
    key = (
        pl.when(pl.col("report_kind") == "supplemental")
        .then(pl.col("day_zero"))
        .otherwise(pl.lit(""))
    )
    keys = ["complaint_id", "regime", "report_kind", "info"]
    joined = truth.with_columns(info=key).join(
        flags.with_columns(info=key), on=keys, how="full", coalesce=True, suffix="_pipeline"
    )
    missing = joined.filter(pl.col("rule_pipeline").is_null())
    extra = joined.filter(pl.col("rule").is_null())
    differing = joined.filter(
        pl.col("rule").is_not_null()
        & pl.col("rule_pipeline").is_not_null()
        & (
            (pl.col("rule") != pl.col("rule_pipeline"))
            | (pl.col("day_zero") != pl.col("day_zero_pipeline"))
            | (pl.col("due_date") != pl.col("due_date_pipeline"))
            | (pl.col("status") != pl.col("status_pipeline"))
        )
    )
    assert missing.height == 0, missing.head(5)
    assert extra.height == 0, extra.head(5)
    assert differing.height == 0, differing.head(5)
    # the situations the law cares about are all present in the demo's truth
    statuses = set(truth["status"])
    assert {"undetermined", "decided_not_reportable", "submitted_late", "overdue"} <= statuses
    assert {"NONE_ENCODED", "CLINICAL_STUDY", "HC_CMDR"} <= set(truth["regime"])


def test_every_undecided_complaint_has_a_triage_suggestion(night: dict) -> None:
    with connect(night) as con:
        missing = con.execute(
            f"""
            SELECT count(*) FROM ({COMPLAINTS_AS_OF_SQL}) c
            WHERE coalesce(c.reportability_decision, '') IN ('', 'pending')
              AND c.complaint_id NOT IN (SELECT complaint_id FROM marts.triage_suggestions)
            """,
            {"as_of": "2026-10-31"},
        ).fetchall()[0][0]
        outcomes = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT predicted_outcome FROM marts.triage_suggestions"
            ).fetchall()
        }
        bounds = con.execute(
            "SELECT min(p_reportable), max(p_reportable), count(DISTINCT model_version) "
            "FROM marts.triage_suggestions"
        ).fetchall()[0]
    assert missing == 0
    assert outcomes <= {"death", "serious_injury", "injury", "none"}
    assert 0 <= bounds[0] <= bounds[1] <= 1 and bounds[2] == 1


def test_advisory_scope_of_the_planted_component_lot(night: dict) -> None:
    """The planted bad supplier lot's signal lists exactly the production lots built with it,
    with units by country."""
    truth = night["landing"] / "_truth" / "signals.csv"
    planted = pl.read_csv(truth, infer_schema=False).filter(pl.col("kind") == "bad_component_lot")
    component = planted["scope_value"][0]
    with connect(night) as con:
        lots = con.execute(
            "SELECT DISTINCT lot_number FROM staging.lots "
            "WHERE list_contains(string_split(component_lots, ';'), ?)",
            [component],
        ).fetchall()
        scope = con.execute(
            "SELECT DISTINCT lot_number FROM marts.fsca_scope "
            "WHERE method = 'supplier_lot_poisson' AND scope_value = ? AND NOT candidate",
            [component],
        ).fetchall()
        units = con.execute(
            "SELECT sum(units_shipped), count(DISTINCT country) FROM marts.fsca_scope "
            "WHERE scope_value = ? AND NOT candidate",
            [component],
        ).fetchall()[0]
    assert sorted(scope) == sorted(lots) and len(lots) >= 2
    assert units[0] > 0 and units[1] >= 2


def test_reports_open_offline_in_headless_chromium(night: dict) -> None:
    """Every page loads in a real Chromium with no console error and no request leaving the
    file; tables have header cells; every Plotly chart is drawn. Screenshots of the vigilance page
    and a report are kept beside the reports for a person to look at."""
    from tests.browser import visit

    reports: Path = night["reports"]
    pages = sorted(reports.glob("*.html"))
    report = next(p for p in pages if p.name.startswith("psur_"))
    shots = {
        reports / "vigilance.html": reports.parent / "vigilance.png",
        report: reports.parent / "report.png",
    }
    visits = visit(pages, shots)
    assert {v.path.name for v in visits} >= {"index.html", "vigilance.html", report.name}
    for v in visits:
        assert v.console_errors == [], (v.path.name, v.console_errors)
        assert v.external_requests == [], (v.path.name, v.external_requests)
        assert v.tables > 0 and v.tables_without_header == 0, v.path.name
        assert v.rendered_charts == v.chart_divs, v.path.name
    family_pages = [v for v in visits if v.path.name.startswith(("psur_", "pms-report_"))]
    assert family_pages and all(v.chart_divs >= 4 for v in family_pages)
    assert all(shot.stat().st_size > 50_000 for shot in shots.values())


def test_each_report_has_a_reproducible_pdf(night: dict) -> None:
    from tests.browser import chromium_or_skip

    chromium_or_skip()
    manifest = json.loads((night["reports"] / "manifest.json").read_text())
    pdfs = [r for r in manifest["reports"] if r["path"].endswith(".pdf")]
    htmls = [r for r in manifest["reports"] if r["path"].startswith(("psur_", "pms-report_"))]
    assert len(pdfs) == len([h for h in htmls if h["path"].endswith(".html")]) > 0
    for entry in pdfs:
        data = (night["reports"] / entry["path"]).read_bytes()
        assert (
            data.startswith(b"%PDF-")
            and data.count(b"/Type /Page\n")
            + data.count(b"/Type /Page>>")
            + data.count(b"/Type /Page ")
            >= 2
        )
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert data == night["first_reports"][entry["path"]]  # byte-identical on the rerun
        # every chart of the page was drawn into the PDF: pdftotext finds each chart's title
        # (issue 17: a link filter once broke plotly.js and left every chart blank)
        page = (night["reports"] / entry["path"].replace(".pdf", ".html")).read_text("utf-8")
        titles = set(re.findall(r'"title":\{"text":"([^"]+)"\}', page))
        printed = subprocess.run(
            ["pdftotext", "-raw", str(night["reports"] / entry["path"]), "-"],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        assert titles and not {t for t in titles if t not in printed}, entry["path"]


def test_no_planted_personal_data_reaches_a_report(night: dict) -> None:
    """Every personal detail the generator planted in narratives is absent from every published
    file: names token by token as whole words, phone numbers digits-only too."""
    import re

    from assets.reports.render import plotly_js

    planted = pl.read_csv(night["landing"] / "_truth" / "pii.csv", infer_schema=False)
    library = plotly_js()  # the embedded plotly.js itself holds no data
    published = {
        p.name: p.read_text(encoding="utf-8", errors="replace").replace(library, "")
        for p in night["reports"].iterdir()
        if p.suffix in (".html", ".json")
    }
    texts = "\n".join(published.values())
    lowered = texts.lower()
    numbers = {re.sub(r"\D", "", m) for m in re.findall(r"[+(]?\d[\d\s().\-/]{5,}\d", texts)}
    leaks = []
    for pii_type, text in planted.select("pii_type", "text").unique().iter_rows():
        if pii_type == "name":
            tokens = [t for t in re.findall(r"[^\W\d_]{3,}", text)]
            found = [t for t in tokens if re.search(rf"\b{re.escape(t)}\b", texts)]
            if found and len(found) == len(tokens):
                leaks.append((pii_type, text))
        elif pii_type == "phone":
            number = re.sub(r"\D", "", text)
            if text.lower() in lowered or any(number in n for n in numbers if len(number) >= 7):
                leaks.append((pii_type, text))
        elif len(text) >= 6 and text.lower() in lowered:
            leaks.append((pii_type, text))
    assert "vigilance.html" in published
    assert "[NAME]" in published["vigilance.html"]  # narratives are shown, redacted
    assert leaks == []


ASSET_GRAPH_QUERY = """
{ assetNodes {
    assetKey { path }
    description
    owners { __typename ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    assetMaterializations(limit: 1) { runId }
    assetChecksOrError { ... on AssetChecks { checks {
        name executionForLatestMaterialization { status } } } }
} }
"""


# The runs the job page lists: the job's, under the repository label of the code location
# (issue 17 #9; the UI filters a job's runs by it, Dagster issue 17707).
JOB_RUNS_QUERY = """
{ runsOrError(filter: {pipelineName: "pms_nightly",
                       tags: [{key: ".dagster/repository", value: "__repository__@pms"}]}) {
    ... on Runs { results { runId status } } } }
"""


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


def test_dagster_webserver_shows_every_asset_documented_owned_and_materialised(
    night: dict,
) -> None:
    """The real webserver on the night's instance and warehouse (127.0.0.1, a free port): every
    asset has a description, an owner and a materialisation, every check ran; a Chromium
    screenshot of the asset graph is kept for a person to look at."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {
        "DAGSTER_HOME": str(night["dagster_home"]),
        "PMS_LANDING": str(night["landing"]),
        "PMS_WAREHOUSE": str(night["warehouse"]),
        "PMS_REPORTS": str(night["reports"]),
        "PMS_AS_OF": AS_OF,
    }
    webserver = Path(sys.executable).parent / "dagster-webserver"
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(
        [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                    break
            except OSError:
                assert server.poll() is None, "dagster-webserver exited"
                assert time.monotonic() < deadline, "dagster-webserver did not start in 120 s"
                time.sleep(1)
        nodes = graphql(port, ASSET_GRAPH_QUERY)["assetNodes"]
        keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
        assert {
            "reports/pms_reports",
            "reports/vigilance_page",
            "marts/vigilance_flags",
            "marts/triage_suggestions",
        } <= keys
        undocumented = [
            "/".join(n["assetKey"]["path"]) for n in nodes if not (n["description"] or "").strip()
        ]
        assert undocumented == []
        assert not [n["assetKey"] for n in nodes if not n["owners"]]
        assert not [n["assetKey"] for n in nodes if not n["assetMaterializations"]]
        checks = [c for n in nodes for c in n["assetChecksOrError"].get("checks", [])]
        assert len(checks) >= 20
        assert all(c["executionForLatestMaterialization"] for c in checks)
        job_runs = graphql(port, JOB_RUNS_QUERY)["runsOrError"]["results"]
        assert len(job_runs) >= 3  # the night's three `pms run`s

        from tests.browser import chromium_or_skip

        chromium = chromium_or_skip()
        from playwright.sync_api import TimeoutError as PlaywrightTimeout
        from playwright.sync_api import sync_playwright

        from tests.browser import LAUNCH_ARGS

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=list(LAUNCH_ARGS))
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            base_url = f"http://127.0.0.1:{port}"
            page.goto(f"{base_url}/locations/pms/asset-groups/vigilance", wait_until="load")
            with contextlib.suppress(PlaywrightTimeout):  # the first-visit community prompt
                page.get_by_role("button", name="Skip").first.click(timeout=15_000)
            page.get_by_text("vigilance_flags").first.wait_for(timeout=60_000)
            page.screenshot(path=str(night["reports"].parent / "asset_graph.png"))
            page.goto(f"{base_url}/assets/reports/vigilance_page", wait_until="load")
            page.get_by_text("Vigilance as of").first.wait_for(timeout=60_000)
            page.screenshot(path=str(night["reports"].parent / "reports_asset.png"))
            # the job page lists the runs `pms run` made
            page.goto(f"{base_url}/locations/pms/jobs/pms_nightly/runs", wait_until="load")
            page.get_by_text(job_runs[0]["runId"][:8]).first.wait_for(timeout=60_000)
            page.screenshot(path=str(night["reports"].parent / "job_runs.png"))
            browser.close()
        assert (night["reports"].parent / "asset_graph.png").stat().st_size > 20_000
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_safety_mart_checks_ran_and_passed(night: dict) -> None:
    """The asset checks on marts.vigilance_flags, marts.signals and the reports (every PDF has
    its charts) run with the night's job and pass on the generated folder
    (assets/quality/mart_checks.py)."""
    with connect(night) as con:
        results = con.execute(
            "SELECT check_name, bool_and(success), count(*) FROM audit.check_results "
            "WHERE suite = 'mart_rules' GROUP BY check_name ORDER BY check_name"
        ).fetchall()
    assert [(name, ok) for name, ok, _ in results] == [
        ("every_current_complaint_has_a_vigilance_row", True),
        ("every_open_initial_report_has_a_due_date", True),
        ("every_pdf_carries_its_charts", True),
        ("signals_have_one_row_a_status_and_a_date", True),
    ]


def _landing_rows(landing: Path, pattern: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(landing.glob(pattern)):
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


def _complaints_on_the_night(landing: Path) -> dict[str, dict[str, str]]:
    """Each complaint's last version whose information reached the firm by the night, read from
    the landing CSV files with the csv module (the data contract's meaning of updated_at)."""
    latest: dict[str, dict[str, str]] = {}
    for row in _landing_rows(landing, "complaints/*.csv"):
        stamp = row.get("updated_at") or ""
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T][\d:.]+)?", stamp) or stamp[:10] > AS_OF:
            continue
        key = row.get("complaint_id") or ""
        if key not in latest or stamp >= latest[key]["updated_at"]:
            latest[key] = row
    return latest


def _report_text(path: Path) -> str:
    import html

    markup = re.sub(r"<script.*?</script>", "", path.read_text(encoding="utf-8"), flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)))


def test_report_counts_reconcile_with_submissions_and_decisions(night: dict) -> None:
    """Issue 17 #2: each PSUR / PMS report counts the serious incidents the firm reported
    (submissions/, an initial report to an authority not withdrawn by a final non-reportable one,
    MDCG 2022-21 'serious incidents reported'), and lists the rule hits a person decided not
    reportable and those past due apart, never as late reports. Counted here from the landing
    files and the generator's truth with the csv module, sharing nothing with the report code."""
    landing = night["landing"]
    family_of = {
        r["device_model"]: r["device_family"] for r in _landing_rows(landing, "products.csv")
    }
    complaints = _complaints_on_the_night(landing)
    submissions = [r for r in _landing_rows(landing, "submissions/*.csv") if r["submitted_date"]]
    on_record = [r for r in submissions if r["submitted_date"] <= AS_OF]
    withdrawn = {
        (r["complaint_id"], r["authority"].strip())
        for r in on_record
        if r["report_kind"] == "final_non_reportable"
    }
    reported: dict[str, set[str]] = {}
    for r in on_record:
        key = (r["complaint_id"], r["authority"].strip())
        if r["report_kind"] == "initial" and key not in withdrawn:
            reported.setdefault(r["complaint_id"], set()).add(key[1])
    truth = _landing_rows(landing, "_truth/reportability.csv")
    listing = json.loads((night["reports"] / "family_reports.json").read_text(encoding="utf-8"))
    checked = 0
    for row in listing["index_rows"]:
        family, start, end = row["device_family"], row["period_start"], row["period_end"]

        def of_the_report(complaint_id: str, family=family, start=start, end=end) -> bool:
            c = complaints.get(complaint_id)
            return (
                c is not None
                and family_of.get(c["device_model"]) == family
                and start <= c["received_date"] <= end
            )

        mine = {k: v for k, v in reported.items() if of_the_report(k)}
        by_group = {
            "EU competent authorities (MIR)": sum(
                any(a.startswith("EU:") for a in v) for v in mine.values()
            ),
            "FDA (MDR)": sum("FDA" in v for v in mine.values()),
            "Health Canada": sum("HC" in v for v in mine.values()),
        }
        decided = sum(
            t["status"] == "decided_not_reportable" and of_the_report(t["complaint_id"])
            for t in truth
        )
        past_due = sum(t["status"] == "overdue" and of_the_report(t["complaint_id"]) for t in truth)
        text = _report_text(night["reports"] / row["path"])
        assert f"{len(mine)} serious incident(s) reported for complaints received" in text, (
            row["path"],
            len(mine),
        )
        for group, n in by_group.items():
            if n:
                assert f"{group} {n}" in text, (row["path"], group, n)
        assert f"Decided not reportable against a rule: {decided} for second review" in text, (
            row["path"],
            decided,
        )
        assert f"(not late reports): {past_due} past their due date" in text, (
            row["path"],
            past_due,
        )
        assert "overdue at the data cut-off" not in text
        checked += bool(mine) and bool(decided)
    assert checked >= 2  # the demo's families have both reports and decisions to reconcile
