"""Vigilance obligations (models.vigilance.assess_vigilance) against cases worked from the law.

Every case below was written from the text of the regulation it cites (21 CFR 803, 21 CFR 812.150,
Regulation (EU) 2017/745 Art. 2, 80, 87, 88, MDCG 2023-3, the Canadian Medical Devices Regulations
SOR/98-282 s. 59-61.2, FDA's 2016 guidance "Medical Device Reporting for Manufacturers" and 83 FR
40973 for VMSR) and from docs/vigilance.md, never from the implementation or the data generator.
Every expected date is computed by hand in a comment next to it.

Where docs/vigilance.md and the law disagree the case follows the law and says so in a comment
starting with ``LAW-VS-DOC:``.

The calendar facts used (checked against a 2026 calendar): 2026-03-02, 2026-03-16, 2026-04-06,
2026-04-27, 2026-05-04, 2026-05-18, 2026-06-22, 2026-06-29, 2026-11-16 and 2026-11-23 are Mondays;
2026-07-04 is a Saturday, so the federal Independence Day holiday is observed on Friday 2026-07-03
(5 U.S.C. 6103(a), E.O. 11582); Memorial Day 2026 is Monday 2026-05-25 (last Monday of May);
Thanksgiving 2026 is Thursday 2026-11-26 (fourth Thursday of November).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

D = dt.date.fromisoformat

FAMILY = "Infusion"
MODEL = "P-100"
PCODE = "FRN"

# The family's risk register: one catastrophic hazard, one negligible one.
SERIOUS_CODE = "A0701"  # IMDRF Annex A, listed only under H-SER (severity 5)
MINOR_CODE = "A1502"  # IMDRF Annex A, listed only under H-MIN (severity 2)
LISTED_EFFECT = "E0602"  # IMDRF Annex E, listed under H-SER: an anticipated health effect
UNLISTED_EFFECT = "E1301"  # IMDRF Annex E, listed under no hazard of the family
UNKNOWN_CODE = "A2401"  # IMDRF Annex A, listed under no hazard of the family

# Report kinds that are not the initial report of an obligation.
SPECIAL_KINDS = {
    "supplemental",
    "follow_up",
    "final",
    "final_non_reportable",
    "five_day",
    "public_health_threat",
    "foreign_risk_notice",
}
MET = {"submitted_on_time", "submitted_late"}
LIVE = {"open", "overdue", "submitted_on_time", "submitted_late"}

VERSION_SCHEMA = {
    "complaint_id": pl.Utf8,
    "received_date": pl.Date,
    "updated_at": pl.Datetime("us"),
    "device_model": pl.Utf8,
    "country": pl.Utf8,
    "source": pl.Utf8,
    "patient_outcome": pl.Utf8,
    "malfunction": pl.Boolean,
    "problem_code": pl.Utf8,
    "health_effect_code": pl.Utf8,
    "hospitalised": pl.Boolean,
    "causality": pl.Utf8,
    "reportability_decision": pl.Utf8,
    "reported_date": pl.Date,
    "investigation_status": pl.Utf8,
}
PRODUCT_SCHEMA = {
    "device_model": pl.Utf8,
    "device_family": pl.Utf8,
    "product_code": pl.Utf8,
    "implantable": pl.Boolean,
    "eu_class": pl.Utf8,
    "us_class": pl.Utf8,
    "ca_class": pl.Utf8,
}
RISK_SCHEMA = {
    "hazard_id": pl.Utf8,
    "device_family": pl.Utf8,
    "problem_codes": pl.Utf8,
    "health_effect_codes": pl.Utf8,
    "severity": pl.Int64,
    "expected_rate": pl.Float64,
}
DIST_SCHEMA = {
    "device_model": pl.Utf8,
    "country": pl.Utf8,
    "ship_date": pl.Date,
    "units": pl.Int64,
}
SUB_SCHEMA = {
    "complaint_id": pl.Utf8,
    "authority": pl.Utf8,
    "report_kind": pl.Utf8,
    "submitted_date": pl.Date,
    "report_number": pl.Utf8,
    "submitted_by": pl.Utf8,
}
DET_SCHEMA = {
    "determination_id": pl.Utf8,
    "kind": pl.Utf8,
    "subject": pl.Utf8,
    "value": pl.Utf8,
    "decided_on": pl.Date,
    "decided_by": pl.Utf8,
    "rationale": pl.Utf8,
}


# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------


def version(
    cid: str,
    received: str,
    *,
    at: str | None = None,
    country: str = "US",
    outcome: str | None = "none",
    malfunction: bool = False,
    model: str = MODEL,
    problem: str | None = None,
    health: str | None = None,
    hospitalised: bool | None = None,
    source: str = "customer",
    causality: str | None = None,
    decision: str | None = None,
    reported: str | None = None,
) -> dict[str, Any]:
    """One complaint version; ``at`` is the date a later version reached the firm (10:00)."""
    updated = D(at) if at else D(received)
    return {
        "complaint_id": cid,
        "received_date": D(received),
        "updated_at": dt.datetime.combine(updated, dt.time(10 if at else 9, 0)),
        "device_model": model,
        "country": country,
        "source": source,
        "patient_outcome": outcome,
        "malfunction": malfunction,
        "problem_code": problem,
        "health_effect_code": health,
        "hospitalised": hospitalised,
        "causality": causality,
        "reportability_decision": decision,
        "reported_date": D(reported) if reported else None,
        "investigation_status": "open",
    }


def product(
    model: str = MODEL,
    *,
    family: str = FAMILY,
    code: str = PCODE,
    implantable: bool = False,
    ca_class: str | None = "II",
) -> dict[str, Any]:
    return {
        "device_model": model,
        "device_family": family,
        "product_code": code,
        "implantable": implantable,
        "eu_class": "IIb",
        "us_class": "2",
        "ca_class": ca_class,
    }


def risk_register() -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "hazard_id": "H-SER",
                "device_family": FAMILY,
                "problem_codes": SERIOUS_CODE,
                "health_effect_codes": LISTED_EFFECT,
                "severity": 5,
                "expected_rate": 0.1,
            },
            {
                "hazard_id": "H-MIN",
                "device_family": FAMILY,
                "problem_codes": MINOR_CODE,
                "health_effect_codes": "E2101",
                "severity": 2,
                "expected_rate": 2.0,
            },
        ],
        schema=RISK_SCHEMA,
    )


def ship(*entries: tuple[str, ...]) -> pl.DataFrame:
    """Shipments: (country, date) for the default model, or (model, country, date)."""
    rows = []
    for e in entries:
        model, country, date = (MODEL, *e) if len(e) == 2 else e
        rows.append({"device_model": model, "country": country, "ship_date": D(date), "units": 50})
    return pl.DataFrame(rows, schema=DIST_SCHEMA)


def sub(cid: str, authority: str, kind: str, date: str) -> dict[str, Any]:
    return {
        "complaint_id": cid,
        "authority": authority,
        "report_kind": kind,
        "submitted_date": D(date),
        "report_number": f"{authority}-{cid}-{kind}",
        "submitted_by": "RA Officer",
    }


def det(kind: str, subject: str, value: str, date: str, by: str = "Head of QA") -> dict[str, Any]:
    return {
        "determination_id": f"DET-{kind}-{subject}-{date}",
        "kind": kind,
        "subject": subject,
        "value": value,
        "decided_on": D(date),
        "decided_by": by,
        "rationale": f"{kind} {value} recorded for the test",
    }


def run(
    versions: list[dict[str, Any]],
    *,
    as_of: str,
    dist: pl.DataFrame,
    products: list[dict[str, Any]] | None = None,
    subs: list[dict[str, Any]] | None = None,
    dets: list[dict[str, Any]] | None = None,
    vmsr: tuple[str, ...] = (),
    **settings: Any,
) -> pl.DataFrame:
    from models.vigilance import VigilanceSettings, assess_vigilance

    return assess_vigilance(
        pl.DataFrame(versions, schema=VERSION_SCHEMA),
        pl.DataFrame(products or [product()], schema=PRODUCT_SCHEMA),
        risk_register(),
        dist,
        D(as_of),
        submissions=pl.DataFrame(subs, schema=SUB_SCHEMA) if subs else None,
        determinations=pl.DataFrame(dets, schema=DET_SCHEMA) if dets else None,
        vmsr_product_codes=vmsr,
        settings=VigilanceSettings(**settings),
    )


# ---------------------------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------------------------


def rows(flags: pl.DataFrame, cid: str, regime: str | None = None) -> list[dict[str, Any]]:
    out = flags.filter(pl.col("complaint_id") == cid)
    if regime is not None:
        out = out.filter(pl.col("regime") == regime)
    return out.to_dicts()


def main(flags: pl.DataFrame, cid: str, regime: str) -> dict[str, Any]:
    """The one row of a complaint's initial obligation (or non-obligation) in a regime."""
    found = [r for r in rows(flags, cid, regime) if r.get("report_kind") not in SPECIAL_KINDS]
    assert len(found) == 1, f"{cid}/{regime}: expected one initial row, got {found}"
    return found[0]


def by_rule(flags: pl.DataFrame, cid: str, rule: str) -> dict[str, Any]:
    found = [r for r in rows(flags, cid) if r["rule"] == rule]
    assert len(found) == 1, f"{cid}: expected one {rule} row, got {rows(flags, cid)}"
    return found[0]


def no_obligation(flags: pl.DataFrame, cid: str, regime: str) -> None:
    """No row of that regime is a live obligation (no row at all is fine)."""
    for r in rows(flags, cid, regime):
        assert r["reportable"] is not True, r
        assert r["status"] not in LIVE, r


def criteria(row: dict[str, Any]) -> set[str]:
    return {c.strip() for c in (row.get("criteria_met") or "").split(";") if c.strip()}


def mentions(row: dict[str, Any], *words: str) -> bool:
    text = f"{row.get('reason') or ''} {row.get('criteria_met') or ''}".lower()
    return any(w.lower() in text for w in words)


# =============================================================================================
# United States: 21 CFR 803.50, the 30-day report
# =============================================================================================


def test_us_death_is_a_30_day_report_from_receipt():
    """21 CFR 803.50(a)(1): a death the device may have caused is reported within 30 calendar
    days of the day the manufacturer becomes aware of it."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death")],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert r["authority"] == "FDA"
    assert r["reportable"] is True
    assert "death" in criteria(r)
    assert r["day_zero"] == D("2026-03-02")
    # received 2026-03-02 + 30 calendar days = 2026-04-01
    assert r["due_date"] == D("2026-04-01")
    assert r["status"] == "open"
    assert r["as_of"] == D("2026-03-10")
    # Shipped only to the US, event in the US: no EU or Canadian obligation.
    no_obligation(flags, "C1", "EU_MDR")
    no_obligation(flags, "C1", "HC_CMDR")


def test_us_death_unreported_after_day_30_is_overdue():
    """21 CFR 803.50(a): the report is due no later than 30 calendar days after awareness, so
    with no report to FDA on the night after that day the obligation is overdue."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death")],
        as_of="2026-04-02",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    # 2026-03-02 + 30 = 2026-04-01 < night 2026-04-02
    assert r["due_date"] == D("2026-04-01")
    assert r["status"] == "overdue"


@pytest.mark.parametrize(
    ("submitted", "status"),
    [
        # due 2026-03-02 + 30 = 2026-04-01
        ("2026-03-25", "submitted_on_time"),
        ("2026-04-01", "submitted_on_time"),  # on the due day itself
        ("2026-04-03", "submitted_late"),
    ],
)
def test_fda_initial_report_on_time_or_late(submitted, status):
    """21 CFR 803.50(a): a report submitted no later than the 30th day after awareness is on
    time; one submitted after it is late."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death")],
        as_of="2026-04-10",
        dist=ship(("US", "2025-01-15")),
        subs=[sub("C1", "FDA", "initial", submitted)],
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["status"] == status
    assert r["reported_date"] == D(submitted)


def test_submission_dated_after_the_night_does_not_count():
    """21 CFR 803.50(a) read on a given night: only a report already submitted by that night can
    meet the obligation (docs/vigilance.md: only records dated on or before the night count)."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death")],
        as_of="2026-03-15",
        dist=ship(("US", "2025-01-15")),
        subs=[sub("C1", "FDA", "initial", "2026-03-20")],
    )
    r = main(flags, "C1", "FDA_MDR")
    # due 2026-03-02 + 30 = 2026-04-01, night 2026-03-15 is before it, nothing submitted yet
    assert r["status"] == "open"


def test_us_event_without_death_injury_or_malfunction_still_gets_a_row():
    """21 CFR 803.50(a) and 803.3 "MDR reportable event": no death, no serious injury and no
    malfunction means nothing to report, and the complaint is still listed as not reportable."""
    flags = run(
        [version("C1", "2026-03-02", outcome="none", malfunction=False)],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["reportable"] is False
    assert r["rule"] == "NOT_REPORTABLE"
    assert r["status"] == "not_reportable"
    assert r["due_date"] is None


def test_later_version_after_the_night_is_not_known_yet():
    """21 CFR 803.3 "become aware": information that has not reached the manufacturer by the
    night cannot start a clock on that night."""
    flags = run(
        [
            version("C1", "2026-03-02", outcome="none"),
            version("C1", "2026-03-02", at="2026-03-20", outcome="death"),
        ],
        as_of="2026-03-15",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["status"] == "not_reportable"


# =============================================================================================
# Day 0: escalation, doubt runs and downgrades
# =============================================================================================


def test_escalation_day_zero_is_the_version_that_carried_the_death():
    """21 CFR 803.3 "become aware" and 803.50(a): the clock starts when the manufacturer first
    has information reasonably suggesting a death, not when the complaint first arrived."""
    flags = run(
        [
            version("C1", "2026-03-02", outcome="none", malfunction=True, problem=MINOR_CODE),
            version(
                "C1",
                "2026-03-02",
                at="2026-03-16",
                outcome="death",
                malfunction=True,
                problem=MINOR_CODE,
            ),
        ],
        as_of="2026-03-20",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    # version 2 reached the firm 2026-03-16: day 0; the receipt 2026-03-02 is not day 0
    assert r["day_zero"] == D("2026-03-16")
    # 2026-03-16 + 30 calendar days = 2026-04-15
    assert r["due_date"] == D("2026-04-15")
    assert r["status"] == "open"


def test_escalation_in_the_eu_counts_10_days_from_the_death_version():
    """MDR Art. 87(5) and MDCG 2023-3 (awareness): a death is reported no later than 10 days
    after the manufacturer becomes aware of it, which is when the version carrying it arrived."""
    flags = run(
        [
            version("C1", "2026-03-02", country="DE", outcome="none"),
            version("C1", "2026-03-02", at="2026-03-16", country="DE", outcome="death"),
        ],
        as_of="2026-03-20",
        dist=ship(("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["rule"] == "EU_87_5_10D"
    assert r["authority"] == "EU:DE"
    assert r["day_zero"] == D("2026-03-16")
    # 2026-03-16 + 10 days = 2026-03-26
    assert r["due_date"] == D("2026-03-26")


def test_escalation_from_unknown_outcome_moves_day_zero_back_to_the_doubt():
    """MDR Art. 87(7) and 21 CFR 803.3 "become aware": information that potentially makes the
    event reportable starts the clock, so day 0 is the start of the unbroken run of unknown-outcome
    versions that preceded the death."""
    flags = run(
        [
            version("C1", "2026-03-02", outcome="unknown"),
            version("C1", "2026-03-02", at="2026-03-09", outcome="unknown"),
            version("C1", "2026-03-02", at="2026-03-16", outcome="death"),
        ],
        as_of="2026-03-20",
        dist=ship(("US", "2025-01-15"), ("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert r["day_zero"] == D("2026-03-02")
    # 2026-03-02 + 30 = 2026-04-01 (not 2026-03-16 + 30 = 2026-04-15)
    assert r["due_date"] == D("2026-04-01")
    assert r["status"] == "open"


def test_escalation_from_unknown_outcome_in_the_eu_runs_10_days_from_the_doubt():
    """MDR Art. 87(5) and 87(7): a potential death is reported within 10 days of awareness even
    when uncertain, so the 10 days run from the first unknown-outcome version."""
    flags = run(
        [
            version("C1", "2026-03-02", country="DE", outcome="unknown"),
            version("C1", "2026-03-02", at="2026-03-09", country="DE", outcome="death"),
        ],
        as_of="2026-03-10",
        dist=ship(("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["rule"] == "EU_87_5_10D"
    assert r["day_zero"] == D("2026-03-02")
    # 2026-03-02 + 10 = 2026-03-12
    assert r["due_date"] == D("2026-03-12")


def test_a_known_non_serious_outcome_breaks_the_doubt_run():
    """21 CFR 803.3 "become aware": once the outcome is known to be none, nothing reasonably
    suggested a reportable event until the later death, so day 0 is the death version."""
    flags = run(
        [
            version("C1", "2026-03-02", outcome="unknown"),
            version("C1", "2026-03-02", at="2026-03-05", outcome="none"),
            version("C1", "2026-03-02", at="2026-03-16", outcome="death"),
        ],
        as_of="2026-03-20",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["day_zero"] == D("2026-03-16")
    # 2026-03-16 + 30 = 2026-04-15
    assert r["due_date"] == D("2026-04-15")


def test_doubt_resolved_to_no_harm_before_any_clock_ends_is_not_reportable():
    """21 CFR 803.50(a) and MDR Art. 87(7): the outcome became known as "none" three days after
    receipt, before any plausible deadline, so no report is due."""
    flags = run(
        [
            version("C1", "2026-03-02", outcome="unknown"),
            version("C1", "2026-03-02", at="2026-03-05", outcome="none"),
        ],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["status"] == "not_reportable"


def test_downgrade_keeps_the_obligation_and_says_when():
    """21 CFR 803.50(a) and MDCG 2023-3 (final non-reportable report): an obligation that arose
    with a reported death stays on record when a later version drops the death."""
    flags = run(
        [
            version("C1", "2026-03-02", outcome="death"),
            version("C1", "2026-03-02", at="2026-03-10", outcome="none"),
        ],
        as_of="2026-04-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert r["day_zero"] == D("2026-03-02")
    # 2026-03-02 + 30 = 2026-04-01, night 2026-04-10, no submission
    assert r["due_date"] == D("2026-04-01")
    assert r["downgraded_on"] == D("2026-03-10")
    assert r["status"] == "overdue"


def test_downgrade_closed_by_an_eu_final_non_reportable_report():
    """MDR Art. 87(6) and MDCG 2023-3: after a downgrade the EU expects a final (non-reportable)
    report, and one submitted to the competent authority within the clock meets the obligation."""
    flags = run(
        [
            version("C1", "2026-03-02", country="DE", outcome="death"),
            version("C1", "2026-03-02", at="2026-03-06", country="DE", outcome="none"),
        ],
        as_of="2026-03-20",
        dist=ship(("DE", "2025-01-15")),
        subs=[sub("C1", "EU:DE", "final_non_reportable", "2026-03-09")],
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["rule"] == "EU_87_5_10D"
    # 2026-03-02 + 10 = 2026-03-12; submitted 2026-03-09
    assert r["due_date"] == D("2026-03-12")
    assert r["downgraded_on"] == D("2026-03-06")
    assert r["status"] == "submitted_on_time"


def test_downgrade_closed_by_a_persons_recorded_no():
    """21 CFR 803.20(c)(2) and 803.17 (documented MDR decisions): a person may conclude, with a
    recorded rationale, that the event is not reportable; the flag shows who and when."""
    flags = run(
        [
            version("C1", "2026-03-02", outcome="death"),
            version("C1", "2026-03-02", at="2026-03-10", outcome="none"),
        ],
        as_of="2026-03-20",
        dist=ship(("US", "2025-01-15")),
        dets=[det("reportability", "C1", "no", "2026-03-12", by="Dr. A. Reviewer")],
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["status"] == "decided_not_reportable"
    assert r["decided_by"] == "Dr. A. Reviewer"
    assert r["decided_on"] == D("2026-03-12")
    assert r["downgraded_on"] == D("2026-03-10")


# =============================================================================================
# Each authority is its own obligation
# =============================================================================================


def test_eu_submission_does_not_satisfy_fda():
    """21 CFR 803.50(a) and MDR Art. 87(1): each authority must receive its own report; a report
    to the German competent authority is not a report to FDA."""
    flags = run(
        [version("C1", "2026-03-02", country="DE", outcome="death")],
        as_of="2026-04-10",
        dist=ship(("DE", "2025-01-15"), ("US", "2025-01-15")),
        subs=[sub("C1", "EU:DE", "initial", "2026-03-05")],
    )
    eu = main(flags, "C1", "EU_MDR")
    # EU: 2026-03-02 + 10 = 2026-03-12, submitted 2026-03-05
    assert eu["due_date"] == D("2026-03-12")
    assert eu["status"] == "submitted_on_time"
    # FDA (same model marketed in the US, 803.3 "MDR reportable event"): 03-02 + 30 = 04-01
    fda = main(flags, "C1", "FDA_MDR")
    assert fda["due_date"] == D("2026-04-01")
    assert fda["status"] == "overdue"


def test_eu_report_to_another_member_state_does_not_satisfy():
    """MDR Art. 87(1): the report goes to the competent authority of the member state where the
    incident occurred; a report to France does not meet an incident in Germany."""
    flags = run(
        [version("C1", "2026-03-02", country="DE", outcome="death")],
        as_of="2026-03-20",
        dist=ship(("DE", "2025-01-15"), ("FR", "2025-01-15")),
        subs=[sub("C1", "EU:FR", "initial", "2026-03-05")],
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["authority"] == "EU:DE"
    # 2026-03-02 + 10 = 2026-03-12 < night 2026-03-20
    assert r["status"] == "overdue"


def test_fda_report_does_not_satisfy_health_canada():
    """SOR/98-282 s. 59(1) and 60(1)(a): a death in Canada is reported to the Minister within 10
    days; a report to FDA is not a report to Health Canada."""
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                country="CA",
                outcome="death",
                malfunction=True,
                problem=MINOR_CODE,
            )
        ],
        as_of="2026-03-20",
        dist=ship(("CA", "2025-01-15"), ("US", "2025-01-15")),
        subs=[sub("C1", "FDA", "initial", "2026-03-05")],
    )
    hc = main(flags, "C1", "HC_CMDR")
    assert hc["rule"] == "HC_CMDR_60_10D"
    assert hc["authority"] == "HC"
    # 2026-03-02 + 10 = 2026-03-12 < night 2026-03-20
    assert hc["due_date"] == D("2026-03-12")
    assert hc["status"] == "overdue"
    fda = main(flags, "C1", "FDA_MDR")
    assert fda["status"] == "submitted_on_time"


def test_legacy_reported_date_satisfies_no_authority_by_default():
    """21 CFR 803.50(a) and the data contract: the legacy reported_date names no authority, so it
    does not show that FDA received a report; it is shown, not counted."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death", reported="2026-03-05")],
        as_of="2026-04-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["legacy_reported_date"] == D("2026-03-05")
    # 2026-03-02 + 30 = 2026-04-01 < night 2026-04-10
    assert r["status"] == "overdue"


def test_legacy_reported_date_satisfies_a_regime_when_configured():
    """21 CFR 803.50(a) with the firm's configured reading of its legacy field: when the firm
    states the legacy date means a report to FDA, it meets FDA and only FDA."""
    flags = run(
        [version("C1", "2026-03-02", country="DE", outcome="death", reported="2026-03-05")],
        as_of="2026-04-10",
        dist=ship(("DE", "2025-01-15"), ("US", "2025-01-15")),
        legacy_reported_date_satisfies=frozenset({"FDA_MDR"}),
    )
    fda = main(flags, "C1", "FDA_MDR")
    # due 2026-04-01, legacy date 2026-03-05
    assert fda["status"] == "submitted_on_time"
    eu = main(flags, "C1", "EU_MDR")
    # EU due 2026-03-02 + 10 = 2026-03-12, nothing submitted to EU:DE
    assert eu["status"] == "overdue"


# =============================================================================================
# Doubt means report (MDR Art. 87(7); 21 CFR 803.3 "become aware")
# =============================================================================================


def test_unknown_outcome_in_the_us_is_undetermined_on_30_days():
    """21 CFR 803.3 "become aware" and 803.50(a): information that may indicate a death or
    serious injury starts the 30-day clock until a person decides; the longest US clock is 30."""
    flags = run(
        [version("C1", "2026-03-02", outcome="unknown")],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["status"] == "undetermined"
    assert r["rule"] == "FDA_803_50_30D"
    # 2026-03-02 + 30 = 2026-04-01
    assert r["due_date"] == D("2026-04-01")


def test_unknown_outcome_in_the_eu_is_undetermined_on_10_days():
    """MDR Art. 87(7) with 87(5): if uncertain, report within the timeframe, and a possible death
    has the 10-day timeframe."""
    flags = run(
        [version("C1", "2026-03-02", country="DE", outcome="unknown")],
        as_of="2026-03-05",
        dist=ship(("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["status"] == "undetermined"
    assert r["rule"] == "EU_87_5_10D"
    # 2026-03-02 + 10 = 2026-03-12
    assert r["due_date"] == D("2026-03-12")


def test_unknown_outcome_in_canada_is_undetermined_on_10_days():
    """SOR/98-282 s. 60(1)(a): a device failure that may have led to a death or serious
    deterioration is reported within 10 days; unknown outcome takes that shortest clock."""
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                country="CA",
                outcome="unknown",
                malfunction=True,
                problem=MINOR_CODE,
            )
        ],
        as_of="2026-03-05",
        dist=ship(("CA", "2025-01-15")),
    )
    r = main(flags, "C1", "HC_CMDR")
    assert r["status"] == "undetermined"
    assert r["rule"] == "HC_CMDR_60_10D"
    # 2026-03-02 + 10 = 2026-03-12
    assert r["due_date"] == D("2026-03-12")


@pytest.mark.parametrize("problem", [None, UNKNOWN_CODE], ids=["empty_code", "unlisted_code"])
def test_malfunction_of_unknown_kind_in_the_us_is_undetermined(problem):
    """21 CFR 803.50(a)(2): a malfunction is reportable when it would be likely to cause a death
    or serious injury if it recurred; with no code, or one the risk file does not list, that
    cannot be ruled out, so it is undetermined on the 30-day clock."""
    flags = run(
        [version("C1", "2026-03-02", outcome="none", malfunction=True, problem=problem)],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["status"] == "undetermined"
    assert r["rule"] == "FDA_803_50_30D"
    # 2026-03-02 + 30 = 2026-04-01
    assert r["due_date"] == D("2026-04-01")


def test_malfunction_with_empty_code_in_the_eu_is_undetermined_on_15_days():
    """MDR Art. 2(65) ("might have led or might lead to") with 87(3) and 87(7): a malfunction of
    unknown kind may be a serious incident; uncertain, it is reported within 15 days."""
    flags = run(
        [version("C1", "2026-03-02", country="DE", outcome="none", malfunction=True)],
        as_of="2026-03-05",
        dist=ship(("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["status"] == "undetermined"
    assert r["rule"] == "EU_87_3_15D"
    # 2026-03-02 + 15 = 2026-03-17
    assert r["due_date"] == D("2026-03-17")


def test_malfunction_of_a_severity_2_hazard_is_not_reportable_to_fda():
    """21 CFR 803.50(a)(2): a malfunction whose only foreseen harm is negligible (severity 2 in
    the risk file) would not be likely to cause a death or serious injury if it recurred."""
    flags = run(
        [version("C1", "2026-03-02", outcome="none", malfunction=True, problem=MINOR_CODE)],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["reportable"] is False
    assert r["status"] == "not_reportable"


def test_malfunction_of_a_severity_2_hazard_in_the_eu_goes_to_trend_reporting():
    """MDR Art. 87(1)(a) and Art. 88: an incident that is not serious is not reported one by one
    but counted for trend reporting."""
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                country="DE",
                outcome="none",
                malfunction=True,
                problem=MINOR_CODE,
            )
        ],
        as_of="2026-03-10",
        dist=ship(("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["reportable"] is False
    assert r["status"] == "not_reportable"
    assert r["rule"] == "EU_88_TREND"


def test_a_persons_yes_turns_doubt_into_a_definite_obligation():
    """21 CFR 803.50(a): once a person decides the event is reportable, the 30-day report is
    simply due; it is no longer undetermined."""
    flags = run(
        [version("C1", "2026-03-02", outcome="unknown")],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
        dets=[det("reportability", "C1", "yes", "2026-03-05")],
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["status"] == "open"
    # 2026-03-02 + 30 = 2026-04-01
    assert r["due_date"] == D("2026-04-01")


# =============================================================================================
# Countries with no encoded regime, US territories, EEA geography
# =============================================================================================


@pytest.mark.parametrize("country", ["GB", "CH", "JP", "AU", "TR"])
def test_event_in_a_country_with_no_encoded_regime_is_listed_to_assess_locally(country):
    """UK MDR 2002 Part 4A (from 2025-06-16), Swiss MedDO art. 66, Türkiye's medical device
    regulation, Australia's Therapeutic Goods (Medical Devices) Regulations, Japan's PMD Act:
    each has its own clock; with none encoded a serious event is listed to assess locally."""
    flags = run(
        [version("C1", "2026-03-02", country=country, outcome="death")],
        as_of="2026-03-05",
        dist=ship((country, "2025-01-15")),
    )
    r = main(flags, "C1", "NONE_ENCODED")
    assert r["rule"] == "ASSESS_LOCALLY"
    assert r["status"] == "undetermined"
    # Never marketed in the US, EEA or Canada: no FDA, EU or HC obligation.
    for regime in ("FDA_MDR", "EU_MDR", "HC_CMDR"):
        no_obligation(flags, "C1", regime)


def test_non_serious_event_in_a_country_with_no_encoded_regime_is_listed_not_reportable():
    """PMD Act (Japan) is not encoded: a complaint with no harm and no malfunction is still
    listed, as not reportable, and never dropped."""
    flags = run(
        [version("C1", "2026-03-02", country="JP", outcome="none")],
        as_of="2026-03-05",
        dist=ship(("JP", "2025-01-15")),
    )
    r = main(flags, "C1", "NONE_ENCODED")
    assert r["rule"] == "ASSESS_LOCALLY"
    assert r["status"] == "not_reportable"


def test_gb_event_with_a_us_marketed_product_code_also_gets_an_fda_row():
    """21 CFR 803.3 "MDR reportable event" (a device the same as or similar to one marketed in
    the US) and 803.50(a): a death in Great Britain is reportable to FDA too, besides the UK
    assessment."""
    flags = run(
        [version("C1", "2026-03-02", country="GB", model="P-200", outcome="death")],
        as_of="2026-03-05",
        dist=ship(("P-100", "US", "2025-06-01"), ("P-200", "GB", "2025-06-01")),
        products=[product("P-100"), product("P-200")],
    )
    assert main(flags, "C1", "NONE_ENCODED")["rule"] == "ASSESS_LOCALLY"
    fda = main(flags, "C1", "FDA_MDR")
    assert fda["rule"] == "FDA_803_50_30D"
    # 2026-03-02 + 30 = 2026-04-01
    assert fda["due_date"] == D("2026-04-01")


@pytest.mark.parametrize("country", ["US", "PR", "GU", "VI"])
def test_event_in_the_us_or_a_territory_is_fda_even_if_never_shipped_there(country):
    """21 CFR 803.3 "United States" includes the territories, and 803.50(a) applies to any
    reportable event there, whether or not the firm's records show a shipment to that place."""
    flags = run(
        [version("C1", "2026-03-02", country=country, outcome="death")],
        as_of="2026-03-05",
        dist=ship(("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert r["authority"] == "FDA"
    # 2026-03-02 + 30 = 2026-04-01
    assert r["due_date"] == D("2026-04-01")


@pytest.mark.parametrize("country", ["RE", "GF", "MQ"])
def test_incident_in_a_french_outermost_region_is_reported_to_france(country):
    """TFEU Art. 349/355(1) (outermost regions are Union territory) with MDR Art. 87(1) and 87(5):
    a death in Réunion, French Guiana or Martinique goes to the French competent authority within
    10 days."""
    flags = run(
        [version("C1", "2026-03-02", country=country, outcome="death")],
        as_of="2026-03-05",
        dist=ship((country, "2025-01-15")),
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["authority"] == "EU:FR"
    assert r["rule"] == "EU_87_5_10D"
    # 2026-03-02 + 10 = 2026-03-12
    assert r["due_date"] == D("2026-03-12")


@pytest.mark.parametrize(
    ("country", "authority"), [("AX", "EU:FI"), ("NO", "EU:NO"), ("IS", "EU:IS")]
)
def test_incident_in_aland_or_the_eea_efta_states(country, authority):
    """MDR Art. 87(1) (EEA-relevant text, EEA Agreement Annex II) and TFEU Art. 355(4) (Åland is
    part of Finland): the report goes to the competent authority of the state of the incident."""
    flags = run(
        [version("C1", "2026-03-02", country=country, outcome="death")],
        as_of="2026-03-05",
        dist=ship((country, "2025-01-15")),
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["authority"] == authority
    # 2026-03-02 + 10 = 2026-03-12
    assert r["due_date"] == D("2026-03-12")


def test_eu_incident_with_a_device_never_made_available_in_the_eea():
    """MDR Art. 87(1)(a): the duty covers serious incidents involving devices made available on
    the Union market; a model the firm never shipped to any EEA state is outside it."""
    # LAW-VS-DOC (resolved: the doc now follows the law). docs/vigilance.md first said
    # "Which authorities" puts every EEA event under EU_MDR with
    # no condition that the device was made available on the Union market; Art. 87(1) has one.
    flags = run(
        [version("C1", "2026-03-02", country="DE", outcome="death")],
        as_of="2026-03-20",
        dist=ship(("US", "2025-01-15")),
    )
    no_obligation(flags, "C1", "EU_MDR")
    # The FDA obligation (model marketed in the US) still stands.
    assert main(flags, "C1", "FDA_MDR")["rule"] == "FDA_803_50_30D"


# =============================================================================================
# Same or similar device marketed in the US (21 CFR 803.3 "MDR reportable event")
# =============================================================================================

SIMILAR_PRODUCTS = [product("P-100"), product("P-200"), product("P-300", code="LZG")]


def test_foreign_event_with_same_product_code_marketed_in_the_us_is_fda():
    """21 CFR 803.3 "MDR reportable event": an event abroad is reportable when it involves a
    device similar to one the manufacturer markets in the US; same product code, shipped there
    before the complaint arrived."""
    flags = run(
        [version("C1", "2026-03-02", country="JP", model="P-200", outcome="death")],
        as_of="2026-03-05",
        dist=ship(("P-100", "US", "2025-06-01"), ("P-200", "JP", "2025-06-01")),
        products=SIMILAR_PRODUCTS,
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    # 2026-03-02 + 30 = 2026-04-01
    assert r["due_date"] == D("2026-04-01")
    assert main(flags, "C1", "NONE_ENCODED")["rule"] == "ASSESS_LOCALLY"


def test_similar_device_first_shipped_to_the_us_after_receipt_does_not_count():
    """21 CFR 803.3 "MDR reportable event": the similar device must be marketed in the US when
    the manufacturer becomes aware; a first US shipment a month later does not reach back."""
    flags = run(
        [version("C1", "2026-03-02", country="JP", model="P-200", outcome="death")],
        as_of="2026-04-10",
        dist=ship(("P-100", "US", "2026-04-01"), ("P-200", "JP", "2025-06-01")),
        products=SIMILAR_PRODUCTS,
    )
    no_obligation(flags, "C1", "FDA_MDR")


def test_similar_device_read_as_same_model_only():
    """21 CFR 803.3 "MDR reportable event" under the firm's configured reading of "similar"
    (same model only): P-200 itself was never marketed in the US, so no FDA obligation."""
    flags = run(
        [version("C1", "2026-03-02", country="JP", model="P-200", outcome="death")],
        as_of="2026-03-05",
        dist=ship(("P-100", "US", "2025-06-01"), ("P-200", "JP", "2025-06-01")),
        products=SIMILAR_PRODUCTS,
        fda_similar_device="model",
    )
    no_obligation(flags, "C1", "FDA_MDR")


def test_other_product_code_in_the_family_is_not_similar_by_default():
    """21 CFR 803.3 "MDR reportable event" with similarity read as the same FDA product code: a
    family member under another product code (LZG) is not the same kind of device."""
    flags = run(
        [version("C1", "2026-03-02", country="JP", model="P-200", outcome="death")],
        as_of="2026-03-05",
        dist=ship(("P-300", "US", "2025-06-01"), ("P-200", "JP", "2025-06-01")),
        products=SIMILAR_PRODUCTS,
    )
    no_obligation(flags, "C1", "FDA_MDR")


def test_other_product_code_in_the_family_is_similar_when_configured_by_family():
    """21 CFR 803.3 "MDR reportable event" with similarity configured as the device family: a
    family member marketed in the US makes the foreign death reportable to FDA."""
    flags = run(
        [version("C1", "2026-03-02", country="JP", model="P-200", outcome="death")],
        as_of="2026-03-05",
        dist=ship(("P-300", "US", "2025-06-01"), ("P-200", "JP", "2025-06-01")),
        products=SIMILAR_PRODUCTS,
        fda_similar_device="family",
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert r["due_date"] == D("2026-04-01")  # 2026-03-02 + 30


# =============================================================================================
# People's determinations: 5-day reports, public-health threats, "no", causality
# =============================================================================================


def test_remedial_action_five_work_days_skip_weekend_and_observed_independence_day():
    """21 CFR 803.53(a) and 803.3 "work day": after a person with management responsibility
    decides remedial action is needed, a 5-day report is due within 5 work days, Monday to Friday
    except federal holidays."""
    flags = run(
        [version("C1", "2026-06-22", outcome="death")],
        as_of="2026-06-30",
        dist=ship(("US", "2025-01-15")),
        dets=[det("remedial_action_required", "C1", "yes", "2026-06-29")],
    )
    r = by_rule(flags, "C1", "FDA_803_53_5D")
    assert r["regime"] == "FDA_MDR"
    assert r["report_kind"] == "five_day"
    assert r["day_zero"] == D("2026-06-29")
    # decided Mon 06-29: Tue 06-30 (1), Wed 07-01 (2), Thu 07-02 (3), Fri 07-03 observed
    # Independence Day skipped, Sat 07-04 / Sun 07-05 skipped, Mon 07-06 (4), Tue 07-07 (5)
    assert r["due_date"] == D("2026-07-07")
    assert r["status"] == "open"


def test_remedial_action_five_work_days_skip_thanksgiving():
    """21 CFR 803.53(a) and 803.3 "work day": Thanksgiving (fourth Thursday of November) is a
    federal holiday and does not count; the Friday after it does."""
    flags = run(
        [version("C1", "2026-11-16", outcome="death")],
        as_of="2026-11-24",
        dist=ship(("US", "2025-01-15")),
        dets=[det("remedial_action_required", "C1", "yes", "2026-11-23")],
    )
    r = by_rule(flags, "C1", "FDA_803_53_5D")
    # decided Mon 11-23: Tue 11-24 (1), Wed 11-25 (2), Thu 11-26 Thanksgiving skipped,
    # Fri 11-27 (3), Sat/Sun skipped, Mon 11-30 (4), Tue 12-01 (5)
    assert r["due_date"] == D("2026-12-01")


def test_remedial_action_five_work_days_over_a_plain_weekend():
    """21 CFR 803.53(a) and 803.3 "work day": a Saturday and Sunday are not work days."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death")],
        as_of="2026-03-13",
        dist=ship(("US", "2025-01-15")),
        dets=[det("remedial_action_required", "C1", "yes", "2026-03-12")],
    )
    r = by_rule(flags, "C1", "FDA_803_53_5D")
    # decided Thu 03-12: Fri 03-13 (1), Sat/Sun skipped, Mon 03-16 (2), Tue 03-17 (3),
    # Wed 03-18 (4), Thu 03-19 (5)
    assert r["due_date"] == D("2026-03-19")


def test_fda_written_request_is_a_five_day_report_skipping_memorial_day():
    """21 CFR 803.53(b): after FDA asks in writing for 5-day reports, one is due within 5 work
    days; Memorial Day (last Monday of May) is a federal holiday."""
    flags = run(
        [version("C1", "2026-05-18", outcome="none", malfunction=True, problem=SERIOUS_CODE)],
        as_of="2026-05-21",
        dist=ship(("US", "2025-01-15")),
        dets=[det("fda_request", "C1", "yes", "2026-05-20")],
    )
    r = by_rule(flags, "C1", "FDA_803_53_5D")
    assert r["day_zero"] == D("2026-05-20")
    # decided Wed 05-20: Thu 05-21 (1), Fri 05-22 (2), Sat/Sun skipped, Mon 05-25 Memorial Day
    # skipped, Tue 05-26 (3), Wed 05-27 (4), Thu 05-28 (5)
    assert r["due_date"] == D("2026-05-28")


def test_serious_public_health_threat_is_due_in_two_days():
    """MDR Art. 87(4) with Art. 2(66): a serious public health threat is reported immediately and
    not later than 2 days after the manufacturer becomes aware of the threat."""
    flags = run(
        [
            version(
                "C1",
                "2026-05-04",
                country="DE",
                outcome="none",
                malfunction=True,
                problem=SERIOUS_CODE,
            )
        ],
        as_of="2026-05-06",
        dist=ship(("DE", "2025-01-15")),
        dets=[det("serious_public_health_threat", "C1", "yes", "2026-05-05")],
    )
    r = by_rule(flags, "C1", "EU_87_4_2D")
    assert r["regime"] == "EU_MDR"
    assert r["authority"] == "EU:DE"
    assert r["day_zero"] == D("2026-05-05")
    # decided 2026-05-05 + 2 days = 2026-05-07
    assert r["due_date"] == D("2026-05-07")
    assert r["status"] == "open"


def test_reportability_no_against_a_death_is_decided_not_reportable():
    """21 CFR 803.20(c)(2) and 803.18(b)(1)(i): the firm may conclude, documenting who decided and
    why, that a death is not reportable; it is listed for second review, not as late."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death")],
        as_of="2026-04-10",
        dist=ship(("US", "2025-01-15")),
        dets=[det("reportability", "C1", "no", "2026-03-06", by="Dr. B. Safety")],
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["status"] == "decided_not_reportable"
    assert r["decided_by"] == "Dr. B. Safety"
    assert r["decided_on"] == D("2026-03-06")
    assert r["decision_rationale"]


def test_reportability_no_recorded_on_the_complaint_itself():
    """21 CFR 803.18(b)(1)(i): the MDR decision recorded on the complaint ("no") is a person's
    decision that the death is not reportable, for second review."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death", decision="no")],
        as_of="2026-04-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["status"] == "decided_not_reportable"


def test_later_reportability_yes_supersedes_an_earlier_no():
    """21 CFR 803.50(a) and the determinations contract (latest decision on the same subject and
    kind governs): a later "yes" reopens the 30-day obligation."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death")],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
        dets=[
            det("reportability", "C1", "no", "2026-03-04"),
            det("reportability", "C1", "yes", "2026-03-08"),
        ],
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["status"] == "open"
    # 2026-03-02 + 30 = 2026-04-01
    assert r["due_date"] == D("2026-04-01")


def test_determination_dated_after_the_night_does_not_count():
    """21 CFR 803.50(a) on a given night: a "no" recorded after that night was not yet a decision
    on it, so the death is still an open obligation."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death")],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
        dets=[det("reportability", "C1", "no", "2026-03-12")],
    )
    assert main(flags, "C1", "FDA_MDR")["status"] == "open"


def test_causality_unrelated_on_a_death_without_malfunction():
    """21 CFR 803.20(c)(2): when a qualified person concludes the device did not cause or
    contribute to the death, and the device did not malfunction, nothing is reportable."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death", malfunction=False)],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
        dets=[det("causality", "C1", "unrelated", "2026-03-05", by="Dr. C. Medic")],
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["status"] == "decided_not_reportable"
    assert r["decided_by"] == "Dr. C. Medic"


def test_causality_unrelated_recorded_on_the_complaint_itself():
    """21 CFR 803.20(c)(2): the complaint's own causality "unrelated" is the same conclusion; a
    death without malfunction is then not reportable, for second review."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death", causality="unrelated")],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
    )
    assert main(flags, "C1", "FDA_MDR")["status"] == "decided_not_reportable"


def test_causality_unrelated_on_a_death_with_a_serious_malfunction_is_still_reportable():
    """21 CFR 803.50(a)(2): the malfunction is reportable on its own when it would be likely to
    cause a death or serious injury if it recurred, whatever caused this patient's death."""
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                outcome="death",
                malfunction=True,
                problem=SERIOUS_CODE,
            )
        ],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
        dets=[det("causality", "C1", "unrelated", "2026-03-05")],
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert r["reportable"] is True
    assert "serious_malfunction" in criteria(r)
    assert "death" not in criteria(r)
    # 2026-03-02 + 30 = 2026-04-01
    assert r["due_date"] == D("2026-04-01")
    assert r["status"] == "open"


# =============================================================================================
# Serious malfunction (21 CFR 803.50(a)(2); FDA MDR guidance for manufacturers, 2016)
# =============================================================================================


def test_serious_malfunction_child_code_of_a_severity_5_hazard():
    """21 CFR 803.50(a)(2): a malfunction of a kind the risk file rates catastrophic would be
    likely to cause death or serious injury if it recurred; A070104 is a child of A0701."""
    flags = run(
        [version("C1", "2026-03-02", outcome="none", malfunction=True, problem="A070104")],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert r["status"] == "open"
    assert "serious_malfunction" in criteria(r)
    assert mentions(r, "H-SER", SERIOUS_CODE)
    # 2026-03-02 + 30 = 2026-04-01
    assert r["due_date"] == D("2026-04-01")


def test_serious_malfunction_parent_code_may_be_the_serious_one():
    """21 CFR 803.50(a)(2) with 803.3 "become aware" (information that reasonably suggests): a
    code only as specific as A07 may be the catastrophic A0701, so the malfunction is on the
    30-day clock."""
    flags = run(
        [version("C1", "2026-03-02", outcome="none", malfunction=True, problem="A07")],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert r["status"] in {"open", "undetermined"}
    # 2026-03-02 + 30 = 2026-04-01
    assert r["due_date"] == D("2026-04-01")


def test_serious_malfunction_of_a_long_term_implant():
    """FDA MDR guidance for manufacturers (2016), reportable malfunctions: FDA considers a
    malfunction of a long-term implant reportable (21 CFR 803.50(a)(2)), even of a minor kind."""
    flags = run(
        [version("C1", "2026-03-02", outcome="none", malfunction=True, problem=MINOR_CODE)],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
        products=[product(implantable=True)],
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert "serious_malfunction" in criteria(r)
    assert mentions(r, "implant")
    assert r["due_date"] == D("2026-04-01")  # 2026-03-02 + 30


def test_serious_malfunction_of_a_life_supporting_device():
    """FDA MDR guidance for manufacturers (2016), reportable malfunctions: a malfunction of a
    life-supporting or life-sustaining device is reportable under 21 CFR 803.50(a)(2)."""
    flags = run(
        [version("C1", "2026-03-02", outcome="none", malfunction=True, problem=MINOR_CODE)],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
        life_supporting_families=frozenset({FAMILY}),
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert mentions(r, "life")
    assert r["due_date"] == D("2026-04-01")  # 2026-03-02 + 30


def test_serious_malfunction_loss_of_essential_function():
    """FDA MDR guidance for manufacturers (2016), reportable malfunctions: a malfunction that
    makes the device fail to perform its essential function is reportable (803.50(a)(2))."""
    flags = run(
        [version("C1", "2026-03-02", outcome="none", malfunction=True, problem=MINOR_CODE)],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
        essential_function_codes={FAMILY: frozenset({MINOR_CODE})},
    )
    r = main(flags, "C1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert mentions(r, "essential")
    assert r["due_date"] == D("2026-04-01")  # 2026-03-02 + 30


def test_serious_malfunction_of_a_type_that_already_caused_a_death():
    """FDA MDR guidance for manufacturers (2016), "likely to cause or contribute": once a
    malfunction of a type has caused or contributed to a death, FDA presumes it would do so again
    (21 CFR 803.50(a)(2))."""
    flags = run(
        [
            version(
                "C-HIST",
                "2026-01-12",
                outcome="death",
                malfunction=True,
                problem=MINOR_CODE,
            ),
            version("C2", "2026-03-02", outcome="none", malfunction=True, problem=MINOR_CODE),
        ],
        as_of="2026-03-10",
        dist=ship(("US", "2025-01-15")),
    )
    r = main(flags, "C2", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert "serious_malfunction" in criteria(r)
    assert mentions(r, "C-HIST", "already", "history", "previous", "prior", "earlier")
    # 2026-03-02 + 30 = 2026-04-01
    assert r["due_date"] == D("2026-04-01")


def test_death_presumption_lapses_after_two_years_without_another():
    """FDA MDR guidance for manufacturers (2016), "likely to cause or contribute" (the two-year
    presumption): the presumption that a malfunction type would again cause a death lasts until it
    has caused no death or serious injury for two years."""
    # LAW-VS-DOC (resolved: the doc now follows the law). docs/vigilance.md first said
    # reason 5 ("has already caused ... a death or serious
    # injury in a complaint known on or before") has no time limit; the 2016 guidance lets the
    # presumption lapse after two years with no further death or serious injury. The earlier
    # death here reached the firm 2023-06-05, 2 years 9 months before this malfunction.
    flags = run(
        [
            version(
                "C-OLD",
                "2023-06-05",
                outcome="death",
                malfunction=True,
                problem=MINOR_CODE,
            ),
            version("C2", "2026-03-02", outcome="none", malfunction=True, problem=MINOR_CODE),
        ],
        as_of="2026-03-10",
        dist=ship(("US", "2023-01-16")),
    )
    r = main(flags, "C2", "FDA_MDR")
    assert r["reportable"] is False
    assert r["status"] == "not_reportable"


# =============================================================================================
# Voluntary Malfunction Summary Reporting (83 FR 40973)
# =============================================================================================


def vmsr_case(second: dict[str, Any], *, as_of: str, **kw: Any) -> pl.DataFrame:
    """A first malfunction of FRN/A0701 on 2026-04-06, then ``second``, opted in to VMSR."""
    first = version("V1", "2026-04-06", outcome="none", malfunction=True, problem=SERIOUS_CODE)
    kw.setdefault("fda_vmsr_participant", True)
    kw.setdefault("vmsr", (PCODE,))
    return run([first, second], as_of=as_of, dist=ship(("US", "2025-01-15")), **kw)


def test_vmsr_second_malfunction_of_its_kind_goes_into_the_quarterly_summary():
    """83 FR 40973, IV (summary format; submission schedule): a participating manufacturer may
    report a malfunction without death or serious injury of an eligible product code in the
    quarterly summary due the last day of the month after the quarter of awareness."""
    flags = vmsr_case(
        version("V2", "2026-05-12", outcome="none", malfunction=True, problem=SERIOUS_CODE),
        as_of="2026-05-20",
    )
    r = main(flags, "V2", "FDA_MDR")
    assert r["rule"] == "FDA_VMSR_QUARTERLY"
    assert r["day_zero"] == D("2026-05-12")
    # aware 2026-05-12, in Q2 (April-June) -> summary due 31 July 2026
    assert r["due_date"] == D("2026-07-31")
    assert r["status"] == "open"


def test_vmsr_first_malfunction_of_its_kind_is_an_individual_30_day_report():
    """83 FR 40973, IV (new types of reportable malfunctions): the first malfunction of a new type
    is reported individually within 30 days (21 CFR 803.50(a)); later ones may be summarised."""
    flags = vmsr_case(
        version("V2", "2026-05-12", outcome="none", malfunction=True, problem=SERIOUS_CODE),
        as_of="2026-04-10",
    )
    r = main(flags, "V1", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    # 2026-04-06 + 30 = 2026-05-06
    assert r["due_date"] == D("2026-05-06")
    assert mentions(r, "new", "first")


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2026-01-15", "2026-04-30"),  # Q1 (Jan-Mar) -> 30 April
        ("2026-09-30", "2026-10-31"),  # Q3 (Jul-Sep), last day of the quarter -> 31 October
        ("2026-11-10", "2027-01-31"),  # Q4 (Oct-Dec) -> 31 January of the next year
    ],
)
def test_vmsr_quarter_due_dates(received, due):
    """83 FR 40973, IV.F (submission schedule): summaries for malfunctions the manufacturer
    became aware of in a calendar quarter are due by 30 April, 31 July, 31 October and 31
    January."""
    first = version("V1", "2026-01-05", outcome="none", malfunction=True, problem=SERIOUS_CODE)
    second = version("V2", received, outcome="none", malfunction=True, problem=SERIOUS_CODE)
    flags = run(
        [first, second],
        as_of=received,
        dist=ship(("US", "2025-01-15")),
        vmsr=(PCODE,),
        fda_vmsr_participant=True,
    )
    r = main(flags, "V2", "FDA_MDR")
    assert r["rule"] == "FDA_VMSR_QUARTERLY"
    assert r["due_date"] == D(due)


def test_vmsr_excludes_a_five_day_event():
    """83 FR 40973, IV (conditions): a reportable event that requires a 5-day report under
    21 CFR 803.53 is reported individually, not in a summary."""
    flags = vmsr_case(
        version("V2", "2026-05-12", outcome="none", malfunction=True, problem=SERIOUS_CODE),
        as_of="2026-05-14",
        dets=[det("remedial_action_required", "V2", "yes", "2026-05-13")],
    )
    assert all(r["rule"] != "FDA_VMSR_QUARTERLY" for r in rows(flags, "V2"))
    r = by_rule(flags, "V2", "FDA_803_53_5D")
    # decided Wed 05-13: Thu 05-14 (1), Fri 05-15 (2), Mon 05-18 (3), Tue 05-19 (4), Wed 05-20 (5)
    assert r["due_date"] == D("2026-05-20")


def test_vmsr_excludes_a_malfunction_under_a_field_action():
    """83 FR 40973, IV (conditions): malfunctions that are the subject of certain recalls are
    reported individually, within 30 days (21 CFR 803.50(a))."""
    flags = vmsr_case(
        version("V2", "2026-05-12", outcome="none", malfunction=True, problem=SERIOUS_CODE),
        as_of="2026-05-20",
        dets=[det("fsca_decision", MODEL, "yes", "2026-05-01")],
    )
    r = main(flags, "V2", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    # 2026-05-12 + 30 = 2026-06-11
    assert r["due_date"] == D("2026-06-11")


def test_vmsr_never_summarises_a_death():
    """83 FR 40973, I-II (scope: malfunctions only) and 21 CFR 803.50(a)(1): a death is always
    an individual 30-day report."""
    flags = vmsr_case(
        version("V2", "2026-05-12", outcome="death", malfunction=True, problem=SERIOUS_CODE),
        as_of="2026-05-20",
    )
    r = main(flags, "V2", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert r["due_date"] == D("2026-06-11")  # 2026-05-12 + 30


def test_vmsr_not_used_when_the_firm_does_not_participate():
    """83 FR 40973 (a voluntary alternative under 21 CFR 803.19): without opting in, every
    reportable malfunction is an individual 30-day report."""
    flags = vmsr_case(
        version("V2", "2026-05-12", outcome="none", malfunction=True, problem=SERIOUS_CODE),
        as_of="2026-05-20",
        fda_vmsr_participant=False,
    )
    r = main(flags, "V2", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"
    assert r["due_date"] == D("2026-06-11")  # 2026-05-12 + 30


def test_vmsr_not_used_for_an_ineligible_product_code():
    """83 FR 40973, IV.A (eligible product codes): the program covers only product codes FDA
    marks eligible; FRN is not in the list here."""
    flags = vmsr_case(
        version("V2", "2026-05-12", outcome="none", malfunction=True, problem=SERIOUS_CODE),
        as_of="2026-05-20",
        vmsr=("LZG",),
    )
    r = main(flags, "V2", "FDA_MDR")
    assert r["rule"] == "FDA_803_50_30D"


# =============================================================================================
# Supplemental reports (21 CFR 803.56)
# =============================================================================================


def supplemental_case(*subs_: dict[str, Any], as_of: str, new_info_on: str = "2026-04-06"):
    return run(
        [
            version("C1", "2026-03-02", outcome="death"),
            version(
                "C1",
                "2026-03-02",
                at=new_info_on,
                outcome="death",
                malfunction=True,
                problem=MINOR_CODE,
            ),
        ],
        as_of=as_of,
        dist=ship(("US", "2025-01-15")),
        subs=[sub("C1", "FDA", "initial", "2026-03-20"), *subs_],
    )


def test_fda_supplemental_due_30_days_after_new_information():
    """21 CFR 803.56: information not known when the report was made is submitted as a
    supplemental report within 30 calendar days of receiving it."""
    flags = supplemental_case(as_of="2026-04-10")
    r = by_rule(flags, "C1", "FDA_803_56_30D")
    assert r["regime"] == "FDA_MDR"
    assert r["day_zero"] == D("2026-04-06")
    # new information 2026-04-06 + 30 = 2026-05-06
    assert r["due_date"] == D("2026-05-06")
    assert r["status"] == "open"
    assert main(flags, "C1", "FDA_MDR")["status"] == "submitted_on_time"


def test_fda_supplemental_met_by_a_supplemental_to_fda():
    """21 CFR 803.56: a supplemental report to FDA within the 30 days meets the obligation."""
    flags = supplemental_case(sub("C1", "FDA", "supplemental", "2026-04-20"), as_of="2026-05-10")
    r = by_rule(flags, "C1", "FDA_803_56_30D")
    assert r["status"] == "submitted_on_time"


def test_fda_supplemental_not_met_by_a_report_to_the_eu():
    """21 CFR 803.56: the supplemental goes to FDA; a follow-up to a European authority is not
    one."""
    flags = supplemental_case(sub("C1", "EU:DE", "supplemental", "2026-04-20"), as_of="2026-05-10")
    r = by_rule(flags, "C1", "FDA_803_56_30D")
    # due 2026-04-06 + 30 = 2026-05-06 < night 2026-05-10
    assert r["status"] == "overdue"


def test_no_supplemental_for_information_that_arrived_before_the_report():
    """21 CFR 803.56: only information not known or not available when the report was submitted
    calls for a supplemental; what arrived on 2026-03-10 belonged in the 2026-03-20 report."""
    flags = supplemental_case(as_of="2026-04-10", new_info_on="2026-03-10")
    assert all(r["rule"] != "FDA_803_56_30D" for r in rows(flags, "C1"))


# =============================================================================================
# European Union: 10 or 15 days (MDR Art. 87(3), 87(5); MDCG 2023-3)
# =============================================================================================


@pytest.mark.parametrize("health", [UNLISTED_EFFECT, None], ids=["unlisted_effect", "empty_effect"])
def test_eu_unanticipated_serious_deterioration_is_10_days(health):
    """MDR Art. 87(5) and MDCG 2023-3 ("unanticipated": not considered in the risk analysis): an
    unanticipated serious deterioration is reported within 10 days; a health effect the risk file
    does not list, or none recorded, cannot be shown to be anticipated."""
    flags = run(
        [version("C1", "2026-03-02", country="DE", outcome="serious_injury", health=health)],
        as_of="2026-03-05",
        dist=ship(("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["rule"] == "EU_87_5_10D"
    assert "unanticipated_serious_deterioration" in criteria(r)
    # 2026-03-02 + 10 = 2026-03-12
    assert r["due_date"] == D("2026-03-12")


def test_eu_anticipated_serious_deterioration_is_15_days():
    """MDR Art. 87(3): any other serious incident, here a serious deterioration whose health
    effect the risk analysis foresaw, is reported within 15 days."""
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                country="DE",
                outcome="serious_injury",
                health=LISTED_EFFECT,
            )
        ],
        as_of="2026-03-05",
        dist=ship(("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["rule"] == "EU_87_3_15D"
    # 2026-03-02 + 15 = 2026-03-17
    assert r["due_date"] == D("2026-03-17")


def test_hospitalisation_is_eu_serious_but_not_fda_serious():
    """MDCG 2023-3 ("serious deterioration" includes hospitalisation) with MDR Art. 87(3), versus
    21 CFR 803.3 "serious injury" (life-threatening, permanent, or intervention to preclude it):
    a hospitalised patient with a non-serious injury is an EU serious incident, and for FDA not a
    serious injury on its face but information that reasonably suggests one (803.50(a); 803.3
    "serious injury" (c): an intervention to preclude permanent impairment): in doubt until a
    person decides."""
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                country="DE",
                outcome="injury",
                hospitalised=True,
                health=LISTED_EFFECT,
            )
        ],
        as_of="2026-03-05",
        dist=ship(("DE", "2025-01-15"), ("US", "2025-01-15")),
    )
    eu = main(flags, "C1", "EU_MDR")
    assert eu["rule"] == "EU_87_3_15D"
    assert "serious_deterioration" in criteria(eu)
    # 2026-03-02 + 15 = 2026-03-17
    assert eu["due_date"] == D("2026-03-17")
    fda = main(flags, "C1", "FDA_MDR")
    # LAW-VS-DOC (resolved after an outside review): first written as "not reportable"; the
    # hospitalisation reasonably suggests an intervention, so doubt: undetermined, 30 days
    assert fda["status"] == "undetermined"
    assert "serious_injury" in fda["criteria_met"]
    # 2026-03-02 + 30 = 2026-04-01
    assert fda["due_date"] == D("2026-04-01")


def test_eu_serious_malfunction_without_harm_is_15_days():
    """MDR Art. 2(65) ("might have led or might lead to" death or serious deterioration) and
    87(3): a malfunction of a catastrophic-severity kind is a serious incident, 15 days."""
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                country="DE",
                outcome="none",
                malfunction=True,
                problem=SERIOUS_CODE,
            )
        ],
        as_of="2026-03-05",
        dist=ship(("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "EU_MDR")
    assert r["rule"] == "EU_87_3_15D"
    assert r["status"] == "open"
    assert r["due_date"] == D("2026-03-17")  # 2026-03-02 + 15


# =============================================================================================
# Canada (SOR/98-282 s. 59-61.2)
# =============================================================================================


def test_canada_death_is_a_10_day_preliminary_report():
    """SOR/98-282 s. 59(1) and 60(1)(a): an incident in Canada with a device failure that led to
    a death is reported within 10 days of awareness."""
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                country="CA",
                outcome="death",
                malfunction=True,
                problem=MINOR_CODE,
            )
        ],
        as_of="2026-03-05",
        dist=ship(("CA", "2025-01-15")),
    )
    r = main(flags, "C1", "HC_CMDR")
    assert r["rule"] == "HC_CMDR_60_10D"
    assert r["authority"] == "HC"
    # 2026-03-02 + 10 = 2026-03-12
    assert r["due_date"] == D("2026-03-12")
    assert r["status"] == "open"


def test_canada_malfunction_that_could_lead_to_death_is_30_days():
    """SOR/98-282 s. 59(1)(b)(ii) and 60(1)(b): an incident that did not lead to death or serious
    deterioration but could were it to recur is reported within 30 days."""
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                country="CA",
                outcome="none",
                malfunction=True,
                problem=SERIOUS_CODE,
            )
        ],
        as_of="2026-03-05",
        dist=ship(("CA", "2025-01-15")),
    )
    r = main(flags, "C1", "HC_CMDR")
    assert r["rule"] == "HC_CMDR_60_30D"
    # 2026-03-02 + 30 = 2026-04-01
    assert r["due_date"] == D("2026-04-01")


def test_canada_incident_with_a_device_never_sold_in_canada():
    """SOR/98-282 s. 59(1)(a): the incident report is owed only when the device is sold in
    Canada."""
    # LAW-VS-DOC (resolved: the doc now follows the law). docs/vigilance.md first said
    # "Which authorities" lists HC_CMDR for every incident in
    # Canada without the s. 59(1)(a) condition that the device is sold in Canada.
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                country="CA",
                outcome="death",
                malfunction=True,
                problem=MINOR_CODE,
            )
        ],
        as_of="2026-03-20",
        dist=ship(("US", "2025-01-15")),
    )
    no_obligation(flags, "C1", "HC_CMDR")


def test_canada_foreign_incident_class_i_after_corrective_action():
    """SOR/98-282 s. 59(1.1) and 59(2): an incident outside Canada with a Class I device sold in
    Canada is reported once the manufacturer has committed to corrective action; a death is due
    within 10 days (s. 60(1)(a))."""
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                country="US",
                outcome="death",
                malfunction=True,
                problem=MINOR_CODE,
            )
        ],
        as_of="2026-03-05",
        dist=ship(("US", "2025-01-15"), ("CA", "2025-01-15")),
        products=[product(ca_class="I")],
        # Corrective action decided the day the complaint arrived, so day 0 is 2026-03-02 on
        # either reading of when the foreign-incident clock starts.
        dets=[det("fsca_decision", "C1", "yes", "2026-03-02")],
    )
    r = main(flags, "C1", "HC_CMDR")
    assert r["rule"] == "HC_CMDR_60_10D"
    assert r["authority"] == "HC"
    # 2026-03-02 + 10 = 2026-03-12
    assert r["due_date"] == D("2026-03-12")
    assert all(x["rule"] != "HC_CMDR_61_2_72H" for x in rows(flags, "C1"))


def test_canada_foreign_incident_class_i_without_corrective_action():
    """SOR/98-282 s. 59(2): an incident outside Canada is not reportable unless corrective action
    was indicated to, or required by, the foreign regulator."""
    flags = run(
        [
            version(
                "C1",
                "2026-03-02",
                country="US",
                outcome="death",
                malfunction=True,
                problem=MINOR_CODE,
            )
        ],
        as_of="2026-03-20",
        dist=ship(("US", "2025-01-15"), ("CA", "2025-01-15")),
        products=[product(ca_class="I")],
    )
    no_obligation(flags, "C1", "HC_CMDR")


def test_canada_class_ii_foreign_recall_is_a_72_hour_notice_not_an_incident_report():
    """SOR/98-282 s. 61.2(1)-(3) and 59(1.1): a licence holder (Class II-IV) tells the Minister
    of a foreign recall within 72 hours; foreign incidents are reported under s. 59 only for
    Class I."""
    flags = run(
        [
            version(
                "C1",
                "2026-04-27",
                country="US",
                outcome="none",
                malfunction=True,
                problem=SERIOUS_CODE,
            )
        ],
        as_of="2026-05-05",
        dist=ship(("US", "2025-01-15"), ("CA", "2025-01-15")),
        products=[product(ca_class="II")],
        dets=[det("fsca_decision", "C1", "yes", "2026-05-04")],
    )
    r = by_rule(flags, "C1", "HC_CMDR_61_2_72H")
    assert r["regime"] == "HC_CMDR"
    assert r["report_kind"] == "foreign_risk_notice"
    assert r["day_zero"] == D("2026-05-04")
    # decided 2026-05-04 + 72 hours = 3 calendar days = 2026-05-07
    assert r["due_date"] == D("2026-05-07")
    for x in rows(flags, "C1", "HC_CMDR"):
        if x["rule"] in {"HC_CMDR_60_10D", "HC_CMDR_60_30D"}:
            assert x["status"] not in LIVE, x


# =============================================================================================
# Clinical investigations (MDR Art. 80; 21 CFR 812.150)
# =============================================================================================


def test_clinical_study_death_is_not_on_a_post_market_clock():
    """21 CFR 812.150(a)(1), (b)(1) and MDR Art. 80(2): serious adverse events in a clinical
    investigation are reported under the investigation rules, not as MDRs or vigilance reports."""
    flags = run(
        [version("C1", "2026-03-02", outcome="death", source="clinical_study")],
        as_of="2026-03-05",
        dist=ship(("US", "2025-01-15"), ("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "CLINICAL_STUDY")
    assert r["rule"] == "SAE_PER_PROTOCOL"
    assert r["status"] == "undetermined"
    no_obligation(flags, "C1", "FDA_MDR")
    no_obligation(flags, "C1", "EU_MDR")


def test_clinical_study_event_without_harm_is_listed_not_reportable():
    """MDR Art. 80(2) (serious adverse events and device deficiencies that could have led to
    one): an event with no harm and no malfunction in a study is listed, not reportable."""
    flags = run(
        [version("C1", "2026-03-02", country="DE", outcome="none", source="clinical_study")],
        as_of="2026-03-05",
        dist=ship(("DE", "2025-01-15")),
    )
    r = main(flags, "C1", "CLINICAL_STUDY")
    assert r["status"] == "not_reportable"
    no_obligation(flags, "C1", "EU_MDR")


# =============================================================================================
# Every complaint is evaluated and listed
# =============================================================================================


def test_every_complaint_has_at_least_one_row():
    """21 CFR 803.17(a)(1) and 803.18 (every complaint is evaluated for MDR reportability and the
    evaluation kept), ISO 13485:2016 8.2.2: no complaint is silently dropped."""
    complaints = [
        version("K-US", "2026-03-02", country="US", outcome="none"),
        version("K-DE", "2026-03-02", country="DE", outcome="none"),
        version("K-CA", "2026-03-02", country="CA", outcome="none"),
        version("K-JP", "2026-03-02", country="JP", outcome="none"),
        version("K-BR", "2026-03-02", country="BR", outcome="unknown"),
        version("K-FR", "2026-03-02", country="FR", outcome="none", source="clinical_study"),
        version("K-X", "2026-03-02", country="KR", outcome="none", model="P-UNSHIPPED"),
    ]
    flags = run(
        complaints,
        as_of="2026-03-05",
        dist=ship(
            ("US", "2025-01-15"),
            ("DE", "2025-01-15"),
            ("CA", "2025-01-15"),
            ("JP", "2025-01-15"),
            ("FR", "2025-01-15"),
        ),
        products=[product(), product("P-UNSHIPPED")],
    )
    ids = set(flags["complaint_id"].to_list())
    assert ids >= {c["complaint_id"] for c in complaints}
    assert main(flags, "K-BR", "NONE_ENCODED")["status"] == "undetermined"
    assert main(flags, "K-X", "NONE_ENCODED")["status"] == "not_reportable"
