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
