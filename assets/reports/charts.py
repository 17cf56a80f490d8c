"""Plotly figures of the PMS report sections, returned as HTML divs.

Deterministic: the caller gives a fixed div id, inputs arrive sorted, plotly.js is not included
(the family report template embeds it once per file).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import polars as pl

from assets.reports.render import PALETTE

REGION_COLOURS = {"EEA": "#0b5cad", "TR": "#c2410c", "XI": "#15803d", "rest of world": "#7c8796"}
CONFIG = {"displaylogo": False, "responsive": True}


def _div(fig: go.Figure, div_id: str, alt: str) -> str:
    """The chart's div inside a figure with its text alternative (for a screen reader, and
    printed under the chart: where its figures are in words)."""
    chart = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG)
    text = html.escape(alt)
    return (
        f'<figure class="chart-figure" role="img" aria-label="{text}">{chart}'
        f'<figcaption class="chart-alt">{text}</figcaption></figure>'
    )


def _layout(fig: go.Figure, title: str, height: int = 380) -> None:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 60, "t": 40, "b": 80},
        title={"text": title},
        legend={"orientation": "h", "y": -0.12, "yanchor": "top"},
    )


def units_by_region_chart(rows: Sequence[dict[str, Any]], div_id: str) -> str:
    """Grouped bars: units shipped per twelve months of the report and region (EEA, TR, XI, rest
    of world)."""
    fig = go.Figure()
    years = [str(r["year"]) for r in rows]
    for region, colour in REGION_COLOURS.items():
        fig.add_trace(
            go.Bar(x=years, y=[r[region] for r in rows], name=region, marker_color=colour)
        )
    _layout(fig, "Units shipped by region, twelve months to the period end")
    fig.update_layout(barmode="group", yaxis_title="units", xaxis_type="category")
    return _div(
        fig,
        div_id,
        "Bar chart: units shipped per region and twelve months to the period end; the same "
        "figures are in the table above.",
    )


def pareto_chart(rows: Sequence[dict[str, Any]], div_id: str, top: int = 20) -> str:
    """Complaints per problem code, bars sorted descending, with the cumulative share (%) as a
    line on a second axis. Rows as from sections.pareto (already ordered); the first `top`."""
    shown = list(rows)[:top]
    codes = [r["code"] for r in shown]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=codes,
            y=[r["count"] for r in shown],
            name="complaints",
            marker_color=PALETTE[0],
            customdata=[r.get("term", "") for r in shown],
            hovertemplate="%{x} %{customdata}: %{y}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=codes,
            y=[round(r["cumulative_pct"], 2) for r in shown],
            name="cumulative %",
            mode="lines+markers",
            yaxis="y2",
            line={"color": PALETTE[1]},
        )
    )
    _layout(fig, "Complaints by IMDRF problem code (Pareto)")
    fig.update_layout(
        xaxis_type="category",
        yaxis_title="complaints",
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "range": [0, 105],
            "tickvals": [0, 20, 40, 60, 80, 100],
            "title": "cumulative %",
            "showgrid": False,
        },
    )
    return _div(
        fig,
        div_id,
        "Pareto chart: complaints per IMDRF problem code, most frequent first, with the "
        "cumulative share; the same figures are in the table above.",
    )


def lot_heatmap(matrix: dict[str, Any], div_id: str) -> str:
    """Heatmap of complaint counts, lots (rows, most complaints on top) × problem codes."""
    fig = go.Figure(
        go.Heatmap(
            z=matrix["z"],
            x=matrix["codes"],
            y=matrix["lots"],
            colorscale="Blues",
            hovertemplate="lot %{y}, code %{x}: %{z} complaints<extra></extra>",
        )
    )
    _layout(
        fig,
        "Complaints by lot and problem code (lots with most complaints)",
        height=max(300, 60 + 24 * len(matrix["lots"])),
    )
    fig.update_layout(xaxis_type="category", yaxis={"type": "category", "autorange": "reversed"})
    return _div(
        fig,
        div_id,
        "Heat map: complaints per lot (rows) and problem code (columns) for the lots with most "
        "complaints; the same figures are in the table above.",
    )


def u_chart_limits(
    baseline_complaints: float, baseline_units: float, units: Sequence[float], sigmas: float = 3.0
) -> tuple[float, list[float | None]]:
    """Centre line and upper control limits of a u-chart for rates per 1,000 units.

    ū = baseline complaints / (baseline unit-months / 1,000) is the baseline rate per 1,000 units
    per month; with n_i = units in service in month i / 1,000 (the month's inspection units),
    UCL_i = ū + sigmas · sqrt(ū / n_i) (Montgomery, Introduction to Statistical Quality Control,
    u-chart). Months without exposure get None. Returns (ū, [UCL_i]).
    """
    if baseline_units <= 0:
        return 0.0, [None for _ in units]
    u_bar = baseline_complaints * 1000.0 / baseline_units
    limits: list[float | None] = [
        u_bar + sigmas * math.sqrt(u_bar / (n / 1000.0)) if n and n > 0 else None for n in units
    ]
    return u_bar, limits


def control_chart(
    rates: pl.DataFrame,
    signals: Sequence[dict[str, Any]],
    baseline_end: dt.date,
    div_id: str,
) -> str:
    """Monthly complaint rate per model with its exact Poisson 95% band, the u-chart 3-sigma
    upper control limit (dotted; baseline: the shown months before `baseline_end`, or all shown
    months when there are none) and a marker at every month with a family signal."""
    fig = go.Figure()
    highest = 0.0
    models = rates.select("device_model").unique().sort("device_model")["device_model"].to_list()
    for i, model in enumerate(models):
        series = rates.filter(pl.col("device_model") == model).sort("month")
        months = [m.isoformat() for m in series["month"].to_list()]
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=months + months[::-1],
                y=series["rate_ci_upper"].to_list() + series["rate_ci_lower"].to_list()[::-1],
                fill="toself",
                fillcolor=colour,
                opacity=0.12,
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                name=f"{model} 95% interval",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=months,
                y=series["rate_per_1000"].to_list(),
                mode="lines+markers",
                name=model,
                line={"color": colour, "width": 2},
                marker={"size": 4},
                customdata=list(
                    zip(
                        series["complaints"].to_list(),
                        [round(u) for u in series["units_in_service"].to_list()],
                        strict=True,
                    )
                ),
                hovertemplate="%{x|%b %Y}: %{y:.3f} per 1,000<br>%{customdata[0]} complaints, "
                "%{customdata[1]} units in service<extra>" + model + "</extra>",
            )
        )
        base = series.filter(pl.col("month") < baseline_end)
        if base.is_empty():
            base = series
        _, ucl = u_chart_limits(
            float(base["complaints"].sum()),
            float(base["units_in_service"].sum()),
            series["units_in_service"].to_list(),
        )
        fig.add_trace(
            go.Scatter(
                x=months,
                y=[None if u is None else round(u, 6) for u in ucl],
                mode="lines",
                name=f"{model} UCL (3σ)",
                line={"color": colour, "width": 1, "dash": "dot"},
                hovertemplate="%{x|%b %Y}: UCL %{y:.3f}<extra>" + model + "</extra>",
            )
        )
        highest = max([highest, *(r for r in series["rate_per_1000"].to_list() if r is not None)])
    if signals:
        top = max(highest * 1.5, 0.001)
        fig.add_trace(
            go.Scatter(
                x=[s["month"].isoformat() for s in signals],
                y=[top] * len(signals),
                mode="markers",
                name="family signal",
                marker={"symbol": "triangle-down", "size": 11, "color": "#b91c1c"},
                customdata=[s["label"] for s in signals],
                hovertemplate="%{x|%b %Y}: %{customdata}<extra>signal</extra>",
            )
        )
    fig.update_yaxes(range=[0, max(highest * 1.6, 0.001)])
    _layout(fig, "Complaints per 1,000 units in service, by month, with control limits", 440)
    fig.update_layout(yaxis_title="per 1,000 units")
    return _div(
        fig,
        div_id,
        "Line chart: each model's complaints per 1,000 units in service by month, with its exact "
        "95% band and u-chart upper control limit; triangles mark months with a family signal. "
        "The period's rates and intervals are in the table above.",
    )
