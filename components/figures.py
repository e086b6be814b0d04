"""Pure figure factories: analysis results in, ``go.Figure`` out. No data access here.

Every figure gets a title, labelled axes with units and plain-words hover text, and the
colour-blind-safe palette of ``components.theme``.
"""
from __future__ import annotations

import plotly.graph_objects as go

from .theme import FONT, PALETTE, register_template

GRAPH_CONFIG = {"displaylogo": False, "responsive": True,
                "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


TEMPLATE = register_template()

#: pixels from the figure's top edge to the top of its title, and to the top of its legend
TITLE_PAD = 10
LEGEND_TOP = 38


def place_legend(fig: go.Figure, height: int) -> go.Figure:
    """The legend in one horizontal band under the title: its top a fixed number of pixels
    from the figure's top edge (in the figure's own coordinates), so a long legend that wraps
    onto several rows never rises into the title; Plotly then moves the plot down below the
    legend. Call again when the figure's height changes (an export does)."""
    fig.update_layout(legend=dict(orientation="h", xref="paper", x=0, xanchor="left",
                                  yref="container", y=1 - LEGEND_TOP / height,
                                  yanchor="top"))
    return fig


def styled(fig: go.Figure, title: str, x_title: str, y_title: str, height: int = 360) -> go.Figure:
    """Apply ModelDeck's common look: title, axis titles, palette, font, margins."""
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=15), yref="container",
                   y=1, yanchor="top", pad=dict(t=TITLE_PAD)),
        font=FONT, colorway=PALETTE, template=TEMPLATE, height=height,
        margin=dict(l=60, r=20, t=60, b=50), hoverlabel=dict(font_size=13),
    )
    place_legend(fig, height)
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def load_plotly() -> None:
    """Build one small figure of each kind the pages draw, so that Plotly's lazily loaded
    parts (the template, the trace and layout validators: about 0.3 s) load when the server
    starts rather than on the first page a user opens."""
    fig = styled(go.Figure([go.Scatter(x=[0], y=[0], error_y=dict(array=[0])),
                            go.Bar(x=[0], y=[0]), go.Heatmap(z=[[0]])]), "", "", "")
    fig.add_hrect(y0=0, y1=1)
    fig.add_hline(y=0)
    fig.to_plotly_json()

