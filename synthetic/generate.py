"""``pms generate``: a deterministic, realistic landing folder with planted ground truth.

    from synthetic.generate import generate_landing, SCALES
    summary = generate_landing(Path("data/landing"), seed=42, scale="demo")

Same seed and scale give byte-identical files: every random draw comes from a named PCG64 stream
of the seed, outputs are sorted, floats have fixed formatting, text is UTF-8 with '\\n' line
ends (MAUDE bulk files: ISO-8859-1, as FDA publishes them).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl

from synthetic import catalog, maude, narratives, service
from synthetic.complaints import (
    BAD_KINDS,
    COMPLAINT_COLUMNS,
    SUPPLEMENTAL_COLUMN,
    CodeTables,
    Complaints,
    choose_bad_rows,
    cid_series,
    hazard_expected_rate,
    plan_signals,
    serial_series,
    simulate,
    supplemental_truth,
    truth_frame,
    version_frame,
)
from synthetic.distribution import Calendar, Portfolio, Supply, build_supply, demand_curve
from synthetic.reference import annex_terms, product_codes
from synthetic.scales import AS_OF, DAILY_FILE_DAYS, EXTRACT_DATE, SCALES, Scale
from synthetic.util import date_of, days_to_iso, fixed, stream, take, write_csv

__all__ = ["SCALES", "generate_landing"]

GENERATOR_VERSION = "1.0"

# the folders and files this generator owns inside the landing folder
_OWNED = (
    "products.csv",
    "risk_register.csv",
    "lots",
    "distribution",
    "complaints",
    "service",
    "maude",
    "openfda",
    "_truth",
)


def generate_landing(out_dir: Path, seed: int, scale: str = "demo") -> dict:
    """Write a complete landing folder into `out_dir` and its ground truth into `_truth/`.

    Returns a small summary: rows written per file kind.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    sc = SCALES[scale]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in _OWNED:  # a previous generation in the same folder is replaced, not merged
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()

    cal = Calendar.build(sc.start)
    pf = Portfolio.build(cal)
    ct = CodeTables.build()
    factor = _units_factor(cal, pf, ct, sc, seed)
    sup = build_supply(cal, pf, sc, seed, factor)
    sig = plan_signals(cal, pf, sup, ct)
    cs = simulate(cal, pf, sup, ct, sig, seed)
    sig.mult = np.zeros(0)  # the multipliers were only needed to draw the complaints
    choose_bad_rows(cs, ct, cal, seed)

    summary: dict[str, int] = {}
    bad_rows: list[dict[str, object]] = []
    summary["products"] = _write_products(out, pf, cal)
    summary["risk_register"] = _write_risk_register(out, pf)
    summary["lots"] = _write_lots(out, sup)
    summary["shipments"] = _write_shipments(out, cal, pf, sup, seed, bad_rows)
    counts, ours = _write_complaints(out, cal, pf, sup, ct, cs, sc, seed, bad_rows)
    summary.update(counts)
    summary["service"] = service.write_service(out, cal, pf, sup, cs, ct, sig, sc, seed, bad_rows)
    del cs  # the complaint arrays are not needed for the MAUDE files (bounded memory)
    m = maude.write_maude(out, cal, pf, sup, ours, sc, seed)
    summary.update(m)

    truth = out / "_truth"
    write_csv(
        pl.DataFrame(sig.rows).select(
            "signal_id",
            "kind",
            "scope",
            "scope_value",
            "code",
            "onset_date",
            pl.Series(fixed(np.array([r["size"] for r in sig.rows]), 2)).alias("size"),
            "description",
        ),
        truth / "signals.csv",
    )
    bad = pl.DataFrame(
        bad_rows,
        schema={"file": pl.String, "row_number": pl.Int64, "column": pl.String, "kind": pl.String},
    )
    write_csv(bad.sort(["file", "row_number"]), truth / "bad_rows.csv")
    summary["bad_rows"] = bad.height
    summary["signals"] = sum(1 for r in sig.rows if r["kind"] != "null")
    gen = {
        "generator": "synthetic.generate",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "scale": scale,
        "start_date": sc.start.isoformat(),
        "extract_date": EXTRACT_DATE.isoformat(),
        "as_of": AS_OF.isoformat(),
        "manufacturer": catalog.MANUFACTURER,
        "fda_registration": catalog.FDA_REGISTRATION,
        "units_factor": round(factor, 6),
        "counts": dict(sorted(summary.items())),
    }
    (truth / "generation.json").write_text(json.dumps(gen, indent=2) + "\n", encoding="utf-8")
    (truth / "README.md").write_text(_truth_readme(sc), encoding="utf-8")
    return dict(sorted(summary.items()))


def _units_factor(cal: Calendar, pf: Portfolio, ct: CodeTables, sc: Scale, seed: int) -> float:
    """Scale shipments so the expected number of baseline complaints meets the scale's target."""
    d = demand_curve(cal, pf, seed)
    uis = np.clip(np.cumsum(d, axis=1) - 0.5 * d, 0, None)
    rate = ct.rate.sum(axis=1)[pf.model_family]
    expected = float((uis * rate[:, None]).sum() / 12000.0)
    return sc.complaints / expected


# --------------------------------------------------------------------------------------------
# master data
# --------------------------------------------------------------------------------------------


def _write_products(out: Path, pf: Portfolio, cal: Calendar) -> int:
    pcs = product_codes()
    rows = []
    for mi, m in enumerate(pf.models):
        f = pf.families[pf.model_family[mi]]
        rows.append(
            {
                "device_model": m.name,
                "device_family": f.name,
                "product_code": m.product_code,
                "eu_class": f.eu_class,
                "us_class": pcs[m.product_code].device_class,
                "implantable": "true" if f.implantable else "false",
                "launch_date": int(pf.launch_day[mi]),
                "description": m.description,
            }
        )
    df = pl.DataFrame(rows).with_columns(launch_date=days_to_iso(pl.col("launch_date")))
    write_csv(df.sort("device_model"), out / "products.csv")
    return df.height


def _write_risk_register(out: Path, pf: Portfolio) -> int:
    rows = []
    for f in pf.families:
        for h in f.hazards:
            rows.append(
                {
                    "hazard_id": h.hazard_id,
                    "device_family": f.name,
                    "hazard": h.hazard,
                    "hazardous_situation": h.situation,
                    "harm": h.harm,
                    "problem_codes": ";".join(h.codes),
                    "health_effect_codes": ";".join(h.effects),
                    "severity": str(h.severity),
                    "expected_rate": hazard_expected_rate(f, h),
                    "acceptability": h.acceptability,
                }
            )
    df = pl.DataFrame(rows)
    df = df.with_columns(expected_rate=fixed(df["expected_rate"].to_numpy(), 2))
    write_csv(df.sort("hazard_id"), out / "risk_register.csv")
    return df.height


def _write_lots(out: Path, sup: Supply) -> int:
    df = sup.lots.with_columns(
        manufacture_date=days_to_iso(pl.col("manufacture_day")),
        expiry_date=days_to_iso(pl.col("expiry_day")),
        quantity=pl.col("quantity").cast(pl.String),
        month=days_to_iso(pl.col("manufacture_day")).str.slice(0, 7),
    ).sort(["manufacture_day", "lot_number"])
    for (month,), part in df.group_by(["month"], maintain_order=True):
        write_csv(
            part.select(
                "lot_number",
                "device_model",
                "manufacture_date",
                "quantity",
                "component_lots",
                "expiry_date",
            ),
            out / "lots" / f"lots_{month}.csv",
        )
    return df.height


def _write_shipments(
    out: Path,
    cal: Calendar,
    pf: Portfolio,
    sup: Supply,
    seed: int,
    bad_rows: list[dict[str, object]],
) -> int:
    names = np.array([m.name for m in pf.models], dtype=object)
    cc = np.array([c[0] for c in catalog.COUNTRIES], dtype=object)
    lots = sup.lots["lot_number"].to_numpy().astype(object)
    s = sup.shipments
    df = pl.DataFrame(
        {
            "ship_day": s["ship_day"].to_numpy(),
            "device_model": names[s["model"].to_numpy()].astype(str),
            "lot_number": lots[s["lot"].to_numpy()].astype(str),
            "country": cc[s["country"].to_numpy()].astype(str),
            "units": s["units"].cast(pl.String),
        }
    ).with_columns(
        ship_date=days_to_iso(pl.col("ship_day")),
        month=days_to_iso(pl.col("ship_day")).str.slice(0, 7),
    )
    cols = ("ship_date", "device_model", "lot_number", "country", "units")
    rng = stream(seed, "bad-shipments")
    parts = dict(iter((k[0], v) for k, v in df.group_by(["month"], maintain_order=True)))
    months = sorted(parts)
    # planted bad rows: two extra shipment lines (not part of the simulated units)
    bad_specs = [
        (months[len(months) // 3], "units", "not_an_integer"),
        (months[(2 * len(months)) // 3], "ship_date", "date_not_iso"),
    ]
    bad_at: dict[str, list[tuple[int, dict[str, str], str, str]]] = {}
    for month, column, kind in bad_specs:
        part = parts[month]
        j = int(rng.integers(0, part.height))
        src = part.row(j, named=True)
        row = {c: str(src[c]) for c in cols}
        if kind == "not_an_integer":
            row["units"] = f"{max(1, int(src['units']))}.5"
        else:
            y, mo, d = row["ship_date"].split("-")
            row["ship_date"] = f"{d}/{mo}/{y}"
        bad_at.setdefault(month, []).append((j + 1, row, column, kind))
    for m in range(cal.n_months):  # a header-only file for a month without shipments
        parts.setdefault(cal.month_label(m), df.clear())
    months = sorted(parts)
    for month in months:
        part = parts[month].select(cols)
        for pos, row, column, kind in sorted(bad_at.get(month, []), key=lambda x: x[0]):
            part = pl.concat([part.slice(0, pos), pl.DataFrame([row]), part.slice(pos)])
            bad_rows.append(
                {
                    "file": f"distribution/shipments_{month}.csv",
                    "row_number": pos + 2,
                    "column": column,
                    "kind": kind,
                }
            )
        write_csv(part, out / "distribution" / f"shipments_{month}.csv")
    return df.height


# --------------------------------------------------------------------------------------------
# complaints
# --------------------------------------------------------------------------------------------


def _write_complaints(
    out: Path,
    cal: Calendar,
    pf: Portfolio,
    sup: Supply,
    ct: CodeTables,
    cs: Complaints,
    sc: Scale,
    seed: int,
    bad_rows: list[dict[str, object]],
) -> tuple[dict[str, int], pl.DataFrame]:
    written: dict[str, int] = {}
    e_terms = annex_terms("E")
    term_vocab = [e_terms.get(c, "").lower() if c.startswith("E") else "" for c in ct.vocab]
    lang = narratives.lang_index([c[3] for c in catalog.COUNTRIES])
    model_names = [m.name for m in pf.models]
    daily_from = cal.extract_day - DAILY_FILE_DAYS + 1
    n_versions = 0
    ours: list[pl.DataFrame] = []
    for ci, start in enumerate(range(0, cs.n, sc.complaint_chunk)):
        idx = np.arange(start, min(cs.n, start + sc.complaint_chunk))
        t_change = cs.t_change[idx]
        inp = narratives.NarrativeInput(
            family=cs.family[idx],
            code_slot=cs.slot[idx],
            new_mode=cs.new_mode[idx],
            source=cs.source[idx],
            outcome0=cs.outcome0[idx],
            outcome_final=cs.outcome[idx],
            escalated=cs.escalated[idx],
            he0_term=take(term_vocab, cs.he0[idx]),
            he_final_term=take(term_vocab, cs.he[idx]),
            model=take(model_names, cs.model[idx]),
            lang=lang[cs.country[idx]],
            serial=serial_series(cs, idx, pf),
            followup_day=cs.rd[idx] + cs.t_triage[idx].astype(np.int64),
            change_day=np.where(
                np.isfinite(t_change), cs.rd[idx] + np.nan_to_num(t_change, posinf=0), -1
            ).astype(np.int64),
        )
        narr = narratives.build(inp, stream(seed, f"narratives-{ci}"))
        vf = version_frame(cs, idx, narr, cal, pf, sup, ct, seed)
        vf = vf.with_columns(
            file=pl.when(pl.col("day_v") >= daily_from)
            .then(pl.lit("complaints_") + days_to_iso(pl.col("day_v")))
            .otherwise(pl.lit("complaints_") + days_to_iso(pl.col("day_v")).str.slice(0, 7))
        ).sort(["day_v", "secs", "complaint_id"])
        for (fname,), part in vf.group_by(["file"], maintain_order=True):
            path = out / "complaints" / f"{fname}.csv"
            done = written.get(fname, 0)
            bad_pos = np.nonzero(part["bad"].to_numpy() >= 0)[0]
            for p in bad_pos:
                col, kind = BAD_KINDS[int(part["bad"][int(p)])]
                bad_rows.append(
                    {
                        "file": f"complaints/{fname}.csv",
                        "row_number": done + p + 2,
                        "column": col,
                        "kind": kind,
                    }
                )
            write_csv(part.select(*COMPLAINT_COLUMNS, SUPPLEMENTAL_COLUMN), path, append=done > 0)
            written[fname] = done + part.height
        n_versions += vf.height

        truth = truth_frame(cs, idx, ct, cal)
        write_csv(truth, out / "_truth" / "reportability.csv", append=ci > 0)
        write_csv(
            supplemental_truth(vf, cal),
            out / "_truth" / "supplemental_reports.csv",
            append=ci > 0,
        )
        pii = (
            narr.pii.with_columns(complaint_id=cid_series(cs, idx[narr.pii["row"].to_numpy()]))
            .select("complaint_id", "pii_type", "text")
            .sort(["complaint_id", "pii_type", "text"])
        )
        write_csv(pii, out / "_truth" / "pii.csv", append=ci > 0)
        ours.append(maude.our_reports(cs, idx, narr, cal, pf, sup, ct))
    # every nightly extract delivers its file, even when nothing changed that day or month
    empty = pl.DataFrame(schema=dict.fromkeys((*COMPLAINT_COLUMNS, SUPPLEMENTAL_COLUMN), pl.String))
    expected = [f"complaints_{cal.month_label(m)}" for m in range(cal.n_months)]
    expected += [
        f"complaints_{date_of(d).isoformat()}" for d in range(daily_from, cal.extract_day + 1)
    ]
    for fname in expected:
        if fname not in written:
            write_csv(empty, out / "complaints" / f"{fname}.csv")
            written[fname] = 0
    counts = {"complaints": cs.n, "complaint_versions": n_versions, "complaint_files": len(written)}
    return counts, pl.concat(ours) if ours else pl.DataFrame()


def _truth_readme(sc: Scale) -> str:
    return TRUTH_README.format(
        start=sc.start.isoformat(),
        extract=EXTRACT_DATE.isoformat(),
        as_of=AS_OF.isoformat(),
        scale=sc.name,
    )


TRUTH_README = """# Ground truth of this synthetic landing folder

Generated by `pms generate` (package `synthetic`), scale `{scale}`: data from {start} up to the
extract of {extract}; the demo run replays the night of {as_of}. Nothing here is read by the
pipeline; it is what the pipeline's output is checked against.

## Files

- `generation.json`: seed, scale, calendar, counts.
- `signals.csv` (`signal_id, kind, scope, scope_value, code, onset_date, size, description`):
  every planted signal, and one `null` row per device family x IMDRF problem code series that
  carries no signal (its baseline rate is at or below the risk register's expected rate).
  - `rate_step`: the family x code rate is multiplied by `size` from `onset_date` on.
  - `drift`: the rate rises linearly from `onset_date` and reaches `size` x baseline in the
    extract month.
  - `bad_lot` (scope `lot`): that lot's rate for `code` is `size` x baseline over its life;
    `onset_date` is its first shipment.
  - `bad_component_lot` (scope `component_lot`, a supplier lot id as in `lots/*.csv`
    `component_lots`): every production lot carrying it has `code` at `size` x baseline; the
    description lists those production lots.
  - `narrative_new_mode`: a failure mode that appears only in the narratives from `onset_date`
    on, coded with generic or unrelated codes; `code` is the topic id, `size` the added rate per
    1,000 units in service per year.
  - `maude_disproportion` (scope `product_code`, `code` an FDA device problem code): reports
    of that product code carry that problem code far more often than all other product codes
    from `onset_date` on; `size` is the target PRR.
  - `service_early_failure` (scope `lot`, `code` an IMDRF Annex G component): serials of that
    lot need repairs of that component after a few hundred usage hours (service records only).
  Rates are complaints per 1,000 units in service per year; units in service = units shipped
  less units returned up to the date (no retirement).
- `reportability.csv` (`complaint_id, regime, reportable, rule, due_date, reported_date,
  status`): the correct reportability of the CURRENT version of every complaint as of the
  extract date (the version with the latest `updated_at` on or before it), one row per regime
  that applies. Complaints whose only row is a planted bad row (see `bad_rows.csv`) are left out.
- `pii.csv` (`complaint_id, pii_type, text`): every personal-data string planted in a
  narrative (`name`, `dob`, `mrn`, `phone`, `email`, `address`, `serial_number`); `text` appears
  verbatim in the `description` of the complaint.
- `bad_rows.csv` (`file, row_number, column, kind`): rows planted for the quality gate; the header
  is row 1. They are never on reportable complaints and are not part of the simulated units.

## Reportability rules used (the oracle)

Day 0 of every clock is the complaint's `received_date`; due dates are calendar days after it.

- Regime `FDA_MDR` (21 CFR 803) applies to every complaint about a device model that is shipped
  to the US (wherever the event happened: Part 803 covers events abroad involving devices
  marketed in the US).
  - `patient_outcome` `death` or `serious_injury` -> rule `FDA_803_50_30D`, due received + 30.
  - `malfunction` = true and the complaint's `problem_code` is mapped (in its family's
    `risk_register.csv` `problem_codes`) to a hazard of severity >= 4 -> `FDA_803_50_30D`,
    due received + 30.
  - otherwise `NOT_REPORTABLE`, empty due date.
- Regime `EU_MDR` (Regulation (EU) 2017/745 Art. 87) applies to events in EEA countries (EU27
  plus IS, LI, NO).
  - `death` -> `EU_87_5_10D`, due received + 10.
  - `serious_injury` -> `EU_87_3_15D`, due received + 15.
  - malfunction mapped to a severity >= 4 hazard (as above) -> `EU_87_3_15D`, due received + 15.
  - otherwise `NOT_REPORTABLE`.
- A complaint whose current version has no `problem_code` yet can only be reportable through
  its outcome. `unknown` outcomes count as neither death nor serious injury. Voluntary
  malfunction summary reporting, 5-day reports and trend reports are not modelled here.
- `status`: `not_reportable`; `submitted_on_time` (`reported_date` <= due date);
  `submitted_late` (`reported_date` > due date); `overdue` (no `reported_date` and the extract
  date is after the due date); `open` (no `reported_date`, due date not passed).
- One `reported_date` serves every regime of a complaint (the firm files to all authorities the
  same day); `regulatory_report_id` is the FDA MDR report number (`{{registration}}-YYYY-NNNNN`, the
  `report_number` of the firm's MAUDE record) when FDA_MDR applies, else an EU MIR reference,
  else a local authority reference (MHRA, SMC, TITCK, HC, TGA, PMDA).
"""
