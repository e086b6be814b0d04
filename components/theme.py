"""Colours and figure defaults shared by every chart and badge.

Chart colours are the Okabe–Ito palette, which stays distinguishable with the common forms of
colour blindness. Status badges always carry a word as well as a colour.
"""
from __future__ import annotations

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000"]
BLUE, ORANGE, GREEN, PINK, SKY, VERMILION, YELLOW, BLACK = PALETTE
GREY = "#6c757d"

# status -> (label, bootstrap colour, text class)
STATUS = {
    "ok": ("OK", "success", ""),
    "watch": ("Watch", "warning", "text-dark"),
    "act": ("Act", "danger", ""),
    "error": ("Can't read", "secondary", ""),
}

FONT = dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=13,
            color="#212529")


def _template():
    """Plotly's ``plotly_white`` look for the kinds of chart ModelDeck draws, without the
    defaults of maps, 3-D scenes and trace types it never uses: each figure carries a copy of
    its template, and the full one is ~6 KB of JSON and ~12 ms to copy per figure."""
    import plotly.graph_objects as go
    import plotly.io as pio
    base = pio.templates["plotly_white"]
    used = ("bar", "scatter", "heatmap", "histogram", "box", "parcoords", "table")
    layout = base.layout.to_plotly_json()
    for unused in ("geo", "polar", "scene", "ternary", "mapbox"):
        layout.pop(unused, None)
    data = {k: v for k, v in base.data.to_plotly_json().items() if k in used}
    return go.layout.Template(layout=layout, data=data)


def register_template() -> str:
    """Register ModelDeck's template with Plotly (once) and return its name."""
    import plotly.io as pio
    if "modeldeck" not in pio.templates:
        pio.templates["modeldeck"] = _template()
    return "modeldeck"
