"""Data coverage worked by hand: months before the data begin, an extract gap and the night's
partial month are "no data", never zero counts (data contract, complaints/: "months before a
family's first complaint are 'no data', not 'zero complaints'")."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from models import trends
from models.data_coverage import CoverageSettings, complaint_coverage, source_gaps
from models.signal_series import hazard_series, unmapped_code_series


def months(first: dt.date, n: int) -> list[dt.date]:
    out, m = [], first
    for _ in range(n):
        out.append(m)
        m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def test_months_before_the_first_complaint_are_not_covered() -> None:
    # Shipments from 2023-01, the complaint extract from 2024-03 (a migrated system): the 14
    # months before carry no data. A second family's first complaint is later still.
    exposure = pl.DataFrame(
        {
            "device_family": ["A"] * 24 + ["B"] * 24,
            "month": months(dt.date(2023, 1, 1), 24) * 2,
        }
    )
    received = pl.DataFrame(
        {
            "device_family": ["A", "A", "B"],
            "month": [dt.date(2024, 3, 1), dt.date(2024, 4, 1), dt.date(2024, 6, 1)],
            "received": [5, 4, 1],
        }
    )
    cov = complaint_coverage(received, exposure, dt.date(2024, 12, 31))
    a = cov.filter(pl.col("device_family") == "A")
    assert a.filter(~pl.col("covered"))["month"].max() == dt.date(2024, 2, 1)
    assert a.filter(pl.col("covered"))["month"].min() == dt.date(2024, 3, 1)
    assert a.filter(pl.col("covered")).height == 10  # 2024-03 .. 2024-12
    b = cov.filter(pl.col("device_family") == "B")
    assert b.filter(pl.col("covered"))["month"].min() == dt.date(2024, 6, 1)
    assert "before the data begin" in a["reason"][0]
    # a covered month without complaints is a real zero
    assert a.filter(pl.col("month") == dt.date(2024, 5, 1))["covered"].item()


def test_a_month_missing_from_the_extract_is_a_gap_and_a_quiet_month_of_a_small_source_is_not() -> (
    None
):
    # 100 complaints a month, then 0 in June: median of the 5 months before = 100, 0 < 0.2 x 100.
    totals = dict(
        zip(months(dt.date(2024, 1, 1), 8), [100, 90, 110, 100, 95, 0, 105, 100], strict=True)
    )
    gaps = source_gaps(totals, CoverageSettings())
    assert list(gaps) == [dt.date(2024, 6, 1)]
    assert "median of 100" in gaps[dt.date(2024, 6, 1)]
    # 25 is above the 0.2 share: a quiet month, not a gap
    assert source_gaps({**totals, dt.date(2024, 6, 1): 25}, CoverageSettings()) == {}
    # a source of 5 complaints a month: a month without any is not a gap (reference below 20)
    small = dict(zip(months(dt.date(2024, 1, 1), 6), [5, 6, 4, 5, 0, 5], strict=True))
    assert source_gaps(small, CoverageSettings()) == {}


def test_the_nights_own_month_expects_its_share() -> None:
    exposure = pl.DataFrame({"device_family": ["A"] * 3, "month": months(dt.date(2024, 9, 1), 3)})
    received = pl.DataFrame(
        {"device_family": ["A"] * 3, "month": months(dt.date(2024, 9, 1), 3), "received": [3] * 3}
    )
    cov = complaint_coverage(received, exposure, dt.date(2024, 11, 12))
    nov = cov.filter(pl.col("month") == dt.date(2024, 11, 1))
    assert nov["covered"].item() and nov["share"].item() == pytest.approx(12 / 30)
    assert cov.filter(pl.col("month") < dt.date(2024, 11, 1))["share"].to_list() == [1.0, 1.0]
    # the series expects 12/30 of the month: 2 per 1,000 unit-years x 12,000 units = 2 a month
    series = hazard_series(
        pl.DataFrame(
            schema={"device_family": pl.String, "month": pl.Date, "problem_code": pl.String}
        ),
        exposure.with_columns(units_in_service=pl.lit(12_000.0)),
        pl.DataFrame(
            {
                "hazard_id": ["HZ"],
                "device_family": ["A"],
                "expected_rate": [2.0],
                "problem_code": ["A01"],
            }
        ),
        cov,
    )
    assert series["expected"].to_list() == pytest.approx([2.0, 2.0, 0.8])


def test_a_migrated_history_raises_no_alarm_at_the_start_of_the_data() -> None:
    # 36 months of exposure, 1 per 1,000 unit-years expected on 120,000 units = 10 a month; the
    # complaint extract begins in month 25 and runs at the expected rate. Judged as zeros, the
    # first 24 months make month 25 a change from 0 to 10; judged as no data there is none.
    all_months = months(dt.date(2022, 1, 1), 36)
    exposure = pl.DataFrame(
        {"device_family": ["A"] * 36, "month": all_months, "units_in_service": [120_000.0] * 36}
    )
    complaints = pl.DataFrame(
        {
            "device_family": ["A"] * 120,
            "month": [m for m in all_months[24:] for _ in range(10)],
            "problem_code": ["A01"] * 120,
        }
    )
    hazards = pl.DataFrame(
        {
            "hazard_id": ["HZ"],
            "device_family": ["A"],
            "expected_rate": [1.0],
            "problem_code": ["A01"],
        }
    )
    received = complaints.group_by("device_family", "month").agg(received=pl.len())
    cov = complaint_coverage(received, exposure, dt.date(2024, 12, 31))
    judged = hazard_series(complaints, exposure, hazards, cov)
    assert judged.height == 12 and judged["month"].min() == dt.date(2024, 1, 1)
    columns = judged.select("series_id", "month", "observed", "expected")
    assert trends.series_alarms(columns, methods=["changepoint"]).is_empty()
    as_zeros = hazard_series(complaints, exposure, hazards)
    assert as_zeros.height == 36
    alarms = trends.series_alarms(
        as_zeros.select("series_id", "month", "observed", "expected"), methods=["changepoint"]
    )
    assert alarms.height == 1  # what the same series gave before coverage


def test_an_unmapped_codes_baseline_is_built_from_covered_months_only() -> None:
    # 24 months without data, then 14 covered months with 1 complaint of code A77 a month on
    # 1,000 units: the family's own rate is 1 per 1,000 unit-months, not 14 / 38,000.
    all_months = months(dt.date(2022, 1, 1), 38)
    exposure = pl.DataFrame(
        {"device_family": ["F"] * 38, "month": all_months, "units_in_service": [1000.0] * 38}
    )
    complaints = pl.DataFrame(
        {"device_family": ["F"] * 14, "month": all_months[24:], "problem_code": ["A77"] * 14}
    )
    received = complaints.group_by("device_family", "month").agg(received=pl.len())
    cov = complaint_coverage(received, exposure, dt.date(2025, 2, 28))
    hazards = pl.DataFrame(
        schema={
            "hazard_id": pl.String,
            "device_family": pl.String,
            "expected_rate": pl.Float64,
            "problem_code": pl.String,
        }
    )
    series = unmapped_code_series(
        complaints, exposure, hazards, cov, recent_months=2, min_baseline_months=12
    )
    assert series.height == 14
    assert series["expected"].to_list() == pytest.approx([1.0] * 14)
    # with fewer covered months than the baseline needs, the code is not judged yet
    short = complaint_coverage(received, exposure, dt.date(2024, 12, 31))
    assert unmapped_code_series(
        complaints, exposure, hazards, short, recent_months=2, min_baseline_months=12
    ).is_empty()


def test_a_published_series_shows_a_month_without_data_as_such_not_as_zero() -> None:
    from models.signal_series import series_with_coverage

    series = pl.DataFrame(
        {
            "series_id": ["HZ"],
            "device_family": ["F"],
            "code": ["HZ"],
            "month": [dt.date(2024, 2, 1)],
            "observed": [3],
            "expected": [1.5],
            "judged": [True],
        }
    )
    coverage = pl.DataFrame(
        {
            "device_family": ["F", "F"],
            "month": [dt.date(2024, 1, 1), dt.date(2024, 2, 1)],
            "covered": [False, True],
            "reason": ["before the data begin", ""],
        }
    )
    published = series_with_coverage(series, coverage)
    assert published.select("month", "observed", "covered", "coverage_note").rows() == [
        (dt.date(2024, 1, 1), None, False, "before the data begin"),
        (dt.date(2024, 2, 1), 3, True, ""),
    ]


def test_a_rare_code_or_a_short_history_says_too_little_data() -> None:
    from models.signal_series import too_little_data

    # 14 covered months of 1,000 units; A77 twice and A88 five times before the last 2 months
    all_months = months(dt.date(2024, 1, 1), 14)
    exposure = pl.DataFrame(
        {"device_family": ["F"] * 14, "month": all_months, "units_in_service": [1000.0] * 14}
    )
    complaints = pl.DataFrame(
        {
            "device_family": ["F"] * 7,
            "month": all_months[:2] + all_months[:5],
            "problem_code": ["A77"] * 2 + ["A88"] * 5,
        }
    )
    empty_risk_file = pl.DataFrame(
        schema={
            "hazard_id": pl.String,
            "device_family": pl.String,
            "expected_rate": pl.Float64,
            "problem_code": pl.String,
        }
    )
    args = (complaints, exposure, empty_risk_file)
    judged = unmapped_code_series(
        *args, recent_months=2, min_baseline_months=12, min_baseline_count=3
    )
    assert judged["code"].unique().to_list() == ["A88"]
    short = too_little_data(*args, recent_months=2, min_baseline_months=12, min_baseline_count=3)
    assert short.select("code", "base_months", "base_count").rows() == [("A77", 12, 2)]
    assert short["reason"][0].startswith("too little data: 12 covered month(s) and 2 complaint(s)")
    # asking for 10 complaints puts A88 (5) there too
    short10 = too_little_data(*args, recent_months=2, min_baseline_count=10)
    assert short10["code"].to_list() == ["A77", "A88"]
    # a history shorter than the recent window: every code has too little data, none is judged
    assert unmapped_code_series(*args, recent_months=14).is_empty()
    assert too_little_data(*args, recent_months=14)["base_months"].to_list() == [0, 0]
    # no unmapped code at all: an empty, typed series
    none = unmapped_code_series(complaints.clear(), exposure, empty_risk_file)
    assert none.is_empty() and none.schema["expected"] == pl.Float64


def test_month_end_by_hand() -> None:
    from models.exposure import month_end

    assert month_end(dt.date(2024, 2, 10)) == dt.date(2024, 2, 29)  # a leap year
    assert month_end(dt.date(2023, 2, 1)) == dt.date(2023, 2, 28)
    assert month_end(dt.date(2024, 11, 1), 2) == dt.date(2025, 1, 31)  # across the year
    assert month_end(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)
