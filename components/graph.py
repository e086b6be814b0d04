"""The one way a chart goes onto a page.

Every chart is placed with ``chart(...)``: a ``<figure>`` holding the Plotly graph and a
caption in plain words. Anything every chart should offer (e.g. a download menu) is added
here, once, for all of them.
"""
from __future__ import annotations

import plotly.graph_objects as go
from dash import dcc, html

from .figures import GRAPH_CONFIG


def chart(figure: go.Figure, id: str | dict, caption: str = "", className: str = "") -> html.Figure:
    """A titled figure with its caption. ``id`` is the dcc.Graph's id, for callbacks that
    update ``figure``."""
    return html.Figure([
        dcc.Graph(id=id, figure=figure, config=GRAPH_CONFIG),
        html.Figcaption(caption, className="small text-muted") if caption else None,
    ], className=f"md-chart {className}".strip())
