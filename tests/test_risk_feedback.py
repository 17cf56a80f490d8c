"""Risk-file feedback (models/risk_feedback.py) against cases worked by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from scipy.stats import chi2

from models.risk_feedback import (
    RISK_FEEDBACK_SCHEMA,
    family_unit_years,
    risk_feedback,
    trailing_window_start,
)

D = dt.date.fromisoformat
AS_OF = D("2026-10-31")


def hazard(hazard_id: str = "HZ-1", severity: int = 3, expected_rate: float = 2.0) -> dict:
    return {
        "hazard_id": hazard_id,
        "device_family": "Fam",
        "hazard": "Occlusion",
        "harm": "Delayed therapy",
        "severity": severity,
        "expected_rate": expected_rate,
        "problem_codes": "A01; A02",
        "acceptability": "alarp",
    }


def exposure(months: list[str], units: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "device_family": ["Fam"] * len(months),
            "month": [D(m) for m in months],
            "units_in_service": [units] * len(months),
        }
    )


TWELVE = [
    f"{y}-{m:02d}-01" for y, m in [(2025, 11), (2025, 12)] + [(2026, k) for k in range(1, 11)]
]


def complaints(rows: list[tuple[str, str, str, str]]) -> pl.DataFrame:
    """(received_date, device_family, problem_code, patient_outcome) per complaint."""
    return pl.DataFrame(
        {
            "complaint_id": [f"C{i}" for i in range(len(rows))],
            "received_date": [D(r[0]) for r in rows],
            "device_family": [r[1] for r in rows],
            "problem_code": [r[2] for r in rows],
            "patient_outcome": [r[3] for r in rows],
        }
    )


def six_in_window() -> pl.DataFrame:
    rows = [("2026-01-10", "Fam", "A01", "none")] * 4 + [("2026-10-31", "Fam", "A02", "injury")] * 2
    rows += [
        ("2025-10-31", "Fam", "A01", "none"),  # before the trailing window: cumulative only
        ("2026-11-01", "Fam", "A01", "death"),  # after the night: never
        ("2026-05-01", "Other", "A01", "death"),  # another family
        ("2026-05-01", "Fam", "A03", "death"),  # a code the hazard does not map
    ]
    return complaints(rows)


def test_six_over_two_thousand_unit_years() -> None:
    # 12 months x 2,000 units in service = 24,000 unit-months = 2,000 unit-years.
    out = risk_feedback(pl.DataFrame([hazard()]), six_in_window(), exposure(TWELVE, 2000.0), AS_OF)
    assert out.schema == pl.Schema(RISK_FEEDBACK_SCHEMA)
    row = out.filter(pl.col("window_name") == "trailing_12_months").row(0, named=True)
    assert row["window_start"] == D("2025-11-01") and row["window_end"] == AS_OF
    assert row["occurrences"] == 6
    assert row["units_in_service_years"] == pytest.approx(2000.0)
    assert row["observed_rate_per_1000_per_year"] == pytest.approx(3.0)
    # Garwood: lower = chi2(0.025; 12)/2, upper = chi2(0.975; 14)/2 events, per 2 thousand years.
    assert row["ci_lower"] == pytest.approx(chi2.ppf(0.025, 12) / 2 / 2, rel=1e-9)
    assert row["ci_upper"] == pytest.approx(chi2.ppf(0.975, 14) / 2 / 2, rel=1e-9)
    assert row["ci_lower"] == pytest.approx(1.1010, abs=1e-4)  # 2.2018 events / 2
    assert row["ci_upper"] == pytest.approx(6.5298, abs=1e-4)  # 13.0597 events / 2
    assert row["update_required"] is False  # 1.10 < 2.0
    assert row["injuries"] == 2 and row["deaths"] == 0
    assert row["observed_max_severity"] == 2 and row["severity_exceeded"] is False
    cumulative = out.filter(pl.col("window_name") == "since_first_shipment").row(0, named=True)
    assert cumulative["occurrences"] == 7
    assert cumulative["window_start"] == D("2025-11-01")
    assert cumulative["units_in_service_years"] == pytest.approx(2000.0)


def test_update_required_at_the_boundary() -> None:
    # 1,000 unit-years: the scale is exactly 1, so the lower bound is chi2(0.025; 12)/2 exactly.
    # (alpha/2 computed as the model does: 1 - 0.95 is not exactly 0.05 in binary.)
    lower = chi2.ppf((1 - 0.95) / 2, 12) / 2
    hazards = pl.DataFrame(
        [
            hazard("HZ-BELOW", expected_rate=lower - 1e-6),
            hazard("HZ-EQUAL", expected_rate=lower),
            hazard("HZ-ABOVE", expected_rate=lower + 1e-6),
        ]
    )
    out = risk_feedback(
        hazards, six_in_window(), exposure(TWELVE, 1000.0), AS_OF, include_cumulative=False
    )
    assert out["ci_lower"][0] == lower
    flags = dict(zip(out["hazard_id"], out["update_required"], strict=True))
    assert flags == {"HZ-ABOVE": False, "HZ-BELOW": True, "HZ-EQUAL": False}
    assert (
        "risk file update required" in out.filter(pl.col("hazard_id") == "HZ-BELOW")["finding"][0]
    )


def test_severity_exceeded_and_mapping() -> None:
    rows = [
        ("2026-03-01", "Fam", "A01", "serious_injury"),
        ("2026-03-02", "Fam", "A01", "unknown"),
        ("2026-03-03", "Fam", "A02", "injury"),
    ]
    hazards = pl.DataFrame([hazard("HZ-S3", severity=3), hazard("HZ-S4", severity=4)])
    out = risk_feedback(
        hazards, complaints(rows), exposure(TWELVE, 100.0), AS_OF, include_cumulative=False
    )
    s3 = out.filter(pl.col("hazard_id") == "HZ-S3").row(0, named=True)
    s4 = out.filter(pl.col("hazard_id") == "HZ-S4").row(0, named=True)
    assert s3["observed_max_severity"] == 4 and s3["severity_exceeded"] is True
    assert s3["complaints_above_severity"] == 1 and s3["serious_injuries"] == 1
    assert "exceeds the assumed severity 3" in s3["finding"]
    assert s4["severity_exceeded"] is False
    # A stricter mapping (serious injury = 5) makes the severity-4 hazard exceeded too.
    strict = risk_feedback(
        hazards,
        complaints(rows),
        exposure(TWELVE, 100.0),
        AS_OF,
        include_cumulative=False,
        outcome_severity_map={"death": 5, "serious_injury": 5, "injury": 2},
    )
    assert strict["severity_exceeded"].to_list() == [True, True]


def test_no_exposure_gives_no_rate_and_no_update() -> None:
    out = risk_feedback(
        pl.DataFrame([hazard()]),
        six_in_window(),
        exposure([], 0.0).cast({"month": pl.Date, "units_in_service": pl.Float64}),
        AS_OF,
    )
    assert out.height == 2
    assert out["observed_rate_per_1000_per_year"].null_count() == 2
    assert out["update_required"].to_list() == [False, False]
    assert out["units_in_service_years"].to_list() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("as_of", "months", "start"),
    [
        ("2026-10-31", 12, "2025-11-01"),
        ("2026-10-15", 12, "2025-10-16"),
        ("2026-02-28", 12, "2025-03-01"),
        ("2024-03-30", 1, "2024-03-01"),  # 30 Feb does not exist: clipped to 29 Feb, +1 day
        ("2026-10-31", 36, "2023-11-01"),
    ],
)
def test_trailing_window_start(as_of: str, months: int, start: str) -> None:
    assert trailing_window_start(D(as_of), months) == D(start)


def test_partial_months_are_prorated() -> None:
    # Mid-month night: 16/31 of Oct 2025 + 11 whole months ... + 15/31 of Oct 2026 = 12 months.
    months = ["2025-09-01", "2025-10-01", *TWELVE]
    years = family_unit_years(exposure(months, 1200.0), D("2025-10-16"), D("2026-10-15"))
    assert years["units_in_service_years"][0] == pytest.approx(1200.0)
    assert years["first_month"][0] == D("2025-09-01")
