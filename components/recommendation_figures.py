"""The evidence chart beside each recommendation: estimates with their 95% intervals."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .figures import styled
from .theme import BLUE, GREY, ORANGE, VERMILION


def forest(labels: list[str], values: list[float], lows: list[float], highs: list[float],
           title: str, x_title: str, reference: float | None = None,
           reference_label: str = "", highlight: list[bool] | None = None) -> go.Figure:
    """One row per estimate: a point with its interval, against a reference line (0 for
    differences, the overall value for segments). Highlighted rows are drawn in vermilion."""
    values, lows, highs = (np.asarray(a, dtype=float) for a in (values, lows, highs))
    highlight = highlight or [False] * len(labels)
    colors = [VERMILION if h else BLUE for h in highlight]
    has_ci = np.isfinite(lows) & np.isfinite(highs)
    fig = go.Figure(go.Scatter(
        x=values, y=labels, mode="markers", marker=dict(size=11, color=colors),
        error_x=dict(type="data", symmetric=False, array=np.where(has_ci, highs - values, 0),
                     arrayminus=np.where(has_ci, values - lows, 0), color=GREY, thickness=1.5),
        customdata=np.c_[lows, highs],
        hovertemplate="%{y}: %{x:.3f} (95% CI %{customdata[0]:.3f} to %{customdata[1]:.3f})"
                      "<extra></extra>",
        name="estimate"))
    if reference is not None:
        fig.add_vline(x=reference, line=dict(color=ORANGE, dash="dash"),
                      annotation_text=reference_label, annotation_position="top")
    fig.update_yaxes(autorange="reversed")
    return styled(fig, title, x_title, "", height=max(220, 46 * len(labels) + 120))
