"""A page section drawn from a ``sections.Section``: its title, its takeaway sentence and its
chart with the caption. The report lays out the same object (``reports``), so the page and its
export say the same words."""
from __future__ import annotations

from dash import html

from .graph import chart

#: class of a takeaway sentence on a page (the HTML report uses the same name)
TAKEAWAY_CLASS = "md-takeaway"


def takeaway(section, id: str | None = None, className: str = "small fw-semibold mb-1"):
    """The section's takeaway as a paragraph, or None when it has none."""
    if not section.takeaway:
        return None
    kw = {"id": id} if id else {}
    return html.P(section.takeaway, className=f"{TAKEAWAY_CLASS} {className}".strip(), **kw)


def section_view(section, *, title: bool = True, takeaway_id: str | None = None,
                 meta: dict | None = None):
    """Title (a third-level heading), takeaway and chart of one section; the chart's id is
    the section's key."""
    return html.Div([
        html.H3(section.title, className="h6 mt-2 mb-1") if title else None,
        takeaway(section, takeaway_id),
        chart(section.figure, id=section.key, caption=section.caption, meta=meta),
    ], className="md-section")
