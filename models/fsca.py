"""Advisory-notice scope: what a field safety corrective action (FSCA) and its field safety notice
(MDR Art. 89 and MDCG 2023-3; 21 CFR 806) must cover when a lot or a supplier-lot signal holds.

A supplier component-lot signal (`supplier_lot_poisson`, scope_value = the component lot id)
affects every production lot built from that component lot ('contains component lot X'). A lot
signal (`lot_poisson`, scope_value = the lot number) affects the lot itself ('signalled lot'); the
lots that share one of its component lots are listed as candidates ('shares component lot X',
`candidate` true): the cause may be the component, which the investigation has to rule in or out.

Per signal x affected lot x country: units shipped, returned and still in the field (shipped less
returned) with the first and last ship dates, from shipments up to the as-of night only. A lot
made by the night but not shipped yet keeps one row with no country and zero units (stock to
hold). Lots made after the night are ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

DEFAULT_FSCA_METHODS: tuple[str, ...] = ("lot_poisson", "supplier_lot_poisson")
LOT_METHODS = frozenset({"lot_poisson"})
COMPONENT_LOT_METHODS = frozenset({"supplier_lot_poisson"})
SIGNALLED_LOT = "signalled lot"

FSCA_SCOPE_SCHEMA: dict[str, pl.DataType] = {
    "signal_id": pl.String(),
    "method": pl.String(),
    "scope_value": pl.String(),
    "code": pl.String(),
    "code_term": pl.String(),
    "detected_on": pl.Date(),
    "signal_status": pl.String(),
    "relation": pl.String(),
    "candidate": pl.Boolean(),
    "lot_number": pl.String(),
    "component_lot": pl.String(),
    "device_family": pl.String(),
    "device_model": pl.String(),
    "product_code": pl.String(),
    "eu_class": pl.String(),
    "description": pl.String(),
    "manufacture_date": pl.Date(),
    "expiry_date": pl.Date(),
    "country": pl.String(),
    "units_shipped": pl.Int64(),
    "units_returned": pl.Int64(),
    "units_net": pl.Int64(),
    "first_ship_date": pl.Date(),
    "last_ship_date": pl.Date(),
    "as_of": pl.Date(),
}
FSCA_SCOPE_ORDER = ("signal_id", "candidate", "lot_number", "country")

FSCA_SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "signal_id": pl.String(),
    "method": pl.String(),
    "scope_value": pl.String(),
    "code": pl.String(),
    "code_term": pl.String(),
    "detected_on": pl.Date(),
    "device_models": pl.String(),
    "affected_lots": pl.Int64(),
    "countries": pl.String(),
    "units_shipped": pl.Int64(),
    "units_returned": pl.Int64(),
    "units_net": pl.Int64(),
    "candidate_lots": pl.Int64(),
    "candidate_countries": pl.String(),
    "candidate_units_net": pl.Int64(),
    # the component lots the candidate lots share with the signalled lot (';'-joined, sorted):
    # how a signal reaches a family none of whose lots was signalled
    "shared_component_lots": pl.String(),
}


def empty_fsca_scope() -> pl.DataFrame:
    return pl.DataFrame(schema=FSCA_SCOPE_SCHEMA)


def lot_components(lots: pl.DataFrame) -> pl.DataFrame:
    """One row per (lot_number, component_lot) from the ';'-separated `component_lots`."""
    return (
        lots.select("lot_number", component_lot=pl.col("component_lots").str.split(";"))
        .explode("component_lot")
        .with_columns(pl.col("component_lot").str.strip_chars())
        .filter(pl.col("component_lot").is_not_null() & (pl.col("component_lot") != ""))
        .unique()
        .sort("lot_number", "component_lot")
    )


def affected_lots(
    signals: pl.DataFrame, lots: pl.DataFrame, *, include_candidates: bool = True
) -> pl.DataFrame:
    """signal_id, lot_number, relation, candidate, component_lot for every signal.

    `signals`: signal_id, method, scope_value. Methods other than the lot and component-lot
    methods are ignored. A candidate sharing several component lots with the signalled lot keeps
    one row, its shared component lots ';'-joined in sorted order.
    """
    pairs = lot_components(lots)
    schema = {
        "signal_id": pl.String,
        "lot_number": pl.String,
        "relation": pl.String,
        "candidate": pl.Boolean,
        "component_lot": pl.String,
    }
    parts = [pl.DataFrame(schema=schema)]
    supplier = signals.filter(pl.col("method").is_in(sorted(COMPONENT_LOT_METHODS)))
    parts.append(
        supplier.select("signal_id", component_lot="scope_value")
        .join(pairs, on="component_lot", how="inner")
        .select(
            "signal_id",
            "lot_number",
            relation=pl.lit("contains component lot ") + pl.col("component_lot"),
            candidate=pl.lit(False),
            component_lot="component_lot",
        )
    )
    lot_signals = signals.filter(pl.col("method").is_in(sorted(LOT_METHODS))).select(
        "signal_id", signalled="scope_value"
    )
    parts.append(
        lot_signals.select(
            "signal_id",
            lot_number="signalled",
            relation=pl.lit(SIGNALLED_LOT),
            candidate=pl.lit(False),
            component_lot=pl.lit(None, pl.String),
        )
    )
    if include_candidates:
        shared = (
            lot_signals.join(pairs.rename({"lot_number": "signalled"}), on="signalled")
            .join(pairs, on="component_lot")
            .filter(pl.col("lot_number") != pl.col("signalled"))
            .group_by("signal_id", "lot_number")
            .agg(component_lot=pl.col("component_lot").unique().sort().str.join(";"))
        )
        parts.append(
            shared.select(
                "signal_id",
                "lot_number",
                relation=pl.lit("shares component lot ") + pl.col("component_lot"),
                candidate=pl.lit(True),
                component_lot="component_lot",
            )
        )
    frame = pl.concat(
        [p.select([pl.col(k).cast(v) for k, v in schema.items()]) for p in parts], how="vertical"
    )
    # A lot both signalled and a candidate of the same signal cannot happen (it is excluded
    # above), but a lot reached through two component-lot signals stays once per signal.
    return frame.unique(["signal_id", "lot_number"], keep="first", maintain_order=True).sort(
        "signal_id", "candidate", "lot_number"
    )


def shipments_by_lot_country(distribution: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Per (lot_number, country): shipped, returned, net units and ship dates up to `as_of`."""
    return (
        distribution.filter((pl.col("ship_date") <= as_of) & pl.col("lot_number").is_not_null())
        .group_by("lot_number", "country")
        .agg(
            ship_model=pl.col("device_model").drop_nulls().min(),
            units_shipped=pl.col("units").clip(lower_bound=0).sum().cast(pl.Int64),
            units_returned=(-pl.col("units").clip(upper_bound=0)).sum().cast(pl.Int64),
            first_ship_date=pl.col("ship_date").filter(pl.col("units") > 0).min(),
            last_ship_date=pl.col("ship_date").filter(pl.col("units") > 0).max(),
        )
        .with_columns(units_net=pl.col("units_shipped") - pl.col("units_returned"))
    )


def fsca_scope(
    signals: pl.DataFrame,
    lots: pl.DataFrame,
    distribution: pl.DataFrame,
    products: pl.DataFrame,
    as_of: dt.date,
    *,
    methods: Sequence[str] = DEFAULT_FSCA_METHODS,
    statuses: Sequence[str] | None = None,
    terms: pl.DataFrame | None = None,
    include_candidates: bool = True,
) -> pl.DataFrame:
    """Per signal x affected lot x country, what a field safety notice must list.

    `signals`: signal_id, method, scope_value, code, detected_on, status (marts.signals); only
    `methods` (and `statuses` when given) detected by `as_of` count. `lots`: lot_number,
    device_model, manufacture_date, expiry_date, component_lots. `distribution`: ship_date,
    device_model, lot_number, country, units (negative = returns). `products`: device_model,
    device_family, product_code, eu_class, description. `terms`: code, term (IMDRF), optional.
    Columns: FSCA_SCOPE_SCHEMA, sorted by FSCA_SCOPE_ORDER (no country last).
    """
    chosen = signals.filter(
        pl.col("method").is_in(list(methods)) & (pl.col("detected_on") <= as_of)
    )
    if statuses is not None:
        chosen = chosen.filter(pl.col("status").is_in(list(statuses)))
    if chosen.is_empty():
        return empty_fsca_scope()
    known_lots = lots.filter(
        pl.col("manufacture_date").is_null() | (pl.col("manufacture_date") <= as_of)
    )
    affected = affected_lots(chosen, known_lots, include_candidates=include_candidates)
    lot_info = known_lots.select(
        "lot_number", "device_model", "manufacture_date", "expiry_date"
    ).unique("lot_number", keep="first")
    shipped = shipments_by_lot_country(distribution, as_of)
    product_info = products.select(
        "device_model", "device_family", "product_code", "eu_class", "description"
    ).unique("device_model", keep="first")
    term_info = (
        terms.select("code", code_term="term").unique("code", keep="first")
        if terms is not None
        else pl.DataFrame(schema={"code": pl.String, "code_term": pl.String})
    )
    frame = (
        affected.join(
            chosen.select(
                "signal_id", "method", "scope_value", "code", "detected_on", signal_status="status"
            ),
            on="signal_id",
        )
        .join(term_info, on="code", how="left")
        .join(lot_info, on="lot_number", how="left")
        # A signalled lot missing from lots.csv but shipped still appears, with its model.
        .filter(pl.col("device_model").is_not_null() | ~pl.col("candidate"))
        .join(shipped, on="lot_number", how="left")
        .with_columns(
            device_model=pl.coalesce("device_model", "ship_model"),
            units_shipped=pl.col("units_shipped").fill_null(0),
            units_returned=pl.col("units_returned").fill_null(0),
            units_net=pl.col("units_net").fill_null(0),
            as_of=pl.lit(as_of, pl.Date),
        )
        .join(product_info, on="device_model", how="left")
    )
    return (
        frame.select([pl.col(k).cast(v) for k, v in FSCA_SCOPE_SCHEMA.items()])
        .sort(list(FSCA_SCOPE_ORDER), nulls_last=True)
        .filter(
            # A signalled lot neither in lots.csv nor shipped by the night has nothing to list.
            pl.col("device_model").is_not_null() | pl.col("country").is_not_null()
        )
    )


def fsca_summary(scope: pl.DataFrame) -> pl.DataFrame:
    """Per signal: lots, countries and units concerned (for a report), candidates apart.

    Countries are those with units shipped, ';'-joined in sorted order. Sorted by detected_on,
    signal_id. Columns: FSCA_SUMMARY_SCHEMA.
    """
    if scope.is_empty():
        return pl.DataFrame(schema=FSCA_SUMMARY_SCHEMA)
    firm = ~pl.col("candidate")
    summary = scope.group_by("signal_id").agg(
        pl.col("method", "scope_value", "code", "code_term", "detected_on").first(),
        device_models=pl.col("device_model")
        .filter(firm)
        .drop_nulls()
        .unique()
        .sort()
        .str.join(";"),
        affected_lots=pl.col("lot_number").filter(firm).n_unique().cast(pl.Int64),
        countries=pl.col("country")
        .filter(firm & (pl.col("units_shipped") > 0))
        .drop_nulls()
        .unique()
        .sort()
        .str.join(";"),
        units_shipped=pl.col("units_shipped").filter(firm).sum().cast(pl.Int64),
        units_returned=pl.col("units_returned").filter(firm).sum().cast(pl.Int64),
        units_net=pl.col("units_net").filter(firm).sum().cast(pl.Int64),
        candidate_lots=pl.col("lot_number").filter(~firm).n_unique().cast(pl.Int64),
        candidate_countries=(
            pl.col("country")
            .filter(~firm & (pl.col("units_shipped") > 0))
            .drop_nulls()
            .unique()
            .sort()
            .str.join(";")
        ),
        candidate_units_net=pl.col("units_net").filter(~firm).sum().cast(pl.Int64),
        shared_component_lots=pl.col("component_lot")
        .filter(~firm)
        .drop_nulls()
        .str.split(";")
        .explode()
        .unique()
        .sort()
        .str.join(";"),
    )
    return summary.select([pl.col(k).cast(v) for k, v in FSCA_SUMMARY_SCHEMA.items()]).sort(
        "detected_on", "signal_id"
    )
