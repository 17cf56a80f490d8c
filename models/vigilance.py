"""Reportability and regulatory clocks from the law: per authority, per obligation, with doubt.

`docs/vigilance.md` is the behaviour, written from the regulations before this code; the rules are
data (`config/vigilance_rules.csv`, `config/vigilance_regimes.csv`), each citing its paragraph.
In short:

- A complaint's versions are walked in the order their information reached the firm. Each
  version meets some criteria (`death`, `serious_injury`, EU `serious_deterioration` and
  `unanticipated_serious_deterioration`, `serious_malfunction` with its named reasons) and puts
  others in doubt (an unknown outcome, a malfunction whose code the risk file cannot judge).
- Day 0 of a criterion is the awareness date of the first version that met it, moved back over an
  unbroken run of versions in which it was in doubt (MDR Art. 87(7): report within the timeframe
  when uncertain). An obligation, once arisen, stays (a downgrade is named, not erased).
- Each regime (FDA, EU, Health Canada) is its own obligation, met only by a submission to its
  authority; the legacy `reported_date` satisfies only the regimes configured to accept it.
- A person's recorded "no" (a `reportability` determination, the complaint's decision, or a
  `causality` of `unrelated`) turns a rule hit into `decided_not_reportable`, for second review.
- Determinations start the FDA 5-work-day, EU 2-day and Health Canada 72-hour clocks.
- Countries without an encoded regime get `NONE_ENCODED` (assess locally); clinical-study
  complaints are listed apart (`CLINICAL_STUDY`), not on post-market clocks.
"""

from __future__ import annotations

import bisect
import calendar
import csv
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import holidays
import iso3166
import polars as pl

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
SERIOUS_SEVERITY = 4
NONE_ENCODED = "NONE_ENCODED"
CLINICAL_STUDY = "CLINICAL_STUDY"
NOT_REPORTABLE = "NOT_REPORTABLE"
ASSESS_LOCALLY = "ASSESS_LOCALLY"
SAE_PER_PROTOCOL = "SAE_PER_PROTOCOL"


@dataclass(frozen=True)
class Rule:
    rule_id: str
    regime: str
    report_kind: str  # initial | supplemental | follow_up | final | five_day | ...
    criteria: frozenset[str]
    clock_days: int
    day_type: str  # calendar | work | quarter_following_month_end | none | no_fixed_time
    holiday_calendar: str  # ISO country whose public holidays are skipped by work-day clocks
    route: str  # individual | summary | trend | supplement | follow_up | final
    replaces: str  # the rule a summary rule stands in for when the firm has opted in
    opt_in: str  # the [vigilance] setting that enables the rule; empty: always in force
    report: str
    source: str


@dataclass(frozen=True)
class Regime:
    regime: str
    authority: str
    applies_to: str  # event_country_in | event_country_in_or_similar_device_marketed_in
    countries: frozenset[str]
    competent_authority_of: Mapping[str, str]  # event country -> member state it reports to
    source: str


def _split(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(";") if c.strip()]


def load_rules(path: Path | None = None) -> tuple[Rule, ...]:
    with (path or CONFIG_DIR / "vigilance_rules.csv").open(newline="", encoding="utf-8") as f:
        return tuple(
            Rule(
                rule_id=r["rule_id"],
                regime=r["regime"],
                report_kind=r["report_kind"],
                criteria=frozenset(_split(r["criteria"])),
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
                countries=frozenset(_split(r["countries"])),
                competent_authority_of=dict(
                    pair.split("=", 1) for pair in _split(r["competent_authority_of"])
                ),
                source=r["source"],
            )
            for r in csv.DictReader(f)
        )


@dataclass(frozen=True)
class VigilanceSettings:
    """The firm's choices the law leaves open (`[vigilance]` in config/pipeline.toml)."""

    fda_vmsr_participant: bool = False
    # how "the same or similar device marketed in the US" is judged: model | product_code | family
    fda_similar_device: str = "product_code"
    life_supporting_families: frozenset[str] = frozenset()
    essential_function_codes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # regimes whose obligations the legacy `reported_date` (no authority named) satisfies
    legacy_reported_date_satisfies: frozenset[str] = frozenset()
    # FDA's presumption that a malfunction type that caused a death or serious injury would do so
    # again lasts until that type has caused none for this many years (2016 MDR guidance)
    history_presumption_years: int = 2

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> VigilanceSettings:
        similar = str(section.get("fda_similar_device", "product_code"))
        if similar not in ("model", "product_code", "family"):
            raise ValueError(
                "config/pipeline.toml [vigilance] fda_similar_device: expected model, "
                f"product_code or family, found {similar!r}"
            )
        return cls(
            fda_vmsr_participant=bool(section.get("fda_vmsr_participant", False)),
            fda_similar_device=similar,
            life_supporting_families=frozenset(section.get("life_supporting_families", ())),
            essential_function_codes={
                str(k): frozenset(v)
                for k, v in dict(section.get("essential_function_codes", {})).items()
            },
            legacy_reported_date_satisfies=frozenset(
                section.get("legacy_reported_date_satisfies", ())
            ),
            history_presumption_years=int(section.get("history_presumption_years", 2)),
        )

    @property
    def opt_ins(self) -> frozenset[str]:
        return frozenset({"fda_vmsr_participant"} if self.fda_vmsr_participant else ())


@cache
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays(country, years=year).keys())


@cache  # a night asks the same (day, rule) for thousands of complaints
def due_date(received: dt.date, rule: Rule) -> dt.date | None:
    """Day 0 is `received`; calendar clocks count every day, work-day clocks skip weekends and
    the public holidays of the rule's calendar (US federal holidays for FDA, by `holidays`);
    quarterly summaries are due on the last day of the month after the calendar quarter of
    awareness; trend routing (`none`) and obligations without a fixed time (`no_fixed_time`)
    have no due date."""
    if rule.day_type == "calendar":
        return received + dt.timedelta(days=rule.clock_days)
    if rule.day_type in ("none", "no_fixed_time"):
        return None
    if rule.day_type == "quarter_following_month_end":
        quarter_end_month = (received.month - 1) // 3 * 3 + 3
        year, month = divmod(quarter_end_month, 12)
        year, month = received.year + year, month + 1
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    if rule.day_type != "work":
        raise ValueError(
            f"rule {rule.rule_id}: day_type must be calendar, work, "
            f"quarter_following_month_end, none or no_fixed_time, found {rule.day_type!r}"
        )
    day, counted = received, 0
    while counted < rule.clock_days:
        day += dt.timedelta(days=1)
        off = _holidays(rule.holiday_calendar, day.year) if rule.holiday_calendar else frozenset()
        if day.weekday() < 5 and day not in off:
            counted += 1
    return day


def flag_status(due: dt.date | None, reported: dt.date | None, as_of: dt.date) -> str:
    """The status of an obligation with a clock: met on time or late, or open or overdue."""
    if reported is not None:
        return "submitted_on_time" if due is None or reported <= due else "submitted_late"
    if due is None:
        return "open"
    return "overdue" if as_of > due else "open"


# --------------------------------------------------------------------------------------------
# Criteria of one version
# --------------------------------------------------------------------------------------------

INJURY_CRITERIA = frozenset(
    {"death", "serious_injury", "serious_deterioration", "unanticipated_serious_deterioration"}
)
SERIOUS_CRITERIA = INJURY_CRITERIA | {"serious_malfunction"}
TRUE_TEXT = frozenset({"true", "t", "yes", "y", "1"})


def codes_match(code: str, listed: str) -> bool:
    """IMDRF codes are hierarchical (`A07` > `A0701` > `A070104`): a code matches a listed code
    when either is the other or one of its ancestors (a parent is as specific as the data allow,
    so it may be the listed child)."""
    return bool(code) and bool(listed) and (code.startswith(listed) or listed.startswith(code))


@dataclass(frozen=True)
class FamilyRisk:
    """What a family's risk register says the rules need."""

    problem_severity: tuple[tuple[str, int, str], ...] = ()  # (code, severity, hazard_id)
    health_effects: frozenset[str] = frozenset()  # anticipated (listed) health-effect codes
    quantified_effects: frozenset[str] = frozenset()  # listed with an expected rate

    def severity_of(self, code: str) -> tuple[int, str] | None:
        """The highest severity (and its hazard) of register codes matching `code`."""
        hits = [(s, h) for c, s, h in self.problem_severity if codes_match(code, c)]
        return max(hits) if hits else None

    def anticipated(self, effect: str) -> bool:
        """Listed in the risk analysis: the code or one of its ancestors is (a parent code is
        less specific than the listed child, so it is not known to be anticipated)."""
        return any(effect.startswith(e) for e in self.health_effects if e)

    def quantified(self, effect: str) -> bool:
        return any(codes_match(effect, e) for e in self.quantified_effects)


def family_risks(risk_register: pl.DataFrame) -> dict[str, FamilyRisk]:
    cols = risk_register.columns
    rows: dict[str, dict[str, Any]] = {}
    for r in risk_register.iter_rows(named=True):
        fam = rows.setdefault(str(r["device_family"]), {"p": set(), "e": set(), "q": set()})
        severity = int(r["severity"]) if r.get("severity") is not None else 0
        for code in _split(r.get("problem_codes") if "problem_codes" in cols else None):
            fam["p"].add((code, severity, str(r.get("hazard_id") or "")))
        effects = _split(r.get("health_effect_codes") if "health_effect_codes" in cols else None)
        fam["e"].update(effects)
        if r.get("expected_rate") is not None:
            fam["q"].update(effects)
    return {
        f: FamilyRisk(tuple(sorted(v["p"])), frozenset(v["e"]), frozenset(v["q"]))
        for f, v in rows.items()
    }


@dataclass(frozen=True)
class VersionFacts:
    met: frozenset[str]
    doubt: frozenset[str]
    reasons: tuple[str, ...]  # why serious_malfunction is met or in doubt, why EU 10-day
    other: frozenset[str]  # non_serious_incident, expected_side_effect


@cache
def version_facts(
    outcome: str | None,
    malfunction: bool | None,
    problem_code: str | None,
    health_effect: str | None,
    hospitalised: bool | None,
    risk: FamilyRisk,
    *,
    implantable: bool = False,
    life_supporting: bool = False,
    essential_codes: frozenset[str] = frozenset(),
    harm_history: str = "",
) -> VersionFacts:
    """The criteria one version meets and the ones it leaves in doubt (docs/vigilance.md).

    `harm_history`: names the earlier complaint whose malfunction of a matching code in the family
    had already caused or contributed to a death or serious injury when this version's
    information arrived, within the presumption's years (FDA presumes such a malfunction would do
    so again); empty when none did."""
    outcome = (outcome or "").strip().lower()
    code = (problem_code or "").strip().upper()
    effect = (health_effect or "").strip().upper()
    met: set[str] = set()
    doubt: set[str] = set()
    reasons: list[str] = []
    if outcome == "death":
        met.add("death")
    if outcome == "serious_injury":
        met.update({"serious_injury", "serious_deterioration"})
    if hospitalised and outcome != "death":
        met.add("serious_deterioration")
    if hospitalised and outcome not in ("death", "serious_injury"):
        # FDA and Health Canada: an intervention to preclude permanent impairment is plausible
        doubt.add("serious_injury")
        reasons.append("hospitalised: a serious injury is plausible until a person decides")
    if outcome in ("", "unknown"):
        doubt.update(INJURY_CRITERIA)
        reasons.append("patient outcome unknown: judged on the shortest plausible clock")
    if "serious_deterioration" in met:
        if not effect:
            met.add("unanticipated_serious_deterioration")
            reasons.append("no health-effect code: the deterioration is taken as unanticipated")
        elif not risk.anticipated(effect):
            met.add("unanticipated_serious_deterioration")
            reasons.append(f"health effect {effect} is not in the family's risk analysis")
    if malfunction:
        found = risk.severity_of(code) if code else None
        why = []
        if found and found[0] >= SERIOUS_SEVERITY:
            why.append(f"problem code {code} matches hazard {found[1]} of severity {found[0]}")
        if implantable:
            why.append("malfunction of a long-term implant")
        if life_supporting:
            why.append("malfunction of a life-supporting or life-sustaining device")
        if code and any(codes_match(code, c) for c in essential_codes):
            why.append(f"problem code {code} is a loss of the device's essential function")
        if harm_history:
            why.append(
                f"a malfunction of type {code} already caused or contributed to a death or "
                f"serious injury ({harm_history}): presumed likely to do so again (FDA MDR "
                "guidance, 2016)"
            )
        if why:
            met.add("serious_malfunction")
            reasons.extend(why)
        elif found is None:
            doubt.add("serious_malfunction")
            reasons.append(
                "malfunction without a problem code"
                if not code
                else f"problem code {code} is not in the family's risk register"
            )
    other: set[str] = set()
    if not met and (malfunction or outcome == "injury" or effect):
        other.add("non_serious_incident")
    if effect and risk.quantified(effect):
        other.add("expected_side_effect")
    return VersionFacts(frozenset(met), frozenset(doubt), tuple(reasons), frozenset(other))


# --------------------------------------------------------------------------------------------
# The night's assessment
# --------------------------------------------------------------------------------------------

FLAG_SCHEMA: dict[str, Any] = {
    "complaint_id": pl.String,
    "regime": pl.String,
    "authority": pl.String,
    "report_kind": pl.String,
    "rule": pl.String,
    "route": pl.String,
    "reportable": pl.Boolean,
    "criteria_met": pl.String,
    "reason": pl.String,
    "rules_arisen": pl.String,
    "vmsr_eligible": pl.Boolean,
    "expected_side_effect": pl.Boolean,
    "received_date": pl.Date,
    "day_zero": pl.Date,
    "due_date": pl.Date,
    "reported_date": pl.Date,  # the submission that met the obligation (its date)
    "report_number": pl.String,
    "legacy_reported_date": pl.Date,
    "status": pl.String,
    "days_remaining": pl.Int64,
    "decision": pl.String,
    "decided_by": pl.String,
    "decided_on": pl.Date,
    "decision_rationale": pl.String,
    "downgraded_on": pl.Date,
    "data_state": pl.String,  # staged | quarantined (a row that failed the quality gate)
    "as_of": pl.Date,
}

# Fields whose change after a report is new information for a supplemental or follow-up report.
MATERIAL_FIELDS = (
    "device_model",
    "event_date",
    "lot_number",
    "serial_number",
    "udi_di",
    "problem_code",
    "health_effect_code",
    "component_code",
    "patient_outcome",
    "hospitalised",
    "causality",
    "malfunction",
    "investigation_conclusion_code",
)
VERSION_COLUMNS: dict[str, Any] = {
    "complaint_id": pl.String,
    "received_date": pl.Date,
    "updated_at": pl.Datetime("us"),
    "device_model": pl.String,
    "country": pl.String,
    "source": pl.String,
    "patient_outcome": pl.String,
    "malfunction": pl.Boolean,
    "problem_code": pl.String,
    "health_effect_code": pl.String,
    "hospitalised": pl.Boolean,
    "causality": pl.String,
    "reportability_decision": pl.String,
    "reported_date": pl.Date,
    "investigation_status": pl.String,
    "investigation_closed_date": pl.Date,
    "lot_number": pl.String,
    "event_date": pl.Date,
    "serial_number": pl.String,
    "udi_di": pl.String,
    "component_code": pl.String,
    "investigation_conclusion_code": pl.String,
}
SUBMISSION_COLUMNS: dict[str, Any] = {
    "complaint_id": pl.String,
    "authority": pl.String,
    "report_kind": pl.String,
    "submitted_date": pl.Date,
    "report_number": pl.String,
}
DETERMINATION_COLUMNS: dict[str, Any] = {
    "determination_id": pl.String,
    "kind": pl.String,
    "subject": pl.String,
    "value": pl.String,
    "decided_on": pl.Date,
    "decided_by": pl.String,
    "rationale": pl.String,
}
YES = frozenset({"yes", "true", "confirmed", "required"})
NO = frozenset({"no", "false", "not_reportable"})
INITIAL_KINDS = frozenset({"initial", "final", "final_non_reportable"})
FOLLOW_UP_KINDS = frozenset({"supplemental", "follow_up", "final", "final_non_reportable"})
FINAL_KINDS = frozenset({"final", "final_non_reportable"})


def _conform(frame: pl.DataFrame | None, schema: dict[str, Any]) -> pl.DataFrame:
    """`frame` with every column of `schema` (absent ones null), cast; extra columns dropped."""
    if frame is None:
        return pl.DataFrame(schema=schema)
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t, strict=False).alias(c)
            for c, t in schema.items()
        ]
    )


@dataclass(frozen=True)
class Decision:
    value: str  # yes | no | unrelated
    decided_by: str
    decided_on: dt.date | None
    rationale: str


@dataclass
class Context:
    """What the rules read besides the complaint's own versions."""

    rules: tuple[Rule, ...]
    regimes: dict[str, Regime]
    settings: VigilanceSettings
    as_of: dt.date
    product_of: dict[str, dict[str, Any]]
    risks: dict[str, FamilyRisk]
    us_since: dict[tuple[str, str], dt.date]  # (similar key kind, value) -> first US shipment
    ca_since: dict[str, dt.date]  # model -> first shipment to Canada
    eea_since: dict[str, dt.date]  # model -> first shipment to the EEA
    shipped_models: frozenset[str]  # models with any shipment in the data
    vmsr_codes: frozenset[str]
    # family -> problem code -> (known from, known until (date.max: still), complaint), sorted:
    # while a complaint's version known on a day shows a death or serious injury from a
    # malfunction
    history: dict[str, dict[str, list[tuple[dt.date, dt.date, str]]]]
    submissions: dict[str, list[tuple[dt.date, str, str, str]]]  # id -> (date, auth, kind, no)
    decisions: dict[tuple[str, str], Decision]  # (kind, subject) -> the latest
    covering: dict[str, list[tuple[str, Decision]]]  # kind -> [(subject, decision yes)]
    new_types: frozenset[str]
    _matches: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def harm_history(self, family: str, code: str, aware: dt.date) -> str:
        """A death or serious injury from a malfunction of a matching code in the family that
        the firm knew of on `aware` (the complaint's version of that day still says so) and that
        became known at most the presumption's years before (the latest such; its complaint)."""
        if not code:
            return ""
        since = years_before(aware, self.settings.history_presumption_years)
        best: tuple[dt.date, str] | None = None
        for matching in self._matching_codes(family, code):
            events = self.history[family][matching]
            i = bisect.bisect_right(events, (aware, dt.date.max, "\uffff"))
            while i > 0 and events[i - 1][0] >= since:
                start, until, other = events[i - 1]
                if until > aware and (best is None or (start, other) > best):
                    best = (start, other)
                i -= 1
        return f"complaint {best[1]}, known {best[0].isoformat()}" if best else ""

    def _matching_codes(self, family: str, code: str) -> tuple[str, ...]:
        key = (family, code)
        if key not in self._matches:
            self._matches[key] = tuple(
                c for c in sorted(self.history.get(family, {})) if codes_match(code, c)
            )
        return self._matches[key]


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _latest_decisions(determinations: pl.DataFrame, as_of: dt.date) -> dict:
    latest: dict[tuple[str, str], Decision] = {}
    rows = (
        determinations.filter(pl.col("decided_on").is_null() | (pl.col("decided_on") <= as_of))
        .sort("decided_on", "determination_id", nulls_last=False)
        .iter_rows(named=True)
    )
    for r in rows:
        kind = (r["kind"] or "").strip().lower()
        subject = (r["subject"] or "").strip()
        if not kind or not subject:
            continue
        latest[(kind, subject)] = Decision(
            value=(r["value"] or "").strip().lower(),
            decided_by=r["decided_by"] or "",
            decided_on=r["decided_on"],
            rationale=r["rationale"] or "",
        )
    return latest


def _awareness(received: dt.date | None, updated: dt.datetime | None, first: bool) -> dt.date:
    if first and received is not None:
        return received
    if updated is not None:
        return updated.date()
    return received  # type: ignore[return-value]


def build_context(
    versions: pl.DataFrame,
    products: pl.DataFrame,
    risk_register: pl.DataFrame,
    distribution: pl.DataFrame,
    as_of: dt.date,
    submissions: pl.DataFrame | None,
    determinations: pl.DataFrame | None,
    vmsr_product_codes: Iterable[str],
    settings: VigilanceSettings,
    rules: tuple[Rule, ...],
    regimes: tuple[Regime, ...],
) -> Context:
    prod_cols = products.columns
    product_of = {
        str(r["device_model"]): {
            "family": str(r.get("device_family") or ""),
            "product_code": str(r.get("product_code") or ""),
            "implantable": str(r.get("implantable")).strip().lower() in TRUE_TEXT,
            "ca_class": str(r.get("ca_class") or "").strip().upper()
            if "ca_class" in prod_cols
            else "",
        }
        for r in products.iter_rows(named=True)
    }
    by_regime = {r.regime: r for r in regimes}
    fda = by_regime.get("FDA_MDR")
    us_countries = fda.countries if fda else frozenset({"US"})
    ships = distribution.select(
        pl.col("device_model").cast(pl.String),
        pl.col("country").cast(pl.String),
        pl.col("ship_date").cast(pl.Date),
        pl.col("units").cast(pl.Int64, strict=False),
    ).filter((pl.col("units") > 0) & (pl.col("ship_date") <= as_of))
    firsts = ships.group_by("device_model", "country").agg(pl.col("ship_date").min())
    us_since: dict[tuple[str, str], dt.date] = {}
    ca_since: dict[str, dt.date] = {}
    eea_since: dict[str, dt.date] = {}
    eu = by_regime.get("EU_MDR")
    eea = eu.countries if eu else frozenset()
    for model, country, day in firsts.iter_rows():
        if country in eea and (model not in eea_since or day < eea_since[model]):
            eea_since[model] = day
        info = product_of.get(model, {"family": "", "product_code": ""})
        if country in us_countries:
            for key in (
                ("model", model),
                ("product_code", info["product_code"]),
                ("family", info["family"]),
            ):
                if key[1] and (key not in us_since or day < us_since[key]):
                    us_since[key] = day
        if country == "CA" and (model not in ca_since or day < ca_since[model]):
            ca_since[model] = day
    # the presumption from history: when each harmful malfunction type became known (the first
    # of an unbroken run of a complaint's versions showing it: a version that repeats it is not
    # a new event) and until when (a later version that no longer shows it, or judges it
    # unrelated, ends it)
    history: dict[str, dict[str, list[tuple[dt.date, dt.date, str]]]] = {}
    ordered = versions.sort("complaint_id", "updated_at", maintain_order=True)
    rows = list(ordered.iter_rows(named=True))
    run: tuple[str, str, str, dt.date] | None = None  # complaint, family, code, known from

    def close(until: dt.date) -> None:
        if run is not None:
            cid, family, code, start = run
            history.setdefault(family, {}).setdefault(code, []).append((start, until, cid))

    for i, r in enumerate(rows):
        first = i == 0 or rows[i - 1]["complaint_id"] != r["complaint_id"]
        aware = _awareness(r["received_date"], r["updated_at"], first)
        outcome = (r["patient_outcome"] or "").strip().lower()
        code = (r["problem_code"] or "").strip().upper()
        related = (r["causality"] or "").strip().lower() != "unrelated"
        harm = outcome in ("death", "serious_injury") and r["malfunction"] and code and related
        family = product_of.get(r["device_model"] or "", {}).get("family", "")
        same = run is not None and run[0] == r["complaint_id"]
        if same and harm and run[1:3] == (family, code):
            continue  # the same harm, told again
        if same:
            close(aware)
        elif run is not None:
            close(dt.date.max)  # the complaint's last version still shows it
        run = (r["complaint_id"], family, code, aware) if harm else None
    close(dt.date.max)
    for codes in history.values():
        for events in codes.values():
            events.sort()
    subs: dict[str, list[tuple[dt.date, str, str, str]]] = {}
    for r in (
        submissions.filter(pl.col("submitted_date") <= as_of)
        .sort("submitted_date", "authority", "report_kind", "report_number", nulls_last=True)
        .iter_rows(named=True)
    ):
        subs.setdefault((r["complaint_id"] or "").strip(), []).append(
            (
                r["submitted_date"],
                (r["authority"] or "").strip(),
                (r["report_kind"] or "").strip().lower(),
                r["report_number"] or "",
            )
        )
    decisions = _latest_decisions(determinations, as_of)
    covering: dict[str, list[tuple[str, Decision]]] = {}
    for (kind, subject), d in sorted(decisions.items()):
        if d.value in YES:
            covering.setdefault(kind, []).append((subject, d))
    return Context(
        rules=rules,
        regimes=by_regime,
        settings=settings,
        as_of=as_of,
        product_of=product_of,
        risks=family_risks(risk_register),
        us_since=us_since,
        ca_since=ca_since,
        eea_since=eea_since,
        shipped_models=frozenset(firsts["device_model"].to_list()),
        vmsr_codes=frozenset(vmsr_product_codes),
        history=history,
        submissions=subs,
        decisions=decisions,
        covering=covering,
        new_types=frozenset(),
    )


def first_of_their_kind(versions: pl.DataFrame, product_of: dict[str, dict[str, Any]]) -> set:
    """Complaints that are the first malfunction of their product code and problem code (by
    awareness, then id): a new type of malfunction, never summary-reported (83 FR 40973)."""
    seen: dict[tuple[str, str], tuple[dt.date, str]] = {}
    for r in versions.filter(pl.col("malfunction").fill_null(False)).iter_rows(named=True):
        pc = product_of.get(r["device_model"] or "", {}).get("product_code", "")
        code = (r["problem_code"] or "").strip().upper()
        if not code:
            continue
        key = (pc, code)
        cand = (r["received_date"], r["complaint_id"])
        if key not in seen or cand < seen[key]:
            seen[key] = cand
    return {cid for _, cid in seen.values()}


@dataclass
class Obligation:
    rule: Rule
    criteria: frozenset[str]
    day_zero: dt.date
    due: dt.date | None
    doubt: bool


def met_by(
    submission: tuple[dt.date, str, str, str] | None, due: dt.date | None, as_of: dt.date
) -> dict[str, Any]:
    """The columns a submission (or none) gives an obligation: its date, number and status."""
    return {
        "reported_date": submission[0] if submission else None,
        "report_number": submission[3] if submission else None,
        "status": flag_status(due, submission[0] if submission else None, as_of),
    }


# Determinations that start a report of their own (21 CFR 803.53; MDR Art. 87(4)): kind ->
# (regime, report kind, the authority a report on a subject that is not a complaint goes to)
DETERMINATION_CLOCKS = {
    "remedial_action_required": ("FDA_MDR", "five_day", "FDA"),
    "fda_request": ("FDA_MDR", "five_day", "FDA"),
    "serious_public_health_threat": ("EU_MDR", "public_health_threat", "EU"),
}


def _first_submission(
    subs: list[tuple[dt.date, str, str, str]],
    authority: str,
    kinds: frozenset[str],
    on_or_after: dt.date | None = None,
) -> tuple[dt.date, str, str, str] | None:
    for sub in subs:
        if (
            sub[1] == authority
            and sub[2] in kinds
            and (on_or_after is None or sub[0] >= on_or_after)
        ):
            return sub
    return None


class ComplaintAssessment:
    """One complaint's versions walked in the order their information arrived."""

    def __init__(self, cid: str, rows: list[dict[str, Any]], ctx: Context) -> None:
        self.cid, self.rows, self.ctx = cid, rows, ctx
        current = rows[-1]
        self.current = current
        self.model = current["device_model"] or ""
        info = ctx.product_of.get(self.model, {})
        self.family = info.get("family", "")
        self.product_code = info.get("product_code", "")
        self.ca_class = info.get("ca_class", "")
        self.country = (current["country"] or "").strip().upper()
        self.received = rows[0]["received_date"] or current["received_date"]
        risk = ctx.risks.get(self.family, FamilyRisk())
        s = ctx.settings
        self.aware: list[dt.date] = []
        self.facts: list[VersionFacts] = []
        for i, r in enumerate(rows):
            aware = _awareness(r["received_date"], r["updated_at"], i == 0) or ctx.as_of
            code = (r["problem_code"] or "").strip().upper()
            history = ctx.harm_history(self.family, code, aware) if r["malfunction"] else ""
            self.aware.append(aware)
            self.facts.append(
                version_facts(
                    r["patient_outcome"],
                    r["malfunction"],
                    r["problem_code"],
                    r["health_effect_code"],
                    r["hospitalised"],
                    risk,
                    implantable=bool(info.get("implantable")),
                    life_supporting=self.family in s.life_supporting_families,
                    essential_codes=frozenset(s.essential_function_codes.get(self.family, ())),
                    harm_history=history,
                )
            )
        self.day0: dict[str, dt.date] = {}
        self.last_met: dict[str, int] = {}
        doubt_start: dict[str, dt.date] = {}
        for i, (aware, f) in enumerate(zip(self.aware, self.facts, strict=True)):
            for c in sorted(SERIOUS_CRITERIA):
                if c in f.met:
                    self.day0.setdefault(c, doubt_start.get(c, aware))
                    self.last_met[c] = i
                    doubt_start.pop(c, None)
                elif c in f.doubt:
                    doubt_start.setdefault(c, aware)
                else:
                    doubt_start.pop(c, None)
        self.doubt = {c: doubt_start[c] for c in self.facts[-1].doubt if c in doubt_start}
        self.subs = ctx.submissions.get(cid, [])
        self.causality = self._causality()
        self.decision = self._reportability()
        self.legacy = next(
            (r["reported_date"] for r in reversed(rows) if r["reported_date"] is not None), None
        )

    # ---- people's decisions ----------------------------------------------------------------
    def _causality(self) -> Decision | None:
        found = self.ctx.decisions.get(("causality", self.cid))
        if found:
            return found
        value = (self.current["causality"] or "").strip().lower()
        if value:
            return Decision(value, "complaint record", self._since("causality"), "")
        return None

    def _reportability(self) -> Decision | None:
        found = self.ctx.decisions.get(("reportability", self.cid))
        if found:
            value = "no" if found.value in NO else "yes" if found.value in YES else found.value
            return Decision(value, found.decided_by, found.decided_on, found.rationale)
        value = (self.current["reportability_decision"] or "").strip().lower()
        if value in ("yes", "no"):
            return Decision(value, "complaint record", self._since("reportability_decision"), "")
        return None

    def _since(self, column: str) -> dt.date:
        """The awareness date of the version that first carried the current value of `column`."""
        value, i = self.current[column], len(self.rows) - 1
        while i > 0 and self.rows[i - 1][column] == value:
            i -= 1
        return self.aware[i]

    def covered_by(self, kind: str) -> Decision | None:
        """The latest 'yes' determination of `kind` whose subject is this complaint, its lot,
        model, family or product code."""
        subjects = {
            self.cid,
            self.model,
            self.family,
            self.product_code,
            (self.current["lot_number"] or "").strip(),
        } - {""}
        hits = [d for subject, d in self.ctx.covering.get(kind, ()) if subject in subjects]
        dated = [d for d in hits if d.decided_on is not None]
        return min(dated, key=lambda d: d.decided_on) if dated else (hits[0] if hits else None)

    # ---- scope -----------------------------------------------------------------------------
    def regimes(self) -> list[tuple[Regime, str, dt.date | None]]:
        """(regime, why it applies, the day from which it applies when later than awareness)."""
        out: list[tuple[Regime, str, dt.date | None]] = []
        ctx = self.ctx
        fda = ctx.regimes.get("FDA_MDR")
        if fda:
            if self.country in fda.countries:
                out.append((fda, f"event in {self.country} (21 CFR 803.3)", None))
            else:
                kind = ctx.settings.fda_similar_device
                value = {"model": self.model, "product_code": self.product_code}.get(
                    kind, self.family
                )
                since = ctx.us_since.get((kind, value))
                if since is not None and self.received is not None and since <= self.received:
                    out.append(
                        (
                            fda,
                            f"event abroad; a similar device ({kind} {value}) is marketed in the"
                            f" US since {since.isoformat()} (21 CFR 803.50)",
                            None,
                        )
                    )
        eu = ctx.regimes.get("EU_MDR")
        if eu and self.country in eu.countries and self.available(ctx.eea_since):
            out.append((eu, f"event in {self.country} (MDR Art. 87(1)(a))", None))
        hc = ctx.regimes.get("HC_CMDR")
        if hc:
            if self.country in hc.countries:
                if self.available(ctx.ca_since):
                    out.append((hc, "incident in Canada (CMDR s. 59(1))", None))
            elif self.model in ctx.ca_since and self.ca_class in ("", "I"):
                action = self.covered_by("fsca_decision")
                if action is not None:
                    out.append(
                        (
                            hc,
                            "incident abroad with a device sold in Canada (class "
                            f"{self.ca_class or 'unknown'}); corrective action decided on "
                            f"{action.decided_on} (CMDR s. 59(1.1), (2))",
                            action.decided_on,
                        )
                    )
        return out

    def available(self, first_shipment: dict[str, dt.date]) -> bool:
        """Made available (shipped) there by the complaint's receipt; a model the shipment data
        does not know at all counts as available (doubt counts towards the obligation)."""
        if self.model not in self.ctx.shipped_models:
            return True
        since = first_shipment.get(self.model)
        return since is not None and (self.received is None or since <= self.received)

    def none_encoded(self, applicable: list[Regime]) -> str:
        """Why no encoded regime covers the event where it happened ('' when one does)."""
        if any(self.country in r.countries for r in applicable):
            return ""
        if any(self.country in r.countries for r in self.ctx.regimes.values()):
            return (
                f"event in {self.country} with a device the shipment data never made available "
                "there: no encoded regime applies there; assess locally"
            )
        return (
            f"no regime encoded for events in {self.country or 'an unknown country'}: "
            "assess locally"
        )

    # ---- obligations -----------------------------------------------------------------------
    def obligations(
        self, regime: str, day0: dict[str, dt.date], doubt: dict[str, dt.date], not_before
    ) -> list[Obligation]:
        ctx = self.ctx
        opt = ctx.settings.opt_ins
        rules = [
            r
            for r in ctx.rules
            if r.regime == regime
            and r.report_kind == "initial"
            and r.route in ("individual", "summary")
            and (not r.opt_in or r.opt_in in opt)
        ]
        found: list[Obligation] = []
        summary = self.summary_route(regime, day0)
        for r in rules:
            if r.route == "summary":
                if summary and r.criteria & {"summary_malfunction"}:
                    d0 = max(day0["serious_malfunction"], not_before or dt.date.min)
                    crit = frozenset({"serious_malfunction", "summary_malfunction"})
                    found.append(Obligation(r, crit, d0, due_date(d0, r), False))
                continue
            crits = r.criteria & day0.keys()
            if summary and r.rule_id == summary.replaces and crits <= {"serious_malfunction"}:
                crits = frozenset()
            if crits:
                d0 = max(min(day0[c] for c in crits), not_before or dt.date.min)
                found.append(Obligation(r, frozenset(crits), d0, due_date(d0, r), False))
            in_doubt = (r.criteria & doubt.keys()) - day0.keys()
            if in_doubt:
                d0 = max(min(doubt[c] for c in in_doubt), not_before or dt.date.min)
                found.append(Obligation(r, frozenset(in_doubt), d0, due_date(d0, r), True))
        return sorted(
            found, key=lambda o: (o.due or dt.date.max, o.doubt, o.rule.rule_id, o.day_zero)
        )

    def vmsr_exclusions(self, day0: dict[str, dt.date]) -> list[str]:
        why = []
        if day0.keys() & {"death", "serious_injury"}:
            why.append("death or serious injury")
        if self.cid in self.ctx.new_types:
            why.append("a new type of malfunction (first of its product code and problem code)")
        for kind, text in (
            ("remedial_action_required", "a 5-day event (remedial action)"),
            ("fda_request", "FDA asked for individual reports"),
            ("fsca_decision", "subject of a recall or field action"),
        ):
            if self.covered_by(kind):
                why.append(text)
        return why

    def summary_route(self, regime: str, day0: dict[str, dt.date]) -> Rule | None:
        """The opted-in summary rule that stands in for individual reports, when eligible."""
        ctx = self.ctx
        if (
            "serious_malfunction" not in day0
            or self.product_code not in ctx.vmsr_codes
            or self.vmsr_exclusions(day0)
        ):
            return None
        return next(
            (
                r
                for r in ctx.rules
                if r.regime == regime
                and r.route == "summary"
                and (not r.opt_in or r.opt_in in ctx.settings.opt_ins)
            ),
            None,
        )

    def downgraded_on(self, criteria: frozenset[str]) -> dt.date | None:
        last = max((self.last_met[c] for c in criteria if c in self.last_met), default=None)
        if last is None or last >= len(self.rows) - 1:
            return None
        return self.aware[last + 1]

    def authority(self, regime: Regime) -> str:
        if regime.regime == "EU_MDR":
            return "EU:" + regime.competent_authority_of.get(self.country, self.country)
        return regime.authority

    def row(self, regime: str, authority: str, kind: str, **values: Any) -> dict[str, Any]:
        base: dict[str, Any] = dict.fromkeys(FLAG_SCHEMA)
        due = values.get("due_date")
        base.update(
            complaint_id=self.cid,
            regime=regime,
            authority=authority,
            report_kind=kind,
            reportable=False,
            vmsr_eligible=False,
            expected_side_effect="expected_side_effect" in self.facts[-1].other,
            received_date=self.received,
            legacy_reported_date=self.legacy,
            data_state="staged",
            as_of=self.ctx.as_of,
        )
        base.update(values)
        base["days_remaining"] = (due - self.ctx.as_of).days if due else None
        return base

    def reasons(self) -> list[str]:
        """Why, in words: the facts of the versions that first met each criterion and of the
        current version."""
        first_met = {next(i for i, f in enumerate(self.facts) if c in f.met) for c in self.day0} | {
            len(self.facts) - 1
        }
        seen: list[str] = []
        history = "a malfunction of type"
        for i in sorted(first_met):
            for text in self.facts[i].reasons:
                text = text.replace(f"(complaint {self.cid},", "(this complaint,")
                if text.startswith(history) and any(t.startswith(history) for t in seen):
                    continue  # the first harm that made it serious is the one to read
                if text not in seen:
                    seen.append(text)
        return seen

    def initial(self, regime: Regime, scope: str, not_before: dt.date | None) -> list[dict]:
        ctx = self.ctx
        authority = self.authority(regime)
        day0 = dict(self.day0)
        doubt = dict(self.doubt)
        before = self.obligations(regime.regime, day0, doubt, not_before)
        removed = self.judged_unrelated(day0, doubt)
        if removed and before and self.reported_all_the_same(regime, authority, before[0]):
            # reported: judged against the clock the facts started, whatever was decided later
            removed = set()
        unrelated = bool(removed)
        if unrelated:
            day0 = {c: d for c, d in day0.items() if c not in removed}
            doubt = {c: d for c, d in doubt.items() if c not in removed}
        found = self.obligations(regime.regime, day0, doubt, not_before)
        reasons = [scope, *self.reasons()]
        criteria = sorted(day0) + [f"doubt:{c}" for c in sorted(doubt)]
        criteria += sorted(self.facts[-1].other)
        values: dict[str, Any] = {
            "criteria_met": ";".join(criteria),
            "rules_arisen": ";".join(sorted({o.rule.rule_id for o in found})),
            "vmsr_eligible": self.summary_route(regime.regime, day0) is not None
            and regime.regime == "FDA_MDR",
        }
        first = _first_submission(self.subs, authority, INITIAL_KINDS | {"summary"})

        def initial_row(status: str) -> dict:
            return self.row(
                regime.regime,
                authority,
                "initial",
                status=status,
                reason="; ".join(reasons),
                **values,
            )

        if not found and not_before is not None and not before:
            return []  # an incident abroad is a Health Canada matter only when it is serious
        if not found:
            trend = next(
                (
                    r
                    for r in ctx.rules
                    if r.regime == regime.regime
                    and r.route == "trend"
                    and r.criteria & self.facts[-1].other
                ),
                None,
            )
            closed = unrelated and before
            status = "decided_not_reportable" if closed else "not_reportable"
            if closed:
                gov = before[0]
                why = self.causality.rationale
                reasons.append("causality judged unrelated" + (f": {why}" if why else ""))
                kinds = INITIAL_KINDS | ({"summary"} if gov.rule.route == "summary" else set())
                met = _first_submission(self.subs, authority, frozenset(kinds))
                if met is not None:  # reported all the same: judged as any report is
                    status = flag_status(gov.due, met[0], ctx.as_of)
                    values.update(reported_date=met[0], report_number=met[3])
                values.update(
                    rule=gov.rule.rule_id,
                    route=gov.rule.route,
                    reportable=True,
                    day_zero=gov.day_zero,
                    due_date=gov.due,
                    decision="unrelated",
                    decided_by=self.causality.decided_by,
                    decided_on=self.causality.decided_on,
                    decision_rationale=self.causality.rationale,
                )
            else:
                values.update(
                    rule=trend.rule_id if trend else NOT_REPORTABLE,
                    route=trend.route if trend else "none",
                )
            rows = [initial_row(status)]
            if first is not None:  # a report was made all the same: what it owes follows it
                rows += self.after_report(regime, authority, None, first, None)
            return rows
        gov = found[0]
        only_doubt = all(o.doubt for o in found)
        sub_kinds = INITIAL_KINDS | ({"summary"} if gov.rule.route == "summary" else frozenset())
        met = _first_submission(self.subs, authority, sub_kinds)
        reported = met[0] if met else None
        number = met[3] if met else None
        if (
            reported is None
            and self.legacy is not None
            and self.legacy <= ctx.as_of
            and regime.regime in ctx.settings.legacy_reported_date_satisfies
        ):
            reported = self.legacy
            reasons.append("met by the legacy reported_date (configured for this regime)")
        elif reported is None and self.legacy is not None:
            reasons.append(
                f"legacy reported_date {self.legacy} names no authority; no submission to "
                f"{authority} confirms it"
            )
        definite = frozenset().union(*(o.criteria for o in found if not o.doubt))
        down = self.downgraded_on(definite) if definite else None
        if down:
            reasons.append(f"downgraded on {down}: the obligation stays until met or decided")
        if (
            regime.regime == "FDA_MDR"
            and gov.rule.route == "individual"
            and "serious_malfunction" in day0
            and self.product_code in ctx.vmsr_codes
            and ctx.settings.fda_vmsr_participant
        ):
            excluded = self.vmsr_exclusions(day0)
            if excluded:
                reasons.append("not for summary reporting: " + ", ".join(excluded))
        if unrelated and len(before) > len(found):
            reasons.append("death or injury judged unrelated; the malfunction remains reportable")
        decision = self.decision
        if reported is not None:
            status = flag_status(gov.due, reported, ctx.as_of)
        elif (
            decision is not None and decision.value == "no" and self.judged(decision, gov.day_zero)
        ):
            status = "decided_not_reportable"
            reasons.append(
                f"a person decided not reportable against {gov.rule.rule_id}: second review"
            )
        elif decision is not None and decision.value == "no":
            reasons.append(
                f'the "no" of {decision.decided_on} predates day 0 ({gov.day_zero}): it did not '
                "judge these facts"
            )
            status = "undetermined" if only_doubt else flag_status(gov.due, None, ctx.as_of)
        elif only_doubt and not (decision is not None and decision.value == "yes"):
            status = "undetermined"
        else:
            status = flag_status(gov.due, None, ctx.as_of)
        if decision is not None:
            values.update(
                decision=decision.value,
                decided_by=decision.decided_by,
                decided_on=decision.decided_on,
                decision_rationale=decision.rationale,
            )
        values.update(
            rule=gov.rule.rule_id,
            route=gov.rule.route,
            reportable=True,
            criteria_met=";".join(
                sorted(gov.criteria)
                if not gov.doubt
                else [f"doubt:{c}" for c in sorted(gov.criteria)]
            ),
            day_zero=gov.day_zero,
            due_date=gov.due,
            reported_date=reported,
            report_number=number,
            downgraded_on=down,
        )
        rows = [initial_row(status)]
        if first is None and reported is not None:
            first = (reported, authority, "initial", "")
        if first is not None:
            rows += self.after_report(regime, authority, gov, first, down)
        return rows

    def reported_all_the_same(self, regime: Regime, authority: str, gov: Obligation) -> bool:
        """An initial report to the authority exists for this obligation (a submission, or the
        legacy date where configured)."""
        kinds = INITIAL_KINDS | ({"summary"} if gov.rule.route == "summary" else frozenset())
        if _first_submission(self.subs, authority, kinds) is not None:
            return True
        return (
            self.legacy is not None
            and self.legacy <= self.ctx.as_of
            and regime.regime in self.ctx.settings.legacy_reported_date_satisfies
        )

    def after_report(
        self,
        regime: Regime,
        authority: str,
        gov: Obligation | None,
        first: tuple[dt.date, str, str, str],
        down: dt.date | None,
    ) -> list[dict]:
        """Supplemental (FDA), follow-up and final (EU), final (HC) reports owed after one
        (21 CFR 803.56 applies to any report submitted, reportable or not)."""
        ctx = self.ctx
        rows: list[dict] = []
        summary = gov is not None and gov.rule.route == "summary"
        follow = [
            r
            for r in ctx.rules
            if r.regime == regime.regime
            and r.route in ("supplement", "follow_up")
            and ("new_information_summary" in r.criteria) == summary
            and (not r.opt_in or r.opt_in in ctx.settings.opt_ins)
        ]
        if follow:
            rule = follow[0]
            kinds = frozenset({"summary"}) if summary else FOLLOW_UP_KINDS
            seen_days: set[dt.date] = set()
            for i in range(1, len(self.rows)):
                day = self.aware[i]
                if day <= first[0] or day in seen_days:
                    continue
                changed = [f for f in MATERIAL_FIELDS if self.rows[i][f] != self.rows[i - 1][f]]
                if not changed:
                    continue
                seen_days.add(day)
                due = due_date(day, rule)
                met = _first_submission(self.subs, authority, kinds, on_or_after=day)
                rows.append(
                    self.row(
                        regime.regime,
                        authority,
                        rule.report_kind,
                        rule=rule.rule_id,
                        route=rule.route,
                        reportable=True,
                        criteria_met="new_information:" + ",".join(changed),
                        reason=f"new information received {day} after the report of {first[0]}",
                        received_date=day,
                        day_zero=day,
                        due_date=due,
                        **met_by(met, due, ctx.as_of),
                    )
                )
        if first[2] != "initial":
            return rows  # a final report was the first one
        finals = [r for r in ctx.rules if r.regime == regime.regime and r.route == "final"]
        if not finals:
            return rows
        rule = finals[0]
        closed = (self.current["investigation_status"] or "") == "closed"
        if "preliminary_report_made" in rule.criteria:
            start, kind, why = first[0], "final", "a final report follows the preliminary one"
        elif down is not None:
            start, kind, why = down, "final_non_reportable", "downgraded after the report"
        elif closed:
            start = self.current["investigation_closed_date"] or self.aware[-1]
            kind, why = "final", "investigation closed"
        else:
            return rows
        met = _first_submission(self.subs, authority, FINAL_KINDS, on_or_after=first[0])
        rows.append(
            self.row(
                regime.regime,
                authority,
                kind,
                rule=rule.rule_id,
                route=rule.route,
                reportable=True,
                criteria_met=";".join(sorted(rule.criteria)),
                reason=why,
                day_zero=start,
                due_date=None,
                **met_by(met, None, ctx.as_of),
            )
        )
        return rows

    def apart(self, regime: str, rule: str, authority: str, why: str) -> dict:
        """A NONE_ENCODED or CLINICAL_STUDY row: no clock here, a person assesses it."""
        arisen = bool(self.day0) or bool(self.doubt)
        local = next(
            (s for s in self.subs if s[1] not in ("FDA", "HC") and not s[1].startswith("EU:")),
            None,
        )
        decided = regime == NONE_ENCODED  # a clinical study's SAEs follow its protocol
        left = set(self.day0) | set(self.doubt)
        if decided:
            left -= self.judged_unrelated(self.day0, self.doubt)
        day_zero = min([*self.day0.values(), *self.doubt.values()], default=None)
        no = (
            decided
            and self.decision is not None
            and self.decision.value == "no"
            and self.judged(self.decision, day_zero)
        )
        if not arisen:
            status = "not_reportable"
        elif not left or no:
            # a person's "no", or causality judged unrelated and nothing else serious left
            status = "decided_not_reportable"
        else:
            status = "undetermined"
        criteria = sorted(self.day0) + [f"doubt:{c}" for c in sorted(self.doubt)]
        return self.row(
            regime,
            authority,
            "initial",
            rule=rule,
            route="assess",
            reportable=arisen,
            criteria_met=";".join(criteria),
            reason="; ".join([why, *self.reasons()]),
            day_zero=min([*self.day0.values(), *self.doubt.values()], default=None),
            reported_date=local[0] if local else None,
            report_number=local[3] if local else None,
            status=status,
        )

    @staticmethod
    def judged(decision: Decision, day_zero: dt.date | None) -> bool:
        """A decision judged the facts that started a clock only if made on or after day 0."""
        return (
            decision.decided_on is not None
            and day_zero is not None
            and decision.decided_on >= day_zero
        )

    def judged_unrelated(self, day0: dict[str, dt.date], doubt: dict[str, dt.date]) -> set[str]:
        """The death and injury criteria a causality of 'unrelated' removes: those it was
        decided on or after (a judgement made before the death was known did not judge it)."""
        if self.causality is None or self.causality.value != "unrelated":
            return set()
        return {
            c
            for c, since in {**doubt, **day0}.items()
            if c in INJURY_CRITERIA and self.judged(self.causality, since)
        }

    def determination_rows(self, applicable: set[str]) -> list[dict]:
        """5-day (FDA) and public-health-threat (EU) reports decided on this complaint."""
        rows = []
        for kind, (regime, report_kind, _) in DETERMINATION_CLOCKS.items():
            d = self.ctx.decisions.get((kind, self.cid))
            if d is None or d.value not in YES or regime not in applicable:
                continue
            reg = self.ctx.regimes[regime]
            rows.append(
                determination_row(
                    self.ctx, self.cid, reg, self.authority(reg), kind, report_kind, d, self.subs
                )
            )
        return rows

    def assess(self) -> list[dict]:
        source = (self.current["source"] or "").strip().lower()
        if source == "clinical_study":
            return [
                self.apart(
                    CLINICAL_STUDY,
                    SAE_PER_PROTOCOL,
                    "clinical investigation sponsor",
                    "clinical investigation: report serious adverse events under the study's "
                    "safety reporting (MDR Art. 80; 21 CFR 812.150), not on post-market clocks",
                )
            ]
        rows: list[dict] = []
        scoped = self.regimes()
        applicable = {regime.regime for regime, _, _ in scoped}
        for regime, scope, not_before in scoped:
            rows += self.initial(regime, scope, not_before)
        why_local = self.none_encoded([regime for regime, _, _ in scoped])
        if why_local:
            rows.append(
                self.apart(
                    NONE_ENCODED,
                    ASSESS_LOCALLY,
                    f"local authority of {self.country or 'unknown country'}",
                    why_local,
                )
            )
        rows += self.determination_rows(applicable)
        return rows


def determination_row(
    ctx: Context,
    subject: str,
    regime: Regime,
    authority: str,
    kind: str,
    report_kind: str,
    d: Decision,
    subs: list[tuple[dt.date, str, str, str]],
) -> dict:
    rule = next(r for r in ctx.rules if r.regime == regime.regime and kind in r.criteria)
    start = d.decided_on or ctx.as_of
    due = due_date(start, rule)
    met = next(
        (
            s
            for s in subs
            if s[0] >= start
            and (s[1] == authority or (authority == "EU" and s[1].startswith("EU:")))
        ),
        None,
    )
    row: dict[str, Any] = dict.fromkeys(FLAG_SCHEMA)
    row.update(
        complaint_id=subject,
        regime=regime.regime,
        authority=authority,
        report_kind=report_kind,
        rule=rule.rule_id,
        route=rule.route,
        reportable=True,
        criteria_met=kind,
        reason=f"{kind} decided by {d.decided_by} on {d.decided_on}: {d.rationale}".strip(),
        vmsr_eligible=False,
        expected_side_effect=False,
        day_zero=start,
        due_date=due,
        **met_by(met, due, ctx.as_of),
        days_remaining=(due - ctx.as_of).days if due else None,
        decision=d.value,
        decided_by=d.decided_by,
        decided_on=d.decided_on,
        decision_rationale=d.rationale,
        data_state="staged",
        as_of=ctx.as_of,
    )
    return row


def subject_rows(ctx: Context, complaint_ids: set[str], models_of: dict[str, set[str]]) -> list:
    """Obligations decided on a subject that is not a complaint (a model, family, lot or signal):
    the FDA 5-day and EU 2-day reports, and Health Canada's 72-hour foreign risk notice."""
    rows = []
    for (kind, subject), d in sorted(ctx.decisions.items()):
        if d.value not in YES:
            continue
        if kind in DETERMINATION_CLOCKS and subject not in complaint_ids:
            regime, report_kind, authority = DETERMINATION_CLOCKS[kind]
            if regime in ctx.regimes:
                subs = ctx.submissions.get(subject, [])
                rows.append(
                    determination_row(
                        ctx, subject, ctx.regimes[regime], authority, kind, report_kind, d, subs
                    )
                )
        if kind == "fsca_decision" and "HC_CMDR" in ctx.regimes:
            models = models_of.get(subject)
            on = d.decided_on or ctx.as_of
            if models is None:  # a subject the data cannot resolve: doubt counts towards notice
                sold = True
            else:
                sold = any(
                    m in ctx.ca_since
                    and ctx.ca_since[m] <= on
                    and ctx.product_of.get(m, {}).get("ca_class", "") in ("", "II", "III", "IV")
                    for m in models
                )
            if sold:
                row = determination_row(
                    ctx,
                    subject,
                    ctx.regimes["HC_CMDR"],
                    "HC",
                    "foreign_corrective_action",
                    "foreign_risk_notice",
                    d,
                    ctx.submissions.get(subject, []),
                )
                rows.append(row)
    return rows


def assess_vigilance(
    versions: pl.DataFrame,
    products: pl.DataFrame,
    risk_register: pl.DataFrame,
    distribution: pl.DataFrame,
    as_of: dt.date,
    *,
    submissions: pl.DataFrame | None = None,
    determinations: pl.DataFrame | None = None,
    vmsr_product_codes: Iterable[str] = (),
    settings: VigilanceSettings | None = None,
    rules: tuple[Rule, ...] | None = None,
    regimes: tuple[Regime, ...] | None = None,
) -> pl.DataFrame:
    """Every obligation of every complaint known on the night `as_of` (docs/vigilance.md).

    `versions`: every version of every complaint (data-contract columns; only complaint_id,
    received_date, updated_at, device_model, country, patient_outcome and malfunction are
    required). Versions received or updated after the night are ignored, as are submissions and
    determinations dated after it. One row at least per complaint."""
    settings = settings or VigilanceSettings()
    rules = rules or load_rules()
    regimes = regimes or load_regimes()
    v = _conform(versions, VERSION_COLUMNS).with_columns(
        pl.col("country").str.strip_chars().str.to_uppercase(),
        pl.col("problem_code").str.strip_chars().str.to_uppercase(),
        pl.col("health_effect_code").str.strip_chars().str.to_uppercase(),
    )
    v = v.filter(
        (pl.col("received_date").is_null() | (pl.col("received_date") <= as_of))
        & (pl.col("updated_at").is_null() | (pl.col("updated_at").dt.date() <= as_of))
    ).sort("complaint_id", "updated_at", maintain_order=True, nulls_last=False)
    subs = _conform(submissions, SUBMISSION_COLUMNS)
    dets = _conform(determinations, DETERMINATION_COLUMNS)
    ctx = build_context(
        v,
        products,
        risk_register,
        distribution,
        as_of,
        subs,
        dets,
        vmsr_product_codes,
        settings,
        rules,
        regimes,
    )
    ctx.new_types = frozenset(first_of_their_kind(v, ctx.product_of))
    rows: list[dict] = []
    ids: list[str] = []
    grouped: dict[str, list[dict]] = {}
    for r in v.iter_rows(named=True):
        cid = r["complaint_id"]
        if cid is None:
            continue
        if cid not in grouped:
            grouped[cid] = []
            ids.append(cid)
        grouped[cid].append(r)
    models_of: dict[str, set[str]] = {}
    for model, info in ctx.product_of.items():
        for key in (model, info["family"], info["product_code"]):
            if key:
                models_of.setdefault(key, set()).add(model)
    for cid in ids:
        assessment = ComplaintAssessment(cid, grouped[cid], ctx)
        models_of.setdefault(cid, set()).add(assessment.model)
        rows += assessment.assess()
    rows += subject_rows(ctx, set(ids), models_of)
    return (
        pl.DataFrame(rows, schema=FLAG_SCHEMA)
        .unique(
            ["complaint_id", "regime", "report_kind", "rule", "day_zero"],
            keep="first",
            maintain_order=True,
        )
        .sort("complaint_id", "regime", "report_kind", "day_zero", "rule", nulls_last=False)
    )


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
            met = set()
            if outcome == "death":
                met.add("death")
            if outcome == "serious_injury":
                met |= {"serious_injury", "serious_deterioration"}
            if outcome in ("", "unknown"):
                met |= INJURY_CRITERIA  # doubt counts against delay
            if malfunction and ((c["device_family"], code) in serious or not code):
                met.add("serious_malfunction")
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
            applicable = [
                r
                for r in regimes
                if country in r.countries
                or (r.regime == "FDA_MDR" and model_markets[model] & r.countries)
            ]
        else:
            applicable = list(regimes)
        received = _parse_date(c["received_date"]) if c["readable"] is not False else None
        for regime in applicable:
            candidates = sorted(
                (due_date(received or as_of, r), r.rule_id, r)
                for r in rules
                if r.regime == regime.regime
                and r.report_kind == "initial"
                and r.route == "individual"
                and r.criteria & met
            )
            if not candidates:
                continue
            due, _, rule = candidates[0]
            row: dict[str, Any] = dict.fromkeys(FLAG_SCHEMA)
            row.update(
                complaint_id=complaint_id,
                regime=regime.regime,
                authority=regime.authority,
                report_kind="initial",
                rule=rule.rule_id,
                route=rule.route,
                reportable=True,
                criteria_met=criteria,
                reason="waiting in quarantine: judged on its raw text",
                vmsr_eligible=False,
                expected_side_effect=False,
                received_date=received,
                day_zero=received,
                due_date=due if received else None,
                status=flag_status(due, None, as_of) if received else "open",
                days_remaining=(due - as_of).days if received and due else None,
                data_state="quarantined",
                as_of=as_of,
            )
            rows.append(row)
    return (
        pl.DataFrame(rows, schema=FLAG_SCHEMA)
        .sort("complaint_id", "regime", "due_date", nulls_last=False)
        .unique(["complaint_id", "regime"], keep="first", maintain_order=True)
    )


def compliance_flags(
    complaints: pl.DataFrame,
    flags: pl.DataFrame,
    as_of: dt.date,
    *,
    evaluation_limit_days: int = 5,
    investigation_limit_days: int = 30,
) -> pl.DataFrame:
    """Complaint-handling findings (ISO 13485:2016 8.2.2; 21 CFR 820.35(a) as amended by the
    QMSR) for current versions.

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
        flags.filter(pl.col("status") == "decided_not_reportable").select(
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
