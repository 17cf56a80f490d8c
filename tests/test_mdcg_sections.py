"""The MDCG 2022-21 parts of the PSUR that come from people (assets/reports/mdcg.py), on a tiny
hand-made warehouse: what is supplied is shown, what is missing says who supplies it."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from assets.reports import mdcg

D = dt.date


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(":memory:")
    for schema in ("marts", "staging", "reference"):
        c.execute(f"CREATE SCHEMA {schema}")
    facts = {
        "manufacturer": "Example Devices GmbH",
        "srn": "DE-MF-000012345",
        "basic_udi_di": "4051234ABC01XY",
        "intended_purpose": "Continuous infusion of fluids in hospitals.",
        "uses_per_unit_year": "300",
    }
    c.execute(
        "CREATE TABLE staging.products (device_model VARCHAR, device_family VARCHAR, "
        "implantable BOOLEAN, extra_fields VARCHAR)"
    )
    c.execute(
        "INSERT INTO staging.products VALUES ('P1', 'Pumps', false, $full), "
        """('P2', 'Pumps', false, '{"srn": " "}'), ('I1', 'Hips', true, NULL)""",
        {"full": json.dumps(facts)},
    )
    c.execute(
        """
        CREATE TABLE marts.units_in_service (device_family VARCHAR, device_model VARCHAR,
            country VARCHAR, month DATE, units_shipped BIGINT, units_returned BIGINT,
            units_in_service_end BIGINT, units_in_service DOUBLE);
        INSERT INTO marts.units_in_service VALUES
            ('Pumps', 'P1', 'DE', '2025-12-01', 10, 0, 10, 5),
            ('Pumps', 'P1', 'DE', '2026-01-01', 10, 0, 20, 15),
            ('Pumps', 'P1', 'DE', '2027-01-01', 99, 0, 119, 70),
            ('Hips', 'I1', 'FR', '2026-03-01', 40, -2, 38, 19);
        CREATE TABLE staging.fsca (fsca_id VARCHAR, device_family VARCHAR, started_on DATE,
            action_type VARCHAR, reason VARCHAR, device_models VARCHAR, lots VARCHAR,
            countries VARCHAR, fsn_reference VARCHAR, status VARCHAR, closed_on DATE,
            signal_id VARCHAR);
        INSERT INTO staging.fsca VALUES
            ('F-1', 'Pumps', '2025-06-01', 'software_update', 'alarm delay', 'P1', NULL, 'DE',
             'FSN-1', 'closed', '2025-11-30', NULL),
            ('F-2', 'Pumps', '2025-11-15', 'advice_on_use', 'occlusion', 'P1;P2', 'L1;L2',
             'DE;FR', 'FSN-2', 'closed', '2026-02-01', 'sig-1'),
            ('F-3', 'Pumps', '2026-05-01', 'return', 'battery', 'P2', NULL, 'US', NULL, 'open',
             NULL, NULL);
        CREATE TABLE staging.psur_inputs (device_family VARCHAR, section VARCHAR,
            period_end DATE, text VARCHAR, source VARCHAR, author VARCHAR, updated_on DATE);
        INSERT INTO staging.psur_inputs VALUES
            ('Pumps', 'literature', '2026-12-31', 'No new risk in 14 papers.', 'LIT-2026',
             'M. Weber (Clinical Affairs)', '2027-01-10'),
            ('Pumps', 'pmcf', '2025-12-31', 'An older period.', 'PMCF-2025', 'X', '2026-01-05');
        """
    )
    return c


def test_cover_shows_supplied_facts_and_names_who_supplies_the_rest(con) -> None:
    lines = {c["label"]: c for c in mdcg.cover(mdcg.product_facts(con, "Pumps"))}
    # supplied for P1 only: the value, then who supplies it for P2 (a blank counts as missing)
    assert lines["Manufacturer"]["value"].startswith("Example Devices GmbH (Not supplied:")
    assert "for P2" in lines["Manufacturer"]["value"] and lines["Manufacturer"]["missing"]
    assert lines["Single registration number (SRN)"]["value"].startswith("DE-MF-000012345")
    # supplied for none
    assert lines["Notified body"]["value"] == (
        "Not supplied: the notified body's name and number (regulatory affairs), in "
        "products.csv column notified_body."
    )
    hips = {c["label"]: c for c in mdcg.cover(mdcg.product_facts(con, "Hips"))}
    assert all(c["missing"] for c in hips.values())


def test_population_exposed_in_the_period(con) -> None:
    facts = mdcg.product_facts(con, "Pumps") + mdcg.product_facts(con, "Hips")
    pumps = mdcg.population(con, "Pumps", D(2026, 1, 1), D(2026, 12, 31), facts[:2])
    # P1: 15 unit-months in 2026 (the 2025 and 2027 months are outside) x 300 / 12 = 375
    assert pumps[0]["estimate"] == pytest.approx(375.0)
    assert pumps[1]["estimate"] is None and "uses_per_unit_year" in pumps[1]["basis"]
    hips = mdcg.population(con, "Hips", D(2026, 1, 1), D(2026, 12, 31), facts[2:])
    assert hips[0]["estimate"] == 38.0  # an implant: 40 shipped less 2 returned


def test_registers_hold_what_was_open_in_the_period(con) -> None:
    register = mdcg.fsca_register(con, "Pumps", D(2026, 1, 1), D(2026, 12, 31))
    # F-1 closed before the period; F-2 still open on its first day; F-3 started in it
    assert [r["fsca_id"] for r in register["rows"]] == ["F-2", "F-3"]
    capa = mdcg.capa_register(con, "Pumps", D(2026, 1, 1), D(2026, 12, 31))
    assert capa == {
        "rows": [],
        "missing": "Not supplied: the CAPA register (quality assurance), in capa/*.csv.",
    }


def test_text_inputs_for_this_period_or_who_supplies_them(con) -> None:
    texts = mdcg.text_inputs(con, "Pumps", D(2026, 12, 31))
    assert texts["literature"]["text"] == "No new risk in 14 papers."
    assert texts["literature"]["missing"] == ""
    # a text for another period is not this period's
    assert texts["pmcf"]["missing"].startswith("Not supplied: the main PMCF findings")
    assert "2026-12-31" in texts["pmcf"]["missing"]
    assert set(texts) == {"previous_psur_actions", "literature", "registries", "pmcf"}


def test_risk_feedback_over_the_period_in_the_reports_unit() -> None:
    """Issue 17 #5: section 9 counts over the report's data collection period (not the trailing
    months of the night) and states rates per 1,000 units per month like section 7. Worked by
    hand: 1,000 units in service in each month of 2024 and 2025; the risk file expects 12 per
    1,000 units per year (1 per 1,000 per month); 6 complaints with the hazard's code received
    in 2025, 1 in 2024, 1 in January 2026 (after the period, known on the night)."""
    from assets.reports import sections

    con = duckdb.connect(":memory:")
    for schema in ("marts", "staging"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        """
        CREATE TABLE staging.risk_register (hazard_id VARCHAR, device_family VARCHAR,
            hazard VARCHAR, harm VARCHAR, severity INT, expected_rate DOUBLE,
            problem_codes VARCHAR, acceptability VARCHAR);
        INSERT INTO staging.risk_register VALUES
            ('H1', 'Fam', 'Occlusion', 'Delay of therapy', 3, 12.0, 'A01', 'alarp'),
            ('H9', 'Other', 'x', 'y', 2, 1.0, 'A01', 'acceptable');
        CREATE TABLE staging.products (device_model VARCHAR, device_family VARCHAR);
        INSERT INTO staging.products VALUES ('M1', 'Fam');
        CREATE TABLE marts.units_in_service (device_family VARCHAR, device_model VARCHAR,
            country VARCHAR, month DATE, units_in_service DOUBLE);
        INSERT INTO marts.units_in_service
            SELECT 'Fam', 'M1', 'DE', d::DATE, 1000.0
            FROM range(DATE '2024-01-01', DATE '2026-04-01', INTERVAL 1 MONTH) t(d);
        CREATE TABLE staging.complaint_versions (complaint_id VARCHAR, received_date DATE,
            updated_at TIMESTAMP, device_model VARCHAR, problem_code VARCHAR,
            patient_outcome VARCHAR, source_file VARCHAR, source_row BIGINT);
        INSERT INTO staging.complaint_versions
            SELECT 'C' || i, DATE '2025-01-15' + INTERVAL (i * 40) DAY,
                   DATE '2025-01-15' + INTERVAL (i * 40) DAY, 'M1', 'A01', 'injury', 'f', i
            FROM range(6) t(i);
        INSERT INTO staging.complaint_versions VALUES
            ('C-2024', '2024-06-01', '2024-06-01', 'M1', 'A01', 'none', 'f', 10),
            ('C-2026', '2026-01-10', '2026-01-10', 'M1', 'A01', 'none', 'f', 11);
        """
    )
    rows = sections.risk_feedback(con, D(2026, 3, 31), "Fam", D(2025, 1, 1), D(2025, 12, 31), {})
    got = {r["window_name"]: r for r in rows}
    assert set(got) == {"data collection period", "since_first_shipment"}
    period = got["data collection period"]
    assert period["occurrences"] == 6
    assert period["unit_months"] == pytest.approx(12_000.0)
    assert period["observed_per_1000_month"] == pytest.approx(0.5)
    assert period["expected_per_1000_month"] == pytest.approx(1.0)
    assert not period["update_required"]
    assert "per 1,000 units per month" in period["finding"]
    cumulative = got["since_first_shipment"]
    assert cumulative["occurrences"] == 7  # January 2026 is after the period's end
    assert cumulative["unit_months"] == pytest.approx(24_000.0)


def test_an_empty_register_is_none_only_when_a_file_said_so(con) -> None:
    """The optional sources' staging tables exist, empty, on every night; a register is "none in
    the period" only when a file of that source was ingested, else "not supplied"."""
    con.execute("CREATE SCHEMA audit")
    con.execute("CREATE TABLE audit.ingested_files (file_path VARCHAR, source VARCHAR)")
    con.execute(
        "CREATE TABLE staging.capa (capa_id VARCHAR, device_family VARCHAR, opened_on DATE, "
        "source VARCHAR, problem VARCHAR, root_cause VARCHAR, actions VARCHAR, status VARCHAR, "
        "closed_on DATE, effectiveness VARCHAR)"
    )
    # fsca/ delivered once; capa/ never (its table exists, empty)
    con.execute("INSERT INTO audit.ingested_files VALUES ('fsca/fsca_2026.csv', 'fsca')")
    assert mdcg.fsca_register(con, "Hips", D(2026, 1, 1), D(2026, 12, 31)) == {
        "rows": [],
        "missing": "",
    }
    assert mdcg.capa_register(con, "Hips", D(2026, 1, 1), D(2026, 12, 31))["missing"].startswith(
        "Not supplied: the CAPA register"
    )
