"""Reportability and regulatory clocks, driven by the rules tables in `config/`.

`config/vigilance_regimes.csv` says when a regime applies to a complaint (the event country, or
the markets of the device model); `config/vigilance_rules.csv` says, per regime, which criteria
make a complaint reportable, the clock (calendar or work days) and the source. A complaint meets
the criteria of its current version:

- `death`, `serious_injury`: its `patient_outcome`;
- `serious_malfunction`: a malfunction whose problem code the family's risk register maps to a
  hazard of severity 4 or 5 ("would likely cause or contribute to a death or serious injury if it
  recurred");
- criteria no complaint field carries (`remedial_action_required`,
  `serious_public_health_threat`) are decided by people or by signals and are never inferred.

Of the rules a complaint meets in a regime, the one with the earliest due date governs. Day 0 is
`received_date`, the day of awareness. Adding a regime or a rule is a row in a table, not code.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import holidays
import polars as pl

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
SERIOUS_SEVERITY = 4
FLAG_STATUSES = ("open", "submitted_on_time", "submitted_late", "overdue", "not_reportable")


@dataclass(frozen=True)
class Rule:
    rule_id: str
    regime: str
    criteria: frozenset[str]
    clock_days: int
    day_type: str  # calendar | work
    holiday_calendar: str  # ISO country whose public holidays are skipped by work-day clocks
    report: str
    source: str


@dataclass(frozen=True)
class Regime:
    regime: str
    authority: str
    applies_to: str  # event_country_in | models_marketed_in
    countries: frozenset[str]
    source: str


def load_rules(path: Path | None = None) -> tuple[Rule, ...]:
    with (path or CONFIG_DIR / "vigilance_rules.csv").open(newline="", encoding="utf-8") as f:
        return tuple(
            Rule(
                rule_id=r["rule_id"],
                regime=r["regime"],
                criteria=frozenset(c.strip() for c in r["criteria"].split(";") if c.strip()),
                clock_days=int(r["clock_days"]),
                day_type=r["day_type"],
                holiday_calendar=r["holiday_calendar"],
                report=r["report"],
                source=r["source"],
            )
            for r in csv.DictReader(f)
        )


def load_regimes(path: Path | None = None) -> tuple[Regime, ...]:
    with (path or CONFIG_DIR / "vigilance_regimes.csv").open(newline="", encoding="utf-8") as f:
        return tuple(
            Regime(
                regime=r["regime"],
                authority=r["authority"],
                applies_to=r["applies_to"],
                countries=frozenset(c.strip() for c in r["countries"].split(";") if c.strip()),
                source=r["source"],
            )
            for r in csv.DictReader(f)
        )


@cache
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays(country, years=year).keys())


def due_date(received: dt.date, rule: Rule) -> dt.date:
    """Day 0 is `received`; calendar clocks count every day, work-day clocks skip weekends and
    the public holidays of the rule's calendar (US federal holidays for FDA, by `holidays`)."""
    if rule.day_type == "calendar":
        return received + dt.timedelta(days=rule.clock_days)
    if rule.day_type != "work":
        raise ValueError(f"rule {rule.rule_id}: day_type must be calendar or work")
    day, counted = received, 0
    while counted < rule.clock_days:
        day += dt.timedelta(days=1)
        off = _holidays(rule.holiday_calendar, day.year) if rule.holiday_calendar else frozenset()
        if day.weekday() < 5 and day not in off:
            counted += 1
    return day


def criteria_met(outcome: str | None, malfunction: bool | None, serious_hazard: bool) -> set[str]:
    met = set()
    if outcome in ("death", "serious_injury"):
        met.add(outcome)
    if malfunction and serious_hazard:
        met.add("serious_malfunction")
    return met


def flag_status(due: dt.date | None, reported: dt.date | None, as_of: dt.date) -> str:
    if due is None:
        return "not_reportable"
    if reported is not None:
        return "submitted_on_time" if reported <= due else "submitted_late"
    return "overdue" if as_of > due else "open"


def applicable_regimes(
    regimes: Iterable[Regime], country: str, model_markets: set[str]
) -> list[Regime]:
    return [
        r
        for r in regimes
        if (r.applies_to == "event_country_in" and country in r.countries)
        or (r.applies_to == "models_marketed_in" and model_markets & r.countries)
    ]


def vigilance_flags(
    complaints: pl.DataFrame,
    serious_codes: pl.DataFrame,
    markets: pl.DataFrame,
    as_of: dt.date,
    rules: tuple[Rule, ...] | None = None,
    regimes: tuple[Regime, ...] | None = None,
) -> pl.DataFrame:
    """One row per complaint and applicable regime.

    `complaints`: complaint_id, received_date, device_model, device_family, country,
    patient_outcome, malfunction, problem_code, reported_date (current versions).
    `serious_codes`: device_family, problem_code mapped to a hazard of severity >= 4.
    `markets`: device_model, country (where the model is shipped).
    """
    rules = rules or load_rules()
    regimes = regimes or load_regimes()
    serious = {(f, c) for f, c in serious_codes.select("device_family", "problem_code").iter_rows()}
    model_markets: dict[str, set[str]] = {}
    for model, country in markets.select("device_model", "country").iter_rows():
        model_markets.setdefault(model, set()).add(country)
    rows = []
    for c in complaints.sort("complaint_id").iter_rows(named=True):
        met = criteria_met(
            c["patient_outcome"],
            c["malfunction"],
            (c["device_family"], c["problem_code"]) in serious,
        )
        for regime in applicable_regimes(
            regimes, c["country"], model_markets.get(c["device_model"], set())
        ):
            candidates = [
                (due_date(c["received_date"], r), r)
                for r in rules
                if r.regime == regime.regime and r.criteria & met
            ]
            due, rule = (
                min(candidates, key=lambda x: (x[0], x[1].rule_id))
                if candidates
                else (
                    None,
                    None,
                )
            )
            rows.append(
                {
                    "complaint_id": c["complaint_id"],
                    "regime": regime.regime,
                    "rule": rule.rule_id if rule else "NOT_REPORTABLE",
                    "reportable": rule is not None,
                    "criteria_met": ";".join(sorted(met)),
                    "received_date": c["received_date"],
                    "due_date": due,
                    "reported_date": c["reported_date"] if rule else None,
                    "status": flag_status(due, c["reported_date"], as_of),
                    "days_remaining": (due - as_of).days if due else None,
                    "as_of": as_of,
                }
            )
    schema = {
        "complaint_id": pl.String,
        "regime": pl.String,
        "rule": pl.String,
        "reportable": pl.Boolean,
        "criteria_met": pl.String,
        "received_date": pl.Date,
        "due_date": pl.Date,
        "reported_date": pl.Date,
        "status": pl.String,
        "days_remaining": pl.Int64,
        "as_of": pl.Date,
    }
    return pl.DataFrame(rows, schema=schema).sort("complaint_id", "regime")


COMPLIANCE_FLAGS = (
    "no_reportability_evaluation",
    "investigation_open_too_long",
    "closed_without_conclusion",
    "not_required_without_reason",
    "submitted_late",
    "decision_conflicts_with_rules",
)


def compliance_flags(
    complaints: pl.DataFrame,
    flags: pl.DataFrame,
    as_of: dt.date,
    *,
    evaluation_limit_days: int = 5,
    investigation_limit_days: int = 30,
) -> pl.DataFrame:
    """Complaint-handling findings (ISO 13485 8.2.2, 21 CFR 820.198) for current versions.

    `complaints`: complaint_id, received_date, investigation_status,
    investigation_conclusion_code, not_investigated_reason, reportability_decision.
    `flags`: the vigilance flags of the same night (complaint_id, regime, rule, reportable,
    status). A human "no" where a rule makes the complaint reportable is raised for review; a
    rule never overrides the human decision.
    """
    c = complaints
    age = (pl.lit(as_of) - pl.col("received_date")).dt.total_days()
    decision = pl.col("reportability_decision")
    found = [
        c.filter(
            (decision.is_null() | (decision == "pending")) & (age > evaluation_limit_days)
        ).select(
            "complaint_id",
            flag=pl.lit("no_reportability_evaluation"),
            detail=pl.format("no reportability decision {} days after awareness", age),
        ),
        c.filter(
            pl.col("investigation_status").is_in(["open", "in_progress"])
            & (age > investigation_limit_days)
        ).select(
            "complaint_id",
            flag=pl.lit("investigation_open_too_long"),
            detail=pl.format(
                "investigation {} for {} days (limit {})",
                pl.col("investigation_status"),
                age,
                pl.lit(investigation_limit_days),
            ),
        ),
        c.filter(
            (pl.col("investigation_status") == "closed")
            & pl.col("investigation_conclusion_code").is_null()
        ).select(
            "complaint_id",
            flag=pl.lit("closed_without_conclusion"),
            detail=pl.lit("investigation closed without an IMDRF Annex D conclusion code"),
        ),
        c.filter(
            (pl.col("investigation_status") == "not_required")
            & pl.col("not_investigated_reason").is_null()
        ).select(
            "complaint_id",
            flag=pl.lit("not_required_without_reason"),
            detail=pl.lit("not investigated and no reason recorded"),
        ),
        flags.filter(pl.col("status") == "submitted_late").select(
            "complaint_id",
            flag=pl.lit("submitted_late"),
            detail=pl.format("{} report under {} submitted late", pl.col("regime"), pl.col("rule")),
        ),
        flags.filter(pl.col("reportable"))
        .join(c.filter(decision == "no").select("complaint_id"), on="complaint_id")
        .select(
            "complaint_id",
            flag=pl.lit("decision_conflicts_with_rules"),
            detail=pl.format(
                "decided not reportable, but {} rule {} applies: review",
                pl.col("regime"),
                pl.col("rule"),
            ),
        ),
    ]
    return (
        pl.concat(found, how="vertical_relaxed")
        .with_columns(as_of=pl.lit(as_of))
        .unique()
        .sort("complaint_id", "flag", "detail")
    )
