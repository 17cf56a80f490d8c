"""Production lots and shipments: the denominator of every complaint rate.

Monthly demand per model grows after launch (logistic ramp, yearly growth, seasonality, noise).
Each month's demand is made in one or more production lots the month before (two months before
for sterile implants) and shipped to the countries the model is sold in. A few shipments come
back as returns (negative units). Supplier component lots are consumed in production order, so
one supplier lot ends up in several consecutive production lots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from synthetic import catalog
from synthetic.catalog import Family, Model
from synthetic.scales import EXTRACT_DATE, Scale
from synthetic.util import day, month_index, month_start_days, stream
from synthetic.worlds import BASELINE, World, small_lot_counts, units_to_total

SEASONALITY = np.array([0.95, 1.0, 1.05, 1.0, 1.0, 1.0, 0.95, 0.85, 1.05, 1.08, 1.05, 0.9])


@dataclass
class Calendar:
    start: dt.date
    extract: dt.date
    n_months: int
    month_days: np.ndarray  # first day of each month, n_months + 1 entries
    start_day: int
    extract_day: int
    complaint_start_day: int  # the complaint extract's first day (later: a migrated system)

    @classmethod
    def build(cls, start: dt.date, complaints_from: dt.date | None = None) -> Calendar:
        n = month_index(EXTRACT_DATE, start) + 1
        first = day(complaints_from or start)
        return cls(
            start,
            EXTRACT_DATE,
            n,
            month_start_days(start, n),
            day(start),
            day(EXTRACT_DATE),
            first,
        )

    @property
    def complaint_start_month(self) -> int:
        """Index of the month of the complaint extract's first day."""
        return int(self.month_of_day(np.array([self.complaint_start_day]))[0])

    def month_of_day(self, days: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.month_days, days, side="right") - 1

    def month_label(self, m: int) -> str:
        d = dt.date(1970, 1, 1) + dt.timedelta(days=int(self.month_days[m]))
        return f"{d.year:04d}-{d.month:02d}"


@dataclass
class Portfolio:
    families: tuple[Family, ...]
    models: list[Model]
    model_family: np.ndarray  # family index per model
    launch_day: np.ndarray

    @classmethod
    def build(cls, cal: Calendar, world: World = BASELINE) -> Portfolio:
        """Every model of the catalog, launched `launch_offset_days` after the calendar's start;
        a world's mid-window launch moves a family's models (their offsets kept relative)."""
        models, fam = [], []
        for fi, f in enumerate(catalog.FAMILIES):
            for m in f.models:
                models.append(m)
                fam.append(fi)
        launch = np.array([cal.start_day + m.launch_offset_days for m in models], dtype=np.int64)
        if world.launch:
            name, when = world.launch
            fi = [f.name for f in catalog.FAMILIES].index(name)
            first = min(m.launch_offset_days for m in catalog.FAMILIES[fi].models)
            for mi, m in enumerate(models):
                if fam[mi] == fi:
                    launch[mi] = day(when) + m.launch_offset_days - first
        return cls(catalog.FAMILIES, models, np.array(fam), launch)

    def model_index(self, name: str) -> int:
        return [m.name for m in self.models].index(name)

    def family_index(self, name: str) -> int:
        return [f.name for f in self.families].index(name)


@dataclass
class Supply:
    lots: pl.DataFrame  # one row per production lot (index = lot index)
    lot_model: np.ndarray
    lot_ship_month: np.ndarray
    lot_manufacture_day: np.ndarray
    lot_quantity: np.ndarray
    lot_serial_start: np.ndarray
    lot_parts: list[list[str]]  # supplier lot ids per production lot
    shipments: pl.DataFrame  # ship_day, model, lot, country, units (returns negative)
    net_lot_month: np.ndarray  # (lots, months) net units by month of shipment or return
    lot_country_units: np.ndarray  # (lots, countries) units shipped
    lot_first_ship: np.ndarray
    units_factor: float


def country_weights(cal: Calendar, model: Model) -> np.ndarray:
    """(months, countries) weights: market entry dates respected, no US for CE-only models."""
    w = np.zeros((cal.n_months, len(catalog.COUNTRIES)))
    for ci, (cc, weight, entry, _lang) in enumerate(catalog.COUNTRIES):
        if cc == "US" and not model.us:
            continue
        first = 0 if not entry else max(0, month_index(dt.date.fromisoformat(entry), cal.start))
        w[first:, ci] = weight
    return w


def demand_curve(cal: Calendar, pf: Portfolio, seed: int, world: World = BASELINE) -> np.ndarray:
    """(models, months) expected units shipped per month for a units factor of 1."""
    rng = stream(seed, "demand-noise")
    n_models = len(pf.models)
    out = np.zeros((n_models, cal.n_months))
    t = np.arange(cal.n_months)
    month_of_year = np.array([int(cal.month_label(m)[5:]) - 1 for m in range(cal.n_months)])
    for mi, m in enumerate(pf.models):
        fam = pf.families[pf.model_family[mi]]
        lm = int(cal.month_of_day(np.array([pf.launch_day[mi]]))[0])
        x = (t - lm).astype(float)
        ramp = 1.0 / (1.0 + np.exp(-(x - 3.0) / 1.5))
        ramp[x < 0] = 0.0
        if 0 <= lm < cal.n_months:  # launch month: only the days after launch
            days_in = cal.month_days[lm + 1] - cal.month_days[lm]
            ramp[lm] *= max(0.0, (cal.month_days[lm + 1] - pf.launch_day[mi]) / days_in)
        growth = fam.growth_per_year ** (t / 12.0)
        noise = np.exp(rng.normal(0.0, 0.08, cal.n_months))
        out[mi] = m.peak_units * ramp * growth * SEASONALITY[month_of_year] * noise
    for name, factor in world.family_demand:
        out[pf.model_family == pf.family_index(name)] *= factor
    return out


def units_in_service(net_month: np.ndarray) -> np.ndarray:
    """Units in service in the middle of each month from net units per month (rows = groups)."""
    cum = np.cumsum(net_month, axis=-1)
    return np.clip(cum - 0.5 * net_month, 0.0, None)


def build_supply(
    cal: Calendar,
    pf: Portfolio,
    scale: Scale,
    seed: int,
    units_factor: float,
    world: World = BASELINE,
) -> Supply:
    rng = stream(seed, "supply")
    expected = demand_curve(cal, pf, seed, world) * units_factor
    demand = np.rint(expected).astype(np.int64)
    for name, total in world.family_units_total:  # a family that only ever ships `total` units
        for mi in np.nonzero(pf.model_family == pf.family_index(name))[0]:
            share = expected[mi].sum() / expected[pf.model_family == pf.family_index(name)].sum()
            demand[mi] = units_to_total(expected[mi], round(total * share))
    n_models, n_months = demand.shape
    n_countries = len(catalog.COUNTRIES)

    # ---- production lots: one or more per model and shipping month --------------------------
    cell_model, cell_month = np.nonzero(demand > 0)
    cell_units = demand[cell_model, cell_month]
    lot_size = np.array([max(20, int(m.lot_size * scale.lot_scale)) for m in pf.models])
    n_lots_cell = np.clip(np.rint(cell_units / lot_size[cell_model]), 1, None).astype(np.int64)
    n_lots_cell = np.minimum(n_lots_cell, cell_units)
    n_regular = n_lots_cell
    if world.lot_sizes:  # small runs (rework, pilot, urgent) beside the regular lots
        extra = small_lot_counts(stream(seed, "world-lot-sizes"), n_lots_cell, world.lot_sizes)
        n_lots_cell = np.minimum(n_lots_cell + extra, cell_units)
    lot_cell = np.repeat(np.arange(cell_units.size), n_lots_cell)
    w = rng.gamma(20.0, 1.0, lot_cell.size)
    if world.lot_sizes:
        seq = np.arange(lot_cell.size) - np.r_[0, np.cumsum(n_lots_cell)[:-1]][lot_cell]
        w = np.where(seq < n_regular[lot_cell], w * world.lot_sizes.ratio, w)
    w_sum = np.bincount(lot_cell, weights=w)
    lot_units = np.floor(cell_units[lot_cell] * w / w_sum[lot_cell]).astype(np.int64)
    lot_units = np.maximum(lot_units, 1)
    first_in_cell = np.r_[0, np.cumsum(n_lots_cell)[:-1]]
    short = cell_units - np.bincount(lot_cell, weights=lot_units).astype(np.int64)
    lot_units[first_in_cell] += short
    bad = lot_units < 1
    lot_units[bad] = 1
    seq_in_cell = np.arange(lot_cell.size) - first_in_cell[lot_cell]

    lot_model = cell_model[lot_cell]
    lot_ship_month = cell_month[lot_cell]
    lead = np.array(
        [2 if pf.families[pf.model_family[i]].implantable else 1 for i in range(n_models)]
    )
    manu_month_start = np.array(
        [
            _shift_month(cal, int(cal.month_days[m]), -int(lead[mi]))
            for mi, m in zip(lot_model, lot_ship_month, strict=True)
        ]
    )
    manu_day = manu_month_start + rng.integers(0, 25, lot_cell.size)
    overage = np.ceil(lot_units * rng.uniform(0.0, 0.06, lot_cell.size)).astype(np.int64)
    quantity = lot_units + overage

    # lot numbers: prefix-YYMM-seq (manufacture month)
    manu_dates = [dt.date(1970, 1, 1) + dt.timedelta(days=int(d)) for d in manu_month_start]
    lot_numbers = [
        f"{pf.models[mi].prefix}-{d.year % 100:02d}{d.month:02d}-{s + 1:03d}"
        for mi, d, s in zip(lot_model, manu_dates, seq_in_cell, strict=True)
    ]
    order = np.lexsort((seq_in_cell, manu_day, lot_model))
    serial_start = np.zeros(lot_cell.size, dtype=np.int64)
    for mi in range(n_models):
        idx = order[lot_model[order] == mi]
        serial_start[idx] = np.r_[0, np.cumsum(quantity[idx])[:-1]] + 1

    shelf = np.array([m.shelf_life_months or 0 for m in pf.models])
    expiry = np.where(
        shelf[lot_model] > 0, manu_day + np.rint(shelf[lot_model] * 30.4375).astype(np.int64), -1
    )

    lot_parts = _component_lots(pf, lot_model, manu_day, quantity, lot_numbers, scale)

    lots = pl.DataFrame(
        {
            "lot_number": lot_numbers,
            "device_model": [pf.models[i].name for i in lot_model],
            "manufacture_day": manu_day,
            "quantity": quantity,
            "component_lots": [";".join(p) for p in lot_parts],
            "expiry_day": expiry,
        }
    )

    # ---- shipments ---------------------------------------------------------------------------
    cw = np.stack([country_weights(cal, m) for m in pf.models])  # (models, months, countries)
    p = cw[lot_model, lot_ship_month]
    p = p / p.sum(axis=1, keepdims=True)
    lot_country = rng.multinomial(lot_units, p)  # (lots, countries)
    sl, sc = np.nonzero(lot_country)
    su = lot_country[sl, sc]
    k = 1 + rng.binomial(2, su / (su + 60.0))
    k = np.minimum(k, su)
    row_pair = np.repeat(np.arange(sl.size), k)
    first_of_pair = np.r_[0, np.cumsum(k)[:-1]]
    part_idx = np.arange(row_pair.size) - first_of_pair[row_pair]
    base = su[row_pair] // k[row_pair]
    units = base + (part_idx < (su[row_pair] - base * k[row_pair]))
    ship_lot = sl[row_pair]
    month = lot_ship_month[ship_lot]
    lo = np.maximum.reduce(
        [
            cal.month_days[month],
            pf.launch_day[lot_model[ship_lot]],
            manu_day[ship_lot] + 7,
        ]
    )
    hi = np.minimum(cal.month_days[month + 1] - 1, cal.extract_day)
    lo = np.minimum(lo, hi)
    ship_day = lo + np.floor(rng.random(row_pair.size) * (hi - lo + 1)).astype(np.int64)
    ship_country = sc[row_pair]

    # returns: a few shipments partly come back
    ret = rng.random(ship_day.size) < 0.025
    r_idx = np.nonzero(ret)[0]
    r_day = ship_day[r_idx] + rng.integers(15, 180, r_idx.size)
    keep = r_day <= cal.extract_day
    r_idx, r_day = r_idx[keep], r_day[keep]
    r_units = -np.maximum(1, np.rint(units[r_idx] * rng.uniform(0.02, 0.25, r_idx.size)))
    r_units = np.maximum(r_units, -units[r_idx]).astype(np.int64)

    all_day = np.r_[ship_day, r_day]
    all_lot = np.r_[ship_lot, ship_lot[r_idx]]
    all_country = np.r_[ship_country, ship_country[r_idx]]
    all_units = np.r_[units, r_units].astype(np.int64)
    shipments = pl.DataFrame(
        {
            "ship_day": all_day,
            "model": lot_model[all_lot],
            "lot": all_lot,
            "country": all_country,
            "units": all_units,
        }
    ).sort(["ship_day", "model", "lot", "country", "units"])

    net = np.zeros((lot_cell.size, n_months))
    np.add.at(net, (all_lot, cal.month_of_day(all_day)), all_units)
    first_ship = np.full(lot_cell.size, cal.extract_day, dtype=np.int64)
    np.minimum.at(first_ship, ship_lot, ship_day)
    country_units = np.zeros((lot_cell.size, n_countries))
    np.add.at(country_units, (ship_lot, ship_country), units)

    return Supply(
        lots,
        lot_model,
        lot_ship_month,
        manu_day,
        quantity,
        serial_start,
        lot_parts,
        shipments,
        net,
        country_units,
        first_ship,
        units_factor,
    )


def _shift_month(cal: Calendar, first_day: int, delta: int) -> int:
    d = dt.date(1970, 1, 1) + dt.timedelta(days=first_day)
    y, m = d.year, d.month + delta
    while m < 1:
        y, m = y - 1, m + 12
    while m > 12:
        y, m = y + 1, m - 12
    return day(dt.date(y, m, 1))


def _component_lots(
    pf: Portfolio,
    lot_model: np.ndarray,
    manu_day: np.ndarray,
    quantity: np.ndarray,
    lot_numbers: list[str],
    scale: Scale,
) -> list[list[str]]:
    """Supplier lots per production lot, consumed in manufacturing order."""
    parts: list[list[str]] = [[] for _ in range(lot_model.size)]
    names = [m.name for m in pf.models]
    for fi, fam in enumerate(pf.families):
        for part in fam.parts:
            users = part.models or tuple(m.name for m in fam.models)
            model_ids = [names.index(u) for u in users]
            sel = np.nonzero(np.isin(lot_model, model_ids) & (pf.model_family[lot_model] == fi))[0]
            if sel.size == 0:
                continue
            order = sorted(sel.tolist(), key=lambda i: (int(manu_day[i]), lot_numbers[i]))
            cap = max(1, int(part.capacity * scale.lot_scale))
            used = 0
            for i in order:
                q = int(quantity[i])
                a, b = used // cap, (used + q - 1) // cap
                for j in range(a, b + 1):
                    parts[i].append(f"{part.supplier}-{part.part}-{j + 1:05d}")
                used += q
    return parts
