"""What a page section says, built once: its title, one takeaway sentence, the numbers behind
it, its figure and the caption that says how to read it.

A section builder (``sections.model``, ``sections.compare``) turns analysis results into
``Section`` objects — plain data and a Plotly figure from ``components``, no Dash. The page
renders them with Dash components (``components.section``); every report (PPTX, HTML, PDF)
renders the same objects (``reports``). A sentence is therefore written in one place, and a
report says exactly what its page says.

Layer: between ``components`` (figure factories) and ``pages`` / ``reports``; it imports
``analysis`` and ``components`` only.
"""
from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go


@dataclass(frozen=True)
class Section:
    """One chart with what it says: a section of a page, a slide in the deck, a section in
    the HTML report."""

    title: str  # short heading ("How well it ranks customers")
    takeaway: str  # one line a manager can repeat ("" when the chart speaks for itself)
    figure: go.Figure
    numbers: tuple[str, ...] = ()  # the numbers behind the takeaway, as the page shows them
    caption: str = ""  # how to read the chart
    key: str = ""  # the chart's id on the page and the file-name part ("roc-curve")
    in_report: bool = True  # False: a page-only chart (a detail the report leaves out)


def for_report(sections) -> list[Section]:
    """The sections a report shows, in page order."""
    return [s for s in sections if s is not None and s.in_report]


def by_key(sections) -> dict[str, Section]:
    return {s.key: s for s in sections if s is not None}
