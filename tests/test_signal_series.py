"""Series building and alarm scoring against cases worked by hand."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from models.signal_evaluation import score, target_onset
from models.signal_replay import months_before, review_nights
from models.signal_series import hazard_series, unmapped_code_series

JAN, FEB = dt.date(2025, 1, 1), dt.date(2025, 2, 1)
EXPOSURE = pl.DataFrame(
    {"device_family": ["F", "F"], "month": [JAN, FEB], "units_in_service": [12_000.0, 24_000.0]}
)
HAZARDS = pl.DataFrame(
    {
        "hazard_id": ["HZ-1", "HZ-1"],
        "device_family": ["F", "F"],
        "expected_rate": [2.0, 2.0],
        "problem_code": ["A01", "A02"],
    }
)


def test_hazard_series_expected_is_rate_times_unit_years() -> None:
    complaints = pl.DataFrame(
        {
            "device_family": ["F", "F", "F", "F"],
            "month": [JAN, JAN, FEB, FEB],
            "problem_code": ["A01", "A02", "A02", "A99"],
        }
    )
    series = hazard_series(complaints, EXPOSURE, HAZARDS)
    # 2 per 1,000 units per year: 12,000 units for a month -> 2 expected; 24,000 -> 4
    assert series["expected"].to_list() == pytest.approx([2.0, 4.0])
    assert series["observed"].to_list() == [2, 1]  # A99 is not mapped by the hazard


def test_unmapped_code_uses_the_family_past_rate() -> None:
    months = [dt.date(2024, m, 1) for m in range(1, 13)] + [dt.date(2025, m, 1) for m in (1, 2)]
    exposure = pl.DataFrame(
        {"device_family": ["F"] * 14, "month": months, "units_in_service": [1000.0] * 14}
    )
    complaints = pl.DataFrame(
        {
            "device_family": ["F"] * 8,
            "month": [dt.date(2024, 1, 1)] * 6 + [dt.date(2025, 2, 1)] * 2,
            "problem_code": ["A77"] * 8,
        }
    )
    series = unmapped_code_series(
        complaints, exposure, HAZARDS, recent_months=1, min_baseline_count=3
    )
    # baseline: months up to 2025-01 (13 months, 13,000 unit-months, 6 complaints)
    assert series["expected"][0] == pytest.approx(6 / 13_000 * 1000)
    assert series["series_id"][0] == "F|A77"


def test_review_nights_are_month_ends_then_the_night() -> None:
    assert review_nights(dt.date(2025, 1, 15), dt.date(2025, 3, 10)) == [
        dt.date(2025, 1, 31),
        dt.date(2025, 2, 28),
        dt.date(2025, 3, 10),
    ]
    assert months_before(dt.date(2025, 3, 31), 1) == dt.date(2025, 2, 28)
    assert months_before(dt.date(2025, 1, 15), -12) == dt.date(2026, 1, 15)


def test_drift_target_onset_is_when_it_doubles() -> None:
    # linear from x1 on 2025-01-01 to x3 on 2026-01-01: x2 half way
    assert target_onset("drift", dt.date(2025, 1, 1), 3.0, dt.date(2026, 1, 1)) == dt.date(
        2025, 7, 2
    )


def test_score_counts_detections_delays_and_null_false_alarms() -> None:
    truth = pl.DataFrame(
        {
            "signal_id": ["S1", "N1"],
            "kind": ["rate_step", "null"],
            "scope": ["device_family", "device_family"],
            "scope_value": ["F", "F"],
            "code": ["A01", "A05"],
            "onset_date": ["2025-03-01", ""],
            "size": ["3", "1"],
        }
    )
    alarms = pl.DataFrame(
        {
            "scope": ["device_family"] * 3,
            "scope_value": ["F"] * 3,
            "code": ["HZ-1", "A05", "HZ-1"],
            "method": ["cusum", "ewma", "ewma"],
            "detected_on": [dt.date(2025, 4, 30), dt.date(2025, 5, 31), dt.date(2025, 2, 28)],
        }
    )
    scored = score(
        alarms,
        truth,
        HAZARDS.select("hazard_id", "device_family", "problem_code"),
        start=dt.date(2024, 1, 1),
        extract=dt.date(2026, 1, 1),
    )
    combined = scored.detections.filter(pl.col("method") == "combined").to_dicts()[0]
    assert combined["delay_days"] == 60  # 2025-03-01 to 2025-04-30; the earlier ewma is before
    false = dict(scored.false_alarms.iter_rows())
    assert false["ewma"] == 1 and false["combined"] == 1
    assert scored.null_series_years == pytest.approx(1 * 731 / 365.25)


def test_baseline_rate_limit_is_garwoods_exact_upper_limit() -> None:
    from models.signal_series import baseline_rate_limit

    # P(X = 0 | mu) = e^-mu = 0.1 gives mu = ln 10; 3 complaints: chi2(0.9; 8 df) / 2 = 13.362 / 2
    assert baseline_rate_limit([0, 3], 0.9) == pytest.approx([math.log(10), 6.681], abs=1e-3)


def test_an_unmapped_codes_rate_from_few_complaints_is_judged_against_its_upper_limit() -> None:
    months = [dt.date(2024, m, 1) for m in range(1, 13)] + [dt.date(2025, m, 1) for m in (1, 2)]
    exposure = pl.DataFrame(
        {"device_family": ["F"] * 14, "month": months, "units_in_service": [1000.0] * 14}
    )
    complaints = pl.DataFrame(
        {
            "device_family": ["F"] * 5,
            "month": [dt.date(2024, 1, 1)] * 3 + [dt.date(2025, 2, 1)] * 2,
            "problem_code": ["A77"] * 5,
        }
    )
    series = unmapped_code_series(
        complaints, exposure, HAZARDS, recent_months=1, baseline_confidence=0.9
    )
    # 3 complaints over 13,000 unit-months stand for 6.681: 6.681 / 13 per 1,000 unit-months
    assert series["expected"][0] == pytest.approx(6.681 / 13, abs=1e-3)
