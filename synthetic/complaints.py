"""Complaints: Poisson events on units in service, their life cycle in versions, and the truth.

For every production lot, month and problem code the expected count is
units in service x baseline rate x signal multiplier / 12,000. Each complaint then gets its
people-facing facts (country, source, outcome, malfunction, codes) and a timeline: intake,
triage (coding, human reportability decision), possibly a later decision, an escalation, the
regulatory report, and closure. Versions are the distinct moments of that timeline (at most 4);
versions after the extract date have not happened yet, so the newest complaints are still open.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from assets.ingestion.sources import COMPLAINTS
from synthetic import catalog, rules
from synthetic.distribution import Calendar, Portfolio, Supply, units_in_service
from synthetic.util import (
    choose_from_groups,
    day,
    pick,
    pick_rows,
    row_cdf,
    stream,
    take,
    weighted_from_groups,
)
from synthetic.worlds import BASELINE, NewMode, World, season_factor, shift_months

INF = np.inf
SOURCE_INDEX = {s: i for i, s in enumerate(catalog.COMPLAINT_SOURCES)}


@dataclass
class CodeTables:
    n_codes: np.ndarray  # (families,)
    code: np.ndarray  # (families, slots) object
    rate: np.ndarray  # (families, slots)
    malfunction: np.ndarray
    harm: np.ndarray  # (families, slots, 5)
    severity: np.ndarray  # max hazard severity of the code in the family's risk register (0: none)
    vocab: list[str]  # every code text the complaints use ("" first); fields hold indices
    code_vi: np.ndarray  # (families, slots) vocabulary index of each problem code
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def vi(self, code: str) -> int:
        return self._index[code]

    @classmethod
    def build(cls) -> CodeTables:
        fams = catalog.FAMILIES
        width = max(len(f.codes) for f in fams)
        shape = (len(fams), width)
        code = np.full(shape, "", dtype=object)
        rate = np.zeros(shape)
        malf = np.zeros(shape)
        sev = np.zeros(shape, dtype=np.int64)
        harm = np.zeros((*shape, 5))
        for fi, f in enumerate(fams):
            hz = {}
            for h in f.hazards:
                for c in h.codes:
                    hz[c] = max(hz.get(c, 0), h.severity)
            for ci, c in enumerate(f.codes):
                code[fi, ci] = c.code
                rate[fi, ci] = c.rate
                malf[fi, ci] = c.malfunction
                sev[fi, ci] = hz.get(c.code, 0)
                harm[fi, ci] = c.harm or catalog.HARM_BY_SEVERITY[max(hz.get(c.code, 2), 1)]
        words = {
            "",
            "E2403",
            "E2401",
            "D16",
            "D0301",
            "D0302",
            "D02",
            "D0108",
            "D15",
            "G07003",
            "G0200804",
        }
        for f in fams:
            for c in f.codes:
                words |= {c.code, *c.effects, *c.death_effects, *c.components}
                words |= {d for d, _ in c.conclusions}
        vocab = sorted(words)
        index = {w: i for i, w in enumerate(vocab)}
        code_vi = np.zeros(shape, dtype=np.int64)
        for fi, f in enumerate(fams):
            for ci, c in enumerate(f.codes):
                code_vi[fi, ci] = index[c.code]
        out = cls(
            np.array([len(f.codes) for f in fams]), code, rate, malf, harm, sev, vocab, code_vi
        )
        out._index = index
        return out

    def slot(self, family: int, code: str) -> int:
        return list(self.code[family]).index(code)

    def severity_lookup(self) -> dict[tuple[int, str], int]:
        return {
            (fi, str(self.code[fi, ci])): int(self.severity[fi, ci])
            for fi in range(self.code.shape[0])
            for ci in range(int(self.n_codes[fi]))
        }


@dataclass
class Signals:
    rows: list[dict[str, object]]
    mult: np.ndarray  # (lots, months, slots)
    bad_lot: int  # -1: none planted
    component_lot: str
    component_lots: np.ndarray  # production lots carrying the bad supplier lot
    early_lot: int  # -1: none planted
    new_mode_family: int  # -1: none planted
    new_mode_month: int
    bad_lot_slot: int = -1  # code slot of the bad lot's problem code
    component_slot: int = -1  # code slot of the bad component lot's problem code
    new_mode: NewMode | None = None
    season: np.ndarray | None = None  # (months,) rate multiplier of every series (None: flat)


def plan_signals(
    cal: Calendar, pf: Portfolio, sup: Supply, ct: CodeTables, world: World = BASELINE
) -> Signals:
    """Multipliers for every signal the world plants, and their truth rows (with one `null` row
    per family x code series that carries none)."""
    n_lots = sup.lot_model.size
    mult = np.ones((n_lots, cal.n_months, ct.code.shape[1]))
    lot_fam = pf.model_family[sup.lot_model]
    rows: list[dict[str, object]] = []
    t_idx = np.arange(cal.n_months)
    touched: set[tuple[int, str]] = set()

    def month_of(iso: str) -> int:
        return int(cal.month_of_day(np.array([day(iso)]))[0])

    def baseline_text(fi: int, slot: int) -> str:
        rate = ct.rate[fi, slot]
        return f"baseline {rate:.2f} and risk-file expected {expected_rate(fi, slot):.2f} per 1,000"

    def expected_rate(fi: int, slot: int) -> float:
        code = ct.code[fi, slot]
        rates = []
        for h in pf.families[fi].hazards:
            if code in h.codes:
                rates.append(hazard_expected_rate(pf.families[fi], h))
        return min(rates) if rates else float("nan")

    lots_df = sup.lots.with_row_index("i")

    def lots_of(model: str, month: str) -> pl.DataFrame:
        """The model's production lots made in `month`, largest first."""
        return lots_df.filter(
            (pl.col("device_model") == model)
            & (pl.col("lot_number").str.slice(4, 4) == month[2:4] + month[5:7])
        ).sort(["quantity", "lot_number"], descending=[True, False])

    # rate step
    if (s := world.rate_step) is not None:
        fi = pf.family_index(s.family)
        ci = ct.slot(fi, s.code)
        t0 = month_of(s.onset)
        mult[np.ix_(lot_fam == fi, t_idx >= t0, [ci])] *= s.factor
        touched.add((fi, s.code))
        rows.append(
            dict(
                kind="rate_step",
                scope="device_family",
                scope_value=s.family,
                code=s.code,
                onset_date=s.onset,
                size=s.factor,
                description=f"{s.family} x {s.code}: rate x{s.factor:g} from "
                f"{s.onset} ({baseline_text(fi, ci)} unit-years)",
            )
        )
    # drift
    if (s := world.drift) is not None:
        fi = pf.family_index(s.family)
        ci = ct.slot(fi, s.code)
        t0 = month_of(s.onset)
        ramp = np.ones(cal.n_months)
        span = max(1, cal.n_months - 1 - t0)
        ramp[t0:] = 1.0 + (s.factor - 1.0) * (t_idx[t0:] - t0 + 1) / (span + 1)
        mult[lot_fam == fi, :, ci] *= ramp[None, :]
        touched.add((fi, s.code))
        rows.append(
            dict(
                kind="drift",
                scope="device_family",
                scope_value=s.family,
                code=s.code,
                onset_date=s.onset,
                size=s.factor,
                description=f"{s.family} x {s.code}: rate rises linearly from "
                f"{s.onset} to x{s.factor:g} in the extract month "
                f"({baseline_text(fi, ci)} unit-years)",
            )
        )
    # bad lot: the largest lot of the model made in the given month (or a small one)
    bad_lot, bad_lot_slot = -1, -1
    if (s := world.bad_lot) is not None:
        mi = pf.model_index(s.model)
        fi = int(pf.model_family[mi])
        ci = ct.slot(fi, s.code)
        cand = lots_of(s.model, s.month)
        j = 0
        if s.pick == "small":
            cand, j = _small_lot(lots_df.filter(pl.col("device_model") == s.model), s.month)
        bad_lot, bad_lot_slot = int(cand["i"][j]), ci
        mult[bad_lot, :, ci] *= s.factor
        bad_lot_number = str(cand["lot_number"][j])
        touched.add((fi, s.code))
        size_text = "" if s.pick == "largest" else f", {int(cand['quantity'][j])} units"
        rows.append(
            dict(
                kind="bad_lot",
                scope="lot",
                scope_value=bad_lot_number,
                code=s.code,
                onset_date=_iso(int(sup.lot_first_ship[bad_lot])),
                size=s.factor,
                description=f"lot {bad_lot_number} of {s.model}{size_text}: {s.code} rate "
                f"x{s.factor:g} over its whole life (its siblings run at baseline)",
            )
        )
    # bad supplier component lot: the first supplier lot of the part used from the given month
    comp_lots, comp_id, comp_slot = np.zeros(0, np.int64), "", -1
    if (s := world.bad_component) is not None:
        fi = pf.family_index(s.family)
        ci = ct.slot(fi, s.code)
        part = next(p for p in pf.families[fi].parts if p.part == s.part)
        month_day = day(s.month + "-01")
        found = None
        for i in np.argsort(sup.lot_manufacture_day, kind="stable"):
            if sup.lot_manufacture_day[i] < month_day or pf.model_family[sup.lot_model[i]] != fi:
                continue
            ids = [x for x in sup.lot_parts[i] if x.startswith(f"{part.supplier}-{part.part}-")]
            if not ids:
                continue
            candidate = ids[-1]
            users = np.array([j for j in range(n_lots) if candidate in sup.lot_parts[j]])
            if users.size >= 3:
                comp_id, found = candidate, users
                break
        assert found is not None, "no supplier lot shared by 3+ production lots"
        comp_lots, comp_slot = found, ci
        mult[comp_lots, :, ci] *= s.factor
        lot_names = sup.lots["lot_number"].gather(comp_lots).to_list()
        touched.add((fi, s.code))
        rows.append(
            dict(
                kind="bad_component_lot",
                scope="component_lot",
                scope_value=comp_id,
                code=s.code,
                onset_date=_iso(int(sup.lot_first_ship[comp_lots].min())),
                size=s.factor,
                description=f"supplier lot {comp_id} ({part.part}) used in "
                f"{len(lot_names)} production lots ({', '.join(lot_names)}): {s.code} "
                f"rate x{s.factor:g} in those lots",
            )
        )
    # new failure mode described only in narratives
    nm_fam, nm_t0 = -1, cal.n_months
    if (s := world.new_mode) is not None:
        nm_fam = pf.family_index(s.family)
        nm_t0 = month_of(s.onset)
        touched |= {(nm_fam, c) for c, _ in s.codes}
        rows.append(
            dict(
                kind="narrative_new_mode",
                scope="device_family",
                scope_value=s.family,
                code=str(s.topic),
                onset_date=s.onset,
                size=s.rate,
                description=f"new failure mode (display freezes on a stale reading after "
                f"standby) described only in narratives, coded "
                f"{' or '.join(c for c, _ in s.codes)}; "
                f"{s.rate:g} complaints per 1,000 unit-years on top of baseline",
            )
        )
    # MAUDE disproportionality
    for s in world.maude:
        onset = s.onset or cal.start.isoformat()
        since = f"from {onset}" if s.onset else f"from the first day of the MAUDE data ({onset})"
        rows.append(
            dict(
                kind="maude_disproportion",
                scope="product_code",
                scope_value=s.product_code,
                code=str(s.fda_code),
                onset_date=onset,
                size=s.prr,
                description=f"MAUDE: FDA problem code {s.fda_code} over-reported for "
                f"product code {s.product_code} {since} (target PRR "
                f"{s.prr:g} against all other product codes)",
            )
        )
    # service: a cohort of serials from one lot failing early
    early_lot = -1
    if (s := world.early_failure) is not None:
        cand = lots_of(s.model, s.month)
        early_lot = int(cand["i"][0])
        rows.append(
            dict(
                kind="service_early_failure",
                scope="lot",
                scope_value=str(cand["lot_number"][0]),
                code=s.component,
                onset_date=_iso(int(sup.lot_first_ship[early_lot])),
                size=0.0,
                description=f"serials of lot {cand['lot_number'][0]} ({s.model}) need "
                f"repairs of component {s.component} (part {s.part}) after a few "
                f"hundred usage hours (service records only)",
            )
        )

    # null series: family x code without any planted signal (a recoded code: both codes)
    for fi, f in enumerate(pf.families):
        for ci, c in enumerate(f.codes):
            if (fi, c.code) in touched:
                continue
            exp = expected_rate(fi, ci)
            codes = [c.code]
            r = world.recoding
            if r is not None and r.family == f.name and r.code == c.code:
                codes = [r.old_code, r.new_code]
            note = (
                f"; coded {r.old_code} on complaints received before {r.from_date} and "
                f"{r.new_code} from then on (a recoding, not a change in the device)"
                if r is not None and len(codes) == 2
                else ""
            )
            for code in codes:
                rows.append(
                    dict(
                        kind="null",
                        scope="device_family",
                        scope_value=f.name,
                        code=code,
                        onset_date="",
                        size=1.0,
                        description=f"no planted signal; baseline {c.rate:.2f}"
                        + ("" if np.isnan(exp) else f", risk-file expected {exp:.2f}")
                        + " per 1,000 unit-years"
                        + note,
                    )
                )
    for i, r in enumerate(rows):
        r["signal_id"] = f"SIG-{i + 1:03d}" if r["kind"] != "null" else f"NULL-{i + 1:03d}"
    season = None
    if world.seasonal_amplitude:
        moy = np.array([int(cal.month_label(m)[5:]) - 1 for m in range(cal.n_months)])
        season = season_factor(moy, world.seasonal_amplitude, world.seasonal_peak_month)
        mult *= season[None, :, None]
    return Signals(
        rows,
        mult,
        bad_lot,
        comp_id,
        comp_lots,
        early_lot,
        nm_fam,
        nm_t0,
        bad_lot_slot=bad_lot_slot,
        component_slot=comp_slot,
        new_mode=world.new_mode,
        season=season,
    )


def _small_lot(lots: pl.DataFrame, month: str) -> tuple[pl.DataFrame, int]:
    """A small lot of one model (at most a fifth of its median lot) that still has units enough
    to show a lot effect: the largest small lot made in the six months from `month` (or in the
    first later month that has one). Returns its month's lots (largest first) and its position
    among them."""
    limit = float(np.median(lots["quantity"].to_numpy())) / 5.0
    first = dt.date.fromisoformat(month + "-01")
    best: tuple[int, pl.DataFrame, int] | None = None
    for k in range(24):
        if best is not None and k >= 6:
            break
        m = shift_months(first, k)
        cand = lots.filter(
            pl.col("lot_number").str.slice(4, 4) == f"{m.year % 100:02d}{m.month:02d}"
        ).sort(["quantity", "lot_number"], descending=[True, False])
        small = np.nonzero(cand["quantity"].to_numpy() <= limit)[0]
        if small.size and (best is None or int(cand["quantity"][int(small[0])]) > best[0]):
            best = (int(cand["quantity"][int(small[0])]), cand, int(small[0]))
    if best is None:
        raise ValueError(f"no small lot in the 24 months from {month}")
    return best[1], best[2]


def hazard_expected_rate(fam: catalog.Family, h: catalog.Hazard) -> float:
    base = sum(c.rate for c in fam.codes if c.code in h.codes)
    return float(np.ceil(base * catalog.EXPECTED_MARGIN * 100.0) / 100.0)


def _iso(d: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(d))).isoformat()


# --------------------------------------------------------------------------------------------
# Complaint events
# --------------------------------------------------------------------------------------------

AUTHORITIES = ("FDA", "MIR", "MHRA", "SMC", "TITCK", "HC", "TGA", "PMDA", "NCA")


@dataclass
class Complaints:
    """One entry per complaint; texts are held as indices (see the *_series helpers)."""

    n: int
    year: np.ndarray  # year of receipt (part of the id)
    seq: np.ndarray  # running number within the year (0-based)
    rd: np.ndarray  # received day
    ed: np.ndarray  # event day (-1 unknown)
    family: np.ndarray
    model: np.ndarray
    lot: np.ndarray
    slot: np.ndarray
    new_mode: np.ndarray
    country: np.ndarray
    source: np.ndarray
    serial_no: np.ndarray  # -1 when the complaint names no serial number
    has_udi: np.ndarray
    outcome0: np.ndarray
    outcome: np.ndarray
    escalated: np.ndarray
    t_change: np.ndarray  # day offset of the outcome change (inf: none)
    malfunction: np.ndarray
    coded_at_intake: np.ndarray
    he0: np.ndarray  # vocabulary indices (Annex E)
    he: np.ndarray
    component: np.ndarray  # vocabulary index (Annex G)
    conclusion: np.ndarray  # vocabulary index (Annex D)
    prelim: np.ndarray  # shows D16 while in progress
    not_required: np.ndarray
    reason: np.ndarray  # index into NOT_INVESTIGATED_REASONS (-1: none)
    intake_pending: np.ndarray
    t_triage: np.ndarray
    t_decide: np.ndarray
    t_report: np.ndarray
    t_close: np.ndarray
    decision0: np.ndarray  # bool: yes
    decision: np.ndarray
    rep_auth: np.ndarray  # index into AUTHORITIES (-1: no report)
    rep_year: np.ndarray
    rep_seq: np.ndarray
    fda_applies: np.ndarray  # as the firm sees it: US or territory, or a US-marketed code
    eu_applies: np.ndarray
    hc_applies: np.ndarray
    vtimes: np.ndarray  # (n, 4) version day offsets (inf: none)
    bad: np.ndarray  # index of the planted bad-row kind (-1: none)
    hosp: np.ndarray  # bool: hospitalised (shown on versions whose outcome is a harm)
    caus: np.ndarray  # index into catalog.CAUSALITY (0: none recorded)
    downgraded: np.ndarray  # bool: first reported serious or death, later lowered
    overruled: np.ndarray  # bool: the firm decided "no" against its own rule (second review)
    implant: np.ndarray  # bool
    type_hurt: np.ndarray  # bool: a malfunction of its type hurt someone seriously before
    life: np.ndarray  # bool: life-supporting family


def keep_complaints(cs: Complaints, keep: np.ndarray) -> Complaints:
    """The complaints where `keep` is true (ids and report numbers as they were)."""
    if keep.all():
        return cs
    fields = {
        f.name: getattr(cs, f.name)[keep]
        for f in dataclasses.fields(cs)
        if isinstance(getattr(cs, f.name), np.ndarray)
    }
    return dataclasses.replace(cs, n=int(keep.sum()), **fields)


def cid_series(cs: Complaints, i: np.ndarray) -> pl.Series:
    return (
        pl.DataFrame({"y": cs.year[i], "s": cs.seq[i] + 1})
        .select(
            pl.concat_str(
                [
                    pl.lit("CMP-"),
                    pl.col("y").cast(pl.String),
                    pl.lit("-"),
                    pl.col("s").cast(pl.String).str.zfill(6),
                ]
            )
        )
        .to_series()
    )


def serial_series(cs: Complaints, i: np.ndarray, pf: Portfolio) -> pl.Series:
    prefix = take([m.prefix for m in pf.models], cs.model[i])
    no = cs.serial_no[i]
    return (
        pl.DataFrame({"p": prefix, "n": no})
        .select(
            pl.when(pl.col("n") >= 0)
            .then(
                pl.concat_str([pl.col("p"), pl.lit("-"), pl.col("n").cast(pl.String).str.zfill(8)])
            )
            .otherwise(pl.lit(""))
        )
        .to_series()
    )


def udi_series(cs: Complaints, i: np.ndarray, pf: Portfolio) -> pl.Series:
    gtin = take([m.gtin for m in pf.models], cs.model[i])
    return (
        pl.DataFrame({"g": gtin, "h": cs.has_udi[i]})
        .select(pl.when(pl.col("h")).then(pl.col("g")).otherwise(pl.lit("")))
        .to_series()
    )


def report_id_series(cs: Complaints, i: np.ndarray) -> pl.Series:
    """FDA: {registration}-YYYY-NNNNN; EU: MIR-CC-YYYY-NNNNN; others: AUTH-YYYY-NNNNN."""
    cc = take([c[0] for c in catalog.EVENT_COUNTRIES], cs.country[i])
    auth = take(AUTHORITIES, np.maximum(cs.rep_auth[i], 0))
    df = pl.DataFrame(
        {"a": auth, "k": cs.rep_auth[i], "y": cs.rep_year[i], "s": cs.rep_seq[i] + 1, "cc": cc}
    )
    tail = pl.concat_str(
        [pl.col("y").cast(pl.String), pl.lit("-"), pl.col("s").cast(pl.String).str.zfill(5)]
    )
    return df.select(
        pl.when(pl.col("k") < 0)
        .then(pl.lit(""))
        .when(pl.col("k") == 0)
        .then(pl.concat_str([pl.lit(catalog.FDA_REGISTRATION), pl.lit("-"), tail]))
        .when(pl.col("k") == 1)
        .then(pl.concat_str([pl.lit("MIR-"), pl.col("cc"), pl.lit("-"), tail]))
        .otherwise(pl.concat_str([pl.col("a"), pl.lit("-"), tail]))
    ).to_series()


def simulate(
    cal: Calendar,
    pf: Portfolio,
    sup: Supply,
    ct: CodeTables,
    sig: Signals,
    seed: int,
    world: World = BASELINE,
) -> Complaints:
    rng = stream(seed, "complaints")
    lot_fam = pf.model_family[sup.lot_model]
    uis = units_in_service(sup.net_lot_month)  # (lots, months)
    lam = uis[:, :, None] * ct.rate[lot_fam][:, None, :] / 12000.0 * sig.mult
    counts = rng.poisson(lam)
    del lam
    li, ti, si = np.nonzero(counts)
    k = counts[li, ti, si]
    del counts
    lot = np.repeat(li, k)
    month = np.repeat(ti, k)
    slot = np.repeat(si, k)
    new_mode = np.zeros(lot.size, dtype=bool)

    # new failure mode (family-wide, from its onset month)
    nm = sig.new_mode
    nm_rate = nm.rate if nm is not None else 0.0
    nm_pairs = nm.codes if nm is not None else (("", 1.0),)
    lam_nm = (
        uis
        * (lot_fam == sig.new_mode_family)[:, None]
        * (np.arange(cal.n_months) >= sig.new_mode_month)[None, :]
        * nm_rate
        / 12000.0
    )
    if sig.season is not None:
        lam_nm = lam_nm * sig.season[None, :]
    c_nm = rng.poisson(lam_nm)
    li2, ti2 = np.nonzero(c_nm)
    k2 = c_nm[li2, ti2]
    nm_codes = [ct.slot(sig.new_mode_family, c) for c, _ in nm_pairs] if nm is not None else [0]
    nm_slot = np.array(nm_codes)[pick(rng, int(k2.sum()), [w for _, w in nm_pairs])]
    lot = np.r_[lot, np.repeat(li2, k2)]
    month = np.r_[month, np.repeat(ti2, k2)]
    slot = np.r_[slot, nm_slot]
    new_mode = np.r_[new_mode, np.ones(int(k2.sum()), dtype=bool)]

    n = lot.size
    # received day: uniform in the month, never before the lot first shipped
    m0 = cal.month_days[month]
    m1 = np.minimum(cal.month_days[month + 1] - 1, cal.extract_day)
    rd = m0 + np.floor(rng.random(n) * (m1 - m0 + 1)).astype(np.int64)
    rd = np.minimum(np.maximum(rd, sup.lot_first_ship[lot] + 1), cal.extract_day)
    event_day = None
    if world.reporting_lag_days:
        # the day drawn is the event's: the complaint reaches the firm a reporting lag later,
        # or not yet by the extract (then it is not in it)
        rng_l = stream(seed, "world-reporting-lag")
        own = np.array([f.event_lag_days for f in pf.families])[lot_fam[lot]]
        lag = rng_l.geometric(1.0 / (own + world.reporting_lag_days + 1.0)) - 1
        lag = np.minimum(lag, world.event_lag_cap_days)
        event_day, rd = rd, rd + lag
        arrived = rd <= cal.extract_day
        lot, month, slot, new_mode = lot[arrived], month[arrived], slot[arrived], new_mode[arrived]
        event_day, rd = event_day[arrived], rd[arrived]
        n = lot.size

    # order and ids
    order = np.lexsort((slot, lot, rd))
    lot, slot, new_mode, rd = lot[order], slot[order], new_mode[order], rd[order]
    fam = lot_fam[lot]
    model = sup.lot_model[lot]
    year = _years(rd)
    seq = _seq_within(year)

    lag_mean = np.array([f.event_lag_days for f in pf.families])[fam]
    ed = rd - (rng.geometric(1.0 / (lag_mean + 1.0)) - 1)
    if event_day is not None:
        ed = event_day[order]
    ed = np.where(rng.random(n) < 0.08, -1, np.maximum(ed, rd - world.event_lag_cap_days))

    country = pick_rows(rng, row_cdf(sup.lot_country_units), lot)
    # vigilance facts come from their own stream: the draws above and below stay as they were
    rng_v = stream(seed, "vigilance-facts")
    country = _territory_events(rng_v, country)
    src_groups = [tuple((SOURCE_INDEX[s], w) for s, w in f.sources) for f in pf.families]
    source = weighted_from_groups(rng, fam, src_groups)

    serialized = np.array([m.serialized for m in pf.models])[model]
    sn = sup.lot_serial_start[lot] + np.floor(rng.random(n) * sup.lot_quantity[lot]).astype(
        np.int64
    )
    serial_no = np.where(serialized & (rng.random(n) < 0.93), sn, -1)
    has_udi = rng.random(n) < 0.8

    # outcome, escalation
    harm = ct.harm[fam, slot]
    harm = np.where(new_mode[:, None], np.array(catalog.HARM_BY_SEVERITY[3])[None, :], harm)
    outcome = pick_rows(rng, row_cdf(harm), np.arange(n))
    del harm
    u = rng.random(n)
    outcome0 = outcome.copy()
    esc_death = (outcome == rules.DEATH) & (u < 0.25)
    esc_ser = (outcome == rules.SERIOUS) & (u < 0.06)
    esc_inj = (outcome == rules.INJURY) & (u < 0.03)
    escalated = esc_death | esc_ser | esc_inj
    v = rng.random(n)
    outcome0[esc_death] = np.where(
        v[esc_death] < 0.5, rules.INJURY, np.where(v[esc_death] < 0.8, rules.SERIOUS, rules.UNKNOWN)
    )
    outcome0[esc_ser] = np.where(v[esc_ser] < 0.7, rules.INJURY, rules.UNKNOWN)
    outcome0[esc_inj] = np.where(v[esc_inj] < 0.5, rules.NONE, rules.UNKNOWN)
    clarified = (
        ~escalated & ((outcome == rules.NONE) | (outcome == rules.INJURY)) & (rng.random(n) < 0.08)
    )
    outcome0[clarified] = rules.UNKNOWN
    # downgrades: first reported as a serious injury or a death, lowered by a later version
    u_dg, v_dg = rng_v.random(n), rng_v.random(n)
    downgraded = (
        ~escalated
        & ~clarified
        & ((outcome == rules.NONE) | (outcome == rules.INJURY))
        & (u_dg < DOWNGRADE_SHARE)
    )
    outcome0[downgraded] = np.where(v_dg[downgraded] < 0.15, rules.DEATH, rules.SERIOUS)

    malf_p = np.where(new_mode, 0.9, ct.malfunction[fam, slot])
    malfunction = rng.random(n) < malf_p
    src_hcp = source == SOURCE_INDEX["healthcare_professional"]
    coded_at_intake = rng.random(n) < np.where(src_hcp, 0.45, 0.35)

    # Annex E / G / D codes (vocabulary indices)
    vi = ct.vi
    codes_obj = [f.codes for f in pf.families]
    grp = fam * 100 + slot
    uniq = np.unique(grp)
    effects_groups, death_groups, comp_groups, concl_groups = [], [], [], []
    for g in uniq:
        c = codes_obj[g // 100][g % 100]
        effects_groups.append(tuple(vi(e) for e in c.effects))
        death_groups.append(tuple(vi(e) for e in (c.death_effects or c.effects)))
        comp_groups.append(tuple(vi(x) for x in c.components))
        concl_groups.append(tuple((vi(d), w) for d, w in c.conclusions))
    gidx = np.searchsorted(uniq, grp)
    he = _health_effect(rng, outcome, gidx, effects_groups, death_groups, ct)
    he0 = np.where(
        outcome0 == outcome,
        he,
        _health_effect(rng, outcome0, gidx, effects_groups, death_groups, ct),
    )
    component = choose_from_groups(rng, gidx, comp_groups)
    component = np.where(rng.random(n) < 0.12, vi(""), component)
    conclusion = weighted_from_groups(rng, gidx, concl_groups)
    w = rng.random(n)
    in_bad_lot = (lot == sig.bad_lot) & (sig.bad_lot >= 0)
    bad_code = slot == sig.bad_lot_slot
    conclusion = np.where(
        in_bad_lot & bad_code,
        np.where(w < 0.6, vi("D0301"), np.where(w < 0.8, vi("D0302"), conclusion)),
        conclusion,
    )
    in_comp = np.isin(lot, sig.component_lots) & (slot == sig.component_slot)
    conclusion = np.where(in_comp & (w < 0.75), vi("D02"), conclusion)
    conclusion = np.where(new_mode, np.where(w < 0.5, vi("D0108"), vi("D15")), conclusion)
    prelim = rng.random(n) < 0.3

    # applicable regimes (as the firm sees them) and the human decision
    names = [c[0] for c in catalog.EVENT_COUNTRIES]
    us_event = np.array([c in catalog.US_AND_TERRITORIES for c in names])[country]
    fda_applies = us_event | (rd >= _first_us_day_of_code(pf, sup)[model])
    eu_applies = np.array([c in catalog.EEA_EVENT for c in names])[country]
    hc_applies = country == names.index("CA")
    local = ~fda_applies & ~eu_applies & ~hc_applies
    regimes = {"fda": fda_applies, "eu": eu_applies, "hc": hc_applies, "local": local}
    sev = ct.severity[fam, slot]
    implant = np.array([f.implantable for f in pf.families])[fam]
    life = np.array([f.name in LIFE_SUPPORTING for f in pf.families])[fam]
    # hospitalisation and the firm's causality judgement (own stream)
    u_h, u_c = rng_v.random(n), rng_v.random(n)
    p_hosp = np.select(
        [outcome == rules.SERIOUS, outcome == rules.INJURY, outcome == rules.DEATH],
        [0.55, 0.12, 0.35],
        0.0,
    )
    hosp = u_h < p_hosp
    hurt = rules.harmed(outcome) | rules.harmed(outcome0)
    # "unrelated" only where a serious malfunction would not hinge on this complaint's own harm
    may_be_unrelated = ~malfunction | implant | (sev >= rules.SERIOUS_SEVERITY)
    p_unrel = np.where(outcome == rules.DEATH, 0.25, 0.03) * may_be_unrelated
    caus = np.select(
        [u_c < p_unrel, u_c < p_unrel + 0.10, u_c < p_unrel + 0.40],
        [3, 4, 2],
        1,
    )
    caus = np.where(hurt, caus, 0)
    unrelated = caus == 3
    type_hurt = _type_hurt_before(fam, slot, rd, malfunction & ~unrelated, outcome0, outcome)
    listed = _listed_effects(pf, ct)
    rep_f, due_f = rules.firm_reportable(
        outcome,
        malfunction,
        sev,
        implant,
        life,
        type_hurt,
        hosp,
        ~listed[fam, he],
        unrelated,
        regimes,
    )
    rep_0, due_0 = rules.firm_reportable(
        outcome0,
        malfunction,
        sev,
        implant,
        life,
        type_hurt,
        hosp,
        ~listed[fam, he0],
        unrelated,
        regimes,
    )
    over = ~rep_f & (rng.random(n) < 0.015) & (outcome != rules.NONE)
    decision = rep_f | over
    decision0 = rep_0 | over
    due_0 = np.where(over & (due_0 < 0), 30, due_0)

    # timeline (day offsets from the received day)
    t_triage = 1.0 + rng.geometric(np.where(src_hcp, 1 / 3.0, 1 / 4.5)) - 1
    t_triage = np.minimum(t_triage, 45.0)
    if world.triage_backlog_days:  # a backlog: complaints the firm does not see as reportable
        backlog = ~decision0 & ~decision & ~escalated
        extra = stream(seed, "world-triage-backlog").geometric(1 / world.triage_backlog_days, n)
        t_triage = np.where(backlog, t_triage + extra, t_triage)
    pending_long = rng.random(n) < 0.12
    t_decide = np.where(pending_long, t_triage + rng.geometric(1 / 10.0, n), t_triage)
    intake_pending = rng.random(n) < 0.10

    simple = ~decision & ~escalated
    not_required = simple & (~malfunction | (sev <= 2)) & (rng.random(n) < 0.2)
    intake_closed = not_required & (rng.random(n) < 0.3)
    t_triage = np.where(intake_closed, 0.0, t_triage)
    t_decide = np.where(intake_closed, 0.0, t_decide)
    coded_at_intake = coded_at_intake | intake_closed
    reason = np.where(not_required, rng.integers(0, len(catalog.NOT_INVESTIGATED_REASONS), n), -1)

    t_change = np.full(n, INF)
    t_change[escalated] = t_triage[escalated] + 3 + rng.geometric(1 / 20.0, int(escalated.sum()))
    t_change[clarified] = t_triage[clarified]
    n_dg = int(downgraded.sum())
    t_change[downgraded] = t_triage[downgraded] + 2 + rng_v.geometric(1 / 15.0, n_dg)
    followup_delay = np.zeros(n)
    if world.followup_delay_days:  # follow-up information and investigations arrive late
        rng_f = stream(seed, "world-followup-delay")
        followup_delay = rng_f.geometric(1 / world.followup_delay_days, n).astype(float)
        late_news = escalated | downgraded
        t_change[late_news] = t_change[late_news] + followup_delay[late_news]

    # regulatory reports
    t_report = np.full(n, INF)
    first = decision0 & decision
    late = rng.random(n) < 0.08
    d0 = np.maximum(due_0, 0).astype(float)
    on_time = t_decide + np.floor(rng.random(n) * (np.maximum(d0 - t_decide, 0) + 1))
    late_day = np.maximum(t_decide, d0) + 1 + rng.geometric(1 / 15.0, n)
    t_report[first] = np.where(late, late_day, on_time)[first]
    later = ~decision0 & decision
    t_report[later] = (np.maximum(t_change, t_decide) + 1 + rng.integers(0, 10, n))[later]
    t_decide = np.where(later & escalated, np.maximum(t_decide, t_change), t_decide)
    # lowered before the firm reported: never reported; lowered after: reported as first known
    dropped = decision0 & ~decision
    first_t = np.where(late, late_day, on_time)
    t_report[dropped] = np.where(first_t < t_change, first_t, INF)[dropped]
    # a few reportable complaints the firm decided not to report (a "no" for second review)
    clinical = source == SOURCE_INDEX["clinical_study"]
    cand = np.nonzero(
        first & ~escalated & ~downgraded & ~clinical & rep_f & (rd < cal.extract_day - 60)
    )[0]
    overruled = np.zeros(n, dtype=bool)
    overruled[rng_v.choice(cand, min(cand.size, OVERRULED_COUNT), replace=False)] = True
    decision0 = decision0 & ~overruled
    decision = decision & ~overruled
    first = first & ~overruled
    t_report[overruled] = INF
    # a few reportable complaints left undecided and unreported (overdue at the extract)
    recent = (rd >= cal.extract_day - 80) & (rd + np.maximum(due_f, 0) < cal.extract_day - 2)
    cand = np.nonzero(first & ~escalated & rep_f & recent)[0]
    n_over = min(cand.size, max(3, round(0.004 * int(decision.sum()))))
    overdue = rng.choice(cand, n_over, replace=False) if n_over else np.zeros(0, np.int64)
    t_decide[overdue] = INF
    t_report[overdue] = INF

    t_close = np.where(
        not_required, INF, t_triage + 7 + rng.geometric(1 / 35.0, n) + followup_delay
    )
    t_close = np.maximum(t_close, t_decide + 1)  # the decision comes before closure
    t_close = np.where(np.isfinite(t_report), np.maximum(t_close, t_report + 1), t_close)
    t_close[overdue] = INF

    # versions: distinct moments of the timeline, at most 4
    merge = simple & ~not_required & ~pending_long & ~clarified & (rng.random(n) < 0.25)
    cand_t = np.stack(
        [
            np.zeros(n),
            np.where(merge, INF, t_triage),
            np.where(merge, INF, t_decide),
            np.where(escalated | clarified, t_change, INF),
            t_report,
            t_close,
        ],
        axis=1,
    )
    vt = _distinct_versions(cand_t)
    del cand_t

    rep_auth, rep_year, rep_seq = _report_numbers(rd, t_report, fda_applies, eu_applies, country)
    return Complaints(
        n=n,
        year=year,
        seq=seq,
        rd=rd,
        ed=ed,
        family=fam,
        model=model,
        lot=lot,
        slot=slot,
        new_mode=new_mode,
        country=country,
        source=source,
        serial_no=serial_no,
        has_udi=has_udi,
        outcome0=outcome0,
        outcome=outcome,
        escalated=escalated,
        t_change=t_change,
        malfunction=malfunction,
        coded_at_intake=coded_at_intake,
        he0=he0,
        he=he,
        component=component,
        conclusion=conclusion,
        prelim=prelim,
        not_required=not_required,
        reason=reason,
        intake_pending=intake_pending,
        t_triage=t_triage,
        t_decide=t_decide,
        t_report=t_report,
        t_close=t_close,
        decision0=decision0,
        decision=decision,
        rep_auth=rep_auth,
        rep_year=rep_year,
        rep_seq=rep_seq,
        fda_applies=fda_applies,
        eu_applies=eu_applies,
        hc_applies=hc_applies,
        vtimes=vt,
        bad=np.full(n, -1),
        hosp=hosp,
        caus=caus,
        downgraded=downgraded,
        overruled=overruled,
        implant=implant,
        life=life,
        type_hurt=type_hurt,
    )


DOWNGRADE_SHARE = 0.012  # of complaints whose final outcome is none or a non-serious injury
OVERRULED_COUNT = 8
LIFE_SUPPORTING = ("Cardiolink",)  # the firm's own list (pacemakers sustain life)


def _type_hurt_before(
    fam: np.ndarray,
    slot: np.ndarray,
    rd: np.ndarray,
    malfunction: np.ndarray,
    outcome0: np.ndarray,
    outcome: np.ndarray,
) -> np.ndarray:
    """Whether a malfunction of the same family and problem code caused a death or serious
    injury in a complaint received before (the firm's reading of FDA's 2016 guidance)."""
    serious = (rules.SERIOUS, rules.DEATH)
    hurt = malfunction & (np.isin(outcome0, serious) | np.isin(outcome, serious))
    key = fam * 1000 + slot
    first = np.full(int(key.max()) + 1 if key.size else 1, np.iinfo(np.int64).max)
    np.minimum.at(first, key[hurt], rd[hurt])
    return rd > first[key]


def _listed_effects(pf: Portfolio, ct: CodeTables) -> np.ndarray:
    """(families, vocabulary) whether the family's risk register lists the health effect."""
    out = np.zeros((len(pf.families), len(ct.vocab)), dtype=bool)
    for fi, f in enumerate(pf.families):
        for h in f.hazards:
            for e in h.effects:
                if e in ct._index:
                    out[fi, ct.vi(e)] = True
    return out


def _territory_events(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """Move a small share of a market's complaints to its territory or outermost region."""
    names = [c[0] for c in catalog.EVENT_COUNTRIES]
    u = rng.random(country.size)
    out = country.copy()
    for src, dst, share in catalog.TERRITORY_EVENTS:
        out = np.where((country == names.index(src)) & (u < share), names.index(dst), out)
    return out


def _first_us_day_of_code(pf: Portfolio, sup: Supply) -> np.ndarray:
    """Per model: the first day a model of its FDA product code was shipped to the US."""
    s = sup.shipments
    us = s.filter((pl.col("country") == 0) & (pl.col("units") > 0))
    first_model = dict(us.group_by("model").agg(pl.col("ship_day").min()).iter_rows())
    never = 1 << 40
    by_code: dict[str, int] = {}
    for mi, m in enumerate(pf.models):
        d = first_model.get(mi, never)
        by_code[m.product_code] = min(by_code.get(m.product_code, never), d)
    return np.array([by_code[m.product_code] for m in pf.models], dtype=np.int64)


def _years(rd: np.ndarray) -> np.ndarray:
    return (rd.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970).astype(
        np.int64
    )


def years_of(days: np.ndarray) -> np.ndarray:
    return _years(days)


def _seq_within(keys: np.ndarray) -> np.ndarray:
    """0-based running number within runs of equal keys (keys already sorted)."""
    n = keys.size
    if n == 0:
        return np.zeros(0, np.int64)
    start = np.r_[True, keys[1:] != keys[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first


def _health_effect(rng, outcome, gidx, effects_groups, death_groups, ct) -> np.ndarray:
    n = outcome.size
    hurt = choose_from_groups(rng, gidx, effects_groups)
    dead = choose_from_groups(rng, gidx, death_groups)
    u = rng.random(n)
    empty = ct.vi("")
    return np.select(
        [outcome == rules.NONE, outcome == rules.UNKNOWN, outcome == rules.DEATH],
        [np.where(u < 0.7, ct.vi("E2403"), empty), np.where(u < 0.6, ct.vi("E2401"), empty), dead],
        default=hurt,
    ).astype(np.int64)


def _distinct_versions(cand: np.ndarray) -> np.ndarray:
    t = np.sort(cand, axis=1)
    dup = np.zeros_like(t, dtype=bool)
    dup[:, 1:] = t[:, 1:] == t[:, :-1]
    t = np.sort(np.where(dup, INF, t), axis=1)
    k = np.isfinite(t).sum(axis=1)
    rows = np.arange(t.shape[0])
    keep = np.where(
        k[:, None] <= 4,
        np.arange(4)[None, :],
        np.stack([np.zeros_like(k), np.ones_like(k), k - 2, k - 1], axis=1),
    )
    keep = np.minimum(keep, t.shape[1] - 1)
    return t[rows[:, None], keep]


def _report_numbers(rd, t_report, fda_applies, eu_applies, country):
    """Authority, year and running number (per authority and year, by report date)."""
    n = rd.size
    has = np.isfinite(t_report)
    rep_day = (rd + np.where(has, t_report, 0)).astype(np.int64)
    year = _years(rep_day)
    local_auth = np.array(
        [
            AUTHORITIES.index(catalog.LOCAL_AUTHORITY.get(c[0], "NCA"))
            for c in catalog.EVENT_COUNTRIES
        ]
    )
    auth = np.where(fda_applies, 0, np.where(eu_applies, 1, local_auth[country]))
    auth = np.where(has, auth, -1)
    seq = np.full(n, -1, dtype=np.int64)
    idx = np.nonzero(has)[0]
    order = idx[np.lexsort((idx, rep_day[idx], year[idx], auth[idx]))]
    key = auth[order] * 10_000 + year[order]
    seq[order] = _seq_within(key)
    return auth, year, seq


# --------------------------------------------------------------------------------------------
# Versions and truth
# --------------------------------------------------------------------------------------------

BAD_KINDS = (
    ("device_model", "unknown_device_model"),
    ("problem_code", "unknown_problem_code"),
    ("received_date", "received_date_in_future"),
    ("event_date", "event_date_after_received_date"),
    ("investigation_closed_date", "closed_without_closed_date"),
    ("malfunction", "not_a_boolean"),
)
MODEL_TYPOS = {
    "Infusa VP300": "Infusa VP-300",
    "Infusa SP200": "Infusa SP 200",
    "Infusa VP350": "Infusa VP-350",
    "Cardiolink SR 1200": "Cardiolink SR1200",
    "Cardiolink DR 2200": "CardioLink DR 2200",
    "Cardiolink TF52 Lead": "Cardiolink TF-52",
    "Aurelia HA Stem": "Aurelia HA-Stem",
    "Aurelia Shell": "Aurelia Cup",
    "Aurelia C Stem": "Aurelia Cemented",
    "OxiSense PX10": "OxiSense PX-10",
    "OxiSense PX40": "Oxisense PX40",
    "Stride Lite": "Stride Light",
    "Stride Active": "Stride Activ",
}
COMPLAINT_COLUMNS = COMPLAINTS.column_names  # the data contract's order


class VersionRows:
    """The received days and version times of some complaints (enough for the current one)."""

    def __init__(self, cs: Complaints, idx: np.ndarray) -> None:
        self.rd = cs.rd[idx]
        self.vtimes = cs.vtimes[idx]


def current_version_time(cs: Complaints | VersionRows, extract_day: int) -> np.ndarray:
    """Day offset of each complaint's latest version on or before the extract (-inf: none)."""
    ok = (cs.rd[:, None] + cs.vtimes) <= extract_day
    t = np.where(ok, cs.vtimes, -INF)
    return t.max(axis=1)


def firm_state_at(
    cs: Complaints, t: np.ndarray, ct: CodeTables, i: np.ndarray | None = None
) -> np.ndarray:
    """Whether the firm's practice (rules.firm_reportable) finds complaints `i` (all) reportable
    anywhere at version offsets t: used to keep planted bad rows off reportable complaints."""
    if i is None:
        i = np.arange(cs.n)
    outcome = np.where(t >= cs.t_change[i], cs.outcome[i], cs.outcome0[i])
    coded = cs.coded_at_intake[i] | (t >= cs.t_triage[i])
    sev = np.where(coded, ct.severity[cs.family[i], cs.slot[i]], 0)
    local = ~cs.fda_applies[i] & ~cs.eu_applies[i] & ~cs.hc_applies[i]
    rep, _ = rules.firm_reportable(
        outcome,
        cs.malfunction[i],
        sev,
        cs.implant[i],
        cs.life[i],
        cs.type_hurt[i],
        cs.hosp[i],
        np.ones(i.size, dtype=bool),
        cs.caus[i] == 3,
        {"fda": cs.fda_applies[i], "eu": cs.eu_applies[i], "hc": cs.hc_applies[i], "local": local},
    )
    return rep


def choose_bad_rows(cs: Complaints, ct: CodeTables, cal: Calendar, seed: int) -> None:
    """Mark a handful of single-version, non-reportable complaints to carry a planted bad row."""
    rng = stream(seed, "bad-rows")
    t = current_version_time(cs, cal.extract_day)
    n_versions = ((cs.rd[:, None] + cs.vtimes) <= cal.extract_day).sum(axis=1)
    outcome = np.where(t >= cs.t_change, cs.outcome, cs.outcome0)
    ok = (
        (n_versions == 1)
        & ~firm_state_at(cs, t, ct)
        & ~cs.malfunction  # not even in doubt under the law
        & ((outcome == rules.NONE) | (outcome == rules.INJURY))
        & ~cs.decision0
        & ~cs.decision
        & ~cs.escalated
        & ~cs.downgraded
        & (cs.rd >= cal.start_day + 60)
        & np.isfinite(t)
    )
    cand = np.nonzero(ok)[0]
    picked = rng.choice(cand, min(len(BAD_KINDS), cand.size), replace=False)
    for k, i in enumerate(np.sort(picked)):
        cs.bad[i] = k


def _iso_expr(col: str) -> pl.Expr:
    return pl.when(pl.col(col) >= 0).then(
        pl.col(col).cast(pl.Int32).cast(pl.Date).dt.strftime("%Y-%m-%d")
    )


def version_frame(
    cs: Complaints,
    idx: np.ndarray,
    narr,
    cal: Calendar,
    pf: Portfolio,
    sup: Supply,
    ct: CodeTables,
    seed: int,
) -> pl.DataFrame:
    """All versions (up to the extract) of the complaints `idx`, in contract columns."""
    rng = stream(seed, f"versions-{int(idx[0]) if idx.size else 0}")
    vt = cs.vtimes[idx]
    ok = np.isfinite(vt) & ((cs.rd[idx][:, None] + vt) <= cal.extract_day)
    r, k = np.nonzero(ok)
    i = idx[r]
    t = vt[r, k]
    n = i.size
    day_v = cs.rd[i] + t.astype(np.int64)
    hour = np.where(k == 0, rng.integers(8, 18, n), rng.integers(7, 20, n))
    secs = hour * 3600 + rng.integers(0, 3600, n)

    triaged = t >= cs.t_triage[i]
    coded = cs.coded_at_intake[i] | triaged
    changed = t >= cs.t_change[i]
    outcome = np.where(changed, cs.outcome[i], cs.outcome0[i])
    empty = ct.vi("")
    he = np.where(
        triaged | (cs.coded_at_intake[i] & (k == 0)), np.where(changed, cs.he[i], cs.he0[i]), empty
    )
    closed = t >= cs.t_close[i]
    nr = cs.not_required[i]
    # 0 open, 1 in_progress, 2 closed, 3 not_required
    status = np.where(nr, np.where(triaged, 3, 0), np.where(closed, 2, np.where(triaged, 1, 0)))
    concl = np.where(
        status == 2, cs.conclusion[i], np.where((status == 1) & cs.prelim[i], ct.vi("D16"), empty)
    )
    decided = t >= cs.t_decide[i]
    dec_yes = np.where(changed, cs.decision[i], cs.decision0[i])
    # 0 empty, 1 pending, 2 yes, 3 no
    decision = np.where(
        ~triaged,
        np.where(cs.intake_pending[i], 1, 0),
        np.where(decided, np.where(dec_yes, 2, 3), 1),
    )
    reported = t >= cs.t_report[i]
    t_rep = np.where(np.isfinite(cs.t_report[i]), cs.t_report[i], 0)
    rep_day = np.where(reported, cs.rd[i] + t_rep, -1).astype(np.int64)
    t_cl = np.where(np.isfinite(cs.t_close[i]), cs.t_close[i], 0)
    close_day = np.where(status == 2, cs.rd[i] + t_cl, -1).astype(np.int64)
    pos = np.searchsorted(idx, i)  # position of the complaint inside the narrative arrays
    reasons = ["", *catalog.NOT_INVESTIGATED_REASONS]
    problem = np.where(coded, ct.code_vi[cs.family[i], cs.slot[i]], empty)

    df = pl.DataFrame(
        {
            "ci": i,
            "k": k,
            "day_v": day_v,
            "secs": secs,
            "rd": cs.rd[i],
            "ed": cs.ed[i],
            "complaint_id": cid_series(cs, i),
            "device_model": take([m.name for m in pf.models], cs.model[i]),
            "lot_number": sup.lots["lot_number"].gather(cs.lot[i]),
            "serial_number": serial_series(cs, i, pf),
            "udi_di": udi_series(cs, i, pf),
            "country": take([c[0] for c in catalog.EVENT_COUNTRIES], cs.country[i]),
            "source": take(catalog.COMPLAINT_SOURCES, cs.source[i]),
            "problem_code": take(ct.vocab, problem),
            "health_effect_code": take(ct.vocab, he),
            "component_code": take(ct.vocab, np.where(triaged, cs.component[i], empty)),
            "patient_outcome": take(catalog.OUTCOMES, outcome),
            "malfunction": take(("false", "true"), cs.malfunction[i].astype(np.int64)),
            "base": narr.base.gather(pos),
            "fu": narr.followup.gather(pos),
            "esc": narr.escalation.gather(pos),
            "show_fu": triaged,
            "show_esc": changed & cs.escalated[i],
            "show_dg": changed & cs.downgraded[i],
            "dg": take(catalog.DOWNGRADE_PHRASES, i % len(catalog.DOWNGRADE_PHRASES)),
            "change_day": cs.rd[i] + np.where(changed, cs.t_change[i], 0).astype(np.int64),
            "hospitalised": take(
                ("", "false", "true"),
                np.where(
                    outcome == rules.UNKNOWN,
                    0,
                    np.where(rules.harmed(outcome) & cs.hosp[i], 2, 1),
                ),
            ),
            "causality": take(
                catalog.CAUSALITY, np.where(triaged & rules.harmed(outcome), cs.caus[i], 0)
            ),
            "investigation_status": take(("open", "in_progress", "closed", "not_required"), status),
            "close_day": close_day,
            "investigation_conclusion_code": take(ct.vocab, concl),
            "not_investigated_reason": take(reasons, np.where(nr & triaged, cs.reason[i] + 1, 0)),
            "reportability_decision": take(("", "pending", "yes", "no"), decision),
            "rep_day": rep_day,
            "rid": report_id_series(cs, i),
            "reported": reported,
            "bad": cs.bad[i],
        }
    )
    ts = pl.col("day_v").cast(pl.Int32).cast(pl.Date).cast(pl.Datetime("us")) + pl.duration(
        seconds=pl.col("secs")
    )
    desc = pl.concat_str(
        [
            pl.col("base"),
            pl.when(pl.col("show_fu") & (pl.col("fu") != "")).then(pl.col("fu")),
            pl.when(pl.col("show_esc") & (pl.col("esc") != "")).then(pl.col("esc")),
            pl.when(pl.col("show_dg")).then(
                pl.col("dg").str.replace(
                    "{fdate}",
                    pl.col("change_day").cast(pl.Int32).cast(pl.Date).dt.strftime("%d.%m.%Y"),
                    literal=True,
                )
            ),
        ],
        separator=" ",
        ignore_nulls=True,
    )
    out = df.with_columns(
        updated_at=ts.dt.strftime("%Y-%m-%dT%H:%M:%S"),
        received_date=_iso_expr("rd"),
        event_date=_iso_expr("ed"),
        description=desc,
        investigation_closed_date=_iso_expr("close_day"),
        reported_date=_iso_expr("rep_day"),
        regulatory_report_id=pl.when(pl.col("reported")).then(pl.col("rid")).otherwise(pl.lit("")),
    )
    return _apply_bad(_supplemental_submissions(out, cal, seed))


SUPPLEMENTAL_COLUMN = "supplemental_reported_date"  # an extra column of the complaint extract
# optional contract columns, then the extra one, after the contract's required order
EXTRA_COLUMNS = ("hospitalised", "causality", SUPPLEMENTAL_COLUMN)
# What the firm treats as new information for a supplemental report (21 CFR 803.56): the facts a
# Form 3500A carries that can change between versions of a complaint.
NEW_INFO_FIELDS = (
    "patient_outcome",
    "hospitalised",
    "causality",
    "malfunction",
    "problem_code",
    "health_effect_code",
    "component_code",
    "investigation_conclusion_code",
)


def _supplemental_submissions(out: pl.DataFrame, cal: Calendar, seed: int) -> pl.DataFrame:
    """Versions that bring new information after the complaint was reported (`new_info`), and
    the day the firm submitted the supplemental report for it: mostly within 30 days, some late,
    a few never. The extract carries that date on the version that brought the information
    (the complaint system fills it in when the supplement goes out)."""
    rng = stream(seed, f"supplements-{int(out['ci'][0]) if out.height else 0}")
    n = out.height
    u = rng.random(n)
    lag = np.where(u < 0.9, rng.integers(1, 26, n), np.where(u < 0.97, rng.integers(31, 75, n), -1))
    first = pl.col("k") == pl.col("k").min().over("ci")
    changed = pl.any_horizontal(
        [pl.col(f).ne_missing(pl.col(f).shift(1).over("ci", order_by="k")) for f in NEW_INFO_FIELDS]
    )
    sent = pl.col("day_v") + pl.col("lag")
    return (
        out.with_columns(lag=pl.Series(lag))
        .with_columns(
            new_info=~first
            & changed
            & (pl.col("rep_day") >= 0)
            & (pl.col("day_v") > pl.col("rep_day"))
        )
        .with_columns(
            sup_day=pl.when(pl.col("new_info") & (pl.col("lag") > 0) & (sent <= cal.extract_day))
            .then(sent)
            .otherwise(-1)
        )
        .with_columns(_iso_expr("sup_day").alias(SUPPLEMENTAL_COLUMN))
        .drop("lag")
    )


def _apply_bad(df: pl.DataFrame) -> pl.DataFrame:
    if df.filter(pl.col("bad") >= 0).is_empty():
        return df
    b = pl.col("bad")
    typo = pl.col("device_model").replace_strict(MODEL_TYPOS, default=pl.col("device_model"))
    bad_code = (
        pl.when(pl.col("problem_code").str.contains("0"))
        .then(pl.col("problem_code").str.replace("0", "O", literal=True))
        .otherwise(pl.lit("A9901"))
    )
    # ten years on: after any as-of night a test replays (one year on could still be before it)
    plus = (pl.col("rd") + 3650).cast(pl.Int32).cast(pl.Date).dt.strftime("%Y-%m-%d")
    after = (pl.col("rd") + 3).cast(pl.Int32).cast(pl.Date).dt.strftime("%Y-%m-%d")
    return df.with_columns(
        device_model=pl.when(b == 0).then(typo).otherwise(pl.col("device_model")),
        problem_code=pl.when(b == 1)
        .then(pl.when(pl.col("problem_code") == "").then(pl.lit("A9901")).otherwise(bad_code))
        .otherwise(pl.col("problem_code")),
        received_date=pl.when(b == 2).then(plus).otherwise(pl.col("received_date")),
        event_date=pl.when(b == 3).then(after).otherwise(pl.col("event_date")),
        investigation_status=pl.when(b == 4)
        .then(pl.lit("closed"))
        .otherwise(pl.col("investigation_status")),
        investigation_closed_date=pl.when(b == 4)
        .then(None)
        .otherwise(pl.col("investigation_closed_date")),
        investigation_conclusion_code=pl.when(b == 4)
        .then(pl.lit("D14"))
        .otherwise(pl.col("investigation_conclusion_code")),
        malfunction=pl.when(b == 5)
        .then(pl.when(pl.col("malfunction") == "true").then(pl.lit("Y")).otherwise(pl.lit("N")))
        .otherwise(pl.col("malfunction")),
    )
