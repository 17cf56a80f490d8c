"""Generation scales and the fixed calendar."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

EXTRACT_DATE = dt.date(2026, 10, 31)  # the night of the last extract
AS_OF = EXTRACT_DATE  # the night the demo run replays
DAILY_FILE_DAYS = 14  # the last 14 days of complaint versions come as daily files


@dataclass(frozen=True)
class Scale:
    name: str
    start: dt.date
    complaints: int  # target number of complaints (not versions)
    maude_reports: int  # MAUDE reports of all other manufacturers
    openfda_records: int
    service_records: int
    lot_scale: float  # production lots and supplier lots grow by this factor
    complaint_chunk: int  # complaints whose rows are built at once (bounds memory)
    maude_chunk: int  # MAUDE reports built and written at once
    mdrfoi_old_share: float = 0.3  # share of old-file master rows in the 77-field layout


SCALES: dict[str, Scale] = {
    "demo": Scale("demo", dt.date(2023, 1, 1), 12_000, 50_000, 300, 3_000, 1.0, 400_000, 100_000),
    "medium": Scale(
        "medium", dt.date(2023, 1, 1), 120_000, 500_000, 2_000, 30_000, 3.0, 400_000, 250_000
    ),
    "maude": Scale(
        "maude",
        dt.date(2021, 11, 1),
        2_000_000,
        10_000_000,
        10_000,
        500_000,
        12.0,
        150_000,
        250_000,
    ),
}
