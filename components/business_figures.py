"""Figures of business value: expected value per month against the threshold."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from analysis.business import ValueCurve, money

from .figures import styled
from .theme import BLUE, GREY, ORANGE, VERMILION


def value_curve_figure(curve: ValueCurve, threshold: float | None = None,
                       other: ValueCurve | None = None, label: str = "",
                       other_label: str = "") -> go.Figure:
    """Expected value per month at every threshold, with its 90% bootstrap band; the best
    threshold and the current one are marked. ``other`` overlays a second version."""
    cur = curve.currency
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=np.r_[curve.thresholds, curve.thresholds[::-1]],
        y=np.r_[curve.high, curve.low[::-1]], fill="toself", fillcolor="rgba(0,114,178,0.15)",
        line=dict(width=0), hoverinfo="skip", name="90% band", showlegend=True))
    fig.add_trace(go.Scatter(
        x=curve.thresholds, y=curve.value, mode="lines", line=dict(color=BLUE, width=2.5),
        name=label or "expected value",
        customdata=np.c_[curve.tp, curve.fp, curve.fn],
        hovertemplate=(f"Threshold %{{x:.2f}}: %{{y:,.0f}} {cur} a month<br>"
                       "on the evaluation rows: %{customdata[0]:,} caught, "
                       "%{customdata[1]:,} false alarms, %{customdata[2]:,} missed"
                       "<extra></extra>")))
    if other is not None:
        fig.add_trace(go.Scatter(
            x=other.thresholds, y=other.value, mode="lines",
            line=dict(color=ORANGE, width=2, dash="dash"), name=other_label or "other",
            hovertemplate=f"Threshold %{{x:.2f}}: %{{y:,.0f}} {cur} a month<extra></extra>"))
    best = curve.best_threshold
    fig.add_vline(x=best, line=dict(color=BLUE, dash="dot"),
                  annotation_text=f"best: {best:.2f} ({money(curve.best_value, cur)}/month)",
                  annotation_position="top right")
    if threshold is not None and abs(threshold - best) > 1e-9:
        fig.add_vline(x=threshold, line=dict(color=VERMILION, dash="dash"),
                      annotation_text=f"current: {threshold:.2f} "
                                      f"({money(curve.at(threshold), cur)}/month)",
                      annotation_position="bottom left")
    fig.add_hline(y=0, line=dict(color=GREY, width=1))
    return styled(fig, "Expected value per month at each threshold",
                  "Threshold (flag when the score is at least this)", f"Value per month ({cur})")
