"""Reportability and regulatory clocks, driven by the rules tables in `config/`.

`config/vigilance_regimes.csv` says when a regime applies to a complaint (the event country, or
the markets of the device model); `config/vigilance_rules.csv` says, per regime, which criteria
make a complaint reportable, the clock (calendar or work days) and the source. A complaint meets
the criteria of its current version:

- `death`, `serious_injury`: its `patient_outcome`;
- `serious_malfunction`: a malfunction whose problem code the family's risk register maps to a
  hazard of severity 4 or 5 ("would likely cause or contribute to a death or serious injury if it
  recurred");
- `summary_malfunction`: a serious malfunction without death or serious injury, of a product
  code FDA's classification file marks eligible for Voluntary Malfunction Summary Reporting, that
  is not the first of its kind (the first complaint of a product code and problem code is a "new
  type of malfunction" and is reported individually);
- `non_serious_incident`: a malfunction, an injury or a health effect that meets no serious
  criterion; `expected_side_effect`: a health effect the family's risk register quantifies;
- criteria no complaint field carries (`remedial_action_required`,
  `serious_public_health_threat`) are decided by people or by signals and are never inferred.

Each rule has a route: `individual` reports, `summary` reports that replace an individual rule
when the firm has opted in (`opt_in`, e.g. `fda_vmsr_participant` in `[vigilance]`), `trend`
(EU Art. 88: counted for trend reporting, not reported one by one) and `supplement` (new
information after a report). Of the individual and summary rules a complaint meets in a regime,
the one with the earliest due date governs; a trend rule applies only when none does, so a serious
incident is never routed away from its own clock, even when it is an expected side-effect (the
flag `expected_side_effect` tells the responsible person, who decides). Day 0 is
`received_date`, the day of awareness. Adding a regime or a rule is a row in a table, not code.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import holidays
import iso3166
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
    day_type: str  # calendar | work | quarter_following_month_end | none
    holiday_calendar: str  # ISO country whose public holidays are skipped by work-day clocks
    route: str  # individual | summary | trend | supplement
    replaces: str  # the rule a summary rule stands in for when the firm has opted in
    opt_in: str  # the [vigilance] setting that enables the rule; empty: always in force
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
                route=r["route"],
                replaces=r["replaces"],
                opt_in=r["opt_in"],
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


@cache  # a night asks the same (day, rule) for thousands of complaints
def due_date(received: dt.date, rule: Rule) -> dt.date | None:
    """Day 0 is `received`; calendar clocks count every day, work-day clocks skip weekends and
    the public holidays of the rule's calendar (US federal holidays for FDA, by `holidays`);
    quarterly summaries are due on the last day of the month after the calendar quarter of
    awareness; trend routing (`none`) has no clock of its own."""
    if rule.day_type == "calendar":
        return received + dt.timedelta(days=rule.clock_days)
    if rule.day_type == "none":
        return None
    if rule.day_type == "quarter_following_month_end":
        quarter_end_month = (received.month - 1) // 3 * 3 + 3
        year, month = divmod(quarter_end_month, 12)
        year, month = received.year + year, month + 1
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    if rule.day_type != "work":
        raise ValueError(
            f"rule {rule.rule_id}: day_type must be calendar, work, "
            f"quarter_following_month_end or none, found {rule.day_type!r}"
        )
    day, counted = received, 0
    while counted < rule.clock_days:
        day += dt.timedelta(days=1)
        off = _holidays(rule.holiday_calendar, day.year) if rule.holiday_calendar else frozenset()
        if day.weekday() < 5 and day not in off:
            counted += 1
    return day


SERIOUS_CRITERIA = frozenset({"death", "serious_injury", "serious_malfunction"})


def criteria_met(
    outcome: str | None,
    malfunction: bool | None,
    serious_hazard: bool,
    *,
    health_effect: bool = False,
    expected_effect: bool = False,
    vmsr_product_code: bool = False,
    new_malfunction_type: bool = True,
) -> set[str]:
    """The reportability criteria one complaint version meets (see the module docstring)."""
    met = set()
    if outcome in ("death", "serious_injury"):
        met.add(outcome)
    if malfunction and serious_hazard:
        met.add("serious_malfunction")
        if not met & {"death", "serious_injury"} and vmsr_product_code and not new_malfunction_type:
            met.add("summary_malfunction")
    if not met & SERIOUS_CRITERIA and (malfunction or outcome == "injury" or health_effect):
        met.add("non_serious_incident")
    if expected_effect:
        met.add("expected_side_effect")
    return met


def flag_status(due: dt.date | None, reported: dt.date | None, as_of: dt.date) -> str:
    if due is None:
        return "not_reportable"
    if reported is not None:
        return "submitted_on_time" if reported <= due else "submitted_late"
    return "overdue" if as_of > due else "open"


def flag_status_expr(due: pl.Expr, reported: pl.Expr, as_of: dt.date) -> pl.Expr:
    """`flag_status` over columns."""
    return (
        pl.when(due.is_null())
        .then(pl.lit("not_reportable"))
        .when(reported.is_not_null())
        .then(
            pl.when(reported <= due)
            .then(pl.lit("submitted_on_time"))
            .otherwise(pl.lit("submitted_late"))
        )
        .when(pl.lit(as_of) > due)
        .then(pl.lit("overdue"))
        .otherwise(pl.lit("open"))
    )


def applicable_regimes(
    regimes: Iterable[Regime], country: str, model_markets: set[str]
) -> list[Regime]:
    return [
        r
        for r in regimes
        if (r.applies_to == "event_country_in" and country in r.countries)
        or (r.applies_to == "models_marketed_in" and model_markets & r.countries)
    ]


def governing_rule(
    met: set[str], regime: str, received: dt.date, rules: Iterable[Rule], opt_ins: frozenset[str]
) -> tuple[Rule | None, dt.date | None]:
    """The rule that decides a complaint's report in one regime, and its due date.

    Individual and (opted-in) summary rules compete on the earliest due date, a summary rule
    standing in for the rule it replaces; a trend rule applies only when neither does.
    """
    in_force = [
        r
        for r in rules
        if r.regime == regime and r.criteria & met and (not r.opt_in or r.opt_in in opt_ins)
    ]
    replaced = {r.replaces for r in in_force if r.route == "summary" and r.replaces}
    reporting = [
        (due_date(received, r), r)
        for r in in_force
        if r.route in ("individual", "summary") and r.rule_id not in replaced
    ]
    if reporting:
        due, rule = min(reporting, key=lambda x: (x[0], x[1].rule_id))
        return rule, due
    trend = sorted((r for r in in_force if r.route == "trend"), key=lambda r: r.rule_id)
    return (trend[0], None) if trend else (None, None)


FLAG_SCHEMA = {
    "complaint_id": pl.String,
    "regime": pl.String,
    "report_kind": pl.String,
    "rule": pl.String,
    "route": pl.String,
    "reportable": pl.Boolean,
    "criteria_met": pl.String,
    "vmsr_eligible": pl.Boolean,
    "expected_side_effect": pl.Boolean,
    "received_date": pl.Date,
    "due_date": pl.Date,
    "reported_date": pl.Date,
    "status": pl.String,
    "days_remaining": pl.Int64,
    "data_state": pl.String,  # staged | quarantined (a row that failed the quality gate)
    "as_of": pl.Date,
}


def new_malfunction_types(complaints: pl.DataFrame, serious_codes: pl.DataFrame) -> set[str]:
    """Complaints that are the first serious malfunction of their product code and problem
    code (by awareness date, then id): a new type of malfunction, never summary-reported."""
    if "product_code" not in complaints.columns:
        return set(complaints["complaint_id"].to_list())
    serious = serious_codes.select("device_family", "problem_code").unique()
    first = (
        complaints.filter(pl.col("malfunction").fill_null(False))
        .join(serious, on=["device_family", "problem_code"])
        .sort("received_date", "complaint_id")
        .group_by("product_code", "problem_code", maintain_order=True)
        .first()
    )
    return set(first["complaint_id"].to_list())


# The text columns of a complaint that the rules read (cast, so an all-empty column still joins).
TEXT_KEYS = (
    "complaint_id",
    "device_model",
    "device_family",
    "product_code",
    "country",
    "patient_outcome",
    "problem_code",
    "health_effect_code",
)


def vigilance_flags(
    complaints: pl.DataFrame,
    serious_codes: pl.DataFrame,
    markets: pl.DataFrame,
    as_of: dt.date,
    rules: tuple[Rule, ...] | None = None,
    regimes: tuple[Regime, ...] | None = None,
    *,
    vmsr_product_codes: Iterable[str] = (),
    expected_effects: pl.DataFrame | None = None,
    opt_ins: Iterable[str] = (),
) -> pl.DataFrame:
    """One row per complaint and applicable regime: the initial report's rule, due date, status.

    `complaints`: complaint_id, received_date, device_model, device_family, country,
    patient_outcome, malfunction, problem_code, reported_date (current versions), and optionally
    product_code and health_effect_code.
    `serious_codes`: device_family, problem_code mapped to a hazard of severity >= 4.
    `markets`: device_model, country (where the model is shipped).
    `vmsr_product_codes`: product codes eligible for FDA summary malfunction reporting.
    `expected_effects`: device_family, health_effect_code the risk register quantifies.
    `opt_ins`: the optional programmes the firm takes part in (rules' `opt_in`).
    """
    rules = rules or load_rules()
    regimes = regimes or load_regimes()
    opt = frozenset(opt_ins)
    if complaints.is_empty():
        return pl.DataFrame(schema=FLAG_SCHEMA)
    # Millions of complaints share a few thousand distinct inputs to the rules: the criteria
    # (criteria_met), the regimes (applicable_regimes) and the governing rule (governing_rule)
    # are decided once per distinct input, in Python, and joined back.
    frame = complaints.with_columns(
        [
            pl.lit(None, pl.String).alias(name)
            for name in ("product_code", "health_effect_code")
            if name not in complaints.columns
        ]
    ).with_columns(
        pl.col(TEXT_KEYS).cast(pl.String),
        pl.col("malfunction").cast(pl.Boolean),
        pl.col("received_date", "reported_date").cast(pl.Date),
    )
    serious = serious_codes.select(pl.col("device_family", "problem_code").cast(pl.String)).unique()
    expected = (
        expected_effects.select(
            pl.col("device_family", "health_effect_code").cast(pl.String)
        ).unique()
        if expected_effects is not None
        else pl.DataFrame(schema={"device_family": pl.String, "health_effect_code": pl.String})
    )
    new_types = sorted(new_malfunction_types(complaints, serious_codes))
    inputs = (
        frame.join(
            serious.with_columns(serious_hazard=pl.lit(True)),
            on=["device_family", "problem_code"],
            how="left",
        )
        .join(
            expected.with_columns(expected_effect=pl.lit(True)),
            on=["device_family", "health_effect_code"],
            how="left",
        )
        .with_columns(
            serious_hazard=pl.col("serious_hazard").fill_null(False),
            expected_effect=pl.col("expected_effect").fill_null(False),
            health_effect=pl.col("health_effect_code").is_not_null(),
            vmsr_product_code=pl.col("product_code").is_in(sorted(set(vmsr_product_codes))),
            new_malfunction_type=pl.col("complaint_id").is_in(new_types),
        )
    )
    criteria_inputs = [
        "patient_outcome",
        "malfunction",
        "serious_hazard",
        "health_effect",
        "expected_effect",
        "vmsr_product_code",
        "new_malfunction_type",
    ]
    met_of = inputs.select(criteria_inputs).unique()
    met_of = met_of.with_columns(
        criteria_met=pl.Series(
            [
                ";".join(
                    sorted(
                        criteria_met(
                            r["patient_outcome"],
                            r["malfunction"],
                            bool(r["serious_hazard"]),
                            health_effect=bool(r["health_effect"]),
                            expected_effect=bool(r["expected_effect"]),
                            vmsr_product_code=bool(r["vmsr_product_code"]),
                            new_malfunction_type=bool(r["new_malfunction_type"]),
                        )
                    )
                )
                for r in met_of.iter_rows(named=True)
            ],
            dtype=pl.String,
        )
    )
    model_markets: dict[str, set[str]] = {}
    for model, country in markets.select("device_model", "country").iter_rows():
        model_markets.setdefault(model, set()).add(country)
    places = frame.select("country", "device_model").unique()
    regimes_of = pl.DataFrame(
        [
            {"country": country, "device_model": model, "regime": regime.regime}
            for country, model in places.iter_rows()
            for regime in applicable_regimes(regimes, country, model_markets.get(model, set()))
        ],
        schema={"country": pl.String, "device_model": pl.String, "regime": pl.String},
    )
    rows = (
        inputs.join(met_of, on=criteria_inputs, how="left", nulls_equal=True)
        .join(regimes_of, on=["country", "device_model"], how="inner", nulls_equal=True)
        .select("complaint_id", "regime", "criteria_met", "received_date", "reported_date")
    )
    summary_regimes = {r.regime for r in rules if r.route == "summary"}
    decisions = []
    for met_text, regime, received in (
        rows.select("criteria_met", "regime", "received_date").unique().iter_rows()
    ):
        met = set(met_text.split(";")) if met_text else set()
        rule, due = governing_rule(met, regime, received, rules, opt)
        decisions.append(
            {
                "criteria_met": met_text,
                "regime": regime,
                "received_date": received,
                "rule": rule.rule_id if rule else "NOT_REPORTABLE",
                "route": rule.route if rule else "none",
                "reportable": rule is not None and rule.route in ("individual", "summary"),
                "vmsr_eligible": "summary_malfunction" in met and regime in summary_regimes,
                "due_date": due,
            }
        )
    decided = pl.DataFrame(
        decisions,
        schema={
            "criteria_met": pl.String,
            "regime": pl.String,
            "received_date": pl.Date,
            "rule": pl.String,
            "route": pl.String,
            "reportable": pl.Boolean,
            "vmsr_eligible": pl.Boolean,
            "due_date": pl.Date,
        },
    )
    due, reported = pl.col("due_date"), pl.col("reported_date")
    return (
        rows.join(
            decided, on=["criteria_met", "regime", "received_date"], how="left", nulls_equal=True
        )
        .with_columns(
            report_kind=pl.lit("initial"),
            expected_side_effect=pl.col("criteria_met")
            .str.split(";")
            .list.contains("expected_side_effect"),
            reported_date=pl.when(pl.col("reportable")).then(reported),
            status=flag_status_expr(due, reported, as_of),
            days_remaining=(due - pl.lit(as_of)).dt.total_days(),
            data_state=pl.lit("staged"),
            as_of=pl.lit(as_of),
        )
        .select(list(FLAG_SCHEMA))
        .cast(FLAG_SCHEMA)
        .sort("complaint_id", "regime")
    )


# Fields whose change after a report is new information for a supplemental report.
MATERIAL_FIELDS = (
    "event_date",
    "lot_number",
    "serial_number",
    "udi_di",
    "problem_code",
    "health_effect_code",
    "component_code",
    "patient_outcome",
    "malfunction",
    "investigation_conclusion_code",
)


def supplemental_reports(
    versions: pl.DataFrame,
    flags: pl.DataFrame,
    as_of: dt.date,
    rules: tuple[Rule, ...] | None = None,
) -> pl.DataFrame:
    """Supplemental reports owed after an initial report (route `supplement`, e.g. 21 CFR
    803.56): each version received after the report that changes a material field is new
    information, day 0 of its own clock.

    `versions`: every version known on the night: complaint_id, updated_at, the material fields
    and `supplemental_reported_date` (the date a supplemental report was submitted, when the
    complaint system records it). New information is covered by the first supplemental report
    submitted on or after the day it was received (and by the night); until then it is open or
    overdue. `flags`: the night's initial flags (complaint_id, regime, reportable,
    reported_date).
    """
    rules = rules or load_rules()
    supplement = {r.regime: r for r in rules if r.route == "supplement"}
    reported = flags.filter(
        pl.col("reportable")
        & pl.col("reported_date").is_not_null()
        & pl.col("regime").is_in(list(supplement))
    ).select("complaint_id", "regime", "reported_date")
    if reported.is_empty():
        return pl.DataFrame(schema=FLAG_SCHEMA)
    fields = [f for f in MATERIAL_FIELDS if f in versions.columns]
    if "supplemental_reported_date" not in versions.columns:
        versions = versions.with_columns(supplemental_reported_date=pl.lit(None, pl.Date))
    ordered = (
        versions.join(reported.select("complaint_id").unique(), on="complaint_id")
        .sort("complaint_id", "updated_at", maintain_order=True)
        .with_columns(info_date=pl.col("updated_at").cast(pl.Date))
        .with_row_index("arrival")  # versions of one instant keep the order they came in
    )
    changed = pl.concat_str(
        [
            pl.when(pl.col(f).ne_missing(pl.col(f).shift(1).over("complaint_id"))).then(pl.lit(f))
            for f in fields
        ],
        separator=",",
        ignore_nulls=True,
    )
    news = (
        ordered.with_columns(changed=changed)
        .filter(pl.col("complaint_id").is_first_distinct().not_() & (pl.col("changed") != ""))
        .select("complaint_id", "arrival", "info_date", "changed")
    )
    # Each reported flag with each later piece of new information (by complaint, regime, then
    # the order it arrived); one report per day of new information (the first change counts).
    owed = (
        reported.join(news, on="complaint_id")
        .filter(pl.col("info_date") > pl.col("reported_date"))
        .sort("complaint_id", "regime", "arrival")
        .unique(["complaint_id", "regime", "info_date"], keep="first", maintain_order=True)
    )
    if owed.is_empty():
        return pl.DataFrame(schema=FLAG_SCHEMA)
    clocks = pl.DataFrame(
        [
            (regime, day, supplement[regime].rule_id, due_date(day, supplement[regime]))
            for regime, day in owed.select("regime", "info_date").unique().sort(pl.all()).rows()
        ],
        schema={"regime": pl.String, "info_date": pl.Date, "rule": pl.String, "due_date": pl.Date},
        orient="row",
    )
    # The first supplemental report submitted on or after the day of the information (and by
    # the night) covers it.
    submissions = (
        ordered.filter(pl.col("supplemental_reported_date") <= as_of)
        .select("complaint_id", reported_date="supplemental_reported_date")
        .unique()
        .sort("reported_date", "complaint_id")
    )
    owed = (
        owed.drop("reported_date")
        .join(clocks, on=["regime", "info_date"], how="left")
        .sort("info_date", "complaint_id")
        .join_asof(
            submissions,
            left_on="info_date",
            right_on="reported_date",
            by="complaint_id",
            strategy="forward",
            check_sortedness=False,  # both sides sorted on the date just above
        )
    )
    due = pl.col("due_date")
    return (
        owed.select(
            "complaint_id",
            "regime",
            report_kind=pl.lit("supplemental"),
            rule="rule",
            route=pl.lit("supplement"),
            reportable=pl.lit(True),
            criteria_met=pl.lit("new_information:") + pl.col("changed"),
            vmsr_eligible=pl.lit(False),
            expected_side_effect=pl.lit(False),
            received_date="info_date",
            due_date="due_date",
            reported_date="reported_date",
            status=flag_status_expr(due, pl.col("reported_date"), as_of),
            days_remaining=(due - pl.lit(as_of)).dt.total_days(),
            data_state=pl.lit("staged"),
            as_of=pl.lit(as_of),
        )
        .cast(FLAG_SCHEMA)  # type: ignore[arg-type]
        .sort("complaint_id", "regime", "received_date")
    )


TRUE_TEXT = frozenset({"true", "t", "yes", "y", "1"})
# criteria_met of a quarantined record whose text cannot be split into fields
UNREADABLE_CRITERIA = "unreadable"
# complaint_id of a quarantined record whose complaint id cannot be read: the prefix, then its
# file and row ("quarantined record: complaints/x.csv row 12")
QUARANTINE_ID_PREFIX = "quarantined record: "


def _parse_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        return None


def quarantined_complaint_flags(
    records: pl.DataFrame,
    serious_codes: pl.DataFrame,
    markets: pl.DataFrame,
    as_of: dt.date,
    rules: tuple[Rule, ...] | None = None,
    regimes: tuple[Regime, ...] | None = None,
) -> pl.DataFrame:
    """The safety net under the quality gate: complaint rows waiting in quarantine that look
    reportable, read as leniently as their raw text allows, with `data_state` 'quarantined'.

    `records`: text columns as received (complaint_id, received_date, device_model,
    device_family (null when the model is unknown), country, patient_outcome, malfunction,
    problem_code), only rows whose information no staged version supersedes; optionally
    `readable` (false when the raw text could not be split into fields) and `quarantine_ref`
    (file and row, naming a record whose complaint id is unknown). Doubt counts against delay:
    an unknown country or model puts the complaint under every regime; an unreadable awareness
    date leaves the due date unknown and the flag open; a record whose text cannot be split is
    a complaint of unknown seriousness under every regime (criteria `unreadable`, judged on the
    most urgent rule of each regime, due date unknown, open) until it is fixed and re-sent.
    """
    rules = rules or load_rules()
    regimes = regimes or load_regimes()
    serious = {(f, c) for f, c in serious_codes.select("device_family", "problem_code").iter_rows()}
    model_markets: dict[str, set[str]] = {}
    for model, country in markets.select("device_model", "country").iter_rows():
        model_markets.setdefault(model, set()).add(country)
    if "readable" not in records.columns:
        records = records.with_columns(readable=pl.lit(True))
    if "quarantine_ref" not in records.columns:
        records = records.with_columns(quarantine_ref=pl.lit(None, dtype=pl.String))
    rows = []
    for c in records.sort("complaint_id", "quarantine_ref", nulls_last=True).iter_rows(named=True):
        if c["readable"] is False:
            # Nothing of the record is known: it may be a death in any country.
            met, criteria = set(SERIOUS_CRITERIA), UNREADABLE_CRITERIA
        else:
            outcome = (c["patient_outcome"] or "").strip().lower()
            malfunction = (c["malfunction"] or "").strip().lower() in TRUE_TEXT
            code = (c["problem_code"] or "").strip().upper()
            met = criteria_met(outcome, malfunction, (c["device_family"], code) in serious)
            met &= SERIOUS_CRITERIA
            criteria = ";".join(sorted(met))
        if not met:
            continue
        complaint_id = (c["complaint_id"] or "").strip() or None
        if complaint_id is None:
            # a stable name for a record whose complaint id cannot be read
            complaint_id = f"{QUARANTINE_ID_PREFIX}{c['quarantine_ref'] or 'unknown record'}"
        country = (c["country"] or "").strip().upper()
        model = (c["device_model"] or "").strip()
        if model in model_markets and country in iso3166.countries_by_alpha2:
            applicable = applicable_regimes(regimes, country, model_markets[model])
        else:
            applicable = list(regimes)
        received = _parse_date(c["received_date"]) if c["readable"] is not False else None
        for regime in applicable:
            rule, due = (
                governing_rule(met, regime.regime, received, rules, frozenset())
                if received
                else governing_rule(met, regime.regime, as_of, rules, frozenset())
            )
            if rule is None:
                continue
            rows.append(
                {
                    "complaint_id": complaint_id,
                    "regime": regime.regime,
                    "report_kind": "initial",
                    "rule": rule.rule_id,
                    "route": rule.route,
                    "reportable": True,
                    "criteria_met": criteria,
                    "vmsr_eligible": False,
                    "expected_side_effect": False,
                    "received_date": received,
                    "due_date": due if received else None,
                    "reported_date": None,
                    "status": flag_status(due, None, as_of) if received else "open",
                    "days_remaining": (due - as_of).days if received and due else None,
                    "data_state": "quarantined",
                    "as_of": as_of,
                }
            )
    return (
        pl.DataFrame(rows, schema=FLAG_SCHEMA)
        .sort("complaint_id", "regime", "due_date", nulls_last=False)
        .unique(["complaint_id", "regime"], keep="first", maintain_order=True)
    )


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
    if "report_kind" not in flags.columns:
        flags = flags.with_columns(report_kind=pl.lit("initial"))
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
            detail=pl.format(
                "{} {} report under {} submitted late",
                pl.col("regime"),
                pl.col("report_kind"),
                pl.col("rule"),
            ),
        ),
        flags.filter(pl.col("reportable") & (pl.col("report_kind") == "initial"))
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
