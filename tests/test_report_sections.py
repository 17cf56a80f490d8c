"""Section data and charts of the PSUR / PMS report on a tiny hand-made warehouse."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import polars as pl
import pytest

from assets.reports import charts, sections

EEA = frozenset({"DE", "FR"})
D = dt.date


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(":memory:")
    for schema in ("marts", "staging", "reference"):
        c.execute(f"CREATE SCHEMA {schema}")
    c.execute(
        """
        CREATE TABLE marts.units_in_service (device_family VARCHAR, device_model VARCHAR,
            country VARCHAR, month DATE, units_shipped BIGINT, units_returned BIGINT,
            units_in_service_end BIGINT, units_in_service DOUBLE);
        INSERT INTO marts.units_in_service VALUES
            ('Fam', 'M1', 'DE', '2024-03-01', 100, 0, 100, 50),
            ('Fam', 'M1', 'TR', '2024-05-01', 20, 0, 20, 10),
            ('Fam', 'M1', 'US', '2024-07-01', 50, 0, 50, 25),
            ('Fam', 'M1', 'DE', '2025-02-01', 30, 5, 125, 110),
            ('Fam', 'M1', 'TR', '2025-02-01', 0, 0, 20, 20),
            ('Fam', 'M1', 'US', '2025-02-01', 10, 0, 60, 55),
            ('Fam', 'M1', 'FR', '2025-06-01', 999, 0, 999, 500),
            ('Other', 'X', 'DE', '2024-03-01', 7, 0, 7, 3);
        CREATE TABLE staging.products (device_model VARCHAR, device_family VARCHAR);
        INSERT INTO staging.products VALUES ('M1', 'Fam'), ('X', 'Other');
        CREATE TABLE staging.complaint_versions (complaint_id VARCHAR, received_date DATE,
            updated_at TIMESTAMP, device_model VARCHAR, lot_number VARCHAR, country VARCHAR,
            problem_code VARCHAR, source_file VARCHAR, source_row BIGINT);
        INSERT INTO staging.complaint_versions VALUES
            ('C1', '2024-06-01', '2024-06-01', 'M1', 'L1', 'DE', 'A01', 'f', 1),
            ('C2', '2024-07-01', '2024-07-01', 'M1', 'L1', 'TR', 'A02', 'f', 2),
            ('C3', '2025-01-10', '2025-01-10', 'M1', 'L2', 'US', 'A01', 'f', 3),
            -- C3 re-coded later: the as-of version counts
            ('C3', '2025-01-10', '2025-01-20', 'M1', 'L2', 'US', 'A02', 'f', 4),
            ('C4', '2025-01-15', '2025-01-15', 'M1', 'L2', 'DE', 'A01', 'f', 5),
            ('C5', '2025-01-20', '2025-01-20', 'X', 'L9', 'DE', 'A01', 'f', 6);
        CREATE TABLE marts.vigilance_flags (complaint_id VARCHAR, regime VARCHAR,
            authority VARCHAR, report_kind VARCHAR, rule VARCHAR, route VARCHAR,
            reportable BOOLEAN, status VARCHAR, due_date DATE, decided_on DATE,
            decided_by VARCHAR, decision_rationale VARCHAR);
        INSERT INTO marts.vigilance_flags VALUES
            ('C1', 'EU_MDR', 'EU:DE', 'initial', 'r', 'individual', true, 'submitted_on_time',
             '2024-06-16', NULL, NULL, NULL),
            ('C1', 'FDA_MDR', 'FDA', 'initial', 'r', 'individual', true, 'submitted_late',
             '2024-06-30', NULL, NULL, NULL),
            ('C2', 'EU_MDR', 'EU:TR', 'initial', 'r', 'trend', false, 'not_reportable',
             NULL, NULL, NULL, NULL),
            ('C3', 'FDA_MDR', 'FDA', 'initial', 'r', 'individual', true, 'overdue',
             '2025-02-09', NULL, NULL, NULL),
            ('C3', 'FDA_MDR', 'FDA', 'supplemental', 'r', 'individual', true, 'open',
             '2026-01-30', NULL, NULL, NULL),
            ('C4', 'EU_MDR', 'EU:DE', 'initial', 'r', 'none', false, 'not_reportable',
             NULL, NULL, NULL, NULL),
            ('C4', 'FDA_MDR', 'FDA', 'initial', '803.50 malfunction', 'individual', true,
             'decided_not_reportable', '2025-02-14', '2025-01-20', 'A. Reviewer',
             'Cosmetic scratch, no function affected; called the nurse on +49 170 1234567'),
            ('C5', 'EU_MDR', 'EU:DE', 'initial', 'r', 'individual', true, 'submitted_on_time',
             '2025-02-04', NULL, NULL, NULL);
        -- The firm's submissions (data contract submissions/): C1 to two authorities (counted
        -- once), C2 reported then withdrawn by a final non-reportable report (not a serious
        -- incident), C3 to another regulator after 2025-01-15, C4 never, C5 another family.
        CREATE TABLE staging.submissions (complaint_id VARCHAR, authority VARCHAR,
            report_kind VARCHAR, submitted_date DATE);
        INSERT INTO staging.submissions VALUES
            ('C1', 'EU:DE', 'initial', '2024-06-10'),
            ('C1', 'FDA', 'initial', '2024-07-20'),
            ('C1', 'FDA', 'supplemental', '2024-09-01'),
            ('C2', 'EU:DE', 'initial', '2024-07-05'),
            ('C2', 'EU:DE', 'final_non_reportable', '2024-08-01'),
            ('C3', 'MHRA', 'initial', '2025-02-01'),
            ('C5', 'EU:DE', 'initial', '2025-01-25');
        CREATE TABLE reference.imdrf_terms (annex VARCHAR, code VARCHAR, term VARCHAR);
        INSERT INTO reference.imdrf_terms VALUES ('A', 'A01', 'First'), ('A', 'A02', 'Second');
        """
    )
    return c


def test_window_labels_follow_the_period_not_the_calendar() -> None:
    # a period ending in September 2026: its window, the one before, a December-to-November one
    assert sections.window_label(0, D(2026, 9, 30)) == "2025-10 to 2026-09"
    assert sections.window_label(1, D(2026, 9, 30)) == "2024-10 to 2025-09"
    assert sections.window_label(0, D(2026, 11, 30)) == "2025-12 to 2026-11"


def test_region_of() -> None:
    assert sections.region_of("DE", EEA) == "EEA"
    assert sections.region_of("TR", EEA) == "TR"
    assert sections.region_of("XI", EEA) == "XI"
    assert sections.region_of("GB", EEA) == "rest of world"
    assert sections.region_of(None, EEA) == "rest of world"


def test_eea_countries_from_the_regime_file() -> None:
    eea = sections.eea_countries()
    assert {"DE", "FR", "NO", "IS", "LI"} <= eea
    assert not {"TR", "GB", "US", "CH"} & eea


def test_sales_by_region_and_year(con: duckdb.DuckDBPyConnection) -> None:
    # Period ends 2025-03-31: the FR shipment of June 2025 and the other family are out. The
    # columns are the report's twelve-month windows ending in March, not calendar years: the
    # DE shipment of March 2024 belongs to the window before, the TR one of May 2024 to this.
    rows = sections.sales_by_region_year(con, "Fam", D(2025, 3, 31), EEA)
    assert rows == [
        {
            "year": "2023-04 to 2024-03",
            "EEA": 100,
            "TR": 0,
            "XI": 0,
            "rest of world": 0,
            "worldwide": 100,
        },
        {
            "year": "2024-04 to 2025-03",
            "EEA": 30,
            "TR": 20,
            "XI": 0,
            "rest of world": 60,
            "worldwide": 110,
        },
    ]
    end = sections.in_service_at_end(con, "Fam", D(2025, 2, 28), EEA)
    assert end == [
        {
            "device_model": "M1",
            "EEA": 125,
            "TR": 20,
            "XI": 0,
            "rest of world": 60,
            "worldwide": 205,
        }
    ]


def test_serious_incidents_count_what_was_reported(con: duckdb.DuckDBPyConnection) -> None:
    # MDCG 2022-21 counts the serious incidents the manufacturer reported; the data contract's
    # submissions/ are that record (each authority's obligation met only by a submission to it).
    out = sections.serious_incidents(
        con, D(2025, 12, 31), "Fam", D(2024, 1, 1), D(2025, 12, 31), EEA
    )
    # C1 (EU and FDA) once; C2 withdrawn by a final non-reportable report; C3 to MHRA with its
    # latest code A02; C4 a rule hit never reported is not a serious incident; C5 another family.
    assert out["total"] == 2
    # the period's twelve-month windows, not calendar years (here they coincide)
    assert out["years"] == ["2024-01 to 2024-12", "2025-01 to 2025-12"]
    assert out["by_code"] == [
        {"code": "A01", "term": "First", "counts": [1, 0], "total": 1},
        {"code": "A02", "term": "Second", "counts": [0, 1], "total": 1},
    ]
    regions = {r["region"]: r["counts"] for r in out["by_region"]}
    assert regions == {"EEA": [1, 0], "TR": [0, 0], "XI": [0, 0], "rest of world": [0, 1]}
    groups = {r["group"]: r["total"] for r in out["by_authority"]}
    assert groups == {
        "EU competent authorities (MIR)": 1,
        "FDA (MDR)": 1,
        "Health Canada": 0,
        "other authorities": 1,
    }
    assert out["other_authorities"] == ["MHRA"]
    sentence = sections.serious_statement(out)
    assert sentence.startswith("2 serious incident(s) reported")
    assert "FDA (MDR) 1" in sentence and "Health Canada" not in sentence
    # As of 2025-01-15 C3 was not reported yet, and C2 was already withdrawn.
    early = sections.serious_incidents(
        con, D(2025, 1, 15), "Fam", D(2024, 1, 1), D(2025, 12, 31), EEA
    )
    assert early["total"] == 1
    assert [r["code"] for r in early["by_code"]] == ["A01"]


def test_serious_incidents_without_a_submissions_record(con: duckdb.DuckDBPyConnection) -> None:
    # The loader creates staging.submissions empty on every night: with an audit trail that
    # never saw a submissions/ file, the count is unknown, not zero.
    con.execute("CREATE SCHEMA audit")
    con.execute("CREATE TABLE audit.ingested_files (file_path VARCHAR, source VARCHAR)")
    con.execute("INSERT INTO audit.ingested_files VALUES ('complaints/c.csv', 'complaints')")
    unknown = sections.serious_incidents(
        con, D(2025, 12, 31), "Fam", D(2024, 1, 1), D(2025, 12, 31), EEA
    )
    assert unknown["total"] == 0 and not unknown["submissions_known"]
    con.execute("INSERT INTO audit.ingested_files VALUES ('submissions/s.csv', 'submissions')")
    known = sections.serious_incidents(
        con, D(2025, 12, 31), "Fam", D(2024, 1, 1), D(2025, 12, 31), EEA
    )
    assert known["total"] == 2 and known["submissions_known"]
    con.execute("DROP TABLE audit.ingested_files")
    con.execute("DROP TABLE staging.submissions")
    out = sections.serious_incidents(
        con, D(2025, 12, 31), "Fam", D(2024, 1, 1), D(2025, 12, 31), EEA
    )
    assert out["total"] == 0 and not out["submissions_known"]
    assert "unknown, no submissions/ folder" in sections.serious_statement(out)


def test_decided_otherwise_lists_each_decision_for_second_review(
    con: duckdb.DuckDBPyConnection,
) -> None:
    rows = sections.decided_otherwise(con, D(2025, 12, 31), "Fam", D(2024, 1, 1), D(2025, 12, 31))
    assert [(r["complaint_id"], r["regime"], r["decided_by"]) for r in rows] == [
        ("C4", "FDA_MDR", "A. Reviewer")
    ]
    assert rows[0]["decided_on"] == D(2025, 1, 20)
    assert "1234567" not in rows[0]["rationale"]  # redacted like every narrative shown
    assert rows[0]["rationale"].startswith("Cosmetic scratch")


def test_reporting_timeliness(con: duckdb.DuckDBPyConnection) -> None:
    rows = sections.reporting_timeliness(
        con, D(2025, 12, 31), "Fam", D(2024, 1, 1), D(2025, 12, 31)
    )
    got = {(r["regime"], r["report_kind"]): r for r in rows}
    assert set(got) == {("EU_MDR", "initial"), ("FDA_MDR", "initial"), ("FDA_MDR", "supplemental")}
    assert got[("EU_MDR", "initial")]["submitted_on_time"] == 1
    assert got[("FDA_MDR", "initial")]["submitted_late"] == 1
    assert got[("FDA_MDR", "initial")]["overdue"] == 1
    assert got[("FDA_MDR", "supplemental")]["open"] == 1
    assert got[("FDA_MDR", "initial")]["decided_not_reportable"] == 1
    assert got[("FDA_MDR", "initial")]["total"] == 3
    # reports submitted and rule hits without a report are told apart
    assert got[("FDA_MDR", "initial")]["submitted"] == 1
    assert got[("FDA_MDR", "initial")]["without_report"] == 2
    statements = sections.summary_statements(
        sections.serious_incidents(
            con, D(2025, 12, 31), "Fam", D(2024, 1, 1), D(2025, 12, 31), EEA
        ),
        rows,
        [],
        [],
        [],
        [],
    )
    assert (
        "2 report(s) submitted for complaints of the period on a rule's clock, 1 of them late."
        in (statements)
    )
    assert (
        "Rule hits without a report, for review (not late reports): 1 past their due date with "
        "neither a report nor a decision, 0 in doubt, 1 decided not reportable by a person "
        "(section 4, for second review)."
    ) in statements


def test_pareto_cumulative_share() -> None:
    rows = sections.pareto([("B", 2), ("A", 5), ("C", 2), ("D", 1), ("E", 0)])
    assert [r["code"] for r in rows] == ["A", "B", "C", "D"]  # ties by code, zero dropped
    assert [r["count"] for r in rows] == [5, 2, 2, 1]
    assert [r["cumulative_pct"] for r in rows] == pytest.approx([50.0, 70.0, 90.0, 100.0])


def test_complaint_pareto_and_lot_matrix(con: duckdb.DuckDBPyConnection) -> None:
    rows = sections.complaint_pareto(con, D(2025, 12, 31), "Fam", D(2024, 1, 1), D(2025, 12, 31))
    assert [(r["code"], r["count"], r["term"]) for r in rows] == [
        ("A01", 2, "First"),
        ("A02", 2, "Second"),
    ]
    m = sections.lot_problem_matrix(
        con, D(2025, 12, 31), "Fam", D(2024, 1, 1), D(2025, 12, 31), top_lots=1
    )
    # L1 and L2 both have 2 complaints: the tie goes to the first name.
    assert m["lots"] == ["L1"]
    assert m["codes"] == ["A01", "A02"]
    assert m["z"] == [[1, 1]]


def test_u_chart_limits_worked_example() -> None:
    # Baseline: 10 complaints over 5,000 unit-months -> u-bar = 2 per 1,000 units per month.
    # Month with 2,000 units in service: n = 2, UCL = 2 + 3 * sqrt(2 / 2) = 5.
    # Month with 500 units: n = 0.5, UCL = 2 + 3 * sqrt(4) = 8. No exposure: no limit.
    u_bar, ucl = charts.u_chart_limits(10, 5000, [2000, 500, 0])
    assert u_bar == pytest.approx(2.0)
    assert ucl[0] == pytest.approx(5.0)
    assert ucl[1] == pytest.approx(8.0)
    assert ucl[2] is None
    assert charts.u_chart_limits(0, 0, [100]) == (0.0, [None])
    assert math.isclose(charts.u_chart_limits(1, 1000, [1000], sigmas=2)[1][0], 3.0)


def test_group_checks() -> None:
    checks = [
        {
            "suite": "s",
            "table": "t1",
            "check": "b",
            "severity": "warning",
            "passed": False,
            "failing_rows": 3,
        },
        {
            "suite": "s",
            "table": "t1",
            "check": "a",
            "severity": "critical",
            "passed": True,
            "failing_rows": 0,
        },
        {
            "suite": "r",
            "table": "t2",
            "check": "c",
            "severity": "warning",
            "passed": True,
            "failing_rows": 0,
        },
    ]
    out = sections.group_checks(checks)
    assert out["groups"] == [
        {"suite": "r", "table": "t2", "passed": 1, "failed": 0},
        {"suite": "s", "table": "t1", "passed": 1, "failed": 1},
    ]
    assert [c["check"] for c in out["failed"]] == ["b"]


def _rates() -> pl.DataFrame:
    months = [D(2024, m, 1) for m in range(1, 7)]
    return pl.DataFrame(
        {
            "device_model": ["M1"] * 6,
            "month": months,
            "complaints": [2, 2, 2, 2, 2, 9],
            "units_in_service": [1000.0] * 6,
            "rate_per_1000": [2.0, 2.0, 2.0, 2.0, 2.0, 9.0],
            "rate_ci_lower": [0.2] * 6,
            "rate_ci_upper": [7.0] * 6,
        }
    )


def test_charts_are_deterministic_divs() -> None:
    signals = [{"month": D(2024, 6, 1), "label": "cusum HZ-1"}]
    first = charts.control_chart(_rates(), signals, D(2024, 6, 1), div_id="rate-chart-fam")
    again = charts.control_chart(_rates(), signals, D(2024, 6, 1), div_id="rate-chart-fam")
    assert first == again
    assert 'id="rate-chart-fam"' in first
    assert "M1 UCL (3σ)" in first or "M1 UCL (3\\u03c3)" in first
    assert "family signal" in first
    assert "<script src" not in first  # plotly.js is embedded once by the page
    pareto = charts.pareto_chart(sections.pareto([("A", 3), ("B", 1)]), div_id="pareto-fam")
    assert 'id="pareto-fam"' in pareto and "cumulative %" in pareto
    sales = charts.units_by_region_chart(
        [{"year": 2024, "EEA": 1, "TR": 2, "XI": 0, "rest of world": 3, "worldwide": 6}],
        div_id="sales-fam",
    )
    assert 'id="sales-fam"' in sales


def test_previous_period() -> None:
    assert sections.previous_period(D(2025, 10, 1), D(2026, 9, 30)) == (
        D(2024, 10, 1),
        D(2025, 9, 30),
    )
    assert sections.previous_period(D(2025, 1, 1), D(2025, 3, 31)) == (
        D(2024, 10, 1),
        D(2024, 12, 31),
    )


def test_period_comparison(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE marts.complaint_rates (device_family VARCHAR, device_model VARCHAR,
            month DATE, complaints BIGINT, units_in_service DOUBLE);
        INSERT INTO marts.complaint_rates VALUES
            ('Fam', 'M1', '2024-12-01', 10, 10000), ('Fam', 'M1', '2025-01-01', 100, 10000),
            ('Fam', 'M2', '2024-12-01', 10, 10000), ('Fam', 'M2', '2025-01-01', 11, 10000);
        """
    )
    rows = sections.period_comparison(con, "Fam", D(2025, 1, 1), D(2025, 1, 31))
    m1, m2 = rows
    assert (m1["previous_rate"], m1["rate"]) == (pytest.approx(1.0), pytest.approx(10.0))
    assert m1["change"].startswith("higher")
    assert m2["change"] == "intervals overlap"
    points = sections.conclusion_points([], [], [], [], rows)
    assert points == [
        "M1: complaint rate higher than in the preceding period "
        "(1.000 to 10.000 per 1,000 unit-months)."
    ]
    assert sections.conclusion_points([], [], [], [])[0].startswith("No rule hit past due")


def test_reporting_period_per_eu_class_is_configurable() -> None:
    import datetime as dt

    from assets.reports.render import reporting_period

    night = dt.date(2026, 10, 31)  # the month of the night is incomplete: periods end 30 Sep
    assert reporting_period("III", night) == (dt.date(2025, 10, 1), dt.date(2026, 9, 30))
    assert reporting_period("IIa", night) == (dt.date(2024, 10, 1), dt.date(2026, 9, 30))
    assert reporting_period("IIa", night, {"IIa": 6}) == (dt.date(2026, 4, 1), dt.date(2026, 9, 30))
    assert reporting_period("I", dt.date(2024, 3, 1)) == (dt.date(2023, 3, 1), dt.date(2024, 2, 29))


def test_annex_tables_count_the_reported_serious_incidents(con: duckdb.DuckDBPyConnection) -> None:
    """IMDRF Annex E of the serious incidents reported (C1 and C3 of the fixture, as of their
    latest version); a rule hit never reported (C4) and another family (C5) are not counted."""
    from assets.reports import mdcg

    con.execute("ALTER TABLE staging.complaint_versions ADD COLUMN health_effect_code VARCHAR")
    con.execute(
        "UPDATE staging.complaint_versions SET health_effect_code = CASE "
        "WHEN complaint_id = 'C1' THEN 'E0101' WHEN source_row = 4 THEN 'E0202' "
        "WHEN complaint_id = 'C3' THEN 'E0101' ELSE 'E0101' END"
    )
    con.execute("INSERT INTO reference.imdrf_terms VALUES ('E', 'E0101', 'Pain')")
    tables = mdcg.annex_tables(con, D(2025, 12, 31), "Fam", D(2024, 1, 1), D(2025, 12, 31))
    assert [t["annex"] for t in tables] == ["E"]  # the fixture has no Annex D or G column
    assert tables[0]["rows"] == [
        {"code": "E0101", "term": "Pain", "count": 1},
        {"code": "E0202", "term": "", "count": 1},  # C3 re-coded in its later version
    ]


def test_the_period_follows_the_data_collection_period_not_the_night() -> None:
    """Issue 17 #5: a certificate's data collection periods follow each other from its first
    day (MDR Art. 86(1): PSUR at least annually for IIb and III, every two years for IIa); the
    report covers the latest one complete by the night, and it stays put from night to night."""
    from assets.reports.render import reporting_period

    first = dt.date(2024, 10, 1)
    for night in (dt.date(2026, 10, 31), dt.date(2026, 11, 30), dt.date(2027, 9, 29)):
        assert reporting_period("III", night, None, first) == (
            dt.date(2025, 10, 1),
            dt.date(2026, 9, 30),
        )
    # the night of the period's last day completes it; the day before does not
    assert reporting_period("III", dt.date(2027, 9, 30), None, first)[1] == dt.date(2027, 9, 30)
    assert reporting_period("III", dt.date(2026, 9, 29), None, first)[1] == dt.date(2025, 9, 30)
    # class IIa: two years
    assert reporting_period("IIa", dt.date(2027, 3, 31), None, first) == (
        dt.date(2024, 10, 1),
        dt.date(2026, 9, 30),
    )
