"""Hand-worked cases for the generator's vigilance truth (`synthetic/vigilance_truth.py`).

Each case is a tiny landing folder written here, with the expected row worked out by hand from
the text of the law (cited in each test) and `docs/vigilance.md`, not from any implementation.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from synthetic import vigilance_truth as vt

D = dt.date.fromisoformat

PRODUCTS = [
    # device_model, device_family, product_code, eu_class, us_class, implantable, ca_class
    ("Pump US", "Pumps", "FRN", "IIb", "2", "false", "III"),
    ("Pump CE", "Pumps", "MEA", "IIb", "2", "false", "III"),  # never shipped to the US
    ("Lead X", "Leads", "NVN", "III", "3", "true", "IV"),
    ("Chair I", "Chairs", "IOR", "I", "1", "false", "I"),  # shipped to Canada, not the US
    ("Cane I", "Chairs", "IOR", "I", "1", "false", "I"),  # shipped to Canada only in 2026
    ("Gauge Z", "Gauges", "DXN", "IIa", "2", "false", "II"),  # unknown to the shipment data
]
RISK = [
    # hazard_id, family, problem codes, health effects, severity
    ("HZ-P1", "Pumps", "A1402", "E0101", 5),  # over-infusion
    ("HZ-P2", "Pumps", "A090203", "E2403", 2),  # display flicker
    ("HZ-P3", "Pumps", "A0701", "E1301", 3),  # alarm failure, not serious by itself
    ("HZ-L1", "Leads", "A070101", "E060104", 5),
    ("HZ-C1", "Chairs", "A0512", "E1605", 3),
]
SHIPMENTS = [
    ("2020-02-01", "Pump US", "US", "10"),
    ("2020-02-01", "Pump US", "CA", "10"),
    ("2020-02-01", "Pump US", "FR", "10"),  # made available on the Union market
    ("2020-02-01", "Pump CE", "DE", "10"),
    ("2020-02-01", "Pump CE", "CA", "10"),
    ("2020-02-01", "Lead X", "US", "10"),
    ("2020-02-01", "Chair I", "CA", "10"),
    ("2020-02-01", "Chair I", "DE", "10"),
    ("2020-02-01", "Cane I", "DE", "10"),
    ("2026-09-10", "Cane I", "CA", "10"),
]
COMPLAINT_COLUMNS = (
    "complaint_id",
    "received_date",
    "updated_at",
    "event_date",
    "device_model",
    "lot_number",
    "serial_number",
    "udi_di",
    "country",
    "source",
    "problem_code",
    "health_effect_code",
    "component_code",
    "patient_outcome",
    "malfunction",
    "description",
    "investigation_status",
    "investigation_closed_date",
    "investigation_conclusion_code",
    "not_investigated_reason",
    "reportability_decision",
    "reported_date",
    "regulatory_report_id",
    "hospitalised",
    "causality",
)


def version(cid: str, received: str, updated: str, **facts: str) -> dict[str, str]:
    row = dict.fromkeys(COMPLAINT_COLUMNS, "")
    row.update(
        complaint_id=cid,
        received_date=received,
        updated_at=f"{updated}T10:00:00",
        device_model="Pump US",
        country="US",
        source="customer",
        patient_outcome="none",
        malfunction="false",
        description="text",
        investigation_status="open",
    )
    row.update(facts)
    return row


def _write(path: Path, header: tuple[str, ...] | list[str], rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([r[c] for c in header] if isinstance(r, dict) else r)


def truth(
    root: Path,
    versions: list[dict[str, str]],
    submissions: list[tuple[str, str, str, str]] = (),
    determinations: list[tuple[str, str, str, str]] = (),
    as_of: str = "2026-10-31",
) -> dict[tuple[str, str, str], vt.Flag]:
    """Write a landing folder and return its truth by (complaint, regime, report kind); a
    supplemental row is keyed by its day 0 in place of the kind, a foreign risk notice by
    "notice <day 0>", a five-day or public-health-threat report by "<report kind> <day 0>"."""
    _write(
        root / "products.csv",
        (
            "device_model",
            "device_family",
            "product_code",
            "eu_class",
            "us_class",
            "implantable",
            "launch_date",
            "description",
            "ca_class",
        ),
        [(m, f, pc, eu, us, imp, "2020-01-01", m, ca) for m, f, pc, eu, us, imp, ca in PRODUCTS],
    )
    _write(
        root / "risk_register.csv",
        (
            "hazard_id",
            "device_family",
            "hazard",
            "hazardous_situation",
            "harm",
            "problem_codes",
            "health_effect_codes",
            "severity",
            "expected_rate",
            "acceptability",
        ),
        [(h, f, h, "", "harm", c, e, s, "1.00", "alarp") for h, f, c, e, s in RISK],
    )
    _write(
        root / "distribution" / "shipments_2020-02.csv",
        ("ship_date", "device_model", "lot_number", "country", "units"),
        [(d, m, "", c, u) for d, m, c, u in SHIPMENTS],
    )
    _write(root / "complaints" / "complaints_all.csv", COMPLAINT_COLUMNS, versions)
    _write(
        root / "submissions" / "submissions_all.csv",
        ("complaint_id", "authority", "report_kind", "submitted_date", "report_number"),
        [(c, a, k, d, f"R-{n}") for n, (c, a, k, d) in enumerate(submissions)],
    )
    _write(
        root / "determinations" / "determinations_all.csv",
        ("determination_id", "kind", "subject", "value", "decided_on", "decided_by", "rationale"),
        [(f"D{n}", k, s, v, d, "QA", "why") for n, (k, s, v, d) in enumerate(determinations)],
    )
    out = {}
    for f in vt.compute(root, D(as_of)):
        kind = f.report_kind if f.report_kind == "initial" else f.day_zero.isoformat()
        if f.report_kind == "foreign_risk_notice":
            kind = f"notice {kind}"
        elif f.report_kind in ("five_day", "public_health_threat"):
            kind = f"{f.report_kind} {kind}"
        key = (f.complaint_id, f.regime, kind)
        assert key not in out, key
        out[key] = f
    return out


def check(f: vt.Flag, rule: str, day_zero: str | None, due: str | None, status: str) -> None:
    got = (f.rule, f.day_zero, f.due_date, f.status)
    assert got == (rule, day_zero and D(day_zero), due and D(due), status), f


# --------------------------------------------------------------------------------------------


def test_escalation_starts_the_clock_at_the_version_that_carried_the_death(tmp_path: Path) -> None:
    """21 CFR 803.3 "become aware" and 803.50(a): 30 days from the information that reasonably
    suggests a death; MDR Art. 87(5): 10 days for a death, counted from awareness of it (MDCG
    2023-3). The first version (an injury, health effect listed) is not serious; the death
    arrives with the second. The FDA report went in on time; the EU has none: overdue."""
    v = [
        version("C1", "2026-01-05", "2026-01-05", country="DE", patient_outcome="injury"),
        version("C1", "2026-01-05", "2026-01-20", country="DE", patient_outcome="death"),
    ]
    t = truth(tmp_path, v, [("C1", "FDA", "initial", "2026-02-10")], as_of="2026-03-01")
    check(
        t[("C1", "FDA_MDR", "initial")],
        "FDA_803_50_30D",
        "2026-01-20",
        "2026-02-19",
        "submitted_on_time",
    )
    check(t[("C1", "EU_MDR", "initial")], "EU_87_5_10D", "2026-01-20", "2026-01-30", "overdue")
    assert ("C1", "NONE_ENCODED", "initial") not in t


def test_downgrade_keeps_the_obligation_until_a_report_closes_it(tmp_path: Path) -> None:
    """docs/vigilance.md, Day 0: a later version that no longer meets a criterion does not
    erase an obligation that has arisen; MDCG 2023-3 / MDR Art. 87(6): the EU expects a final
    (non-reportable) report, which meets the initial obligation (late here: the serious
    deterioration, health effect listed, was due in 15 days)."""
    v = [
        version(
            "C2",
            "2026-02-01",
            "2026-02-01",
            country="DE",
            patient_outcome="serious_injury",
            health_effect_code="E0101",
        ),
        version("C2", "2026-02-01", "2026-02-10", country="DE", patient_outcome="none"),
    ]
    subs = [("C2", "EU:DE", "final_non_reportable", "2026-02-20")]
    t = truth(tmp_path, v, subs, as_of="2026-03-10")
    eu = t[("C2", "EU_MDR", "initial")]
    check(eu, "EU_87_3_15D", "2026-02-01", "2026-02-16", "submitted_late")
    assert eu.downgraded_on == D("2026-02-10")
    # the device is marketed in the US (shipped 2020): FDA 30 days, never reported -> overdue
    check(t[("C2", "FDA_MDR", "initial")], "FDA_803_50_30D", "2026-02-01", "2026-03-03", "overdue")


def test_doubt_is_undetermined_on_the_shortest_clock_then_day_zero_moves_back(
    tmp_path: Path,
) -> None:
    """MDR Art. 87(7): when uncertain whether an incident is reportable, report within the
    timeframe. An unknown outcome puts death in doubt: the 10-day clock of Art. 87(5), status
    undetermined. When a later version says serious injury, day 0 moves back to the first
    version in doubt. When it says "none", the doubt ends (not reportable)."""
    v = [
        version(
            "C3",
            "2026-03-02",
            "2026-03-02",
            device_model="Pump CE",
            country="DE",
            patient_outcome="unknown",
        ),
        version(
            "C4",
            "2026-03-02",
            "2026-03-02",
            device_model="Pump CE",
            country="DE",
            patient_outcome="unknown",
        ),
        version(
            "C4",
            "2026-03-02",
            "2026-03-09",
            device_model="Pump CE",
            country="DE",
            patient_outcome="serious_injury",
            health_effect_code="E0101",
        ),
        version(
            "C5",
            "2026-03-02",
            "2026-03-02",
            device_model="Pump CE",
            country="DE",
            patient_outcome="unknown",
        ),
        version(
            "C5",
            "2026-03-02",
            "2026-03-05",
            device_model="Pump CE",
            country="DE",
            patient_outcome="none",
        ),
    ]
    t = truth(tmp_path, v, as_of="2026-03-20")
    c3 = t[("C3", "EU_MDR", "initial")]
    check(c3, "EU_87_5_10D", "2026-03-02", "2026-03-12", "undetermined")
    assert c3.in_doubt
    check(t[("C4", "EU_MDR", "initial")], "EU_87_3_15D", "2026-03-02", "2026-03-17", "overdue")
    check(t[("C5", "EU_MDR", "initial")], "NOT_REPORTABLE", None, None, "not_reportable")
    # a person's recorded "yes" on a complaint still in doubt: the clock runs (status 5)
    t = truth(
        tmp_path,
        v,
        determinations=[("reportability", "C3", "yes", "2026-03-04")],
        as_of="2026-03-20",
    )
    check(t[("C3", "EU_MDR", "initial")], "EU_87_5_10D", "2026-03-02", "2026-03-12", "overdue")


def test_each_authority_is_its_own_obligation(tmp_path: Path) -> None:
    """MDR Art. 87(1): the report goes to the competent authority of the member state where
    the incident occurred; a report to FDA (21 CFR 803) or to another member state satisfies
    nothing in France. An event in France with a US-marketed device is FDA-reportable too
    (803.3 "MDR reportable event": a device similar to one marketed in the US)."""
    v = [version("C6", "2026-04-01", "2026-04-01", country="FR", patient_outcome="death")]
    subs = [("C6", "FDA", "initial", "2026-04-20"), ("C6", "EU:DE", "initial", "2026-04-05")]
    t = truth(tmp_path, v, subs, as_of="2026-05-01")
    check(
        t[("C6", "FDA_MDR", "initial")],
        "FDA_803_50_30D",
        "2026-04-01",
        "2026-05-01",
        "submitted_on_time",
    )
    check(t[("C6", "EU_MDR", "initial")], "EU_87_5_10D", "2026-04-01", "2026-04-11", "overdue")
    # the legacy reported_date names no authority and satisfies none by default
    v[0]["reported_date"] = "2026-04-05"
    t = truth(tmp_path, v, subs, as_of="2026-05-01")
    assert t[("C6", "EU_MDR", "initial")].status == "overdue"


def test_territories_and_outermost_regions(tmp_path: Path) -> None:
    """21 CFR 803.3: the United States includes Puerto Rico, so an event there is FDA's even for
    a model never shipped to the US. TFEU Art. 349 / MDR Art. 87(1): La Reunion is part of the
    Union; its competent authority is France's (EU:FR)."""
    v = [
        version(
            "C7",
            "2026-05-04",
            "2026-05-04",
            device_model="Pump CE",
            country="PR",
            patient_outcome="serious_injury",
        ),
        version(
            "C8",
            "2026-05-04",
            "2026-05-04",
            device_model="Pump CE",
            country="RE",
            patient_outcome="serious_injury",
            health_effect_code="E0101",
        ),
    ]
    t = truth(tmp_path, v, [("C8", "EU:FR", "initial", "2026-05-10")], as_of="2026-06-30")
    check(t[("C7", "FDA_MDR", "initial")], "FDA_803_50_30D", "2026-05-04", "2026-06-03", "overdue")
    assert {k[1] for k in t if k[0] == "C7"} == {"FDA_MDR"}
    check(
        t[("C8", "EU_MDR", "initial")],
        "EU_87_3_15D",
        "2026-05-04",
        "2026-05-19",
        "submitted_on_time",
    )
    assert {k[1] for k in t if k[0] == "C8"} == {"EU_MDR"}  # Pump CE: not marketed in the US


def test_no_encoded_regime_is_assessed_locally_never_dropped(tmp_path: Path) -> None:
    """Data contract: every current complaint has at least one row; an event in a country with
    no encoded regime (UK: MHRA) gets NONE_ENCODED / ASSESS_LOCALLY, undetermined when serious,
    in addition to FDA when the device is marketed in the US (803.3)."""
    v = [
        version(
            "C9",
            "2026-06-01",
            "2026-06-01",
            device_model="Pump CE",
            country="GB",
            patient_outcome="serious_injury",
        ),
        version("C10", "2026-06-01", "2026-06-01", device_model="Pump CE", country="GB"),
        version("C11", "2026-06-01", "2026-06-01", country="GB", patient_outcome="death"),
    ]
    t = truth(tmp_path, v, as_of="2026-06-30")
    check(
        t[("C9", "NONE_ENCODED", "initial")], "ASSESS_LOCALLY", "2026-06-01", None, "undetermined"
    )
    check(t[("C10", "NONE_ENCODED", "initial")], "ASSESS_LOCALLY", None, None, "not_reportable")
    assert {k[1] for k in t if k[0] in ("C9", "C10")} == {"NONE_ENCODED"}
    assert {k[1] for k in t if k[0] == "C11"} == {"FDA_MDR", "NONE_ENCODED"}


def test_clinical_study_events_are_off_the_post_market_clocks(tmp_path: Path) -> None:
    """MDR Art. 80 and 21 CFR 812.150: serious adverse events in a clinical investigation are
    reported per protocol, not under Art. 87 or Part 803: one CLINICAL_STUDY row only."""
    v = [
        version(
            "C12",
            "2026-07-01",
            "2026-07-01",
            source="clinical_study",
            country="DE",
            patient_outcome="death",
        ),
        version("C13", "2026-07-01", "2026-07-01", source="clinical_study"),
    ]
    t = truth(tmp_path, v, as_of="2026-07-31")
    assert sorted(k for k in t if k[0] == "C12") == [("C12", "CLINICAL_STUDY", "initial")]
    check(
        t[("C12", "CLINICAL_STUDY", "initial")],
        "SAE_PER_PROTOCOL",
        "2026-07-01",
        None,
        "undetermined",
    )
    check(t[("C13", "CLINICAL_STUDY", "initial")], "SAE_PER_PROTOCOL", None, None, "not_reportable")


def test_five_work_days_skip_weekends_and_federal_holidays() -> None:
    """21 CFR 803.53: 5 work days; 5 U.S.C. 6103: Columbus Day is the second Monday of October
    (2026-10-12), Thanksgiving the fourth Thursday of November, and a holiday on a Saturday is
    observed on the Friday before. Friday 2026-10-09: Tue 13, Wed 14, Thu 15, Fri 16, Mon 19."""
    assert vt.add_us_work_days(D("2026-10-09"), 5) == D("2026-10-19")
    assert vt.add_us_work_days(D("2026-11-24"), 5) == D("2026-12-02")  # Thanksgiving 26 Nov
    assert D("2027-12-31") in vt.us_federal_holidays(2027)  # 1 Jan 2028 is a Saturday


def test_five_day_reports_are_rows_of_their_own(tmp_path: Path) -> None:
    """21 CFR 803.53: a 5-day report within 5 work days after the manufacturer becomes aware
    that a reportable event necessitates remedial action to prevent an unreasonable risk of
    substantial harm to the public health (a), or of an event for which FDA has made a written
    request (b). docs/vigilance.md: such a determination (the latest of its kind and subject on
    or before the night, value yes) gives a `five_day` row of its own, complaint_id = its
    subject, day 0 its decided_on; the complaint's initial row keeps its own rules. Met by any
    submission to FDA on the subject dated on or after the decision.
    - C14 (US, a severity-5 malfunction received 10-01): initial 803.50 30 days (due 10-31);
      remedial action decided Fri 10-09, due Mon 10-19 (Columbus Day skipped); the FDA report
      of 10-16 meets both.
    - C80 (US, nothing serious: initial not reportable): FDA request Fri 10-23, due Fri 10-30;
      the FDA report of 10-20 predates the request and the EU:DE one is not FDA's: overdue.
    - C81 (Pump CE in Germany: no model of its product code marketed in the US, 803.3): FDA
      does not apply, no five-day row. C83 (clinical study, 21 CFR 812.150): none either.
    - C82: an FDA request superseded by a later "no" on the same subject: no row.
    - LOT-7 (a lot, not a complaint: always a row): remedial action decided Tue 10-27, due
      Tue 11-03 (Wed 28, Thu 29, Fri 30, Mon 2, Tue 3): open on the night of 10-31."""
    mal = {"malfunction": "true", "problem_code": "A1402"}
    v = [
        version("C14", "2026-10-01", "2026-10-01", **mal),
        version("C80", "2026-10-15", "2026-10-15"),
        version("C81", "2026-10-01", "2026-10-01", device_model="Pump CE", country="DE", **mal),
        version("C82", "2026-09-20", "2026-09-20"),
        version("C83", "2026-10-01", "2026-10-01", source="clinical_study", **mal),
    ]
    subs = [
        ("C14", "FDA", "initial", "2026-10-16"),
        ("C80", "FDA", "initial", "2026-10-20"),
        ("C80", "EU:DE", "initial", "2026-10-26"),
    ]
    dets = [
        ("remedial_action_required", "C14", "yes", "2026-10-09"),
        ("fda_request", "C80", "yes", "2026-10-23"),
        ("remedial_action_required", "C81", "yes", "2026-10-09"),
        ("fda_request", "C82", "yes", "2026-10-01"),
        ("fda_request", "C82", "no", "2026-10-05"),  # the later one supersedes
        ("remedial_action_required", "C83", "yes", "2026-10-09"),
        ("remedial_action_required", "LOT-7", "yes", "2026-10-27"),
    ]
    t = truth(tmp_path, v, subs, dets, as_of="2026-10-31")
    check(
        t[("C14", "FDA_MDR", "initial")],
        "FDA_803_50_30D",
        "2026-10-01",
        "2026-10-31",
        "submitted_on_time",
    )
    five = {k: f for k, f in t.items() if f.report_kind == "five_day"}
    assert set(five) == {
        ("C14", "FDA_MDR", "five_day 2026-10-09"),
        ("C80", "FDA_MDR", "five_day 2026-10-23"),
        ("LOT-7", "FDA_MDR", "five_day 2026-10-27"),
    }
    check(
        five[("C14", "FDA_MDR", "five_day 2026-10-09")],
        "FDA_803_53_5D",
        "2026-10-09",
        "2026-10-19",
        "submitted_on_time",
    )
    check(t[("C80", "FDA_MDR", "initial")], "NOT_REPORTABLE", None, None, "not_reportable")
    check(
        five[("C80", "FDA_MDR", "five_day 2026-10-23")],
        "FDA_803_53_5D",
        "2026-10-23",
        "2026-10-30",
        "overdue",
    )
    check(
        five[("LOT-7", "FDA_MDR", "five_day 2026-10-27")],
        "FDA_803_53_5D",
        "2026-10-27",
        "2026-11-03",
        "open",
    )
    assert {k[1] for k in t if k[0] == "C81"} == {"EU_MDR"}
    assert {k[1:] for k in t if k[0] == "C83"} == {("CLINICAL_STUDY", "initial")}
    # a 5-day report sent after its due date is late; the initial row is the same without the
    # determination (803.50: 30 days)
    t = truth(tmp_path, v[:1], [("C14", "FDA", "supplemental", "2026-10-20")], dets[:1])
    check(
        t[("C14", "FDA_MDR", "five_day 2026-10-09")],
        "FDA_803_53_5D",
        "2026-10-09",
        "2026-10-19",
        "submitted_late",
    )
    t = truth(tmp_path, v[:1], subs[:1], as_of="2026-10-31")
    assert not [f for f in t.values() if f.report_kind == "five_day"]
    check(
        t[("C14", "FDA_MDR", "initial")],
        "FDA_803_50_30D",
        "2026-10-01",
        "2026-10-31",
        "submitted_on_time",
    )


def test_public_health_threat_reports_are_rows_of_their_own(tmp_path: Path) -> None:
    """MDR Art. 87(4): in the event of a serious public health threat the report is provided
    immediately, and not later than 2 days after the manufacturer becomes aware of that
    threat. docs/vigilance.md: a `serious_public_health_threat` determination (latest of its
    kind and subject, value yes) gives a `public_health_threat` row, complaint_id = its subject,
    due 2 calendar days after decided_on, met by a submission of any kind to any `EU:`
    authority on the subject dated on or after the decision; the initial row keeps its own
    clock.
    - C90 (Germany, a serious injury whose health effect is listed: Art. 87(3) 15 days, due
      09-16): threat decided 09-03, due 09-05; the EU:DE initial report of 09-04 meets both.
    - C91 (France, nothing serious): threat decided 09-10, due 09-12; a follow-up to EU:DE on
      09-14 meets it late (an FDA report does not count).
    - C92 (an event in the US): the EU does not apply, no row.
    - "Pumps" (a family, not a complaint): decided 10-30, due 11-01, open on 10-31."""
    v = [
        version(
            "C90",
            "2026-09-01",
            "2026-09-01",
            device_model="Pump CE",
            country="DE",
            patient_outcome="serious_injury",
            health_effect_code="E0101",
        ),
        version("C91", "2026-09-08", "2026-09-08", device_model="Pump CE", country="FR"),
        version("C92", "2026-09-08", "2026-09-08", patient_outcome="death"),
    ]
    subs = [
        ("C90", "EU:DE", "initial", "2026-09-04"),
        ("C91", "FDA", "initial", "2026-09-11"),
        ("C91", "EU:DE", "follow_up", "2026-09-14"),
    ]
    dets = [
        ("serious_public_health_threat", "C90", "yes", "2026-09-03"),
        ("serious_public_health_threat", "C91", "yes", "2026-09-10"),
        ("serious_public_health_threat", "C92", "yes", "2026-09-10"),
        ("serious_public_health_threat", "Pumps", "yes", "2026-10-30"),
    ]
    t = truth(tmp_path, v, subs, dets, as_of="2026-10-31")
    check(
        t[("C90", "EU_MDR", "initial")],
        "EU_87_3_15D",
        "2026-09-01",
        "2026-09-16",
        "submitted_on_time",
    )
    threat = {k: f for k, f in t.items() if f.report_kind == "public_health_threat"}
    assert set(threat) == {
        ("C90", "EU_MDR", "public_health_threat 2026-09-03"),
        ("C91", "EU_MDR", "public_health_threat 2026-09-10"),
        ("Pumps", "EU_MDR", "public_health_threat 2026-10-30"),
    }
    check(
        threat[("C90", "EU_MDR", "public_health_threat 2026-09-03")],
        "EU_87_4_2D",
        "2026-09-03",
        "2026-09-05",
        "submitted_on_time",
    )
    check(
        threat[("C91", "EU_MDR", "public_health_threat 2026-09-10")],
        "EU_87_4_2D",
        "2026-09-10",
        "2026-09-12",
        "submitted_late",
    )
    check(t[("C91", "EU_MDR", "initial")], "NOT_REPORTABLE", None, None, "not_reportable")
    check(
        threat[("Pumps", "EU_MDR", "public_health_threat 2026-10-30")],
        "EU_87_4_2D",
        "2026-10-30",
        "2026-11-01",
        "open",
    )
    # with no EU submission by the night after the due date: overdue
    t = truth(tmp_path, v, subs[1:2], dets[1:2], as_of="2026-09-20")
    check(
        t[("C91", "EU_MDR", "public_health_threat 2026-09-10")],
        "EU_87_4_2D",
        "2026-09-10",
        "2026-09-12",
        "overdue",
    )


def test_serious_malfunction_reasons_and_doubt(tmp_path: Path) -> None:
    """21 CFR 803.50(a)(2) and FDA's MDR guidance (2016): a malfunction is reportable when it
    would be likely to cause or contribute to a death or serious injury if it recurred: a
    long-term implant's, or one of a type that has already caused a serious injury; IMDRF
    Annex A codes are hierarchical (A07 covers A0701). A malfunction coded only to a severity-3
    hazard is not serious; an empty code leaves it in doubt."""
    v = [
        version(
            "C15",
            "2026-08-01",
            "2026-08-01",
            device_model="Lead X",
            malfunction="true",
            problem_code="A2301",
        ),
        version("C16", "2026-08-01", "2026-08-01", malfunction="true", problem_code="A0701"),
        version("C17", "2026-08-01", "2026-08-01", malfunction="true"),
        version(
            "C18",
            "2026-08-03",
            "2026-08-03",
            malfunction="true",
            problem_code="A0701",
            patient_outcome="serious_injury",
        ),
        version("C19", "2026-08-05", "2026-08-05", malfunction="true", problem_code="A07"),
    ]
    t = truth(tmp_path, v, as_of="2026-08-10")
    check(t[("C15", "FDA_MDR", "initial")], "FDA_803_50_30D", "2026-08-01", "2026-08-31", "open")
    check(t[("C16", "FDA_MDR", "initial")], "NOT_REPORTABLE", None, None, "not_reportable")
    c17 = t[("C17", "FDA_MDR", "initial")]
    check(c17, "FDA_803_50_30D", "2026-08-01", "2026-08-31", "undetermined")
    assert c17.in_doubt
    # C18 (known 2026-08-03) hurt someone with an A0701 malfunction: C19's A07 matches it
    check(t[("C19", "FDA_MDR", "initial")], "FDA_803_50_30D", "2026-08-05", "2026-09-04", "open")


def test_people_decisions(tmp_path: Path) -> None:
    """docs/vigilance.md status 3: a person's recorded "no" is decided_not_reportable (for
    second review); causality "unrelated" removes the death and injury criteria (21 CFR 803.50
    "may have caused or contributed"), leaving an implant's malfunction (803.50(a)(2))."""
    v = [
        version("C20", "2026-09-01", "2026-09-01", patient_outcome="death"),
        version("C21", "2026-09-01", "2026-09-01", patient_outcome="death", causality="unrelated"),
        version(
            "C22",
            "2026-09-01",
            "2026-09-01",
            device_model="Lead X",
            malfunction="true",
            problem_code="A2301",
            patient_outcome="death",
            causality="unrelated",
        ),
    ]
    dets = [
        ("reportability", "C20", "yes", "2026-09-02"),
        ("reportability", "C20", "no", "2026-09-05"),  # the later one supersedes
    ]
    t = truth(tmp_path, v, determinations=dets, as_of="2026-10-15")
    check(
        t[("C20", "FDA_MDR", "initial")],
        "FDA_803_50_30D",
        "2026-09-01",
        "2026-10-01",
        "decided_not_reportable",
    )
    check(
        t[("C21", "FDA_MDR", "initial")],
        "FDA_803_50_30D",
        "2026-09-01",
        "2026-10-01",
        "decided_not_reportable",
    )
    c22 = t[("C22", "FDA_MDR", "initial")]
    check(c22, "FDA_803_50_30D", "2026-09-01", "2026-10-01", "overdue")
    assert c22.criteria == ("serious_malfunction",)


def test_health_canada_foreign_incidents_after_corrective_action(tmp_path: Path) -> None:
    """SOR/98-282 s. 59(1.1), (2): an incident abroad with a class I device sold in Canada is
    reportable once the manufacturer has decided corrective action (10 days for a serious
    deterioration, s. 60(1)(a), from the later of awareness and the decision). Only when there
    is an obligation: a foreign incident with no serious criterion (C24, C27) gets no HC row,
    nor one of a class III device (C26: s. 59(2) is for class I here), nor one of a device
    not yet sold in Canada at the complaint's receipt (C28: Cane I reached Canada 2026-09-10).
    In Canada (s. 59(1)(a)) the clocks run from awareness (C25)."""
    v = [
        version(
            "C23",
            "2026-09-01",
            "2026-09-01",
            device_model="Chair I",
            country="DE",
            patient_outcome="serious_injury",
            health_effect_code="E1605",
        ),
        version("C24", "2026-09-01", "2026-09-01", device_model="Pump CE", country="DE"),
        version(
            "C25",
            "2026-09-01",
            "2026-09-01",
            device_model="Pump CE",
            country="CA",
            patient_outcome="serious_injury",
        ),
        version(
            "C26",
            "2026-09-01",
            "2026-09-01",
            device_model="Pump CE",
            country="DE",
            patient_outcome="serious_injury",
        ),
        version("C27", "2026-09-01", "2026-09-01", device_model="Chair I", country="DE"),
        version(
            "C28",
            "2026-09-01",
            "2026-09-01",
            device_model="Cane I",
            country="DE",
            patient_outcome="serious_injury",
        ),
    ]
    dets = [
        ("fsca_decision", "Chairs", "yes", "2026-09-20"),
        ("fsca_decision", "Pump CE", "yes", "2026-10-30"),
    ]
    t = truth(tmp_path, v, [("C25", "HC", "initial", "2026-09-08")], dets, as_of="2026-10-31")
    check(t[("C23", "HC_CMDR", "initial")], "HC_CMDR_60_10D", "2026-09-20", "2026-09-30", "overdue")
    check(
        t[("C25", "HC_CMDR", "initial")],
        "HC_CMDR_60_10D",
        "2026-09-01",
        "2026-09-11",
        "submitted_on_time",
    )
    for cid in ("C24", "C26", "C27", "C28"):
        assert (cid, "HC_CMDR", "initial") not in t, cid
    # the 72-hour notice is the decision's, not the complaints' (next test)
    assert not [f for f in t.values() if f.report_kind == "initial" and "61_2" in f.rule]
    # without a decision a foreign incident is not Health Canada's
    t = truth(tmp_path, v, as_of="2026-10-31")
    assert ("C23", "HC_CMDR", "initial") not in t


def test_health_canada_foreign_risk_notice_is_one_per_decision(tmp_path: Path) -> None:
    """SOR/98-282 s. 61.2: the manufacturer of a class II-IV device sold in Canada notifies the
    Minister within 72 hours of deciding (or being required) abroad to take corrective action
    - one notification per decision, not per complaint. Row: complaint_id = the decision's
    subject, report_kind foreign_risk_notice, day 0 = decided_on, due 3 calendar days later;
    met by an HC submission on that subject dated on or after the decision.
    - "Pumps" (a family: Pump US and Pump CE, class III, in Canada since 2020) decided
      2026-10-01, notified 2026-10-03: on time (due 2026-10-04); a submission before the
      decision does not count.
    - "Pump CE" decided 2026-10-30: open on the night of 2026-10-31 (due 2026-11-02).
    - "Lead X" (class IV, never shipped to Canada), "Chair I" (class I: s. 59(2) instead) and
      "Cane I" decided before it reached Canada: no notice.
    - A complaint with no serious criterion under those decisions gets no HC row."""
    v = [version("C29", "2026-09-01", "2026-09-01", device_model="Pump CE", country="DE")]
    dets = [
        ("fsca_decision", "Pumps", "yes", "2026-10-01"),
        ("fsca_decision", "Pump CE", "yes", "2026-10-30"),
        ("fsca_decision", "Lead X", "yes", "2026-10-01"),
        ("fsca_decision", "Chair I", "yes", "2026-10-01"),
        ("fsca_decision", "Cane I", "yes", "2026-09-01"),
        ("fsca_decision", "Pump US", "no", "2026-10-01"),
    ]
    subs = [("Pumps", "HC", "initial", "2026-09-30"), ("Pumps", "HC", "initial", "2026-10-03")]
    t = truth(tmp_path, v, subs, dets, as_of="2026-10-31")
    notices = {k: f for k, f in t.items() if f.report_kind == "foreign_risk_notice"}
    assert set(notices) == {
        ("Pumps", "HC_CMDR", "notice 2026-10-01"),
        ("Pump CE", "HC_CMDR", "notice 2026-10-30"),
    }
    check(
        notices[("Pumps", "HC_CMDR", "notice 2026-10-01")],
        "HC_CMDR_61_2_72H",
        "2026-10-01",
        "2026-10-04",
        "submitted_on_time",
    )
    check(
        notices[("Pump CE", "HC_CMDR", "notice 2026-10-30")],
        "HC_CMDR_61_2_72H",
        "2026-10-30",
        "2026-11-02",
        "open",
    )
    assert ("C29", "HC_CMDR", "initial") not in t
    # no notification by the night after the due date: overdue
    t = truth(tmp_path, v, [], dets[:1], as_of="2026-10-05")
    check(
        t[("Pumps", "HC_CMDR", "notice 2026-10-01")],
        "HC_CMDR_61_2_72H",
        "2026-10-01",
        "2026-10-04",
        "overdue",
    )


def test_supplemental_reports_after_an_fda_report(tmp_path: Path) -> None:
    """21 CFR 803.56: information not known when the report was made goes in a supplemental
    report within 30 calendar days of receiving it; met by the first supplemental on or after
    it. Information received before the report needs none."""
    v = [
        version("C26", "2026-01-05", "2026-01-05", patient_outcome="serious_injury"),
        version(
            "C26",
            "2026-01-05",
            "2026-01-08",
            patient_outcome="serious_injury",
            problem_code="A1402",
        ),
        version("C26", "2026-01-05", "2026-02-01", patient_outcome="death", problem_code="A1402"),
        version(
            "C26",
            "2026-01-05",
            "2026-03-01",
            patient_outcome="death",
            problem_code="A1402",
            investigation_conclusion_code="D0301",
        ),
        version(
            "C26",
            "2026-01-05",
            "2026-03-05",
            patient_outcome="death",
            problem_code="A1402",
            investigation_conclusion_code="D0301",
            investigation_status="closed",
        ),
    ]
    subs = [("C26", "FDA", "initial", "2026-01-10"), ("C26", "FDA", "supplemental", "2026-03-10")]
    t = truth(tmp_path, v, subs, as_of="2026-03-20")
    assert sorted(k[2] for k in t if k[1] == "FDA_MDR") == [
        "2026-02-01",
        "2026-03-01",
        "initial",
    ]  # the 03-05 version changed only the investigation status
    check(
        t[("C26", "FDA_MDR", "2026-02-01")],
        "FDA_803_56_30D",
        "2026-02-01",
        "2026-03-03",
        "submitted_late",
    )
    check(
        t[("C26", "FDA_MDR", "2026-03-01")],
        "FDA_803_56_30D",
        "2026-03-01",
        "2026-03-31",
        "submitted_on_time",
    )


@pytest.mark.parametrize("how", ["model", "product_code", "family"])
def test_similar_device_setting(tmp_path: Path, how: str) -> None:
    """21 CFR 803.3 "MDR reportable event" covers events abroad with a device the same as or
    similar to one marketed in the US; `fda_similar_device` says which: Pump CE shares its
    family (not its product code) with the US-marketed Pump US."""
    v = [version("C27", "2026-05-04", "2026-05-04", device_model="Pump CE", country="DE")]
    root = tmp_path / how
    truth(root, v)
    flags = vt.compute(root, D("2026-10-31"), vt.Settings(fda_similar_device=how))
    assert ("FDA_MDR" in {f.regime for f in flags}) == (how == "family")


def test_presumption_from_history_lasts_two_years(tmp_path: Path) -> None:
    """FDA, "Medical Device Reporting for Manufacturers" (2016), §2.5: a malfunction of a type
    that has caused or contributed to a death or serious injury is presumed likely to do so
    again until it has caused none for two years (docs/vigilance.md, reason 5). The harm counts
    for a version known on day D only if it became known on or after the same calendar day two
    years earlier (29 February -> 28 February). A0701 (Pumps) matches only a severity-3 hazard:
    without the history it is a definite "not serious".
    - H1 shows a serious injury from an A0701 malfunction from 2022-02-28 (a later version that
      still shows it, 2022-06-01, does not make the harm newer).
    - X1, known 2024-02-29: two years back is 2022-02-28, H1 counts: 30 days (803.50(a)(2)).
    - X2, known 2024-03-01: two years back is 2022-03-01, H1 is older: not reportable."""
    assert vt.years_before(D("2028-02-29"), 2) == D("2026-02-28")
    assert vt.years_before(D("2026-03-01"), 2) == D("2024-03-01")
    harm = {"malfunction": "true", "problem_code": "A0701", "patient_outcome": "serious_injury"}
    quiet = {"malfunction": "true", "problem_code": "A0701"}
    v = [
        version("H1", "2022-02-28", "2022-02-28", **harm),
        version("H1", "2022-02-28", "2022-06-01", lot_number="L2", **harm),
        version("X1", "2024-02-29", "2024-02-29", **quiet),
        version("X2", "2024-03-01", "2024-03-01", **quiet),
    ]
    t = truth(tmp_path, v, as_of="2024-03-10")
    x1 = t[("X1", "FDA_MDR", "initial")]
    check(x1, "FDA_803_50_30D", "2024-02-29", "2024-03-30", "open")
    assert x1.criteria == ("serious_malfunction",)
    check(t[("X2", "FDA_MDR", "initial")], "NOT_REPORTABLE", None, None, "not_reportable")
    # the span semantics stay: once H1's known version no longer shows the harm, it is no history
    v.insert(2, version("H1", "2022-02-28", "2024-02-20", malfunction="true", problem_code="A0701"))
    t = truth(tmp_path, v, as_of="2024-03-10")
    check(t[("X1", "FDA_MDR", "initial")], "NOT_REPORTABLE", None, None, "not_reportable")


def test_doubt_competes_with_definite_rules(tmp_path: Path) -> None:
    """MDR Art. 87(7) ("if uncertain ... shall nevertheless submit a report within the timeframe")
    and the issue text: missing or unknown facts put a complaint on the shortest plausible clock.
    Within a regime the due date is the earliest among the definite rules and the rules the
    current version's doubt makes plausible (day 0 = start of the current run of doubt).
    - C30: a severity-5 malfunction (A1402: EU 15 days, Art. 87(3)) with the outcome unknown
      (death plausible: 10 days, Art. 87(5)) is due in 10 days; a rule is definite, so the
      status follows the submission (late). FDA: 30 days either way, the definite rule wins.
    - C31: the outcome becomes unknown on 01-08: 10 days from 01-08 (01-18) beats 01-20.
    - C32: it becomes unknown on 01-12: 01-22 is later, the definite 15 days govern."""
    mal = {
        "device_model": "Pump US",
        "country": "DE",
        "malfunction": "true",
        "problem_code": "A1402",
    }
    v = [
        version("C30", "2026-01-05", "2026-01-05", patient_outcome="unknown", **mal),
        version("C31", "2026-01-05", "2026-01-05", **mal),
        version("C31", "2026-01-05", "2026-01-08", patient_outcome="unknown", **mal),
        version("C32", "2026-01-05", "2026-01-05", **mal),
        version("C32", "2026-01-05", "2026-01-12", patient_outcome="unknown", **mal),
    ]
    subs = [("C30", "EU:DE", "initial", "2026-01-18"), ("C30", "FDA", "initial", "2026-01-18")]
    t = truth(tmp_path, v, subs, as_of="2026-01-25")
    c30 = t[("C30", "EU_MDR", "initial")]
    check(c30, "EU_87_5_10D", "2026-01-05", "2026-01-15", "submitted_late")
    assert not c30.in_doubt
    fda = t[("C30", "FDA_MDR", "initial")]
    check(fda, "FDA_803_50_30D", "2026-01-05", "2026-02-04", "submitted_on_time")
    assert fda.criteria == ("serious_malfunction",) and not fda.in_doubt
    check(t[("C31", "EU_MDR", "initial")], "EU_87_5_10D", "2026-01-08", "2026-01-18", "overdue")
    check(t[("C32", "EU_MDR", "initial")], "EU_87_3_15D", "2026-01-05", "2026-01-20", "overdue")
    check(t[("C32", "FDA_MDR", "initial")], "FDA_803_50_30D", "2026-01-05", "2026-02-04", "open")


def test_equal_due_dates_go_to_the_rule_id(tmp_path: Path) -> None:
    """docs/vigilance.md (the earliest due date governs) and the project's tie-break: on equal
    due dates the definite rule wins, then the rule id. In Germany a severity-5 malfunction known
    2026-01-05 (MDR Art. 87(3): 15 days, due 01-20) becomes a death on 01-10 (Art. 87(5): 10
    days, due 01-20): both definite, EU_87_3_15D sorts first. A remedial-action determination
    (21 CFR 803.53) does not compete with the initial rows: it is a five-day row of its own."""
    mal = {"country": "DE", "malfunction": "true", "problem_code": "A1402"}
    v = [
        version("C33", "2026-01-05", "2026-01-05", **mal),
        version("C33", "2026-01-05", "2026-01-10", patient_outcome="death", **mal),
    ]
    dets = [("remedial_action_required", "C33", "yes", "2026-01-06")]
    t = truth(tmp_path, v, determinations=dets, as_of="2026-01-15")
    eu = t[("C33", "EU_MDR", "initial")]
    check(eu, "EU_87_3_15D", "2026-01-05", "2026-01-20", "open")
    assert eu.criteria == ("serious_malfunction",)
    check(t[("C33", "FDA_MDR", "initial")], "FDA_803_50_30D", "2026-01-05", "2026-02-04", "open")
    # 803.53: Wed 01-07 ... Tue 01-13 (5 work days)
    check(
        t[("C33", "FDA_MDR", "five_day 2026-01-06")],
        "FDA_803_53_5D",
        "2026-01-06",
        "2026-01-13",
        "overdue",
    )


def test_no_encoded_regime_rows_take_peoples_decisions(tmp_path: Path) -> None:
    """docs/vigilance.md status 3, for events where no clock is encoded (UK: MHRA): a person's
    recorded "no" (the latest reportability determination, else the complaint's
    reportability_decision) on a serious or doubtful event is decided_not_reportable; causality
    "unrelated" removes the death and injury criteria (21 CFR 803.50 "may have caused or
    contributed" read alike), leaving a malfunction in doubt undetermined. Day 0 is the
    earliest day a serious criterion or a doubt arose (a death's day 0 moves back over the run
    of doubt just before it, MDR Art. 87(7)). Clinical investigations (MDR Art. 80) ignore the
    decisions."""
    gb = {"device_model": "Pump CE", "country": "GB"}  # Pump CE: not US-marketed, no FDA row
    v = [
        version(
            "C40",
            "2026-06-01",
            "2026-06-01",
            patient_outcome="serious_injury",
            reportability_decision="no",
            **gb,
        ),
        version("C41", "2026-06-01", "2026-06-01", patient_outcome="unknown", **gb),
        version("C41", "2026-06-01", "2026-06-05", patient_outcome="serious_injury", **gb),
        version(
            "C42", "2026-06-01", "2026-06-01", patient_outcome="death", causality="unrelated", **gb
        ),
        version(
            "C43",
            "2026-06-01",
            "2026-06-01",
            patient_outcome="death",
            causality="unrelated",
            malfunction="true",
            **gb,
        ),
        version("C44", "2026-06-01", "2026-06-01", reportability_decision="no", **gb),
        version("C45", "2026-06-01", "2026-06-01", patient_outcome="unknown", **gb),
        version("C45", "2026-06-01", "2026-06-03", **gb),
        version("C45", "2026-06-01", "2026-06-08", patient_outcome="death", **gb),
        version(
            "C46",
            "2026-06-01",
            "2026-06-01",
            source="clinical_study",
            country="DE",
            patient_outcome="death",
            reportability_decision="no",
        ),
    ]
    dets = [
        ("reportability", "C41", "no", "2026-06-10"),
        ("reportability", "C45", "no", "2026-06-09"),
        ("reportability", "C45", "yes", "2026-06-12"),  # the later one supersedes
    ]
    t = truth(tmp_path, v, determinations=dets, as_of="2026-06-30")

    def none_encoded(cid: str) -> vt.Flag:
        assert {k[1] for k in t if k[0] == cid} == {"NONE_ENCODED"}, cid
        return t[(cid, "NONE_ENCODED", "initial")]

    check(none_encoded("C40"), "ASSESS_LOCALLY", "2026-06-01", None, "decided_not_reportable")
    check(none_encoded("C41"), "ASSESS_LOCALLY", "2026-06-01", None, "decided_not_reportable")
    check(none_encoded("C42"), "ASSESS_LOCALLY", "2026-06-01", None, "decided_not_reportable")
    c43 = none_encoded("C43")
    check(c43, "ASSESS_LOCALLY", "2026-06-01", None, "undetermined")
    assert c43.criteria == ("serious_malfunction",)
    check(none_encoded("C44"), "ASSESS_LOCALLY", None, None, "not_reportable")
    check(none_encoded("C45"), "ASSESS_LOCALLY", "2026-06-08", None, "undetermined")
    check(
        t[("C46", "CLINICAL_STUDY", "initial")],
        "SAE_PER_PROTOCOL",
        "2026-06-01",
        None,
        "undetermined",
    )


def test_eu_and_canada_only_for_devices_made_available_there(tmp_path: Path) -> None:
    """MDR Art. 87(1)(a): serious incidents involving devices made available on the Union
    market; SOR/98-282 s. 59(1)(a): devices sold in Canada. docs/vigilance.md: shipped there on
    or before the complaint's receipt, or the shipment data does not know the model at all. An
    EEA or Canadian event with a device never made available there is assessed locally
    (NONE_ENCODED), besides FDA when the device is US-marketed (21 CFR 803.3)."""
    serious = {"patient_outcome": "serious_injury", "health_effect_code": "E9999"}
    v = [
        version("C50", "2026-09-01", "2026-09-01", device_model="Lead X", country="DE", **serious),
        version("C51", "2026-09-01", "2026-09-01", device_model="Lead X", country="CA", **serious),
        version("C52", "2026-09-01", "2026-09-01", device_model="Gauge Z", country="DE", **serious),
        version("C53", "2026-09-01", "2026-09-01", device_model="Gauge Z", country="CA", **serious),
        version("C54", "2026-09-01", "2026-09-01", device_model="Cane I", country="CA", **serious),
        version("C55", "2026-09-15", "2026-09-15", device_model="Cane I", country="CA", **serious),
    ]
    t = truth(tmp_path, v, as_of="2026-10-31")

    def regimes(cid: str) -> set[str]:
        return {k[1] for k in t if k[0] == cid}

    assert regimes("C50") == regimes("C51") == {"FDA_MDR", "NONE_ENCODED"}
    check(
        t[("C50", "NONE_ENCODED", "initial")], "ASSESS_LOCALLY", "2026-09-01", None, "undetermined"
    )
    assert regimes("C52") == {"EU_MDR"}  # Gauge Z: unknown to the shipments, no US product code
    check(t[("C52", "EU_MDR", "initial")], "EU_87_5_10D", "2026-09-01", "2026-09-11", "overdue")
    assert regimes("C53") == {"HC_CMDR"}
    check(t[("C53", "HC_CMDR", "initial")], "HC_CMDR_60_10D", "2026-09-01", "2026-09-11", "overdue")
    assert regimes("C54") == {"NONE_ENCODED"}  # Cane I reached Canada on 2026-09-10
    assert regimes("C55") == {"HC_CMDR"}
    check(t[("C55", "HC_CMDR", "initial")], "HC_CMDR_60_10D", "2026-09-15", "2026-09-25", "overdue")


def test_unanticipated_means_not_in_the_risk_analysis(tmp_path: Path) -> None:
    """MDR Art. 87(5) and MEDDEV 2.12-1 rev. 8 §5.1.1 (carried into MDCG 2023-3): a serious
    deterioration is unanticipated when the condition leading to it was not considered in the
    risk analysis. IMDRF Annex E codes are hierarchical: a health effect equal to or a child of
    a code the family's risk register lists (Pumps: E0101) was considered (15 days, Art.
    87(3)); a parent (E01) is less specific than the analysis, an empty code unknown: 10 days."""
    effects = {"C60": "E0101", "C61": "E010101", "C62": "E01", "C63": ""}
    v = [
        version(
            cid,
            "2026-06-01",
            "2026-06-01",
            device_model="Pump CE",
            country="DE",
            patient_outcome="serious_injury",
            health_effect_code=he,
        )
        for cid, he in effects.items()
    ]
    t = truth(tmp_path, v, as_of="2026-06-30")
    check(t[("C60", "EU_MDR", "initial")], "EU_87_3_15D", "2026-06-01", "2026-06-16", "overdue")
    check(t[("C61", "EU_MDR", "initial")], "EU_87_3_15D", "2026-06-01", "2026-06-16", "overdue")
    check(t[("C62", "EU_MDR", "initial")], "EU_87_5_10D", "2026-06-01", "2026-06-11", "overdue")
    check(t[("C63", "EU_MDR", "initial")], "EU_87_5_10D", "2026-06-01", "2026-06-11", "overdue")


def test_supplemental_after_any_fda_report(tmp_path: Path) -> None:
    """21 CFR 803.56 applies to any report submitted: after a final (non-reportable) report to
    FDA on a complaint with no initial obligation, a version bringing new information (a
    problem code) is due in a supplemental report within 30 calendar days."""
    v = [
        version("C70", "2026-02-01", "2026-02-01"),
        version("C70", "2026-02-01", "2026-03-01", problem_code="A090203"),
    ]
    subs = [("C70", "FDA", "final_non_reportable", "2026-02-05")]
    t = truth(tmp_path, v, subs, as_of="2026-04-15")
    check(t[("C70", "FDA_MDR", "initial")], "NOT_REPORTABLE", None, None, "not_reportable")
    check(
        t[("C70", "FDA_MDR", "2026-03-01")], "FDA_803_56_30D", "2026-03-01", "2026-03-31", "overdue"
    )


def test_hospitalisation_puts_serious_injury_in_doubt_for_fda_and_health_canada(
    tmp_path: Path,
) -> None:
    """docs/vigilance.md, "Criteria a version meets", `serious_deterioration`: for FDA and Health
    Canada a hospitalisation with an outcome other than death or serious injury puts
    `serious_injury` in doubt (21 CFR 803.3 "serious injury" (c): medical or surgical
    intervention to preclude permanent impairment; CMDR "serious deterioration in the state of
    health"), a doubt like any other; the EU already counts it as a serious deterioration.
    All received 2026-04-01 (health effect E0101, listed for Pumps), night 2026-04-20.
    - H10 (US, injury, hospitalised): 803.50 30 days in doubt: due 05-01, undetermined.
    - H11 (Canada, Pump CE: sold in Canada, not US-marketed): s. 60 10 days, due 04-11,
      undetermined.
    - H12 (Germany, Pump CE): Art. 87(3) 15 days, definite (due 04-16): overdue.
    - H13 (Canada, a severity-5 malfunction as well: s. 60 30 days definite, due 05-01): the
      plausible serious injury's 10 days (04-11) are shorter and govern; a rule is definite, so
      the status is overdue, not undetermined.
    - H14 (US): hospitalised injury 04-01, serious injury 04-06: day 0 moves back over the run
      of doubt to 04-01 (due 05-01, definite: open).
    - H15 (US): hospitalised injury 04-01, no longer hospitalised 04-03: the doubt ended, not
      reportable.
    - H16 (US, death, hospitalised): death is definite; serious injury is not in doubt."""
    hosp = {"patient_outcome": "injury", "hospitalised": "true", "health_effect_code": "E0101"}
    ce_ca = {"device_model": "Pump CE", "country": "CA"}
    v = [
        version("H10", "2026-04-01", "2026-04-01", **hosp),
        version("H11", "2026-04-01", "2026-04-01", **ce_ca, **hosp),
        version("H12", "2026-04-01", "2026-04-01", device_model="Pump CE", country="DE", **hosp),
        version(
            "H13",
            "2026-04-01",
            "2026-04-01",
            malfunction="true",
            problem_code="A1402",
            **ce_ca,
            **hosp,
        ),
        version("H14", "2026-04-01", "2026-04-01", **hosp),
        version(
            "H14",
            "2026-04-01",
            "2026-04-06",
            **{**hosp, "patient_outcome": "serious_injury"},
        ),
        version("H15", "2026-04-01", "2026-04-01", **hosp),
        version("H15", "2026-04-01", "2026-04-03", **{**hosp, "hospitalised": "false"}),
        version("H16", "2026-04-01", "2026-04-01", **{**hosp, "patient_outcome": "death"}),
    ]
    t = truth(tmp_path, v, as_of="2026-04-20")
    assert {k[1] for k in t if k[0] in ("H10", "H14", "H15", "H16")} == {"FDA_MDR"}
    assert {k[1] for k in t if k[0] in ("H11", "H13")} == {"HC_CMDR"}
    assert {k[1] for k in t if k[0] == "H12"} == {"EU_MDR"}
    h10 = t[("H10", "FDA_MDR", "initial")]
    check(h10, "FDA_803_50_30D", "2026-04-01", "2026-05-01", "undetermined")
    assert h10.in_doubt and h10.criteria == ("serious_injury",)
    h11 = t[("H11", "HC_CMDR", "initial")]
    check(h11, "HC_CMDR_60_10D", "2026-04-01", "2026-04-11", "undetermined")
    assert h11.in_doubt
    h12 = t[("H12", "EU_MDR", "initial")]
    check(h12, "EU_87_3_15D", "2026-04-01", "2026-04-16", "overdue")
    assert not h12.in_doubt and h12.criteria == ("serious_deterioration",)
    h13 = t[("H13", "HC_CMDR", "initial")]
    check(h13, "HC_CMDR_60_10D", "2026-04-01", "2026-04-11", "overdue")
    assert not h13.in_doubt and h13.criteria == ("serious_injury",)
    h14 = t[("H14", "FDA_MDR", "initial")]
    check(h14, "FDA_803_50_30D", "2026-04-01", "2026-05-01", "open")
    assert not h14.in_doubt
    check(t[("H15", "FDA_MDR", "initial")], "NOT_REPORTABLE", None, None, "not_reportable")
    h16 = t[("H16", "FDA_MDR", "initial")]
    check(h16, "FDA_803_50_30D", "2026-04-01", "2026-05-01", "open")
    assert h16.criteria == ("death",) and not h16.in_doubt


def test_decisions_judge_only_the_facts_known_when_they_were_made(tmp_path: Path) -> None:
    """docs/vigilance.md, "Status of an obligation", item 3: a person's "no" (the latest
    reportability determination, else the complaint's reportability_decision = no, dated by the
    version that first carried its current value) gives decided_not_reportable only when
    decided on or after the obligation's day 0; a "no" decided before the facts that started the
    clock did not judge them, and the status follows the usual order (doubt, overdue/open). A
    causality "unrelated" (dated alike) removes a death or injury criterion only when decided on
    or after that criterion's day 0 (for a criterion in doubt: the start of its run of doubt);
    the others stay. NONE_ENCODED rows compare with the row's day 0. Night 2026-06-20.
    US events (Pump US: FDA only; 21 CFR 803.50, 30 days):
    - D1: nothing serious and "no" on 05-01, a death on 05-10 with the column unchanged: the
      "no" dates from 05-01, before day 0 05-10: overdue (due 06-09).
    - D2: the column turns "no" with the death (05-10): decided_not_reportable.
    - D3 / D4: a reportability determination "no" on 05-05 (overdue) / 05-12 (decided).
    - D5: "no" 05-01, "pending" 05-05, death 05-10, "no" again 05-12: the current "no" was
      first carried on 05-12, after day 0: decided_not_reportable.
    - D6: outcome unknown from 05-01 (death in doubt), "no" on 05-03: decided_not_reportable.
    - D7: "no" on 05-03, outcome unknown only from 05-06: the doubt stands, undetermined
      (day 0 05-06, due 06-05).
    - K1: an injury judged unrelated on 05-01, a death on 05-10 with the column unchanged: the
      death stays, overdue (day 0 05-10, due 06-09).
    - K2: a death on 05-10 judged unrelated on 05-12: nothing remains, decided_not_reportable.
    - K4: unknown from 05-01, unrelated on 05-03: the doubt is removed, decided_not_reportable.
    - K5: unrelated on 05-03, unknown only from 05-06: undetermined (day 0 05-06, due 06-05).
    EU events (Pump CE in Germany: EU only):
    - K3: a serious injury 05-01 (health effect listed: Art. 87(3) 15 days, due 05-16) judged
      unrelated on 05-03, a death 05-10 (Art. 87(5) 10 days, due 05-20): the injury's
      deterioration is removed, the death stays and governs: overdue.
    - E1: a severity-5 malfunction 05-01 (15 days, due 05-16), a death 05-03 (10 days, due
      05-13, governing), a "no" on 05-02 (before the death: ignored for it), causality
      unrelated on 05-04 (removes the death): what remains is the malfunction, whose day 0
      (05-01) the "no" came after: decided_not_reportable on EU_87_3_15D.
    Events in the UK (Pump CE: NONE_ENCODED only):
    - N1: "no" 06-01, a serious injury 06-05 with the column unchanged: undetermined (day 0
      06-05). N2: a determination "no" on 06-06: decided_not_reportable.
    - N3: a serious injury 06-01 judged unrelated on 06-03, a death on 06-05: the death stays,
      undetermined with day 0 06-05."""
    de = {"device_model": "Pump CE", "country": "DE", "health_effect_code": "E0101"}
    gb = {"device_model": "Pump CE", "country": "GB"}
    death, unknown = {"patient_outcome": "death"}, {"patient_outcome": "unknown"}
    serious = {"patient_outcome": "serious_injury"}
    no, pending = {"reportability_decision": "no"}, {"reportability_decision": "pending"}
    unrelated = {"causality": "unrelated"}
    mal = {"malfunction": "true", "problem_code": "A1402"}

    def two(
        cid: str, first: dict, second: dict, on: str = "2026-05-10", d0: str = "2026-05-01"
    ) -> list[dict[str, str]]:
        return [version(cid, d0, d0, **first), version(cid, d0, on, **second)]

    v = [
        *two("D1", no, {**no, **death}),
        *two("D2", pending, {**no, **death}),
        *two("D3", {}, death),
        *two("D4", {}, death),
        *two("D5", no, pending, on="2026-05-05"),
        version("D5", "2026-05-01", "2026-05-10", **pending, **death),
        version("D5", "2026-05-01", "2026-05-12", **no, **death),
        version("D6", "2026-05-01", "2026-05-01", **unknown),
        *two("D7", {}, unknown, on="2026-05-06"),
        *two("K1", {"patient_outcome": "injury", **unrelated}, {**unrelated, **death}),
        *two("K2", {}, death),
        version("K4", "2026-05-01", "2026-05-01", **unknown),
        *two("K5", {}, unknown, on="2026-05-06"),
        *two("K3", {**de, **serious}, {**de, **death}),
        *two("E1", {**de, **mal}, {**de, **mal, **death}, on="2026-05-03"),
        *two("N1", {**gb, **no}, {**gb, **no, **serious}, "2026-06-05", "2026-06-01"),
        *two("N2", gb, {**gb, **serious}, "2026-06-05", "2026-06-01"),
        *two("N3", {**gb, **serious}, {**gb, **death}, "2026-06-05", "2026-06-01"),
    ]
    dets = [
        ("reportability", "D3", "no", "2026-05-05"),
        ("reportability", "D4", "no", "2026-05-12"),
        ("reportability", "D6", "no", "2026-05-03"),
        ("reportability", "D7", "no", "2026-05-03"),
        ("causality", "K2", "unrelated", "2026-05-12"),
        ("causality", "K4", "unrelated", "2026-05-03"),
        ("causality", "K5", "unrelated", "2026-05-03"),
        ("causality", "K3", "unrelated", "2026-05-03"),
        ("reportability", "E1", "no", "2026-05-02"),
        ("causality", "E1", "unrelated", "2026-05-04"),
        ("reportability", "N2", "no", "2026-06-06"),
        ("causality", "N3", "unrelated", "2026-06-03"),
    ]
    t = truth(tmp_path, v, determinations=dets, as_of="2026-06-20")

    def fda(cid: str) -> vt.Flag:
        assert {k[1] for k in t if k[0] == cid} == {"FDA_MDR"}, cid
        return t[(cid, "FDA_MDR", "initial")]

    death_clock = ("FDA_803_50_30D", "2026-05-10", "2026-06-09")
    check(fda("D1"), *death_clock, "overdue")
    check(fda("D2"), *death_clock, "decided_not_reportable")
    check(fda("D3"), *death_clock, "overdue")
    check(fda("D4"), *death_clock, "decided_not_reportable")
    check(fda("D5"), *death_clock, "decided_not_reportable")
    check(fda("D6"), "FDA_803_50_30D", "2026-05-01", "2026-05-31", "decided_not_reportable")
    check(fda("D7"), "FDA_803_50_30D", "2026-05-06", "2026-06-05", "undetermined")
    k1 = fda("K1")
    check(k1, *death_clock, "overdue")
    assert k1.criteria == ("death",)
    check(fda("K2"), *death_clock, "decided_not_reportable")
    check(fda("K4"), "FDA_803_50_30D", "2026-05-01", "2026-05-31", "decided_not_reportable")
    check(fda("K5"), "FDA_803_50_30D", "2026-05-06", "2026-06-05", "undetermined")
    assert {k[1] for k in t if k[0] in ("K3", "E1")} == {"EU_MDR"}
    k3 = t[("K3", "EU_MDR", "initial")]
    check(k3, "EU_87_5_10D", "2026-05-10", "2026-05-20", "overdue")
    assert k3.criteria == ("death",)
    e1 = t[("E1", "EU_MDR", "initial")]
    check(e1, "EU_87_3_15D", "2026-05-01", "2026-05-16", "decided_not_reportable")
    assert {k[1] for k in t if k[0] in ("N1", "N2", "N3")} == {"NONE_ENCODED"}
    check(
        t[("N1", "NONE_ENCODED", "initial")], "ASSESS_LOCALLY", "2026-06-05", None, "undetermined"
    )
    check(
        t[("N2", "NONE_ENCODED", "initial")],
        "ASSESS_LOCALLY",
        "2026-06-05",
        None,
        "decided_not_reportable",
    )
    n3 = t[("N3", "NONE_ENCODED", "initial")]
    check(n3, "ASSESS_LOCALLY", "2026-06-05", None, "undetermined")
    assert n3.criteria == ("death",)
    # E1 with its "no" alone (decided before the death's day 0): the death's 10 days run
    t = truth(tmp_path, v, determinations=dets[8:9], as_of="2026-06-20")
    check(t[("E1", "EU_MDR", "initial")], "EU_87_5_10D", "2026-05-03", "2026-05-13", "overdue")
