"""Exposure and rate models against cases worked by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from models.exposure import monthly_units_in_service
from models.rates import monthly_complaint_rates, poisson_count_interval, rate_per_1000


def shipments(rows: list[tuple[str, str, str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "ship_date": dt.date.fromisoformat(d),
                "device_family": f,
                "device_model": m,
                "country": c,
                "units": u,
            }
            for d, f, m, c, u in rows
        ]
    )


def test_garwood_interval_matches_published_values() -> None:
    # Exact Poisson 95% limits (Garwood 1936; tabulated e.g. in Ulm 1990):
    # k=0: (0, 3.689); k=1: (0.0253, 5.572); k=5: (1.623, 11.668); k=10: (4.795, 18.390)
    lower, upper = poisson_count_interval(np.array([0, 1, 5, 10]))
    assert lower == pytest.approx([0.0, 0.0253, 1.6235, 4.7954], abs=1e-4)
    assert upper == pytest.approx([3.6889, 5.5716, 11.6683, 18.3904], abs=1e-4)


def test_rate_per_1000_and_no_exposure() -> None:
    rate, lower, upper = rate_per_1000(np.array([5, 3]), np.array([2000.0, 0.0]))
    assert rate[0] == pytest.approx(2.5)  # 5 / 2000 * 1000
    assert lower[0] == pytest.approx(1.6235 / 2, abs=1e-4)
    assert upper[0] == pytest.approx(11.6683 / 2, abs=1e-4)
    assert math.isnan(rate[1]) and math.isnan(upper[1])


def test_units_in_service_cumulates_shipments_less_returns() -> None:
    frame = monthly_units_in_service(
        shipments(
            [
                ("2024-01-10", "F", "M", "DE", 100),
                ("2024-02-05", "F", "M", "DE", 50),
                ("2024-03-01", "F", "M", "DE", -10),
            ]
        ),
        as_of=dt.date(2024, 4, 15),
    )
    assert frame["month"].to_list() == [dt.date(2024, m, 1) for m in (1, 2, 3, 4)]
    assert frame["units_in_service_end"].to_list() == [100, 150, 140, 140]
    # mean of start and end of month: (0+100)/2, (100+150)/2, (150+140)/2, (140+140)/2
    assert frame["units_in_service"].to_list() == [50.0, 125.0, 145.0, 140.0]
    assert frame["units_returned"].to_list() == [0, 0, 10, 0]
    assert frame["month_complete"].to_list() == [True, True, True, False]


def test_service_life_retires_units_and_never_goes_negative() -> None:
    frame = monthly_units_in_service(
        shipments(
            [
                ("2024-01-10", "F", "M", "DE", 100),
                ("2024-02-05", "F", "M", "DE", 50),
                ("2024-03-01", "F", "M", "DE", -10),
            ]
        ),
        as_of=dt.date(2024, 4, 30),
        service_life_months={"F": 2},
    )
    # January's 100 retire at the end of March, February's 50 at the end of April.
    assert frame["units_in_service_end"].to_list() == [100, 150, 40, 0]
    assert frame["month_complete"].to_list() == [True, True, True, True]


def test_shipments_after_as_of_are_not_counted() -> None:
    frame = monthly_units_in_service(
        shipments([("2024-01-10", "F", "M", "US", 10), ("2024-03-10", "F", "M", "US", 99)]),
        as_of=dt.date(2024, 2, 29),
    )
    assert frame["units_in_service_end"].to_list() == [10, 10]


def test_monthly_rates_count_zero_months_and_keep_unexposed_complaints() -> None:
    exposure = pl.DataFrame(
        {
            "device_family": ["F", "F"],
            "device_model": ["M", "M"],
            "month": [dt.date(2024, 1, 1), dt.date(2024, 2, 1)],
            "units_in_service": [1000.0, 2000.0],
            "month_complete": [True, True],
        }
    )
    complaints = pl.DataFrame(
        {
            "device_family": ["F", "F", "F"],
            "device_model": ["M", "M", "X"],
            "month": [dt.date(2024, 1, 1), dt.date(2024, 1, 1), dt.date(2024, 1, 1)],
            "serious": [True, False, False],
        }
    )
    rates = monthly_complaint_rates(complaints, exposure)
    by_key = {(r["device_model"], r["month"].month): r for r in rates.to_dicts()}
    assert by_key[("M", 1)]["complaints"] == 2
    assert by_key[("M", 1)]["serious_complaints"] == 1
    assert by_key[("M", 1)]["rate_per_1000"] == pytest.approx(2.0)
    assert by_key[("M", 2)]["complaints"] == 0
    assert by_key[("M", 2)]["rate_per_1000"] == 0.0
    assert by_key[("X", 1)]["complaints"] == 1  # not lost for want of shipments
    assert by_key[("X", 1)]["rate_per_1000"] is None


def test_population_exposed_by_hand() -> None:
    """MDCG 2022-21 asks for an estimate of the population using the device. Worked by hand:
    an implant, 120 units shipped less 5 returned in the period -> 115 patients; a reusable pump,
    1,200 unit-months in service x 250 uses a year / 12 -> 25,000 uses; without the
    manufacturer's figure no estimate is invented."""
    from models.exposure import population_exposed

    assert population_exposed(
        implantable=True,
        units_shipped_in_period=115,
        unit_months_in_period=9_999,
        uses_per_unit_year=None,
    ) == (115.0, "implant: one patient per unit shipped in the period (net of returns)")
    estimate, basis = population_exposed(
        implantable=False,
        units_shipped_in_period=0,
        unit_months_in_period=1_200,
        uses_per_unit_year=250,
    )
    assert estimate == pytest.approx(25_000.0)
    assert "250 uses per unit per year" in basis
    assert (
        population_exposed(
            implantable=False,
            units_shipped_in_period=10,
            unit_months_in_period=100,
            uses_per_unit_year=None,
        )[0]
        is None
    )
