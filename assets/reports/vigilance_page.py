"""The vigilance page regulatory affairs reads first each morning.

Plain functions: `vigilance_page_context` reads the marts of one as-of night into a dict (fixed
sort orders, dates from the as-of night, never the wall clock) and `render_vigilance_page` turns
it into one self-contained HTML page (no scripts, no external requests). Narratives are shown only
as redacted excerpts (`models.redaction.redact`), redacted before they are cut.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import polars as pl

from assets.marts.queries import complaints_as_of_sql
from assets.reports.render import environment
from assets.warehouse import query_frame, table_columns, table_exists
from models.narrative_topics import distinctive_terms
from models.redaction import REDACTION_VERSION, redact
from models.report_forms import form_readiness, load_form_fields
from models.signal_statistics import statistic_legend, statistic_reading
from models.vigilance import load_rules

TREND_METHODS = ("changepoint", "cusum", "ewma", "maxsprt", "poisson_exact_fdr")
MAX_ROWS = 50  # rows of a list on the page; every list is whole in its CSV
EXCERPT_CHARS = 200


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
    if not ids or not table_exists(con, "staging.complaint_versions"):
        return pl.DataFrame(schema=schema)
    products = table_exists(con, "staging.products")
    family = "p.device_family" if products else "CAST(NULL AS VARCHAR)"
    join = "LEFT JOIN staging.products p USING (device_model)" if products else ""
    sql = f"""
        SELECT c.complaint_id, {family} AS device_family, c.device_model, c.country,
               c.problem_code, c.description
        FROM ({complaints_as_of_sql("v.complaint_id IN (SELECT unnest($ids))")}) c {join}
    """
    return _frame(con, sql, {"as_of": as_of, "ids": ids}).select(list(schema))


def _readiness(con: duckdb.DuckDBPyConnection, as_of: dt.date, flags: pl.DataFrame) -> dict:
    """(complaint_id, regime, report_kind) -> what the person filing must still collect for the
    authority's form (models.report_forms: MedWatch 3500A, EU MIR, Health Canada)."""
    ids = sorted(set(flags["complaint_id"].to_list()))
    if not ids or not table_exists(con, "staging.complaint_versions"):
        return {}

    has_extra = "extra_fields" in table_columns(con, "staging.complaint_versions")
    extras = (
        "json_extract_string(c.extra_fields, '$.causality') AS causality, "
        "json_extract_string(c.extra_fields, '$.hospitalised') AS hospitalised"
        if has_extra
        else "NULL AS causality, NULL AS hospitalised"
    )
    product_cols = (
        set(table_columns(con, "staging.products")) & {"device_family", "product_code"}
        if table_exists(con, "staging.products")
        else set()
    )
    picked = "".join(f"p.{c}, " for c in sorted(product_cols))
    join = "LEFT JOIN staging.products p USING (device_model)" if product_cols else ""
    current = _frame(
        con,
        f"""
        SELECT c.*{" EXCLUDE (extra_fields)" if has_extra else ""}, {picked}{extras}
        FROM ({complaints_as_of_sql("v.complaint_id IN (SELECT unnest($ids))")}) c {join}
        """,
        {"as_of": as_of, "ids": ids},
    )
    ready = form_readiness(flags.select("complaint_id", "regime", "report_kind"), current)
    return {
        (r["complaint_id"], r["regime"], r["report_kind"]): {
            "form": r["form"],
            "present": r["fields_present"],
            "from_data": r["fields_required"]
            - len([f for f in (r["to_collect_always"] or "").split("; ") if f]),
            "missing": r["missing"] or "",
        }
        for r in ready.iter_rows(named=True)
    }


def forms_always_to_collect() -> dict[str, str]:
    """Per form, the required fields no complaint column supplies (collected for every report)."""
    out: dict[str, list[str]] = {}
    for f in load_form_fields():
        if f.is_required and not f.source_column:
            out.setdefault(f.form, []).append(f.field)
    return {form: "; ".join(fields) for form, fields in sorted(out.items())}


def _rules() -> dict[str, dict[str, str]]:
    return {r.rule_id: {"report": r.report, "source": r.source} for r in load_rules()}


def _flag_rows(
    df: pl.DataFrame, complaints: pl.DataFrame, rules: dict, forms: dict | None = None
) -> list[dict[str, Any]]:
    info = {r["complaint_id"]: r for r in complaints.to_dicts()}
    forms = forms or {}
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
                "form": forms.get((r["complaint_id"], r["regime"], r["report_kind"])),
            }
        )
    return out


FLAG_COLUMNS = """
    complaint_id, regime, authority, report_kind, rule, route, criteria_met, reason,
    received_date, day_zero, due_date, days_remaining, status, data_state, reported_date,
    legacy_reported_date, decision, decided_by, decided_on, decision_rationale, downgraded_on
"""
# Initial reports: the urgent first (overdue, then due within 7 days, then the rest), within each
# the most severe first (a death, a serious injury or deterioration, a serious malfunction), then
# the least time left.
SEVERITY_RANK_SQL = """
    CASE WHEN regexp_matches(criteria_met, '(^|;)death') THEN 0
         WHEN regexp_matches(criteria_met, '(^|;)(unanticipated_)?serious_(injury|deterioration)')
             THEN 1
         WHEN regexp_matches(criteria_met, '(^|;)serious_malfunction') THEN 2
         ELSE 3 END
"""
URGENCY_RANK_SQL = """
    CASE WHEN status = 'overdue' THEN 0 WHEN days_remaining <= 7 THEN 1 ELSE 2 END
"""
CLOCK_KINDS = ("five_day", "public_health_threat", "foreign_risk_notice")
FOLLOW_UP_KINDS = ("supplemental", "follow_up", "final", "final_non_reportable")


def _flags(con: duckdb.DuckDBPyConnection, where: str, order: str) -> pl.DataFrame:
    return _frame(
        con, f"SELECT {FLAG_COLUMNS} FROM marts.vigilance_flags WHERE {where} ORDER BY {order}"
    )


def _decisions_needed(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[dict[str, Any]]:
    """Signals that reached their threshold with no remedial-action or public-health-threat
    determination on them yet (21 CFR 803.53; MDR Art. 87(4)): a person must decide."""
    if not table_exists(con, "marts.signals"):
        return []
    decided = (
        "SELECT subject FROM staging.determinations WHERE kind IN "
        "('remedial_action_required', 'serious_public_health_threat', 'signal_evaluation') "
        "AND decided_on <= $as_of"
        if table_exists(con, "staging.determinations")
        else "SELECT NULL AS subject WHERE false"
    )
    # one item per signalled scope and code (its alarms by every method), until a determination
    # names one of its signals
    return _frame(
        con,
        f"""
        SELECT min(signal_id) AS signal_id, scope, scope_value, code,
               string_agg(DISTINCT method, ', ' ORDER BY method) AS method,
               max(detected_on) AS detected_on, min(detected_on) AS first_detected_on,
               count(*) AS alarms, string_agg(DISTINCT status, ', ' ORDER BY status) AS status
        FROM marts.signals
        WHERE detected_on <= $as_of AND status NOT IN ('refuted', 'closed', 'confirmed')
        GROUP BY scope, scope_value, code
        HAVING NOT bool_or(
            signal_id IN ({decided}) OR scope || ':' || scope_value || ':' || code IN ({decided})
        )
        ORDER BY max(detected_on) DESC, scope, scope_value, code
        """,
        {"as_of": as_of},
    ).to_dicts()


def _causality_needed(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Open initial reports on a death or serious injury with no causality judgement recorded."""
    recorded = (
        "SELECT subject FROM staging.determinations WHERE kind = 'causality'"
        if table_exists(con, "staging.determinations")
        else "SELECT NULL AS subject WHERE false"
    )
    return _flags(
        con,
        f"""report_kind = 'initial' AND status IN ('open', 'overdue')
        AND regexp_matches(criteria_met, '(^|;)(death|serious_injury)')
        AND complaint_id NOT IN ({recorded})""",
        "due_date NULLS LAST, complaint_id, regime",
    )


def _likely_reportable(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Complaints no rule makes reportable that the triage model calls likely reportable and
    nobody has decided yet: a person should look before a clock could be missed."""
    if not table_exists(con, "marts.triage_suggestions"):
        return []
    return _frame(
        con,
        """
        SELECT t.complaint_id, t.predicted_outcome, t.p_reportable, t.suggested_problem_code,
               t.suggestion_basis, t.drivers, min(f.received_date) AS received_date
        FROM marts.triage_suggestions t
        JOIN marts.vigilance_flags f USING (complaint_id)
        WHERE t.likely_reportable AND coalesce(t.human_decision, '') IN ('', 'pending')
        GROUP BY ALL
        HAVING NOT bool_or(f.reportable)
        ORDER BY t.p_reportable DESC, t.complaint_id
        """,
    ).to_dicts()


def _open_flags(con: duckdb.DuckDBPyConnection, as_of: dt.date, rules: dict) -> dict[str, Any]:
    initial = _flags(
        con,
        "report_kind = 'initial' AND status IN ('overdue', 'open') AND reportable "
        "AND data_state = 'staged'",
        f"{URGENCY_RANK_SQL}, {SEVERITY_RANK_SQL}, days_remaining NULLS LAST, complaint_id, regime",
    )
    undetermined = _flags(
        con,
        "status = 'undetermined' AND regime NOT IN ('NONE_ENCODED', 'CLINICAL_STUDY')",
        "due_date NULLS LAST, complaint_id, regime",
    )
    clocks = _flags(
        con,
        f"report_kind IN {CLOCK_KINDS} AND status IN ('overdue', 'open')",
        "due_date NULLS LAST, complaint_id, regime",
    )
    follow_ups = _flags(
        con,
        f"report_kind IN {FOLLOW_UP_KINDS} AND status IN ('overdue', 'open')",
        "due_date NULLS LAST, complaint_id, regime, day_zero",
    )
    # the newest decisions first: a second person reviews them as they come
    second_review = _flags(
        con,
        "status = 'decided_not_reportable'",
        "decided_on DESC NULLS LAST, complaint_id, regime",
    )
    locally = _flags(
        con,
        "regime = 'NONE_ENCODED' AND status = 'undetermined' AND reported_date IS NULL",
        "day_zero NULLS LAST, complaint_id",
    )
    clinical = _flags(
        con, "regime = 'CLINICAL_STUDY' AND status = 'undetermined'", "day_zero, complaint_id"
    )
    quarantined = _flags(
        con,
        "data_state = 'quarantined' AND reportable",
        "due_date NULLS LAST, complaint_id, regime, report_kind, rule",
    )
    causality = _causality_needed(con)
    shown = {
        "initial": initial.head(MAX_ROWS),
        "undetermined": undetermined.head(MAX_ROWS),
        "clocks": clocks,
        "follow_ups": follow_ups.head(MAX_ROWS),
        "second_review": second_review.head(MAX_ROWS),
        "locally": locally.head(MAX_ROWS),
        "clinical": clinical.head(MAX_ROWS),
        "quarantined": quarantined.head(MAX_ROWS),
        "causality": causality.head(MAX_ROWS),
    }
    week = as_of + dt.timedelta(days=7)
    due_soon = (pl.col("due_date") <= week) & (pl.col("status") == "open")
    due_today = (pl.col("due_date") == as_of) & (pl.col("status") == "open")
    totals = {
        "initial": initial,
        "undetermined": undetermined,
        "follow_ups": follow_ups,
        "second_review": second_review,
        "locally": locally,
        "clinical": clinical,
        "quarantined": quarantined,
        "causality": causality,
    }
    listed = {**totals, "clocks": clocks}
    # one read of the complaints behind every list: the page's rows, the CSVs, the full list
    complaints = _complaints(
        con, as_of, sorted({i for f in listed.values() for i in f["complaint_id"].to_list()})
    )
    forms = _readiness(con, as_of, pl.concat([shown["initial"], shown["clocks"]]))
    out: dict[str, Any] = {
        f"{name}_rows": _flag_rows(frame, complaints, rules, forms) for name, frame in shown.items()
    }
    details = complaints.select("complaint_id", "device_family", "device_model", "country")
    out["exports"] = {
        name: frame.with_row_index("_order")
        .join(details, on="complaint_id", how="left")
        .sort("_order")
        .drop("_order")
        for name, frame in listed.items()
    }
    out.update({f"{name}_total": frame.height for name, frame in totals.items()})
    out.update(
        {f"{name}_more": frame.height - shown[name].height for name, frame in totals.items()}
    )
    rest = initial.slice(MAX_ROWS)
    out["full_initial_rows"] = (
        out["initial_rows"]
        + _flag_rows(
            rest,
            complaints,
            rules,
            _readiness(con, as_of, rest),
        )
        if rest.height
        else []
    )
    out["initial_groups"] = initial_groups(
        out["full_initial_rows"] or out["initial_rows"], as_of, week
    )
    out["counts"] = {
        "overdue": initial.filter(pl.col("status") == "overdue").height,
        "due_today": initial.filter(due_today).height,
        "due_7_days": initial.filter(due_soon).height,
        "open": initial.filter(pl.col("status") == "open").height,
        "undetermined": undetermined.height,
        "undetermined_due_7_days": undetermined.filter(pl.col("due_date") <= week).height,
        "decision_clocks": clocks.height,
        "supplemental_due": follow_ups.height,
        "supplemental_with_deadline": follow_ups.filter(pl.col("due_date").is_not_null()).height,
        "follow_ups_overdue": follow_ups.filter(pl.col("status") == "overdue").height,
        "undetermined_past_due": undetermined.filter(pl.col("due_date") < as_of).height,
        "second_review": second_review.height,
        "assess_locally": locally.height,
        "clinical_study": clinical.height,
        "quarantined_reportables": quarantined.height,
    }
    return out


# The initial reports as a busy person reads them: what is due today and this week in full, then
# the overdue ones and the rest, each cut at GROUP_ROWS on the page (all are in the CSV and on the
# full list page).
GROUP_ROWS = 50


def initial_groups(
    rows: list[dict[str, Any]], as_of: dt.date, week: dt.date
) -> list[dict[str, Any]]:
    """The initial-report rows (already in the page's order) split into due today, due within 7
    days, overdue and due later; the first two are never cut."""

    def group(row: dict[str, Any]) -> str:
        due = row.get("due_date")
        if row["status"] == "overdue":
            return "overdue"
        if due == as_of:
            return "due_today"
        if due is not None and as_of < due <= week:
            return "due_week"
        return "later"

    titles = (
        ("due_today", "Due today", None),
        ("due_week", "Due within 7 days", None),
        ("overdue", "Overdue: past the due date, no report to that authority yet", GROUP_ROWS),
        ("later", "Due later", GROUP_ROWS),
    )
    out = []
    for key, title, cap in titles:
        members = [r for r in rows if group(r) == key]
        shown = members if cap is None else members[:cap]
        out.append(
            {
                "key": key,
                "title": title,
                "rows": shown,
                "total": len(members),
                "more": len(members) - len(shown),
            }
        )
    return out


def _hazard_codes(codes: str | None) -> list[str]:
    return [c.strip() for c in (codes or "").split(";") if c.strip()]


def _trend_candidates(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[dict[str, Any]]:
    """Families x hazards with EEA trend-routed complaints in the last 12 months and an open or new
    trend signal on the hazard (or one of its problem codes) or a risk-file update required."""
    if not all(table_exists(con, t) for t in ("marts.risk_feedback", "marts.signals")):
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
    if not table_exists(con, "marts.signals"):
        return {
            "new_signals": [],
            "signal_legend": [],
            "signals_by_method": [],
            "new_signals_tonight": 0,
        }
    since = as_of - dt.timedelta(days=recent_days)
    new = _frame(
        con,
        """
        SELECT signal_id, scope, scope_value, code, method, period_start, period_end,
               detected_on, observed, expected, statistic, threshold, status, evaluation,
               evaluated_on, evaluated_by
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
               count(*) FILTER (WHERE status = 'ongoing') AS ongoing,
               count(*) FILTER (WHERE status = 'established') AS established,
               count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
               count(*) FILTER (WHERE status = 'refuted') AS refuted,
               count(*) FILTER (WHERE status = 'closed') AS closed, count(*) AS total
        FROM marts.signals
        GROUP BY method ORDER BY method
        """,
    )
    rows = new.to_dicts()
    for r in rows:
        r["reading"] = statistic_reading(r["method"], r["statistic"], r["threshold"])
    _narrative_words(con, as_of, rows)
    return {
        "new_signals": rows,
        "signal_legend": statistic_legend([r["method"] for r in rows]),
        "signals_by_method": by_method.to_dicts(),
        "new_signals_tonight": new.filter(pl.col("status") == "new").height,
    }


NARRATIVE_EXAMPLES = 2  # redacted excerpts shown under a narrative signal


def _narrative_words(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, rows: list[dict[str, Any]]
) -> None:
    """Give each narrative signal of `rows` the words that set its narratives apart from the
    family's others (`words`) and two redacted excerpts (`examples`): "topic-5" alone says
    nothing to a reader. Sources: marts.signal_evidence, the complaints as of the night."""
    narrative = [r for r in rows if r["method"] in ("narrative_topic", "narrative_novelty")]
    if not narrative or not table_exists(con, "marts.signal_evidence"):
        return
    backgrounds: dict[str, list[str]] = {}
    for r in narrative:
        ids = [
            i
            for (i,) in con.execute(
                "SELECT evidence_id FROM marts.signal_evidence WHERE signal_id = ? "
                "AND evidence_type = 'complaint' ORDER BY evidence_id",
                [r["signal_id"]],
            ).fetchall()
        ]
        texts = _complaints(con, as_of, ids)["description"].to_list()
        family = r["scope_value"]
        if family not in backgrounds:
            backgrounds[family] = (
                _frame(
                    con,
                    f"""
                    SELECT c.description
                    FROM ({complaints_as_of_sql()}) c
                    JOIN staging.products p USING (device_model)
                    WHERE p.device_family = $family
                    ORDER BY c.complaint_id
                    """,
                    {"as_of": as_of, "family": family},
                )["description"].to_list()
                if table_exists(con, "staging.products")
                else []
            )
        r["words"] = ", ".join(distinctive_terms(texts, backgrounds[family]))
        r["examples"] = [excerpt(t, 160) for t in texts[:NARRATIVE_EXAMPLES]]


def _with_details(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows of a triage list with the complaint's device, date received and a redacted excerpt:
    a reviewer decides from the narrative, not from an id."""
    info = {
        r["complaint_id"]: r
        for r in _complaints(con, as_of, sorted({r["complaint_id"] for r in rows})).to_dicts()
    }
    return [
        {
            **r,
            "device_model": info.get(r["complaint_id"], {}).get("device_model") or "",
            "excerpt": excerpt(info.get(r["complaint_id"], {}).get("description")),
        }
        for r in rows
    ]


def _review(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, Any]:
    findings = pl.DataFrame(schema={"flag": pl.String, "complaints": pl.Int64})
    if table_exists(con, "marts.compliance_flags"):
        findings = _frame(
            con,
            "SELECT flag, count(*) AS complaints FROM marts.compliance_flags "
            "GROUP BY flag ORDER BY flag",
        )
    triage: list[dict[str, Any]] = []
    if table_exists(con, "marts.triage_suggestions"):
        triage = _frame(
            con,
            """
            SELECT t.complaint_id, t.human_decision, t.predicted_outcome, t.p_reportable,
                   t.suggested_problem_code, t.model_version, t.suggestion_basis, t.drivers,
                   min(f.received_date) AS received_date
            FROM marts.triage_suggestions t
            LEFT JOIN marts.vigilance_flags f USING (complaint_id)
            WHERE t.likely_reportable AND lower(coalesce(t.human_decision, '')) = 'no'
            GROUP BY ALL
            ORDER BY t.p_reportable DESC, t.complaint_id
            """,
        ).to_dicts()
        triage = _with_details(con, as_of, triage)
    return {"findings": findings.to_dicts(), "triage_review": triage, "triage_card": _card(con)}


def _card(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The night's triage model card (marts.triage_model_card, models/triage_base.py)."""
    if not table_exists(con, "marts.triage_model_card"):
        return None
    rows = con.execute("SELECT card_json FROM marts.triage_model_card").fetchall()
    return json.loads(rows[0][0]) if rows else None


def _fsca(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    if not table_exists(con, "marts.fsca_scope"):
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
    likely = _with_details(con, as_of, _likely_reportable(con))
    review = _review(con, as_of)
    exports = {
        **flags.pop("exports"),
        "likely_reportable": _listed(likely),
        "triage_review": _listed(review["triage_review"]),
    }
    signals = _signals(con, as_of, recent_days)
    needed = _decisions_needed(con, as_of)
    counts = {
        **flags.pop("counts"),
        "new_signals": signals["new_signals_tonight"],
        "decisions_needed": len(needed) + flags["causality_total"],
    }
    return {
        "as_of": as_of.isoformat(),
        "recent_days": recent_days,
        "max_rows": MAX_ROWS,
        "redaction_version": REDACTION_VERSION,
        "forms_always_to_collect": forms_always_to_collect(),
        "counts": counts,
        **flags,
        "trend_candidates": _trend_candidates(con, as_of),
        **signals,
        "signal_decisions_needed": needed[:MAX_ROWS],
        "signal_decisions_total": len(needed),
        "likely_reportable": likely[:MAX_ROWS],
        "likely_reportable_total": len(likely),
        **review,
        "triage_review": review["triage_review"][:MAX_ROWS],
        "triage_review_total": len(review["triage_review"]),
        "fsca": _fsca(con),
        "csv_files": {name: export_file(name) for name in exports},
        "exports": exports,
    }


INITIAL_LIST_PAGE = "vigilance-initial-reports.html"
# Free text that stays out of the CSV lists: narratives are shown redacted on the page only.
NOT_EXPORTED = ("excerpt", "description")


def export_file(name: str) -> str:
    """The CSV file beside the morning page holding every row of one of its lists."""
    return f"vigilance-{name.replace('_', '-')}.csv"


def _listed(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def csv_exports(context: dict[str, Any]) -> dict[str, bytes]:
    """Every list of the morning page in full, one CSV each (file name -> bytes): a list the page
    shows only the first rows of is never cut here. Decision rationales are redacted like the
    narratives; narratives themselves are left out."""
    out = {}
    for name, frame in context["exports"].items():
        frame = frame.drop([c for c in NOT_EXPORTED if c in frame.columns])
        if "decision_rationale" in frame.columns:
            frame = frame.with_columns(
                pl.col("decision_rationale").map_elements(redact, return_dtype=pl.String)
            )
        out[export_file(name)] = frame.write_csv().encode("utf-8")
    return out


def render_vigilance_page(context: dict[str, Any]) -> str:
    return (
        environment()
        .get_template("vigilance.html.j2")
        .render(
            title=f"Vigilance: {context['as_of']}", initial_list_page=INITIAL_LIST_PAGE, **context
        )
    )


def render_initial_list(context: dict[str, Any]) -> str | None:
    """Every open and overdue initial report on one page, when the morning page lists only the
    first MAX_ROWS (no cap may hide an initial report); None when the morning page has them all."""
    if not context["full_initial_rows"]:
        return None
    return (
        environment()
        .get_template("vigilance_list.html.j2")
        .render(title=f"Initial reports to file: {context['as_of']}", **context)
    )
