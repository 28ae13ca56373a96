"""Plotly figures for the leaderboard, as pure functions of `data.py` tables.

Each returns a `plotly.graph_objects.Figure`; tests read `fig.data[i].r / .theta / .x / .y`.
"""

from __future__ import annotations

import html
import math

import pandas as pd
import plotly.graph_objects as go

from vbench_lite.leaderboard.data import pretty

_LAYOUT = {"margin": {"l": 90, "r": 90, "t": 60, "b": 40}, "height": 440}  # room for radar labels


def radar(row: pd.Series, dims: list[str], title: str = "", median: pd.Series | None = None) -> go.Figure:
    """Normalised dimension scores (percent) of one row around a circle; the board median dashed."""
    shown = [d for d in dims if not math.isnan(float(row.get(f"{d}:normalised", math.nan)))]
    theta = [pretty(d) for d in shown]
    values = [float(row[f"{d}:normalised"]) for d in shown]
    figure = go.Figure()
    if shown:
        # Repeat the first point so the outline closes.
        figure.add_trace(
            go.Scatterpolar(
                r=values + values[:1], theta=theta + theta[:1], fill="toself",
                name=html.escape(str(row.get("model", ""))),
            )
        )
        if median is not None:
            med = [float(median.get(d, math.nan)) for d in shown]
            figure.add_trace(
                go.Scatterpolar(r=med + med[:1], theta=theta + theta[:1], name="board median", line={"dash": "dash"})
            )
    upper = max([100.0, *values]) if values else 100.0
    lower = min([0.0, *values]) if values else 0.0
    figure.update_layout(
        title=title or "Normalised dimension scores (%)",
        polar={"radialaxis": {"range": [lower, upper]}},
        showlegend=True,
        legend={"orientation": "h", "y": -0.12},  # beside the polar it would cover the labels
        **{**_LAYOUT, "margin": {"l": 120, "r": 120, "t": 60, "b": 60}},
    )
    return figure


def bars_vs_median(row: pd.Series, median: pd.Series, dims: list[str], mode: str = "normalised") -> go.Figure:
    """Per-dimension bars of one row next to the board median, with the row's 95 % interval."""
    names = [pretty(d) for d in dims]
    values = [float(row.get(f"{d}:{mode}", math.nan)) for d in dims]
    upper = [float(row.get(f"{d}:{mode}_hi", math.nan)) - v for d, v in zip(dims, values, strict=True)]
    lower = [v - float(row.get(f"{d}:{mode}_lo", math.nan)) for d, v in zip(dims, values, strict=True)]
    figure = go.Figure(
        [
            go.Bar(
                x=names,
                y=values,
                name=html.escape(str(row.get("model", "this row"))),
                error_y={"type": "data", "array": upper, "arrayminus": lower, "visible": True},
            ),
            go.Bar(x=names, y=[float(median.get(d, math.nan)) for d in dims], name="board median"),
        ]
    )
    figure.update_layout(
        barmode="group", title=f"{mode.capitalize()} score vs board median (%)", yaxis_title="%", **_LAYOUT
    )
    return figure


def checkpoint_trend(trend: pd.DataFrame, dims: list[str]) -> go.Figure:
    """Total and each normalised dimension across a model's checkpoints (x: revision, by date)."""
    labels = [html.escape(r or run) for r, run in zip(trend["revision"], trend["run_id"], strict=True)]
    figure = go.Figure()
    if trend["total"].notna().any():
        figure.add_trace(go.Scatter(x=labels, y=trend["total"].tolist(), mode="lines+markers", name="Total"))
    for dim in dims:
        column = f"{dim}:normalised"
        if column in trend and trend[column].notna().any():
            figure.add_trace(go.Scatter(x=labels, y=trend[column].tolist(), mode="lines+markers", name=pretty(dim)))
    figure.update_layout(title="Across checkpoints (%, normalised)", xaxis_title="revision", **_LAYOUT)
    return figure


def compare_deltas(compared: pd.DataFrame, label_a: str, label_b: str) -> go.Figure:
    """B minus A per comparable dimension with the gate's paired interval (percent points)."""
    ok = compared[compared["comparable"] & compared["delta"].notna()]
    figure = go.Figure(
        go.Bar(
            x=[pretty(d) for d in ok["dimension"]],
            y=ok["delta"].tolist(),
            error_y={
                "type": "data",
                "array": (ok["delta_hi"] - ok["delta"]).tolist(),
                "arrayminus": (ok["delta"] - ok["delta_lo"]).tolist(),
                "visible": True,
            },
            name=html.escape(f"{label_b} − {label_a}"),
        )
    )
    figure.update_layout(
        title=html.escape(f"{label_b} minus {label_a}") + " (percent points, the gate's paired interval)",
        yaxis_title="Δ points",
        **_LAYOUT,
    )
    return figure
