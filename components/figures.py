"""Pure figure factories: analysis results in, ``go.Figure`` out. No data access here.

Every figure gets a title, labelled axes with units and plain-words hover text, and the
colour-blind-safe palette of ``components.theme``.
"""
from __future__ import annotations

import plotly.graph_objects as go

from .theme import FONT, PALETTE

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
