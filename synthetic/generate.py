"""``pms generate``: a deterministic, realistic landing folder with planted ground truth.

    from synthetic.generate import generate_landing, SCALES
    summary = generate_landing(Path("data/landing"), seed=42, scale="demo")
    generate_landing(Path("data/migrated"), seed=42, world="migrated")  # synthetic/worlds.py

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

from synthetic import catalog, maude, narratives, service, vigilance_truth
from synthetic.complaints import (
    BAD_KINDS,
    COMPLAINT_COLUMNS,
    EXTRA_COLUMNS,
    CodeTables,
    Complaints,
    choose_bad_rows,
    cid_series,
    hazard_expected_rate,
    keep_complaints,
    plan_signals,
    serial_series,
    simulate,
    version_frame,
)
from synthetic.distribution import Calendar, Portfolio, Supply, build_supply, demand_curve
from synthetic.psur_inputs import write_psur_inputs
from synthetic.reference import annex_terms, product_codes
from synthetic.scales import AS_OF, DAILY_FILE_DAYS, EXTRACT_DATE, SCALES, Scale
from synthetic.util import date_of, days_to_iso, fixed, stream, take, write_csv
from synthetic.vigilance_plant import write_vigilance
from synthetic.worlds import (
    WORLDS,
    World,
    get_world,
    kept_complaints,
    recode_problem_codes,
    shift_months,
)

__all__ = ["SCALES", "WORLDS", "generate_landing"]

GENERATOR_VERSION = "2.0"

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
    "submissions",
    "determinations",
    "fsca",
    "capa",
    "psur_inputs",
    "_truth",
)


def generate_landing(
    out_dir: Path, seed: int, scale: str = "demo", world: str = "baseline"
) -> dict:
    """Write a complete landing folder into `out_dir` and its ground truth into `_truth/`.

    `world` names one of synthetic/worlds.py `WORLDS` (the structure of the data and the signals
    planted in it); `baseline` is the generator's reference world. Returns a small summary: rows
    written per file kind.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    wd = get_world(world)
    sc = SCALES[scale]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in _OWNED:  # a previous generation in the same folder is replaced, not merged
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()

    # the installed base may start before the complaint extract does (a migrated system)
    cal = Calendar.build(shift_months(sc.start, -wd.installed_base_months), sc.start)
    pf = Portfolio.build(cal, wd)
    ct = CodeTables.build()
    factor = _units_factor(cal, pf, ct, sc, seed, wd)
    sup = build_supply(cal, pf, sc, seed, factor, wd)
    sig = plan_signals(cal, pf, sup, ct, wd)
    cs = simulate(cal, pf, sup, ct, sig, seed, wd)
    cs = keep_complaints(cs, kept_complaints(cs.rd, cal.complaint_start_day, wd.missing_month))
    sig.mult = np.zeros(0)  # the multipliers were only needed to draw the complaints
    choose_bad_rows(cs, ct, cal, seed)

    summary: dict[str, int] = {}
    bad_rows: list[dict[str, object]] = []
    summary["products"] = _write_products(out, pf, cal)
    summary["risk_register"] = _write_risk_register(out, pf)
    summary["lots"] = _write_lots(out, sup)
    summary["shipments"] = _write_shipments(out, cal, pf, sup, seed, bad_rows)
    counts, ours, versions = _write_complaints(out, cal, pf, sup, ct, cs, sc, seed, bad_rows, wd)
    summary.update(counts)
    summary["service"] = service.write_service(out, cal, pf, sup, cs, ct, sig, sc, seed, bad_rows)
    summary.update(write_vigilance(out, cal, pf, cs, sig.rows, versions, seed))
    del versions
    del cs  # the complaint arrays are not needed for the MAUDE files (bounded memory)
    m = maude.write_maude(out, cal, pf, sup, ours, sc, seed, wd)
    summary.update(m)
    # the PSUR registers and texts, from their own random streams; their counts stay out of
    # generation.json, so every file written before them keeps its bytes
    psur = write_psur_inputs(out, pf, sup, sig.rows, seed)

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
    # the vigilance truth: computed from the landing files just written, by independent code
    flags = vigilance_truth.write_truth(out, AS_OF)
    summary["vigilance_truth_rows"] = flags
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
    if wd.name != "baseline":  # the baseline's files stay as they always were
        gen["world"] = wd.name
        _write_world(truth, wd, sc, pf, sup, sig.rows)
    (truth / "generation.json").write_text(json.dumps(gen, indent=2) + "\n", encoding="utf-8")
    (truth / "README.md").write_text(_truth_readme(sc, wd), encoding="utf-8")
    return dict(sorted({**summary, **psur}.items()))


def _write_world(
    truth: Path,
    wd: World,
    sc: Scale,
    pf: Portfolio,
    sup: Supply,
    sig_rows: list[dict[str, object]],
) -> None:
    """`_truth/world.json`: the world's name, description and structural facts, with what the
    generation made of them (units shipped per family, first shipment per family, the planted
    signals' ids)."""
    s = sup.shipments.filter(pl.col("units") > 0)
    fam = pf.model_family[s["model"].to_numpy()]
    names = [f.name for f in pf.families]
    units = np.bincount(fam, weights=s["units"].to_numpy(), minlength=len(names))
    first = {
        names[int(f)]: date_of(int(d)).isoformat()
        for f, d in pl.DataFrame({"f": fam, "d": s["ship_day"].to_numpy()})
        .group_by("f")
        .agg(pl.col("d").min())
        .sort("f")
        .iter_rows()
    }
    facts = {
        "world": wd.name,
        "description": wd.description,
        "structure": wd.structure(sc.start),
        "units_shipped_by_family": {n: int(u) for n, u in zip(names, units, strict=True)},
        "first_shipment_by_family": first,
        "planted_signals": [
            {"signal_id": r["signal_id"], "kind": r["kind"], "scope_value": r["scope_value"]}
            for r in sig_rows
            if r["kind"] != "null"
        ],
    }
    if wd.lot_sizes:
        q = sup.lots["quantity"].to_numpy()
        facts["lot_quantity"] = {
            "min": int(q.min()),
            "median": float(np.median(q)),
            "max": int(q.max()),
        }
    (truth / "world.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")


def _units_factor(
    cal: Calendar, pf: Portfolio, ct: CodeTables, sc: Scale, seed: int, wd: World
) -> float:
    """Scale shipments so the expected number of baseline complaints in the complaint extract
    (from its first month on) meets the scale's target."""
    d = demand_curve(cal, pf, seed, wd)
    uis = np.clip(np.cumsum(d, axis=1) - 0.5 * d, 0, None)
    rate = ct.rate.sum(axis=1)[pf.model_family]
    uis = uis[:, cal.complaint_start_month :]
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
                "ca_class": catalog.CA_CLASS[f.name],
                # optional PSUR facts (README "Inputs for the PSUR"); a Basic UDI-DI per model
                "manufacturer": catalog.PSUR_MANUFACTURER,
                "srn": catalog.PSUR_SRN,
                "basic_udi_di": f"4260048{mi:03d}{f.name[:3].upper()}",
                **{
                    k: catalog.PSUR_FACTS[f.name].get(k, "")
                    for k in (
                        "notified_body",
                        "certificate",
                        "intended_purpose",
                        "emdn_code",
                        "uses_per_unit_year",
                    )
                },
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
    wd: World,
) -> tuple[dict[str, int], pl.DataFrame, pl.DataFrame]:
    """Complaint files, the MAUDE records of the firm's own reports, and per version what the
    submissions need (complaint index, day, new information, supplemental report day)."""
    recoded_models: list[str] = []
    if wd.recoding is not None:
        fi = pf.family_index(wd.recoding.family)
        recoded_models = [m.name for m in pf.families[fi].models]
    written: dict[str, int] = {}
    infos: list[pl.DataFrame] = []
    e_terms = annex_terms("E")
    term_vocab = [e_terms.get(c, "").lower() if c.startswith("E") else "" for c in ct.vocab]
    lang = narratives.lang_index([c[3] for c in catalog.EVENT_COUNTRIES])
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
        vf = recode_problem_codes(vf, wd.recoding, recoded_models)
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
            write_csv(part.select(*COMPLAINT_COLUMNS, *EXTRA_COLUMNS), path, append=done > 0)
            written[fname] = done + part.height
        n_versions += vf.height

        infos.append(vf.select("ci", "k", "day_v", "new_info", "sup_day"))
        pii = (
            narr.pii.with_columns(complaint_id=cid_series(cs, idx[narr.pii["row"].to_numpy()]))
            .select("complaint_id", "pii_type", "text")
            .sort(["complaint_id", "pii_type", "text"])
        )
        write_csv(pii, out / "_truth" / "pii.csv", append=ci > 0)
        ours.append(maude.our_reports(cs, idx, narr, cal, pf, sup, ct))
    # every nightly extract delivers its file, even when nothing changed that day or month
    empty = pl.DataFrame(schema=dict.fromkeys((*COMPLAINT_COLUMNS, *EXTRA_COLUMNS), pl.String))
    first_month = cal.complaint_start_month  # no files before the complaint system's first day
    expected = [f"complaints_{cal.month_label(m)}" for m in range(first_month, cal.n_months)]
    expected += [
        f"complaints_{date_of(d).isoformat()}" for d in range(daily_from, cal.extract_day + 1)
    ]
    for fname in expected:
        if fname not in written:
            write_csv(empty, out / "complaints" / f"{fname}.csv")
            written[fname] = 0
    counts = {"complaints": cs.n, "complaint_versions": n_versions, "complaint_files": len(written)}
    info = pl.concat(infos).sort("ci", "k")
    return counts, pl.concat(ours) if ours else pl.DataFrame(), info


def _truth_readme(sc: Scale, wd: World) -> str:
    text = TRUTH_README.format(
        start=sc.start.isoformat(),
        extract=EXTRACT_DATE.isoformat(),
        as_of=AS_OF.isoformat(),
        scale=sc.name,
    )
    if wd.name == "baseline":
        return text
    return text + WORLD_README.format(name=wd.name, description=wd.description)


WORLD_README = """
## World `{name}`

{description}

`world.json` holds its structural facts (dates, families, codes, amplitudes) and what the
generation made of them; `signals.csv` holds the signals planted in this world (possibly none)
and its null series. docs/worlds.md says what the detectors should and should not do here.
"""


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
- `reportability.csv` (`complaint_id, regime, report_kind, rule, day_zero, due_date, status`;
  ISO dates, empty when there is none; sorted by complaint_id, regime, report_kind, day_zero):
  the expected `marts.vigilance_flags` of the night {as_of}, computed after the folder was
  written, from the folder's own files only (products, risk register, shipments, complaint
  versions, `submissions/`, `determinations/`) by `synthetic/vigilance_truth.py`, which
  implements `docs/vigilance.md` and the law it cites and shares no code with the pipeline.
  `complaint_id` is a complaint id, or a determination's subject (a complaint, lot, device
  model or family). Its report kinds:
  - `initial`: one per complaint and regime that applies - `FDA_MDR`, `EU_MDR`, `HC_CMDR`;
    `NONE_ENCODED` (rule `ASSESS_LOCALLY`, no due date) where no encoded regime covers the
    event, in addition to any FDA row; `CLINICAL_STUDY` (rule `SAE_PER_PROTOCOL`, no due date)
    alone for `source = clinical_study`. Decided by the complaint's own criteria only. Rule
    `NOT_REPORTABLE` (status `not_reportable`, no dates) when no individual rule applies; EU
    trend-routed complaints (`EU_88_TREND`) are written as `NOT_REPORTABLE`.
  - `supplemental` (`FDA_MDR`, rule `FDA_803_56_30D`, 21 CFR 803.56): one per day a version
    brings new information (a change of a Form 3500A fact) after any submission to FDA; day 0
    that day, due 30 days later.
  - `five_day` (`FDA_MDR`, rule `FDA_803_53_5D`, 21 CFR 803.53): one per
    `remedial_action_required` or `fda_request` determination (the latest of its kind and
    subject on or before the night, value `yes`); day 0 its `decided_on`, due 5 US federal
    work days later.
  - `public_health_threat` (`EU_MDR`, rule `EU_87_4_2D`, MDR Art. 87(4)): one per
    `serious_public_health_threat` determination (latest of its kind and subject, `yes`); due
    2 days after `decided_on`.
  - `foreign_risk_notice` (`HC_CMDR`, rule `HC_CMDR_61_2_72H`, SOR/98-282 s. 61.2): one per
    `fsca_decision` = `yes` whose subject covers a model of Canadian class II-IV (or unknown)
    sold in Canada by the decision; due 3 days after `decided_on`.
  The three determination kinds are rows of their own on the determination's subject, never
  folded into a complaint's `initial` row; when the subject is a complaint, the `five_day` or
  `public_health_threat` row exists only if FDA (or the EU) applies to it. Complaints whose
  rows are planted bad rows, or whose device model is unknown, are left out (they go to
  quarantine). Settings: the pipeline's defaults (`fda_vmsr_participant = false`,
  `fda_similar_device = "product_code"`, `legacy_reported_date_satisfies` empty,
  `life_supporting_families = ["Cardiolink"]`, no essential-function codes).
- `pii.csv` (`complaint_id, pii_type, text`): every personal-data string planted in a
  narrative (`name`, `dob`, `mrn`, `phone`, `email`, `address`, `serial_number`); `text` appears
  verbatim in the `description` of the complaint.
- `bad_rows.csv` (`file, row_number, column, kind`): rows planted for the quality gate; the header
  is row 1. They are never on reportable complaints and are not part of the simulated units.

## How the truth decides (a summary of docs/vigilance.md)

- Awareness of a version: `received_date` for the first, the date of `updated_at` for later
  ones. Per criterion (`death`, `serious_injury`, `serious_deterioration` = serious injury or
  `hospitalised`, `unanticipated_serious_deterioration` = a serious deterioration whose health
  effect the family's risk register does not list, `serious_malfunction` = a malfunction of a
  severity 4-5 hazard code (IMDRF codes match hierarchically), of an implant, of a
  life-supporting family, or of a type (family, code) that a complaint known by then shows
  caused a death or serious injury), day 0 is the first version that meets it, moved back over
  an unbroken run of versions just before it in which it was in doubt (`unknown` or empty
  outcome; a malfunction without a reason and with an empty or unregistered code; for FDA and
  Health Canada, `serious_injury` when hospitalised with a lesser outcome). A later
  version that lowers the outcome does not end an arisen obligation.
- Scope: FDA for events in the US and its territories, and abroad when a model of the same
  product code was shipped to the US or a territory on or before receipt; EU for EEA events
  (the EU 27 with their outermost regions, AX, IS, LI, NO, XI; authority `EU:<member state>`,
  an outermost region such as `RE` reporting to `EU:FR`) with a model made available there
  (shipped to an EEA country on or before receipt, or unknown to the shipment data); Health
  Canada for events in Canada with a model sold there (judged alike), and for events abroad
  with a `ca_class` I (or unknown) model sold in Canada once an `fsca_decision` = `yes` covers
  the complaint (its id, lot, model or family), only when serious or in doubt (s. 59(2): the
  clocks run from the later of day 0 and the decision); `NONE_ENCODED` where no encoded regime
  covers the event (in addition to FDA); only `CLINICAL_STUDY` for `source = clinical_study`.
- Clocks of the `initial` rows (rule ids as in docs/vigilance.md): `FDA_803_50_30D` 30 days
  for death, serious injury or serious malfunction; `EU_87_5_10D` 10 days for death or an
  unanticipated serious deterioration; `EU_87_3_15D` 15 days for a serious deterioration or
  serious malfunction; `HC_CMDR_60_10D` 10 days for death or serious injury; `HC_CMDR_60_30D`
  30 days for a serious malfunction. Within a regime the earliest due date governs; doubt
  competes with the definite rules (the shortest plausible clock, MDR Art. 87(7); on equal
  due dates the definite rule, then the rule id) and makes the status `undetermined` only when
  no rule is definite. Clocks of the other rows: see the report kinds above.
- Status, in this order: `not_reportable`; `submitted_on_time` / `submitted_late` (against
  the due date; `initial`: the earliest `initial`, `final` or `final_non_reportable`
  submission to the regime's own authority - `FDA`, `EU:<member state>`, `HC` - the legacy
  `reported_date` satisfying nothing; `supplemental`: the first FDA `supplemental` or
  `follow_up` on or after the information's day; `five_day`: the earliest submission of any
  kind to `FDA` on the subject dated on or after `decided_on`; `public_health_threat`: the
  same, to any `EU:` authority; `foreign_risk_notice`: the same, to `HC`);
  `decided_not_reportable` (`initial` rows only: the latest `reportability` determination
  `no`, else the complaint's `reportability_decision = no`, counted only when dated on or after
  the obligation's day 0; or causality `unrelated` - latest determination, else the complaint's
  column - removing the death and injury criteria it is dated on or after and leaving no
  serious malfunction);
  `undetermined` (only doubt, unless a person decided `yes`); `overdue` (the night is after
  the due date) or `open`. `NONE_ENCODED` rows are `undetermined` when a serious criterion or
  doubt has arisen (people's decisions apply as above), else `not_reportable`;
  `CLINICAL_STUDY` rows alike, ignoring decisions.

## The landing folder's vigilance situations

- `submissions/submissions_<YYYY-MM>.csv`: every report the firm filed, per authority (`FDA`,
  `EU:<member state>`, `HC`, or a local regulator's short name such as `MHRA`). Most follow the
  legacy `reported_date` of the complaint extract; some complaints reportable to two
  authorities were filed with only one, some late with one; FDA supplemental reports, EU
  follow-up and final reports, HC final reports, EU `final_non_reportable` reports after a
  downgrade.
- `determinations/determinations_<YYYY-MM>.csv`: reportability decisions (most agree with what
  the firm filed, a few "no" against its own rule for second review, a few "yes" on complaints
  still in doubt), causality (`unrelated` on some deaths), one `remedial_action_required` on a
  US complaint (its FDA report filed by the fifth work day, or earlier on the legacy reported
  day - before the decision, which then leaves the 5-day report unfiled), one `fda_request`
  (not filed by the night), one `serious_public_health_threat` on an EEA complaint, two
  `fsca_decision` on device models sold in Canada and elsewhere (a class I and a class III
  one), and `signal_evaluation` rows on the planted signals (`signal_id` of `signals.csv`).
- `products.csv` carries the optional `ca_class` (Canadian device class).
- Complaint versions: escalations, downgrades, unknown outcomes, malfunctions coded later
  (empty problem code at intake), the optional columns `hospitalised` and `causality`,
  clinical-study complaints, events in countries without an encoded regime (GB, CH, JP, AU,
  TR), in Puerto Rico (a US territory) and La Reunion (an EU outermost region), events abroad
  with devices marketed in the US, and a CE-marked-only model whose FDA product code another,
  US-marketed model shares (`Stride Active`).

## The landing folder's PSUR inputs (MDCG 2022-21)

- `fsca/fsca_register_<extract>.csv`: the register of field safety corrective actions, 0-2
  per family: the two `fsca_decision` determinations above as open FSCAs started on their
  decision day (a retrofit of the Stride Active, a return of Aurelia C Stem sizes), FSCAs
  answering the planted bad supplier lot, bad lot and narrative-only failure mode (their
  `signal_id` the signal's `scope:scope_value:code`, as in `determinations/`), and others
  with lots carrying one supplier lot; some closed.
- `capa/capa_register_<extract>.csv`: 1-4 CAPAs per family, one behind each FSCA (source
  `fsca`), the others raised by complaints, trends, audits and nonconformities.
- `psur_inputs/psur_inputs_<period end>.csv`: per family the literature review, registries,
  PMCF findings and previous-PSUR actions for the PSUR period the reports cover on the night
  {as_of} (12 months, class IIa 24, from the data collection start 2024-10-01). OxiSense's
  `pmcf` text is missing on purpose: the report shows what is missing and who supplies it.
"""
