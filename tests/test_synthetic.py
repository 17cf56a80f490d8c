"""Tests of the synthetic landing-folder generator (``pms generate``), demo scale."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from assets.ingestion.sources import (
    COMPLAINTS,
    DISTRIBUTION,
    LOTS,
    PRODUCTS,
    RISK_REGISTER,
    SERVICE,
)
from synthetic.generate import SCALES, generate_landing
from synthetic.reference import annex_terms, device_problem_codes, product_codes

SEED = 20261031
EXTRACT = dt.date(2026, 10, 31)
EEA = {
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "IS",
    "LI",
    "NO",
}

# The data contract's columns, in its order, as the ingestion encodes them.
CONTRACT = {
    "products.csv": list(PRODUCTS.column_names),
    "risk_register.csv": list(RISK_REGISTER.column_names),
    "lots": list(LOTS.column_names),
    "distribution": list(DISTRIBUTION.column_names),
    # the contract's columns, its optional hospitalised and causality, then one extra column the
    # contract allows: supplemental report dates
    "complaints": [
        *COMPLAINTS.column_names,
        "hospitalised",
        "causality",
        "supplemental_reported_date",
    ],
    "service": list(SERVICE.column_names),
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generate_landing(out, SEED, "demo")
    return out


def _read(landing: Path, pattern: str) -> pl.DataFrame:
    files = sorted(landing.glob(pattern))
    assert files, pattern
    return pl.concat(
        [
            pl.read_csv(f, infer_schema=False).with_columns(
                pl.lit(f.relative_to(landing).as_posix()).alias("_file")
            )
            for f in files
        ]
    )


def _bad_keys(landing: Path) -> set[tuple[str, int]]:
    bad = pl.read_csv(landing / "_truth" / "bad_rows.csv", infer_schema=False)
    return {(r["file"], int(r["row_number"])) for r in bad.iter_rows(named=True)}


@pytest.fixture(scope="module")
def complaints(landing: Path) -> pl.DataFrame:
    """Every complaint version with its file and row number; planted bad rows flagged."""
    frames = []
    bad = _bad_keys(landing)
    for f in sorted((landing / "complaints").glob("*.csv")):
        df = pl.read_csv(f, infer_schema=False)
        rel = f.relative_to(landing).as_posix()
        rows = list(range(2, df.height + 2))
        frames.append(
            df.with_columns(
                pl.lit(rel).alias("_file"),
                pl.Series("_row", rows, dtype=pl.Int64),
                pl.Series("_bad", [(rel, r) in bad for r in rows], dtype=pl.Boolean),
            )
        )
    return pl.concat(frames)


@pytest.fixture(scope="module")
def current(complaints: pl.DataFrame) -> pl.DataFrame:
    return complaints.sort("updated_at").group_by("complaint_id", maintain_order=True).last()


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------------------------


def test_scales_and_summary_files(landing: Path) -> None:
    assert {"demo", "medium", "maude"} <= set(SCALES)
    gen = json.loads((landing / "_truth" / "generation.json").read_text())
    assert gen["seed"] == SEED and gen["scale"] == "demo"
    assert gen["start_date"] == "2023-01-01" and gen["extract_date"] == "2026-10-31"
    assert gen["as_of"] == "2026-10-31"
    counts = gen["counts"]
    assert 10_000 <= counts["complaints"] <= 15_000
    assert 45_000 <= counts["maude_reports"] <= 60_000
    assert 2_000 <= counts["service"] <= 4_000
    assert counts["openfda_records"] >= 200
    for name in ("README.md", "signals.csv", "reportability.csv", "pii.csv", "bad_rows.csv"):
        assert (landing / "_truth" / name).is_file()
    assert counts["submissions"] > 1000 and counts["determinations"] > 1000
    assert "FDA_803_50_30D" in (landing / "_truth" / "README.md").read_text()


def test_same_seed_same_bytes_other_seed_differs(landing: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_landing(again, SEED, "demo")
    assert _hashes(again) == _hashes(landing)
    other = tmp_path / "other"
    generate_landing(other, SEED + 1, "demo")
    h1, h2 = _hashes(landing), _hashes(other)
    assert h1["products.csv"] == h2["products.csv"]  # master data is fixed
    differs = [k for k in h1 if k in h2 and h1[k] != h2[k]]
    assert "_truth/reportability.csv" in differs and len(differs) > 50


def test_layout_and_contract_columns(landing: Path) -> None:
    for name in ("products.csv", "risk_register.csv"):
        assert (
            pl.read_csv(landing / name, infer_schema=False).columns[: len(CONTRACT[name])]
            == CONTRACT[name]
        )
    for folder, prefix in (
        ("lots", "lots_"),
        ("distribution", "shipments_"),
        ("complaints", "complaints_"),
        ("service", "service_"),
    ):
        files = sorted((landing / folder).glob("*.csv"))
        assert files
        for f in files:
            assert f.name.startswith(prefix)
            header = f.read_text(encoding="utf-8").split("\n", 1)[0].split(",")
            assert header == CONTRACT[folder], f
    daily = sorted((landing / "complaints").glob("complaints_????-??-??.csv"))
    assert [f.stem[-10:] for f in daily] == [
        (EXTRACT - dt.timedelta(days=13 - i)).isoformat() for i in range(14)
    ]
    assert (landing / "complaints" / "complaints_2026-10.csv").is_file()
    assert list((landing / "openfda").glob("device_event_*.json"))
    for name in ("mdrfoithru2024.txt", "mdrfoi.txt", "foidevthru2024.txt", "foidevproblem.txt"):
        assert (landing / "maude" / name).is_file()
    for f in landing.rglob("*.csv"):
        data = f.read_bytes()
        assert b"\r" not in data
        data.decode("utf-8")


def test_products_use_real_fda_codes(landing: Path) -> None:
    products = pl.read_csv(landing / "products.csv", infer_schema=False)
    pcs = product_codes()
    assert products["device_family"].n_unique() >= 4
    assert set(products["eu_class"]) == {"I", "IIa", "IIb", "III"}
    assert set(products["implantable"]) == {"true", "false"}
    smr = set()
    for r in products.iter_rows(named=True):
        pc = pcs[r["product_code"]]
        assert pc.device_class == r["us_class"], r
        assert pc.implant == (r["implantable"] == "true"), r
        smr.add(pc.summary_malfunction_reporting)
    assert {"Eligible", "Ineligible"} <= smr
    for fam, n in products.group_by("device_family").len().iter_rows():
        assert 2 <= n <= 3, fam


def test_codes_exist_in_reference_tables(landing: Path, complaints: pl.DataFrame) -> None:
    a, d = annex_terms("A"), annex_terms("D")
    e, g = annex_terms("E"), annex_terms("G")
    good = complaints.filter(~pl.col("_bad"))
    for col, table in (
        ("problem_code", a),
        ("health_effect_code", e),
        ("component_code", g),
        ("investigation_conclusion_code", d),
    ):
        values = set(good[col].drop_nulls())
        assert values and values <= set(table), (col, values - set(table))
    rr = pl.read_csv(landing / "risk_register.csv", infer_schema=False)
    for r in rr.iter_rows(named=True):
        assert set(r["problem_codes"].split(";")) <= set(a)
        assert set(r["health_effect_codes"].split(";")) <= set(e)
    service = _read(landing, "service/*.csv")
    assert set(service["component_code"].drop_nulls()) <= set(g)
    problems = (landing / "maude" / "foidevproblem.txt").read_text(encoding="latin-1")
    codes = {int(line.split("|")[1]) for line in problems.splitlines()[1:]}
    assert codes <= set(device_problem_codes())


def test_shipments_and_lots(landing: Path) -> None:
    ship = _read(landing, "distribution/*.csv")
    bad = {f for f, _ in _bad_keys(landing) if f.startswith("distribution/")}
    assert bad
    ok = ship.filter(
        pl.col("units").str.contains(r"^-?\d+$")
        & pl.col("ship_date").str.contains(r"^\d{4}-\d{2}-\d{2}$")
    )
    assert ship.height - ok.height == len(bad)
    ok = ok.with_columns(pl.col("units").cast(pl.Int64))
    countries = set(ok["country"])
    assert len(countries) >= 12 and {"US", "GB", "CH", "JP"} <= countries
    assert len(countries & EEA) >= 8
    assert ok.filter(pl.col("units") < 0).height > 0
    assert ok["ship_date"].min() < "2023-03-01" and ok["ship_date"].max() > "2026-10-01"
    by_year = (
        ok.filter(pl.col("units") > 0)
        .group_by(pl.col("ship_date").str.slice(0, 4))
        .agg(pl.col("units").sum())
        .sort("ship_date")
    )
    assert by_year["units"][1] < by_year["units"][2]  # growth
    lots = _read(landing, "lots/*.csv")
    assert set(ok["lot_number"]) <= set(lots["lot_number"])
    parts = lots.select("lot_number", pl.col("component_lots").str.split(";")).explode(
        "component_lots"
    )
    shared = parts.group_by("component_lots").len().filter(pl.col("len") >= 3)
    assert shared.height > 0


def test_complaint_versions(complaints: pl.DataFrame, current: pl.DataFrame) -> None:
    good = complaints.filter(~pl.col("_bad"))
    per = good.group_by("complaint_id").agg(
        pl.len().alias("n"),
        pl.col("updated_at").sort().alias("ts"),
        pl.col("updated_at").n_unique().alias("u"),
    )
    assert per["n"].max() <= 4 and per["n"].min() >= 1
    assert (per["n"] == per["u"]).all()
    assert set(per["n"].unique()) == {1, 2, 3, 4}
    # rows sit in the file covering their updated_at date
    day = complaints["updated_at"].str.slice(0, 10)
    stem = complaints["_file"].str.extract(r"complaints_(.*)\.csv")
    assert ((stem == day) | (stem == day.str.slice(0, 7))).all()
    assert (day <= EXTRACT.isoformat()).all()
    # versions evolve: coding, decisions, closure
    first = good.sort("updated_at").group_by("complaint_id").first()
    assert first.filter(pl.col("problem_code").is_null()).height > 0.3 * first.height
    assert (first["investigation_status"].is_in(["open", "not_required"])).all()
    closed = current.filter(pl.col("investigation_status") == "closed")
    assert closed["investigation_closed_date"].null_count() <= 1  # the planted bad row
    undecided = current.filter(
        pl.col("reportability_decision").is_null() | (pl.col("reportability_decision") == "pending")
    )
    assert 50 <= undecided.height <= 0.2 * current.height
    assert undecided["received_date"].max() >= "2026-10-25"
    # escalations: an outcome that gets worse in a later version
    esc = (
        good.sort("updated_at")
        .group_by("complaint_id")
        .agg(
            pl.col("patient_outcome").first().alias("a"),
            pl.col("patient_outcome").last().alias("b"),
        )
    )
    assert esc.filter((pl.col("b") == "death") & (pl.col("a") != "death")).height > 0
    deaths = (current["patient_outcome"] == "death").sum()
    assert 0 < deaths < 0.01 * current.height
    assert {"customer", "healthcare_professional", "patient", "distributor"} <= set(
        current["source"]
    )


def test_narratives_and_pii(landing: Path, complaints: pl.DataFrame) -> None:
    pii = pl.read_csv(landing / "_truth" / "pii.csv", infer_schema=False)
    assert set(pii["pii_type"]) == {
        "name",
        "dob",
        "mrn",
        "phone",
        "email",
        "address",
        "serial_number",
    }
    desc = complaints.group_by("complaint_id").agg(pl.col("description").str.join(" || "))
    joined = pii.join(desc, on="complaint_id", how="left")
    assert joined["description"].null_count() == 0
    assert (
        joined.select(pl.col("description").str.contains(pl.col("text"), literal=True))
        .to_series()
        .all()
    )
    text = " ".join(complaints["description"].sample(3000, seed=1).to_list())
    for token in (" pt ", " w/ ", "HCP", "pxt", "d/t", "occured", "aprox"):
        assert token in text, token
    assert complaints["description"].n_unique() > 0.6 * complaints["complaint_id"].n_unique()


def test_bad_rows_are_where_the_truth_says(landing: Path) -> None:
    bad = pl.read_csv(landing / "_truth" / "bad_rows.csv", infer_schema=False)
    assert 5 <= bad.height <= 20
    files = {}
    total = 0
    for kind in ("complaints", "distribution", "service"):
        for f in (landing / kind).glob("*.csv"):
            total += f.read_text(encoding="utf-8").count("\n") - 1
    assert bad.height < 0.01 * total
    for r in bad.iter_rows(named=True):
        path = landing / r["file"]
        if path not in files:
            files[path] = list(csv.DictReader(path.open(encoding="utf-8")))
        row = files[path][int(r["row_number"]) - 2]
        value = row[r["column"]]
        kind = r["kind"]
        if kind == "unknown_device_model":
            products = pl.read_csv(landing / "products.csv")["device_model"].to_list()
            assert value not in products
        elif kind == "unknown_problem_code":
            assert value not in annex_terms("A")
        elif kind == "received_date_in_future":
            assert value > EXTRACT.isoformat()
        elif kind == "event_date_after_received_date":
            assert value > row["received_date"]
        elif kind == "closed_without_closed_date":
            assert row["investigation_status"] == "closed" and value == ""
        elif kind in ("not_a_boolean",):
            assert value not in ("true", "false")
        elif kind == "not_an_integer":
            assert not value.lstrip("-").isdigit()
        elif kind == "date_not_iso":
            assert "/" in value
        elif kind == "unknown_service_type":
            assert value not in (
                "installation",
                "preventive_maintenance",
                "repair",
                "inspection",
                "upgrade",
            )
        elif kind == "not_a_number":
            with pytest.raises(ValueError):
                float(value)
        else:
            raise AssertionError(kind)
    truth = pl.read_csv(landing / "_truth" / "reportability.csv", infer_schema=False)
    bad_cids = set()
    for r in bad.filter(pl.col("file").str.starts_with("complaints/")).iter_rows(named=True):
        rows = files[landing / r["file"]]
        bad_cids.add(rows[int(r["row_number"]) - 2]["complaint_id"])
    assert not bad_cids & set(truth["complaint_id"])


# --------------------------------------------------------------------------------------------
# planted signals
# --------------------------------------------------------------------------------------------


def _signal(landing: Path, kind: str) -> dict:
    sig = pl.read_csv(landing / "_truth" / "signals.csv", infer_schema=False)
    rows = sig.filter(pl.col("kind") == kind)
    assert rows.height >= 1, kind
    return rows.row(0, named=True)


def test_signal_kinds_present(landing: Path) -> None:
    sig = pl.read_csv(landing / "_truth" / "signals.csv", infer_schema=False)
    assert {
        "rate_step",
        "bad_lot",
        "bad_component_lot",
        "drift",
        "narrative_new_mode",
        "maude_disproportion",
        "null",
    } <= set(sig["kind"])
    assert sig["signal_id"].n_unique() == sig.height
    planted = sig.filter(
        ~pl.col("kind").is_in(
            ["null", "service_early_failure", "narrative_new_mode", "maude_disproportion"]
        )
    )
    assert (planted["size"].cast(pl.Float64) >= 2.0).all()


def test_null_series_baseline_within_risk_file(landing: Path) -> None:
    sig = pl.read_csv(landing / "_truth" / "signals.csv", infer_schema=False)
    rr = pl.read_csv(landing / "risk_register.csv", infer_schema=False)
    for r in sig.filter(pl.col("kind") == "null").iter_rows(named=True):
        base = float(r["description"].split("baseline ")[1].split(",")[0].split(" ")[0])
        hz = rr.filter(
            (pl.col("device_family") == r["scope_value"])
            & pl.col("problem_codes").str.contains(r["code"] + r"(;|$)")
        )
        for exp in hz["expected_rate"].cast(pl.Float64):
            assert base <= exp


def test_bad_lot_rate_is_at_least_twice_its_siblings(landing: Path, current) -> None:
    s = _signal(landing, "bad_lot")
    lots = _read(landing, "lots/*.csv").with_columns(
        pl.col("quantity").cast(pl.Int64), pl.col("manufacture_date").str.to_date()
    )
    me = lots.filter(pl.col("lot_number") == s["scope_value"]).row(0, named=True)
    sib = lots.filter(
        (pl.col("device_model") == me["device_model"])
        & ((pl.col("manufacture_date") - me["manufacture_date"]).dt.total_days().abs() <= 75)
    )
    counts = current.group_by("lot_number").len()
    rate = (
        sib.join(counts, on="lot_number", how="left")
        .fill_null(0)
        .with_columns((pl.col("len") / pl.col("quantity")).alias("rate"))
    )
    bad = rate.filter(pl.col("lot_number") == s["scope_value"])["rate"][0]
    others = rate.filter(pl.col("lot_number") != s["scope_value"])["rate"]
    assert others.len() >= 3
    assert bad >= 2 * others.mean()


def test_bad_component_lot_elevates_its_lots(landing: Path, current) -> None:
    s = _signal(landing, "bad_component_lot")
    lots = _read(landing, "lots/*.csv").with_columns(pl.col("quantity").cast(pl.Int64))
    carrying = lots.filter(pl.col("component_lots").str.contains(s["scope_value"], literal=True))
    assert carrying.height >= 3
    models = set(carrying["device_model"])
    fam_lots = lots.filter(
        pl.col("device_model").is_in(list(models))
        & (pl.col("manufacture_date") >= "2024-09-01")
        & (pl.col("manufacture_date") <= "2025-12-31")
    )
    code = current.filter(pl.col("problem_code") == s["code"]).group_by("lot_number").len()
    r = (
        fam_lots.join(code, on="lot_number", how="left")
        .fill_null(0)
        .with_columns(
            (pl.col("len") / pl.col("quantity")).alias("rate"),
            pl.col("lot_number").is_in(carrying["lot_number"].to_list()).alias("hit"),
        )
    )
    hit = r.filter(pl.col("hit"))
    miss = r.filter(~pl.col("hit"))
    assert (
        hit["len"].sum() / hit["quantity"].sum() >= 2.5 * miss["len"].sum() / miss["quantity"].sum()
    )


def _family_code_monthly(
    landing: Path, current: pl.DataFrame, family: str, code: str
) -> pl.DataFrame:
    products = pl.read_csv(landing / "products.csv", infer_schema=False)
    models = products.filter(pl.col("device_family") == family)["device_model"].to_list()
    ship = _read(landing, "distribution/*.csv").filter(
        pl.col("units").str.contains(r"^-?\d+$")
        & pl.col("device_model").is_in(models)
        & pl.col("ship_date").str.contains(r"^\d{4}-")
    )
    units = (
        ship.group_by(pl.col("ship_date").str.slice(0, 7).alias("m"))
        .agg(pl.col("units").cast(pl.Int64).sum())
        .sort("m")
        .with_columns(pl.col("units").cum_sum().alias("uis"))
    )
    cnt = (
        current.filter(pl.col("device_model").is_in(models) & (pl.col("problem_code") == code))
        .group_by(pl.col("received_date").str.slice(0, 7).alias("m"))
        .len()
    )
    return units.join(cnt, on="m", how="left").fill_null(0)


def test_rate_step_and_drift(landing: Path, current) -> None:
    s = _signal(landing, "rate_step")
    m = _family_code_monthly(landing, current, s["scope_value"], s["code"])
    onset = s["onset_date"][:7]
    before = m.filter((pl.col("m") < onset) & (pl.col("m") >= "2024-06"))
    after = m.filter((pl.col("m") >= onset) & (pl.col("m") <= "2026-09"))
    r0 = before["len"].sum() / before["uis"].sum()
    r1 = after["len"].sum() / after["uis"].sum()
    assert r1 >= 2 * r0
    d = _signal(landing, "drift")
    m = _family_code_monthly(landing, current, d["scope_value"], d["code"])
    before = m.filter(pl.col("m") < d["onset_date"][:7])
    late = m.filter((pl.col("m") >= "2026-03") & (pl.col("m") <= "2026-09"))
    assert late["len"].sum() / late["uis"].sum() >= 2 * before["len"].sum() / before["uis"].sum()


def test_new_failure_mode_only_in_narratives(landing: Path, current) -> None:
    s = _signal(landing, "narrative_new_mode")
    products = pl.read_csv(landing / "products.csv", infer_schema=False)
    models = products.filter(pl.col("device_family") == s["scope_value"])["device_model"]
    fam = current.filter(pl.col("device_model").is_in(models.to_list()))
    hit = fam.filter(
        pl.col("description")
        .str.to_lowercase()
        .str.contains(r"froze|frozen|freeze|stuck|hangs|don't update|static")
    )
    assert hit.height >= 30
    assert (hit["received_date"] >= s["onset_date"]).mean() >= 0.95
    coded = set(hit["problem_code"].drop_nulls())
    assert coded <= {"A26", "A2204"}


def test_maude_disproportion(landing: Path) -> None:
    s = _signal(landing, "maude_disproportion")
    dev_rows = []
    for name in ("foidevthru2024.txt", "DEVICE2025.txt", "DEVICE.txt"):
        lines = (landing / "maude" / name).read_text(encoding="latin-1").split("\n")
        header = [h.lower() for h in lines[0].split("|")]
        pc = header.index("device_report_product_code")
        dr = header.index("date_received")
        for line in lines[1:]:
            if line:
                f = line.split("|")
                dev_rows.append((int(f[0].strip().removesuffix(".0")), f[pc], f[dr]))
    dev = pl.DataFrame(dev_rows, schema=["key", "pc", "date"], orient="row").with_columns(
        pl.col("date").str.to_date("%m/%d/%Y")
    )
    pr = (landing / "maude" / "foidevproblem.txt").read_text(encoding="latin-1").splitlines()[1:]
    prob = pl.DataFrame(
        {"key": [int(x.split("|")[0]) for x in pr], "code": [x.split("|")[1] for x in pr]}
    )
    rep = (
        dev.join(prob, on="key")
        .group_by("key")
        .agg(
            (pl.col("code") == s["code"]).any().alias("hit"),
            pl.col("pc").first(),
            pl.col("date").first(),
        )
    )

    def prr(frame: pl.DataFrame) -> float:
        a = frame.filter((pl.col("pc") == s["scope_value"]) & pl.col("hit")).height
        b = frame.filter((pl.col("pc") == s["scope_value"]) & ~pl.col("hit")).height
        c = frame.filter((pl.col("pc") != s["scope_value"]) & pl.col("hit")).height
        d = frame.filter((pl.col("pc") != s["scope_value"]) & ~pl.col("hit")).height
        return (a / (a + b)) / max(c / (c + d), 1e-9)

    onset = dt.date.fromisoformat(s["onset_date"])
    assert prr(rep.filter(pl.col("date") >= onset)) >= 2.5
    assert prr(rep.filter(pl.col("date") < onset)) < 1.5


def test_early_failure_cohort_in_service(landing: Path) -> None:
    s = _signal(landing, "service_early_failure")
    service = _read(landing, "service/*.csv").filter(
        (pl.col("service_type") == "repair") & pl.col("usage_hours").str.contains(r"^[\d.]+$")
    )
    lots = _read(landing, "lots/*.csv")
    me = lots.filter(pl.col("lot_number") == s["scope_value"]).row(0, named=True)
    prefix = s["scope_value"].split("-")[0]
    repairs = service.filter(pl.col("component_code") == s["code"]).with_columns(
        pl.col("usage_hours").cast(pl.Float64)
    )
    assert me["device_model"] in set(repairs["device_model"])
    cohort = repairs.filter(
        pl.col("serial_number").str.starts_with(prefix) & (pl.col("usage_hours") < 1000)
    )
    assert cohort.height >= 10
    assert service["related_complaint_id"].drop_nulls().len() > 50


# --------------------------------------------------------------------------------------------
# reportability truth
# --------------------------------------------------------------------------------------------


TRUTH_COLUMNS = ["complaint_id", "regime", "report_kind", "rule", "day_zero", "due_date", "status"]
OUTERMOST = {"GF", "GP", "MQ", "RE", "YT", "MF"}
NO_REGIME = {"GB", "CH", "JP", "AU", "TR"}
INITIAL_KINDS = ["initial", "final", "final_non_reportable"]
CLOCK_DAYS = {  # calendar days from day 0 to the due date
    "FDA_803_50_30D": (30, 30),
    "FDA_803_53_5D": (5, 11),  # 5 work days
    "FDA_803_56_30D": (30, 30),
    "EU_87_5_10D": (10, 10),
    "EU_87_3_15D": (15, 15),
    "EU_87_4_2D": (2, 2),
    "HC_CMDR_60_10D": (10, 10),
    "HC_CMDR_60_30D": (30, 30),
    "HC_CMDR_61_2_72H": (3, 3),
}


@pytest.fixture(scope="module")
def truth(landing: Path) -> pl.DataFrame:
    return pl.read_csv(landing / "_truth" / "reportability.csv", infer_schema=False)


@pytest.fixture(scope="module")
def submissions(landing: Path) -> pl.DataFrame:
    return _read(landing, "submissions/*.csv")


@pytest.fixture(scope="module")
def determinations(landing: Path) -> pl.DataFrame:
    return _read(landing, "determinations/*.csv")


def _authority(regime: str, country: str) -> str:
    if regime == "FDA_MDR":
        return "FDA"
    if regime == "HC_CMDR":
        return "HC"
    return "EU:" + ("FR" if country in OUTERMOST else country)


def test_truth_rows_follow_the_rules(truth: pl.DataFrame, current: pl.DataFrame) -> None:
    assert truth.columns == TRUTH_COLUMNS
    good = current.filter(~pl.col("_bad"))
    bad_ids = set(current.filter(pl.col("_bad"))["complaint_id"])
    initial = truth.filter(pl.col("report_kind") == "initial")
    # every current complaint has at least one row, one per regime; quarantined ones none
    assert set(initial["complaint_id"]) == set(good["complaint_id"])
    assert not bad_ids & set(truth["complaint_id"])
    assert initial.select("complaint_id", "regime").is_duplicated().sum() == 0
    t = truth.join(
        good.select("complaint_id", "country", "device_model", "source"), on="complaint_id"
    )
    # clocks: due date = day 0 + the rule's period; not-reportable rows carry no dates
    timed = t.filter(pl.col("due_date").is_not_null())
    span = (pl.col("due_date").str.to_date() - pl.col("day_zero").str.to_date()).dt.total_days()
    for rule, (lo, hi) in CLOCK_DAYS.items():
        days = timed.filter(pl.col("rule") == rule).select(span).to_series()
        assert days.len() == 0 or (days.min() >= lo and days.max() <= hi), rule
    assert set(timed["rule"]) <= set(CLOCK_DAYS)
    nr = t.filter(pl.col("rule") == "NOT_REPORTABLE")
    assert (nr["status"] == "not_reportable").all() and nr["due_date"].null_count() == nr.height
    # scope: a CE-only model no US-marketed model shares a product code with is never FDA's;
    # EU only in the EEA; no-regime rows only where nothing is encoded; clinical studies apart
    assert t.filter(
        (pl.col("device_model") == "Aurelia C Stem") & (pl.col("regime") == "FDA_MDR")
    ).is_empty()
    eea = EEA | OUTERMOST
    assert set(t.filter(pl.col("regime") == "EU_MDR")["country"]) <= eea
    assert set(t.filter(pl.col("regime") == "NONE_ENCODED")["country"]) <= NO_REGIME
    clinical = t.filter(pl.col("source") == "clinical_study")
    assert clinical.height and (clinical["regime"] == "CLINICAL_STUDY").all()
    assert (t.filter(pl.col("regime") == "CLINICAL_STUDY")["source"] == "clinical_study").all()
    statuses = set(t["status"])
    assert statuses == {
        "not_reportable",
        "submitted_on_time",
        "submitted_late",
        "overdue",
        "open",
        "undetermined",
        "decided_not_reportable",
    }
    overdue = t.filter(pl.col("status") == "overdue")
    assert (overdue["due_date"] < EXTRACT.isoformat()).all()
    assert overdue["complaint_id"].n_unique() <= 0.05 * good.height


def test_truth_statuses_agree_with_the_submissions(
    truth: pl.DataFrame, current: pl.DataFrame, submissions: pl.DataFrame
) -> None:
    """Each authority's obligation is met only by a submission to that authority."""
    assert submissions.columns[:6] == [
        "complaint_id",
        "authority",
        "report_kind",
        "submitted_date",
        "report_number",
        "submitted_by",
    ]
    assert (
        submissions.select("complaint_id", "authority", "report_kind", "submitted_date")
        .is_duplicated()
        .sum()
        == 0
    )
    first = (
        submissions.filter(pl.col("report_kind").is_in(INITIAL_KINDS))
        .group_by("complaint_id", "authority")
        .agg(pl.col("submitted_date").min().alias("sent"))
    )
    rows = (
        truth.filter(
            (pl.col("report_kind") == "initial")
            & pl.col("regime").is_in(["FDA_MDR", "EU_MDR", "HC_CMDR"])
            & (pl.col("rule") != "NOT_REPORTABLE")
        )
        .join(current.select("complaint_id", "country"), on="complaint_id")
        .with_columns(
            authority=pl.struct("regime", "country").map_elements(
                lambda r: _authority(r["regime"], r["country"]), return_dtype=pl.String
            )
        )
        .join(first, on=["complaint_id", "authority"], how="left")
    )
    sent = rows.filter(pl.col("sent").is_not_null())
    want = (
        pl.when(pl.col("sent") <= pl.col("due_date"))
        .then(pl.lit("submitted_on_time"))
        .otherwise(pl.lit("submitted_late"))
    )
    assert sent.filter(pl.col("status") != want).is_empty()
    unsent = rows.filter(pl.col("sent").is_null())
    assert not unsent["status"].str.starts_with("submitted").any()
    late = unsent.filter(pl.col("status").is_in(["open", "overdue"]))
    want = (
        pl.when(pl.col("due_date") < EXTRACT.isoformat())
        .then(pl.lit("overdue"))
        .otherwise(pl.lit("open"))
    )
    assert late.filter(pl.col("status") != want).is_empty()


def test_vigilance_situations_are_planted(
    truth: pl.DataFrame,
    complaints: pl.DataFrame,
    current: pl.DataFrame,
    submissions: pl.DataFrame,
    determinations: pl.DataFrame,
) -> None:
    """Every situation the law cares about is in the demo folder, and the truth has it."""
    good = complaints.filter(~pl.col("_bad"))
    cur = current.filter(~pl.col("_bad"))
    initial = truth.filter(pl.col("report_kind") == "initial").join(
        cur.select("complaint_id", "country", "device_model", "patient_outcome", "hospitalised"),
        on="complaint_id",
    )
    rank = {"none": 0, "injury": 1, "unknown": 1, "serious_injury": 2, "death": 3}
    path = (
        good.sort("updated_at")
        .group_by("complaint_id")
        .agg(pl.col("patient_outcome").replace_strict(rank, return_dtype=pl.Int64).alias("r"))
        .with_columns(
            up=pl.col("r").list.eval(pl.element().diff().max()).list.first(),
            peak=pl.col("r").list.max(),
            last=pl.col("r").list.last(),
        )
    )
    downgraded = set(path.filter((pl.col("peak") >= 2) & (pl.col("last") <= 1))["complaint_id"])
    escalated = set(path.filter((pl.col("up") > 0) & (pl.col("last") == 3))["complaint_id"])
    main = initial.filter(pl.col("regime").is_in(["FDA_MDR", "EU_MDR", "HC_CMDR"]))
    reportable = main.filter(pl.col("rule") != "NOT_REPORTABLE")
    multi = reportable.group_by("complaint_id").agg(pl.col("status"))
    sent = pl.col("status").list.eval(pl.element().str.starts_with("submitted")).list
    kinds = submissions.group_by("report_kind").len()
    kinds = dict(kinds.iter_rows())
    dets = determinations.group_by("kind", "value").len()
    dets = {(k, v): n for k, v, n in dets.iter_rows()}
    deaths = set(good.filter(pl.col("patient_outcome") == "death")["complaint_id"])
    latest_no = set(
        determinations.filter(pl.col("kind") == "reportability")
        .sort("decided_on", "determination_id")
        .group_by("subject")
        .last()
        .filter(pl.col("value") == "no")["subject"]
    )
    counts = {
        "filed with only one of two authorities": multi.filter(sent.any() & ~sent.all()).height,
        "late with one of two": multi.filter(
            pl.col("status").list.contains("submitted_on_time")
            & pl.col("status").list.contains("submitted_late")
        ).height,
        "fda supplemental rows": truth.filter(pl.col("report_kind") == "supplemental").height,
        "fda supplemental overdue": truth.filter(
            (pl.col("report_kind") == "supplemental") & (pl.col("status") == "overdue")
        ).height,
        "fda supplemental submissions": kinds.get("supplemental", 0),
        "eu follow-up submissions": kinds.get("follow_up", 0),
        "final submissions": kinds.get("final", 0),
        "final non-reportable submissions": kinds.get("final_non_reportable", 0),
        "hc submissions": submissions.filter(pl.col("authority") == "HC").height,
        "local regulator submissions": submissions.filter(
            pl.col("authority").is_in(["MHRA", "SMC", "TITCK", "TGA", "PMDA"])
        ).height,
        "reportability yes": dets.get(("reportability", "yes"), 0),
        "reportability no": dets.get(("reportability", "no"), 0),
        "a recorded no against a rule": initial.filter(
            (pl.col("status") == "decided_not_reportable")
            & pl.col("complaint_id").is_in(list(latest_no))
        ).height,
        "causality unrelated on deaths": determinations.filter(
            (pl.col("kind") == "causality")
            & (pl.col("value") == "unrelated")
            & pl.col("subject").is_in(list(deaths))
        ).height,
        "signal evaluations": determinations.filter(pl.col("kind") == "signal_evaluation").height,
        "escalations": len(escalated),
        "downgrades": len(downgraded),
        "downgrades still reportable": reportable.filter(
            pl.col("complaint_id").is_in(list(downgraded))
        ).height,
        "unknown outcome undetermined": initial.filter(
            (pl.col("patient_outcome") == "unknown") & (pl.col("status") == "undetermined")
        ).height,
        "malfunctions with an empty problem code": good.filter(
            (pl.col("malfunction") == "true") & pl.col("problem_code").is_null()
        ).height,
        "hospitalised injuries reportable in the EU": initial.filter(
            (pl.col("regime") == "EU_MDR")
            & (pl.col("patient_outcome") == "injury")
            & (pl.col("hospitalised") == "true")
            & (pl.col("rule") != "NOT_REPORTABLE")
        ).height,
        "clinical-study rows": initial.filter(pl.col("regime") == "CLINICAL_STUDY").height,
        "no encoded regime, undetermined": initial.filter(
            (pl.col("regime") == "NONE_ENCODED") & (pl.col("status") == "undetermined")
        ).height,
        "Puerto Rico, FDA": initial.filter(
            (pl.col("country") == "PR") & (pl.col("regime") == "FDA_MDR")
        ).height,
        "La Reunion, EU": initial.filter(
            (pl.col("country") == "RE") & (pl.col("regime") == "EU_MDR")
        ).height,
        "La Reunion reported to EU:FR": submissions.join(
            cur.filter(pl.col("country") == "RE").select("complaint_id"), on="complaint_id"
        )
        .filter(pl.col("authority") == "EU:FR")
        .height,
        "abroad, US-marketed device, FDA": initial.filter(
            ~pl.col("country").is_in(["US", "PR"]) & (pl.col("regime") == "FDA_MDR")
        ).height,
        "CE-only model similar to a US one, FDA": initial.filter(
            (pl.col("device_model") == "Stride Active") & (pl.col("regime") == "FDA_MDR")
        ).height,
        "foreign incidents for Health Canada": initial.filter(
            (pl.col("regime") == "HC_CMDR") & (pl.col("country") != "CA")
        ).height,
    }
    few = {k: n for k, n in counts.items() if n < 3}
    assert not few, few
    assert {"related", "possibly_related", "unrelated", "unknown"} <= set(
        good["causality"].drop_nulls()
    )
    assert set(good["hospitalised"].drop_nulls()) == {"true", "false"}
    for country in NO_REGIME:
        assert initial.filter(
            (pl.col("country") == country) & (pl.col("regime") == "NONE_ENCODED")
        ).height
    # the decisions that start reports of their own (docs/vigilance.md), each once: a row of
    # its own on the decision's subject, never folded into the complaint's initial row
    assert initial.filter(
        pl.col("rule").is_in(["FDA_803_53_5D", "EU_87_4_2D", "HC_CMDR_61_2_72H"])
    ).is_empty()
    planted = {  # kind -> (regime, report kind, rule, status the generator ensures, if any)
        # the FDA report goes in by 2026-10-16, or earlier (before the decision) on the
        # legacy reported day: then no 5-day report is filed
        "remedial_action_required": ("FDA_MDR", "five_day", "FDA_803_53_5D", None),
        "fda_request": ("FDA_MDR", "five_day", "FDA_803_53_5D", "overdue"),  # not filed
        "serious_public_health_threat": ("EU_MDR", "public_health_threat", "EU_87_4_2D", None),
    }
    for kind, (regime, report_kind, rule, status) in planted.items():
        rows = determinations.filter(pl.col("kind") == kind)
        assert rows.height == 1 and rows["value"][0] == "yes", kind
        subject, decided = rows["subject"][0], rows["decided_on"][0]
        hit = truth.filter(
            (pl.col("complaint_id") == subject) & (pl.col("report_kind") == report_kind)
        )
        assert hit.height == 1, kind
        assert (hit["regime"][0], hit["rule"][0], hit["day_zero"][0]) == (regime, rule, decided)
        # the status, from the submissions: any kind, to FDA (any EU: authority), on the
        # subject, dated from the decision up to the night
        due = hit["due_date"][0]
        to = pl.col("authority") == "FDA"
        if regime == "EU_MDR":
            to = pl.col("authority").str.starts_with("EU:")
        sent = submissions.filter(
            (pl.col("complaint_id") == subject)
            & to
            & (pl.col("submitted_date") >= decided)
            & (pl.col("submitted_date") <= EXTRACT.isoformat())
        )["submitted_date"]
        if sent.len():
            want = "submitted_on_time" if sent.min() <= due else "submitted_late"
        else:
            want = "overdue" if due < EXTRACT.isoformat() else "open"
        assert hit["status"][0] == want, (kind, hit.row(0), want)
        assert status is None or want == status, (kind, want)
        # the subject is a complaint the regime applies to
        assert (
            initial.filter(
                (pl.col("complaint_id") == subject) & (pl.col("regime") == regime)
            ).height
            == 1
        ), kind
        if regime == "EU_MDR":
            assert cur.filter(pl.col("complaint_id") == subject)["country"][0] in EEA | OUTERMOST
    assert dt.date.fromisoformat(
        truth.filter(pl.col("report_kind") == "public_health_threat")["due_date"][0]
    ) - dt.date.fromisoformat(
        determinations.filter(pl.col("kind") == "serious_public_health_threat")["decided_on"][0]
    ) == dt.timedelta(days=2)
    # corrective actions on models sold in Canada and elsewhere; the s. 61.2 foreign risk
    # notification is the decision's row (complaint_id = its subject), never an initial row
    fsca = determinations.filter((pl.col("kind") == "fsca_decision") & (pl.col("value") == "yes"))
    assert fsca.height >= 1
    for model in fsca["subject"]:
        where = set(cur.filter(pl.col("device_model") == model)["country"])
        assert "CA" in where and len(where) > 1, model
    notices = truth.filter(pl.col("report_kind") == "foreign_risk_notice")
    assert notices.height >= 1
    assert set(notices["complaint_id"]) <= set(fsca["subject"])
    assert (notices["regime"] == "HC_CMDR").all() and (notices["rule"] == "HC_CMDR_61_2_72H").all()
    assert set(truth["report_kind"]) == {
        "initial",
        "supplemental",
        "five_day",
        "public_health_threat",
        "foreign_risk_notice",
    }


def test_own_mdrs_are_in_maude(landing: Path, current) -> None:
    ids = set(
        current.filter(
            pl.col("regulatory_report_id").str.starts_with("3013472958-")
            & (pl.col("reported_date") <= "2026-10-25")
        )["regulatory_report_id"]
    )
    assert len(ids) > 100
    found = set()
    for name in ("mdrfoithru2024.txt", "mdrfoi.txt"):
        lines = (landing / "maude" / name).read_text(encoding="latin-1").splitlines()
        for line in lines[1:]:
            f = line.split("|")
            if len(f) > 2 and f[2].startswith("3013472958-"):
                found.add(f[2])
    assert ids <= found


def test_maude_layouts(landing: Path) -> None:
    from assets.ingestion import maude_layout as layout

    def counts(name: str) -> tuple[list[str], set[int]]:
        text = (landing / "maude" / name).read_bytes().decode("latin-1")
        lines = text.split("\n")
        assert lines[-1] == ""
        return lines[0].split("|"), {len(x.split("|")) for x in lines[1:-1]}

    h, n = counts("mdrfoithru2024.txt")
    assert tuple(h) == layout.MDRFOI_COLUMNS_81 and n == {77, 81}
    h, n = counts("mdrfoi.txt")
    assert tuple(h) == layout.MDRFOI_COLUMNS_86 and n == {86}
    h, n = counts("foidevthru2024.txt")
    assert tuple(h) == layout.FOIDEV_COLUMNS_45 and n == {28, 45}
    h, n = counts("DEVICE.txt")
    assert tuple(h) == layout.DEVICE_COLUMNS_34 and n == {34}
    dev = (landing / "maude" / "DEVICE.txt").read_text(encoding="latin-1").splitlines()[1]
    assert dev.startswith(" ") and dev.split("|")[0].endswith(".0")
    text = (landing / "maude" / "foitextthru2024.txt").read_text(encoding="latin-1")
    lines = text.split("\n")[1:-1]
    assert any(len(x.split("|")) > 6 for x in lines)  # '|' inside a narrative
    assert any(not x[:1].isdigit() for x in lines)  # a narrative continued on the next line
    events = set()
    for name in ("mdrfoithru2024.txt", "mdrfoi.txt"):
        rows = (landing / "maude" / name).read_text(encoding="latin-1").splitlines()
        header = [c.lower() for c in rows[0].split("|")]
        i = header.index("event_type")
        events |= {r.split("|")[i] for r in rows[1:]}
    assert {"D", "IN", "IL", "IJ", "M", "O"} <= events


def test_openfda_pages(landing: Path) -> None:
    pages = sorted((landing / "openfda").glob("device_event_*.json"))
    records = []
    for p in pages:
        page = json.loads(p.read_text(encoding="utf-8"))
        assert set(page) == {"meta", "results"}
        records += page["results"]
    assert len(records) == page["meta"]["results"]["total"]
    assert all(isinstance(r["device"], list) and r["device"] for r in records)
    assert any("patient" not in r for r in records)
    assert any("mdr_text" not in r for r in records)
    assert any(r.get("patient") and r["patient"][0]["patient_problems"] for r in records)
    assert any("3013472958-" in r["report_number"] for r in records)
    assert {r["device"][0]["device_report_product_code"] for r in records} >= {"FRN", "DQA"}
