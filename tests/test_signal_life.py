"""Signal statuses worked from the data contract (`marts.signals.status`: new, ongoing,
established, then the latest `signal_evaluation` determination: confirmed, refuted, closed) and
regulatory-rules.md ("a persistent disproportion is still a signal to evaluate once, not
background to hide"; EMA GVP Module IX: a signal is evaluated and its outcome recorded)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from models.signal_life import EVALUATION_SCHEMA, established_windows, signal_life

NIGHT = dt.date(2026, 10, 31)


def alarms(*rows: tuple[str, str, str, str, str, dt.date]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "signal_id": pl.String,
            "scope": pl.String,
            "scope_value": pl.String,
            "code": pl.String,
            "method": pl.String,
            "detected_on": pl.Date,
        },
        orient="row",
    )


def evaluations(*rows: tuple[str, str, str, dt.date]) -> pl.DataFrame:
    return pl.DataFrame(
        [(i, s, v, d, "Signal review board", f"minutes {i}") for i, s, v, d in rows],
        schema=EVALUATION_SCHEMA,
        orient="row",
    )


NONE = evaluations()


def status_of(frame: pl.DataFrame) -> dict[str, str]:
    return dict(frame.select("signal_id", "status").iter_rows())


def test_new_tonight_and_ongoing_since_an_earlier_night() -> None:
    a = alarms(
        ("S1", "device_family", "Infusa", "HZ-1", "cusum", NIGHT),
        ("S2", "device_family", "Infusa", "HZ-2", "ewma", dt.date(2026, 9, 30)),
    )
    assert status_of(signal_life(a, NIGHT, {}, NONE)) == {"S1": "new", "S2": "ongoing"}


def test_present_since_judging_began_is_established_and_listed() -> None:
    # the series was first judged in 2024-03: with a grace of 2 months, an alarm by 2024-05-31
    # is established; one in 2024-06 is a change (ongoing)
    series = pl.DataFrame(
        {
            "device_family": ["Infusa"] * 4,
            "code": ["HZ-1"] * 4,
            "month": [dt.date(2024, m, 1) for m in (2, 3, 4, 5)],
            "judged": [False, True, True, True],
        }
    )
    a = alarms(
        ("S1", "device_family", "Infusa", "HZ-1", "cusum", dt.date(2024, 5, 31)),
        ("S2", "device_family", "Infusa", "HZ-1", "ewma", dt.date(2024, 6, 30)),
        ("S3", "product_code", "DQA", "1561", "mgps", dt.date(2024, 3, 31)),
        ("S4", "product_code", "DQA", "2993", "mgps", dt.date(2024, 4, 30)),
        ("S5", "lot", "OX1-2503-002", "A090805", "lot_poisson", dt.date(2025, 4, 30)),
    )
    windows = established_windows(a, series, dt.date(2024, 3, 31), grace_months=2)
    assert windows[("device_family", "Infusa", "HZ-1")] == dt.date(2024, 5, 31)
    assert ("lot", "OX1-2503-002", "A090805") not in windows  # a lot is never established
    life = signal_life(a, NIGHT, windows, NONE)
    assert status_of(life) == {
        "S1": "established",
        "S2": "ongoing",
        "S3": "established",  # disproportionate on the first night MAUDE was judged
        "S4": "ongoing",
        "S5": "ongoing",
    }
    assert life.height == a.height  # nothing hidden


def test_the_latest_evaluation_decides_and_a_topic_names_every_method() -> None:
    a = alarms(
        ("S1", "device_family", "Infusa", "HZ-7", "cusum", dt.date(2025, 11, 30)),
        ("S2", "device_family", "Infusa", "HZ-7", "ewma", dt.date(2025, 12, 31)),
        ("S3", "lot", "OX1-2503-002", "A090805", "lot_poisson", dt.date(2025, 5, 31)),
    )
    ev = evaluations(
        # the board names the problem code the hazard maps, not our hazard id or method
        ("D1", "device_family:Infusa:A1407", "confirmed", dt.date(2026, 1, 15)),
        ("D2", "S3", "refuted", dt.date(2025, 7, 1)),
        ("D3", "S3", "closed", dt.date(2026, 2, 1)),  # supersedes D2
    )
    life = signal_life(a, NIGHT, {}, ev, {("Infusa", "HZ-7"): ["A1407", "A1408"]})
    assert status_of(life) == {"S1": "confirmed", "S2": "confirmed", "S3": "closed"}
    s3 = life.filter(pl.col("signal_id") == "S3").row(0, named=True)
    assert (s3["evaluation_id"], s3["evaluated_by"]) == ("D3", "Signal review board")


def test_an_evaluation_before_the_alarm_does_not_close_it() -> None:
    # refuted in 2025-06; the alarm of another method first fired in 2026-03: new evidence is a
    # signal to evaluate again (shown with the earlier evaluation)
    a = alarms(("S1", "device_family", "Stride", "HZ-3", "maxsprt", dt.date(2026, 3, 31)))
    ev = evaluations(("D1", "device_family:Stride:HZ-3", "refuted", dt.date(2025, 6, 1)))
    life = signal_life(a, NIGHT, {}, ev).row(0, named=True)
    assert life["status"] == "ongoing" and life["evaluation"] == "refuted"


def test_an_evaluation_after_the_night_is_not_known_yet() -> None:
    a = alarms(("S1", "device_family", "Stride", "HZ-3", "cusum", dt.date(2026, 3, 31)))
    ev = evaluations(("D1", "S1", "confirmed", dt.date(2026, 11, 2)))
    assert status_of(signal_life(a, NIGHT, {}, ev)) == {"S1": "ongoing"}
