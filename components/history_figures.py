"""The retraining story's chart: what each retraining did, with paired 95% intervals."""
from __future__ import annotations

import plotly.graph_objects as go

from .recommendation_figures import forest


def retraining_effects_figure(rows: list[tuple[str, float, float, float, bool]],
                              title: str, x_title: str) -> go.Figure:
    """One row per retraining ('v3 vs v2'): the difference against the version before, with
    its paired 95% interval, against a line at no difference. Rows flagged True (worse) are
    drawn in vermilion. ``rows``: (label, delta, low, high, worse), oldest first."""
    labels, deltas, lows, highs, worse = (list(x) for x in zip(*rows)) if rows else \
        ([], [], [], [], [])
    return forest(labels, deltas, lows, highs, title, x_title, 0, "no change", worse)
