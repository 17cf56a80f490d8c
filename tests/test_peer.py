"""The peer detector (R surveillance, pipelines/peer.py) on series worked by hand, and the
evaluation's tables with the peer beside our methods.

The glrpois cases are worked from the recursive LR form of the Poisson GLR chart with a known
change theta in the intercept (Hoehle & Paul 2008, "Count data regression charts for the
monitoring of surveillance time series", CSDA 52(9), eq. (4); surveillance ?algo.glrnb, C function
lr_cusum): LR_n = max(0, LR_{n-1} + theta x_n - (e^theta - 1) mu0_n), alarm at the first n with
LR_n > c.ARL. With theta = ln 2 each month adds x_n ln 2 - mu0_n.

Without R or its package the R cases skip, unless PMS_REQUIRE_PEER is set (.ci/run sets it).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import peer
from pipelines.evaluate import (
    PEER_NO_SERIES,
    PEER_NOT_INSTALLED,
    PEER_RAN,
    evaluation_rows,
    run_peer,
    summarise,
)
from pipelines.peer import PeerError, PeerSettings, peer_alarms, surveillance_available

MONTHS = [dt.date(2024 + m // 12, m % 12 + 1, 1) for m in range(48)]
LN2 = math.log(2.0)


@pytest.fixture(scope="module")
def r_surveillance() -> str:
    version = surveillance_available()
    if version is None:
        if os.environ.get("PMS_REQUIRE_PEER"):
            pytest.fail("PMS_REQUIRE_PEER is set but Rscript or R surveillance is missing")
        pytest.skip("R surveillance not installed (make peer-deps)")
    return version


def _series(
    series_id: str,
    observed: list[float],
    expected: list[float],
    covered: list[bool] | None = None,
    code: str = "HZ-1",
) -> pl.DataFrame:
    n = len(observed)
    return pl.DataFrame(
        {
            "series_id": [series_id] * n,
            "scope": ["device_family"] * n,
            "scope_value": ["Fam"] * n,
            "code": [code] * n,
            "month": MONTHS[:n],
            "observed": [float(x) for x in observed],
            "expected": [float(m) for m in expected],
            "covered": covered or [True] * n,
        },
        schema=peer.SERIES_SCHEMA,
    )


# ---------------------------------------------------------------------------------------------
# (a) glrpois against the chart worked by hand


def test_glrpois_alarms_where_the_hand_worked_lr_first_crosses(r_surveillance: str) -> None:
    # x = 0 3 4 1 5 0, mu0 = 1 .5 1 2 1 1, each month adds x ln2 - mu0:
    #   LR = 0, 3ln2-.5 = 1.579, +4ln2-1 = 3.352, +ln2-2 = 2.045, +5ln2-1 = 4.511, 3.511
    # c.ARL = 4: first above it in month 5 (4.511 = 13 ln2 - 4.5; the largest before is 3.352).
    crossing = _series("A", [0, 3, 4, 1, 5, 0], [1, 0.5, 1, 2, 1, 1])
    # x = 3 0 3 0 3 0, mu0 = 1: LR = 1.079, 0.079, 1.159, 0.159, 1.238, 0.238: never above 4
    below = _series("B", [3, 0, 3, 0, 3, 0], [1] * 6, code="A0101")
    alarms = peer_alarms(pl.concat([below, crossing]), "glrpois", PeerSettings(c_arl=4.0))
    assert alarms["series_id"].to_list() == ["A"]
    row = alarms.row(0, named=True)
    assert row["method"] == "peer_glrpois"
    assert (row["scope"], row["scope_value"], row["code"]) == ("device_family", "Fam", "HZ-1")
    assert row["alarm_month"] == dt.date(2024, 5, 1)
    assert row["detected_on"] == dt.date(2024, 5, 31)
    assert (row["observed"], row["expected"]) == (5.0, 1.0)
    assert row["statistic"] == pytest.approx(13 * LN2 - 4.5, abs=1e-9)
    assert row["threshold"] == 4.0


def test_glrpois_default_threshold_is_ln_600_and_keeps_quiet_below_it(r_surveillance: str) -> None:
    # the same crossing series tops out at 4.511 < ln 600 = 6.397: no alarm by default
    assert PeerSettings().c_arl == pytest.approx(math.log(600.0))
    assert peer_alarms(_series("A", [0, 3, 4, 1, 5, 0], [1, 0.5, 1, 2, 1, 1])).is_empty()


# ---------------------------------------------------------------------------------------------
# (b) months the data do not cover are not sent to R


def test_uncovered_months_are_not_charted(r_surveillance: str) -> None:
    # x = 1 every covered month against mu0 = 1: each adds ln2 - 1 < 0, LR stays 0. Months 5-6
    # hold 20 complaints each (20 ln2 - 1 = 12.86 > ln 600) but lie outside the data coverage.
    observed = [1, 1, 1, 1, 20, 20, 1, 1]
    covered = [True, True, True, True, False, False, True, True]
    gap = _series("C", observed, [1] * 8, covered)
    # the same months read as covered (series D) alarm at once in month 5
    alarms = peer_alarms(pl.concat([gap, _series("D", observed, [1] * 8)]))
    assert alarms["series_id"].to_list() == ["D"]
    assert alarms["alarm_month"].to_list() == [dt.date(2024, 5, 1)]
    assert alarms["statistic"][0] == pytest.approx(20 * LN2 - 1, abs=1e-9)


def test_only_covered_months_reach_rscript(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without R: the CSV handed to Rscript (list argv, no shell) holds the covered months only."""
    sent: dict[str, object] = {}

    def fake_run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        sent["argv"], sent["shell"] = argv, kwargs.get("shell", False)
        sent["rows"] = pl.read_csv(argv[3], try_parse_dates=True)
        Path(argv[4]).write_text(
            "series_id,alarm_month,observed,expected,statistic,threshold\n"
            '"C","2024-02-01",1,1,0.5,0.4\n'
        )
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(peer.shutil, "which", lambda name: "/usr/bin/Rscript")
    monkeypatch.setattr(peer.subprocess, "run", fake_run)
    gap = _series("C", [1, 1, 7, 1], [1] * 4, [True, True, False, True])
    alarms = peer_alarms(gap, "glrpois", PeerSettings(c_arl=0.4))
    argv = sent["argv"]
    assert isinstance(argv, list) and sent["shell"] is False
    assert Path(argv[2]).name == "peer_surveillance.R" and argv[5] == "glrpois"
    assert argv[6:] == [f"theta={LN2!r}", "c.ARL=0.4"]
    rows = sent["rows"]
    assert isinstance(rows, pl.DataFrame)
    assert rows.columns == ["series_id", "month", "observed", "expected"]
    assert rows["month"].to_list() == [MONTHS[0], MONTHS[1], MONTHS[3]]
    assert alarms.select("series_id", "code", "detected_on").row(0) == (
        "C",
        "HZ-1",
        dt.date(2024, 2, 29),
    )


def test_bad_rows_name_the_series_before_r_runs() -> None:
    bad = pl.concat([_series("A", [1, 2], [1, 1]), _series("B", [1, 2.5], [1, 1], code="A0101")])
    with pytest.raises(PeerError, match=r"series B \(Fam, A0101\), month 2024-02-01: observed"):
        peer_alarms(bad)
    # an uncovered month is not judged, whatever it holds
    assert peer_alarms(_series("B", [float("nan")], [1], [False])).is_empty()


def test_r_errors_say_what_r_said(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 3, "", "series A: non-finite mu0\n")

    monkeypatch.setattr(peer.shutil, "which", lambda name: "/usr/bin/Rscript")
    monkeypatch.setattr(peer.subprocess, "run", failing_run)
    with pytest.raises(PeerError, match=r"(?s)glrpois failed \(exit 3\).*series A: non-finite"):
        peer_alarms(_series("A", [1], [1]))


def test_without_rscript_the_peer_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer.shutil, "which", lambda name: None)
    assert surveillance_available() is None


def test_farrington_flags_a_spike_after_two_years_of_history(r_surveillance: str) -> None:
    # 2 years + 1 month of history are needed before a month is judged (b = 2, w = 1); a steady
    # 4-5-6 pattern against 5 expected, then 30 complaints in month 31
    observed = [4, 5, 6] * 10 + [30, 5]
    alarms = peer_alarms(_series("F", observed, [5] * 32), "farrington")
    assert alarms["method"].to_list() == ["peer_farrington"]
    assert alarms["alarm_month"].to_list() == [MONTHS[30]]
    assert alarms["statistic"][0] == 30.0 and alarms["threshold"][0] < 30.0


# ---------------------------------------------------------------------------------------------
# the peer inside `pms evaluate`


def test_run_peer_reports_what_is_missing(tmp_path: Path) -> None:
    warehouse = tmp_path / "pms.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA marts")
    settings = PeerSettings()
    alarms, status = run_peer(warehouse, "glrpois", None, settings)
    assert alarms.is_empty() and status["status"] == PEER_NOT_INSTALLED
    assert "make peer-deps" in PEER_NOT_INSTALLED
    alarms, status = run_peer(warehouse, "glrpois", "1.20.3", settings)
    assert alarms.is_empty() and status["status"] == PEER_NO_SERIES


def _detection(signal: str, kind: str, method: str, delay: int | None) -> dict[str, object]:
    return {"signal_id": signal, "kind": kind, "method": method, "delay_days": delay}


def _result(world: str, seed: int, peer_status: str = PEER_RAN) -> dict[str, object]:
    detections = [
        _detection("SIG-001", "rate_step", "cusum", 40),
        _detection("SIG-001", "rate_step", "peer_glrpois", 70),
        _detection("SIG-001", "rate_step", "combined", 40),
        _detection("SIG-002", "drift", "ewma", 200),
        _detection("SIG-002", "drift", "combined", 200),
        _detection("SIG-003", "bad_lot", "lot_poisson", 10 * seed),
        _detection("SIG-003", "bad_lot", "combined", 10 * seed),
    ]
    if peer_status != PEER_RAN:
        detections = [d for d in detections if d["method"] != "peer_glrpois"]
    return {
        "world": world,
        "seed": seed,
        "detections": detections,
        "false_alarms": [
            {"method": "cusum", "false_alarms": 1},
            {"method": "combined", "false_alarms": 1},
            *([{"method": "peer_glrpois", "false_alarms": 2}] if peer_status == PEER_RAN else []),
        ],
        "null_series_years": 50.0,
        "other_alarms": [],
        "peer": {
            "method": "peer_glrpois",
            "version": "1.20.3" if peer_status == PEER_RAN else None,
            "arguments": ["theta=0.6931471805599453", "c.ARL=6.396929655216146"],
            "status": peer_status,
            "series_judged": 4,
            "alarms": 3,
        },
    }


def test_evaluation_rows_put_the_peer_beside_ours() -> None:
    rows = evaluation_rows([_result("baseline", 1), _result("baseline", 2)])
    by = {(r["kind"], r["method"]): r for r in rows}
    # ours, then combined, then the peer; trend methods listed on the series kinds even at 0
    assert [r["method"] for r in rows if r["kind"] == "rate_step"] == [
        "changepoint",
        "cusum",
        "ewma",
        "maxsprt",
        "poisson_exact_fdr",
        "combined",
        "peer_glrpois",
    ]
    assert [r["method"] for r in rows if r["kind"] == "bad_lot"] == ["lot_poisson", "combined"]
    peer_step = by[("rate_step", "peer_glrpois")]
    assert (peer_step["caught"], peer_step["planted"], peer_step["caught_within_3_months"]) == (
        2,
        2,
        2,
    )
    assert peer_step["median_delay_days"] == 70.0
    assert by[("drift", "peer_glrpois")]["caught"] == 0
    assert by[("drift", "combined")]["caught_within_3_months"] == 0  # 200 days > 92
    assert by[("bad_lot", "combined")]["median_delay_days"] == 15.0  # 10 and 20
    # 4 peer false alarms over 100 null series-years; 2 of ours (combined: 2 distinct series)
    assert by[("null", "peer_glrpois")]["false_alarms_per_100_null_series_years"] == 4.0
    assert by[("null", "combined")]["false_alarms"] == 2
    assert by[("null", "ewma")]["false_alarms"] == 0


def test_summary_markdown_per_world_and_overall() -> None:
    results = [_result("shifted", 1), _result("baseline", 1), _result("baseline", 2)]
    tables, report = summarise(results, {"baseline": "today's generator", "shifted": ""})
    assert sorted(tables) == ["all", "baseline", "shifted"]
    lines = report.splitlines()
    assert lines[0] == "# Signal evaluation"
    assert lines[2] == (
        "Worlds: baseline, shifted; seeds: 1, 2. Peer: peer_glrpois (R surveillance 1.20.3; "
        "theta=0.6931471805599453, c.ARL=6.396929655216146) on marts.signal_series, scored like "
        "a trend method and kept out of the combined set."
    )
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == [
        "## All worlds (3 runs)",
        "## World baseline: today's generator (2 runs)",
        "## World shifted (1 run)",
    ]
    overall = lines[lines.index(headings[0]) : lines.index(headings[1])]
    assert "| rate_step | peer_glrpois | 3 / 3 | 3 | 70 |  |" in overall
    assert "| bad_lot | combined | 3 / 3 | 3 | 10 |  |" in overall
    assert "| null | peer_glrpois |  |  |  | 4.00 (6) |" in overall
    assert "| null | combined |  |  |  | 2.00 (3) |" in overall
    assert "Null series-years: 150.0." in overall
    assert report == summarise(list(reversed(results)), {"baseline": "today's generator"})[1]


def test_summary_says_when_the_peer_did_not_run() -> None:
    results = [_result("baseline", 1, PEER_NOT_INSTALLED)]
    tables, report = summarise(results)
    assert (
        "peer: R surveillance not installed; run `make peer-deps` (all runs); the peer rows are "
        "left out"
    ) in report.splitlines()
    assert not [r for r in tables["all"] if r["method"].startswith("peer_")]
    assert "peer_glrpois (R surveillance not installed;" in report
