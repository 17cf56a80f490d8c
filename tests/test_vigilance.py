"""Reportability and clocks against cases worked by hand (rules from config/*.csv). The cases
written from the regulations' text, paragraph by paragraph, are in tests/test_vigilance_law.py."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from models.vigilance import (
    VigilanceSettings,
    assess_vigilance,
    due_date,
    flag_status,
    load_regimes,
    load_rules,
)

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
        ("HC_CMDR_60_10D", "2025-03-25", "2025-04-04"),
        ("HC_CMDR_60_30D", "2025-03-25", "2025-04-24"),
        ("HC_CMDR_61_2_72H", "2025-03-25", "2025-03-28"),  # 72 hours
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
        (None, None, "2025-05-01", "open"),  # no fixed time: open until met
        (None, "2025-05-01", "2025-05-01", "submitted_on_time"),
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


PRODUCTS = pl.DataFrame(
    {
        "device_model": ["P1", "EU-ONLY"],
        "device_family": ["Pumps", "Pumps"],
        "product_code": ["FRN", "XYZ"],
        "implantable": [False, False],
    }
)
RISK = pl.DataFrame(
    {
        "hazard_id": ["H1", "H2"],
        "device_family": ["Pumps", "Pumps"],
        "problem_codes": ["A0701", "A0999"],
        "health_effect_codes": ["E0123", None],
        "severity": [5, 2],
        "expected_rate": [1.0, 0.5],
    }
)
SHIPPED = D("2024-01-01")
DISTRIBUTION = pl.DataFrame(
    {
        "device_model": ["P1", "P1", "P1", "EU-ONLY"],
        "country": ["US", "DE", "CA", "DE"],
        "ship_date": [SHIPPED] * 4,
        "units": [10, 10, 10, 10],
    }
)


def assess(rows: list[dict], as_of: str = "2025-03-20", **kw: object) -> pl.DataFrame:
    base = {
        "complaint_id": "C-1",
        "received_date": D("2025-03-03"),
        "updated_at": dt.datetime(2025, 3, 3, 9),
        "device_model": "P1",
        "country": "DE",
        "patient_outcome": "none",
        "malfunction": False,
        "problem_code": None,
        "health_effect_code": None,
        "reported_date": None,
    }
    return assess_vigilance(
        pl.DataFrame([base | r for r in rows]), PRODUCTS, RISK, DISTRIBUTION, D(as_of), **kw
    )


def flags_for(**complaint: object) -> dict[str, dict]:
    frame = assess([complaint]).filter(pl.col("report_kind") == "initial")
    return {r["regime"]: r for r in frame.to_dicts()}


def test_death_in_the_eea_of_a_us_marketed_device() -> None:
    flags = flags_for(patient_outcome="death")
    assert flags["EU_MDR"]["rule"] == "EU_87_5_10D"  # 10 days beats 15 days
    assert flags["EU_MDR"]["due_date"] == D("2025-03-13")
    assert flags["EU_MDR"]["status"] == "overdue"
    assert flags["EU_MDR"]["authority"] == "EU:DE"
    assert flags["FDA_MDR"]["rule"] == "FDA_803_50_30D"  # an event abroad, device sold in US
    assert flags["FDA_MDR"]["due_date"] == D("2025-04-02")
    assert flags["FDA_MDR"]["days_remaining"] == 13


def test_serious_injury_and_non_serious_injury() -> None:
    # E0123 is in the register: an anticipated serious deterioration, 15 days (Art. 87(3))
    anticipated = flags_for(patient_outcome="serious_injury", health_effect_code="E0123")
    assert anticipated["EU_MDR"]["rule"] == "EU_87_3_15D"
    injury = flags_for(patient_outcome="injury", health_effect_code="E0123")
    assert injury["FDA_MDR"]["rule"] == "NOT_REPORTABLE"
    assert injury["EU_MDR"]["rule"] == "EU_88_TREND"  # counted for Art. 88 trend reporting
    assert injury["EU_MDR"]["route"] == "trend"
    assert not injury["EU_MDR"]["reportable"] and injury["EU_MDR"]["due_date"] is None
    assert {f["status"] for f in injury.values()} == {"not_reportable"}


def test_malfunction_is_serious_by_hazard_severity_and_in_doubt_without_one() -> None:
    serious = flags_for(malfunction=True, problem_code="A0701", country="IT")
    assert serious["EU_MDR"]["rule"] == "EU_87_3_15D"
    assert serious["FDA_MDR"]["rule"] == "FDA_803_50_30D"
    minor = flags_for(malfunction=True, problem_code="A0999", country="IT")  # severity 2
    assert minor["EU_MDR"]["rule"] == "EU_88_TREND"  # a non-serious incident
    assert minor["FDA_MDR"]["rule"] == "NOT_REPORTABLE"
    unknown = flags_for(malfunction=True, problem_code="A1234", country="IT")  # not in the file
    assert unknown["FDA_MDR"]["status"] == "undetermined"
    assert unknown["FDA_MDR"]["due_date"] == D("2025-04-02")
    assert flags_for(malfunction=False, problem_code="A0701")["FDA_MDR"]["rule"] == (
        "NOT_REPORTABLE"
    )


def test_regimes_follow_event_country_and_markets() -> None:
    assert set(flags_for(device_model="EU-ONLY")) == {"EU_MDR"}  # never shipped to the US
    assert set(flags_for(country="JP")) == {"FDA_MDR", "NONE_ENCODED"}  # US-marketed model
    assert set(flags_for(country="NO")) == {"EU_MDR", "FDA_MDR"}  # Norway is in the EEA
    assert set(flags_for(country="CH", device_model="EU-ONLY")) == {"NONE_ENCODED"}


def test_health_canada_regime_added_as_rows_only() -> None:
    death = flags_for(country="CA", patient_outcome="death")
    assert death["HC_CMDR"]["rule"] == "HC_CMDR_60_10D"
    could = flags_for(country="CA", malfunction=True, problem_code="A0701")
    assert could["HC_CMDR"]["rule"] == "HC_CMDR_60_30D"
    assert {r.regime for r in load_regimes()} == {"FDA_MDR", "EU_MDR", "HC_CMDR"}


def test_escalation_by_a_later_version_moves_the_rule_and_the_clock() -> None:
    flags = assess(
        [
            {"patient_outcome": "injury", "country": "FR"},
            {
                "patient_outcome": "death",
                "country": "FR",
                "updated_at": dt.datetime(2025, 3, 7, 10),
            },
        ]
    ).filter(pl.col("regime") == "EU_MDR")
    [row] = flags.to_dicts()
    assert row["rule"] == "EU_87_5_10D"
    assert row["day_zero"] == D("2025-03-07")  # the version that carried the death
    assert row["due_date"] == D("2025-03-17")


def test_submissions_decide_on_time_or_late_per_authority() -> None:
    def subs(authority: str, day: str) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "complaint_id": ["C-1"],
                "authority": [authority],
                "report_kind": ["initial"],
                "submitted_date": [D(day)],
            }
        )

    def by_regime(frame: pl.DataFrame) -> dict:
        return {r["regime"]: r for r in frame.filter(pl.col("report_kind") == "initial").to_dicts()}

    on_time = by_regime(
        assess([{"patient_outcome": "death"}], submissions=subs("EU:DE", "2025-03-13"))
    )
    assert on_time["EU_MDR"]["status"] == "submitted_on_time"
    assert on_time["FDA_MDR"]["status"] == "open"  # a report to the EU satisfies no other
    late = by_regime(
        assess([{"patient_outcome": "death"}], submissions=subs("EU:DE", "2025-03-14"))
    )
    assert late["EU_MDR"]["status"] == "submitted_late"
    legacy = by_regime(assess([{"patient_outcome": "death", "reported_date": D("2025-03-10")}]))
    assert legacy["EU_MDR"]["status"] == "overdue"  # names no authority: satisfies none
    assert legacy["EU_MDR"]["legacy_reported_date"] == D("2025-03-10")
    accepted = by_regime(
        assess(
            [{"patient_outcome": "death", "reported_date": D("2025-03-10")}],
            settings=VigilanceSettings(legacy_reported_date_satisfies=frozenset({"EU_MDR"})),
        )
    )
    assert accepted["EU_MDR"]["status"] == "submitted_on_time"
    assert accepted["FDA_MDR"]["status"] == "open"


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
            "status": ["decided_not_reportable", "submitted_late"],
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
def vmsr_flags(*rows: dict, participant: bool = True) -> dict:
    base = {
        "received_date": D("2025-02-10"),
        "updated_at": dt.datetime(2025, 2, 10, 9),
        "country": "US",
        "malfunction": True,
        "problem_code": "A0701",
    }
    products = PRODUCTS.vstack(
        pl.DataFrame(
            {
                "device_model": ["V1"],
                "device_family": ["Pumps"],
                "product_code": ["DQA"],
                "implantable": [False],
            }
        )
    )
    frame = assess_vigilance(
        pl.DataFrame([{"device_model": "V1", "patient_outcome": "none"} | base | r for r in rows]),
        products,
        RISK,
        DISTRIBUTION,
        D("2025-03-20"),
        vmsr_product_codes={"DQA"},
        settings=VigilanceSettings(fda_vmsr_participant=participant),
    )
    fda = frame.filter((pl.col("regime") == "FDA_MDR") & (pl.col("report_kind") == "initial"))
    return {r["complaint_id"]: r for r in fda.to_dicts()}


def test_vmsr_eligible_malfunction_goes_to_the_quarterly_summary() -> None:
    flags = vmsr_flags(
        {
            "complaint_id": "FIRST",
            "received_date": D("2025-01-05"),
            "updated_at": dt.datetime(2025, 1, 5, 9),
        },
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
    first = {
        "complaint_id": "FIRST",
        "received_date": D("2025-01-05"),
        "updated_at": dt.datetime(2025, 1, 5, 9),
    }
    ineligible = vmsr_flags(
        first,
        {"complaint_id": "X", "device_model": "P1"},
        {"complaint_id": "Y", "device_model": "P1", "received_date": D("2025-02-11")},
    )
    # FRN (infusion pump) is not eligible here
    assert ineligible["Y"]["rule"] == "FDA_803_50_30D"
    death = vmsr_flags(first, {"complaint_id": "D", "patient_outcome": "death"})
    assert death["D"]["rule"] == "FDA_803_50_30D" and not death["D"]["vmsr_eligible"]
    not_enrolled = vmsr_flags(first, {"complaint_id": "LATER"}, participant=False)
    assert not_enrolled["LATER"]["rule"] == "FDA_803_50_30D"
    assert not_enrolled["LATER"]["due_date"] == D("2025-03-12")


def test_expected_side_effects_route_to_trend_reporting_unless_serious() -> None:
    def eu(**c: object) -> dict:
        row = {"patient_outcome": "injury", "health_effect_code": "E0123"} | c
        return flags_for(**row)["EU_MDR"]

    assert eu()["rule"] == "EU_88_TREND" and eu()["expected_side_effect"]
    assert "expected_side_effect" in eu()["criteria_met"]
    serious = eu(patient_outcome="serious_injury")
    assert serious["rule"] == "EU_87_3_15D"  # never routed away from its own clock
    assert serious["expected_side_effect"] and serious["status"] == "overdue"
    assert not eu(health_effect_code="E9999")["expected_side_effect"]


def test_supplemental_reports_follow_new_information_per_authority() -> None:
    """21 CFR 803.56: new information after an FDA report is due 30 days after it arrives, and
    only a supplemental (or follow-up) report to FDA meets it."""
    at = dt.datetime.fromisoformat
    versions = [
        {
            "complaint_id": "C",
            "updated_at": at("2025-01-10T09:00"),
            "received_date": D("2025-01-10"),
            "patient_outcome": "serious_injury",
            "country": "US",
            "lot_number": "L1",
        },
        {
            "complaint_id": "C",
            "updated_at": at("2025-02-03T09:00"),
            "received_date": D("2025-01-10"),
            "patient_outcome": "serious_injury",
            "country": "US",
            "lot_number": "L2",
        },
        # two versions of the same day: one supplemental report for the day
        {
            "complaint_id": "C",
            "updated_at": at("2025-02-03T17:00"),
            "received_date": D("2025-01-10"),
            "patient_outcome": "death",
            "country": "US",
            "lot_number": "L2",
        },
    ]
    submissions = pl.DataFrame(
        {
            "complaint_id": ["C", "C", "C"],
            "authority": ["FDA", "EU:DE", "FDA"],
            "report_kind": ["initial", "follow_up", "supplemental"],
            "submitted_date": [D("2025-01-20"), D("2025-02-10"), D("2025-03-20")],
        }
    )
    flags = assess(versions, as_of="2025-03-25", submissions=submissions)
    [row] = flags.filter(pl.col("report_kind") == "supplemental").to_dicts()
    assert row["criteria_met"] == "new_information:lot_number"
    assert row["day_zero"] == D("2025-02-03") and row["due_date"] == D("2025-03-05")
    # the EU follow-up does not count; the FDA supplemental of 20 March is late
    assert row["reported_date"] == D("2025-03-20") and row["status"] == "submitted_late"


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
    serious_codes = pl.DataFrame({"device_family": ["Pumps"], "problem_code": ["A0701"]})
    markets = pl.DataFrame({"device_model": ["P1", "P1"], "country": ["US", "DE"]})
    found = quarantined_complaint_flags(records, serious_codes, markets, D("2025-03-20"))
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


def test_the_presumption_from_history_lapses_two_years_after_the_harm_became_known() -> None:
    """FDA, "Medical Device Reporting for Manufacturers" (2016): a malfunction of a type that has
    caused or contributed to a serious injury is presumed reportable until the type has caused
    none for two years. A later version that only repeats the injury (here: the investigation
    closed) is not a new event; a version that corrects the outcome ends the presumption."""
    at = dt.datetime.fromisoformat
    harm = {
        "complaint_id": "H",
        "received_date": D("2024-02-09"),
        "country": "US",
        "patient_outcome": "serious_injury",
        "malfunction": True,
        "problem_code": "A1234",  # not in the risk file: only history can make it serious
    }
    told_again = [
        harm | {"updated_at": at("2024-02-09T09:00")},
        harm | {"updated_at": at("2024-05-29T09:00")},  # the same injury, told again
    ]

    def malfunction(day: str) -> dict:
        return {
            "complaint_id": f"M-{day}",
            "received_date": D(day),
            "updated_at": at(f"{day}T10:00"),
            "country": "US",
            "malfunction": True,
            "problem_code": "A1234",
        }

    flags = assess(
        [*told_again, malfunction("2026-02-08"), malfunction("2026-02-10")], "2026-03-31"
    )
    fda = {r["complaint_id"]: r for r in flags.filter(pl.col("regime") == "FDA_MDR").to_dicts()}
    # known since 2024-02-09: 2026-02-08 is within two years, 2026-02-10 is not (the code is
    # unmapped, so the malfunction falls back to doubt: undetermined, not reportable by history)
    assert "complaint H" in fda["M-2026-02-08"]["reason"]
    assert fda["M-2026-02-08"]["status"] == "overdue"  # 2026-02-08 + 30 days = 2026-03-10
    assert fda["M-2026-02-10"]["status"] == "undetermined"
    corrected = [
        *told_again,
        harm | {"updated_at": at("2024-06-10T09:00"), "patient_outcome": "none"},
    ]
    later = assess([*corrected, malfunction("2024-07-01")], "2024-07-20")
    [row] = later.filter(
        (pl.col("complaint_id") == "M-2024-07-01") & (pl.col("regime") == "FDA_MDR")
    ).to_dicts()
    assert "complaint H" not in (row["reason"] or "")  # the injury was corrected on 10 June


def test_a_hospitalisation_is_a_possible_serious_injury_for_fda_and_health_canada() -> None:
    """21 CFR 803.3 "serious injury" (c): medical or surgical intervention to preclude permanent
    impairment; a hospitalisation reasonably suggests one, so FDA and Health Canada (CMDR s. 59,
    60(1)(a): serious deterioration, 10 days) are in doubt; the EU counts it as a serious
    deterioration outright (MDCG 2023-3)."""
    us = flags_for(country="US", patient_outcome="injury", hospitalised=True)["FDA_MDR"]
    assert us["status"] == "undetermined" and us["due_date"] == D("2025-04-02")  # 3 Mar + 30
    ca = flags_for(country="CA", patient_outcome="injury", hospitalised=True)["HC_CMDR"]
    assert ca["rule"] == "HC_CMDR_60_10D" and ca["due_date"] == D("2025-03-13")  # 3 Mar + 10
    eu = flags_for(patient_outcome="injury", hospitalised=True, health_effect_code="E0123")
    assert eu["EU_MDR"]["rule"] == "EU_87_3_15D" and eu["EU_MDR"]["status"] == "overdue"


def test_a_no_decided_before_the_facts_that_started_the_clock_does_not_close_it() -> None:
    """MDR Art. 87(5) and 21 CFR 803.50(a): the clock runs from the information of the death; a
    "no" recorded before that information (on an injury) did not judge it, so the death stays
    due, and a causality judged before it does not remove it either."""
    at = dt.datetime.fromisoformat
    first = {"patient_outcome": "injury", "updated_at": at("2025-03-03T09:00")}
    no_first = first | {"reportability_decision": "no", "causality": "unrelated"}
    death = no_first | {"patient_outcome": "death", "updated_at": at("2025-03-07T09:00")}
    flags = assess([no_first, death]).filter(pl.col("report_kind") == "initial")
    eu = {r["regime"]: r for r in flags.to_dicts()}["EU_MDR"]
    assert eu["rule"] == "EU_87_5_10D" and eu["day_zero"] == D("2025-03-07")
    assert eu["status"] == "overdue"  # due 17 March, the night is 20 March
    assert "predates day 0" in eu["reason"]
    # the same "no" recorded with the death is a person's decision: second review
    decided = assess([first, death | {"updated_at": at("2025-03-07T09:00")}])
    row = decided.filter((pl.col("regime") == "EU_MDR") & (pl.col("report_kind") == "initial"))
    assert row["status"][0] == "decided_not_reportable"
