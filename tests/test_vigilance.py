"""Reportability and clocks against cases worked by hand (rules from config/*.csv)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from models.vigilance import due_date, flag_status, load_regimes, load_rules, vigilance_flags

D = dt.date.fromisoformat
RULES = {r.rule_id: r for r in load_rules()}


@pytest.mark.parametrize(
    ("rule", "received", "due"),
    [
        # 5 work days, weekends and US federal holidays skipped (day 0 = awareness)
        ("FDA_803_53_5D", "2025-06-02", "2025-06-09"),  # Mon -> next Mon
        ("FDA_803_53_5D", "2025-06-06", "2025-06-13"),  # Fri -> next Fri
        ("FDA_803_53_5D", "2025-06-07", "2025-06-13"),  # Sat: the clock starts Monday
        ("FDA_803_53_5D", "2025-06-16", "2025-06-24"),  # Juneteenth, Thu 19 June
        ("FDA_803_53_5D", "2025-06-30", "2025-07-08"),  # Independence Day, Fri 4 July
        ("FDA_803_53_5D", "2026-06-29", "2026-07-07"),  # 4 July 2026 is a Saturday: Fri 3 off
        ("FDA_803_53_5D", "2025-11-24", "2025-12-02"),  # Thanksgiving, Thu 27 November
        ("FDA_803_53_5D", "2025-12-24", "2026-01-02"),  # Christmas and New Year's Day
        ("FDA_803_53_5D", "2024-02-26", "2024-03-04"),  # leap day 29 Feb is a work day
        ("FDA_803_53_5D", "2026-01-16", "2026-01-26"),  # Martin Luther King Jr. Day
        ("FDA_803_53_5D", "2025-05-23", "2025-06-02"),  # Memorial Day
        ("FDA_803_53_5D", "2025-10-10", "2025-10-20"),  # Columbus Day, Mon 13 October
        # calendar-day clocks
        ("FDA_803_50_30D", "2024-02-01", "2024-03-02"),  # leap year February
        ("FDA_803_50_30D", "2025-02-01", "2025-03-03"),
        ("FDA_803_50_30D", "2025-12-15", "2026-01-14"),  # across the year end
        ("FDA_803_50_30D", "2025-07-04", "2025-08-03"),  # holidays do not matter
        ("EU_87_5_10D", "2024-02-20", "2024-03-01"),  # leap day counted
        ("EU_87_5_10D", "2025-02-20", "2025-03-02"),
        ("EU_87_3_15D", "2025-12-20", "2026-01-04"),
        ("EU_87_4_2D", "2025-12-31", "2026-01-02"),
        ("HC_CMDR_59_10D", "2025-03-25", "2025-04-04"),
        ("HC_CMDR_59_30D", "2025-03-25", "2025-04-24"),
    ],
)
def test_due_dates(rule: str, received: str, due: str) -> None:
    assert due_date(D(received), RULES[rule]) == D(due)


@pytest.mark.parametrize(
    ("due", "reported", "as_of", "status"),
    [
        (None, None, "2025-05-01", "not_reportable"),
        ("2025-05-10", "2025-05-10", "2025-06-01", "submitted_on_time"),
        ("2025-05-10", "2025-05-11", "2025-06-01", "submitted_late"),
        ("2025-05-10", None, "2025-05-10", "open"),
        ("2025-05-10", None, "2025-05-11", "overdue"),
    ],
)
def test_statuses(due, reported, as_of, status) -> None:
    assert (
        flag_status(D(due) if due else None, D(reported) if reported else None, D(as_of)) == status
    )


SERIOUS_CODES = pl.DataFrame({"device_family": ["Pumps"], "problem_code": ["A0701"]})
MARKETS = pl.DataFrame({"device_model": ["P1", "P1", "EU-ONLY"], "country": ["US", "DE", "DE"]})


def flags_for(**complaint) -> dict[str, dict]:
    row = {
        "complaint_id": "C-1",
        "received_date": D("2025-03-03"),
        "device_model": "P1",
        "device_family": "Pumps",
        "country": "DE",
        "patient_outcome": "none",
        "malfunction": False,
        "problem_code": None,
        "reported_date": None,
    } | complaint
    frame = vigilance_flags(pl.DataFrame([row]), SERIOUS_CODES, MARKETS, D("2025-03-20"))
    return {r["regime"]: r for r in frame.to_dicts()}


def test_death_in_the_eea_of_a_us_marketed_device() -> None:
    flags = flags_for(patient_outcome="death")
    assert flags["EU_MDR"]["rule"] == "EU_87_5_10D"  # 10 days beats 15 days
    assert flags["EU_MDR"]["due_date"] == D("2025-03-13")
    assert flags["EU_MDR"]["status"] == "overdue"
    assert flags["FDA_MDR"]["rule"] == "FDA_803_50_30D"  # an event abroad, device sold in US
    assert flags["FDA_MDR"]["due_date"] == D("2025-04-02")
    assert flags["FDA_MDR"]["days_remaining"] == 13


def test_serious_injury_and_non_serious_injury() -> None:
    assert flags_for(patient_outcome="serious_injury")["EU_MDR"]["rule"] == "EU_87_3_15D"
    injury = flags_for(patient_outcome="injury")
    assert {f["rule"] for f in injury.values()} == {"NOT_REPORTABLE"}
    assert {f["status"] for f in injury.values()} == {"not_reportable"}


def test_malfunction_is_reportable_only_with_a_serious_hazard() -> None:
    serious = flags_for(malfunction=True, problem_code="A0701", country="IT")
    assert serious["EU_MDR"]["rule"] == "EU_87_3_15D"
    assert serious["FDA_MDR"]["rule"] == "FDA_803_50_30D"
    minor = flags_for(malfunction=True, problem_code="A0999", country="IT")
    assert minor["EU_MDR"]["rule"] == "NOT_REPORTABLE"
    assert flags_for(malfunction=False, problem_code="A0701")["FDA_MDR"]["rule"] == (
        "NOT_REPORTABLE"
    )


def test_regimes_follow_event_country_and_markets() -> None:
    assert set(flags_for(device_model="EU-ONLY")) == {"EU_MDR"}  # never shipped to the US
    assert set(flags_for(country="JP")) == {"FDA_MDR"}  # non-EEA event, US-marketed model
    assert set(flags_for(country="NO")) == {"EU_MDR", "FDA_MDR"}  # Norway is in the EEA
    assert set(flags_for(country="CH", device_model="EU-ONLY")) == set()


def test_health_canada_regime_added_as_rows_only() -> None:
    death = flags_for(country="CA", patient_outcome="death")
    assert death["HC_CMDR"]["rule"] == "HC_CMDR_59_10D"
    could = flags_for(country="CA", malfunction=True, problem_code="A0701")
    assert could["HC_CMDR"]["rule"] == "HC_CMDR_59_30D"
    assert {r.regime for r in load_regimes()} == {"FDA_MDR", "EU_MDR", "HC_CMDR"}


def test_escalation_by_a_later_version_moves_the_rule_and_the_clock() -> None:
    before = flags_for(patient_outcome="injury", country="FR")
    after = flags_for(patient_outcome="death", country="FR")
    assert before["EU_MDR"]["rule"] == "NOT_REPORTABLE"
    assert after["EU_MDR"]["rule"] == "EU_87_5_10D"
    assert after["EU_MDR"]["due_date"] == D("2025-03-13")


def test_reported_dates_decide_on_time_or_late() -> None:
    on_time = flags_for(patient_outcome="death", reported_date=D("2025-03-13"))
    assert on_time["EU_MDR"]["status"] == "submitted_on_time"
    late = flags_for(patient_outcome="death", reported_date=D("2025-03-14"))
    assert late["EU_MDR"]["status"] == "submitted_late"
    assert late["FDA_MDR"]["status"] == "submitted_on_time"


def test_every_rule_cites_its_source() -> None:
    assert all(r.source and r.clock_days > 0 for r in RULES.values())


def test_complaint_handling_compliance_flags() -> None:
    from models.vigilance import compliance_flags

    complaints = pl.DataFrame(
        {
            "complaint_id": ["A", "B", "C", "D", "E"],
            "received_date": [
                D("2025-03-01"),
                D("2025-03-18"),
                D("2025-01-01"),
                D("2025-03-01"),
                D("2025-03-01"),
            ],
            "investigation_status": ["open", "open", "in_progress", "closed", "not_required"],
            "investigation_conclusion_code": [None, None, None, None, None],
            "not_investigated_reason": [None, None, None, None, None],
            "reportability_decision": [None, "pending", "no", "yes", "no"],
        }
    )
    vigilance = pl.DataFrame(
        {
            "complaint_id": ["C", "D"],
            "regime": ["EU_MDR", "FDA_MDR"],
            "rule": ["EU_87_3_15D", "FDA_803_50_30D"],
            "reportable": [True, True],
            "status": ["overdue", "submitted_late"],
        }
    )
    found = compliance_flags(complaints, vigilance, D("2025-03-20"))
    pairs = set(found.select("complaint_id", "flag").iter_rows())
    assert pairs == {
        ("A", "no_reportability_evaluation"),  # 19 days without a decision (limit 5)
        ("C", "investigation_open_too_long"),  # 78 days in progress (limit 30)
        ("C", "decision_conflicts_with_rules"),  # the human said no, EU 87(3) applies
        ("D", "closed_without_conclusion"),
        ("D", "submitted_late"),
        ("E", "not_required_without_reason"),
    }  # B: 2 days old, pending is still in time
