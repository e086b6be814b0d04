"""Pure figure factories: analysis results in, ``go.Figure`` out. No data access here.

Every figure gets a title, labelled axes with units and plain-words hover text, and the
colour-blind-safe palette of ``components.theme``.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from .theme import BLUE, FONT, GREY, ORANGE, PALETTE

GRAPH_CONFIG = {"displaylogo": False, "responsive": True,
                "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def styled(fig: go.Figure, title: str, x_title: str, y_title: str, height: int = 360) -> go.Figure:
    """Apply ModelDeck's common look: title, axis titles, palette, font, margins."""
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=15)),
        font=FONT, colorway=PALETTE, template="plotly_white", height=height,
        margin=dict(l=60, r=20, t=60, b=50), hoverlabel=dict(font_size=13),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def metric_by_version(table: pd.DataFrame, metric_name: str, unit: str = "",
                      higher_is_better: bool = True) -> go.Figure:
    """The headline metric of every version with evaluation rows, oldest to newest;
    the champion and challenger are marked in the colour and the hover text."""
    t = table.dropna(subset=["value"]).sort_values("version")
    labels = [f"v{v}" for v in t["version"]]
    colors = [ORANGE if "challenger" in a else (BLUE if "champion" in a else GREY)
              for a in t["aliases"]]
    role = [a if a else (s or "—") for a, s in zip(t["aliases"], t["stage"])]
    unit_txt = f" {unit}" if unit else ""
    fig = go.Figure(go.Scatter(
        x=labels, y=t["value"], mode="lines+markers",
        line=dict(color=GREY, width=1.5), marker=dict(size=12, color=colors),
        customdata=list(zip(role, t["rows"], t["algorithm"])),
        hovertemplate=(f"Version %{{x}} (%{{customdata[0]}})<br>{metric_name}: %{{y:.3f}}"
                       f"{unit_txt}<br>%{{customdata[2]}}, measured on %{{customdata[1]:,}} "
                       "rows<extra></extra>"),
        name=metric_name,
    ))
    better = "higher is better" if higher_is_better else "lower is better"
    return styled(fig, f"{metric_name} of each version ({better})", "Version",
                  f"{metric_name}{' (' + unit + ')' if unit else ''}", height=320)
