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


def evidence_figure(rec, evidence, monitoring=None) -> tuple[go.Figure | None, str]:
    """The chart drawn beside a recommendation, and its caption. ``monitoring`` is the
    champion's production report (needed for retrain recommendations). The recommendations
    page and the reports both draw it through here."""
    from analysis.metrics import METRICS

    from .monitoring_figures import performance_over_time

    e = evidence
    if e is None:
        return None, ""
    metric = METRICS[e.metric]
    if rec.chart == "compare" and e.challenger is not None:
        c = e.challenger
        rows = [("all rows", c.delta, c.low, c.high, False)]
        rows += [(f"{g.column} = {g.value}", g.delta.delta, g.delta.low, g.delta.high,
                  g.delta.worse) for g in e.challenger_segments if g.delta is not None]
        labels, vals, lows, highs, hl = zip(*rows)
        caption = ("Paired on the same evaluation rows; an interval that stays right of the "
                   "line means the challenger is better there." if metric.higher_is_better else
                   "Paired on the same evaluation rows; left of the line means the "
                   "challenger's errors are smaller.")
        return forest(list(labels), vals, lows, highs,
                      f"{metric.name}: v{c.version} minus v{c.other}, with 95% intervals",
                      f"Difference in {metric.name}", 0, "no difference", list(hl)), caption
    if rec.chart == "monitoring":
        if monitoring is None:
            return None, ""
        return (performance_over_time(monitoring.performance, metric.name, monitoring.reference,
                                      monitoring.reference_low, monitoring.reference_high,
                                      e.unit, monitoring.window_kind),
                "Each point is one window's value with its 95% interval; the dashed line is "
                "the level at evaluation.")
    if rec.chart == "segments" and e.segments:
        segs = sorted(e.segments, key=lambda g: g.metric_value)
        flagged = rec.details.get("segment"), rec.details.get("value")
        return (forest([f"{g.column} = {g.value}" for g in segs],
                       [g.metric_value for g in segs], [g.low for g in segs],
                       [g.high for g in segs],
                       f"{metric.name} of v{e.champion} in each segment, with 95% intervals",
                       metric.name, e.overall, "overall",
                       [(g.column, g.value) == flagged for g in segs]),
                "The flagged segment is drawn in vermilion.")
    if rec.chart == "versions" and e.earlier:
        rows = sorted(e.earlier, key=lambda x: x.other)
        return (forest([f"v{x.version} minus v{x.other}" for x in rows],
                       [x.delta for x in rows], [x.low for x in rows], [x.high for x in rows],
                       f"{metric.name}: the champion against earlier versions",
                       f"Difference in {metric.name}", 0, "no difference",
                       [x.worse for x in rows]),
                "Paired on the same evaluation rows.")
    return None, ""
