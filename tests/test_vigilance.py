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
        # VMSR: the quarter's summaries are due on the last day of the following month
        ("FDA_VMSR_QUARTERLY", "2025-01-01", "2025-04-30"),
        ("FDA_VMSR_QUARTERLY", "2025-03-31", "2025-04-30"),
        ("FDA_VMSR_QUARTERLY", "2025-04-01", "2025-07-31"),
        ("FDA_VMSR_QUARTERLY", "2024-08-15", "2024-10-31"),
        ("FDA_VMSR_QUARTERLY", "2025-12-31", "2026-01-31"),  # Q4 is due in the next year
        ("FDA_803_56_30D", "2024-01-31", "2024-03-01"),  # supplemental, over a leap day
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
    assert injury["FDA_MDR"]["rule"] == "NOT_REPORTABLE"
    assert injury["EU_MDR"]["rule"] == "EU_88_TREND"  # counted for Art. 88 trend reporting
    assert injury["EU_MDR"]["route"] == "trend"
    assert not injury["EU_MDR"]["reportable"] and injury["EU_MDR"]["due_date"] is None
    assert {f["status"] for f in injury.values()} == {"not_reportable"}


def test_malfunction_is_reportable_only_with_a_serious_hazard() -> None:
    serious = flags_for(malfunction=True, problem_code="A0701", country="IT")
    assert serious["EU_MDR"]["rule"] == "EU_87_3_15D"
    assert serious["FDA_MDR"]["rule"] == "FDA_803_50_30D"
    minor = flags_for(malfunction=True, problem_code="A0999", country="IT")
    assert minor["EU_MDR"]["rule"] == "EU_88_TREND"  # a non-serious incident
    assert minor["FDA_MDR"]["rule"] == "NOT_REPORTABLE"
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
    assert before["EU_MDR"]["rule"] == "EU_88_TREND"
    assert after["EU_MDR"]["rule"] == "EU_87_5_10D"
    assert after["EU_MDR"]["due_date"] == D("2025-03-13")


def test_reported_dates_decide_on_time_or_late() -> None:
    on_time = flags_for(patient_outcome="death", reported_date=D("2025-03-13"))
    assert on_time["EU_MDR"]["status"] == "submitted_on_time"
    late = flags_for(patient_outcome="death", reported_date=D("2025-03-14"))
    assert late["EU_MDR"]["status"] == "submitted_late"
    assert late["FDA_MDR"]["status"] == "submitted_on_time"


def test_every_rule_cites_its_source() -> None:
    assert all(r.source and r.route for r in RULES.values())
    assert all(r.clock_days > 0 for r in RULES.values() if r.day_type in ("calendar", "work"))
    assert all(r.replaces in RULES for r in RULES.values() if r.replaces)


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


# Voluntary Malfunction Summary Reporting: product code eligibility, first of its kind, opt-in.
def vmsr_flags(*rows: dict, opt_ins: tuple[str, ...] = ("fda_vmsr_participant",)) -> dict:
    base = {
        "received_date": D("2025-02-10"),
        "device_model": "P1",
        "device_family": "Pumps",
        "product_code": "DQA",
        "country": "US",
        "patient_outcome": "none",
        "malfunction": True,
        "problem_code": "A0701",
        "health_effect_code": None,
        "reported_date": None,
    }
    frame = pl.DataFrame([base | r for r in rows])
    flags = vigilance_flags(
        frame, SERIOUS_CODES, MARKETS, D("2025-03-20"), vmsr_product_codes={"DQA"}, opt_ins=opt_ins
    )
    return {r["complaint_id"]: r for r in flags.filter(pl.col("regime") == "FDA_MDR").to_dicts()}


def test_vmsr_eligible_malfunction_goes_to_the_quarterly_summary() -> None:
    flags = vmsr_flags(
        {"complaint_id": "FIRST", "received_date": D("2025-01-05")},
        {"complaint_id": "LATER"},
    )
    # the first serious malfunction of DQA/A0701 is a new type: an individual 30-day report
    assert flags["FIRST"]["rule"] == "FDA_803_50_30D"
    assert not flags["FIRST"]["vmsr_eligible"]
    assert flags["LATER"]["rule"] == "FDA_VMSR_QUARTERLY"
    assert flags["LATER"]["route"] == "summary"
    assert flags["LATER"]["due_date"] == D("2025-04-30")
    assert flags["LATER"]["status"] == "open"


def test_vmsr_not_for_ineligible_codes_deaths_or_firms_not_taking_part() -> None:
    first = {"complaint_id": "FIRST", "received_date": D("2025-01-05")}
    ineligible = vmsr_flags(
        first,
        {"complaint_id": "X", "product_code": "FRN"},
        {"complaint_id": "Y", "product_code": "FRN", "received_date": D("2025-02-11")},
    )
    # FRN (infusion pump) is Ineligible in the FDA classification file
    assert ineligible["Y"]["rule"] == "FDA_803_50_30D"
    death = vmsr_flags(first, {"complaint_id": "D", "patient_outcome": "death"})
    assert death["D"]["rule"] == "FDA_803_50_30D" and not death["D"]["vmsr_eligible"]
    not_enrolled = vmsr_flags(first, {"complaint_id": "LATER"}, opt_ins=())
    assert not_enrolled["LATER"]["rule"] == "FDA_803_50_30D"
    assert not_enrolled["LATER"]["vmsr_eligible"]  # eligible, shown, but not taken up
    assert not_enrolled["LATER"]["due_date"] == D("2025-03-12")


def test_expected_side_effects_route_to_trend_reporting_unless_serious() -> None:
    expected = pl.DataFrame({"device_family": ["Pumps"], "health_effect_code": ["E0123"]})

    def eu(**c: object) -> dict:
        row = {
            "complaint_id": "C-1",
            "received_date": D("2025-03-03"),
            "device_model": "P1",
            "device_family": "Pumps",
            "country": "DE",
            "patient_outcome": "injury",
            "malfunction": False,
            "problem_code": None,
            "health_effect_code": "E0123",
            "reported_date": None,
        } | c
        flags = vigilance_flags(
            pl.DataFrame([row]), SERIOUS_CODES, MARKETS, D("2025-03-20"), expected_effects=expected
        )
        return flags.filter(pl.col("regime") == "EU_MDR").to_dicts()[0]

    assert eu()["rule"] == "EU_88_TREND" and eu()["expected_side_effect"]
    assert "expected_side_effect" in eu()["criteria_met"]
    serious = eu(patient_outcome="serious_injury")
    assert serious["rule"] == "EU_87_3_15D"  # never routed away from its own clock
    assert serious["expected_side_effect"] and serious["status"] == "overdue"
    assert not eu(health_effect_code="E9999")["expected_side_effect"]


def test_supplemental_reports_follow_new_information() -> None:
    from models.vigilance import supplemental_reports

    def version(cid: str, updated: str, **fields: object) -> dict:
        return {
            "complaint_id": cid,
            "updated_at": dt.datetime.fromisoformat(updated),
            "patient_outcome": "serious_injury",
            "investigation_conclusion_code": None,
            "supplemental_reported_date": None,
        } | fields

    versions = pl.DataFrame(
        [
            version("ON", "2025-01-10T09:00"),
            version("ON", "2025-02-01T09:00", investigation_conclusion_code="D0101"),
            version(
                "ON",
                "2025-02-20T09:00",
                investigation_conclusion_code="D0101",
                supplemental_reported_date=D("2025-02-25"),
            ),
            version("LATE", "2025-01-10T09:00"),
            version(
                "LATE",
                "2025-01-20T09:00",
                patient_outcome="death",
                supplemental_reported_date=D("2025-03-01"),
            ),
            version("OPEN", "2025-01-10T09:00"),
            version("OPEN", "2025-03-10T09:00", investigation_conclusion_code="D0202"),
            version("NOTHING", "2025-01-10T09:00"),
            version("NOTHING", "2025-02-10T09:00"),  # no material field changed
            version("BEFORE", "2025-01-10T09:00"),
            version("BEFORE", "2025-01-11T09:00", investigation_conclusion_code="D0101"),
        ]
    ).with_columns(pl.col("supplemental_reported_date").cast(pl.Date))
    flags = pl.DataFrame(
        {
            "complaint_id": ["ON", "LATE", "OPEN", "NOTHING", "BEFORE", "ON"],
            "regime": ["FDA_MDR"] * 5 + ["EU_MDR"],
            "reportable": [True] * 6,
            "reported_date": [D("2025-01-15")] * 4 + [D("2025-01-12"), D("2025-01-15")],
        }
    )
    found = supplemental_reports(versions, flags, D("2025-03-20"))
    rows = {r["complaint_id"]: r for r in found.to_dicts()}
    assert set(rows) == {"ON", "LATE", "OPEN"}  # EU has no supplement rule; BEFORE predates
    assert rows["ON"]["due_date"] == D("2025-03-03") and rows["ON"]["status"] == (
        "submitted_on_time"
    )
    assert rows["LATE"]["due_date"] == D("2025-02-19") and rows["LATE"]["status"] == (
        "submitted_late"
    )
    assert rows["LATE"]["criteria_met"] == "new_information:patient_outcome"
    assert rows["OPEN"]["due_date"] == D("2025-04-09")  # 10 March + 30 days
    assert rows["OPEN"]["status"] == "open" and rows["OPEN"]["days_remaining"] == 20
    assert set(found["report_kind"]) == {"supplemental"}


def test_one_supplemental_report_per_day_of_new_information_the_first_change_counts() -> None:
    from models.vigilance import supplemental_reports

    at = dt.datetime.fromisoformat
    versions = pl.DataFrame(
        {
            "complaint_id": ["C"] * 4,
            "updated_at": [
                at("2025-01-10T09:00"),
                at("2025-02-03T09:00"),  # two versions of the same instant: arrival order
                at("2025-02-03T09:00"),
                at("2025-02-03T17:00"),
            ],
            "patient_outcome": ["injury", "injury", "death", "death"],
            "lot_number": ["L1", "L2", "L2", "L3"],
            "supplemental_reported_date": [None, None, None, D("2025-03-20")],
        }
    ).with_columns(pl.col("supplemental_reported_date").cast(pl.Date))
    flags = pl.DataFrame(
        {
            "complaint_id": ["C"],
            "regime": ["FDA_MDR"],
            "reportable": [True],
            "reported_date": [D("2025-01-20")],
        }
    )
    [row] = supplemental_reports(versions, flags, D("2025-03-25")).to_dicts()
    assert row["criteria_met"] == "new_information:lot_number"
    assert row["received_date"] == D("2025-02-03") and row["due_date"] == D("2025-03-05")
    # covered by the first supplemental report on or after the day: sent after the due date
    assert row["reported_date"] == D("2025-03-20") and row["status"] == "submitted_late"
    assert row["days_remaining"] == (D("2025-03-05") - D("2025-03-25")).days


def test_reportable_complaints_waiting_in_quarantine_still_get_a_clock() -> None:
    from models.vigilance import quarantined_complaint_flags

    def record(cid: str, **fields: str | None) -> dict:
        return {
            "complaint_id": cid,
            "received_date": "2025-03-03",
            "device_model": "P1",
            "device_family": "Pumps",
            "country": "DE",
            "patient_outcome": "death",
            "malfunction": "false",
            "problem_code": "",
        } | fields

    records = pl.DataFrame(
        [
            record("DEATH"),  # quarantined for some other column: the clock still runs
            record("TYPO", device_model="P-1", device_family=None),  # unknown model: every regime
            record("NODATE", received_date="03/03/2025"),  # unreadable awareness date
            record("MINOR", patient_outcome="injury"),  # not reportable: stays with the data team
            record("MALF", patient_outcome="none", malfunction="Y", problem_code="a0701"),
        ]
    )
    found = quarantined_complaint_flags(records, SERIOUS_CODES, MARKETS, D("2025-03-20"))
    rows = {(r["complaint_id"], r["regime"]): r for r in found.to_dicts()}
    assert set(found["data_state"]) == {"quarantined"}
    assert rows[("DEATH", "EU_MDR")]["rule"] == "EU_87_5_10D"
    assert rows[("DEATH", "EU_MDR")]["status"] == "overdue"
    assert rows[("DEATH", "FDA_MDR")]["due_date"] == D("2025-04-02")
    assert {r for c, r in rows if c == "TYPO"} == {"EU_MDR", "FDA_MDR", "HC_CMDR"}
    assert rows[("NODATE", "EU_MDR")]["status"] == "open"
    assert rows[("NODATE", "EU_MDR")]["due_date"] is None
    assert not any(c == "MINOR" for c, _ in rows)
    assert rows[("MALF", "EU_MDR")]["rule"] == "EU_87_3_15D"  # 'Y' and a lower-case code read
