"""Structurally different synthetic worlds: `pms generate --world NAME`.

A world is one kind of manufacturer's data. `baseline` is the generator as it has always been
(byte for byte). Every other world changes the STRUCTURE of the data in one way a real device
maker's extracts can differ, so that signal detectors tuned on one world can be tried on others:
an installed base older than the complaint extract, a family launched mid-window, seasonal
complaint rates, late complaints and late follow-ups, a tiny and a huge family, a month missing
from the extract, a problem-code recoding, lots of very different sizes, MAUDE disproportions
present from the start and arising later, and no planted signal at all. docs/worlds.md says
what each one models and what the detectors should and should not do on it.

A world also carries the signals planted in it (`None`: not planted). Their truth is written by
the generator's own planting code (synthetic/complaints.py `plan_signals`), which shares nothing
with the detectors: nothing here or there imports from `models/`.

The small functions at the end apply a world's structure to arrays and frames; they are pure
and tested on small inputs (tests/test_worlds.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from synthetic import catalog
from synthetic.util import day

# --------------------------------------------------------------------------------------------
# Planted signals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateChange:
    """A family x problem code rate times `factor` from `onset` on (a step), or rising linearly
    from `onset` to `factor` x baseline in the extract month (a drift)."""

    family: str
    code: str
    onset: str  # ISO date, the first of a month
    factor: float


@dataclass(frozen=True)
class BadLot:
    """One production lot of `model` made in `month` with `code` at `factor` x baseline."""

    model: str
    month: str  # YYYY-MM: the lot's manufacture month (as in its lot number)
    code: str
    factor: float
    # "largest": the month's largest lot; "small": the largest lot of at most a fifth of the
    # model's median lot made in the six months from `month`
    pick: str = "largest"


@dataclass(frozen=True)
class BadComponent:
    """The first supplier lot of `part` used from `month` on, shared by 3+ production lots."""

    family: str
    part: str
    month: str
    code: str
    factor: float


@dataclass(frozen=True)
class NewMode:
    """A failure mode described only in narratives, coded with generic codes."""

    family: str
    onset: str
    rate: float  # complaints per 1,000 units in service per year on top of baseline
    codes: tuple[tuple[str, float], ...]
    topic: str


@dataclass(frozen=True)
class EarlyFailure:
    """Serials of one lot of `model` (made in `month`) needing early repairs of `component`."""

    model: str
    month: str
    component: str
    part: str


@dataclass(frozen=True)
class MaudeDisproportion:
    """Reports of `product_code` carry FDA problem code `fda_code` far more often than all other
    product codes from `onset` on (`""`: from the first day of the MAUDE data)."""

    product_code: str
    fda_code: int
    onset: str
    prr: float


BASE_RATE_STEP = RateChange(**catalog.RATE_STEP)
BASE_DRIFT = RateChange(**catalog.DRIFT)
BASE_BAD_LOT = BadLot(**catalog.BAD_LOT)
BASE_BAD_COMPONENT = BadComponent(**catalog.BAD_COMPONENT)
BASE_NEW_MODE = NewMode(**catalog.NEW_MODE)
BASE_EARLY_FAILURE = EarlyFailure(**catalog.EARLY_FAILURE)
BASE_MAUDE = MaudeDisproportion(**catalog.MAUDE_DISPROPORTION)

# --------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recoding:
    """From `from_date` on, the firm codes one failure with another IMDRF code: complaints of
    `family` whose failure the catalog codes `code` show `old_code` when received before the date
    and `new_code` from it on. Not a change in the device."""

    family: str
    code: str
    old_code: str
    new_code: str
    from_date: str


@dataclass(frozen=True)
class LotSizeMix:
    """Production lots of very different sizes: small runs beside the regular lots."""

    small_lots_per_month: float  # mean small lots per model and month (Poisson)
    ratio: float  # a regular lot holds this many times the units of a small one (in expectation)


@dataclass(frozen=True)
class World:
    """One kind of manufacturer's data: structure and planted signals."""

    name: str
    description: str  # plain words: what is different and which real situation it models
    # shipments and lots start this many months before the complaint extract does
    installed_base_months: int = 0
    launch: tuple[str, str] | None = None  # (family, ISO date): launched mid-window
    seasonal_amplitude: float = 0.0  # complaint rates x (1 + a cos(2 pi (month - peak) / 12))
    seasonal_peak_month: int = 1  # 1 = January
    # mean extra days from the event to the complaint's receipt, drawn in event time: the
    # signals' onsets are the events', and complaints not yet received by the extract are absent
    reporting_lag_days: float = 0.0
    event_lag_cap_days: int = 365  # no complaint is received longer than this after its event
    triage_backlog_days: float = 0.0  # mean extra days before non-reportable ones are triaged
    followup_delay_days: float = 0.0  # mean extra days before follow-up news and closure
    family_demand: tuple[tuple[str, float], ...] = ()  # demand of a family x factor
    family_units_total: tuple[tuple[str, int], ...] = ()  # a family ships this many units
    missing_month: str = ""  # YYYY-MM: complaints received in it are not in the extract
    recoding: Recoding | None = None
    lot_sizes: LotSizeMix | None = None
    rate_step: RateChange | None = BASE_RATE_STEP
    drift: RateChange | None = BASE_DRIFT
    bad_lot: BadLot | None = BASE_BAD_LOT
    bad_component: BadComponent | None = BASE_BAD_COMPONENT
    new_mode: NewMode | None = BASE_NEW_MODE
    # on or off: the service records repair catalog.EARLY_FAILURE's component and part
    early_failure: EarlyFailure | None = BASE_EARLY_FAILURE
    maude: tuple[MaudeDisproportion, ...] = (BASE_MAUDE,)

    def structure(self, complaints_from: dt.date) -> dict[str, object]:
        """The world's structural facts in plain JSON values (for `_truth/world.json`)."""
        out: dict[str, object] = {"complaints_from": complaints_from.isoformat()}
        if self.installed_base_months:
            out["installed_base_from"] = shift_months(
                complaints_from, -self.installed_base_months
            ).isoformat()
            out["migration_date"] = complaints_from.isoformat()
        if self.launch:
            out["launched_family"], out["launch_date"] = self.launch
        if self.seasonal_amplitude:
            out["seasonal_amplitude"] = self.seasonal_amplitude
            out["seasonal_peak_month"] = self.seasonal_peak_month
        if self.reporting_lag_days or self.triage_backlog_days or self.followup_delay_days:
            out["reporting_lag_days"] = self.reporting_lag_days
            out["event_lag_cap_days"] = self.event_lag_cap_days
            out["triage_backlog_days"] = self.triage_backlog_days
            out["followup_delay_days"] = self.followup_delay_days
        if self.family_demand:
            out["family_demand_factor"] = dict(self.family_demand)
        if self.family_units_total:
            out["family_units_total"] = dict(self.family_units_total)
        if self.missing_month:
            out["missing_month"] = self.missing_month
        if self.recoding:
            r = self.recoding
            out["recoding"] = {
                "family": r.family,
                "old_code": r.old_code,
                "new_code": r.new_code,
                "from_date": r.from_date,
            }
        if self.lot_sizes:
            out["lot_sizes"] = {
                "small_lots_per_month": self.lot_sizes.small_lots_per_month,
                "regular_to_small_ratio": self.lot_sizes.ratio,
            }
        return out


BASELINE = World(
    "baseline",
    "The reference world: shipments and complaints both start on the first day of the window, "
    "every planted signal of synthetic/catalog.py, a MAUDE disproportion arising mid-window.",
)

WORLDS: dict[str, World] = {
    w.name: w
    for w in (
        BASELINE,
        World(
            "migrated",
            "The firm moved to a new complaint system on the first day of the window and did not "
            "migrate the history: lots and shipments start 24 months earlier, complaints received "
            "before the migration are not in the extract. The first months of complaint data "
            "already come from a large installed base. A rate step a year after the migration.",
            installed_base_months=24,
            rate_step=RateChange("Infusa", "A1407", "2024-02-01", 2.5),
        ),
        World(
            "launch_mid",
            "The hip family Aurelia is launched in September 2024: no shipments and no complaints "
            "before, then a ramp-up of a new implant (its cemented stem nine months later). Its "
            "series start from a handful of units in service.",
            launch=("Aurelia", "2024-09-01"),
        ),
        World(
            "seasonal",
            "Complaint rates of every series follow the year: +35 % in January, -35 % in July "
            "(winter wards, respiratory season, more use and more reporting). Seasonality is not a "
            "signal.",
            seasonal_amplitude=0.35,
            seasonal_peak_month=1,
        ),
        World(
            "lagged",
            "Complaints reach the firm long after the event: distributors forward them in "
            "batches and implant problems surface at follow-up visits (a reporting lag of three "
            "months on average on top of the usual days, up to two years). Complaints about "
            "recent events have not arrived by the extract. Non-reportable complaints wait two "
            "months on average in a triage backlog before they are coded, and follow-up news "
            "and investigation closures come two months later than usual. Signals start in event "
            "time; a recent rate step (April 2026) is only partly visible on the last night.",
            reporting_lag_days=90.0,
            event_lag_cap_days=730,
            triage_backlog_days=60.0,
            followup_delay_days=60.0,
            rate_step=RateChange("Infusa", "A1407", "2026-04-01", 3.0),
        ),
        World(
            "small_large",
            "A niche pacemaker line (Cardiolink) with only tens of units ever shipped and a few "
            "complaints, next to a pulse-oximeter line (OxiSense) eight times its baseline volume "
            "that dominates the complaint counts.",
            family_demand=(("OxiSense", 8.0),),
            family_units_total=(("Cardiolink", 80),),
        ),
        World(
            "missing_month",
            "The intake interface failed for a month: complaints received in November 2024 never "
            "reached the extract (all their versions are missing). The other complaints' "
            "versions of that month are there.",
            missing_month="2024-11",
        ),
        World(
            "recoded",
            "From 2025-07-01 the firm's coding guide asks for the specific IMDRF code: erratic "
            "displays of Infusa pumps, coded with the parent code A0902 (display or visual "
            "feedback problem) on complaints received before, are coded A090203 (erratic or "
            "intermittent display) from then on. The device did not change.",
            recoding=Recoding("Infusa", "A090203", "A0902", "A090203", "2025-07-01"),
        ),
        World(
            "lot_sizes",
            "Production runs of very different sizes: beside the regular lots the plant makes "
            "small runs (rework, pilot and urgent orders), about 15 times smaller. The bad lot "
            "is a small one, with a larger effect.",
            lot_sizes=LotSizeMix(small_lots_per_month=0.8, ratio=15.0),
            bad_lot=BadLot("OxiSense PX10", "2025-03", "A090805", 15.0, pick="small"),
        ),
        World(
            "maude_early_late",
            "Two MAUDE disproportions: infusion pumps (FRN) are reported with occlusion within "
            "the device (FDA code 1423) three times as often as other product codes from the "
            "first day of the MAUDE data (a long-known class issue), and pulse oximeters (DQA) "
            "become disproportionate for sensor problems (code 1561) from June 2025.",
            maude=(
                MaudeDisproportion("FRN", 1423, "", 3.0),
                MaudeDisproportion("DQA", 1561, "2025-06-01", 3.0),
            ),
        ),
        World(
            "null",
            "Nothing is planted: every family x code series runs at its baseline rate, no bad lot "
            "or component, no new failure mode, no MAUDE disproportion, no early service "
            "failures. Every alarm is a false alarm.",
            rate_step=None,
            drift=None,
            bad_lot=None,
            bad_component=None,
            new_mode=None,
            early_failure=None,
            maude=(),
        ),
    )
}


def get_world(name: str) -> World:
    """The world called `name`; ValueError naming the known worlds otherwise."""
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}; expected one of {', '.join(WORLDS)}")
    return WORLDS[name]


# --------------------------------------------------------------------------------------------
# Applying a world's structure (pure functions on arrays and frames)
# --------------------------------------------------------------------------------------------


def shift_months(d: dt.date, months: int) -> dt.date:
    """The same day of the month `months` months later (earlier when negative); day 1-28 only."""
    if d.day > 28:
        raise ValueError(f"{d} is not a day every month has")
    m = d.year * 12 + d.month - 1 + months
    return dt.date(m // 12, m % 12 + 1, d.day)


def season_factor(month_of_year: np.ndarray, amplitude: float, peak_month: int) -> np.ndarray:
    """Rate multiplier per month: 1 + amplitude x cos(2 pi (month - peak) / 12).

    `month_of_year` is 0 for January; `peak_month` is 1 for January."""
    phase = 2.0 * np.pi * (np.asarray(month_of_year) - (peak_month - 1)) / 12.0
    return 1.0 + amplitude * np.cos(phase)


def units_to_total(expected: np.ndarray, total: int) -> np.ndarray:
    """Whole units per month in proportion to `expected`, summing exactly to `total`.

    Cumulative rounding: no month gets more than one unit above its share."""
    w = np.asarray(expected, dtype=np.float64)
    s = w.sum()
    if s <= 0 or total <= 0:
        return np.zeros(w.shape, dtype=np.int64)
    cum = np.floor(np.cumsum(w) / s * total + 0.5).astype(np.int64)
    cum[-1] = total
    return np.diff(np.r_[0, cum]).astype(np.int64)


def small_lot_counts(rng: np.random.Generator, regular: np.ndarray, mix: LotSizeMix) -> np.ndarray:
    """Small lots made beside each model and month's `regular` lots (Poisson counts)."""
    return rng.poisson(mix.small_lots_per_month, np.asarray(regular).size).astype(np.int64)


def kept_complaints(rd: np.ndarray, complaints_from_day: int, missing_month: str) -> np.ndarray:
    """Which complaints (by received day) are in the extract: none received before the complaint
    system's first day, none received in the missing month."""
    keep = np.asarray(rd) >= complaints_from_day
    if missing_month:
        first = dt.date.fromisoformat(missing_month + "-01")
        after = shift_months(first, 1)
        keep &= ~((rd >= day(first)) & (rd < day(after)))
    return keep


def recode_problem_codes(
    frame: pl.DataFrame, recoding: Recoding | None, models: Sequence[str]
) -> pl.DataFrame:
    """Problem codes as the coding guide of the received day gives them.

    `frame` has `device_model`, `rd` (received day number) and `problem_code`; `models` are the
    device models of the recoded family."""
    if recoding is None:
        return frame
    target = pl.col("device_model").is_in(list(models)) & (pl.col("problem_code") == recoding.code)
    new = pl.col("rd") >= day(recoding.from_date)
    return frame.with_columns(
        problem_code=pl.when(target & new)
        .then(pl.lit(recoding.new_code))
        .when(target)
        .then(pl.lit(recoding.old_code))
        .otherwise(pl.col("problem_code"))
    )
