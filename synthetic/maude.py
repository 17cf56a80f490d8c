"""FDA MAUDE bulk files and openFDA device/event pages in FDA's own layouts.

All manufacturers' reports for the families' product codes and for a few hundred other product
codes, including the simulated manufacturer's own MDRs (their ``report_number`` is the
``regulatory_report_id`` of the complaint). Older years go to ``*thru2024.txt`` files in the
lower-case layout of FDA's loader (some master rows with 77 fields, device rows with 28), newer
ones to files with today's upper-case headers (86-column master, 34-column device). Files are
'|'-delimited without quoting, ISO-8859-1, dates MM/DD/YYYY; narratives sometimes carry '|' and
line breaks; device files pad the report key with a space and a trailing '.0'.

Reports are generated and written chunk by chunk (bounded memory at any scale).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from assets.ingestion import maude_layout as layout
from synthetic import catalog
from synthetic.complaints import (
    CodeTables,
    Complaints,
    VersionRows,
    current_version_time,
    report_id_series,
    serial_series,
    udi_series,
    years_of,
)
from synthetic.distribution import Calendar, Portfolio, Supply
from synthetic.reference import annex_terms, device_problem_codes, product_codes
from synthetic.scales import Scale
from synthetic.util import choose_text, day, pick, pick_rows, row_cdf, stream, take
from synthetic.worlds import BASELINE, MaudeDisproportion, World

OUR_SHARES = {
    "FRN": 0.060,
    "LWP": 0.050,
    "LPH": 0.040,
    "DQA": 0.030,
    "IOR": 0.015,
    "JDI": 0.015,
    "NVN": 0.015,
}
N_OTHER_CODES = 240
SPLIT_YEAR = 2024  # reports received up to the end of it are in the *thru2024 files
OLD_LAYOUT_UNTIL = 2023  # a share of master/device rows up to this year use 77/28 fields

EVENT_TYPES = ("D", "IN", "IL", "IJ", "M", "O")
EVENT_WEIGHTS = {
    "3": (0.040, 0.400, 0.020, 0.010, 0.500, 0.030),
    "2": (0.010, 0.220, 0.010, 0.010, 0.720, 0.030),
    "1": (0.003, 0.300, 0.000, 0.000, 0.670, 0.027),
}
SPECIALTY = {
    "AN": "Anesthesiology",
    "CV": "Cardiovascular",
    "CH": "Clinical Chemistry",
    "DE": "Dental",
    "EN": "Ear, Nose, Throat",
    "GU": "Gastroenterology, Urology",
    "HO": "General Hospital",
    "HE": "Hematology",
    "IM": "Immunology",
    "MI": "Microbiology",
    "NE": "Neurology",
    "OB": "Obstetrics/Gynecology",
    "OP": "Ophthalmic",
    "OR": "Orthopedic",
    "PA": "Pathology",
    "PM": "Physical Medicine",
    "RA": "Radiology",
    "SU": "General, Plastic Surgery",
    "TX": "Clinical Toxicology",
    "MG": "Medical Genetics",
}
SOURCE_TYPE = {
    "customer": "06",
    "distributor": "08",
    "field_service": "07",
    "healthcare_professional": "05",
    "patient": "04",
    "literature": "03",
    "clinical_study": "02",
    "social_media": "04",
    "regulator": "00",
}

SYLL_A = (
    "AR",
    "BEL",
    "COR",
    "DAL",
    "EV",
    "FEN",
    "GAL",
    "HEL",
    "IN",
    "JAN",
    "KOR",
    "LUM",
    "MER",
    "NOV",
    "OR",
    "PAL",
    "QUIN",
    "RAV",
    "SOL",
    "TAL",
    "UL",
    "VAN",
    "WEX",
    "XAN",
    "YOR",
    "ZEN",
)
SYLL_B = (
    "ADA",
    "ENTA",
    "IXA",
    "OVA",
    "UNA",
    "ELLO",
    "IRA",
    "ANTIS",
    "ORIA",
    "AMED",
    "ITEC",
    "ENSA",
    "ONIX",
    "AVEX",
    "ETRA",
)
SUFFIX = (
    "MEDICAL INC.",
    "MEDICAL, INC.",
    "SURGICAL LLC",
    "HEALTHCARE GMBH",
    "LIFE SCIENCES CORP.",
    "ORTHOPEDICS, INC.",
    "DEVICES LTD",
    "MEDICAL SYSTEMS",
    "MEDTECH AG",
    "DIAGNOSTICS INC.",
    "CORPORATION",
    "MEDICAL CO., LTD.",
    "VASCULAR, INC.",
)
PLACES = (
    ("MINNEAPOLIS", "MN", "55401", "US"),
    ("IRVINE", "CA", "92618", "US"),
    ("WARSAW", "IN", "46580", "US"),
    ("MARLBOROUGH", "MA", "01752", "US"),
    ("SALT LAKE CITY", "UT", "84108", "US"),
    ("PLYMOUTH", "MN", "55441", "US"),
    ("SAN DIEGO", "CA", "92121", "US"),
    ("TEMPE", "AZ", "85281", "US"),
    ("LAKE FOREST", "IL", "60045", "US"),
    ("RALEIGH", "NC", "27601", "US"),
    ("GALWAY", "", "", "IE"),
    ("TUTTLINGEN", "", "", "DE"),
    ("WINTERTHUR", "", "", "CH"),
    ("SHENZHEN", "", "", "CN"),
    ("SEOUL", "", "", "KR"),
    ("TIJUANA", "", "", "MX"),
    ("TOKYO", "", "", "JP"),
    ("PENANG", "", "", "MY"),
)
STREETS = (
    "MEDICAL PKWY",
    "INNOVATION DR",
    "CORPORATE CENTER DR",
    "TECHNOLOGY WAY",
    "INDUSTRIAL BLVD",
    "RESEARCH PARK",
    "COMMERCE ST",
    "LAKEVIEW AVE",
)

OTHER_TEXTS = (
    "IT WAS REPORTED THAT THE {GEN} HAD AN ISSUE DESCRIBED AS: {PROB}.",
    "THE CUSTOMER REPORTED A PROBLEM WITH THE {GEN} ({PROB}).",
    "REPORTER ALLEGED A DEVICE PROBLEM DURING USE OF THE {BRAND}: {PROB}.",
    "DURING USE THE {GEN} WAS NOTED TO HAVE A PROBLEM ({PROB}).",
    "A USER FACILITY REPORTED: {PROB}. THE DEVICE WAS REMOVED FROM SERVICE.",
    "IT WAS REPORTED THAT A {BRAND} HAD A PROBLEM ({PROB}); NO FURTHER INFORMATION WAS PROVIDED.",
    "THE PATIENT'S CAREGIVER REPORTED AN ISSUE WITH THE {GEN} AT HOME: {PROB}.",
)
OUTCOME_TEXTS = {
    "D": (
        "THE PATIENT EXPIRED. THE CAUSE OF DEATH WAS NOT REPORTED.",
        "IT WAS REPORTED THAT THE PATIENT DIED; A RELATIONSHIP TO THE DEVICE IS UNKNOWN.",
    ),
    "I": (
        "THE PATIENT REQUIRED MEDICAL INTERVENTION.",
        "THE PATIENT WAS HOSPITALIZED.",
        "ADDITIONAL SURGERY WAS REQUIRED.",
        "THE PATIENT WAS TREATED AND RECOVERED.",
    ),
    "M": (
        "THERE WAS NO PATIENT INVOLVEMENT.",
        "NO PATIENT INJURY WAS REPORTED.",
        "THE PROCEDURE WAS COMPLETED WITH ANOTHER DEVICE.",
        "",
    ),
    "O": ("NO ADDITIONAL INFORMATION IS AVAILABLE.",),
}
EVAL_TEXTS = (
    "THE DEVICE WAS NOT RETURNED FOR EVALUATION. A REVIEW OF THE DEVICE HISTORY RECORD WAS "
    "PERFORMED AND NO ANOMALIES WERE FOUND.",
    "THE DEVICE WAS RETURNED AND EVALUATED. THE REPORTED EVENT WAS CONFIRMED. THE ROOT CAUSE IS "
    "UNDER INVESTIGATION.",
    "(B)(4). THE INVESTIGATION IS ONGOING; A SUPPLEMENTAL REPORT WILL BE SUBMITTED.",
    "DEVICE EVALUATION COULD NOT REPRODUCE THE REPORTED PROBLEM. NO FURTHER ACTION IS REQUIRED.",
    "(B)(4). THE LOT HISTORY WAS REVIEWED; NO NONCONFORMANCES WERE IDENTIFIED.",
)
# FDA device problem codes other manufacturers' reports draw from, by kind of device
POOL_GENERIC = (
    2993,
    3190,
    2913,
    2978,
    2953,
    2907,
    1069,
    1135,
    3005,
    2975,
    2916,
    2944,
    3191,
    2976,
    2967,
    2591,
)
POOL_ACTIVE = (
    1475,
    1476,
    2885,
    1057,
    1182,
    1183,
    2958,
    1013,
    1019,
    2939,
    2896,
    3283,
    2926,
    2959,
    1371,
    2925,
    3022,
    2937,
)
POOL_IMPLANT = (
    1395,
    2923,
    1260,
    1372,
    3003,
    2988,
    2934,
    2933,
    2886,
    2904,
    2979,
    1350,
    1081,
    1438,
    2950,
    3011,
)
POOL_MEASURE = (1005, 2459, 2460, 1516, 2890, 1561)
POOL_FLUID = (1354, 1250, 2954, 2964, 2991, 1423, 2182, 1311, 2945, 1294, 3016, 1008)
POOL_MECH = (2983, 2984, 3026, 2921, 2920, 3024, 3020, 2889, 2981, 2589)
IVD_SPECIALTIES = frozenset({"CH", "HE", "IM", "MI", "PA", "TX", "MG"})
PIPE_TEXTS = (
    " BP 120|80 MMHG AT THE TIME OF THE EVENT.",
    " REF 4410|22 PER LABEL.",
    " LOT/SERIAL: UNK|UNK.",
)

PATIENT_PROBLEMS = (
    "No Consequences Or Impact To Patient",
    "No Clinical Signs, Symptoms or Conditions",
    "Insufficient Information",
    "Pain",
    "Injury",
    "Hypoxia",
    "Hemorrhage/Bleeding",
    "Fall",
    "Death",
)


# --------------------------------------------------------------------------------------------
# The manufacturer's own MDRs (from its reported complaints)
# --------------------------------------------------------------------------------------------


def our_reports(
    cs: Complaints, idx: np.ndarray, narr, cal: Calendar, pf: Portfolio, sup: Supply, ct: CodeTables
) -> pl.DataFrame:
    """One row per complaint of `idx` filed to FDA by the extract date (its MDR)."""
    fin = np.isfinite(cs.t_report[idx])
    rep_day = cs.rd[idx] + np.where(fin, cs.t_report[idx], 0).astype(np.int64)
    recv = rep_day + (cs.rd[idx] + idx) % 4
    keep = (cs.rep_auth[idx] == 0) & fin & (recv <= cal.extract_day)
    pos = np.nonzero(keep)[0]
    i = idx[pos]
    t = current_version_time(VersionRows(cs, i), cal.extract_day)
    outcome = np.where(t >= cs.t_change[i], cs.outcome[i], cs.outcome0[i])
    closed = t >= cs.t_close[i]
    codes = [f.codes for f in pf.families]
    width = max(len(c) for c in codes)
    first = np.zeros((len(codes), width), dtype=np.int64)
    second = np.zeros((len(codes), width), dtype=np.int64)
    for fi, fc in enumerate(codes):
        for ci, c in enumerate(fc):
            first[fi, ci] = c.fda[0]
            second[fi, ci] = c.fda[-1] if len(c.fda) > 1 else 0
    d_terms = annex_terms("D")
    concl = take([d_terms.get(c, "").upper() for c in ct.vocab], cs.conclusion[i])
    src = [SOURCE_TYPE[x] for x in catalog.COMPLAINT_SOURCES]
    country = take([c[0] for c in catalog.EVENT_COUNTRIES], cs.country[i])
    frame = pl.DataFrame(
        {
            "day": recv[pos],
            "report_day": rep_day[pos],
            "event_day": cs.ed[i],
            "report_number": report_id_series(cs, i),
            "model": cs.model[i],
            "lot_number": sup.lots["lot_number"].gather(cs.lot[i]),
            "serial": serial_series(cs, i, pf),
            "udi": udi_series(cs, i, pf),
            "outcome": outcome,
            "fda_code": first[cs.family[i], cs.slot[i]],
            "fda_code2": second[cs.family[i], cs.slot[i]],
            "country": country,
            "src": take(src, cs.source[i]),
            "text_d": narr.template.gather(pos).str.to_uppercase(),
            "closed": closed,
            "concl": concl,
            "aware_day": cs.rd[i],
        }
    )
    return frame.select(
        pl.exclude("src", "closed", "concl"),
        pl.when(pl.col("country") != "US")
        .then(pl.lit("01,") + pl.col("src"))
        .otherwise(pl.col("src"))
        .alias("source_type"),
        pl.when(pl.col("closed"))
        .then(
            pl.lit("(B)(4). THE INVESTIGATION WAS COMPLETED. CONCLUSION: ")
            + pl.col("concl")
            + pl.lit(".")
        )
        .otherwise(
            pl.lit(
                "(B)(4). THE INVESTIGATION IS ONGOING. A SUPPLEMENTAL REPORT WILL BE "
                "SUBMITTED WHEN ADDITIONAL INFORMATION BECOMES AVAILABLE."
            )
        )
        .alias("text_n"),
    )


# --------------------------------------------------------------------------------------------
# Bulk files
# --------------------------------------------------------------------------------------------


class _Files:
    """Open output files by name, header written once, rows counted."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.handles: dict[str, BinaryIO] = {}
        self.rows: dict[str, int] = {}

    def write(self, name: str, header: tuple[str, ...], lines: pl.Series) -> None:
        if name not in self.handles:
            fh = (self.root / name).open("wb")
            fh.write(("|".join(header) + "\n").encode("latin-1"))
            self.handles[name] = fh
            self.rows[name] = 0
        if lines.len():
            text = "\n".join(lines.to_list()) + "\n"
            self.handles[name].write(text.encode("latin-1", errors="replace"))
            self.rows[name] += lines.len()

    def close(self) -> None:
        for fh in self.handles.values():
            fh.close()


def write_maude(
    out: Path,
    cal: Calendar,
    pf: Portfolio,
    sup: Supply,
    ours: pl.DataFrame,
    sc: Scale,
    seed: int,
    world: World = BASELINE,
) -> dict[str, int]:
    root = out / "maude"
    root.mkdir(parents=True, exist_ok=True)
    cat = _Catalog.build(pf, seed, world.maude, cal.start_day)
    rng = stream(seed, "maude-dates")
    n_other = sc.maude_reports
    n_days = cal.extract_day - cal.start_day + 1
    w = np.linspace(0.8, 1.2, n_days)
    other_day = np.sort(cal.start_day + pick(rng, n_other, w)).astype(np.int32)
    our_day = ours["day"].to_numpy() if ours.height else np.zeros(0, np.int64)
    ours = ours.sort(["day", "report_number"]) if ours.height else ours
    our_day = ours["day"].to_numpy() if ours.height else our_day
    for dis in cat.dis:
        dis.boost = _boost_with_ours(cat, dis, ours, other_day)
    all_day = np.r_[other_day, our_day.astype(np.int32)]
    is_ours = np.r_[np.zeros(n_other, bool), np.ones(our_day.size, bool)]
    src_idx = np.r_[np.arange(n_other, dtype=np.int32), np.arange(our_day.size, dtype=np.int32)]
    order = np.lexsort((src_idx, is_ours, all_day)).astype(np.int32)
    base_key = 9_000_000 + (seed % 1000) * 10
    files = _Files(root)
    counters: dict[tuple[int, int], int] = {}
    openfda: list[dict] = []
    target_ofda = sc.openfda_records
    our_pc = set(OUR_SHARES)
    n_our_pc = n_other * sum(OUR_SHARES.values()) + our_day.size
    p_ofda = min(1.0, 1.3 * target_ofda / max(1.0, n_our_pc))
    n_total = order.size
    text_key = 20_000_000
    try:
        for ci, a in enumerate(range(0, n_total, sc.maude_chunk)):
            sel = order[a : a + sc.maude_chunk]
            keys = base_key + np.arange(a, a + sel.size)
            crng = stream(seed, f"maude-chunk-{ci}")
            o_mask = ~is_ours[sel]
            frames = []
            if o_mask.any():
                frames.append(
                    _other_frame(cat, all_day[sel][o_mask], keys[o_mask], crng, counters, cal)
                )
            if (~o_mask).any():
                frames.append(_our_frame(cat, pf, ours[src_idx[sel][~o_mask]], keys[~o_mask], crng))
            df = pl.concat(frames, how="diagonal_relaxed").sort("mdr_report_key")
            df, text_key = _finish(df, crng, text_key)
            _write_chunk(files, df, cat)
            if len(openfda) < target_ofda:
                our_pc_idx = [cat.pc.index(c) for c in sorted(our_pc)]
                cand = df.filter(pl.col("pc").is_in(our_pc_idx))
                take = crng.random(cand.height) < p_ofda
                for row in cand.filter(pl.Series(take)).iter_rows(named=True):
                    if len(openfda) < target_ofda:
                        openfda.append(_openfda_record(row, cat))
    finally:
        files.close()
    n_pages = _write_openfda(out / "openfda", openfda, cal)
    return {
        "maude_reports": int(n_total),
        "maude_own_reports": int(our_day.size),
        "maude_files": len(files.rows),
        "openfda_records": len(openfda),
        "openfda_pages": n_pages,
    }


def _boost_with_ours(
    cat: _Catalog, dis: _Disproportion, ours: pl.DataFrame, other_day: np.ndarray
) -> float:
    """The share of other manufacturers' reports of the disproportionate product code that get
    its problem code after the onset, so that all its reports (the firm's own included, which
    carry their own codes) reach the target PRR."""
    if not ours.height:
        return dis.boost
    hr = dis.fda_code
    after = ours["day"].to_numpy() >= dis.onset
    dq = (np.array(cat.model_pc)[ours["model"].to_numpy()] == dis.pc) & after
    hits = dq & ((ours["fda_code"].to_numpy() == hr) | (ours["fda_code2"].to_numpy() == hr))
    n_other = float((other_day >= dis.onset).sum()) * cat.pc_weight[dis.pc] / cat.pc_weight.sum()
    if n_other <= 0:
        return dis.boost
    share = dis.own_share + dis.boost * (1 - dis.own_share)
    want = (share * (n_other + dq.sum()) - hits.sum()) / n_other
    return float(min(0.9, max(0.0, (want - dis.own_share) / max(1e-9, 1 - dis.own_share))))


@dataclass
class _Disproportion:
    """A planted disproportionate pair of the MAUDE world."""

    pc: int  # index of the product code in the catalog's list
    fda_code: int
    onset: int  # day number from which its reports carry the code more often
    boost: float  # share of other manufacturers' reports given the code after the onset
    own_share: float  # report-level share of the code in the product code's own profile


class _Catalog:
    """Product codes, manufacturers, brands and problem-code profiles of the MAUDE world."""

    def __init__(self) -> None:
        self.pc: list[str] = []

    @classmethod
    def build(
        cls,
        pf: Portfolio,
        seed: int,
        disproportions: Sequence[MaudeDisproportion],
        first_day: int,
    ) -> _Catalog:
        """`first_day`: the first day of the MAUDE data (the onset of a disproportion without
        one)."""
        rng = stream(seed, "maude-catalog")
        self = cls()
        pcs = product_codes()
        ours = list(OUR_SHARES)
        pool = sorted(
            c
            for c, p in pcs.items()
            if c not in OUR_SHARES
            and p.device_class in ("1", "2", "3")
            and p.medical_specialty not in IVD_SPECIALTIES
        )
        others = sorted(rng.choice(pool, N_OTHER_CODES, replace=False).tolist())
        self.pc = ours + others
        ranks = rng.permutation(len(others)) + 1
        w_other = 1.0 / ranks.astype(float) ** 0.9
        w_other = w_other / w_other.sum() * (1.0 - sum(OUR_SHARES.values()))
        self.pc_weight = np.r_[[OUR_SHARES[c] for c in ours], w_other]
        self.pc_name = [pcs[c].device_name.upper() for c in self.pc]
        self.pc_class = [pcs[c].device_class for c in self.pc]
        self.pc_implant = ["Y" if pcs[c].implant else "N" for c in self.pc]
        self.pc_reg = [pcs[c].regulation_number for c in self.pc]
        self.pc_spec = [SPECIALTY.get(pcs[c].medical_specialty, "Unknown") for c in self.pc]

        # manufacturers
        n_m = 160
        names = set()
        mfr = []
        while len(mfr) < n_m:
            nm = (
                SYLL_A[rng.integers(len(SYLL_A))]
                + SYLL_B[rng.integers(len(SYLL_B))]
                + " "
                + SUFFIX[rng.integers(len(SUFFIX))]
            )
            if nm in names:
                continue
            names.add(nm)
            place = PLACES[rng.integers(len(PLACES))]
            mfr.append(
                {
                    "name": nm,
                    "address_1": f"{rng.integers(10, 9999)} {STREETS[rng.integers(len(STREETS))]}",
                    "city": place[0],
                    "state": place[1],
                    "zip": place[2],
                    "country": place[3],
                    "reg": str(rng.integers(1_000_000, 9_999_999))
                    if rng.random() < 0.5
                    else str(rng.integers(3_000_000_000, 3_099_999_999)),
                    "fei": str(rng.integers(1_000_000_000, 3_099_999_999)),
                }
            )
        self.mfr = mfr
        # per product code: manufacturers (6 slots) and brands
        k = 6
        self.pc_mfr = rng.integers(0, n_m, (len(self.pc), k))
        mw = rng.dirichlet(np.full(k, 0.8), len(self.pc))
        self.pc_mfr_cdf = row_cdf(mw)
        self.brand = np.empty((len(self.pc), k), dtype=object)
        for i in range(len(self.pc)):
            for j in range(k):
                self.brand[i, j] = (
                    SYLL_A[rng.integers(len(SYLL_A))]
                    + SYLL_B[rng.integers(len(SYLL_B))]
                    + (f" {rng.integers(1, 9) * 100}" if rng.random() < 0.6 else "")
                )
        # problem-code profiles
        dpc = device_problem_codes()
        width = 12
        prof = np.zeros((len(self.pc), width), dtype=np.int64)
        pw = np.zeros((len(self.pc), width))
        fam_codes = {}
        for f in pf.families:
            for m in f.models:
                fam_codes.setdefault(m.product_code, {})
                for c in f.codes:
                    for j, x in enumerate(c.fda):
                        fam_codes[m.product_code][x] = fam_codes[m.product_code].get(
                            x, 0.0
                        ) + c.rate / (j + 1)
        for i, c in enumerate(self.pc):
            if c in fam_codes:
                items = sorted(fam_codes[c].items(), key=lambda kv: (-kv[1], kv[0]))[: width - 2]
                codes = [x for x, _ in items] + [2993, 3190]
                ws = [v for _, v in items] + [0.6, 0.4]
            else:
                p = pcs[c]
                spec_pool = _pool_for(p.medical_specialty, p.implant)
                n_spec = min(width - 4, len(spec_pool))
                codes = rng.choice(np.array(spec_pool), n_spec, replace=False).tolist()
                codes += rng.choice(np.array(POOL_GENERIC), width - n_spec, replace=False).tolist()
                ws = (rng.dirichlet(np.full(width, 0.7)) * 10).tolist()
            codes = codes[:width]
            ws = ws[:width]
            while len(codes) < width:
                codes.append(2993)
                ws.append(0.0)
            prof[i] = codes
            pw[i] = ws
        # the disproportionate pairs: their own share at background level before the onset
        share = pw / pw.sum(axis=1, keepdims=True)
        self.dis: list[_Disproportion] = []
        for d in disproportions:
            dq, hr = self.pc.index(d.product_code), d.fda_code
            others_mask = np.arange(len(self.pc)) != dq
            bg = float(
                (share[others_mask] * (prof[others_mask] == hr)).sum(axis=1)
                @ self.pc_weight[others_mask]
                / self.pc_weight[others_mask].sum()
            )
            j = np.nonzero(prof[dq] == hr)[0]
            if j.size:
                rest = pw[dq].sum() - pw[dq, j].sum()
                pw[dq, j] = rest * bg / max(1e-9, 1 - bg) / j.size
            # a report carries a second code 30% of the time: report-level shares are ~1.3 x
            bg_eff = min(0.5, 1.3 * bg)
            own = 1.3 * float((pw[dq] / pw[dq].sum() * (prof[dq] == hr)).sum())
            target = d.prr * bg_eff
            boost = min(0.9, max(0.0, (target - own) / max(1e-9, 1 - own)))
            onset = day(d.onset) if d.onset else first_day
            self.dis.append(_Disproportion(dq, hr, onset, boost, own))
        self.prof = prof
        self.prof_cdf = row_cdf(pw)
        self.dpc = dpc
        # own manufacturer: index in product code list per model
        self.model_pc = [self.pc.index(m.product_code) for m in pf.models]
        self.k = k
        self.brand_flat = [str(b) for b in self.brand.ravel()]
        self.pc_class_idx = np.array([int(c) - 1 for c in self.pc_class])
        self.event_cdf = row_cdf(np.array([EVENT_WEIGHTS[c] for c in ("1", "2", "3")]))
        self.dpc_codes = np.array(sorted(dpc))
        self.dpc_upper = [dpc[c].upper() for c in self.dpc_codes]
        self.mfr_reg = [m["reg"] for m in mfr]
        self.mfr_name = [m["name"] for m in mfr]
        self.mfr_addr = [m["address_1"] for m in mfr]
        self.mfr_city = [m["city"] for m in mfr]
        self.mfr_state = [m["state"] for m in mfr]
        self.mfr_zip = [m["zip"] for m in mfr]
        self.mfr_country = [m["country"] for m in mfr]
        self.model_brand = [m.name.upper() for m in pf.models]
        self.model_catalog = [m.catalog for m in pf.models]
        return self


def _pool_for(specialty: str, implant: bool) -> tuple[int, ...]:
    if implant:
        return POOL_IMPLANT + POOL_MECH
    if specialty in ("AN", "CV", "NE", "RA"):
        return POOL_ACTIVE + POOL_MEASURE + POOL_FLUID
    if specialty == "HO":
        return POOL_FLUID + POOL_ACTIVE + POOL_MECH
    if specialty in ("PM", "EN"):
        return POOL_ACTIVE + POOL_MECH
    return POOL_MECH + POOL_FLUID


def _d(expr: pl.Expr) -> pl.Expr:
    """Day number -> MM/DD/YYYY ('' when negative)."""
    return (
        pl.when(expr >= 0)
        .then(expr.cast(pl.Int32).cast(pl.Date).dt.strftime("%m/%d/%Y"))
        .otherwise(pl.lit(""))
    )


def _int_text(values: np.ndarray, width: int = 0) -> pl.Series:
    out = pl.Series(np.asarray(values, dtype=np.int64)).cast(pl.String)
    return out.str.zfill(width) if width else out


def _other_frame(
    cat: _Catalog,
    days: np.ndarray,
    keys: np.ndarray,
    rng: np.random.Generator,
    counters: dict[tuple[int, int], int],
    cal: Calendar,
) -> pl.DataFrame:
    n = days.size
    pc = pick(rng, n, cat.pc_weight)
    slot = pick_rows(rng, cat.pc_mfr_cdf, pc)
    mfr = cat.pc_mfr[pc, slot]
    ev = pick_rows(rng, cat.event_cdf, cat.pc_class_idx[pc])
    p1 = cat.prof[pc, pick_rows(rng, cat.prof_cdf, pc)]
    u = rng.random(n)
    for dis in cat.dis:
        boost = (pc == dis.pc) & (days >= dis.onset) & (u < dis.boost)
        p1 = np.where(boost, dis.fda_code, p1)
    p2 = np.where(rng.random(n) < 0.3, cat.prof[pc, pick_rows(rng, cat.prof_cdf, pc)], 0)
    p2 = np.where(p2 == p1, 0, p2)
    src = pick(rng, n, [0.88, 0.04, 0.07, 0.01])  # M, U, P, D
    year = years_of(days)
    # manufacturer reports are numbered per manufacturer and year, across chunks
    seq = rng.integers(1, 60, n)
    mm = np.nonzero(src == 0)[0]
    if mm.size:
        key = mfr[mm].astype(np.int64) * 10_000 + year[mm]
        order = mm[np.lexsort((keys[mm], key))]
        sk = mfr[order].astype(np.int64) * 10_000 + year[order]
        uniq, inv = np.unique(sk, return_inverse=True)
        base = np.array([counters.get((int(u) // 10_000, int(u) % 10_000), 0) for u in uniq])
        run = _run_within(sk)
        seq[order] = base[inv] + run + 1
        last = np.zeros(uniq.size, dtype=np.int64)
        np.maximum.at(last, inv, seq[order])
        for u, v in zip(uniq, last, strict=True):
            counters[(int(u) // 10_000, int(u) % 10_000)] = int(v)
    event_type = take(EVENT_TYPES, ev)
    kind = np.select([ev == 0, (ev >= 1) & (ev <= 3), ev == 4], [0, 1, 2], 3)
    otxt = choose_text(rng, kind, [OUTCOME_TEXTS[k] for k in ("D", "I", "M", "O")])
    brand = take(cat.brand_flat, pc * cat.k + slot)
    gen = take(cat.pc_name, pc)
    prob = take(cat.dpc_upper, np.searchsorted(cat.dpc_codes, p1))
    df = pl.DataFrame(
        {
            "mdr_report_key": keys,
            "day": days,
            "event_day": np.where(
                rng.random(n) < 0.15, -1, days - (rng.geometric(1 / 25.0, n) - 1)
            ),
            "report_day": days - rng.integers(0, 12, n),
            "src": src,
            "seq": seq,
            "year": year,
            "fac": rng.integers(1_000_000, 9_999_999, n),
            "reg": take(cat.mfr_reg, mfr),
            "report_source_code": take(("M", "U", "P", "D"), src),
            "event_type": event_type,
            "pc": pc,
            "manufacturer_name": take(cat.mfr_name, mfr),
            "manufacturer_address_1": take(cat.mfr_addr, mfr),
            "manufacturer_city": take(cat.mfr_city, mfr),
            "manufacturer_state": take(cat.mfr_state, mfr),
            "manufacturer_zip_code": take(cat.mfr_zip, mfr),
            "manufacturer_country": take(cat.mfr_country, mfr),
            "brand_name": brand,
            "generic_name": gen,
            "mn": _int_text(rng.integers(100, 9999, n)),
            "catalog_number": _int_text(rng.integers(10000, 999999, n)),
            "lot_raw": _int_text(rng.integers(0, 99_999_999, n), 8),
            "lot_u": rng.random(n),
            "other_id_number": pl.Series([""] * n, dtype=pl.String),
            "udi_di": pl.Series([""] * n, dtype=pl.String),
            "p1": p1,
            "p2": p2,
            "tt": take(OTHER_TEXTS, rng.integers(0, len(OTHER_TEXTS), n)),
            "prob": prob,
            "otxt": otxt,
            "text_n": take(EVAL_TEXTS, rng.integers(0, len(EVAL_TEXTS), n)),
            "rc_u": rng.random(n),
            "rc": take(("CA", "DE", "GB", "JP", "FR", "AU"), rng.integers(0, 6, n)),
            "cls3": cat.pc_class_idx[pc] == 2,
            "pma_no": _int_text(rng.integers(0, 999_999, n), 6),
            "mfr": mfr,
            "source_type": take(("05", "06", "05,06", "04", "07", "05"), rng.integers(0, 6, n)),
            "aware_day": days - rng.integers(5, 40, n),
        }
    )
    yr = pl.col("year").cast(pl.String)
    return df.select(
        pl.exclude(
            "src",
            "seq",
            "year",
            "fac",
            "reg",
            "mn",
            "lot_raw",
            "lot_u",
            "tt",
            "prob",
            "otxt",
            "rc_u",
            "rc",
            "cls3",
            "pma_no",
        ),
        pl.when(pl.col("src") == 0)
        .then(
            pl.concat_str(
                [
                    pl.col("reg"),
                    pl.lit("-"),
                    yr,
                    pl.lit("-"),
                    pl.col("seq").cast(pl.String).str.zfill(5),
                ]
            )
        )
        .when(pl.col("src") == 1)
        .then(
            pl.concat_str(
                [
                    pl.col("fac").cast(pl.String),
                    pl.lit("-"),
                    yr,
                    pl.lit("-"),
                    pl.col("seq").cast(pl.String).str.zfill(4),
                ]
            )
        )
        .when(pl.col("src") == 2)
        .then(pl.lit("MW") + pl.col("fac").cast(pl.String))
        .otherwise(
            pl.concat_str(
                [
                    pl.col("fac").cast(pl.String),
                    pl.lit("-"),
                    yr,
                    pl.lit("-"),
                    pl.col("seq").cast(pl.String).str.zfill(5),
                ]
            )
        )
        .alias("report_number"),
        (pl.col("brand_name").str.slice(0, 3) + pl.lit("-") + pl.col("mn")).alias("model_number"),
        pl.when(pl.col("lot_u") < 0.7)
        .then(pl.col("lot_raw"))
        .otherwise(pl.lit("UNK"))
        .alias("lot_number"),
        pl.concat_str(
            [
                pl.col("tt")
                .str.replace_all("{GEN}", pl.col("generic_name"), literal=True)
                .str.replace_all("{BRAND}", pl.col("brand_name"), literal=True)
                .str.replace_all("{PROB}", pl.col("prob"), literal=True),
                pl.col("otxt"),
            ],
            separator=" ",
        )
        .str.strip_chars()
        .alias("text_d"),
        pl.when(pl.col("rc_u") < 0.9)
        .then(pl.lit("US"))
        .otherwise(pl.col("rc"))
        .alias("reporter_country_code"),
        (pl.when(pl.col("cls3")).then(pl.lit("P")).otherwise(pl.lit("K")) + pl.col("pma_no")).alias(
            "pma_pmn_number"
        ),
    )


def _run_within(keys: np.ndarray) -> np.ndarray:
    n = keys.size
    start = np.r_[True, keys[1:] != keys[:-1]] if n else np.zeros(0, bool)
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0)) if n else start
    return np.arange(n) - first


def _our_frame(
    cat: _Catalog, pf: Portfolio, ours: pl.DataFrame, keys: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    n = ours.height
    model = ours["model"].to_numpy()
    outcome = ours["outcome"].to_numpy()
    ev = np.select([outcome == 3, outcome == 2, outcome == 1], [0, 1, 1], 4)
    ev = np.where((ev == 1) & (rng.random(n) < 0.05), 2, ev)
    pc = np.array(cat.model_pc)[model]
    catalog_no = take(cat.model_catalog, model)
    return pl.DataFrame(
        {
            "mdr_report_key": keys,
            "day": ours["day"],
            "event_day": ours["event_day"],
            "report_day": ours["report_day"],
            "report_source_code": pl.Series(["M"] * n),
            "event_type": take(EVENT_TYPES, ev),
            "pc": pc,
            "manufacturer_name": catalog.MANUFACTURER,
            "manufacturer_address_1": catalog.MANUFACTURER_ADDRESS,
            "manufacturer_city": catalog.MANUFACTURER_CITY,
            "manufacturer_state": "",
            "manufacturer_zip_code": "",
            "manufacturer_country": catalog.MANUFACTURER_COUNTRY,
            "brand_name": take(cat.model_brand, model),
            "generic_name": take(cat.pc_name, pc),
            "catalog_number": catalog_no,
            "other_id_number": ours["serial"],
            "udi_di": ours["udi"],
            "p1": ours["fda_code"],
            "p2": ours["fda_code2"],
            "text_n": ours["text_n"],
            "mfr": np.full(n, -1),
            "source_type": ours["source_type"],
            "aware_day": ours["aware_day"],
            "report_number": ours["report_number"],
            "model_number": catalog_no,
            "lot_number": ours["lot_number"],
            "text_d": ours["text_d"],
            "reporter_country_code": ours["country"],
            "pma_pmn_number": take(
                ("P210042", "K223817"), np.where(cat.pc_class_idx[pc] == 2, 0, 1)
            ),
            "mfr_postal": pl.Series([catalog.MANUFACTURER_POSTAL] * n),
        }
    )


def _finish(df: pl.DataFrame, rng: np.random.Generator, text_key: int) -> tuple[pl.DataFrame, int]:
    """Fields common to all reports, and the occasional '|' or line break in a narrative."""
    n = df.height
    ev = df["event_type"]
    kind = np.select(
        [(ev == "D").to_numpy(), ev.is_in(["IN", "IL", "IJ"]).to_numpy(), (ev == "O").to_numpy()],
        [0, 1, 2],
        3,
    )
    outcome_codes = choose_text(
        rng,
        kind,
        [
            ("1. D", "1. D", "1. D; 2. H"),
            ("1. H", "1. R", "1. L", "1. S", "1. O", "1. H; 2. R"),
            ("1. O",),
            ("", "1. A"),
        ],
    )
    u = rng.random(n)
    keys_d = np.arange(text_key, text_key + n)
    df = (
        df.with_columns(
            outcome_codes=outcome_codes,
            u=pl.Series(u),
            pipe=take(PIPE_TEXTS, rng.integers(0, len(PIPE_TEXTS), n)),
            text_key_d=pl.Series(keys_d),
            text_key_n=pl.Series(keys_d + n),
            has_n=pl.Series(rng.random(n) < 0.65),
            dev_event_key=pl.col("mdr_report_key") + 40_000_000,
            occupation=take(
                ("001", "002", "0HP", "0LP", "100", "000", "114"), rng.integers(0, 7, n)
            ),
            location=take(("001", "002", "003", "004", "500", "000", "*"), rng.integers(0, 7, n)),
            operator=take(("0HP", "0LP", "001", "002", "000"), rng.integers(0, 5, n)),
            availability=take(("Y", "N", "R", "*"), rng.integers(0, 4, n)),
            evaluated=take(("Y", "N", "R", "*"), rng.integers(0, 4, n)),
            single_use=take(("N", "Y"), (rng.random(n) < 0.5).astype(np.int64)),
            followup=take(("I", "I,F"), (rng.random(n) < 0.2).astype(np.int64)),
            added_lag=pl.Series(rng.integers(1, 21, n)),
            old=pl.Series(rng.random(n)),
        )
        .with_columns(
            text_d=pl.when(pl.col("u") < 0.01)
            .then(pl.col("text_d") + pl.col("pipe"))
            .when(pl.col("u") < 0.02)
            .then(
                pl.col("text_d")
                + pl.lit("\nADDITIONAL INFORMATION WAS REQUESTED FROM THE REPORTER.")
            )
            .otherwise(pl.col("text_d")),
        )
        .drop("u", "pipe")
    )
    if "mfr_postal" not in df.columns:
        df = df.with_columns(pl.lit("").alias("mfr_postal"))
    return df.with_columns(pl.col("mfr_postal").fill_null("")), text_key + 2 * n


def _master_values(df: pl.DataFrame, cat: _Catalog) -> dict[str, pl.Expr]:
    ev = pl.col("event_type")
    adverse = ev.is_in(["D", "IN", "IL", "IJ"])
    return {
        "mdr_report_key": pl.col("mdr_report_key").cast(pl.String),
        "event_key": (pl.col("mdr_report_key") + 7_000_000).cast(pl.String),
        "report_number": pl.col("report_number"),
        "report_source_code": pl.col("report_source_code"),
        "manufacturer_link_flag": pl.when(pl.col("report_source_code") == "M")
        .then(pl.lit("Y"))
        .otherwise(pl.lit("N")),
        "number_devices_in_event": pl.lit("1"),
        "number_patients_in_event": pl.lit("1"),
        "date_received": _d(pl.col("day")),
        "adverse_event_flag": pl.when(adverse).then(pl.lit("Y")).otherwise(pl.lit("N")),
        "product_problem_flag": pl.when(ev == "M").then(pl.lit("Y")).otherwise(pl.lit("N")),
        "date_report": _d(pl.col("report_day")),
        "date_of_event": _d(pl.col("event_day")),
        "reprocessed_and_reused_flag": pl.lit("N"),
        "reporter_occupation_code": pl.col("occupation"),
        "health_professional": pl.when(pl.col("occupation").is_in(["0LP", "000"]))
        .then(pl.lit("N"))
        .otherwise(pl.lit("Y")),
        "initial_report_to_fda": pl.when(pl.col("report_source_code") == "U")
        .then(pl.lit("Y"))
        .otherwise(pl.lit("N")),
        "date_facility_aware": pl.when(pl.col("report_source_code") == "U")
        .then(_d(pl.col("aware_day")))
        .otherwise(pl.lit("")),
        "report_date": pl.when(pl.col("report_source_code") == "U")
        .then(_d(pl.col("report_day")))
        .otherwise(pl.lit("")),
        "report_to_fda": pl.when(pl.col("report_source_code") == "U")
        .then(pl.lit("Y"))
        .otherwise(pl.lit("")),
        "date_report_to_fda": pl.lit(""),
        "event_location": pl.col("location"),
        "date_report_to_manufacturer": pl.lit(""),
        "manufacturer_contact_t_name": pl.lit(""),
        "manufacturer_contact_f_name": pl.when(pl.col("mfr") < 0)
        .then(pl.lit("SABINE"))
        .otherwise(pl.lit("")),
        "manufacturer_contact_l_name": pl.when(pl.col("mfr") < 0)
        .then(pl.lit("KRAUSE"))
        .otherwise(pl.lit("")),
        "manufacturer_contact_address_1": pl.col("manufacturer_address_1"),
        "manufacturer_contact_city": pl.col("manufacturer_city"),
        "manufacturer_contact_state": pl.col("manufacturer_state"),
        "manufacturer_contact_zip_code": pl.col("manufacturer_zip_code"),
        "manufacturer_contact_country": pl.col("manufacturer_country"),
        "manufacturer_contact_postal_code": pl.col("mfr_postal"),
        "manufacturer_g1_name": pl.col("manufacturer_name"),
        "manufacturer_g1_address_1": pl.col("manufacturer_address_1"),
        "manufacturer_g1_city": pl.col("manufacturer_city"),
        "manufacturer_g1_state": pl.col("manufacturer_state"),
        "manufacturer_g1_zip_code": pl.col("manufacturer_zip_code"),
        "manufacturer_g1_country": pl.col("manufacturer_country"),
        "manufacturer_g1_postal_code": pl.col("mfr_postal"),
        "date_manufacturer_received": pl.when(pl.col("report_source_code") == "M")
        .then(_d(pl.col("aware_day")))
        .otherwise(pl.lit("")),
        "device_date_of_manufacturer": pl.lit(""),
        "single_use_flag": pl.col("single_use"),
        "remedial_action": pl.lit(""),
        "previous_use_code": pl.lit("I"),
        "event_type": ev,
        "report_to_manufacturer": pl.lit(""),
        "manufacturer_name": pl.col("manufacturer_name"),
        "manufacturer_address_1": pl.col("manufacturer_address_1"),
        "manufacturer_city": pl.col("manufacturer_city"),
        "manufacturer_state": pl.col("manufacturer_state"),
        "manufacturer_zip_code": pl.col("manufacturer_zip_code"),
        "manufacturer_country": pl.col("manufacturer_country"),
        "manufacturer_postal_code": pl.col("mfr_postal"),
        "type_of_report": pl.col("followup"),
        "source_type": pl.col("source_type"),
        "date_added": _d(pl.col("day") + pl.col("added_lag")),
        "date_changed": _d(pl.col("day") + pl.col("added_lag")),
        "reporter_country_code": pl.col("reporter_country_code"),
        "pma_pmn_number": pl.col("pma_pmn_number"),
        "summary_report_flag": pl.lit("N"),
        "mfr_report_type": pl.when(pl.col("report_source_code") == "M")
        .then(pl.lit("INITIAL SUBMISSION"))
        .otherwise(pl.lit("")),
        "reporter_state_code": pl.when(pl.col("reporter_country_code") == "US")
        .then(pl.lit("CA"))
        .otherwise(pl.lit("")),
        "noe_summarized": pl.lit("1"),
    }


def _device_values(cat: _Catalog) -> dict[str, pl.Expr]:
    pc = pl.col("pc")
    return {
        "mdr_report_key": pl.lit(" ") + pl.col("mdr_report_key").cast(pl.String) + pl.lit(".0"),
        "device_event_key": pl.col("dev_event_key").cast(pl.String),
        "implant_flag": pc.replace_strict(dict(enumerate(cat.pc_implant)), default="N"),
        "date_removed_flag": pl.lit(""),
        "device_sequence_number": pl.lit("1"),
        "date_received": _d(pl.col("day")),
        "brand_name": pl.col("brand_name"),
        "generic_name": pl.col("generic_name"),
        "manufacturer_d_name": pl.col("manufacturer_name"),
        "manufacturer_d_address_1": pl.col("manufacturer_address_1"),
        "manufacturer_d_city": pl.col("manufacturer_city"),
        "manufacturer_d_state": pl.col("manufacturer_state"),
        "manufacturer_d_zip_code": pl.col("manufacturer_zip_code"),
        "manufacturer_d_country": pl.col("manufacturer_country"),
        "manufacturer_d_postal_code": pl.col("mfr_postal"),
        "model_number": pl.col("model_number"),
        "catalog_number": pl.col("catalog_number"),
        "lot_number": pl.col("lot_number"),
        "other_id_number": pl.col("other_id_number"),
        "device_operator": pl.col("operator"),
        "device_availability": pl.col("availability"),
        "device_report_product_code": pc.replace_strict(dict(enumerate(cat.pc)), default=""),
        "device_evaluated_by_manufacturer": pl.col("evaluated"),
        "udi_di": pl.col("udi_di"),
        "combination_product_flag": pl.lit("N"),
    }


def _write_chunk(files: _Files, df: pl.DataFrame, cat: _Catalog) -> None:
    year = pl.col("day").cast(pl.Int32).cast(pl.Date).dt.year()
    df = df.with_columns(year=year).with_columns(
        layout_kind=pl.when(pl.col("year") > SPLIT_YEAR)
        .then(2)
        .when((pl.col("year") <= OLD_LAYOUT_UNTIL) & (pl.col("old") < 0.5))
        .then(0)
        .otherwise(1)
    )
    mv = _master_values(df, cat)
    dv = _device_values(cat)

    def line(names: tuple[str, ...], values: dict[str, pl.Expr]) -> pl.Expr:
        cols = [
            values.get(layout.canonical_field_name(nm), pl.lit("")).fill_null("") for nm in names
        ]
        return pl.concat_str(cols, separator="|")

    layouts = {  # (master, device) per layout kind: 77/28 fields, 81/45 fields, 86/34 fields
        0: (layout.MDRFOI_COLUMNS_81[:77], layout.FOIDEV_COLUMNS_28),
        1: (layout.MDRFOI_COLUMNS_81, layout.FOIDEV_COLUMNS_45),
        2: (layout.MDRFOI_COLUMNS_86, layout.DEVICE_COLUMNS_34),
    }
    key = pl.col("mdr_report_key").cast(pl.String)
    parts = []
    for kind, (mcols, dcols) in layouts.items():
        part = df.filter(pl.col("layout_kind") == kind)
        if part.height:
            parts.append(
                part.select(
                    "mdr_report_key",
                    "year",
                    line(mcols, mv).alias("master"),
                    line(dcols, dv).alias("device"),
                )
            )
    lines = pl.concat(parts).sort("mdr_report_key")
    other = df.select(
        "mdr_report_key",
        "year",
        pl.concat_str(
            [key, pl.lit("1"), _d(pl.col("day")), pl.lit(""), pl.col("outcome_codes")],
            separator="|",
        ).alias("patient"),
    )
    texts = pl.concat(
        [
            df.select(
                "mdr_report_key",
                "year",
                pl.lit(0).alias("o"),
                pl.concat_str(
                    [
                        key,
                        pl.col("text_key_d").cast(pl.String),
                        pl.lit("D"),
                        pl.lit("1"),
                        pl.lit(""),
                        pl.col("text_d"),
                    ],
                    separator="|",
                ).alias("l"),
            ),
            df.filter(pl.col("has_n")).select(
                "mdr_report_key",
                "year",
                pl.lit(1).alias("o"),
                pl.concat_str(
                    [
                        key,
                        pl.col("text_key_n").cast(pl.String),
                        pl.lit("N"),
                        pl.lit(""),
                        _d(pl.col("report_day")),
                        pl.col("text_n"),
                    ],
                    separator="|",
                ).alias("l"),
            ),
        ]
    ).sort(["mdr_report_key", "o"])
    probs = pl.concat(
        [
            df.select(
                "mdr_report_key",
                pl.lit(0).alias("o"),
                pl.concat_str([key, pl.col("p1").cast(pl.String)], separator="|").alias("l"),
            ),
            df.filter(pl.col("p2") > 0).select(
                "mdr_report_key",
                pl.lit(1).alias("o"),
                pl.concat_str([key, pl.col("p2").cast(pl.String)], separator="|").alias("l"),
            ),
        ]
    ).sort(["mdr_report_key", "o"])

    def upper(cols: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(c.upper() for c in cols)

    text_hdr_new = (
        "MDR_REPORT_KEY",
        "MDR_TEXT_KEY",
        "TEXT_TYPE_CODE",
        "PATIENT_SEQUENCE_NUMBER",
        "DATE_REPORT",
        "FOI_TEXT",
    )
    for yr in sorted(set(df["year"].to_list())):
        old = yr <= SPLIT_YEAR
        suffix = "thru2024" if old else ("" if yr >= 2026 else str(yr))
        sel = pl.col("year") == yr
        part = lines.filter(sel)
        files.write(
            "mdrfoithru2024.txt" if old else "mdrfoi.txt",
            layout.MDRFOI_COLUMNS_81 if old else layout.MDRFOI_COLUMNS_86,
            part["master"],
        )
        files.write(
            f"foidev{suffix}.txt" if old else f"DEVICE{suffix}.txt",
            layout.FOIDEV_COLUMNS_45 if old else layout.DEVICE_COLUMNS_34,
            part["device"],
        )
        files.write(
            f"patient{suffix}.txt",
            layout.PATIENT_COLUMNS if old else upper(layout.PATIENT_COLUMNS),
            other.filter(sel)["patient"],
        )
        files.write(
            f"foitext{suffix}.txt",
            layout.FOITEXT_COLUMNS if old else text_hdr_new,
            texts.filter(sel)["l"],
        )
    files.write("foidevproblem.txt", upper(layout.FOIDEVPROBLEM_COLUMNS), probs["l"])


# --------------------------------------------------------------------------------------------
# openFDA
# --------------------------------------------------------------------------------------------

ENUMS = {
    "event_type": {
        "D": "Death",
        "IN": "Injury",
        "IL": "Injury",
        "IJ": "Injury",
        "M": "Malfunction",
        "O": "Other",
    },
    "report_source_code": {
        "P": "Voluntary report",
        "U": "User Facility report",
        "D": "Distributor report",
        "M": "Manufacturer report",
    },
    "source_type": {
        "00": "Other",
        "01": "Foreign",
        "02": "Study",
        "03": "Literature",
        "04": "Consumer",
        "05": "Health Professional",
        "06": "User facility",
        "07": "Company representation",
        "08": "Distributor",
    },
    "type_of_report": {"I": "Initial submission", "F": "Followup"},
    "outcome": {
        "L": "Life Threatening",
        "H": "Hospitalization",
        "S": "Disability",
        "R": "Required Intervention",
        "O": "Other",
        "D": "Death",
        "A": "Not Applicable",
    },
    "operator": {
        "0HP": "HEALTH PROFESSIONAL",
        "0LP": "LAY USER/PATIENT",
        "001": "PHYSICIAN",
        "002": "NURSE",
        "000": "OTHER",
    },
    "availability": {
        "Y": "Yes",
        "N": "No",
        "R": "Device was returned to manufacturer",
        "*": "No answer provided",
    },
}


def _ymd(d: int) -> str:
    if d is None or d < 0:
        return ""
    import datetime as dt

    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(d))).strftime("%Y%m%d")


def _openfda_record(row: dict, cat: _Catalog) -> dict:
    key = str(row["mdr_report_key"])
    pc_i = int(row["pc"])
    h = int(row["mdr_report_key"])
    outcomes = [p.split(". ")[1] for p in row["outcome_codes"].split("; ") if ". " in p]
    problems = [cat.dpc.get(int(row["p1"]), "")]
    if row["p2"]:
        problems.append(cat.dpc.get(int(row["p2"]), ""))
    device = {
        "device_sequence_number": "1",
        "device_event_key": str(row["dev_event_key"]),
        "date_received": _ymd(row["day"]),
        "brand_name": row["brand_name"],
        "generic_name": row["generic_name"],
        "manufacturer_d_name": row["manufacturer_name"],
        "manufacturer_d_address_1": row["manufacturer_address_1"],
        "manufacturer_d_city": row["manufacturer_city"],
        "manufacturer_d_state": row["manufacturer_state"],
        "manufacturer_d_country": row["manufacturer_country"],
        "manufacturer_d_zip_code": row["manufacturer_zip_code"],
        "model_number": row["model_number"],
        "catalog_number": row["catalog_number"],
        "lot_number": row["lot_number"],
        "other_id_number": row["other_id_number"],
        "device_operator": ENUMS["operator"].get(row["operator"], row["operator"]),
        "device_availability": ENUMS["availability"].get(row["availability"], ""),
        "device_report_product_code": cat.pc[pc_i],
        "device_evaluated_by_manufacturer": row["evaluated"],
        "implant_flag": cat.pc_implant[pc_i],
        "openfda": {}
        if h % 10 == 3
        else {
            "device_name": cat.pc_name[pc_i].title(),
            "medical_specialty_description": cat.pc_spec[pc_i],
            "regulation_number": [cat.pc_reg[pc_i]] if cat.pc_reg[pc_i] else [],
            "device_class": cat.pc_class[pc_i],
            "registration_number": [row["report_number"].split("-")[0]],
            "fei_number": [str(3_000_000_000 + h % 99_999_999)],
        },
    }
    texts = [
        {
            "mdr_text_key": str(row["text_key_d"]),
            "text_type_code": "Description of Event or Problem",
            "patient_sequence_number": "1",
            "date_report": "",
            "text": row["text_d"],
        }
    ]
    if row["has_n"]:
        texts.append(
            {
                "mdr_text_key": str(row["text_key_n"]),
                "text_type_code": "Additional Manufacturer Narrative",
                "patient_sequence_number": "",
                "date_report": _ymd(row["report_day"]),
                "text": row["text_n"],
            }
        )
    ev = row["event_type"]
    pprob = (
        ["Death"]
        if ev == "D"
        else (
            [PATIENT_PROBLEMS[h % 7]]
            if ev in ("IN", "IL", "IJ")
            else ["No Consequences Or Impact To Patient"]
        )
    )
    rec = {
        "mdr_report_key": key,
        "event_key": str(h + 7_000_000),
        "report_number": row["report_number"],
        "report_source_code": ENUMS["report_source_code"][row["report_source_code"]],
        "manufacturer_link_flag": "Y" if row["report_source_code"] == "M" else "N",
        "number_devices_in_event": "1",
        "number_patients_in_event": "1",
        "date_received": _ymd(row["day"]),
        "date_report": _ymd(row["report_day"]),
        "date_of_event": _ymd(row["event_day"]),
        "adverse_event_flag": "Y" if ev in ("D", "IN", "IL", "IJ") else "N",
        "product_problem_flag": "Y" if ev == "M" else "N",
        "event_type": ENUMS["event_type"][ev],
        "manufacturer_name": row["manufacturer_name"],
        "manufacturer_city": row["manufacturer_city"],
        "manufacturer_state": row["manufacturer_state"],
        "manufacturer_country": row["manufacturer_country"],
        "reporter_occupation_code": row["occupation"],
        "source_type": [ENUMS["source_type"].get(s, s) for s in row["source_type"].split(",")],
        "type_of_report": [ENUMS["type_of_report"][s] for s in row["followup"].split(",")],
        "remedial_action": [],
        "single_use_flag": row["single_use"],
        "reprocessed_and_reused_flag": "N",
        "pma_pmn_number": row["pma_pmn_number"],
        "device": [device],
    }
    if h % 13 != 5:
        rec["patient"] = [
            {
                "patient_sequence_number": "1",
                "date_received": _ymd(row["day"]),
                "sequence_number_treatment": [],
                "sequence_number_outcome": [ENUMS["outcome"].get(o, o) for o in outcomes],
                "patient_problems": pprob,
            }
        ]
    if h % 17 != 7:
        rec["mdr_text"] = texts
    if h % 7 != 2:
        rec["product_problems"] = problems
    return rec


def _write_openfda(folder: Path, records: list[dict], cal: Calendar) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    records = sorted(records, key=lambda r: int(r["mdr_report_key"]))
    per_page = 100
    pages = max(1, (len(records) + per_page - 1) // per_page)
    for p in range(pages):
        chunk = records[p * per_page : (p + 1) * per_page]
        page = {
            "meta": {
                "disclaimer": "Do not rely on openFDA to make decisions regarding medical care. "
                "While we make every effort to ensure that data is accurate, you should assume "
                "all results are unvalidated. (Synthetic data generated for testing.)",
                "terms": "https://open.fda.gov/terms/",
                "license": "https://open.fda.gov/license/",
                "last_updated": cal.extract.isoformat(),
                "results": {"skip": p * per_page, "limit": per_page, "total": len(records)},
            },
            "results": chunk,
        }
        (folder / f"device_event_{p + 1:04d}.json").write_text(
            json.dumps(page, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    return pages
