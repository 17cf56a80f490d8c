"""The generator's worlds (synthetic/worlds.py, `pms generate --world NAME`).

Each world's structural property is checked on the landing files it writes, at a tiny scale.
The vigilance truth (`_truth/reportability.csv`) is computed from the written files by its own
module and tested in tests/test_vigilance_truth.py and tests/test_synthetic.py; it is stubbed
here to keep these tests fast. The byte-identity of the baseline world with the generator as it
was is checked on the demo scale by hand (seed 42, every file's sha256); here the baseline world
and a generation without a world must give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from synthetic import generate
from synthetic.generate import generate_landing
from synthetic.scales import SCALES, Scale
from synthetic.util import day
from synthetic.worlds import (
    WORLDS,
    LotSizeMix,
    Recoding,
    get_world,
    kept_complaints,
    recode_problem_codes,
    season_factor,
    shift_months,
    small_lot_counts,
    units_to_total,
)

TINY = Scale("worlds-tiny", dt.date(2023, 1, 1), 1_500, 3_000, 50, 400, 0.5, 400_000, 100_000)
SEED = 7
REQUIRED = (
    "baseline",
    "migrated",
    "launch_mid",
    "seasonal",
    "lagged",
    "small_large",
    "missing_month",
    "recoded",
    "lot_sizes",
    "maude_early_late",
    "null",
)

Landing = Callable[[str], Path]


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landing]:
    """Generate a world's landing folder (tiny scale, once per module) on first use."""
    root = tmp_path_factory.mktemp("worlds")
    made: dict[str, Path] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(SCALES, TINY.name, TINY)
        mp.setattr(generate.vigilance_truth, "write_truth", lambda out, as_of: 0)

        def get(name: str) -> Path:
            if name not in made:
                made[name] = root / name
                generate_landing(made[name], SEED, TINY.name, world=name)
            return made[name]

        yield get


def _csvs(folder: Path) -> pl.DataFrame:
    return pl.read_csv(sorted(folder.glob("*.csv")), infer_schema=False)


def _complaints(folder: Path) -> pl.DataFrame:
    """Every complaint version; planted bad rows (unparseable dates) are dropped."""
    return (
        _csvs(folder / "complaints")
        .with_columns(
            received=pl.col("received_date").str.to_date(strict=False),
            event=pl.col("event_date").str.to_date(strict=False),
            updated=pl.col("updated_at").str.slice(0, 10).str.to_date(strict=False),
        )
        .filter(pl.col("received").is_not_null() & (pl.col("received") <= dt.date(2026, 10, 31)))
    )


def _shipments(folder: Path) -> pl.DataFrame:
    return _csvs(folder / "distribution").with_columns(
        shipped=pl.col("ship_date").str.to_date(strict=False),
        units=pl.col("units").cast(pl.Int64, strict=False),
    )


def _families(folder: Path) -> dict[str, str]:
    products = pl.read_csv(folder / "products.csv", infer_schema=False)
    return dict(zip(products["device_model"], products["device_family"], strict=True))


def _truth(folder: Path) -> pl.DataFrame:
    return pl.read_csv(folder / "_truth" / "signals.csv", infer_schema=False)


def _world_json(folder: Path) -> dict:
    return json.loads((folder / "_truth" / "world.json").read_text(encoding="utf-8"))


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _maude(folder: Path, stem: str, columns: tuple[str, ...]) -> pl.DataFrame:
    """Columns of every `stem*.txt` MAUDE file (pipe-delimited, header by name)."""
    rows: list[list[str]] = []
    for path in sorted((folder / "maude").glob("*.txt")):
        if not path.name.lower().startswith(stem):
            continue
        lines = path.read_bytes().decode("latin-1").split("\n")
        head = [h.strip().lower() for h in lines[0].split("|")]
        if not set(columns) <= set(head):  # foidevproblem.txt beside the foidev files
            continue
        at = [head.index(c) for c in columns]
        for line in lines[1:]:
            f = line.split("|")
            key = f[0].strip().removesuffix(".0")
            if len(f) > max(at) and key.isdigit():
                rows.append([key, *(f[i].strip() for i in at[1:])])
    return pl.DataFrame(rows, schema=list(columns), orient="row")


# --------------------------------------------------------------------------------------------
# the catalogue of worlds and the pure functions that apply them
# --------------------------------------------------------------------------------------------


def test_the_required_worlds_exist_with_descriptions() -> None:
    assert set(REQUIRED) <= set(WORLDS)
    assert len(WORLDS) - 1 >= 8
    for name, world in WORLDS.items():
        assert world.name == name and len(world.description) > 80


def test_planted_sizes_are_at_least_twice_and_after_the_migration() -> None:
    for world in WORLDS.values():
        for s in (world.rate_step, world.drift, world.bad_lot, world.bad_component):
            assert s is None or s.factor >= 2.0
        assert all(m.prr >= 2.0 for m in world.maude)
    migrated = WORLDS["migrated"]
    onsets = [migrated.rate_step.onset, migrated.drift.onset, migrated.new_mode.onset]
    onsets += [migrated.bad_lot.month + "-01", migrated.bad_component.month + "-01"]
    onsets += [m.onset for m in migrated.maude]
    assert all(dt.date.fromisoformat(d) > TINY.start for d in onsets)


def test_unknown_world_is_refused_with_the_known_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown world 'atlantis'.*migrated.*null"):
        get_world("atlantis")
    with pytest.raises(ValueError, match="unknown world"):
        generate_landing(tmp_path / "x", SEED, "demo", world="atlantis")
    assert not (tmp_path / "x").exists()


def test_shift_months() -> None:
    assert shift_months(dt.date(2023, 1, 1), -24) == dt.date(2021, 1, 1)
    assert shift_months(dt.date(2024, 11, 15), 2) == dt.date(2025, 1, 15)
    with pytest.raises(ValueError):
        shift_months(dt.date(2024, 1, 31), 1)


def test_season_factor_peaks_in_winter_and_averages_one() -> None:
    f = season_factor(np.arange(12), 0.35, 1)
    assert f[0] == pytest.approx(1.35) and f[6] == pytest.approx(0.65)
    assert f.mean() == pytest.approx(1.0)
    assert np.argmax(season_factor(np.arange(12), 0.3, 7)) == 6


def test_units_to_total_is_exact_and_proportional() -> None:
    units = units_to_total(np.array([0.0, 1.0, 3.0, 0.5, 0.5]), 10)
    assert units.sum() == 10 and units[0] == 0 and units[2] == 6
    assert units_to_total(np.zeros(4), 10).tolist() == [0, 0, 0, 0]


def test_small_lot_counts_follow_their_mean() -> None:
    counts = small_lot_counts(np.random.default_rng(1), np.ones(4000), LotSizeMix(0.8, 30.0))
    assert 0.7 < counts.mean() < 0.9 and counts.min() == 0


def test_kept_complaints_before_migration_and_in_the_missing_month() -> None:
    rd = np.array([day(d) for d in ("2022-12-31", "2023-01-01", "2024-10-31", "2024-11-01")])
    rd = np.r_[rd, day("2024-11-30"), day("2024-12-01")]
    kept = kept_complaints(rd, day("2023-01-01"), "2024-11")
    assert kept.tolist() == [False, True, True, False, False, True]
    assert kept_complaints(rd, day("2020-01-01"), "").all()


def test_recoding_follows_the_received_day() -> None:
    frame = pl.DataFrame(
        {
            "device_model": ["Pump A", "Pump A", "Pump A", "Other"],
            "rd": [day("2025-06-30"), day("2025-07-01"), day("2025-07-02"), day("2025-08-01")],
            "problem_code": ["A090203", "A090203", "A1407", "A090203"],
        }
    )
    r = Recoding("Infusa", "A090203", "A0902", "A090203", "2025-07-01")
    out = recode_problem_codes(frame, r, ["Pump A"])
    assert out["problem_code"].to_list() == ["A0902", "A090203", "A1407", "A090203"]
    assert recode_problem_codes(frame, None, ["Pump A"]).equals(frame)


# --------------------------------------------------------------------------------------------
# the written landing folders
# --------------------------------------------------------------------------------------------


def test_baseline_world_is_the_generation_without_a_world(landing: Landing, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(SCALES, TINY.name, TINY)
        mp.setattr(generate.vigilance_truth, "write_truth", lambda out, as_of: 0)
        generate_landing(tmp_path / "plain", SEED, TINY.name)
    base = landing("baseline")
    assert _hashes(tmp_path / "plain") == _hashes(base)
    assert not (base / "_truth" / "world.json").exists()
    assert "world" not in json.loads((base / "_truth" / "generation.json").read_text())


@pytest.mark.parametrize("name", [w for w in REQUIRED if w != "baseline"])
def test_every_world_writes_its_facts(landing: Landing, name: str) -> None:
    folder = landing(name)
    gen = json.loads((folder / "_truth" / "generation.json").read_text())
    facts = _world_json(folder)
    assert gen["world"] == name and facts["world"] == name
    assert facts["description"] == WORLDS[name].description
    assert facts["structure"]["complaints_from"] == TINY.start.isoformat()
    assert f"World `{name}`" in (folder / "_truth" / "README.md").read_text()
    kinds = _truth(folder)["kind"]
    assert (kinds == "null").sum() >= 40


def test_migrated_installed_base_predates_the_complaint_extract(landing: Landing) -> None:
    folder = landing("migrated")
    first_ship = _shipments(folder)["shipped"].min()
    c = _complaints(folder)
    first_received = c["received"].min()
    assert shift_months(first_received.replace(day=1), -24) >= first_ship.replace(day=1)
    assert first_received >= dt.date(2023, 1, 1) and c["updated"].min() >= dt.date(2023, 1, 1)
    months = sorted(p.stem for p in (folder / "complaints").glob("complaints_????-??.csv"))
    assert months[0] == "complaints_2023-01"
    assert min(p.stem for p in (folder / "lots").glob("*.csv")) < "lots_2021-02"
    planted = _truth(folder).filter(pl.col("kind") != "null")
    assert planted.height == 7
    assert (planted["onset_date"].str.to_date() > dt.date(2023, 1, 1)).all()
    facts = _world_json(folder)["structure"]
    assert facts["installed_base_from"] == "2021-01-01" and facts["migration_date"] == "2023-01-01"


def test_launch_mid_family_ships_nothing_before_its_launch(landing: Landing) -> None:
    folder = landing("launch_mid")
    family = _families(folder)
    aurelia = [m for m, f in family.items() if f == "Aurelia"]
    ships = _shipments(folder).filter(pl.col("device_model").is_in(aurelia))
    launch = dt.date(2024, 9, 1)
    assert ships.height > 0 and ships["shipped"].min() >= launch
    c = _complaints(folder).filter(pl.col("device_model").is_in(aurelia))
    assert c.height > 0 and c["received"].min() > launch
    products = pl.read_csv(folder / "products.csv", infer_schema=False)
    dates = products.filter(pl.col("device_model").is_in(aurelia))["launch_date"]
    assert dates.min() == "2024-09-01"
    # the other families ship from the start of the window
    others = _shipments(folder).filter(~pl.col("device_model").is_in(aurelia))
    assert others["shipped"].min() < dt.date(2023, 3, 1)


def test_seasonal_rates_peak_in_winter(landing: Landing) -> None:
    def by_season(folder: Path) -> dict[str, int]:
        first = _complaints(folder).group_by("complaint_id").agg(pl.col("received").first())
        month = first["received"].dt.month()
        return {
            "winter": int(month.is_in([12, 1, 2]).sum()),
            "summer": int(month.is_in([6, 7, 8]).sum()),
        }

    seasonal, base = by_season(landing("seasonal")), by_season(landing("baseline"))
    winter = seasonal["winter"] / base["winter"]
    summer = seasonal["summer"] / base["summer"]
    assert winter > 1.15 and summer < 0.85
    assert _world_json(landing("seasonal"))["structure"]["seasonal_amplitude"] == 0.35


def test_lagged_complaints_arrive_long_after_the_event(landing: Landing) -> None:
    def lags(folder: Path) -> pl.Series:
        first = (
            _complaints(folder)
            .filter(pl.col("event").is_not_null())
            .group_by("complaint_id")
            .agg(pl.col("received").first(), pl.col("event").first())
        )
        return (first["received"] - first["event"]).dt.total_days()

    lagged, base = lags(landing("lagged")), lags(landing("baseline"))
    assert (lagged > 90).mean() > 0.2 and (base > 90).mean() < 0.05
    assert lagged.max() <= 730

    def span(folder: Path) -> float:
        c = (
            _complaints(folder)
            .group_by("complaint_id")
            .agg((pl.col("updated").max() - pl.col("received").first()).dt.total_days().alias("d"))
        )
        return float(c["d"].mean())

    assert span(landing("lagged")) > span(landing("baseline")) + 20


def test_small_large_family_sizes(landing: Landing) -> None:
    folder = landing("small_large")
    family = _families(folder)
    units = (
        _shipments(folder)
        .filter(pl.col("units") > 0)
        .with_columns(family=pl.col("device_model").replace_strict(family))
        .group_by("family")
        .agg(pl.col("units").sum())
    )
    per = dict(units.iter_rows())
    assert 10 <= per["Cardiolink"] < 100
    assert per["OxiSense"] > 0.6 * sum(per.values())
    c = _complaints(folder).with_columns(
        family=pl.col("device_model").replace_strict(family, default=None)
    )
    assert c.filter(pl.col("family") == "Cardiolink")["complaint_id"].n_unique() < 10


def test_missing_month_has_no_complaint_received_in_it(landing: Landing) -> None:
    folder = landing("missing_month")
    c = _complaints(folder)
    month = c["received"].dt.strftime("%Y-%m")
    assert not (month == "2024-11").any()
    assert (month == "2024-10").any() and (month == "2024-12").any()
    # the extract still carries the month's updates of complaints received before it
    assert (c["updated"].dt.strftime("%Y-%m") == "2024-11").any()
    assert _world_json(folder)["structure"]["missing_month"] == "2024-11"


def test_recoded_code_changes_on_its_date(landing: Landing) -> None:
    folder = landing("recoded")
    family = _families(folder)
    infusa = [m for m, f in family.items() if f == "Infusa"]
    c = _complaints(folder).filter(pl.col("device_model").is_in(infusa))
    after = c["received"] >= dt.date(2025, 7, 1)
    codes = c["problem_code"]
    assert (codes == "A0902").any() and (codes == "A090203").any()
    assert not ((codes == "A0902") & after).any()
    assert not ((codes == "A090203") & ~after).any()
    null_codes = _truth(folder).filter(
        (pl.col("kind") == "null") & (pl.col("scope_value") == "Infusa")
    )["code"]
    assert {"A0902", "A090203"} <= set(null_codes)


def test_lot_sizes_vary_and_the_bad_lot_is_small(landing: Landing) -> None:
    folder = landing("lot_sizes")
    lots = _csvs(folder / "lots").with_columns(q=pl.col("quantity").cast(pl.Int64))
    bad = _truth(folder).filter(pl.col("kind") == "bad_lot")
    assert bad.height == 1 and float(bad["size"][0]) >= 2.0
    lot = bad["scope_value"][0]
    model = lots.filter(pl.col("lot_number") == lot)["device_model"][0]
    q = lots.filter(pl.col("device_model") == model)["q"]
    assert q.max() >= 10 * q.min()
    assert lots.filter(pl.col("lot_number") == lot)["q"][0] * 4 <= q.median()
    base = _csvs(landing("baseline") / "lots").with_columns(q=pl.col("quantity").cast(pl.Int64))
    base_q = base.filter(pl.col("device_model") == model)["q"]
    assert q.max() / q.min() > 2 * base_q.max() / base_q.min()


def test_maude_disproportions_early_and_late(landing: Landing) -> None:
    folder = landing("maude_early_late")
    rows = _truth(folder).filter(pl.col("kind") == "maude_disproportion").sort("onset_date")
    assert rows["scope_value"].to_list() == ["FRN", "DQA"]
    assert rows["onset_date"].to_list() == [TINY.start.isoformat(), "2025-06-01"]
    keys = ("mdr_report_key",)
    device = _maude(folder, "foidev", (*keys, "device_report_product_code"))
    device = pl.concat([device, _maude(folder, "device", (*keys, "device_report_product_code"))])
    master = _maude(folder, "mdrfoi", (*keys, "date_received"))
    problem = _maude(folder, "foidevproblem", (*keys, "device_problem_code"))
    reports = master.join(device.unique("mdr_report_key"), on="mdr_report_key").with_columns(
        received=pl.col("date_received").str.to_date("%m/%d/%Y")
    )

    def hits(code: str) -> pl.Expr:
        with_code = problem.filter(pl.col("device_problem_code") == code)["mdr_report_key"]
        return pl.col("mdr_report_key").is_in(with_code.implode())

    frn = reports.with_columns(hit=hits("1423"), own=pl.col("device_report_product_code") == "FRN")
    share = dict(frn.group_by("own").agg(pl.col("hit").mean()).iter_rows())
    assert share[True] > 2 * share[False]
    first_year = frn.filter(pl.col("own") & (pl.col("received") < dt.date(2024, 1, 1)))
    assert first_year["hit"].sum() > 0
    dqa = reports.filter(pl.col("device_report_product_code") == "DQA").with_columns(
        hit=hits("1561")
    )
    assert dqa["hit"].sum() > 0
    assert dqa.filter(pl.col("hit"))["received"].min() >= dt.date(2025, 6, 1)


def test_null_world_plants_nothing(landing: Landing) -> None:
    folder = landing("null")
    truth = _truth(folder)
    assert (truth["kind"] == "null").all() and truth.height >= 50
    series = truth.select("scope_value", "code").unique()
    assert series.height == truth.height
    base = _truth(landing("baseline"))
    assert truth.height > (base["kind"] == "null").sum()
    gen = json.loads((folder / "_truth" / "generation.json").read_text())
    assert gen["counts"]["signals"] == 0
    assert _world_json(folder)["planted_signals"] == []
    determinations = _csvs(folder / "determinations")
    assert not (determinations["kind"] == "signal_evaluation").any()
