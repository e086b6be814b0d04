"""The one way a chart goes onto a page.

Every chart is placed with ``chart(...)``: a ``<figure>`` holding the Plotly graph, a download
menu (PNG / SVG / PDF image and CSV data, ``components.export``) and a caption in plain words.
Anything every chart should offer is added here, once, for all of them.
"""
from __future__ import annotations

import plotly.graph_objects as go
from dash import dcc, html

from .export import chart_key, download_menu
from .figures import GRAPH_CONFIG


def chart(figure: go.Figure, id: str | dict, caption: str = "", className: str = "",
          meta: dict | None = None, export: bool = True) -> html.Figure:
    """A titled figure with its caption. ``id`` is the dcc.Graph's id, for callbacks that
    update ``figure``.

    ``meta`` (optional: ``model``, ``version``, ``data_date``) names what the export footer
    says; without it the export works it out from the page's address. ``export=False``
    leaves the download menu out."""
    title = ""
    if isinstance(figure, go.Figure) and figure.layout.title and figure.layout.title.text:
        title = figure.layout.title.text
    return html.Figure([
        dcc.Graph(id=id, figure=figure, config=GRAPH_CONFIG),
        download_menu(id, title, meta) if export else None,
        html.Figcaption(caption, className="small text-muted") if caption else None,
    ], className=f"md-chart {className}".strip(), **{"data-md-chart": chart_key(id)})
