"""The vigilance page: open reports in order, redacted narratives, quarantine, empty sections."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import polars as pl
import pytest

from assets.reports import vigilance_page
from assets.reports.vigilance_page import (
    render_initial_list,
    render_vigilance_page,
    vigilance_page_context,
)
from models.redaction import leaks
from models.vigilance import FLAG_SCHEMA

AS_OF = dt.date(2026, 10, 31)
NARRATIVE = "Call Mrs. Jane Doe on +44 20 7946 0958, MRN 4471923. Pump alarm failed in infusion."


def _flag(
    cid,
    status,
    due,
    *,
    state="staged",
    kind="initial",
    route="individual",
    regime="EU_MDR",
    criteria="serious_injury",
    rule="EU_87_3_15D",
):
    received = due - dt.timedelta(days=15) if due else AS_OF
    row = dict.fromkeys(FLAG_SCHEMA)
    row.update(
        {
            "complaint_id": cid,
            "regime": regime,
            "authority": "EU:DE" if regime == "EU_MDR" else regime,
            "report_kind": kind,
            "rule": rule,
            "route": route,
            "reportable": status != "not_reportable",
            "criteria_met": criteria,
            "vmsr_eligible": False,
            "expected_side_effect": False,
            "received_date": received,
            "day_zero": received,
            "due_date": due,
            "status": status,
            "days_remaining": (due - AS_OF).days if due else None,
            "data_state": state,
            "as_of": AS_OF,
        }
    )
    return row


def _complaint(cid, description, model="Infusa VP300", country="DE", code="A0401"):
    return {
        "complaint_id": cid,
        "received_date": dt.date(2026, 10, 1),
        "updated_at": dt.datetime(2026, 10, 1, 8),
        "device_model": model,
        "country": country,
        "problem_code": code,
        "description": description,
        "source_file": "complaints.csv",
        "source_row": 1,
    }


def _write(con, name, rows, schema=None):
    if rows and isinstance(rows[0], dict) and schema is not None:
        frame = pl.DataFrame(rows, schema=schema)
    elif rows:
        frame = pl.DataFrame(rows, schema=schema, orient="row")
    else:
        frame = pl.DataFrame(schema=schema)
    con.register("frame", frame)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
    con.unregister("frame")


def _build(path, *, quarantined=True, signals=True, extra_flags=None):
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA staging; CREATE SCHEMA marts")
    flags = [
        _flag("CMP-3", "open", dt.date(2026, 11, 3)),
        _flag("CMP-1", "overdue", dt.date(2026, 10, 20)),
        _flag("CMP-2", "overdue", dt.date(2026, 10, 5)),
        _flag("CMP-4", "open", dt.date(2026, 11, 20), kind="supplemental"),
        _flag("CMP-5", "submitted_on_time", dt.date(2026, 10, 1)),
        _flag("CMP-6", "not_reportable", dt.date(2026, 10, 1)),
        _flag("CMP-7", "open", dt.date(2026, 11, 9), route="trend"),
    ]
    if quarantined:
        flags.append(_flag("CMP-Q", "open", dt.date(2026, 11, 12), state="quarantined"))
    flags += extra_flags or []
    _write(con, "marts.vigilance_flags", flags, schema=FLAG_SCHEMA)
    complaints = [
        _complaint("CMP-1", NARRATIVE),
        _complaint("CMP-2", "Occlusion alarm; no harm. Reported by Dr. Hans Becker."),
        _complaint("CMP-3", "Battery drained early."),
        _complaint("CMP-4", "Follow-up received."),
        _complaint("CMP-7", "Repeated free-flow event.", code="A0401"),
        _complaint("CMP-Q", "Quarantined narrative: pump stopped."),
    ]
    _write(con, "staging.complaint_versions", complaints)
    _write(
        con,
        "staging.products",
        [{"device_model": "Infusa VP300", "device_family": "Infusa"}],
    )
    _write(
        con,
        "marts.compliance_flags",
        [
            {"complaint_id": "CMP-2", "flag": "submitted_late", "detail": "x", "as_of": AS_OF},
            {"complaint_id": "CMP-3", "flag": "submitted_late", "detail": "x", "as_of": AS_OF},
        ],
    )
    _write(
        con,
        "marts.triage_suggestions",
        [],
        schema={
            "complaint_id": pl.String,
            "human_decision": pl.String,
            "predicted_outcome": pl.String,
            "p_reportable": pl.Float64,
            "likely_reportable": pl.Boolean,
            "suggested_problem_code": pl.String,
            "model_version": pl.String,
            "suggestion_basis": pl.String,
            "drivers": pl.String,
        },
    )
    signal_schema = {
        "signal_id": pl.String,
        "scope": pl.String,
        "scope_value": pl.String,
        "code": pl.String,
        "method": pl.String,
        "period_start": pl.Date,
        "period_end": pl.Date,
        "detected_on": pl.Date,
        "observed": pl.Float64,
        "expected": pl.Float64,
        "statistic": pl.Float64,
        "threshold": pl.Float64,
        "status": pl.String,
        "evaluation": pl.String,
        "evaluated_on": pl.Date,
        "evaluated_by": pl.String,
        "as_of": pl.Date,
    }
    sig_rows = []
    if signals:
        sig_rows = [
            (
                "SIG-1",
                "device_family",
                "Infusa",
                "HZ-INF-01",
                "cusum",
                dt.date(2026, 1, 1),
                dt.date(2026, 9, 1),
                AS_OF,
                20.0,
                9.0,
                5.1,
                4.0,
                "new",
                None,
                None,
                None,
                AS_OF,
            )
        ]
    _write(con, "marts.signals", sig_rows, schema=signal_schema)
    _write(
        con,
        "marts.risk_feedback",
        [
            {
                "hazard_id": "HZ-INF-01",
                "device_family": "Infusa",
                "hazard": "Free flow",
                "problem_codes": "A0401",
                "window_name": "trailing_12_months",
                "update_required": False,
                "severity_exceeded": False,
                "finding": "consistent with the risk file estimate",
                "as_of": AS_OF,
            }
        ],
    )
    return con


@pytest.fixture
def page(tmp_path):
    con = _build(tmp_path / "w.duckdb")
    ctx = vigilance_page_context(con, AS_OF)
    con.close()
    return ctx, render_vigilance_page(ctx)


def test_initial_reports_overdue_first_then_due_within_7_days(page):
    ctx, html = page
    ids = [r["complaint_id"] for r in ctx["initial_rows"]]
    # overdue (CMP-2, then CMP-1: less time left first), then due within 7 days (CMP-3),
    # then the rest; the trend-routed row CMP-7 is open only as an Art. 88 count; the
    # supplemental CMP-4 has its own section; the quarantined CMP-Q too
    assert ids == ["CMP-2", "CMP-1", "CMP-3", "CMP-7"]
    assert [r["complaint_id"] for r in ctx["follow_ups_rows"]] == ["CMP-4"]
    # the page reads as the issue asks (issue 17 #7): due today, due within 7 days, overdue,
    # then the rest
    groups = {g["key"]: [r["complaint_id"] for r in g["rows"]] for g in ctx["initial_groups"]}
    assert groups == {
        "due_today": [],
        "due_week": ["CMP-3"],
        "overdue": ["CMP-2", "CMP-1"],
        "later": ["CMP-7"],
    }
    positions = [html.index(f">{cid}<") for cid in ["CMP-3", "CMP-2", "CMP-1", "CMP-7"]]
    assert positions == sorted(positions)
    assert ctx["counts"]["overdue"] == 2
    assert ctx["counts"]["supplemental_due"] == 1
    assert ctx["counts"]["due_7_days"] == 1  # CMP-3 (3 Nov); CMP-7 (9 Nov) is after 7 Nov


def test_a_death_outranks_older_reports_of_lesser_severity(tmp_path):
    """MDR Art. 87(5) gives a death the shortest clock: among overdue initial reports the death
    comes first, and no supplemental report ranks above an initial one."""
    extra = [
        _flag("CMP-D", "overdue", dt.date(2026, 10, 28), criteria="death", rule="EU_87_5_10D"),
        _flag("CMP-S", "overdue", dt.date(2025, 1, 1), kind="supplemental", rule="FDA_803_56_30D"),
        _flag("CMP-M", "overdue", dt.date(2026, 1, 5), criteria="serious_malfunction"),
    ]
    con = _build(tmp_path / "w.duckdb", extra_flags=extra)
    ctx = vigilance_page_context(con, AS_OF)
    ids = [r["complaint_id"] for r in ctx["initial_rows"]]
    assert ids.index("CMP-D") < ids.index("CMP-2") < ids.index("CMP-M")
    assert "CMP-S" not in ids and "CMP-S" in [r["complaint_id"] for r in ctx["follow_ups_rows"]]


def test_undetermined_decided_and_local_each_have_their_section(tmp_path):
    extra = [
        _flag("CMP-U", "undetermined", dt.date(2026, 11, 2), criteria="doubt:death"),
        _flag("CMP-N", "decided_not_reportable", dt.date(2026, 10, 10), criteria="death"),
        _flag("CMP-L", "undetermined", None, regime="NONE_ENCODED", rule="ASSESS_LOCALLY"),
        _flag("CMP-C", "undetermined", None, regime="CLINICAL_STUDY", rule="SAE_PER_PROTOCOL"),
    ]
    con = _build(tmp_path / "w.duckdb", extra_flags=extra)
    ctx = vigilance_page_context(con, AS_OF)
    assert [r["complaint_id"] for r in ctx["undetermined_rows"]] == ["CMP-U"]
    assert [r["complaint_id"] for r in ctx["second_review_rows"]] == ["CMP-N"]
    assert [r["complaint_id"] for r in ctx["locally_rows"]] == ["CMP-L"]
    assert [r["complaint_id"] for r in ctx["clinical_rows"]] == ["CMP-C"]
    assert ctx["counts"]["overdue"] == 2  # a person's "no" is not an overdue report
    assert ctx["counts"]["undetermined_due_7_days"] == 1


def test_no_cap_hides_an_initial_report(tmp_path, monkeypatch):
    """The morning page lists the first rows; every other initial report is on the full list it
    links, in the same order."""
    monkeypatch.setattr(vigilance_page, "MAX_ROWS", 2)
    monkeypatch.setattr(vigilance_page, "GROUP_ROWS", 1)
    con = _build(tmp_path / "w.duckdb")
    ctx = vigilance_page_context(con, AS_OF)
    assert [r["complaint_id"] for r in ctx["initial_rows"]] == ["CMP-2", "CMP-1"]
    assert ctx["initial_more"] == 2
    overdue = next(g for g in ctx["initial_groups"] if g["key"] == "overdue")
    assert [r["complaint_id"] for r in overdue["rows"]] == ["CMP-2"] and overdue["more"] == 1
    html = render_vigilance_page(ctx)
    assert vigilance_page.INITIAL_LIST_PAGE in html
    assert "1 more not shown here: all 4 initial reports" in html
    full = render_initial_list(ctx)
    assert full is not None
    assert [r["complaint_id"] for r in ctx["full_initial_rows"]] == [
        "CMP-2",
        "CMP-1",
        "CMP-3",
        "CMP-7",
    ]
    assert all(f">{cid}<" in full for cid in ["CMP-2", "CMP-1", "CMP-3", "CMP-7"])


def test_narrative_is_redacted(page):
    _, html = page
    assert "Jane" not in html and "Doe" not in html and "Becker" not in html
    digits = re.sub(r"\D", "", html)
    assert "2079460958" not in digits and "4471923" not in html
    assert "[NAME]" in html and "[PHONE]" in html
    assert "Pump alarm failed" in html
    planted = [
        ("CMP-1", "name", "Jane Doe"),
        ("CMP-1", "phone", "+44 20 7946 0958"),
        ("CMP-1", "mrn", "4471923"),
        ("CMP-2", "name", "Hans Becker"),
    ]
    assert leaks({"CMP-1": html, "CMP-2": html}, planted) == []


def test_quarantined_section_lists_the_row(page):
    ctx, html = page
    assert [r["complaint_id"] for r in ctx["quarantined_rows"]] == ["CMP-Q"]
    section = html[html.index('id="quarantine"') : html.index('id="trend"')]
    assert "CMP-Q" in section and "None tonight" not in section


def test_trend_candidate_and_new_signal(page):
    ctx, html = page
    assert [(t["device_family"], t["hazard_id"]) for t in ctx["trend_candidates"]] == [
        ("Infusa", "HZ-INF-01")
    ]
    assert ctx["trend_candidates"][0]["trend_complaints"] == 1
    assert ctx["counts"]["new_signals"] == 1
    assert "SIG-1" in html and "responsible person" in html


def test_empty_sections_say_so(tmp_path):
    con = _build(tmp_path / "w.duckdb", quarantined=False, signals=False)
    ctx = vigilance_page_context(con, AS_OF)
    html = render_vigilance_page(ctx)
    quarantine = html[html.index('id="quarantine"') : html.index('id="trend"')]
    assert "None tonight" in quarantine
    assert ctx["trend_candidates"] == [] and ctx["new_signals"] == []
    signals = html[html.index('id="signals"') : html.index('id="review"')]
    assert "None tonight" in signals and "No signals." in signals
    assert "the triage model agrees with every human decision" in html
    assert "no lot or component-lot signal" in html  # no fsca_scope table at all


def test_deterministic_and_offline(tmp_path, page):
    _, html = page
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    again = render_vigilance_page(vigilance_page_context(con, AS_OF))
    assert again.encode() == html.encode()
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", html, re.I)
    assert "<script" not in html.lower() and "@import" not in html
    assert html.count("<table") == html.count("<thead>") > 0


def test_every_list_is_exported_whole_as_csv(tmp_path, monkeypatch):
    """Issue 17 #7: no cap hides a row silently. Each list of the page is written in full as a
    CSV beside it (the page links it), in the page's order; a decision's rationale is redacted
    and no narrative leaves the page."""
    monkeypatch.setattr(vigilance_page, "MAX_ROWS", 1)
    decided = _flag("CMP-N", "decided_not_reportable", dt.date(2026, 10, 10), criteria="death")
    decided["decision_rationale"] = "No harm; spoke to Dr. Jane Smith on +49 170 1234567"
    con = _build(tmp_path / "w.duckdb", extra_flags=[decided])
    ctx = vigilance_page_context(con, AS_OF)
    files = vigilance_page.csv_exports(ctx)
    initial = pl.read_csv(files["vigilance-initial.csv"])
    assert initial["complaint_id"].to_list() == ["CMP-2", "CMP-1", "CMP-3", "CMP-7"]
    assert "description" not in initial.columns and "device_model" in initial.columns
    second = pl.read_csv(files["vigilance-second-review.csv"])
    assert second["complaint_id"].to_list() == ["CMP-N"]
    assert "1234567" not in second["decision_rationale"][0]
    html = render_vigilance_page(ctx)
    for name in ("vigilance-initial.csv", "vigilance-second-review.csv"):
        assert f'href="{name}"' in html
    assert set(files) == {vigilance_page.export_file(n) for n in ctx["csv_files"]}
    # the same night gives the same bytes
    assert vigilance_page.csv_exports(vigilance_page_context(con, AS_OF)) == files


def test_due_today_is_counted_apart(tmp_path):
    extra = [_flag("CMP-T", "open", AS_OF)]
    con = _build(tmp_path / "w.duckdb", extra_flags=extra)
    ctx = vigilance_page_context(con, AS_OF)
    assert ctx["counts"]["due_today"] == 1
    assert "initial reports due today" in render_vigilance_page(ctx)
