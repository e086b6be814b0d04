"""Figures and tables of the experiment compare view. Results of ``analysis.experiments`` in,
figures out; no data access. Arrays are numpy so Plotly sends them as compact binary."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import html

from analysis.run_curves import Curves, GroupCurves
from analysis.run_importance import Importance
from analysis.run_selection import Axis

from .cards import scroll_table
from .figures import styled
from .graph import chart
from .theme import GREY, PALETTE

MAX_LINES = 40  # runs drawn as their own line (and legend entry); more share one grey trace


def _dimension(a: Axis) -> dict:
    values = np.where(np.isnan(a.values), np.nan, a.values)
    d = dict(label=a.label, values=values)
    if not a.numeric:
        d.update(tickvals=list(range(len(a.ticktext))), ticktext=list(a.ticktext))
        if len(a.ticktext) == 1:
            d["range"] = [-0.5, 0.5]
    return d


def parallel_coordinates(params: list[Axis], metric: Axis) -> go.Figure:
    """One line per run through the chosen params to the metric; the line's colour is the
    metric (Cividis: dark is low, yellow is high)."""
    dims = [_dimension(a) for a in params] + [_dimension(metric)]
    n = int(len(metric.values))
    fig = go.Figure(go.Parcoords(
        dimensions=dims,
        line=dict(color=metric.values, colorscale="Cividis", showscale=True,
                  colorbar=dict(title=dict(text=metric.label))),
        labelfont=dict(size=12), tickfont=dict(size=11),
    ))
    fig = styled(fig, f"How the parameters lead to {metric.label} ({n:,} runs)", "", "",
                 height=420)
    fig.update_layout(margin=dict(l=70, r=40, t=90, b=40))
    return fig


def scatter(x: Axis, y: Axis, color: Axis | None, labels: list[str]) -> go.Figure:
    """Each run as a point; coloured by a third column (a scale for numbers, one colour per
    value for text)."""
    fig = go.Figure()
    # numbers are formatted by Plotly in the browser: no per-point hover text to send
    x_hover = "%{x:.4g}" if x.numeric else "%{x}"
    c_hover = "" if color is None else (f"<br>{color.label}: %{{marker.color:.4g}}"
                                        if color.numeric else "<br>%{fullData.name}")
    hover = (f"%{{text}}<br>{x.label}: {x_hover}<br>{y.label}: %{{y:.4g}}{c_hover}"
             "<extra></extra>")
    if color is None or color.numeric:
        marker = dict(size=8, color=PALETTE[0], opacity=0.8)
        if color is not None:
            marker.update(color=color.values, colorscale="Cividis", showscale=True,
                          colorbar=dict(title=dict(text=color.label)))
        fig.add_trace(go.Scatter(x=_plot_x(x), y=y.values, mode="markers", marker=marker,
                                 text=labels, hovertemplate=hover,
                                 name="runs", showlegend=False))
    else:
        for i, value in enumerate(color.ticktext):
            pick = color.values == i
            fig.add_trace(go.Scatter(
                x=_plot_x(x)[pick], y=y.values[pick], mode="markers",
                marker=dict(size=8, color=PALETTE[i % len(PALETTE)], opacity=0.85),
                text=np.asarray(labels, dtype=object)[pick],
                hovertemplate=hover, name=f"{color.label} = {value}"))
    if not x.numeric:
        fig.update_xaxes(type="category", categoryorder="array",
                         categoryarray=list(x.ticktext))
    by = f", coloured by {color.label}" if color is not None else ""
    return styled(fig, f"{y.label} against {x.label}{by} ({len(y.values):,} runs)",
                  x.label, y.label, height=400)


def _plot_x(a: Axis):
    if a.numeric:
        return a.values
    return np.asarray(a.ticktext, dtype=object)[a.values.astype(int)]


def training_curves(c: Curves) -> go.Figure:
    """Each run's curve of one metric by step; smoothed (EMA) when asked, with the raw values
    faint behind. Above MAX_LINES runs all curves share one grey trace."""
    f = c.frame
    fig = go.Figure()
    runs = list(dict.fromkeys(f["run_id"]))
    smoothed = c.smoothing > 0
    if len(runs) <= MAX_LINES:
        for i, (rid, g) in enumerate(f.groupby("run_id", sort=False)):
            colour = PALETTE[i % len(PALETTE)]
            label = g["label"].iloc[0]
            if smoothed:
                fig.add_trace(go.Scatter(x=g["step"].to_numpy(), y=g["value"].to_numpy(),
                                         mode="lines", line=dict(color=colour, width=1),
                                         opacity=0.25, hoverinfo="skip", showlegend=False,
                                         legendgroup=label))
            fig.add_trace(go.Scatter(
                x=g["step"].to_numpy(), y=g[("smoothed" if smoothed else "value")].to_numpy(),
                mode="lines", line=dict(color=colour, width=2), name=label, legendgroup=label,
                hovertemplate=f"{label}, step %{{x}}: {c.key} %{{y:.4g}}"
                              + (" (smoothed)" if smoothed else "") + "<extra></extra>"))
    elif len(f):
        xs, ys = [], []
        for _, g in f.groupby("run_id", sort=False):
            xs += [g["step"].to_numpy(dtype=float), [np.nan]]
            ys += [g["smoothed" if smoothed else "value"].to_numpy(dtype=float), [np.nan]]
        fig.add_trace(go.Scatter(
            x=np.concatenate(xs).astype(np.float32), y=np.concatenate(ys).astype(np.float32),
            mode="lines",
            line=dict(color=GREY, width=1), opacity=0.5, name=f"{len(runs):,} runs",
            hovertemplate=f"step %{{x}}: {c.key} %{{y:.4g}}<extra></extra>"))
    how = f", smoothed (EMA weight {c.smoothing:g})" if smoothed else ""
    fig = styled(fig, f"{c.key} during training, {len(runs):,} runs{how}", "Step", c.key,
                 height=380)
    if len(runs) > 10:
        fig.update_layout(showlegend=len(runs) <= MAX_LINES, legend=dict(
            orientation="v", yref="paper", yanchor="top", y=1, xanchor="left", x=1.02))
    return fig


def grouped_curves(g: GroupCurves) -> go.Figure:
    """Mean curve per group of runs with its band (± one standard deviation or min–max)."""
    fig = go.Figure()
    band = "± 1 standard deviation" if g.band == "std" else "min–max"
    by = g.by.split(".", 1)[-1]
    for i, (label, n) in enumerate(g.groups):
        d = g.frame.loc[g.frame["group"] == label]
        colour = PALETTE[i % len(PALETTE)]
        name = f"{by} = {label} ({n} runs)"
        x = d["step"].to_numpy()
        fig.add_trace(go.Scatter(x=np.r_[x, x[::-1]],
                                 y=np.r_[d["high"].to_numpy(), d["low"].to_numpy()[::-1]],
                                 fill="toself", fillcolor=colour, opacity=0.18,
                                 line=dict(width=0), hoverinfo="skip", showlegend=False,
                                 legendgroup=name))
        fig.add_trace(go.Scatter(
            x=x, y=d["mean"].to_numpy(), mode="lines", line=dict(color=colour, width=2.5),
            name=name, legendgroup=name, customdata=np.c_[d["low"], d["high"], d["runs"]],
            hovertemplate=(f"{name}, step %{{x}}: mean {g.key} %{{y:.4g}}<br>band "
                           "%{customdata[0]:.4g} to %{customdata[1]:.4g} over "
                           "%{customdata[2]} runs<extra></extra>")))
    return styled(fig, f"Mean {g.key} by {by}, band {band}", "Step", g.key, height=380)


def importance_figure(imp: Importance) -> go.Figure:
    """The params whose importance can be told from noise (``imp.ranked``), longest bar on
    top, with their range over the folds as error bar and the Spearman correlation in the
    hover text. The others are not drawn: a bar would rank them."""
    t = imp.ranked.iloc[::-1]
    x = t["importance"].to_numpy(dtype=float)
    rho = ["–" if not np.isfinite(v) else f"{v:+.2f}" for v in t["spearman"].astype(float)]
    fig = go.Figure(go.Bar(
        x=x, y=t["param"].tolist(), orientation="h", marker_color=PALETTE[0],
        error_x=dict(type="data", symmetric=False,
                     array=t["high"].to_numpy(dtype=float) - x,
                     arrayminus=x - t["low"].to_numpy(dtype=float), color=GREY, thickness=1),
        customdata=np.c_[rho, t["values"].astype(str), t["low"].astype(float),
                         t["high"].astype(float)],
        hovertemplate=("%{y}: shuffling it costs %{x:.3f} of R² (%{customdata[2]:.3f} to "
                       "%{customdata[3]:.3f} across the folds)<br>rank correlation "
                       "%{customdata[0]}, %{customdata[1]} different values<extra></extra>"),
        name="importance"))
    metric = imp.metric.split(".", 1)[-1]
    height = max(240, 34 * len(t) + 120)
    left_out = len(imp.table) - len(t)
    rest = f"; {left_out} that cannot be told from noise not drawn" if left_out else ""
    return styled(fig, f"Which parameters matter for {metric} ({imp.runs} runs{rest})",
                  "Permutation importance (drop in R² when shuffled; range over folds)",
                  "Parameter", height=height)


def importance_table(imp: Importance):
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Parameter", "Importance (drop in R²)", "Range over the folds", "Told from noise?",
        "Rank correlation (Spearman)", "Different values")]))
    rows = [html.Tr([html.Th(r.param, scope="row"), html.Td(f"{r.importance:.3f}"),
                     html.Td(f"{r.low:.3f} to {r.high:.3f}"),
                     html.Td("yes" if r.clear else f"no: {r.why}"),
                     html.Td("–" if not np.isfinite(r.spearman) else f"{r.spearman:+.2f}"),
                     html.Td(f"{r.values}")])
            for r in imp.table.itertuples()]
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, className="w-auto",
                     id="cmp-importance-table")


def importance_box(imp: Importance) -> list:
    """The importance section: the sentence, a ranking chart of what can be told from noise
    (only when something can), what the rest and negative values mean, the full table."""
    parts = [html.P(imp.sentence, id="cmp-importance-sentence")]
    if not imp.ranked.empty:
        parts.append(chart(importance_figure(imp), id="cmp-importance",
                           caption="Only parameters that made the predictions worse when "
                                   "shuffled in every fold are ranked; the whisker is their "
                                   "range over the folds. Beside it, Spearman's rank "
                                   "correlation: +1 when larger values always go with a "
                                   "larger metric, −1 the reverse, 0 no trend."))
    if not imp.table.empty:
        if imp.noise_note:
            parts.append(html.P(imp.noise_note, className="small",
                                id="cmp-importance-noise"))
        parts.append(importance_table(imp))
    if imp.constant:
        parts.append(html.P(f"The same in every run (so they cannot matter here): "
                            f"{', '.join(imp.constant)}.", className="small text-muted"))
    parts += [html.P(n, className="small text-muted") for n in imp.notes]
    return parts


def comparison_table(table: pd.DataFrame, same: int, only_differences: bool, shown: int,
                     total: int):
    """Runs side by side: one row per field, one column per run; differing rows marked."""
    runs = list(table.columns[2:])
    head = html.Thead(html.Tr([html.Th("Field", scope="col")] +
                              [html.Th(r, scope="col") for r in runs]))
    rows = [html.Tr([html.Th(row[0], scope="row")] + [html.Td(v) for v in row[2:]],
                    className="md-differs" if row[1] and not only_differences else None)
            for row in table.itertuples(index=False)]
    note = []
    if only_differences and same:
        note.append(f"{same} fields with the same value in every run are hidden.")
    if shown < total:
        note.append(f"The first {shown} of {total:,} runs are shown.")
    if not rows:
        note.append("These runs do not differ in any field.")
    return html.Div([
        html.P(" ".join(note), className="small text-muted", id="cmp-table-note"),
        scroll_table(dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, bordered=True,
                               className="align-middle md-compare-table"),
                     "Runs side by side") if rows else None,
    ])
