"""Figures of production monitoring: performance over time, drift heat map, score drift."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.drift import PSI_LARGE, PSI_MODERATE, psi_word

from .figures import styled
from .theme import BLUE, GREY, ORANGE, PINK, VERMILION


def performance_over_time(performance: pd.DataFrame, metric_name: str, reference: float | None,
                          reference_low: float | None = None,
                          reference_high: float | None = None, unit: str = "",
                          window_kind: str = "month",
                          estimate: pd.DataFrame | None = None) -> go.Figure:
    """The metric of each judged window with its 95% CI, against the evaluation level; the
    other windows are grey crosses saying why (no labels, too few labelled rows, undefined).

    ``estimate`` (label, value, low, high, rows: ``PerformanceEstimate.series``): the metric
    estimated from the scores alone, drawn as a dotted line with its 95% band and its own
    legend entry, in every window it has — beside the measured value where labels exist,
    alone where they do not."""
    p = performance
    labelled = p.loc[p["note"] == ""]
    est = estimate.loc[np.isfinite(estimate["value"].to_numpy(dtype=float))] \
        if estimate is not None else None
    fig = go.Figure()
    if reference is not None:
        if reference_low is not None and np.isfinite(reference_low):
            fig.add_hrect(y0=reference_low, y1=reference_high, fillcolor=BLUE, opacity=0.10,
                          line_width=0)
        fig.add_hline(y=reference, line=dict(color=BLUE, dash="dash"),
                      annotation_text=f"at evaluation: {reference:.3f}",
                      annotation_position="top left")
    fig.add_trace(go.Scatter(
        x=labelled["label"], y=labelled["value"], mode="lines+markers", name=metric_name,
        line=dict(color=ORANGE), marker=dict(size=9),
        error_y=dict(type="data", symmetric=False,
                     array=(labelled["high"] - labelled["value"]).to_numpy(),
                     arrayminus=(labelled["value"] - labelled["low"]).to_numpy(),
                     color=ORANGE, thickness=1.2),
        customdata=np.c_[labelled["labelled"], labelled["low"], labelled["high"]],
        hovertemplate=(f"%{{x}}: {metric_name} %{{y:.3f}}<br>95% CI %{{customdata[1]:.3f}} to "
                       "%{customdata[2]:.3f}<br>%{customdata[0]:,} labelled rows<extra></extra>"),
    ))
    if est is not None and len(est):
        _estimate_traces(fig, est, metric_name)
    missing = p.loc[p["note"] != ""]
    if len(missing):
        lows = [labelled["low"].to_numpy(dtype=float), [reference or np.nan]]
        if est is not None:
            lows.append(est["low"].to_numpy(dtype=float))
        ymin = np.nanmin(np.concatenate(lows)) if len(labelled) or (
            est is not None and len(est)) else 0
        ymin = 0 if not np.isfinite(ymin) else ymin
        kind = np.where(missing["labelled"] == 0, "no labels yet",
                        np.where(missing["note"].str.contains("too few"),
                                 "too few rows to judge", "metric undefined"))
        for name, text, symbol in (("no labels yet", "no labels", "x"),
                                   ("too few rows to judge", "too few rows", "circle-open"),
                                   ("metric undefined", "undefined", "square-open")):
            part = missing.loc[kind == name]
            if part.empty:
                continue
            fig.add_trace(go.Scatter(
                x=part["label"], y=[ymin] * len(part), mode="markers+text", name=name,
                marker=dict(symbol=symbol, color=GREY, size=9), text=[text] * len(part),
                textposition="top center", customdata=part["note"].to_numpy(dtype=object),
                hovertemplate="%{x}: not judged (%{customdata})<extra></extra>"))
    fig.update_xaxes(categoryorder="array", categoryarray=list(p["label"]))
    unit_txt = f" ({unit})" if unit else ""
    return styled(fig, f"{metric_name} in production, per {window_kind}, against evaluation",
                  window_kind.capitalize(), f"{metric_name}{unit_txt}")


def _estimate_traces(fig: go.Figure, est: pd.DataFrame, metric_name: str) -> None:
    """The estimate's band (its 95% interval) and its dotted line."""
    x = list(est["label"])
    fig.add_trace(go.Scatter(
        x=x + x[::-1], y=np.r_[est["high"].to_numpy(float), est["low"].to_numpy(float)[::-1]],
        fill="toself", fillcolor=PINK, opacity=0.18, line=dict(width=0), mode="lines",
        name="estimate's 95% interval", legendgroup="estimate", hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=x, y=est["value"], mode="lines+markers", name=f"{metric_name} estimated from scores",
        legendgroup="estimate", line=dict(color=PINK, dash="dot", width=2),
        marker=dict(symbol="diamond-open", size=9, color=PINK),
        customdata=np.c_[est["low"], est["high"], est["rows"]],
        hovertemplate=(f"%{{x}}: {metric_name} estimated %{{y:.3f}} from the scores of "
                       "%{customdata[2]:,} rows<br>95% interval %{customdata[0]:.3f} to "
                       "%{customdata[1]:.3f}<extra></extra>")))


def drift_heatmap(drift: pd.DataFrame) -> go.Figure:
    """PSI of every feature (rows) in every window (columns)."""
    table = drift.pivot_table(index="name", columns="label", values="psi", sort=False)
    order = drift.drop_duplicates("label")["label"].tolist()
    table = table.reindex(columns=order)
    table = table.loc[table.max(axis=1).sort_values().index]  # most drifted at the top
    words = np.vectorize(psi_word, otypes=[object])(table.to_numpy(dtype=float))
    fig = go.Figure(go.Heatmap(
        z=table.to_numpy(dtype=float), x=table.columns.tolist(), y=table.index.tolist(),
        colorscale="Cividis", zmin=0, zmax=max(0.3, float(np.nanmax(table.to_numpy()))),
        colorbar=dict(title=dict(text="PSI")),
        texttemplate="%{z:.2f}",
        customdata=words,
        hovertemplate="%{y} in %{x}: PSI %{z:.3f} (%{customdata})<extra></extra>",
    ))
    height = max(260, 40 * len(table) + 120)
    return styled(fig, f"Data drift: PSI of each input against evaluation "
                       f"(≥ {PSI_MODERATE} moderate, ≥ {PSI_LARGE} large)",
                  "Window", "Input", height=height)


def score_drift(score: pd.DataFrame, output_name: str) -> go.Figure:
    fig = go.Figure(go.Bar(
        x=score["label"], y=score["psi"], marker_color=[
            VERMILION if v >= PSI_LARGE else (ORANGE if v >= PSI_MODERATE else BLUE)
            for v in score["psi"]],
        hovertemplate=f"%{{x}}: PSI of the {output_name} %{{y:.3f}}<extra></extra>",
        name="PSI"))
    fig.add_hline(y=PSI_LARGE, line=dict(color=VERMILION, dash="dot"),
                  annotation_text="large shift", annotation_position="top left")
    return styled(fig, f"Drift of the model's {output_name} against evaluation", "Window",
                  "PSI", height=300)
