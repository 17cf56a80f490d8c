"""The signal replay is memoised: a night reuses the month ends whose inputs did not change, and
publishes exactly what a replay from scratch on a fresh warehouse publishes."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.ingestion.sources import COMPLAINTS
from assets.signals.assets import _night_fingerprints
from models.replay_memo import canonical_nights, is_month_end, night_fingerprints, restart_point
from models.signal_replay import review_nights
from pipelines.cli import main
from synthetic.generate import generate_landing
from synthetic.scales import SCALES, Scale
from tests.test_blocked_night import run_argv
from tests.test_crash_recovery import snapshot

# A small landing: the demo calendar and planted signals, a fraction of the rows.
TINY = Scale("tiny", dt.date(2023, 1, 1), 1_500, 3_000, 50, 400, 0.5, 400_000, 100_000)
SEED = 11
PUBLISHED = ("marts.signals", "marts.signal_evidence", "marts.model_versions")
STATE = (
    "marts.maude_disproportionality",
    "signals_state.replayed_nights",
    "signals_state.detections",
    "signals_state.detection_evidence",
)


# --- the memo logic on its own ------------------------------------------------------------------


def test_canonical_nights_are_the_month_ends() -> None:
    nights = review_nights(dt.date(2024, 5, 2), dt.date(2024, 7, 10))
    assert nights == [dt.date(2024, 5, 31), dt.date(2024, 6, 30), dt.date(2024, 7, 10)]
    assert canonical_nights(nights) == nights[:2]
    # an as-of night that is a month end is computed like one, so it is stored too
    assert canonical_nights(review_nights(dt.date(2024, 5, 2), dt.date(2024, 6, 30)))[-1] == (
        dt.date(2024, 6, 30)
    )
    assert is_month_end(dt.date(2024, 2, 29)) and not is_month_end(dt.date(2024, 2, 28))


def test_a_changed_month_moves_the_restart_point_to_its_month_end() -> None:
    nights = [dt.date(2024, 5, 31), dt.date(2024, 6, 30), dt.date(2024, 7, 31)]
    before = {"t": [(dt.date(2024, 5, 1), 2, 10), (dt.date(2024, 6, 1), 1, 5)]}
    after = {"t": [(dt.date(2024, 5, 1), 2, 10), (dt.date(2024, 6, 1), 2, 12)]}
    old, new = night_fingerprints(nights, before, "c"), night_fingerprints(nights, after, "c")
    assert old[nights[0]] == new[nights[0]]
    assert old[nights[1]] != new[nights[1]] and old[nights[2]] != new[nights[2]]
    assert restart_point(new, old) == nights[1]
    assert restart_point(new, new) is None
    # another context (settings, code, whole tables) changes every night
    assert restart_point(night_fingerprints(nights, before, "d"), old) == nights[0]


def test_restart_point_of_missing_extra_and_later_nights() -> None:
    nights = [dt.date(2024, 5, 31), dt.date(2024, 6, 30), dt.date(2024, 7, 31)]
    fps = night_fingerprints(nights, {}, "c")
    assert restart_point(fps, {}) == nights[0]
    assert restart_point(fps, {n: fps[n] for n in nights[:2]}) == nights[2]  # a new month end
    # a stored night the replay no longer has (the first complaint moved): replay everything
    extra = {dt.date(2024, 4, 30): "x", **fps}
    assert restart_point(fps, extra) == nights[0]
    # nights stored by a run of a later as-of night do not matter
    assert restart_point(fps, {**fps, dt.date(2024, 8, 31): "x"}) is None
    assert restart_point({}, fps) is None


STAGING_DDL = """
CREATE SCHEMA staging; CREATE SCHEMA marts;
CREATE TABLE staging.complaint_versions (complaint_id VARCHAR, updated_at TIMESTAMP,
    source_file VARCHAR, source_row BIGINT, received_date DATE, device_model VARCHAR,
    lot_number VARCHAR, problem_code VARCHAR, patient_outcome VARCHAR, country VARCHAR,
    description VARCHAR);
CREATE TABLE marts.units_in_service (device_family VARCHAR, month DATE,
    units_in_service DOUBLE);
CREATE TABLE staging.distribution (ship_date DATE, device_model VARCHAR, lot_number VARCHAR,
    units BIGINT);
CREATE TABLE staging.maude_master (mdr_report_key BIGINT, date_received DATE);
CREATE TABLE staging.maude_devices (mdr_report_key BIGINT, device_report_product_code VARCHAR);
CREATE TABLE staging.maude_device_problems (mdr_report_key BIGINT, device_problem_code VARCHAR);
CREATE TABLE staging.service (service_id VARCHAR, serial_number VARCHAR, device_model VARCHAR,
    service_date DATE, service_type VARCHAR, failure_found BOOLEAN, component_code VARCHAR,
    part_number VARCHAR, usage_hours DOUBLE);
CREATE TABLE staging.lots (lot_number VARCHAR, device_model VARCHAR, manufacture_date DATE,
    quantity BIGINT, component_lots VARCHAR);
CREATE TABLE staging.products (device_model VARCHAR, device_family VARCHAR,
    product_code VARCHAR);
CREATE TABLE staging.risk_register (hazard_id VARCHAR, device_family VARCHAR, severity BIGINT,
    expected_rate DOUBLE, problem_codes VARCHAR);
INSERT INTO staging.products VALUES ('IP-100', 'pumps', 'FRN');
INSERT INTO staging.risk_register VALUES ('H1', 'pumps', 3, 0.001, 'A1;A2');
INSERT INTO staging.lots VALUES ('L1', 'IP-100', '2024-01-01', 100, 'C1;C2');
INSERT INTO staging.complaint_versions VALUES
    ('C-1', '2024-05-02 10:00', 'c.csv', 1, '2024-05-02', 'IP-100', 'L1', 'A1', 'none', 'DE', 'x');
INSERT INTO marts.units_in_service VALUES ('pumps', '2024-05-01', 50), ('pumps', '2024-06-01', 80);
INSERT INTO staging.distribution VALUES ('2024-04-20', 'IP-100', 'L1', 100);
INSERT INTO staging.maude_master VALUES (1, '2024-05-10');
INSERT INTO staging.maude_devices VALUES (1, 'FRN');
INSERT INTO staging.maude_device_problems VALUES (1, '1234');
INSERT INTO staging.service VALUES
    ('S1', 'IP-100-00000001', 'IP-100', '2024-06-03', 'repair', true, 'K', 'P', 10.5);
"""
NIGHTS = [dt.date(2024, 5, 31), dt.date(2024, 6, 30), dt.date(2024, 7, 31)]


@pytest.fixture
def warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    con.execute(STAGING_DDL)
    yield con
    con.close()


def fingerprints(con: duckdb.DuckDBPyConnection, **settings: object) -> dict[dt.date, str]:
    return _night_fingerprints(con, NIGHTS, dict(settings), None, NIGHTS[-1])


@pytest.mark.parametrize(
    ("change", "restart"),
    [
        # a version updated in June of a complaint received in May is known from June
        (
            "INSERT INTO staging.complaint_versions VALUES ('C-1', '2024-06-05 08:00', 'd.csv', 1, "
            "'2024-05-02', 'IP-100', 'L1', 'A2', 'none', 'DE', 'x')",
            NIGHTS[1],
        ),
        # a late file with a version dated in May is known from May
        (
            "INSERT INTO staging.complaint_versions VALUES ('C-2', '2024-05-20 08:00', 'late.csv', "
            "1, '2024-05-20', 'IP-100', 'L1', 'A1', 'none', 'DE', 'y')",
            NIGHTS[0],
        ),
        (
            "UPDATE marts.units_in_service SET units_in_service = 81 WHERE month = '2024-06-01'",
            NIGHTS[1],
        ),
        ("INSERT INTO staging.distribution VALUES ('2024-07-02', 'IP-100', 'L1', -3)", NIGHTS[2]),
        ("INSERT INTO staging.distribution VALUES ('2024-07-02', 'IP-100', NULL, 3)", None),
        ("INSERT INTO staging.maude_device_problems VALUES (1, '2000')", NIGHTS[0]),
        ("INSERT INTO staging.maude_master VALUES (2, '2024-06-11')", None),  # no device rows
        ("UPDATE staging.service SET usage_hours = 11 WHERE service_id = 'S1'", NIGHTS[1]),
        (
            "INSERT INTO staging.service VALUES ('S2', 'X-1', 'IP-100', '2024-08-01', "
            "'repair', true, 'K', 'P', 1)",
            None,
        ),  # after the last night
        ("UPDATE staging.lots SET component_lots = 'C1'", NIGHTS[0]),  # read whole
        ("UPDATE staging.risk_register SET problem_codes = 'A1'", NIGHTS[0]),
        ("UPDATE staging.products SET device_family = 'pumps2'", NIGHTS[0]),
    ],
)
def test_fingerprints_follow_the_rows_each_night_reads(
    warehouse: duckdb.DuckDBPyConnection, change: str, restart: dt.date | None
) -> None:
    stored = fingerprints(warehouse)
    assert fingerprints(warehouse) == stored  # deterministic
    warehouse.execute(change)
    assert restart_point(fingerprints(warehouse), stored) == restart


def test_settings_and_baseline_change_every_night(warehouse: duckdb.DuckDBPyConnection) -> None:
    stored = fingerprints(warehouse, lot_alpha=0.01)
    assert restart_point(fingerprints(warehouse, lot_alpha=0.02), stored) == NIGHTS[0]
    moved = _night_fingerprints(warehouse, NIGHTS, {"lot_alpha": 0.01}, None, NIGHTS[0])
    assert restart_point(moved, stored) == NIGHTS[0]


# --- the real nightly job on a small generated landing -------------------------------------------


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("replay_landing") / "landing"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(SCALES, TINY.name, TINY)
        generate_landing(folder, SEED, TINY.name)
    return folder


def night(base: Path, landing: Path, as_of: str) -> dict[str, object]:
    """Run the nightly job on the warehouse under `base`; the signals' metadata of the run."""
    if not (base / "landing").exists():
        base.mkdir(parents=True, exist_ok=True)
        (base / "landing").symlink_to(landing, target_is_directory=True)
    home = base / "dagster_home"
    home.mkdir(exist_ok=True)
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        assert main(run_argv(base, as_of)) == 0
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_materializations(dg.AssetKey(["marts", "signals"]), limit=1)
        metadata = records.records[0].asset_materialization.metadata  # type: ignore[union-attr]
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def tables(base: Path, names: tuple[str, ...]) -> dict[str, list[tuple]]:
    """Every row of each table, in its stored order (the tables are written sorted)."""
    with duckdb.connect(str(base / "pms.duckdb"), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in names}


def nights_from(first: str, as_of: str) -> int:
    start = dt.date.fromisoformat(first)
    return sum(1 for n in review_nights(start, dt.date.fromisoformat(as_of)) if n >= start)


AS_OF = "2026-10-31"  # the generator's last extract
# A September night, then the eve of the as-of night. (Not earlier: the last lots are made in
# mid-September, and production lots are read whole, so any new lot replays every night.)
EARLIER = ("2026-09-20", "2026-10-30")


@pytest.fixture(scope="module")
def clean(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("clean")
    metadata = night(base, landing, AS_OF)
    assert metadata["nights_reused"] == 0
    return base


def test_nights_in_turn_publish_what_a_clean_replay_publishes(
    clean: Path, landing: Path, tmp_path: Path
) -> None:
    expected = tables(clean, PUBLISHED + STATE)
    assert expected["marts.signals"], "the small landing should show signals"
    first = night(tmp_path, landing, EARLIER[0])
    assert first["nights_reused"] == 0
    assert not first["narrative_model_reused"] and first["narrative_months_kept"] == 0
    # across a month end: the month ends before the first night are reused
    crossed = night(tmp_path, landing, EARLIER[1])
    assert crossed["nights_reused"] > 0
    assert crossed["nights_replayed"] == nights_from("2026-09-30", EARLIER[1]) == 2
    # the next night of the same month replays only itself (a month end: stored as well)
    last = night(tmp_path, landing, AS_OF)
    assert last["nights_replayed"] == 1 and last["nights_reused"] > 0
    # the topic model of the month is reused; the months whose narratives are unchanged keep
    # their labels, the as-of month (a new day of complaints) is labelled again
    assert last["narrative_model_reused"]
    assert last["narrative_months_kept"] > 0 and last["narrative_months_labelled"] >= 1
    assert tables(tmp_path, PUBLISHED + STATE) == expected
    # every mart and every kept state (the triage model and scores too) equals the clean night
    derived = ("marts.", "signals_state.", "triage_state.")
    incremental, rebuilt = snapshot(tmp_path), snapshot(clean)
    differing = sorted(
        k
        for k in incremental.keys() | rebuilt.keys()
        if k.startswith(derived) and incremental.get(k) != rebuilt.get(k)
    )
    assert differing == []
    assert any(k.startswith("triage_state.") for k in rebuilt)
    assert tables(clean, ("signals_state.narrative_labels",))["signals_state.narrative_labels"]
    # the same night again reuses every month end before it, the topic model and every label
    again = night(tmp_path, landing, AS_OF)
    assert again["nights_replayed"] == 1
    assert again["narrative_model_reused"] and again["narrative_months_labelled"] == 0
    assert tables(tmp_path, PUBLISHED + STATE) == expected


def late_complaint(landing: Path, day: str) -> str:
    """A complaint version received and updated on `day`, as a landing CSV line."""
    model = (landing / "products.csv").read_text().splitlines()[1].split(",")[0]
    values = dict.fromkeys(COMPLAINTS.column_names, "")
    values |= {
        "complaint_id": "C-LATE-1",
        "received_date": day,
        "updated_at": f"{day}T09:30:00",
        "device_model": model,
        "country": "DE",
        "source": "customer",
        "patient_outcome": "none",
        "malfunction": "true",
        "description": "Occlusion alarm found late in a mailbox",
        "investigation_status": "open",
    }
    return ",".join(values[c] for c in COMPLAINTS.column_names)


def test_late_data_replays_from_its_month_and_matches_a_clean_replay(
    clean: Path, landing: Path, tmp_path: Path
) -> None:
    late = tmp_path / "late_landing"  # a copy of the landing folder that takes one more file
    shutil.copytree(landing, late)
    # the night before the late file arrived is the clean night: start from a copy of it
    (tmp_path / "warehouse").mkdir()
    shutil.copy2(clean / "pms.duckdb", tmp_path / "warehouse" / "pms.duckdb")
    (late / "complaints" / "complaints_late.csv").write_text(
        ",".join(COMPLAINTS.column_names) + "\n" + late_complaint(late, "2026-03-10") + "\n"
    )
    rerun = night(tmp_path / "warehouse", late, AS_OF)
    assert rerun["nights_replayed"] == nights_from("2026-03-31", AS_OF)
    assert rerun["nights_reused"] > 0
    clean = night(tmp_path / "clean", late, AS_OF)
    assert clean["nights_reused"] == 0
    assert tables(tmp_path / "warehouse", PUBLISHED + STATE) == tables(
        tmp_path / "clean", PUBLISHED + STATE
    )
