"""Series building and alarm scoring against cases worked by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from models.signal_evaluation import score, target_onset
from models.signal_replay import months_before, review_nights
from models.signal_series import (
    hazard_series,
    seasonal_fit,
    seasonal_fits,
    seasonally_weighted,
    unmapped_code_series,
)

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


# ---------------------------------------------------------------- seasonal expected counts


def _months(first: dt.date, n: int) -> list[dt.date]:
    return [
        dt.date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
        for i in range(n)
    ]


def test_seasonal_fit_recovers_an_exact_yearly_cycle():
    # No noise: counts are exactly 50 x exp(0.3 cos(2 pi m / 12)) per 1,000 unit-months, so the
    # Poisson regression of seasonal_fit (log link, harmonics of calendar month m) fits them
    # exactly and its factors are that curve divided by its yearly mean.
    month_of_year = np.array([(i % 12) + 1 for i in range(36)])
    curve = np.exp(0.3 * np.cos(2 * np.pi * month_of_year / 12))
    units = np.full(36, 1000.0)
    fit = seasonal_fit("A", month_of_year, 50.0 * curve, units)
    year = np.exp(0.3 * np.cos(2 * np.pi * np.arange(1, 13) / 12))
    assert fit.seasonal and fit.p_value < 1e-6
    assert fit.factors == pytest.approx(tuple(year / year.mean()), abs=1e-5)
    assert max(fit.factors) == pytest.approx(fit.factors[11])  # December: cos(2 pi 12/12) = 1


def test_seasonal_fit_keeps_a_flat_year_when_there_is_no_cycle_or_too_little_data():
    month_of_year = np.array([(i % 12) + 1 for i in range(36)])
    flat = seasonal_fit("A", month_of_year, np.full(36, 40.0), np.full(36, 1000.0))
    assert not flat.seasonal and flat.p_value == pytest.approx(1.0)
    # 23 months (fewer than two cycles) are never judged, whatever they show
    curve = 50.0 * np.exp(0.5 * np.cos(2 * np.pi * month_of_year / 12))
    short = seasonal_fit("A", month_of_year[:23], curve[:23], np.full(23, 1000.0))
    assert not short.seasonal and math.isnan(short.p_value)


def test_seasonal_fit_is_not_fooled_by_growth_of_the_installed_base():
    # Twice the units by the end, complaints following the units exactly: exposure, not season.
    month_of_year = np.array([(i % 12) + 1 for i in range(36)])
    units = np.linspace(1000.0, 2000.0, 36)
    fit = seasonal_fit("A", month_of_year, 0.05 * units, units)
    assert not fit.seasonal


def test_seasonally_weighted_scales_only_seasonal_families():
    months = _months(dt.date(2024, 1, 1), 36)
    month_of_year = np.array([m.month for m in months])
    counts = np.round(200.0 * (1 + 0.35 * np.cos(2 * np.pi * (month_of_year - 1) / 12)))
    complaints = pl.DataFrame(
        {
            "device_family": ["Winter"] * int(counts.sum()) + ["Steady"] * 36 * 50,
            "month": [m for m, c in zip(months, counts, strict=True) for _ in range(int(c))]
            + [m for m in months for _ in range(50)],
        }
    )
    exposure = pl.DataFrame(
        {
            "device_family": ["Winter"] * 36 + ["Steady"] * 36,
            "month": months + months,
            "units_in_service": [1000.0] * 72,
        }
    )
    fits = {f.device_family: f for f in seasonal_fits(complaints, exposure)}
    assert fits["Winter"].seasonal and not fits["Steady"].seasonal
    weighted = seasonally_weighted(exposure, list(fits.values())).sort("device_family", "month")
    steady = weighted.filter(pl.col("device_family") == "Steady")["units_in_service"]
    assert steady.to_list() == [1000.0] * 36
    winter = weighted.filter(pl.col("device_family") == "Winter")
    january = winter.filter(pl.col("month") == dt.date(2025, 1, 1))["units_in_service"].item()
    july = winter.filter(pl.col("month") == dt.date(2025, 7, 1))["units_in_service"].item()
    assert january == pytest.approx(1000.0 * fits["Winter"].factors[0])
    assert january > 1250.0 and july < 750.0
    # the year's unit-months are kept: the risk file's yearly rate holds on average
    assert winter["units_in_service"].sum() == pytest.approx(36_000.0, rel=1e-6)
