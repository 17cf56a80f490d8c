"""The ground truth of `marts.vigilance_flags`, computed from a landing folder's own files.

What it implements is `docs/vigilance.md` and the texts it cites (21 CFR 803, Regulation (EU)
2017/745 Art. 87-88, MDCG 2023-3, Canada's Medical Devices Regulations s. 59-61.2). It reads the
landing folder back (products, risk register, shipments, complaint versions, submissions,
determinations), never the generator's arrays, and shares no code with the pipeline
(`models/vigilance.py`): each complaint's versions are walked in order, keeping per criterion
when it first arose, whether it is in doubt and whether a later version lowered it; then each
authority's obligation gets its status in the document's order.

    rows = compute(Path("data/landing"), dt.date(2026, 10, 31))
    write_truth(Path("data/landing"), dt.date(2026, 10, 31))  # -> _truth/reportability.csv

Rows: the `initial` obligation of every complaint under each regime that applies (FDA_MDR,
EU_MDR, HC_CMDR, NONE_ENCODED, CLINICAL_STUDY; rule NOT_REPORTABLE when no rule applies, the
EU trend route included), decided by the complaint's own criteria only; every FDA
`supplemental` obligation (21 CFR 803.56); and the reports a person's determination starts,
rows of their own (complaint_id is the determination's subject): an FDA `five_day` report per
`remedial_action_required` or `fda_request` (21 CFR 803.53), an EU `public_health_threat`
report per `serious_public_health_threat` (MDR Art. 87(4)), and one Health Canada
`foreign_risk_notice` per corrective-action decision (SOR/98-282 s. 61.2).
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TRUTH_COLUMNS = ("complaint_id", "regime", "report_kind", "rule", "day_zero", "due_date", "status")

# ---- where each authority's scope lies ----------------------------------------------------
# 21 CFR 803.3 "United States": the states, DC and the territories.
US_AND_TERRITORIES = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM"})
EU_27 = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    }
)  # fmt: skip
# MDR Art. 87(1) via the EEA Agreement and the Windsor Framework; TFEU Art. 349 outermost regions
# with their own ISO codes; Aland (AX) is part of Finland.
MEMBER_STATE_OF = {
    **{c: c for c in EU_27},
    **{c: "FR" for c in ("GF", "GP", "MQ", "RE", "YT", "MF")},
    "AX": "FI",
    "IS": "IS",
    "LI": "LI",
    "NO": "NO",
    "XI": "XI",
}
CANADA = "CA"

# ---- the rules: regime, clock in days, kind of day, and the criteria that start them ----------
FDA, EU, HC = "FDA_MDR", "EU_MDR", "HC_CMDR"
NONE_ENCODED, CLINICAL_STUDY = "NONE_ENCODED", "CLINICAL_STUDY"
DEATH = "death"
SERIOUS_INJURY = "serious_injury"
SERIOUS_DETERIORATION = "serious_deterioration"
UNANTICIPATED = "unanticipated_serious_deterioration"
SERIOUS_MALFUNCTION = "serious_malfunction"
CRITERIA = (DEATH, SERIOUS_INJURY, SERIOUS_DETERIORATION, UNANTICIPATED, SERIOUS_MALFUNCTION)
HARM_CRITERIA = (DEATH, SERIOUS_INJURY, SERIOUS_DETERIORATION, UNANTICIPATED)


@dataclass(frozen=True)
class Rule:
    rule_id: str
    regime: str
    days: int
    work_days: bool  # US federal work days (21 CFR 803.53) instead of calendar days
    criteria: tuple[str, ...]  # complaint criteria; empty: a person's determination starts it
    # (a row of its own, never a competitor of the complaint's initial row)


RULES = (  # in the order of docs/vigilance.md
    Rule("FDA_803_50_30D", FDA, 30, False, (DEATH, SERIOUS_INJURY, SERIOUS_MALFUNCTION)),
    Rule("FDA_803_53_5D", FDA, 5, True, ()),
    Rule("EU_87_5_10D", EU, 10, False, (DEATH, UNANTICIPATED)),
    Rule("EU_87_3_15D", EU, 15, False, (SERIOUS_DETERIORATION, SERIOUS_MALFUNCTION)),
    Rule("EU_87_4_2D", EU, 2, False, ()),
    Rule("HC_CMDR_60_10D", HC, 10, False, (DEATH, SERIOUS_INJURY)),
    Rule("HC_CMDR_60_30D", HC, 30, False, (SERIOUS_MALFUNCTION,)),
    Rule("HC_CMDR_61_2_72H", HC, 3, False, ()),
)
RULE = {r.rule_id: r for r in RULES}
# Reports a person's determination starts: rows of their own (docs/vigilance.md), by kind of
# determination -> (regime, report_kind, rule).
DETERMINATION_REPORTS = {
    "remedial_action_required": (FDA, "five_day", "FDA_803_53_5D"),  # 21 CFR 803.53(a)
    "fda_request": (FDA, "five_day", "FDA_803_53_5D"),  # 21 CFR 803.53(b)
    "serious_public_health_threat": (EU, "public_health_threat", "EU_87_4_2D"),  # Art. 87(4)
}
SUPPLEMENT_RULE, SUPPLEMENT_DAYS = "FDA_803_56_30D", 30
NOT_REPORTABLE = "NOT_REPORTABLE"
ASSESS_LOCALLY = "ASSESS_LOCALLY"
SAE_PER_PROTOCOL = "SAE_PER_PROTOCOL"

# An initial obligation is met by the earliest of these (docs/vigilance.md, status 2).
INITIAL_KINDS = frozenset({"initial", "final", "final_non_reportable"})
SUPPLEMENT_KINDS = frozenset({"supplemental", "follow_up"})
# Facts a Form FDA 3500A carries: a later version that changes one of them brings information
# "not known or not available" when the report was made (21 CFR 803.56).
NEW_INFORMATION_FIELDS = (
    "device_model",
    "lot_number",
    "serial_number",
    "udi_di",
    "event_date",
    "patient_outcome",
    "hospitalised",
    "causality",
    "malfunction",
    "problem_code",
    "health_effect_code",
    "component_code",
    "investigation_conclusion_code",
)


@dataclass(frozen=True)
class Settings:
    """The pipeline's `[vigilance]` configuration, with its defaults."""

    fda_vmsr_participant: bool = False
    fda_similar_device: str = "product_code"  # model | product_code | family
    legacy_reported_date_satisfies: tuple[str, ...] = ()
    life_supporting_families: tuple[str, ...] = ("Cardiolink",)
    essential_function_codes: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class Flag:
    """One truth row, with what it was decided from (for tests; not written)."""

    complaint_id: str
    regime: str
    report_kind: str
    rule: str
    day_zero: dt.date | None
    due_date: dt.date | None
    status: str
    criteria: tuple[str, ...] = ()  # definite criteria (or determinations) behind the rule
    in_doubt: bool = False  # the rule applies through doubt only
    downgraded_on: dt.date | None = None

    def row(self) -> dict[str, str]:
        return {
            "complaint_id": self.complaint_id,
            "regime": self.regime,
            "report_kind": self.report_kind,
            "rule": self.rule,
            "day_zero": self.day_zero.isoformat() if self.day_zero else "",
            "due_date": self.due_date.isoformat() if self.due_date else "",
            "status": self.status,
        }


# ---- US federal holidays (5 U.S.C. 6103), for the 5-work-day clock ---------------------------


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1-based; -1 the last) weekday (Mon=0) of a month."""
    if n > 0:
        d = dt.date(year, month, 1)
        d += dt.timedelta(days=(weekday - d.weekday()) % 7)
        return d + dt.timedelta(weeks=n - 1)
    d = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    return d - dt.timedelta(days=(d.weekday() - weekday) % 7)


def us_federal_holidays(year: int) -> set[dt.date]:
    """The days federal offices close in `year` (a Saturday holiday is observed on Friday, a
    Sunday one on Monday)."""
    fixed = [(1, 1), (7, 4), (11, 11), (12, 25)] + ([(6, 19)] if year >= 2021 else [])
    out = set()
    for y in (year - 1, year, year + 1):  # 1 January on a Saturday is observed on 31 December
        for m, d in fixed:
            day = dt.date(y, m, d)
            if day.weekday() == 5:
                day -= dt.timedelta(days=1)
            elif day.weekday() == 6:
                day += dt.timedelta(days=1)
            out.add(day)
        out |= {
            _nth_weekday(y, 1, 0, 3),  # Martin Luther King Jr. Day
            _nth_weekday(y, 2, 0, 3),  # Washington's Birthday
            _nth_weekday(y, 5, 0, -1),  # Memorial Day
            _nth_weekday(y, 9, 0, 1),  # Labor Day
            _nth_weekday(y, 10, 0, 2),  # Columbus Day
            _nth_weekday(y, 11, 3, 4),  # Thanksgiving Day
        }
    return {d for d in out if d.year == year}


def add_us_work_days(start: dt.date, n: int) -> dt.date:
    """The n-th US federal work day after `start` (start itself not counted)."""
    d, left = start, n
    while left:
        d += dt.timedelta(days=1)
        if d.weekday() < 5 and d not in us_federal_holidays(d.year):
            left -= 1
    return d


def due_of(rule: Rule, day_zero: dt.date) -> dt.date:
    if rule.work_days:
        return add_us_work_days(day_zero, rule.days)
    return day_zero + dt.timedelta(days=rule.days)


# ---- reading the landing folder back ---------------------------------------------------------


def _date(text: str | None) -> dt.date | None:
    text = (text or "").strip()
    if len(text) < 10:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _bad_rows(landing: Path) -> set[tuple[str, int]]:
    path = landing / "_truth" / "bad_rows.csv"
    if not path.is_file():
        return set()
    with path.open(encoding="utf-8", newline="") as fh:
        return {(r["file"], int(r["row_number"])) for r in csv.DictReader(fh)}


def _rows(landing: Path, pattern: str, bad: set[tuple[str, int]]) -> Iterator[dict[str, str]]:
    """Rows of the files matching `pattern`, in file and row order, without planted bad rows;
    each row carries `_file` and `_row` (the header is row 1)."""
    for path in sorted(landing.glob(pattern)):
        rel = path.relative_to(landing).as_posix()
        with path.open(encoding="utf-8", newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                if (rel, n) in bad:
                    continue
                yield {**{k: (v or "") for k, v in row.items()}, "_file": rel, "_row": str(n)}


@dataclass
class Product:
    family: str
    product_code: str
    implantable: bool
    ca_class: str  # "" when unknown


@dataclass
class Landing:
    """What the truth needs from a landing folder, as of a night."""

    as_of: dt.date
    products: dict[str, Product]
    hazards: dict[str, list[tuple[tuple[str, ...], int]]]  # family -> (problem codes, severity)
    listed_effects: dict[str, set[str]]  # family -> health-effect codes of the risk register
    first_us_ship: dict[str, dt.date]  # device model -> first shipment to the US or a territory
    first_ca_ship: dict[str, dt.date]  # device model -> first shipment to Canada
    first_eea_ship: dict[str, dt.date]  # device model -> first shipment to an EEA country
    shipped_models: set[str]  # every device model the shipment data knows
    lot_models: dict[str, set[str]]  # lot number -> device models shipped under it
    versions: dict[str, list[dict[str, str]]]  # complaint -> versions up to the night, in order
    submissions: dict[tuple[str, str], list[tuple[dt.date, str]]]  # (complaint, authority)
    determinations: list[dict[str, str]]  # up to the night, in decision order
    # subjects of report-starting determinations that are complaint ids of the folder
    complaint_subjects: set[str] = field(default_factory=set)
    by_subject: dict[str, list[int]] = field(default_factory=dict)  # subject -> positions

    def __post_init__(self) -> None:
        for k, d in enumerate(self.determinations):
            self.by_subject.setdefault(d["subject"], []).append(k)

    def about(self, *subjects: str) -> list[dict[str, str]]:
        """Determinations on any of the subjects, in decision order."""
        pos = sorted({k for s in subjects if s for k in self.by_subject.get(s, ())})
        return [self.determinations[k] for k in pos]


# the complaint facts the truth reads (the narrative and other free text are not kept)
KEPT_FIELDS = (
    "complaint_id",
    "received_date",
    "updated_at",
    "country",
    "source",
    "reportability_decision",
    "reported_date",
    *NEW_INFORMATION_FIELDS,
)
PART_BYTES = 300_000_000  # complaint files read per part (bounds memory at large scales)


def in_part(complaint_id: str, part: tuple[int, int]) -> bool:
    """Whether a complaint belongs to part k of n (complaints are split by a hash of the id)."""
    k, n = part
    return n == 1 or zlib.crc32(complaint_id.encode("utf-8")) % n == k


def parts(landing: Path) -> int:
    size = sum(p.stat().st_size for p in Path(landing).glob("complaints/*.csv"))
    return 1 + size // PART_BYTES


def _complaint_rows(
    landing: Path,
    as_of: dt.date,
    bad: set[tuple[str, int]],
    dropped: set[str],
    watch: frozenset[str] = frozenset(),
    found: set[str] | None = None,
) -> Iterator[dict[str, str]]:
    """Complaint versions dated up to the night; complaints with a planted bad row are added to
    `dropped` (they go to quarantine) and their rows skipped. Ids in `watch` met on any row
    (bad or dated after the night included) are added to `found`."""
    for path in sorted(landing.glob("complaints/*.csv")):
        rel = path.relative_to(landing).as_posix()
        with path.open(encoding="utf-8", newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                if found is not None and row["complaint_id"] in watch:
                    found.add(row["complaint_id"])
                if (rel, n) in bad:
                    dropped.add(row["complaint_id"])
                    continue
                d = _date(row["updated_at"])
                if d is not None and d <= as_of:
                    yield row


def read_landing(landing: Path, as_of: dt.date, part: tuple[int, int] = (0, 1)) -> Landing:
    """The landing folder as of the night: master data whole, complaints (and their
    submissions and decisions) of one part."""
    landing = Path(landing)
    bad = _bad_rows(landing)
    products = {}
    for r in _rows(landing, "products.csv", bad):
        products[r["device_model"]] = Product(
            r["device_family"],
            r["product_code"],
            r["implantable"].strip().lower() == "true",
            r.get("ca_class", "").strip(),
        )
    hazards: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    effects: dict[str, set[str]] = {}
    for r in _rows(landing, "risk_register.csv", bad):
        fam = r["device_family"]
        codes = tuple(c.strip() for c in r["problem_codes"].split(";") if c.strip())
        hazards.setdefault(fam, []).append((codes, int(r["severity"])))
        effects.setdefault(fam, set()).update(
            c.strip() for c in r["health_effect_codes"].split(";") if c.strip()
        )
    first_us: dict[str, dt.date] = {}
    first_ca: dict[str, dt.date] = {}
    first_eea: dict[str, dt.date] = {}
    shipped: set[str] = set()
    lots: dict[str, set[str]] = {}
    for r in _rows(landing, "distribution/*.csv", bad):
        shipped.add(r["device_model"])
        if r.get("lot_number"):
            lots.setdefault(r["lot_number"], set()).add(r["device_model"])
        d = _date(r["ship_date"])
        try:
            units = int(r["units"])
        except ValueError:
            continue
        if d is None or units <= 0 or d > as_of:
            continue
        target = (
            first_us
            if r["country"] in US_AND_TERRITORIES
            else first_ca
            if r["country"] == CANADA
            else first_eea
            if r["country"] in MEMBER_STATE_OF
            else None
        )
        if target is not None and (
            r["device_model"] not in target or d < target[r["device_model"]]
        ):
            target[r["device_model"]] = d
    dets = []
    for r in _rows(landing, "determinations/*.csv", bad):
        d = _date(r["decided_on"])
        about_one = r["kind"] in ("reportability", "causality")  # a complaint's own record
        if d is not None and d <= as_of and (not about_one or in_part(r["subject"], part)):
            dets.append({**r, "_day": d.isoformat()})
    # "a later determination on the same subject and kind supersedes an earlier one"
    dets.sort(key=lambda r: (r["_day"], r["_file"], int(r["_row"])))
    watch = frozenset(d["subject"] for d in dets if d["kind"] in DETERMINATION_REPORTS)
    complaint_subjects: set[str] = set()
    by_complaint: dict[str, list[dict[str, str]]] = {}
    dropped: set[str] = set()
    for row in _complaint_rows(landing, as_of, bad, dropped, watch, complaint_subjects):
        if in_part(row["complaint_id"], part):
            kept = {f: sys.intern(row.get(f) or "") for f in KEPT_FIELDS}
            by_complaint.setdefault(row["complaint_id"], []).append(kept)
    versions = {}
    for cid, vs in by_complaint.items():
        if cid not in dropped:
            versions[cid] = sorted(vs, key=lambda v: v["updated_at"])
    del by_complaint
    subs: dict[tuple[str, str], list[tuple[dt.date, str]]] = {}
    for r in _rows(landing, "submissions/*.csv", bad):
        d = _date(r["submitted_date"])
        if d is not None and d <= as_of and in_part(r["complaint_id"], part):
            subs.setdefault((r["complaint_id"], r["authority"]), []).append((d, r["report_kind"]))
    return Landing(
        as_of,
        products,
        hazards,
        effects,
        first_us,
        first_ca,
        first_eea,
        shipped,
        lots,
        versions,
        subs,
        dets,
        complaint_subjects=complaint_subjects,
    )


# ---- IMDRF codes -----------------------------------------------------------------------------


def related(a: str, b: str) -> bool:
    """IMDRF codes are hierarchical: a code matches its parents and its children."""
    return bool(a) and bool(b) and (a.startswith(b) or b.startswith(a))


HISTORY_PRESUMPTION_YEARS = 2  # docs/vigilance.md `history_presumption_years`


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


class HarmIndex:
    """When a malfunction of a type (family, problem code) was known to have caused or
    contributed to a death or serious injury (FDA MDR guidance 2016: such a malfunction is
    presumed likely to do so again, until the type has caused none for two years). Built from
    every complaint of the folder: one span per harm event, from the day it became known (the
    first of an unbroken run of versions of a complaint showing it) to the first later version
    that no longer shows it."""

    def __init__(self, landing: Path, as_of: dt.date, products: dict[str, Product]) -> None:
        landing = Path(landing)
        bad = _bad_rows(landing)
        dropped: set[str] = set()
        # pass 1: the complaints with a version that shows such a malfunction
        hurt = {
            r["complaint_id"]
            for r in _complaint_rows(landing, as_of, bad, dropped)
            if _hurt_by_malfunction(r)
        }
        # pass 2: every version of those complaints, for the days each version was the news
        seen: dict[str, list[dict[str, str]]] = {}
        for r in _complaint_rows(landing, as_of, bad, dropped):
            if r["complaint_id"] in hurt:
                seen.setdefault(r["complaint_id"], []).append(
                    {f: r.get(f) or "" for f in KEPT_FIELDS}
                )
        # (family, code) -> [(known from, known until or None)]
        self.spans: dict[tuple[str, str], list[tuple[dt.date, dt.date | None]]] = {}
        for cid, vs in seen.items():
            if cid in dropped:
                continue
            vs.sort(key=lambda v: v["updated_at"])
            run: tuple[tuple[str, str], dt.date] | None = None  # (type, known from)
            for k, v in enumerate(vs):
                on = awareness(v, k)
                prod = products.get(v["device_model"])
                key = None
                if prod is not None and on is not None and _hurt_by_malfunction(v):
                    key = (prod.family, v["problem_code"].strip())
                if run is not None and key == run[0]:
                    continue  # the same harm event, still shown
                if run is not None:
                    self.spans.setdefault(run[0], []).append((run[1], on))
                run = (key, on) if key is not None and on is not None else None
            if run is not None:
                self.spans.setdefault(run[0], []).append((run[1], None))
        self.by_family: dict[str, list[tuple[str, list[dt.date], list[dt.date | None]]]] = {}
        for (fam, code), spans in sorted(self.spans.items()):
            spans.sort(key=lambda s: s[0])
            self.by_family.setdefault(fam, []).append(
                (code, [s for s, _ in spans], [u for _, u in spans])
            )

    def known(self, family: str, code: str, on: dt.date) -> bool:
        """A complaint version known on `on` says a malfunction of this type hurt someone
        seriously, and that harm became known not more than two years before `on` (on or
        after the same calendar day two years earlier)."""
        since = years_before(on, HISTORY_PRESUMPTION_YEARS)
        for c, starts, untils in self.by_family.get(family, []):
            if not related(code, c):
                continue
            for until in untils[bisect_left(starts, since) : bisect_right(starts, on)]:
                if until is None or until > on:
                    return True
        return False


def _hurt_by_malfunction(v: dict[str, str]) -> bool:
    """A malfunction with a problem code and a death or serious injury it may have caused
    (a causality judged "unrelated" says it did not cause or contribute)."""
    return (
        v["malfunction"].strip().lower() == "true"
        and v["patient_outcome"].strip() in (DEATH, SERIOUS_INJURY)
        and bool(v["problem_code"].strip())
        and (v.get("causality") or "").strip().lower() != "unrelated"
    )


def awareness(version: dict[str, str], k: int) -> dt.date | None:
    """21 CFR 803.3 "become aware"; MDR Art. 87: the first version's receipt, else the day the
    version's information reached the manufacturer."""
    return _date(version["received_date"]) if k == 0 else _date(version["updated_at"])


# ---- criteria of one version -----------------------------------------------------------------

MET, DOUBT = "met", "doubt"


def version_criteria(
    v: dict[str, str], on: dt.date, data: Landing, harm: HarmIndex, settings: Settings
) -> dict[str, str | None]:
    """Each criterion: MET, DOUBT or None, for one version known on `on`."""
    prod = data.products[v["device_model"]]
    fam = prod.family
    outcome = v["patient_outcome"].strip()
    out: dict[str, str | None] = dict.fromkeys(CRITERIA)
    if outcome in ("", "unknown"):
        for c in HARM_CRITERIA:
            out[c] = DOUBT
    else:
        if outcome == DEATH:
            out[DEATH] = MET
        if outcome == SERIOUS_INJURY:
            out[SERIOUS_INJURY] = MET
    hospitalised = v.get("hospitalised", "").strip().lower() == "true"
    # 21 CFR 803.3 "serious injury" (c) (intervention to preclude permanent impairment) and CMDR
    # "serious deterioration in the state of health": a hospitalisation with an outcome other
    # than death or serious injury reasonably suggests one, and a person decides (FDA and Health
    # Canada read `serious_injury`; the EU's wider criterion is met below)
    if hospitalised and outcome not in (DEATH, SERIOUS_INJURY):
        out[SERIOUS_INJURY] = DOUBT
    # MDCG 2023-3: hospitalisation is a serious deterioration whatever the outcome says
    if outcome == SERIOUS_INJURY or hospitalised:
        out[SERIOUS_DETERIORATION] = MET
        # MEDDEV 2.12-1 rev. 8 5.1.1: not considered in the risk analysis
        he = v["health_effect_code"].strip()
        listed = any(he and he.startswith(e) for e in data.listed_effects.get(fam, ()))
        out[UNANTICIPATED] = None if listed else MET
    if v["malfunction"].strip().lower() == "true":
        code = v["problem_code"].strip()
        hazards = data.hazards.get(fam, [])
        reasons = [
            any(s >= 4 and any(related(code, c) for c in codes) for codes, s in hazards),
            prod.implantable,
            fam in settings.life_supporting_families,
            any(related(code, c) for c in settings.essential_function_codes.get(fam, ())),
            bool(code) and harm.known(fam, code, on),
        ]
        if any(reasons):
            out[SERIOUS_MALFUNCTION] = MET
        elif not code or not any(related(code, c) for codes, _ in hazards for c in codes):
            out[SERIOUS_MALFUNCTION] = DOUBT
    return out


@dataclass
class CriterionState:
    """What the versions so far say about one criterion."""

    day_zero: dt.date | None = None  # arisen (definite): never ends
    doubt_since: dt.date | None = None  # start of the current unbroken run of doubt
    downgraded_on: dt.date | None = None  # first later version that no longer meets it

    def see(self, state: str | None, on: dt.date) -> None:
        if state == MET:
            if self.day_zero is None:
                self.day_zero = self.doubt_since or on
            self.doubt_since = None
        elif state == DOUBT:
            if self.day_zero is None and self.doubt_since is None:
                self.doubt_since = on
        else:
            self.doubt_since = None  # doubt resolved by later facts ends the doubt
            if self.day_zero is not None and self.downgraded_on is None:
                self.downgraded_on = on


# ---- one complaint ---------------------------------------------------------------------------


@dataclass
class Candidate:
    rule: Rule
    day_zero: dt.date
    due: dt.date
    definite: bool
    criteria: tuple[str, ...]

    def key(self) -> tuple[dt.date, bool, str]:
        """The earliest due date governs; on equal due dates the definite rule, then the rule
        id."""
        return (self.due, not self.definite, self.rule.rule_id)


def _latest(dets: list[dict[str, str]], kind: str) -> dict[str, str] | None:
    """The latest determination of a kind: it supersedes the earlier ones."""
    found = None
    for d in dets:
        if d["kind"] == kind:
            found = d
    return found


class Complaint:
    def __init__(
        self,
        cid: str,
        versions: list[dict[str, str]],
        data: Landing,
        harm: HarmIndex,
        settings: Settings,
    ) -> None:
        self.cid, self.versions, self.data, self.settings = cid, versions, data, settings
        self.current = versions[-1]
        self.product = data.products[self.current["device_model"]]
        self.received = awareness(versions[0], 0)
        self.days = [awareness(v, k) for k, v in enumerate(versions)]
        self.state = {c: CriterionState() for c in CRITERIA}
        for v, on in zip(versions, self.days, strict=True):
            facts = version_criteria(v, on, data, harm, settings)
            for c in CRITERIA:
                self.state[c].see(facts[c], on)
        # a determination covers the complaint when its subject is the complaint, its lot, its
        # device model or its family
        self.covering = data.about(
            cid, self.current["lot_number"], self.current["device_model"], self.product.family
        )
        self.own = data.about(cid)

    # --- scope
    def country(self) -> str:
        return self.current["country"].strip().upper()

    def made_available(self, first_ship: dict[str, dt.date]) -> bool:
        """MDR Art. 87(1)(a) "made available on the Union market" (and CMDR s. 59(1) "sold in
        Canada", judged alike): the model was shipped there on or before the complaint's
        receipt, or the shipment data does not know the model at all."""
        model = self.current["device_model"]
        if model not in self.data.shipped_models:
            return True
        first = first_ship.get(model)
        return first is not None and self.received is not None and first <= self.received

    def covered(self) -> bool:
        """Whether an encoded regime covers the place of the event (else: assess locally)."""
        country = self.country()
        if country in US_AND_TERRITORIES:
            return True
        if country in MEMBER_STATE_OF:
            return self.made_available(self.data.first_eea_ship)
        if country == CANADA:
            return self.made_available(self.data.first_ca_ship)
        return False

    def fda_scope(self) -> bool:
        """21 CFR 803.3, 803.50: events in the US, and events abroad with a device the same as
        or similar to one marketed in the US (shipped there on or before receipt)."""
        if self.country() in US_AND_TERRITORIES:
            return True
        how = self.settings.fda_similar_device
        me = self.product
        for model, first in self.data.first_us_ship.items():
            other = self.data.products.get(model)
            if other is None or self.received is None or first > self.received:
                continue
            if (
                (how == "model" and model == self.current["device_model"])
                or (how == "product_code" and other.product_code == me.product_code)
                or (how == "family" and other.family == me.family)
            ):
                return True
        return False

    def decisions(self, kind: str, value: str = "yes") -> list[dict[str, str]]:
        return [d for d in self.covering if d["kind"] == kind and d["value"].lower() == value]

    # --- candidates
    def criteria_candidates(self, regime: str, drop: tuple[str, ...] = ()) -> list[Candidate]:
        out = []
        for rule in RULES:
            if rule.regime != regime:
                continue
            for c in rule.criteria:
                if c in drop:
                    continue
                st = self.state[c]
                if st.day_zero is not None:
                    out.append(Candidate(rule, st.day_zero, due_of(rule, st.day_zero), True, (c,)))
                elif st.doubt_since is not None:
                    d0 = st.doubt_since
                    out.append(Candidate(rule, d0, due_of(rule, d0), False, (c,)))
        return out

    def candidates(self, regime: str, drop: tuple[str, ...] = ()) -> list[Candidate] | None:
        """Every rule the complaint's own criteria make arise in the regime (None: the regime
        does not apply). Reports a person's determination starts (21 CFR 803.53, MDR Art.
        87(4)) are rows of their own (`determination_reports`) and never compete here."""
        if regime == FDA:
            if not self.fda_scope():
                return None
            return self.criteria_candidates(FDA, drop)
        if regime == EU:
            if self.country() not in MEMBER_STATE_OF:
                return None
            if not self.made_available(self.data.first_eea_ship):
                return None
            return self.criteria_candidates(EU, drop)
        if regime == HC:
            return self.hc_candidates(drop)
        raise ValueError(regime)

    def hc_candidates(self, drop: tuple[str, ...]) -> list[Candidate] | None:
        """SOR/98-282 s. 59(1): incidents in Canada with a device sold in Canada; s. 59(1.1),
        (2): incidents abroad of a class I device (or one of unknown Canadian class) sold in
        Canada by the complaint's receipt, once corrective action is decided, with a serious
        criterion or doubt (no obligation, no row). The s. 61.2 foreign risk notification is
        one per decision, not per complaint (`foreign_risk_notices`)."""
        if not self.made_available(self.data.first_ca_ship):
            return None
        if self.country() == CANADA:
            return self.criteria_candidates(HC, drop)
        if self.product.ca_class.strip().upper() not in ("", "I"):
            return None
        decisions = self.decisions("fsca_decision")
        if not decisions:
            return None
        first = min(dt.date.fromisoformat(d["_day"]) for d in decisions)
        out = []
        for c in self.criteria_candidates(HC, drop):
            d0 = max(c.day_zero, first)
            out.append(Candidate(c.rule, d0, due_of(c.rule, d0), c.definite, c.criteria))
        if drop:
            return out
        return out or None

    # --- decisions of people
    def _decided(self, kind: str, column: str) -> tuple[str, dt.date | None]:
        """(value, day decided) of a person's decision on the complaint: the latest
        determination of the kind, else the complaint's own column, decided on the awareness
        date of the version that first carried its current value (walking back while the
        previous version has the same value)."""
        d = _latest(self.own, kind)
        if d is not None:
            return d["value"].strip().lower(), dt.date.fromisoformat(d["_day"])
        value = self.current.get(column, "").strip().lower()
        k = len(self.versions) - 1
        while k > 0 and self.versions[k - 1].get(column, "").strip().lower() == value:
            k -= 1
        return value, self.days[k]

    def reportability(self) -> tuple[str, dt.date | None]:
        return self._decided("reportability", "reportability_decision")

    def causality(self) -> tuple[str, dt.date | None]:
        return self._decided("causality", "causality")

    def unrelated(self) -> tuple[str, ...]:
        """The death and injury criteria a causality "unrelated" removes: those it was decided
        on or after the day 0 of (for a criterion only in doubt: the start of its run of doubt);
        a judgement made before the facts arose did not judge them."""
        value, on = self.causality()
        if value != "unrelated" or on is None:
            return ()
        out = []
        for c in HARM_CRITERIA:
            st = self.state[c]
            since = st.day_zero or st.doubt_since
            if since is not None and on >= since:
                out.append(c)
        return tuple(out)

    def authority(self, regime: str) -> str:
        if regime == FDA:
            return "FDA"
        if regime == HC:
            return "HC"
        return "EU:" + MEMBER_STATE_OF[self.country()]

    def first_report(self, regime: str) -> dt.date | None:
        days = [
            d
            for d, kind in self.data.submissions.get((self.cid, self.authority(regime)), [])
            if kind in INITIAL_KINDS
        ]
        if regime in self.settings.legacy_reported_date_satisfies:
            days += [d for v in self.versions if (d := _date(v.get("reported_date")))]
        return min(days) if days else None

    # --- flags
    def initial_flag(self, regime: str) -> Flag | None:
        found = self.candidates(regime)
        if found is None:
            return None
        if not found:  # status 1 (EU trend-routed ones included)
            return Flag(self.cid, regime, "initial", NOT_REPORTABLE, None, None, "not_reportable")
        gov = _govern(found)
        flag = Flag(
            self.cid,
            regime,
            "initial",
            gov.rule.rule_id,
            gov.day_zero,
            gov.due,
            "",
            gov.criteria,
            not any(c.definite for c in found),
            self._downgraded(gov),
        )
        sent = self.first_report(regime)
        if sent is not None:  # status 2
            flag.status = "submitted_on_time" if sent <= gov.due else "submitted_late"
            return flag
        # status 3: a person's recorded "no" judged the facts known when it was decided: it
        # decides the obligation only when decided on or after its day 0
        decision, decided_on = self.reportability()
        said_no = decision == "no" and decided_on is not None
        if said_no and decided_on >= gov.day_zero:
            flag.status = "decided_not_reportable"
            return flag
        removed = self.unrelated()  # status 3: causality removes the criteria it judged
        if removed:
            rest = self.candidates(regime, drop=removed) or []
            if not rest:
                flag.status = "decided_not_reportable"
                return flag
            gov = _govern(rest)
            flag.rule, flag.day_zero, flag.due_date = gov.rule.rule_id, gov.day_zero, gov.due
            flag.criteria, flag.in_doubt = gov.criteria, not any(c.definite for c in rest)
            if said_no and decided_on >= gov.day_zero:  # the "no" judged what remains
                flag.status = "decided_not_reportable"
                return flag
        if flag.in_doubt and decision != "yes":  # status 4: no rule is definite
            flag.status = "undetermined"
        else:  # status 5
            flag.status = "overdue" if self.data.as_of > flag.due_date else "open"
        return flag

    def _downgraded(self, gov: Candidate) -> dt.date | None:
        days = [self.state[c].downgraded_on for c in gov.criteria if c in self.state]
        days = [d for d in days if d is not None]
        return min(days) if days else None

    def local_flag(self, regime: str, rule: str, decisions: bool) -> Flag:
        """NONE_ENCODED (no clock encoded: assess locally) and CLINICAL_STUDY (MDR Art. 80;
        21 CFR 812.150: per protocol): undetermined when any serious criterion is met or in
        doubt; day 0 the earliest day one arose (moved back over its run of doubt), or the start
        of the current doubt; no due date. With `decisions` (NONE_ENCODED, not CLINICAL_STUDY),
        a person's recorded "no" decided on or after the row's day 0 gives
        decided_not_reportable, and so does causality "unrelated" when no serious malfunction
        (definite or in doubt) remains; causality removes only the death and injury criteria it
        was decided on or after the day 0 (or start of doubt) of."""
        arisen = {
            c: st.day_zero or st.doubt_since
            for c, st in self.state.items()
            if st.day_zero is not None or st.doubt_since is not None
        }
        if not arisen:
            return Flag(self.cid, regime, "initial", rule, None, None, "not_reportable")
        first = min(arisen.values())
        met = all(self.state[c].day_zero is not None for c in arisen)
        flag = Flag(
            self.cid, regime, "initial", rule, first, None, "undetermined", tuple(arisen), not met
        )
        if not decisions:
            return flag
        decision, decided_on = self.reportability()
        said_no = decision == "no" and decided_on is not None
        if said_no and decided_on >= first:
            flag.status = "decided_not_reportable"
            return flag
        removed = self.unrelated()
        if removed:
            rest = {c: d for c, d in arisen.items() if c not in removed}
            if not rest:
                flag.status = "decided_not_reportable"
                return flag
            flag.day_zero, flag.criteria = min(rest.values()), tuple(rest)
            flag.in_doubt = not all(self.state[c].day_zero is not None for c in rest)
        return flag  # (what remains arose no earlier than the row's day 0: the "no" stays ignored)

    def supplemental_flags(self) -> list[Flag]:
        """21 CFR 803.56: within 30 days of information not known when the FDA report was
        made; met by the first supplemental (or follow-up) submitted on or after it."""
        sent = [
            d
            for d, kind in self.data.submissions.get((self.cid, "FDA"), [])
            if kind in INITIAL_KINDS
        ]
        if not sent:
            return []
        reported = min(sent)
        later = sorted(
            d
            for d, kind in self.data.submissions.get((self.cid, "FDA"), [])
            if kind in SUPPLEMENT_KINDS
        )
        out: list[Flag] = []
        seen: set[dt.date] = set()
        for k in range(1, len(self.versions)):
            on = self.days[k]
            if on is None or on <= reported or on in seen:
                continue
            before, now = self.versions[k - 1], self.versions[k]
            if all(before.get(f, "") == now.get(f, "") for f in NEW_INFORMATION_FIELDS):
                continue
            seen.add(on)
            due = on + dt.timedelta(days=SUPPLEMENT_DAYS)
            met = next((d for d in later if d >= on), None)
            if met is not None:
                status = "submitted_on_time" if met <= due else "submitted_late"
            else:
                status = "overdue" if self.data.as_of > due else "open"
            out.append(Flag(self.cid, FDA, "supplemental", SUPPLEMENT_RULE, on, due, status))
        return out

    def flags(self) -> list[Flag]:
        if self.current["source"].strip() == "clinical_study":
            return [self.local_flag(CLINICAL_STUDY, SAE_PER_PROTOCOL, decisions=False)]
        out = []
        for regime in (FDA, EU, HC):
            f = self.initial_flag(regime)
            if f is not None:
                out.append(f)
        if not self.covered():  # no encoded regime where the event happened
            out.append(self.local_flag(NONE_ENCODED, ASSESS_LOCALLY, decisions=True))
        if any(f.regime == FDA for f in out):
            out += self.supplemental_flags()
        return out


def foreign_risk_notices(
    landing: Path, data: Landing, complaint_models: dict[str, str]
) -> list[Flag]:
    """SOR/98-282 s. 61.2: 72 hours (3 calendar days) from each corrective-action decision
    (`fsca_decision` = yes) whose subject's models (the model itself, a family's models, a lot's
    models, a complaint's model) include one of Canadian class II-IV or unknown sold in Canada
    (shipped there on or before the decision, judged like "made available"). One row per
    decision, complaint_id = its subject; met by the first HC submission on that subject dated
    on or after the decision."""
    decisions = [
        d
        for d in data.determinations
        if d["kind"] == "fsca_decision" and d["value"].strip().lower() == "yes"
    ]
    if not decisions:
        return []
    sent = _submissions_on(landing, data.as_of, {d["subject"] for d in decisions})
    rule = RULE["HC_CMDR_61_2_72H"]
    out = []
    for det in decisions:
        subject, day = det["subject"], dt.date.fromisoformat(det["_day"])
        models = {m for m, p in data.products.items() if subject in (m, p.family)}
        models |= data.lot_models.get(subject, set())
        if subject in complaint_models:
            models.add(complaint_models[subject])
        if not any(_notifiable_in_canada(data, m, day) for m in models):
            continue
        due = due_of(rule, day)
        met = min((d for d, a in sent.get(subject, ()) if a == "HC" and d >= day), default=None)
        status = _met_or_due(met, due, data.as_of)
        out.append(
            Flag(subject, HC, "foreign_risk_notice", rule.rule_id, day, due, status, (det["kind"],))
        )
    return out


def determination_reports(landing: Path, data: Landing, applies: dict[str, set[str]]) -> list[Flag]:
    """Reports a person's determination starts, rows of their own (docs/vigilance.md): the
    latest determination of each kind and subject on or before the night, when its value is
    `yes`, gives
    - `remedial_action_required` (21 CFR 803.53(a)) or `fda_request` (803.53(b)): an FDA_MDR
      `five_day` row, rule FDA_803_53_5D, due 5 US federal work days after `decided_on`;
    - `serious_public_health_threat` (MDR Art. 87(4)): an EU_MDR `public_health_threat` row,
      rule EU_87_4_2D, due 2 calendar days after `decided_on`.
    complaint_id is the subject, day 0 `decided_on`. When the subject is a complaint of the
    folder, the row exists only when the regime applies to it (`applies`: complaint -> the
    regimes of its truth rows; a quarantined or clinical-study complaint has no FDA or EU row).
    Met by the earliest submission of any kind on the subject to FDA (resp. any `EU:`
    authority) dated on or after `decided_on`, up to the night."""
    latest: dict[tuple[str, str], dict[str, str]] = {}
    for d in data.determinations:  # in decision order: the later one supersedes
        if d["kind"] in DETERMINATION_REPORTS and d["subject"]:
            latest[(d["kind"], d["subject"])] = d
    chosen = [d for d in latest.values() if d["value"].strip().lower() == "yes"]
    if not chosen:
        return []
    sent = _submissions_on(landing, data.as_of, {d["subject"] for d in chosen})
    out = []
    for det in chosen:
        regime, kind, rule_id = DETERMINATION_REPORTS[det["kind"]]
        subject = det["subject"]
        if subject in data.complaint_subjects and regime not in applies.get(subject, set()):
            continue
        rule = RULE[rule_id]
        day = dt.date.fromisoformat(det["_day"])
        due = due_of(rule, day)
        to_it = (lambda a: a == "FDA") if regime == FDA else (lambda a: a.startswith("EU:"))
        met = min((d for d, a in sent.get(subject, ()) if to_it(a) and d >= day), default=None)
        status = _met_or_due(met, due, data.as_of)
        out.append(Flag(subject, regime, kind, rule_id, day, due, status, (det["kind"],)))
    return out


def _submissions_on(
    landing: Path, as_of: dt.date, subjects: set[str]
) -> dict[str, list[tuple[dt.date, str]]]:
    """Submissions (day, authority) up to the night whose complaint_id is one of `subjects`."""
    sent: dict[str, list[tuple[dt.date, str]]] = {}
    for r in _rows(landing, "submissions/*.csv", _bad_rows(landing)):
        d = _date(r["submitted_date"])
        if r["complaint_id"] in subjects and d is not None and d <= as_of:
            sent.setdefault(r["complaint_id"], []).append((d, r["authority"]))
    return sent


def _met_or_due(met: dt.date | None, due: dt.date, as_of: dt.date) -> str:
    """Status 2 (met by a submission) or 5 (overdue after the due date, else open)."""
    if met is not None:
        return "submitted_on_time" if met <= due else "submitted_late"
    return "overdue" if as_of > due else "open"


def _notifiable_in_canada(data: Landing, model: str, day: dt.date) -> bool:
    """A model of Canadian class II-IV (or unknown) sold in Canada on `day`."""
    prod = data.products.get(model)
    if prod is None or prod.ca_class.strip().upper() not in ("", "II", "III", "IV"):
        return False
    if model not in data.shipped_models:
        return True
    first = data.first_ca_ship.get(model)
    return first is not None and first <= day


def _govern(found: list[Candidate]) -> Candidate:
    """Doubt competes with definite rules (MDR Art. 87(7): the shortest plausible clock): the
    earliest due date among them governs, the definite rule first on equal due dates, then the
    rule id; the governing rule names every criterion that gives it that due date."""
    gov = min(found, key=Candidate.key)
    same = [c for c in found if c.key() == gov.key()]
    criteria = tuple(dict.fromkeys(x for c in same for x in c.criteria))
    return Candidate(gov.rule, gov.day_zero, gov.due, gov.definite, criteria)


# ---- the whole folder ------------------------------------------------------------------------


def compute(landing: Path, as_of: dt.date, settings: Settings | None = None) -> list[Flag]:
    settings = settings or Settings()
    if settings.fda_vmsr_participant:
        raise NotImplementedError("the truth encodes no Voluntary Malfunction Summary Reporting")
    out: list[Flag] = []
    n = parts(landing)
    harm = None
    data = None
    complaint_models: dict[str, str] = {}  # complaint -> current model, for fsca subjects
    applies: dict[str, set[str]] = {}  # complaint subject of a determination -> its regimes
    for k in range(n):
        data = read_landing(Path(landing), as_of, (k, n))
        if harm is None:
            harm = HarmIndex(landing, as_of, data.products)
        subjects = {d["subject"] for d in data.determinations if d["kind"] == "fsca_decision"}
        for cid in sorted(data.versions):
            vs = data.versions[cid]
            if cid in subjects:
                complaint_models[cid] = vs[-1]["device_model"]
            if vs[-1]["device_model"] not in data.products:
                continue  # an unknown model is quarantined, not flagged
            flags = Complaint(cid, vs, data, harm, settings).flags()
            if cid in data.complaint_subjects:
                applies[cid] = {f.regime for f in flags}
            out += flags
    if data is not None:
        out += foreign_risk_notices(Path(landing), data, complaint_models)
        out += determination_reports(Path(landing), data, applies)
    out.sort(key=lambda f: (f.complaint_id, f.regime, f.report_kind, f.day_zero or dt.date.min))
    return out


def write_truth(landing: Path, as_of: dt.date, settings: Settings | None = None) -> int:
    """Write `_truth/reportability.csv`; return its row count."""
    flags = compute(landing, as_of, settings)
    path = Path(landing) / "_truth" / "reportability.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=TRUTH_COLUMNS, lineterminator="\n")
        w.writeheader()
        for f in flags:
            w.writerow(f.row())
    return len(flags)
