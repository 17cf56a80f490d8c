"""Which months the data cover: a month outside the coverage is "no data", never zero counts.

A firm whose complaint system was migrated without its history has shipments (the installed base)
years before its first complaint; an extract can lack a month; the night's own month is only
partly over. Judging those months as observed zeros invents a change at the start of the data and
a dip in the gap, and drags every baseline built over them. So, per device family and month of a
source (complaints, MAUDE reports, service records):

- **before the data begin**: months before the first record the source holds for the family (for
  complaints: the family's first complaint received; no complaint before it is in the data, so its
  months say nothing about the rate);
- **extract gap**: a month in which the whole source received almost nothing
  (`gap_share` of the median of the covered months before it, when that median is at least
  `gap_min_reference`): a missing extract, not a quiet month;
- **partial month**: the night's own month, covered for `share` = (day of the night) / (days in
  the month) of its length: its expected count is scaled by that share.

Every month a family has units in service gets a row, covered or not, with the reason in words.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

import polars as pl

from models.exposure import month_end

COVERAGE_SCHEMA = {
    "source": pl.String,
    "device_family": pl.String,
    "month": pl.Date,
    "received": pl.Int64,
    "covered": pl.Boolean,
    "share": pl.Float64,
    "reason": pl.String,
}


@dataclass(frozen=True)
class CoverageSettings:
    """Thresholds of `complaint_coverage` (config/pipeline.toml `[signals.coverage]`)."""

    # a month whose source-wide count is below this share of the reference is a gap ...
    gap_share: float = 0.2
    # ... when the reference (median of up to 12 covered months before it) is at least this many
    # records: a small source's quiet month is not a gap
    gap_min_reference: float = 20.0
    # covered months before a month needed to judge it as a gap
    gap_min_months: int = 3


def source_gaps(totals: dict[dt.date, int], settings: CoverageSettings) -> dict[dt.date, str]:
    """Months of a source whose total is a gap, with the reason. `totals`: records received per
    month, every month from the source's first to its last (zeros included)."""
    gaps: dict[dt.date, str] = {}
    kept: list[int] = []
    for month in sorted(totals):
        count = totals[month]
        reference = kept[-12:]
        if len(reference) >= settings.gap_min_months:
            median = float(statistics.median(reference))
            if median >= settings.gap_min_reference and count < settings.gap_share * median:
                gaps[month] = (
                    f"extract gap: {count} record(s) received in the month against a median of "
                    f"{median:g} over the {len(reference)} covered months before it"
                )
                continue
        kept.append(count)
    return gaps


def complaint_coverage(
    received: pl.DataFrame,
    exposure: pl.DataFrame,
    as_of: dt.date,
    settings: CoverageSettings = CoverageSettings(),
    source: str = "complaints",
) -> pl.DataFrame:
    """Coverage of one source per family and month.

    `received`: device_family, month (first day), received (records received that month, by
    family); `exposure`: device_family, month (months with units in service); `as_of`: the night.
    Returns COVERAGE_SCHEMA rows for every (family, month) of `exposure` up to the night's month,
    and of `received`, sorted by family and month.
    """
    night_month = as_of.replace(day=1)
    counts = (
        received.filter(pl.col("month") <= night_month)
        .group_by("device_family", "month")
        .agg(received=pl.col("received").sum().cast(pl.Int64))
    )
    grid = (
        pl.concat(
            [
                exposure.filter(pl.col("month") <= night_month).select("device_family", "month"),
                counts.select("device_family", "month"),
            ]
        )
        .unique()
        .join(counts, on=["device_family", "month"], how="left")
        .with_columns(pl.col("received").fill_null(0))
        .sort("device_family", "month")
    )
    if grid.is_empty():
        return pl.DataFrame(schema=COVERAGE_SCHEMA)
    firsts = dict(
        counts.filter(pl.col("received") > 0)
        .group_by("device_family")
        .agg(pl.col("month").min())
        .iter_rows()
    )
    totals_frame = counts.group_by("month").agg(pl.col("received").sum())
    totals = dict(totals_frame.iter_rows())
    gaps: dict[dt.date, str] = {}
    if totals:
        first, last = min(totals), max(totals)
        month, every = first, {}
        while month <= last:
            every[month] = int(totals.get(month, 0))
            month = month_end(month) + dt.timedelta(days=1)
        # the night's own month is partial: it is not judged as a gap
        every.pop(night_month, None)
        gaps = source_gaps(every, settings)
    partial = as_of.day / month_end(as_of).day
    rows = []
    for family, month, count in grid.iter_rows():
        first = firsts.get(family)
        if first is None or month < first:
            covered, share = False, 0.0
            reason = (
                f"before the data begin: no {source} received for {family} before "
                f"{first.isoformat()}"
                if first is not None
                else f"no {source} received for {family} yet"
            )
        elif month in gaps:
            covered, share, reason = False, 0.0, gaps[month]
        elif month == night_month and partial < 1.0:
            covered, share = True, partial
            reason = f"partial month: {as_of.day} of {month_end(month).day} days by the night"
        else:
            covered, share, reason = True, 1.0, ""
        rows.append((source, family, month, count, covered, share, reason))
    return pl.DataFrame(rows, schema=COVERAGE_SCHEMA, orient="row")
