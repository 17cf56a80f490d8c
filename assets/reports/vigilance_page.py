"""The vigilance page regulatory affairs reads first each morning.

Plain functions: `vigilance_page_context` reads the marts of one as-of night into a dict (fixed
sort orders, dates from the as-of night, never the wall clock) and `render_vigilance_page` turns
it into one self-contained HTML page (no scripts, no external requests). Narratives are shown only
as redacted excerpts (`models.redaction.redact`), redacted before they are cut.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import polars as pl

from assets.marts.queries import complaints_as_of_sql
from assets.reports.render import environment
from assets.warehouse import query_frame
from models.redaction import REDACTION_VERSION, redact
from models.vigilance import load_rules

OPEN_STATUSES = ("overdue", "open")
TREND_METHODS = ("changepoint", "cusum", "ewma", "maxsprt", "poisson_exact_fdr")
MAX_ROWS = 200
EXCERPT_CHARS = 200


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    schema, table = name.split(".")
    return bool(
        con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    )


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pl.DataFrame:
    return query_frame(con, sql, params)


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """The redacted narrative, cut to `limit` characters after redaction."""
    red = redact(text) or ""
    red = " ".join(red.split())
    return red if len(red) <= limit else red[:limit].rstrip() + "…"


def _complaints(con: duckdb.DuckDBPyConnection, as_of: dt.date, ids: list[str]) -> pl.DataFrame:
    schema = {
        "complaint_id": pl.String,
        "device_family": pl.String,
        "device_model": pl.String,
        "country": pl.String,
        "problem_code": pl.String,
        "description": pl.String,
    }
    if not ids or not _table_exists(con, "staging.complaint_versions"):
        return pl.DataFrame(schema=schema)
    products = _table_exists(con, "staging.products")
    family = "p.device_family" if products else "CAST(NULL AS VARCHAR)"
    join = "LEFT JOIN staging.products p USING (device_model)" if products else ""
    sql = f"""
        SELECT c.complaint_id, {family} AS device_family, c.device_model, c.country,
               c.problem_code, c.description
        FROM ({complaints_as_of_sql("v.complaint_id IN (SELECT unnest($ids))")}) c {join}
    """
    return _frame(con, sql, {"as_of": as_of, "ids": ids}).select(list(schema))


def _rules() -> dict[str, dict[str, str]]:
    return {r.rule_id: {"report": r.report, "source": r.source} for r in load_rules()}


def _flag_rows(df: pl.DataFrame, complaints: pl.DataFrame, rules: dict) -> list[dict[str, Any]]:
    info = {r["complaint_id"]: r for r in complaints.to_dicts()}
    out = []
    for r in df.to_dicts():
        c = info.get(r["complaint_id"], {})
        rule = rules.get(r["rule"] or "", {})
        out.append(
            {
                **r,
                "device_family": c.get("device_family") or "",
                "device_model": c.get("device_model") or "",
                "country": c.get("country") or "",
                "rule_report": rule.get("report", ""),
                "rule_source": rule.get("source", ""),
                "excerpt": excerpt(c.get("description")),
            }
        )
    return out


def _open_flags(con: duckdb.DuckDBPyConnection, as_of: dt.date, rules: dict) -> dict[str, Any]:
    flags = _frame(
        con,
        """
        SELECT complaint_id, regime, report_kind, rule, route, criteria_met, received_date,
               due_date, days_remaining, status, data_state
        FROM marts.vigilance_flags
        WHERE status IN ('overdue', 'open') AND reportable
        ORDER BY CASE status WHEN 'overdue' THEN 0 ELSE 1 END, due_date NULLS LAST,
                 complaint_id, regime, report_kind, rule
        """,
    )
    quarantined = _frame(
        con,
        """
        SELECT complaint_id, regime, report_kind, rule, route, criteria_met, received_date,
               due_date, days_remaining, status, data_state
        FROM marts.vigilance_flags
        WHERE data_state = 'quarantined' AND reportable
        ORDER BY due_date NULLS LAST, complaint_id, regime, report_kind, rule
        """,
    )
    shown = flags.head(MAX_ROWS)
    shown_q = quarantined.head(MAX_ROWS)
    ids = sorted(set(shown["complaint_id"].to_list()) | set(shown_q["complaint_id"].to_list()))
    complaints = _complaints(con, as_of, ids)
    week = as_of + dt.timedelta(days=7)
    return {
        "open_rows": _flag_rows(shown, complaints, rules),
        "open_total": flags.height,
        "open_more": flags.height - shown.height,
        "quarantined_rows": _flag_rows(shown_q, complaints, rules),
        "quarantined_total": quarantined.height,
        "quarantined_more": quarantined.height - shown_q.height,
        "counts": {
            "overdue": flags.filter(pl.col("status") == "overdue").height,
            "due_7_days": flags.filter(
                (pl.col("status") == "open") & (pl.col("due_date") <= week)
            ).height,
            "open": flags.filter(pl.col("status") == "open").height,
            "supplemental_due": flags.filter(pl.col("report_kind") == "supplemental").height,
            "quarantined_reportables": quarantined.height,
        },
    }


def _hazard_codes(codes: str | None) -> list[str]:
    return [c.strip() for c in (codes or "").split(";") if c.strip()]


def _trend_candidates(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[dict[str, Any]]:
    """Families x hazards with EEA trend-routed complaints in the last 12 months and an open or new
    trend signal on the hazard (or one of its problem codes) or a risk-file update required."""
    if not all(_table_exists(con, t) for t in ("marts.risk_feedback", "marts.signals")):
        return []
    hazards = _frame(
        con,
        """
        SELECT hazard_id, device_family, any_value(hazard) AS hazard,
               any_value(problem_codes) AS problem_codes,
               bool_or(update_required) AS update_required,
               string_agg(window_name || ': ' || finding, ' | ' ORDER BY window_name) AS finding
        FROM marts.risk_feedback GROUP BY hazard_id, device_family
        ORDER BY device_family, hazard_id
        """,
    )
    signals = _frame(
        con,
        f"""
        SELECT signal_id, scope_value AS device_family, code, method, detected_on, status
        FROM marts.signals
        WHERE scope = 'device_family' AND status IN ('open', 'new')
          AND method IN ({", ".join(f"'{m}'" for m in TREND_METHODS)})
        ORDER BY detected_on, signal_id
        """,
    )
    since = as_of - dt.timedelta(days=365)
    trend_ids = _frame(
        con,
        """
        SELECT DISTINCT complaint_id FROM marts.vigilance_flags
        WHERE route = 'trend' AND regime = 'EU_MDR' AND received_date > $since
          AND received_date <= $as_of
        """,
        {"since": since, "as_of": as_of},
    )["complaint_id"].to_list()
    trend = _complaints(con, as_of, sorted(trend_ids))
    out = []
    for h in hazards.to_dicts():
        codes = _hazard_codes(h["problem_codes"])
        n = trend.filter(
            (pl.col("device_family") == h["device_family"]) & pl.col("problem_code").is_in(codes)
        ).height
        sigs = [
            s
            for s in signals.filter(pl.col("device_family") == h["device_family"]).to_dicts()
            if s["code"] == h["hazard_id"] or any(c.startswith(s["code"] or "\0") for c in codes)
        ]
        if n == 0 or not (sigs or h["update_required"]):
            continue
        out.append({**h, "trend_complaints": n, "signals": sigs})
    return out


def _signals(con: duckdb.DuckDBPyConnection, as_of: dt.date, recent_days: int) -> dict[str, Any]:
    if not _table_exists(con, "marts.signals"):
        return {"new_signals": [], "signals_by_method": [], "new_signals_tonight": 0}
    since = as_of - dt.timedelta(days=recent_days)
    new = _frame(
        con,
        """
        SELECT signal_id, scope, scope_value, code, method, period_start, period_end,
               detected_on, observed, expected, statistic, threshold, status
        FROM marts.signals
        WHERE status = 'new' OR (detected_on > $since AND detected_on <= $as_of)
        ORDER BY detected_on DESC, signal_id
        """,
        {"since": since, "as_of": as_of},
    )
    by_method = _frame(
        con,
        """
        SELECT method, count(*) FILTER (WHERE status = 'new') AS new,
               count(*) FILTER (WHERE status = 'open') AS open, count(*) AS total
        FROM marts.signals WHERE status IN ('new', 'open')
        GROUP BY method ORDER BY method
        """,
    )
    return {
        "new_signals": new.to_dicts(),
        "signals_by_method": by_method.to_dicts(),
        "new_signals_tonight": new.filter(pl.col("status") == "new").height,
    }


def _review(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    findings = pl.DataFrame(schema={"flag": pl.String, "complaints": pl.Int64})
    if _table_exists(con, "marts.compliance_flags"):
        findings = _frame(
            con,
            "SELECT flag, count(*) AS complaints FROM marts.compliance_flags "
            "GROUP BY flag ORDER BY flag",
        )
    triage: list[dict[str, Any]] = []
    if _table_exists(con, "marts.triage_suggestions"):
        triage = _frame(
            con,
            """
            SELECT complaint_id, human_decision, predicted_outcome, p_reportable,
                   suggested_problem_code, model_version
            FROM marts.triage_suggestions
            WHERE likely_reportable AND lower(coalesce(human_decision, '')) = 'no'
            ORDER BY p_reportable DESC, complaint_id
            """,
        ).to_dicts()
    return {"findings": findings.to_dicts(), "triage_review": triage}


def _fsca(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    if not _table_exists(con, "marts.fsca_scope"):
        return []
    return _frame(
        con,
        """
        SELECT signal_id, any_value(method) AS method, any_value(scope_value) AS scope_value,
               any_value(code) AS code, any_value(detected_on) AS detected_on,
               count(DISTINCT lot_number) FILTER (WHERE NOT candidate) AS affected_lots,
               string_agg(DISTINCT country, '; ' ORDER BY country)
                   FILTER (WHERE NOT candidate AND units_shipped > 0) AS countries,
               coalesce(sum(units_shipped) FILTER (WHERE NOT candidate), 0) AS units_shipped,
               coalesce(sum(units_net) FILTER (WHERE NOT candidate), 0) AS units_net,
               count(DISTINCT lot_number) FILTER (WHERE candidate) AS candidate_lots,
               coalesce(sum(units_net) FILTER (WHERE candidate), 0) AS candidate_units_net
        FROM marts.fsca_scope GROUP BY signal_id ORDER BY detected_on, signal_id
        """,
    ).to_dicts()


def vigilance_page_context(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, recent_days: int = 7
) -> dict[str, Any]:
    """Everything the vigilance page shows for the as-of night, in fixed orders."""
    flags = _open_flags(con, as_of, _rules())
    signals = _signals(con, as_of, recent_days)
    counts = {**flags.pop("counts"), "new_signals": signals["new_signals_tonight"]}
    return {
        "as_of": as_of.isoformat(),
        "recent_days": recent_days,
        "max_rows": MAX_ROWS,
        "redaction_version": REDACTION_VERSION,
        "counts": counts,
        **flags,
        "trend_candidates": _trend_candidates(con, as_of),
        **signals,
        **_review(con),
        "fsca": _fsca(con),
    }


def render_vigilance_page(context: dict[str, Any]) -> str:
    return (
        environment()
        .get_template("vigilance.html.j2")
        .render(title=f"Vigilance: {context['as_of']}", **context)
    )
