"""Field-service records for serialised capital equipment (pumps, handheld oximeters, chairs).

A sample of serials is followed from installation: preventive maintenance or inspections about
yearly, occasional repairs, a firmware field upgrade for the volumetric pumps, and repairs that
follow a complaint (``related_complaint_id``). One lot's serials fail early (a planted cohort).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from synthetic import catalog
from synthetic.complaints import CodeTables, Complaints, Signals, cid_series, serial_series
from synthetic.distribution import Calendar, Portfolio, Supply
from synthetic.reference import annex_terms
from synthetic.scales import Scale
from synthetic.util import choose_from_groups, day, days_to_iso, fixed, stream, write_csv

SERVICE_COLUMNS = (
    "service_id",
    "serial_number",
    "device_model",
    "service_date",
    "service_type",
    "failure_found",
    "component_code",
    "part_number",
    "description",
    "related_complaint_id",
    "usage_hours",
)

FAILURE_COMPONENTS = {
    "Infusa": (
        "G02002",
        "G04090",
        "G0204002",
        "G0201402",
        "G0301204",
        "G04135",
        "G04070",
        "G0405206",
        "G02005",
    ),
    "OxiSense": ("G0301205", "G02002", "G0201402", "G04070", "G0600101"),
    "Stride": ("G06004", "G04140", "G04022", "G04050", "G04011", "G04139"),
}
PM_TYPE = {
    "Infusa": "preventive_maintenance",
    "OxiSense": "preventive_maintenance",
    "Stride": "inspection",
}
REPAIRS_PER_YEAR = {"Infusa": 0.15, "OxiSense": 0.10, "Stride": 0.20}
SOFTWARE = ("G0200804", "G02008", "G0200803", "G0200802")
UPGRADE = {
    "models": ("Infusa VP300", "Infusa VP350"),
    "from": "2025-05-15",
    "to": "2025-09-30",
    "share": 0.7,
}

TEXTS = {
    "installation": (
        "Installation and acceptance test passed.",
        "Installed, drug library loaded, user training done.",
        "Delivered and set up; SN verified against order.",
        "Commissioning completed, electrical safety test passed.",
    ),
    "preventive_maintenance": (
        "Annual PM performed per service manual, all tests passed.",
        "PM: accuracy within spec, battery capacity {cap}%.",
        "PM done, occlusion pressure test ok.",
        "Scheduled maintenance, seals and door latch checked.",
    ),
    "inspection": (
        "Safety inspection ok.",
        "Yearly inspection: brakes adjusted, tyres ok.",
        "Inspection done, castor bearings greased.",
        "Inspection: no defects found.",
    ),
    "repair": (
        "Replaced {comp} ({pn}).",
        "Unit failed self-test, replaced {comp}.",
        "Customer reported fault, found {comp} defective, replaced.",
        "Worn {comp} exchanged; function test passed.",
    ),
    "repair_ok": (
        "Customer reported fault, could not reproduce; unit tested ok.",
        "No fault found, returned to service.",
    ),
    "upgrade": (
        "Software upgraded to v4.2.1 (field action FA-2025-03).",
        "Firmware update applied per field safety notice.",
    ),
    "software": (
        "Software fault confirmed, {comp} reinstalled and updated to v4.2.1.",
        "Error log reviewed, {comp} re-flashed; function test passed.",
    ),
    "finding": (
        "PM: {comp} worn, replaced preventively ({pn}).",
        "Inspection found {comp} out of tolerance, adjusted.",
    ),
}


def _part_number(fi: int, comp: str) -> str:
    if catalog.FAMILIES[fi].name == "Infusa" and comp == catalog.EARLY_FAILURE["component"]:
        return str(catalog.EARLY_FAILURE["part"])
    h = sum(ord(c) * (i + 1) for i, c in enumerate(comp)) + 97 * fi
    return f"PN-{(fi + 1) * 1000 + h % 1000:04d}-{(h * 7919) % 9000 + 1000:04d}"


def write_service(
    out: Path,
    cal: Calendar,
    pf: Portfolio,
    sup: Supply,
    cs: Complaints,
    ct: CodeTables,
    sig: Signals,
    sc: Scale,
    seed: int,
    bad_rows: list[dict[str, object]],
) -> int:
    rng = stream(seed, "service")
    fam_names = [f.name for f in pf.families]
    serviced = np.array([m.serviced for m in pf.models])
    model_names = np.array([m.name for m in pf.models], dtype=object)
    prefix = np.array([m.prefix for m in pf.models], dtype=object)
    hpd_range = np.array(
        [pf.families[pf.model_family[i]].usage_hours_per_day for i in range(len(pf.models))]
    )

    # ---- complaint-linked repairs -----------------------------------------------------------
    elig = np.nonzero(serviced[cs.model] & cs.malfunction & (cs.serial_no >= 0) & (cs.source != 4))[
        0
    ]
    p_link = min(0.3, 0.2 * sc.service_records / max(1, elig.size))
    link = elig[rng.random(elig.size) < p_link]
    link_day = cs.rd[link] + rng.integers(2, 26, link.size)
    keep = link_day <= cal.extract_day
    link, link_day = link[keep], link_day[keep]

    # ---- sampled serials ---------------------------------------------------------------------
    budget = max(0, sc.service_records - link.size)
    lots = np.nonzero(serviced[sup.lot_model])[0]
    early = sig.early_lot
    n_early = (
        int(min(sup.lot_quantity[early], max(15, 0.02 * sc.service_records))) if early >= 0 else 0
    )
    n_serials = max(1, int(budget / 2.3) - n_early)
    w = sup.lot_quantity[lots].astype(float)
    pick_lot = lots[
        np.searchsorted(np.cumsum(w / w.sum()), rng.random(n_serials), side="right").clip(
            0, lots.size - 1
        )
    ]
    lot = np.r_[pick_lot, np.full(n_early, early)]
    is_early = np.r_[np.zeros(n_serials, bool), np.ones(n_early, bool)]
    offset = np.floor(rng.random(lot.size) * sup.lot_quantity[lot]).astype(np.int64)
    if n_early:  # distinct serials in the early cohort
        offset[-n_early:] = rng.choice(sup.lot_quantity[early], n_early, replace=False)
    serial_no = sup.lot_serial_start[lot] + offset
    model = sup.lot_model[lot]
    fam = pf.model_family[model]
    install = sup.lot_first_ship[lot] + rng.integers(3, 45, lot.size)
    hpd = hpd_range[model, 0] + rng.random(lot.size) * (hpd_range[model, 1] - hpd_range[model, 0])
    alive = install <= cal.extract_day
    lot, is_early, serial_no, model, fam, install, hpd = (
        a[alive] for a in (lot, is_early, serial_no, model, fam, install, hpd)
    )
    n = lot.size
    serial = (
        (
            pl.Series(prefix[model].astype(str))
            + "-"
            + pl.Series(serial_no).cast(pl.String).str.zfill(8)
        )
        .to_numpy()
        .astype(object)
    )

    recs: list[dict[str, np.ndarray]] = []

    def add(
        i: np.ndarray,
        d: np.ndarray,
        typ: str,
        failure: np.ndarray,
        comp: np.ndarray,
        text_key: np.ndarray,
        related: np.ndarray | None = None,
        hours: np.ndarray | None = None,
    ) -> None:
        ok = d <= cal.extract_day
        if related is None:
            related = np.full(i.size, "", dtype=object)
        if hours is None:
            hours = np.maximum(0.0, (d - install[i]) * hpd[i] * 0.85)
        recs.append(
            {
                "serial": serial[i][ok],
                "model": model[i][ok],
                "fam": fam[i][ok],
                "day": d[ok],
                "type": np.full(int(ok.sum()), typ, dtype=object),
                "failure": failure[ok],
                "comp": comp[ok],
                "text": text_key[ok],
                "related": related[ok],
                "hours": hours[ok],
            }
        )

    all_i = np.arange(n)
    add(
        all_i,
        install,
        "installation",
        np.zeros(n, bool),
        np.full(n, "", dtype=object),
        np.full(n, "installation", dtype=object),
        hours=np.zeros(n),
    )
    # yearly PM / inspection
    years = np.floor((cal.extract_day - install) / 365.0).astype(np.int64)
    years = np.maximum(years, 0)
    si = np.repeat(all_i, years)
    k = np.arange(si.size) - np.repeat(np.r_[0, np.cumsum(years)[:-1]], years) + 1
    pm_day = install[si] + k * 365 + rng.integers(-30, 31, si.size)
    stride_skip = (np.array([fam_names[f] for f in fam[si]], dtype=object) == "Stride") & (
        rng.random(si.size) < 0.6
    )
    si, pm_day = si[~stride_skip], pm_day[~stride_skip]
    pm_typ = np.array([PM_TYPE[fam_names[f]] for f in fam[si]], dtype=object)
    finding = rng.random(si.size) < 0.08
    comp_pm = _components(rng, fam[si], fam_names)
    for typ in ("preventive_maintenance", "inspection"):
        m = pm_typ == typ
        add(
            si[m],
            pm_day[m],
            typ,
            finding[m],
            np.where(finding[m], comp_pm[m], ""),
            np.where(finding[m], "finding", typ),
        )
    # random repairs
    rate = np.array([REPAIRS_PER_YEAR[fam_names[f]] for f in fam])
    n_rep = rng.poisson(rate * np.maximum(0, cal.extract_day - install) / 365.0)
    ri = np.repeat(all_i, n_rep)
    rep_day = install[ri] + np.floor(
        rng.random(ri.size) * (cal.extract_day - install[ri] + 1)
    ).astype(np.int64)
    found = rng.random(ri.size) < 0.85
    comp_r = _components(rng, fam[ri], fam_names)
    add(
        ri,
        rep_day,
        "repair",
        found,
        np.where(found, comp_r, ""),
        np.where(found, np.where(np.isin(comp_r, SOFTWARE), "software", "repair"), "repair_ok"),
    )
    # early-failure cohort: motor repairs after a few hundred hours
    ei = np.nonzero(is_early)[0]
    e_hours = rng.uniform(20.0, 400.0, ei.size)
    e_day = install[ei] + np.ceil(e_hours / (hpd[ei] * 0.85)).astype(np.int64)
    add(
        ei,
        e_day,
        "repair",
        np.ones(ei.size, bool),
        np.full(ei.size, catalog.EARLY_FAILURE["component"], dtype=object),
        np.full(ei.size, "early", dtype=object),
        hours=e_hours,
    )
    second = ei[rng.random(ei.size) < 0.3]
    s_hours = rng.uniform(300.0, 900.0, second.size)
    add(
        second,
        install[second] + np.ceil(s_hours / (hpd[second] * 0.85)).astype(np.int64),
        "repair",
        np.ones(second.size, bool),
        np.full(second.size, catalog.EARLY_FAILURE["component"], dtype=object),
        np.full(second.size, "early", dtype=object),
        hours=s_hours,
    )
    # firmware field upgrade
    up_models = [pf.model_index(m) for m in UPGRADE["models"]]
    u0, u1 = day(UPGRADE["from"]), day(UPGRADE["to"])
    ui = np.nonzero(
        np.isin(model, up_models) & (install < u0) & (rng.random(n) < UPGRADE["share"])
    )[0]
    add(
        ui,
        u0 + rng.integers(0, u1 - u0 + 1, ui.size),
        "upgrade",
        np.zeros(ui.size, bool),
        np.full(ui.size, "G0200804", dtype=object),
        np.full(ui.size, "upgrade", dtype=object),
    )

    # complaint-linked repairs (serials outside the sample)
    lm = cs.model[link]
    lf = pf.model_family[lm]
    lhpd = hpd_range[lm].mean(axis=1)
    l_hours = np.maximum(1.0, (link_day - sup.lot_first_ship[cs.lot[link]] - 20) * lhpd * 0.85)
    lfound = rng.random(link.size) < 0.85
    comp_text = np.array(ct.vocab, dtype=object)[cs.component[link]]
    lcomp = np.where(comp_text != "", comp_text, _components(rng, lf, fam_names))
    recs.append(
        {
            "serial": serial_series(cs, link, pf).to_numpy().astype(object),
            "model": lm,
            "fam": lf,
            "day": link_day,
            "type": np.full(link.size, "repair", dtype=object),
            "failure": lfound,
            "comp": np.where(lfound, lcomp, ""),
            "text": np.where(
                lfound, np.where(np.isin(lcomp, SOFTWARE), "software", "linked"), "repair_ok"
            ),
            "related": cid_series(cs, link).to_numpy().astype(object),
            "hours": l_hours,
        }
    )

    df = pl.DataFrame({k: np.concatenate([r[k] for r in recs]) for k in recs[0]})
    df = df.with_columns(pl.col("serial", "type", "comp", "text", "related").cast(pl.String))
    df = df.sort(["day", "serial", "type", "related", "comp", "hours"], maintain_order=True)
    m = df.height
    e_terms = {k: v.lower() for k, v in annex_terms("G").items()}
    keys = df["text"].to_numpy().astype(object)
    tmpl = _texts(rng, keys)
    comp = df["comp"].to_numpy().astype(object)
    fam_arr = df["fam"].to_numpy()
    pn = np.array(
        [_part_number(int(f), c) if c else "" for f, c in zip(fam_arr, comp, strict=True)],
        dtype=object,
    )
    comp_term = np.array([e_terms.get(c, "component") for c in comp], dtype=object)
    desc = (
        pl.DataFrame(
            {
                "t": tmpl.astype(str),
                "c": comp_term.astype(str),
                "p": pn.astype(str),
                "r": df["related"],
                "cap": rng.integers(78, 100, m).astype(str),
            }
        )
        .select(
            pl.col("t")
            .str.replace_all("{comp}", pl.col("c"), literal=True)
            .str.replace_all("{pn}", pl.col("p"), literal=True)
            .str.replace_all("{cap}", pl.col("cap"), literal=True)
            .str.replace_all("{cid}", pl.col("r"), literal=True)
        )
        .to_series()
    )
    out_df = pl.DataFrame(
        {
            "service_id": (
                pl.Series(["SRV-"] * m)
                + pl.Series(np.arange(1, m + 1)).cast(pl.String).str.zfill(7)
            ),
            "serial_number": df["serial"],
            "device_model": model_names[df["model"].to_numpy()].astype(str),
            "day": df["day"],
            "service_type": df["type"],
            "failure_found": np.where(df["failure"].to_numpy(), "true", "false"),
            "component_code": df["comp"],
            "part_number": pn.astype(str),
            "description": desc,
            "related_complaint_id": df["related"],
            "usage_hours": fixed(df["hours"].to_numpy(), 1),
        }
    ).with_columns(
        service_date=days_to_iso(pl.col("day")), month=days_to_iso(pl.col("day")).str.slice(0, 7)
    )

    months = sorted(set(out_df["month"].to_list()))
    bad_specs = [
        (months[len(months) // 2], "service_type", "unknown_service_type"),
        (months[(3 * len(months)) // 4], "usage_hours", "not_a_number"),
    ]
    bad_at: dict[str, list[tuple[int, dict[str, str], str, str]]] = {}
    for bi, (month, column, kind) in enumerate(bad_specs):
        part = out_df.filter(pl.col("month") == month)
        j = int(rng.integers(0, part.height))
        src = part.row(j, named=True)
        row = {c: ("" if src[c] is None else str(src[c])) for c in SERVICE_COLUMNS}
        row["service_id"] = f"SRV-X{bi + 1:06d}"
        row["related_complaint_id"] = ""
        if kind == "unknown_service_type":
            row["service_type"] = "calibration"
            row["failure_found"] = "false"
        else:
            row["usage_hours"] = "n/a"
        bad_at.setdefault(month, []).append((j + 1, row, column, kind))
    parts = {k[0]: v for k, v in out_df.group_by(["month"], maintain_order=True)}
    for mi in range(cal.n_months):  # a header-only file for a month without service records
        parts.setdefault(cal.month_label(mi), out_df.clear())
    for month in sorted(parts):
        part = parts[month].select(SERVICE_COLUMNS)
        for pos, row, column, kind in sorted(bad_at.get(month, []), key=lambda x: x[0]):
            part = (
                pl.concat([part, pl.DataFrame([row])])
                if pos >= part.height
                else pl.concat([part.slice(0, pos), pl.DataFrame([row]), part.slice(pos)])
            )
            bad_rows.append(
                {
                    "file": f"service/service_{month}.csv",
                    "row_number": pos + 2,
                    "column": column,
                    "kind": kind,
                }
            )
        write_csv(part, out / "service" / f"service_{month}.csv")
    return m


def _components(rng: np.random.Generator, fam: np.ndarray, fam_names: list[str]) -> np.ndarray:
    groups = [FAILURE_COMPONENTS.get(name, ("G07002",)) for name in fam_names]
    return choose_from_groups(rng, fam, groups)


def _texts(rng: np.random.Generator, keys: np.ndarray) -> np.ndarray:
    names = sorted(TEXTS)
    groups = [TEXTS[k] for k in names]
    special = {
        "linked": (
            "Repair after complaint {cid}: {comp} replaced ({pn}).",
            "Complaint {cid}: {comp} found defective and replaced.",
            "Service call for complaint {cid}; replaced {comp}.",
        ),
        "early": (
            "Pumping mechanism motor stalls, replaced motor assembly {pn}.",
            "Motor current too high at self-test, motor assembly {pn} exchanged.",
            "Pump stops with mechanism error; {comp} replaced ({pn}).",
        ),
    }
    for k, v in special.items():
        names.append(k)
        groups.append(v)
    idx = np.searchsorted(np.array(names[: len(TEXTS)]), keys)
    for j, k in enumerate(special):
        idx = np.where(keys == k, len(TEXTS) + j, idx)
    return choose_from_groups(rng, idx, groups)
