"""Lot and supplier-lot signals against cases worked by hand."""

from __future__ import annotations

import math

import polars as pl
import pytest

from models.lot_signals import component_lot_signals, lot_code_signals, poisson_upper_p


def complaints(rows: list[tuple[str, str, str, int]]) -> pl.DataFrame:
    records = [
        {"lot_number": lot, "device_model": model, "problem_code": code}
        for lot, model, code, n in rows
        for _ in range(n)
    ]
    return pl.DataFrame(records)


EXPOSURE = pl.DataFrame(
    {
        "lot_number": ["L1", "L2", "L3"],
        "device_model": ["M", "M", "M"],
        "unit_months": [1000.0, 1000.0, 1000.0],
    }
)


def test_poisson_upper_p_by_hand() -> None:
    # P(X >= 2 | mu = 1) = 1 - e^-1 (1 + 1) = 0.26424
    assert poisson_upper_p([2], [1.0])[0] == pytest.approx(1 - 2 * math.exp(-1), rel=1e-9)
    assert poisson_upper_p([0], [3.0])[0] == 1.0


def test_bad_lot_against_its_siblings() -> None:
    cases = complaints([("L1", "M", "A01", 10), ("L2", "M", "A01", 1), ("L3", "M", "A01", 1)])
    result = {r["scope_value"]: r for r in lot_code_signals(cases, EXPOSURE).to_dicts()}
    # L1: siblings had 2 complaints in 2,000 unit-months -> expected 1.0 in its 1,000
    assert result["L1"]["expected"] == pytest.approx(1.0)
    # P(X >= 10 | 1) = 1 - sum_{k<10} e^-1 / k! = 1.1143e-7
    assert result["L1"]["p_value"] == pytest.approx(1.1142547e-07, rel=1e-6)
    assert result["L1"]["signal"]
    # L2: siblings had 11 in 2,000 -> expected 5.5; 1 observed is no signal
    assert result["L2"]["expected"] == pytest.approx(5.5)
    assert not result["L2"]["signal"]


def test_component_lot_shared_by_lots_pools_them() -> None:
    exposure = pl.DataFrame(
        {
            "lot_number": ["L1", "L2", "L3", "L4", "L5"],
            "device_model": ["M"] * 5,
            "unit_months": [1000.0] * 5,
        }
    )
    # Each of L1, L2, L3 alone has 2 cases (too few for min_count 3); together they have 6.
    cases = complaints(
        [("L1", "M", "A07", 2), ("L2", "M", "A07", 2), ("L3", "M", "A07", 2), ("L4", "M", "A07", 0)]
    )
    components = pl.DataFrame(
        {
            "lot_number": ["L1", "L2", "L3", "L4", "L5"],
            "component_lot": ["BAT-9", "BAT-9", "BAT-9", "BAT-1", "BAT-2"],
        }
    )
    lots = lot_code_signals(cases, exposure)
    assert not lots["signal"].any()
    pooled = component_lot_signals(cases, exposure, components)
    row = pooled.filter(pl.col("scope_value") == "BAT-9").to_dicts()[0]
    assert row["observed"] == 6
    assert row["unit_months"] == pytest.approx(3000.0)
    # each lot's expectation comes from the other four lots: 4 cases in 4,000 unit-months
    assert row["expected"] == pytest.approx(3 * 4 / 4000 * 1000)
    assert pooled.filter(pl.col("scope_value") == "BAT-1").is_empty()  # used by one lot only
