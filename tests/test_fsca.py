"""Advisory-notice scope (models/fsca.py) against a small traceability case worked by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl

from models.fsca import FSCA_SCOPE_SCHEMA, FSCA_SUMMARY_SCHEMA, fsca_scope, fsca_summary

D = dt.date.fromisoformat
AS_OF = D("2026-06-30")

# Component lot C1 is in L1, L2 and L3; L1 also has C2, which L4 shares; L5 is unrelated; L6 is
# made after the night.
LOTS = pl.DataFrame(
    {
        "lot_number": ["L1", "L2", "L3", "L4", "L5", "L6"],
        "device_model": ["Pump A", "Pump A", "Pump B", "Pump B", "Pump A", "Pump A"],
        "manufacture_date": [
            D(d)
            for d in [
                "2026-01-05",
                "2026-02-05",
                "2026-03-05",
                "2026-03-06",
                "2026-03-07",
                "2026-07-01",
            ]
        ],
        "expiry_date": [D("2031-01-05"), None, None, None, None, None],
        "component_lots": ["C1; C2", "C1", "C1;C9", "C2", "C7", "C1"],
    }
)
DISTRIBUTION = pl.DataFrame(
    {
        "ship_date": [
            D(d)
            for d in [
                "2026-02-01",
                "2026-03-01",
                "2026-02-10",
                "2026-04-01",
                "2026-03-01",
                "2026-07-01",
                "2026-04-01",
            ]
        ],
        "device_model": ["Pump A"] * 5 + ["Pump A", "Pump B"],
        "lot_number": ["L1", "L1", "L1", "L1", "L2", "L2", "L4"],
        "country": ["DE", "DE", "FR", "DE", "DE", "IT", "NL"],
        "units": [10, 4, 5, -2, 7, 50, 3],
    }
)
PRODUCTS = pl.DataFrame(
    {
        "device_model": ["Pump A", "Pump B"],
        "device_family": ["Pumps", "Pumps"],
        "product_code": ["FRN", "FRN"],
        "eu_class": ["IIb", "IIb"],
        "description": ["Volumetric pump", "Syringe pump"],
    }
)
TERMS = pl.DataFrame({"code": ["A0404"], "term": ["Occlusion"]})


def signals(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """(signal_id, method, scope_value) with code A0404, detected 2026-05-31."""
    return pl.DataFrame(
        {
            "signal_id": [r[0] for r in rows],
            "method": [r[1] for r in rows],
            "scope_value": [r[2] for r in rows],
            "code": ["A0404"] * len(rows),
            "detected_on": [D("2026-05-31")] * len(rows),
            "status": ["open"] * len(rows),
        },
        schema_overrides={"detected_on": pl.Date},
    )


def scope_of(sigs: pl.DataFrame, **kwargs) -> pl.DataFrame:
    return fsca_scope(sigs, LOTS, DISTRIBUTION, PRODUCTS, AS_OF, terms=TERMS, **kwargs)


def test_component_lot_shared_by_three_lots() -> None:
    out = scope_of(signals([("S1", "supplier_lot_poisson", "C1")]))
    assert out.schema == pl.Schema(FSCA_SCOPE_SCHEMA)
    got = out.select(
        "lot_number",
        "country",
        "units_shipped",
        "units_returned",
        "units_net",
        "first_ship_date",
        "last_ship_date",
    ).rows()
    assert got == [
        ("L1", "DE", 14, 2, 12, D("2026-02-01"), D("2026-03-01")),
        ("L1", "FR", 5, 0, 5, D("2026-02-10"), D("2026-02-10")),
        ("L2", "DE", 7, 0, 7, D("2026-03-01"), D("2026-03-01")),  # IT ships after the night
        ("L3", None, 0, 0, 0, None, None),  # made, not shipped: stock to hold
    ]  # L6 (made after the night) is not listed
    assert set(out["relation"]) == {"contains component lot C1"}
    assert set(out["component_lot"]) == {"C1"}
    assert not out["candidate"].any()
    first = out.row(0, named=True)
    assert first["code_term"] == "Occlusion" and first["product_code"] == "FRN"
    assert first["device_family"] == "Pumps" and first["expiry_date"] == D("2031-01-05")
    assert out.filter(pl.col("lot_number") == "L3")["device_model"][0] == "Pump B"

    summary = fsca_summary(out)
    assert summary.schema == pl.Schema(FSCA_SUMMARY_SCHEMA)
    row = summary.row(0, named=True)
    assert row["affected_lots"] == 3 and row["countries"] == "DE;FR"
    assert (row["units_shipped"], row["units_returned"], row["units_net"]) == (26, 2, 24)
    assert row["device_models"] == "Pump A;Pump B" and row["candidate_lots"] == 0


def test_lot_signal_lists_lots_sharing_a_component_as_candidates() -> None:
    out = scope_of(signals([("S2", "lot_poisson", "L1")]))
    relations = out.select("lot_number", "relation", "candidate").unique().sort("lot_number")
    assert relations.rows() == [
        ("L1", "signalled lot", False),
        ("L2", "shares component lot C1", True),
        ("L3", "shares component lot C1", True),
        ("L4", "shares component lot C2", True),
    ]
    # Signalled lot first, then candidates.
    assert out["candidate"].to_list() == [False, False, True, True, True]
    summary = fsca_summary(out).row(0, named=True)
    assert (summary["affected_lots"], summary["units_net"], summary["countries"]) == (
        1,
        17,
        "DE;FR",
    )
    assert (summary["candidate_lots"], summary["candidate_units_net"]) == (3, 10)
    assert summary["candidate_countries"] == "DE;NL"

    without = scope_of(signals([("S2", "lot_poisson", "L1")]), include_candidates=False)
    assert set(without["lot_number"]) == {"L1"}


def test_other_methods_statuses_and_empty_signals() -> None:
    sigs = signals([("S3", "prr", "FRN"), ("S4", "supplier_lot_poisson", "C7")])
    out = scope_of(sigs)
    assert out["signal_id"].unique().to_list() == ["S4"]
    assert out.rows(named=True)[0]["lot_number"] == "L5"
    assert scope_of(sigs, methods=["lot_poisson"]).is_empty()
    assert scope_of(sigs, statuses=["new"]).is_empty()
    empty = scope_of(signals([]))
    assert empty.is_empty() and empty.schema == pl.Schema(FSCA_SCOPE_SCHEMA)
    assert fsca_summary(empty).schema == pl.Schema(FSCA_SUMMARY_SCHEMA)


def test_signal_detected_after_the_night_is_ignored() -> None:
    late = signals([("S5", "lot_poisson", "L2")]).with_columns(detected_on=pl.lit(D("2026-07-01")))
    assert scope_of(late).is_empty()


def test_another_familys_lot_reaches_a_family_only_through_a_shared_component() -> None:
    # Issue 17: a lot signal of one family was listed in three other families' PSURs with 0 lots
    # and no link. Pump B now belongs to another family (Syringes); a Monitors family has lot L5's
    # component C7 only, which the signalled lot L1 does not contain.
    products = PRODUCTS.with_columns(
        device_family=pl.when(pl.col("device_model") == "Pump B")
        .then(pl.lit("Syringes"))
        .otherwise(pl.col("device_family"))
    )
    lots = pl.concat(
        [
            LOTS,
            pl.DataFrame(
                {
                    "lot_number": ["M1"],
                    "device_model": ["Monitor M"],
                    "manufacture_date": [D("2026-01-01")],
                    "expiry_date": [None],
                    "component_lots": ["C7"],
                }
            ),
        ],
        how="vertical_relaxed",
    )
    products = pl.concat(
        [
            products,
            pl.DataFrame(
                {
                    "device_model": ["Monitor M"],
                    "device_family": ["Monitors"],
                    "product_code": ["DXN"],
                    "eu_class": ["IIa"],
                    "description": ["Monitor"],
                }
            ),
        ]
    )
    scope = fsca_scope(
        signals([("S2", "lot_poisson", "L1")]), lots, DISTRIBUTION, products, AS_OF, terms=TERMS
    )
    by_family = {
        f: fsca_summary(scope.filter(pl.col("device_family") == f))
        for f in ("Pumps", "Syringes", "Monitors")
    }
    pumps = by_family["Pumps"].row(0, named=True)
    assert pumps["affected_lots"] == 1 and pumps["candidate_lots"] == 1  # L2 shares C1
    syringes = by_family["Syringes"].row(0, named=True)
    # L3 shares C1 with L1, L4 shares C2: the link the report shows
    assert (syringes["affected_lots"], syringes["units_net"]) == (0, 0)
    assert syringes["candidate_lots"] == 2
    assert syringes["shared_component_lots"] == "C1;C2"
    assert by_family["Monitors"].is_empty()  # no shared component: not in its report

    from assets.reports.sections import conclusion_points, summary_statements

    points = conclusion_points([], [], [syringes], [])
    assert points == [
        "Lot signal S2 (L1, another family's lot): 2 lot(s) of this family share its component "
        "lot C1;C2, 3 units net in the field: candidates for the same action."
    ]
    serious = {"total": 0, "by_region": [], "by_authority": []}
    statements = summary_statements(serious, [], [], [syringes], [], [])
    assert any(
        "reach this one through a shared component lot: L1 (component lot C1;C2" in s
        for s in statements
    )
    assert not any("units net in the field in the signalled lots" in s for s in statements)
