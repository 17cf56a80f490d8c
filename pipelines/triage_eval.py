"""`pms triage-eval`: how the triage base recipe (models/triage_base.py) generalises.

Splits, each scored on reports the fold's model never saw, with the operating threshold set on the
fold's training part alone (grouped by product group, as the nightly model sets it):
- the shipped real MAUDE reports (assets/reference/maude-reports): random stratified 5-fold
  (in-domain), grouped 5-fold by device type, and each device type held out in turn (the web
  reports carry no product code; the device type from the brand stands in for it);
- the firm's complaints of a landing folder (generated, demo scale, when none is given): the same
  three splits by product code;
- by source: trained on the real MAUDE reports and tested on the firm's complaints, and the
  reverse.
Prints a Markdown table (Death+Injury recall and Malfunction specificity at the threshold,
macro-F1, ROC AUC, Brier score) and writes it with the reliability tables to `--out`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from threadpoolctl import threadpool_limits

from models.triage_base import (
    BaseParams,
    firm_reports,
    generalisation,
    reference_reports,
    serious_labels,
    split_metrics,
    transfer,
)

REFERENCE_REPORTS = (
    Path(__file__).resolve().parent.parent
    / "assets"
    / "reference"
    / "maude-reports"
    / "maude_web_reports_1995.csv"
)
COLUMNS = (
    "data",
    "split",
    "reports",
    "serious",
    "recall_death_injury",
    "specificity_malfunction",
    "macro_f1",
    "roc_auc",
    "brier",
)


def landing_complaints(landing: Path) -> pl.DataFrame:
    """The latest version of every complaint of a landing folder, with its product code."""
    versions = pl.read_csv(
        sorted(str(p) for p in (landing / "complaints").glob("*.csv")), infer_schema_length=0
    )
    products = pl.read_csv(landing / "products.csv", infer_schema_length=0)
    return (
        versions.sort("complaint_id", "updated_at")
        .unique("complaint_id", keep="last")
        .join(products.select("device_model", "product_code"), on="device_model", how="left")
        .with_columns(pl.col("received_date").str.to_date(strict=False))
        .sort("complaint_id")
    )


def _row(data: str, split: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "split": split, **metrics}


def evaluate_triage(landing: Path | None = None, seed: int = 1) -> list[dict[str, Any]]:
    params = BaseParams()
    reference = reference_reports(pl.read_csv(REFERENCE_REPORTS, infer_schema_length=0))
    with tempfile.TemporaryDirectory() as scratch:
        if landing is None:
            from synthetic.generate import generate_landing

            landing = Path(scratch) / "landing"
            generate_landing(landing, seed, "demo")
        firm = firm_reports(landing_complaints(landing))
    rows = []
    with threadpool_limits(limits=1):
        for r in generalisation(reference, params):
            rows.append(_row("real MAUDE reports (shipped)", r.pop("split"), r))
        for r in generalisation(firm, params):
            rows.append(_row("firm complaints (landing)", r.pop("split"), r))
        for name, train, test in (
            ("trained on real MAUDE, tested on the firm", reference, firm),
            ("trained on the firm, tested on real MAUDE", firm, reference),
        ):
            scores, flagged = transfer(train, test, params)
            labels = serious_labels(test["event_type"].to_list())
            rows.append(_row("by source", name, split_metrics(labels, scores, flagged)))
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown(rows: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    return head + "\n".join(
        "| " + " | ".join(_cell(r.get(c)) for c in COLUMNS) + " |" for r in rows
    )


def reliability(rows: list[dict[str, Any]]) -> str:
    """The reliability diagram of each split as a table: per tenth of predicted p(serious), the
    mean prediction, the observed share of serious reports and the reports in it."""
    out = []
    for r in rows:
        cells = "; ".join(
            f"{b['bin']}: {b['mean_predicted']:.2f} vs {b['observed_serious']:.2f} "
            f"(n={b['reports']})"
            for b in r["reliability"]
        )
        out.append(f"- {r['data']}, {r['split']}: {cells}")
    return "Reliability (predicted vs observed share serious, per tenth of p):\n" + "\n".join(out)


def run_triage_evaluation(out: Path, landing: Path | None, seed: int) -> str:
    rows = evaluate_triage(landing, seed)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows) + "\n\n" + reliability(rows)
    (out / "triage_evaluation.md").write_text(table + "\n", encoding="utf-8")
    (out / "triage_evaluation.json").write_text(
        json.dumps(rows, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return table
