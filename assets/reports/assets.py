"""Report assets: one PMS report per device family and period, the index and the manifest."""

import json
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.ingestion.inventory import MAX_LISTED, landing_inventory
from assets.metadata import markdown_table
from assets.night_outcome import (
    KNOWN_DATA_ONLY,
    PAGE_STEP_PRIORITY,
    SAFETY_NET_TIER_TAG,
    night_problems,
    rescued_run_id,
)
from assets.reports import charts, mdcg, render, sections
from assets.reports.files import write_atomically
from assets.reports.pdf import find_chromium, print_to_pdf
from assets.reports.vigilance_page import (
    INITIAL_LIST_PAGE,
    csv_exports,
    render_initial_list,
    render_vigilance_page,
    vigilance_page_context,
)
from assets.resources import WAREHOUSE_POOL, LandingFolder, NightSettings, ReportFolder
from assets.warehouse import query_frame
from models.signal_statistics import statistic_legend
from pipelines.settings import code_version, load_config

REPORT_OWNERS = ["team:regulatory-affairs"]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["reports", "pms_reports"],
    group_name="reports",
    owners=REPORT_OWNERS,
    kinds={"html", "plotly"},
    deps=[
        dg.AssetKey(["marts", "complaint_rates"]),
        dg.AssetKey(["marts", "compliance_flags"]),
        dg.AssetKey(["marts", "fsca_scope"]),
        dg.AssetKey(["marts", "risk_feedback"]),
        dg.AssetKey(["marts", "signals"]),
        dg.AssetKey(["marts", "triage_suggestions"]),
        dg.AssetKey(["marts", "units_in_service"]),
        dg.AssetKey(["marts", "vigilance_flags"]),
        dg.AssetKey(["reference", "code_tables"]),
        dg.AssetKey(["staging", "capa"]),
        dg.AssetKey(["staging", "complaint_versions"]),
        dg.AssetKey(["staging", "fsca"]),
        dg.AssetKey(["staging", "products"]),
        dg.AssetKey(["staging", "psur_inputs"]),
        dg.AssetKey(["staging", "risk_register"]),
        dg.AssetKey(["staging", "submissions"]),
    ],
    description=(
        "The published PMS reports: one self-contained HTML report per device family and "
        "period (PSUR for EU class IIa-III, PMS report for class I) in MDCG 2022-21 order: "
        "sales and exposure by region, serious incidents, trend signals, FSCA scope, complaint "
        "rates with control limits, Pareto and lot heatmap, MAUDE comparison, risk-file "
        "feedback and a data-quality annex, with Plotly charts, each also printed to PDF by "
        "headless Chromium; `vigilance.html`, the page read first each morning (open and overdue "
        "reports, quarantined reportables, trend-report candidates, new signals, review queue; "
        "narratives redacted); `index.html` linking them, and `manifest.json` with the sha256 "
        "of every report and input file, the code version and the configuration hash."
    ),
)
def pms_reports(
    context: dg.AssetExecutionContext,
    warehouse: DuckDBResource,
    reports: ReportFolder,
    night: NightSettings,
) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    config = load_config()
    version = code_version()
    with warehouse.get_connection() as con:
        rates = query_frame(
            con, "SELECT * FROM marts.complaint_rates ORDER BY device_family, device_model, month"
        )
        devices = query_frame(
            con,
            """
            SELECT p.device_family, p.device_model, p.product_code, f.device_name, p.eu_class,
                   p.us_class, p.implantable, p.launch_date
            FROM staging.products p
            LEFT JOIN reference.fda_product_codes f USING (product_code)
            ORDER BY p.device_family, p.device_model
            """,
        )
        evidence = night_evidence(con, context.run.run_id, as_of, config.sha256, version)
    root = reports.root
    index_rows: list[dict[str, Any]] = []
    manifest_reports: list[dict[str, Any]] = []
    # One connection and one ranking of the complaints as of the night for every family's
    # sections and the vigilance page.
    with (
        warehouse.get_connection() as con,
        sections.complaints_as_of_snapshot(con, as_of),
    ):
        for (family,) in devices.select("device_family").unique().sort("device_family").rows():
            family_devices = devices.filter(pl.col("device_family") == family)
            eu_class = render.family_eu_class(family_devices["eu_class"].to_list())
            report_type = render.report_type_for(eu_class)
            start, end = render.reporting_period(
                eu_class,
                as_of,
                config.section("reports").get("period_months"),
                data_collection_start(config.section("reports"), family),
            )
            family_rates = rates.filter(pl.col("device_family") == family)
            in_period = family_rates.filter(pl.col("month").is_between(start, end))
            summary = [
                {
                    "device_model": model,
                    "complaints": int(c),
                    "serious_complaints": int(s),
                    "unit_months": f"{u:,.0f}",
                    "rate": _fmt(k * 1000 / u if u else None),
                    "ci": "",
                }
                for model, c, s, u, k in in_period.group_by("device_model")
                .agg(
                    pl.col("complaints").sum().alias("c"),
                    pl.col("serious_complaints").sum().alias("s"),
                    pl.col("units_in_service").sum().alias("u"),
                    pl.col("complaints").sum().alias("k"),
                )
                .sort("device_model")
                .rows()
            ]
            lows, highs = render.poisson_interval_rates(
                [r["complaints"] for r in summary],
                [float(r["unit_months"].replace(",", "")) for r in summary],
            )
            for row, lo, hi in zip(summary, lows, highs, strict=True):
                row["ci"] = f"{_fmt(lo)} to {_fmt(hi)}" if lo is not None else ""
            chart_months = int(config.section("reports").get("chart_months", 36))
            shown = family_rates.filter(
                pl.col("month")
                >= pl.lit(end).dt.offset_by(f"-{chart_months - 1}mo").dt.truncate("1mo")
            )
            file_name = f"{render.slug(report_type)}_{render.slug(family)}_{start}_{end}.html"
            section_data = family_sections(con, as_of, family, start, end, shown, config)
            html = render.render_family_report(
                {
                    **section_data,
                    "device_family": family,
                    "eu_class": eu_class,
                    "report_type": report_type,
                    "period_start": start.isoformat(),
                    "period_end": end.isoformat(),
                    "devices": family_devices.to_dicts(),
                    "summary": summary,
                    **evidence,
                }
            )
            data = write_atomically(root / file_name, html)
            complaints_in_period = sum(r["complaints"] for r in summary)
            # the same figure as the report's section 3: units in service at the period's end
            end_units = sum(r["worldwide"] for r in section_data["in_service_end"])
            index_rows.append(
                {
                    "device_family": family,
                    "eu_class": eu_class,
                    "report_type": report_type,
                    "path": file_name,
                    "period_start": start.isoformat(),
                    "period_end": end.isoformat(),
                    "complaints": complaints_in_period,
                    "units_in_service_end": f"{end_units:,.0f}",
                }
            )
            manifest_reports.append(
                {
                    "path": file_name,
                    "sha256": render.sha256_bytes(data),
                    "device_family": family,
                    "report_type": report_type,
                    "eu_class": eu_class,
                    "period_start": start.isoformat(),
                    "period_end": end.isoformat(),
                }
            )
    pdfs = print_pdfs(root, index_rows, as_of, config.section("reports"), version)
    for row in index_rows:
        row["pdf"] = pdfs.get(row["path"], {}).get("path")
    listing = {  # no run id: a rerun of the night publishes the same bytes
        "as_of": as_of.isoformat(),
        "code_version": version,
        "pdf_note": pdfs.get("", {}).get("note", ""),
        "pdf": pdfs.get("", {}).get("note", "printed by headless Chromium"),
        "index_rows": index_rows,
        "reports": [
            *manifest_reports,
            *[
                {
                    "path": pdf["path"],
                    "sha256": pdf["sha256"],
                    "pdf_of": html_path,
                    "charts": pdf["charts"],
                    "charts_drawn": pdf["charts_drawn"],
                }
                for html_path, pdf in sorted(pdfs.items())
                if html_path
            ],
        ],
    }
    write_atomically(root / FAMILY_REPORTS_LISTING, render.manifest_json(listing))
    table = markdown_table(
        [
            (
                r["device_family"],
                r["report_type"],
                r["period_start"],
                r["period_end"],
                r["complaints"],
            )
            for r in index_rows
        ],
        ["device family", "report", "from", "to", "complaints"],
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(manifest_reports),
            "listing": dg.MetadataValue.path(str((root / FAMILY_REPORTS_LISTING).resolve())),
            "summary": dg.MetadataValue.md(
                f"**PMS reports as of {as_of.isoformat()}** (code {version})\n\n{table}"
            ),
            "pdf": pdfs.get("", {}).get("note", f"{len(pdfs)} PDFs printed by headless Chromium"),
            "as_of": as_of.isoformat(),
        }
    )


def night_evidence(
    con: Any, run_id: str, as_of: Any, config_sha256: str, version: str
) -> dict[str, Any]:
    """What every published page cites: the run's quality checks, the quarantine, the inputs."""
    quality_checks = [
        dict(
            zip(
                ("suite", "table", "check", "severity", "passed", "failing_rows"),
                row,
                strict=True,
            )
        )
        for row in con.execute(
            """
            SELECT suite, table_name, check_name, severity, success,
                   coalesce(unexpected_count, 0)
            FROM audit.check_results
            WHERE run_id = ? AND checked_on = 'staged table'
            ORDER BY success, suite, table_name, check_name
            """,
            [run_id],
        ).fetchall()
    ]
    quarantine_summary = [
        dict(zip(("source", "quarantined", "recovered", "waiting"), row, strict=True))
        for row in con.execute(
            """
            SELECT q.source, count(*) AS quarantined, count(r.file_path) AS recovered,
                   count(*) - count(r.file_path) AS waiting
            FROM quarantine.rejected_rows q
            LEFT JOIN quarantine.resolutions r
              ON r.source = q.source AND r.file_path = q.file_path
             AND r.sha256 = q.sha256 AND r.row_number IS NOT DISTINCT FROM q.row_number
            GROUP BY q.source ORDER BY q.source
            """
        ).fetchall()
    ]
    input_files = [
        dict(
            zip(
                (
                    "file_path",
                    "sha256",
                    "source",
                    "rows_read",
                    "rows_loaded",
                    "rows_quarantined",
                    "status",
                ),
                row,
                strict=True,
            )
        )
        for row in con.execute(
            "SELECT file_path, sha256, source, rows_read, rows_loaded, rows_quarantined, "
            "status FROM audit.ingested_files ORDER BY source, file_path, sha256"
        ).fetchall()
    ]
    return {
        "quality_checks": quality_checks,
        "quality_groups": sections.group_checks(quality_checks),
        "quarantine_summary": quarantine_summary,
        "as_of": as_of.isoformat(),
        "code_version": version,
        "config_sha256": config_sha256,
        "input_files": len(input_files),
        "inputs_digest": render.inputs_digest(input_files),
        "input_file_rows": input_files,
    }


VIGILANCE_PAGE = "vigilance.html"


def data_collection_start(settings: dict[str, Any], family: str) -> Any:
    """The first day of the family's first data collection period: `[reports]
    data_collection_start`, or the family's own in `[reports.data_collection_start_by_family]`
    (a family under another certificate); None for a period rolling with the night."""
    return settings.get("data_collection_start_by_family", {}).get(
        family, settings.get("data_collection_start")
    )


def running_header(row: dict[str, Any], as_of: Any, version: str) -> str:
    """The line at the top of every printed page: which report, its period, the data's night and
    the code that computed it."""
    return (
        f"{row['report_type']} {row['device_family']} · period {row['period_start']} to "
        f"{row['period_end']} · data as of {as_of} · code {version}"
    )


def print_pdfs(
    root: Path,
    index_rows: list[dict[str, Any]],
    as_of: Any,
    settings: dict[str, Any],
    version: str = "",
) -> dict[str, dict[str, str]]:
    """A PDF beside each family report (`[reports] pdf`, on by default). Keyed by the HTML
    file; the key "" carries a note when no PDF could be printed."""
    if not settings.get("pdf", True):
        return {"": {"note": "not produced: [reports] pdf = false"}}
    chromium = find_chromium()
    if chromium is None:
        return {"": {"note": "not produced: no Chromium found (apt install chromium)"}}
    printed = {}
    for row in index_rows:
        pdf_name = Path(row["path"]).with_suffix(".pdf").name
        pdf = print_to_pdf(
            root / row["path"],
            root / pdf_name,
            as_of,
            chromium,
            header=running_header(row, as_of, version),
        )
        printed[row["path"]] = {
            "path": pdf_name,
            "sha256": render.sha256_bytes(pdf.data),
            "charts": pdf.charts,
            "charts_drawn": pdf.charts_drawn,
        }
    return printed


def family_sections(
    con: Any,
    as_of: Any,
    family: str,
    start: Any,
    end: Any,
    shown_rates: pl.DataFrame,
    config: Any,
) -> dict[str, Any]:
    """Data and charts of the MDCG 2022-21 sections of one family report."""
    slug = render.slug(family)
    eea = sections.eea_countries()
    devices = sections.device_description(con, family)
    sales = sections.sales_by_region_year(con, family, end, eea)
    serious = sections.serious_incidents(con, as_of, family, start, end, eea)
    timeliness = sections.reporting_timeliness(con, as_of, family, start, end)
    trends = sections.trend_signals(con, family, start, end)
    fscas = sections.fsca_signals(con, family, start, end)
    pareto = sections.complaint_pareto(con, as_of, family, start, end)
    lots = sections.lot_problem_matrix(con, as_of, family, start, end)
    thresholds = {
        k: float(v) for k, v in config.section("signals").get("disproportionality", {}).items()
    }
    disprop = sections.disproportionality(
        con, sorted({d["product_code"] for d in devices if d["product_code"]}), thresholds
    )
    risks = sections.risk_feedback(con, as_of, family, start, end, config.section("risk_feedback"))
    facts = mdcg.product_facts(con, family)
    comparison = sections.period_comparison(con, family, start, end)
    marks = sections.signal_months(con, family, end)
    shown_start = shown_rates["month"].min() if not shown_rates.is_empty() else None
    marks = [m for m in marks if shown_start is None or m["month"] >= shown_start]
    return {
        "device_description": devices,
        "sales": sales,
        "in_service_end": sections.in_service_at_end(con, family, end, eea),
        "sales_chart": charts.units_by_region_chart(sales, div_id=f"sales-chart-{slug}"),
        "facts": facts,
        "cover": mdcg.cover(facts),
        "missing_purpose": mdcg.missing(
            mdcg.PRODUCT_FACTS["intended_purpose"], "products.csv column intended_purpose"
        ),
        "population": mdcg.population(con, family, start, end, facts),
        "annex_tables": mdcg.annex_tables(con, as_of, family, start, end),
        "annex_not_in_data": mdcg.ANNEX_NOT_IN_DATA,
        "fsca_register": mdcg.fsca_register(con, family, start, end),
        "capa_register": mdcg.capa_register(con, family, start, end),
        "texts": mdcg.text_inputs(con, family, end),
        "serious": serious,
        "serious_sentence": sections.serious_statement(serious),
        "timeliness": timeliness,
        "decided": sections.decided_otherwise(con, as_of, family, start, end),
        "trends": trends,
        "trend_legend": statistic_legend([t["method"] for t in trends]),
        "fscas": fscas,
        "pareto": pareto[:20],
        "pareto_codes": len(pareto),
        "pareto_chart": charts.pareto_chart(pareto, div_id=f"pareto-chart-{slug}")
        if pareto
        else "",
        "lots": lots,
        "lot_chart": charts.lot_heatmap(lots, div_id=f"lot-chart-{slug}") if lots["lots"] else "",
        "rate_chart": charts.control_chart(shown_rates, marks, start, div_id=f"rate-chart-{slug}"),
        "thresholds": thresholds,
        "disproportionality": disprop,
        "risks": risks,
        "comparison": comparison,
        "conclusions": sections.conclusion_points(timeliness, trends, fscas, risks, comparison),
        "statements": sections.summary_statements(
            serious, timeliness, trends, fscas, risks, disprop, comparison
        ),
    }


# The list of family reports the step reports/pms_reports published last (its night and files);
# the morning-page step reads it to write index.html and manifest.json, saying when the
# family reports are not tonight's.
FAMILY_REPORTS_LISTING = "family_reports.json"

# Optional sections of the morning page: the tables they read, produced by steps outside the
# safety-critical path. A section whose table was not materialised in this run says so.
OPTIONAL_SECTIONS = {
    "signals": (("marts", "signals"),),
    "trend_candidates": (("marts", "risk_feedback"), ("marts", "signals")),
    "review": (("marts", "compliance_flags"), ("marts", "triage_suggestions")),
    "fsca": (("marts", "fsca_scope"),),
}


def _materialised_in_run(instance: dg.DagsterInstance, key: tuple[str, ...], run_id: str) -> bool:
    event = instance.get_latest_materialization_event(dg.AssetKey(list(key)))
    return event is not None and event.run_id == run_id


def stale_sections(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Per optional section whose input was not rebuilt in this run: which table is older."""
    stale = {}
    for section, keys in OPTIONAL_SECTIONS.items():
        old = ["/".join(k) for k in keys if not _materialised_in_run(instance, k, run_id)]
        if old:
            stale[section] = ", ".join(old)
    return stale


def read_family_listing(root: Path) -> dict[str, Any] | None:
    """The family reports listing last written by reports/pms_reports, or None."""
    try:
        listing = json.loads((root / FAMILY_REPORTS_LISTING).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return listing if isinstance(listing, dict) else None


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["reports", "vigilance_page"],
    group_name="vigilance",
    owners=REPORT_OWNERS,
    kinds={"html"},
    op_tags={"dagster/priority": PAGE_STEP_PRIORITY},
    deps=[
        dg.AssetKey(["marts", "vigilance_flags"]),
        dg.AssetKey(["staging", "complaint_versions"]),
        dg.AssetKey(["staging", "products"]),
    ],
    description=(
        "Safety-critical. `vigilance.html`, the page regulatory affairs reads first each "
        "morning: open and overdue reports, reportable complaints waiting in quarantine, then "
        "trend-report candidates, new signals and the review queue (narratives redacted); "
        "`index.html` linking it and the family reports; `manifest.json` with the sha256 of "
        "every published file and input. Depends on the vigilance flags only, and runs after "
        "every other step that can run: a failed or skipped step elsewhere (signals, triage, "
        "reports, PDFs, MAUDE) is named in a banner on the page and the index, and a section "
        "whose table was not rebuilt tonight says which night it is from. In a pms_safety_net "
        "run (a night stopped by a blocking check) it names the checks that stopped the night."
    ),
)
def vigilance_page_asset(
    context: dg.AssetExecutionContext,
    warehouse: DuckDBResource,
    landing: LandingFolder,
    reports: ReportFolder,
    night: NightSettings,
) -> dg.MaterializeResult:
    as_of = night.as_of_date()
    config = load_config()
    version = code_version()
    run_id = context.run.run_id
    problems = night_problems(context)
    rescued = rescued_run_id(dict(context.run.tags))
    stale = stale_sections(context.instance, run_id)
    root = reports.root
    with warehouse.get_connection() as con:
        evidence = night_evidence(con, rescued or run_id, as_of, config.sha256, version)
        vigilance = vigilance_page_context(con, as_of)
        inventory = landing_inventory(con, landing.root)
    banner = {
        "not_contract_files": inventory.not_contract[:MAX_LISTED],
        "not_contract_count": len(inventory.not_contract),
        "not_read_yet_files": inventory.not_read_yet[:MAX_LISTED],
        "not_read_yet_count": len(inventory.not_read_yet),
        "problems": [
            {"what": p.what, "kind": p.kind, "detail": p.detail, "run_id": p.run_id}
            for p in problems
        ],
        "rescued_run": rescued,
        "known_data_only": context.run.tags.get(SAFETY_NET_TIER_TAG) == KNOWN_DATA_ONLY,
        "stale_sections": stale,
    }
    input_files = evidence.pop("input_file_rows")
    vigilance_data = write_atomically(
        root / VIGILANCE_PAGE, render_vigilance_page({**vigilance, **evidence, **banner})
    )
    full_list = render_initial_list({**vigilance, **evidence})
    list_files = [
        {"path": name, "sha256": render.sha256_bytes(write_atomically(root / name, data))}
        for name, data in csv_exports(vigilance).items()
    ]
    if full_list is not None:
        list_data = write_atomically(root / INITIAL_LIST_PAGE, full_list)
        list_files.append({"path": INITIAL_LIST_PAGE, "sha256": render.sha256_bytes(list_data)})
    else:
        (root / INITIAL_LIST_PAGE).unlink(missing_ok=True)  # an earlier night's list is stale
    listing = read_family_listing(root)
    fresh = listing is not None and _materialised_in_run(
        context.instance, ("reports", "pms_reports"), run_id
    )
    index_data = write_atomically(
        root / "index.html",
        render.render_index(
            {
                "reports": (listing or {}).get("index_rows", []),
                "reports_fresh": fresh,
                "reports_as_of": (listing or {}).get("as_of"),
                "vigilance_page": VIGILANCE_PAGE,
                "vigilance": vigilance["counts"],
                "pdf_note": (listing or {}).get("pdf_note", ""),
                **evidence,
                **banner,
            }
        ),
    )
    family_files = [
        {**r, **({} if fresh else {"as_of": (listing or {}).get("as_of")})}
        for r in (listing or {}).get("reports", [])
    ]
    manifest = {
        **evidence,
        "run_id": run_id,
        "redaction_version": vigilance["redaction_version"],
        "pdf": (listing or {}).get("pdf", "not produced: the family reports did not run"),
        "problems": [p.line() for p in problems],
        "reports": [
            *family_files,
            {"path": VIGILANCE_PAGE, "sha256": render.sha256_bytes(vigilance_data)},
            *list_files,
            {"path": "index.html", "sha256": render.sha256_bytes(index_data)},
        ],
        "input_files": input_files,
    }
    if rescued:
        manifest["rescues_run"] = rescued
    write_atomically(root / "manifest.json", render.manifest_json(manifest))
    counts = vigilance["counts"]
    night_summary = (
        f"**Vigilance as of {as_of.isoformat()}**: {counts['overdue']} overdue, "
        f"{counts['due_7_days']} due within 7 days, {counts['open']} open, "
        f"{counts['undetermined']} undetermined (in doubt), "
        f"{counts['decision_clocks']} 5-day/2-day/72-hour reports open, "
        f"{counts['second_review']} decided not reportable for second review, "
        f"{counts['assess_locally']} to assess locally, "
        f"{counts['supplemental_due']} supplemental reports due, "
        f"{counts['quarantined_reportables']} reportable complaints waiting in quarantine, "
        f"{counts['new_signals']} new signals tonight. "
        f"Read `{(root / VIGILANCE_PAGE).resolve()}` first."
    )
    problem_lines = "\n".join(f"- {p.line()}" for p in problems) or "None."
    return dg.MaterializeResult(
        metadata={
            "index": dg.MetadataValue.path(str((root / "index.html").resolve())),
            "vigilance_page": dg.MetadataValue.path(str((root / VIGILANCE_PAGE).resolve())),
            "vigilance": dg.MetadataValue.md(night_summary),
            "overdue_reports": int(counts["overdue"]),
            "reportables_in_quarantine": int(counts["quarantined_reportables"]),
            "failures_named_on_the_page": dg.MetadataValue.md(problem_lines),
            "landing_files_not_read_yet": len(inventory.not_read_yet),
            "landing_files_no_source_reads": len(inventory.not_contract),
            "family_reports": "tonight's" if fresh else f"from {(listing or {}).get('as_of')}",
            "as_of": as_of.isoformat(),
        }
    )
