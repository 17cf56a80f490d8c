"""Report assets: one PMS report per device family and period, the index and the manifest."""

import os
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.metadata import markdown_table
from assets.reports import render
from assets.resources import NightSettings, ReportFolder
from assets.warehouse import query_frame
from pipelines.settings import code_version, load_config

REPORT_OWNERS = ["team:regulatory-affairs"]


def write_atomically(path: Path, text: str) -> bytes:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    data = text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return data


def _fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


@dg.asset(
    key=["reports", "pms_reports"],
    group_name="reports",
    owners=REPORT_OWNERS,
    kinds={"html", "plotly"},
    deps=[dg.AssetKey(["marts", "complaint_rates"]), dg.AssetKey(["staging", "products"])],
    description=(
        "The published PMS reports: one self-contained HTML report per device family and "
        "period (PSUR for EU class IIa-III, PMS report for class I) with a Plotly rate chart, "
        "`index.html` linking them, and `manifest.json` with the sha256 of every report and "
        "input file, the code version and the configuration hash."
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
        quality_checks = [
            dict(zip(("table", "check", "severity", "passed", "failing_rows"), row, strict=True))
            for row in con.execute(
                """
                SELECT table_name, check_name, severity, success,
                       coalesce(unexpected_count, 0)
                FROM audit.check_results
                WHERE run_id = ? AND checked_on = 'staged table'
                ORDER BY success, table_name, check_name
                """,
                [context.run.run_id],
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
                 AND r.sha256 = q.sha256 AND r.row_number = q.row_number
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
    digest = render.inputs_digest(input_files)
    evidence = {
        "quality_checks": quality_checks,
        "quarantine_summary": quarantine_summary,
        "as_of": as_of.isoformat(),
        "code_version": version,
        "config_sha256": config.sha256,
        "input_files": len(input_files),
        "inputs_digest": digest,
    }
    root = reports.root
    index_rows: list[dict[str, Any]] = []
    manifest_reports: list[dict[str, Any]] = []
    for (family,) in devices.select("device_family").unique().sort("device_family").rows():
        family_devices = devices.filter(pl.col("device_family") == family)
        eu_class = render.family_eu_class(family_devices["eu_class"].to_list())
        report_type = render.report_type_for(eu_class)
        start, end = render.reporting_period(eu_class, as_of)
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
            pl.col("month") >= pl.lit(end).dt.offset_by(f"-{chart_months - 1}mo").dt.truncate("1mo")
        )
        file_name = f"{render.slug(report_type)}_{render.slug(family)}_{start}_{end}.html"
        html = render.render_family_report(
            {
                "device_family": family,
                "eu_class": eu_class,
                "report_type": report_type,
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "devices": family_devices.to_dicts(),
                "summary": summary,
                "rate_chart": render.rate_chart(shown, div_id=f"rate-chart-{render.slug(family)}"),
                **evidence,
            }
        )
        data = write_atomically(root / file_name, html)
        complaints_in_period = sum(r["complaints"] for r in summary)
        end_units = family_rates.filter(pl.col("month") == pl.lit(end).dt.truncate("1mo"))[
            "units_in_service"
        ].sum()
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
    index_data = write_atomically(
        root / "index.html", render.render_index({"reports": index_rows, **evidence})
    )
    manifest = {
        **evidence,
        "run_id": context.run.run_id,
        "reports": [
            *manifest_reports,
            {"path": "index.html", "sha256": render.sha256_bytes(index_data)},
        ],
        "input_files": input_files,
    }
    write_atomically(root / "manifest.json", render.manifest_json(manifest))
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
            "index": dg.MetadataValue.path(str((root / "index.html").resolve())),
            "summary": dg.MetadataValue.md(
                f"**PMS reports as of {as_of.isoformat()}** (code {version})\n\n{table}"
            ),
            "as_of": as_of.isoformat(),
        }
    )
