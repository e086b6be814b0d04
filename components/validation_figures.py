"""The figure of the model page's "Validation and robustness" section (analysis.validation)."""
from __future__ import annotations

import plotly.graph_objects as go

from analysis.language import format_value, interval_text
from analysis.metrics import METRICS
from analysis.validation import Validation

from .figures import styled
from .theme import BLUE, GREY, SKY, VERMILION

#: kind -> (legend name, colour, marker symbol): colour and shape both tell the kinds apart
KIND_STYLE = {"test": ("Main test split", BLUE, "circle"),
              "fold": ("Cross-validation fold", SKY, "diamond"),
              "stress": ("Stress set", VERMILION, "square"),
              "other": ("Other split", GREY, "triangle-up")}


#: how to read the chart, on the page and in reports
CAPTION = ("Each dot is the version's score on one split, with its 95% interval; the dotted line "
           "is the main test split. Folds that sit close together mean the result does not "
           "hinge on which rows were held out.")


def split_lines(result: Validation, unit: str = "") -> tuple[str, ...]:
    """One line per split with each metric and its interval, as the page's table shows them."""
    out = []
    for r in result.splits:
        values = "; ".join(f"{METRICS[k].name} {format_value(k, r.metrics[k].value, unit)} "
                           f"({interval_text(k, r.metrics[k].low, r.metrics[k].high, unit)})"
                           for k in result.metrics if k in r.metrics)
        out.append(f"{r.split} ({r.description or r.kind}, {r.rows:,} rows): {values}")
    return tuple(out)


def splits_figure(result: Validation, metric: str | None = None, unit: str = "") -> go.Figure:
    """One dot per evaluation split with its 95% interval, for ``metric`` (the headline by
    default); a dotted line marks the main split's value."""
    metric = metric or result.headline
    info = METRICS[metric]
    u = f" {unit}" if unit and info.kind == "unit" else ""
    fig = go.Figure()
    rows = [r for r in result.splits if metric in r.metrics]
    for kind, (name, colour, symbol) in KIND_STYLE.items():
        group = [r for r in rows if (r.kind if r.kind in KIND_STYLE else "other") == kind]
        if not group:
            continue
        ci = [r.metrics[metric] for r in group]
        fig.add_trace(go.Scatter(
            x=[c.value for c in ci], y=[r.split for r in group], mode="markers", name=name,
            marker=dict(color=colour, size=11, symbol=symbol),
            error_x=dict(type="data", symmetric=False, color=GREY,
                         array=[c.high - c.value for c in ci],
                         arrayminus=[c.value - c.low for c in ci]),
            customdata=[(c.low, c.high, r.rows, r.description or r.kind)
                        for c, r in zip(ci, group)],
            hovertemplate=(f"%{{y}} (%{{customdata[3]}}): {info.name} %{{x:.3f}}{u}<br>95% CI "
                           "%{customdata[0]:.3f} to %{customdata[1]:.3f}, %{customdata[2]:,} "
                           "rows<extra></extra>")))
    main = next((r for r in rows if r.split == result.main), None)
    if main is not None:
        fig.add_vline(x=main.metrics[metric].value, line=dict(color=BLUE, dash="dot", width=1))
    order = [r.split for r in rows]
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=order,
                     autorange="reversed")
    better = "higher is better" if info.higher_is_better else "lower is better"
    u_ax = f" ({unit})" if u else ""
    return styled(fig, f"{info.name} on each evaluation split, with 95% intervals ({better})",
                  f"{info.name}{u_ax}", "Evaluation split",
                  height=max(300, 30 * len(order) + 140))
