"""Render the PMS report pages: plain functions from data to deterministic HTML.

Same data in, same bytes out: fixed element ids, sorted inputs, no wall clock, plotly.js
embedded so the files work offline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from plotly.offline import get_plotlyjs

from models.exposure import month_end

TEMPLATES = Path(__file__).resolve().parent / "templates"
EU_CLASS_ORDER = {"I": 1, "IIa": 2, "IIb": 3, "III": 4}
PALETTE = ("#0b5cad", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0f766e")


def num(value: Any, digits: int = 0) -> str:
    """Numbers for the report tables: thousands separators, fixed digits, '' for missing."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value in (float("inf"), float("-inf")):
            return "∞" if value > 0 else "-∞"
    return f"{value:,.{digits}f}"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )
    env.filters["num"] = num
    return env


@lru_cache(maxsize=1)
def plotly_js() -> str:
    return get_plotlyjs()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "family"


def family_eu_class(eu_classes: list[str]) -> str:
    return max(eu_classes, key=lambda c: EU_CLASS_ORDER.get(c, 0))


def report_type_for(eu_class: str) -> str:
    """PSUR for class IIa, IIb and III (MDR Art. 86); PMS report for class I (Art. 85)."""
    return "PMS report" if eu_class == "I" else "PSUR"


DEFAULT_PERIOD_MONTHS = {"I": 12, "IIa": 24, "IIb": 12, "III": 12}


def reporting_period(
    eu_class: str,
    as_of: dt.date,
    period_months: Mapping[str, int] | None = None,
    data_collection_start: dt.date | None = None,
) -> tuple[dt.date, dt.date]:
    """The report's data collection period. Its length per EU class comes from
    `[reports.period_months]`: by default 12 months for class IIb and III (PSUR at least
    annually) and for the class I PMS report, 24 for class IIa (MDR Art. 86(1)).

    With `data_collection_start` (the first day of the certificate's first data collection
    period, `[reports] data_collection_start`), the periods follow each other from it and the
    report covers the latest one complete by `as_of`: the period stays put from night to night
    until the next one ends. Without it, the period ends with the last complete month before
    `as_of` (a rolling window)."""
    months = int({**DEFAULT_PERIOD_MONTHS, **(period_months or {})}.get(eu_class, 12))
    if data_collection_start is None:
        end = as_of.replace(day=1) - dt.timedelta(days=1)
    else:
        first = data_collection_start.year * 12 + data_collection_start.month - 1
        done = (as_of.year * 12 + as_of.month - 1) - first  # months before as_of's month
        if as_of == month_end(as_of):
            done += 1  # as_of is its month's last day: that month is complete
        periods = max(done // months, 1)
        last = first + periods * months  # the month after the period
        end = dt.date(last // 12, last % 12 + 1, 1) - dt.timedelta(days=1)
    start_month = (end.year * 12 + end.month - 1) - (months - 1)
    return dt.date(start_month // 12, start_month % 12 + 1, 1), end


def render_family_report(context: dict[str, Any]) -> str:
    return (
        environment()
        .get_template("family_report.html.j2")
        .render(
            plotly_js=plotly_js(),
            title=f"{context['report_type']}: {context['device_family']}",
            **context,
        )
    )


def render_index(context: dict[str, Any]) -> str:
    return (
        environment()
        .get_template("index.html.j2")
        .render(title="Post-market surveillance reports", **context)
    )


def inputs_digest(input_files: list[dict[str, Any]]) -> str:
    """One sha256 over the sorted (file_path, sha256) pairs of every ingested input."""
    lines = sorted(f"{f['file_path']}\t{f['sha256']}" for f in input_files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_json(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"


def poisson_interval_rates(
    counts: list[int], unit_months: list[float]
) -> tuple[list[float | None], list[float | None]]:
    """Exact 95% interval of each rate per 1,000 unit-months (None where there is no exposure)."""
    import numpy as np

    from models.rates import rate_per_1000

    _, lower, upper = rate_per_1000(np.array(counts), np.array(unit_months))
    clean = [None if np.isnan(x) else float(x) for x in lower]
    return clean, [None if np.isnan(x) else float(x) for x in upper]


def render_stopped_index(context: dict[str, Any]) -> str:
    """The index of a night a blocking check stopped: which checks, and the last reports."""
    return (
        environment()
        .get_template("stopped.html.j2")
        .render(title="PMS reports: night stopped", **context)
    )


def previous_manifest(reports_dir: Path) -> dict[str, Any] | None:
    path = reports_dir / "manifest.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
