"""Figures of one version's evaluation, and of two versions overlaid.

Pure factories: analysis results (``analysis.evaluation``, ``analysis.compare``) in,
``go.Figure`` out. Curves arrive already thinned on the server, so a figure stays small at any
number of rows. Functions that draw curves take a list of ``(label, result)`` pairs: one pair
on the model page, two on the compare page (same chart, one trace per version).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.curves import Curve
from analysis.evaluation import Binned, ThresholdResult
from analysis.language import difference_digits, format_difference, interval_text
from analysis.multiclass import ClassCurve, ConfidenceCalibration

from .figures import styled
from .theme import BLUE, GREY, ORANGE, PALETTE, VERMILION

PCT = ".0%"


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _diagonal(fig: go.Figure, name: str) -> None:
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name=name,
                             line=dict(color=GREY, dash="dot", width=1), hoverinfo="skip"))


def _pct_axes(fig: go.Figure) -> go.Figure:
    fig.update_xaxes(tickformat=PCT, range=[0, 1])
    fig.update_yaxes(tickformat=PCT, range=[0, 1.02])
    return fig


def _thr(thresholds: np.ndarray) -> list[str]:
    return ["no threshold" if not np.isfinite(t) else
            ("above every score" if t > 1e300 else f"{t:.3f}") for t in thresholds]


# ------------------------------------------------------------------ binary curves
def roc_figure(curves: Sequence[tuple[str, Curve]],
               operating: Sequence[tuple[str, ThresholdResult]] = ()) -> go.Figure:
    """True positive rate against false positive rate; the area is the ROC AUC.
    ``operating`` marks each version's point at the chosen threshold."""
    fig = go.Figure()
    _diagonal(fig, "a coin toss (AUC 0.5)")
    for i, (label, c) in enumerate(curves):
        fig.add_trace(go.Scatter(
            x=c.x, y=c.y, mode="lines", name=f"{label} (AUC {c.area:.3f})",
            line=dict(color=_colour(i), width=2.5), customdata=_thr(c.thresholds),
            hovertemplate=(f"{label}, flagging scores ≥ %{{customdata}}:<br>finds %{{y:.1%}} of "
                           "the positives, with %{x:.1%} of the negatives flagged as false "
                           "alarms<extra></extra>")))
    for i, (label, t) in enumerate(operating):
        fpr = t.fp / (t.fp + t.tn) if t.fp + t.tn else 0.0
        tpr = t.tp / (t.tp + t.fn) if t.tp + t.fn else 0.0
        fig.add_trace(go.Scatter(
            x=[fpr], y=[tpr], mode="markers", name=f"{label} at threshold {t.threshold:.2f}",
            marker=dict(color=_colour(i), size=12, symbol="diamond",
                        line=dict(color="white", width=1)),
            hovertemplate=(f"{label} at threshold {t.threshold:.2f}: finds %{{y:.1%}} of the "
                           "positives, %{x:.1%} false alarm rate<extra></extra>")))
    return _pct_axes(styled(fig, "ROC curve: positives found against false alarms",
                            "False alarm rate (% of negatives flagged)",
                            "Positives found (% of positives, recall)"))


def pr_figure(curves: Sequence[tuple[str, Curve]], base_rate: float | None = None) -> go.Figure:
    """Precision against recall; the average precision summarises it."""
    fig = go.Figure()
    if base_rate is not None:
        fig.add_hline(y=base_rate, line=dict(color=GREY, dash="dot", width=1),
                      annotation_text=f"flagging at random: {base_rate:.0%}",
                      annotation_position="bottom left")
    for i, (label, c) in enumerate(curves):
        fig.add_trace(go.Scatter(
            x=c.x, y=c.y, mode="lines", name=f"{label} (average precision {c.area:.3f})",
            line=dict(color=_colour(i), width=2.5, shape="hv"), customdata=_thr(c.thresholds),
            hovertemplate=(f"{label}, flagging scores ≥ %{{customdata}}:<br>finds %{{x:.1%}} "
                           "of the positives; %{y:.1%} of those flagged really are positive"
                           "<extra></extra>")))
    return _pct_axes(styled(fig, "Precision–recall: how clean the alerts are as more are found",
                            "Recall (% of positives found)",
                            "Precision (% of flagged that are positive)"))


def calibration_figure(tables: Sequence[tuple[str, pd.DataFrame]]) -> go.Figure:
    """Observed rate of positives against the mean predicted probability per score bin."""
    fig = go.Figure()
    _diagonal(fig, "perfectly calibrated")
    for i, (label, t) in enumerate(tables):
        fig.add_trace(go.Scatter(
            x=t["mean_predicted"], y=t["observed_rate"], mode="lines+markers", name=label,
            line=dict(color=_colour(i), width=2), marker=dict(size=8),
            customdata=np.c_[t["bin_left"], t["bin_right"], t["rows"]],
            hovertemplate=(f"{label}, scores %{{customdata[0]:.0%}}–%{{customdata[1]:.0%}} "
                           "(%{customdata[2]:,} rows):<br>predicted %{x:.1%} on average, "
                           "%{y:.1%} really were positive<extra></extra>")))
    return _pct_axes(styled(fig, "Calibration: do predicted probabilities come true?",
                            "Predicted probability (%, mean per bin)",
                            "Observed share of positives (%)"))


def gain_figure(curves: Sequence[tuple[str, Curve]]) -> go.Figure:
    """Cumulative gain: share of positives found when flagging the top share of rows;
    the hover gives the lift (how many times better than flagging at random)."""
    fig = go.Figure()
    _diagonal(fig, "flagging at random")
    for i, (label, c) in enumerate(curves):
        with np.errstate(invalid="ignore", divide="ignore"):
            lift = np.where(c.x > 0, c.y / np.where(c.x > 0, c.x, 1), np.nan)
        fig.add_trace(go.Scatter(
            x=c.x, y=c.y, mode="lines", name=label, line=dict(color=_colour(i), width=2.5),
            customdata=lift,
            hovertemplate=(f"{label}: flagging the top %{{x:.1%}} of rows finds %{{y:.1%}} of "
                           "the positives,<br>%{customdata:.2f} times as many as flagging "
                           "at random<extra></extra>")))
    return _pct_axes(styled(fig, "Cumulative gain: positives found by flagging the top scores",
                            "Rows flagged, highest scores first (% of all rows)",
                            "Positives found (% of all positives)"))


def score_distribution_figure(scores: pd.DataFrame, threshold: float | None = None,
                              negative_name: str = "negatives",
                              positive_name: str = "positives") -> go.Figure:
    """Histogram of scores, one bar series per true class, with the threshold line."""
    centre = (scores["bin_left"] + scores["bin_right"]) / 2
    width = float((scores["bin_right"] - scores["bin_left"]).iloc[0])
    fig = go.Figure()
    for col, name, colour in (("negatives", negative_name, BLUE),
                              ("positives", positive_name, ORANGE)):
        fig.add_trace(go.Bar(
            x=centre, y=scores[col], width=width, name=f"truly {name}", marker_color=colour,
            opacity=0.7, customdata=np.c_[scores["bin_left"], scores["bin_right"]],
            hovertemplate=(f"%{{y:,}} truly {name} scored %{{customdata[0]:.3f}}–"
                           "%{customdata[1]:.3f}<extra></extra>")))
    fig.update_layout(barmode="overlay", bargap=0)
    if threshold is not None:
        fig.add_vline(x=threshold, line=dict(color=VERMILION, dash="dash"),
                      annotation_text=f"threshold {threshold:.2f}",
                      annotation_position="top right")
    return styled(fig, "Scores of each true class: the fewer overlap, the better",
                  "Score (predicted probability of positive)", "Rows (count)")


# ------------------------------------------------------------------ matrices and bars
def confusion_matrix_figure(matrix: np.ndarray, labels: Sequence[str],
                            title: str = "Confusion matrix: actual against predicted",
                            entity: str = "rows") -> go.Figure:
    """Counts per (actual, predicted) pair; colour is the share of each actual class."""
    m = np.asarray(matrix, dtype=float)
    totals = m.sum(axis=1, keepdims=True)
    share = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    labels = [str(x) for x in labels]
    fig = go.Figure(go.Heatmap(
        z=share, x=labels, y=labels, zmin=0, zmax=1, colorscale="Blues",
        colorbar=dict(title=dict(text="% of actual"), tickformat=PCT),
        text=m.astype(int), texttemplate="%{text:,}",
        customdata=np.dstack([m, np.repeat(totals, len(labels), axis=1)]),
        hovertemplate=(f"Actually %{{y}}, predicted %{{x}}: %{{customdata[0]:,}} {entity} "
                       "(%{z:.1%} of the %{customdata[1]:,} actually %{y})<extra></extra>")))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", side="bottom")
    size = max(340, 40 * len(labels) + 140)
    return styled(fig, title, "Predicted class", "Actual class", height=size)


def per_class_figure(per_class: pd.DataFrame) -> go.Figure:
    """Precision and recall of every class; an undefined one (a class never predicted, or
    never true) has no bar but the word 'undefined' and its reason in the hover text."""
    fig = go.Figure()
    labels = per_class["label"].astype(str)
    for col, name, colour, words, why in (
            ("precision", "Precision", BLUE, "of those predicted %{x}, %{y:.1%} really are",
             "never predicted, so its precision is undefined"),
            ("recall", "Recall", ORANGE, "of those really %{x}, %{y:.1%} are recognised",
             "never true in these rows, so its recall is undefined")):
        fig.add_trace(go.Bar(x=labels, y=per_class[col], name=name,
                             marker_color=colour, customdata=per_class["support"],
                             hovertemplate=(f"Class %{{x}}: {words} (%{{customdata:,}} rows "
                                            "of this class)<extra></extra>")))
        missing = per_class[col].isna().to_numpy()
        if missing.any():
            fig.add_trace(go.Scatter(
                x=labels[missing], y=[0.0] * int(missing.sum()), mode="text",
                text=["undefined"] * int(missing.sum()), textposition="top center",
                textfont=dict(color=colour), name=f"{name} undefined", showlegend=False,
                hovertemplate=f"Class %{{x}}: {why}<extra></extra>"))
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=PCT, range=[0, 1.02])
    return styled(fig, "Precision and recall of each class", "Class", "Share (%)")


#: how to read the charts of models of several classes: the model page's captions and the
#: report's, from this one place
CLASS_ROC_CAPTION = ("Each class against all the others, from its own probability: the higher "
                     "and further left its curve, the better the model tells that class apart.")
CONFIDENCE_CAPTION = ("Rows grouped by how sure the model is of its top class; each point is "
                      "a group, labelled with its number of rows. On the dotted line, a model "
                      "that is 80% sure is right 80% of the time.")
DASHES = ("solid", "dash", "dot", "dashdot")


def one_vs_rest_roc_figure(curves: Sequence[ClassCurve], entity: str = "rows") -> go.Figure:
    """The one-vs-rest ROC curve of every class, its AUC in the legend. Colours repeat
    after eight classes with another line style, so every class stays distinguishable."""
    fig = go.Figure()
    _diagonal(fig, "a coin toss (AUC 0.5)")
    n = len(PALETTE)
    for i, c in enumerate(curves):
        fig.add_trace(go.Scatter(
            x=c.roc.x, y=c.roc.y, mode="lines", name=f"class {c.label} (AUC {c.roc.area:.3f})",
            line=dict(color=PALETTE[i % n], width=2, dash=DASHES[(i // n) % len(DASHES)]),
            customdata=_thr(c.roc.thresholds),
            hovertemplate=(f"Class {c.label}, flagging probabilities ≥ %{{customdata}}:<br>"
                           f"finds %{{y:.1%}} of the {c.positives:,} {entity} of this class, "
                           f"with %{{x:.1%}} of the {c.negatives:,} others flagged"
                           "<extra></extra>")))
    rows = -(-(len(curves) + 1) // 3)  # legend rows in a half-width column
    return _pct_axes(styled(fig, "One class against the rest: ROC curve of each class",
                            "False alarm rate (% of the other classes' rows flagged)",
                            "Found (% of the class's rows, recall)",
                            height=max(360, 300 + 22 * rows)))


def confidence_figure(results: Sequence[tuple[str, ConfidenceCalibration]]) -> go.Figure:
    """Share correct against the mean top probability per confidence bin, each point
    labelled with its row count."""
    fig = go.Figure()
    _diagonal(fig, "right as often as it is sure")
    for i, (label, c) in enumerate(results):
        t = c.table
        fig.add_trace(go.Scatter(
            x=t["mean_confidence"], y=t["share_correct"], mode="lines+markers+text",
            name=label, line=dict(color=_colour(i), width=2), marker=dict(size=8),
            text=[f"{int(r):,}" for r in t["rows"]], textposition="bottom right", cliponaxis=False,
            textfont=dict(size=11, color=_colour(i)),
            customdata=np.c_[t["bin_left"], t["bin_right"], t["rows"]],
            hovertemplate=(f"{label}, top probability %{{customdata[0]:.0%}}–"
                           "%{customdata[1]:.0%} (%{customdata[2]:,} rows):<br>"
                           "%{x:.1%} sure on average, right %{y:.1%} of the time"
                           "<extra></extra>")))
    return _pct_axes(styled(fig, "Confidence: is the model right as often as it is sure?",
                            "Probability of the top class (%, mean per group)",
                            "Top class right (% of rows)"))


# ------------------------------------------------------------------ regression
def _binned_trace(b: Binned, hover: str, name: str) -> go.BaseTraceType:
    if b.kind == "points":
        return go.Scatter(x=b.x, y=b.y, mode="markers", name=name,
                          marker=dict(color=BLUE, size=6, opacity=0.6),
                          hovertemplate=hover + "<extra></extra>")
    return go.Heatmap(x=b.x, y=b.y, z=b.counts, colorscale="Blues", name=name,
                      colorbar=dict(title=dict(text="Rows")),
                      hovertemplate=hover + "<br>%{z:,} rows in this cell<extra></extra>")


def predicted_vs_actual_figure(b: Binned, unit: str = "") -> go.Figure:
    u = f" {unit}" if unit else ""
    fig = go.Figure(_binned_trace(b, f"Predicted %{{x:,.1f}}{u}, actually %{{y:,.1f}}{u}",
                                  "rows"))
    lo = float(np.nanmin(np.r_[b.x, b.y])) if len(b.x) else 0.0
    hi = float(np.nanmax(np.r_[b.x, b.y])) if len(b.x) else 1.0
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect prediction",
                             line=dict(color=VERMILION, dash="dot"), hoverinfo="skip"))
    how = "each point is a row" if b.kind == "points" else f"{b.rows:,} rows binned"
    u_ax = f" ({unit})" if unit else ""
    return styled(fig, f"Predicted against actual ({how})", f"Predicted{u_ax}", f"Actual{u_ax}")


def residuals_figure(b: Binned, unit: str = "") -> go.Figure:
    u = f" {unit}" if unit else ""
    fig = go.Figure(_binned_trace(
        b, f"Predicted %{{x:,.1f}}{u}: actual minus predicted %{{y:+,.1f}}{u}", "rows"))
    fig.add_hline(y=0, line=dict(color=VERMILION, dash="dot"))
    how = "each point is a row" if b.kind == "points" else f"{b.rows:,} rows binned"
    u_ax = f" ({unit})" if unit else ""
    return styled(fig, f"Errors against the prediction ({how})", f"Predicted{u_ax}",
                  f"Actual − predicted{u_ax}")


def error_distribution_figure(errors: pd.DataFrame, unit: str = "") -> go.Figure:
    u = f" {unit}" if unit else ""
    centre = (errors["bin_left"] + errors["bin_right"]) / 2
    fig = go.Figure(go.Bar(
        x=centre, y=errors["rows"], marker_color=BLUE, name="rows",
        width=float((errors["bin_right"] - errors["bin_left"]).iloc[0]),
        customdata=np.c_[errors["bin_left"], errors["bin_right"]],
        hovertemplate=(f"%{{y:,}} rows off by %{{customdata[0]:+,.1f}} to "
                       f"%{{customdata[1]:+,.1f}}{u}<extra></extra>")))
    fig.add_vline(x=0, line=dict(color=VERMILION, dash="dot"))
    fig.update_layout(bargap=0.02)
    u_ax = f" ({unit})" if unit else ""
    return styled(fig, "How far off the predictions are", f"Actual − predicted{u_ax}",
                  "Rows (count)")


# ------------------------------------------------------------------ segments and versions
def segment_figure(segments: pd.DataFrame, metric_name: str, unit: str = "",
                   higher_is_better: bool = True) -> go.Figure:
    """The metric per segment value with its 95% interval; the weakest value of each
    segment in vermilion. A value that is not judged (too few rows, metric undefined) gets a
    grey cross at the left edge with its reason, instead of a number and an interval."""
    t = segments.loc[(segments["note"] == "") & segments["estimate"].notna()]
    names = [f"{s}: {v}" for s, v in zip(t["segment"], t["value"])]
    colours = [VERMILION if w else BLUE for w in t["weakest"]]
    u = f" {unit}" if unit else ""
    fig = go.Figure(go.Scatter(
        x=t["estimate"], y=names, mode="markers", marker=dict(color=colours, size=11),
        error_x=dict(type="data", symmetric=False, array=(t["high"] - t["estimate"]).to_numpy(),
                     arrayminus=(t["estimate"] - t["low"]).to_numpy(), color=GREY),
        customdata=list(zip(t["rows"].astype(int), t["low"], t["high"],
                            np.where(t["weakest"], " — the weakest of this segment", ""))),
        hovertemplate=(f"%{{y}}: {metric_name} %{{x:.3f}}{u} (95% CI %{{customdata[1]:.3f}} to "
                       "%{customdata[2]:.3f}), %{customdata[0]:,} rows%{customdata[3]}"
                       "<extra></extra>"), name=metric_name))
    shown = _not_judged_trace(fig, segments, t["low"])
    fig.update_yaxes(autorange="reversed", type="category")
    better = "higher is better" if higher_is_better else "lower is better"
    height = max(300, 28 * (len(names) + shown) + 120)
    u_ax = f" ({unit})" if unit else ""
    return styled(fig, f"{metric_name} per segment, weakest in red ({better})",
                  f"{metric_name}{u_ax}", "Segment", height=height)


def _not_judged_trace(fig: go.Figure, segments: pd.DataFrame, lows: pd.Series) -> int:
    """Grey crosses, at the left edge, for the segment values that are not judged, with the
    reason as their text; how many there are."""
    rest = segments.loc[segments["note"] != ""]
    if rest.empty:
        return 0
    left = float(np.nanmin(lows.to_numpy(dtype=float))) if lows.notna().any() else 0.0
    fig.add_trace(go.Scatter(
        x=[left] * len(rest), y=[f"{s}: {v}" for s, v in zip(rest["segment"], rest["value"])],
        mode="markers+text", marker=dict(symbol="x", color=GREY, size=9),
        text=rest["note"].tolist(), textposition="middle right", textfont=dict(color=GREY),
        name="not judged", hovertemplate="%{y}: %{text}<extra></extra>"))
    return len(rest)


def versions_trend_figure(table: pd.DataFrame, metric_name: str, unit: str = "",
                          higher_is_better: bool = True) -> go.Figure:
    """The metric of every registered version, oldest to newest, with 95% intervals."""
    t = table.dropna(subset=["value"])
    colours = [ORANGE if "challenger" in a else (BLUE if "champion" in a else GREY)
               for a in t["aliases"]]
    u = f" {unit}" if unit else ""
    fig = go.Figure(go.Scatter(
        x=t["label"], y=t["value"], mode="lines+markers", name=metric_name,
        line=dict(color=GREY, width=1.5), marker=dict(size=12, color=colours),
        error_y=dict(type="data", symmetric=False, array=(t["high"] - t["value"]).to_numpy(),
                     arrayminus=(t["value"] - t["low"]).to_numpy(), color=GREY, thickness=1.2),
        customdata=list(zip(t["low"], t["high"], t["rows"].astype(int),
                            [a or "no alias" for a in t["aliases"]])),
        hovertemplate=(f"Version %{{x}} (%{{customdata[3]}}): {metric_name} %{{y:.3f}}{u}<br>"
                       "95% CI %{customdata[0]:.3f} to %{customdata[1]:.3f}, measured on "
                       "%{customdata[2]:,} rows<extra></extra>")))
    fig.update_xaxes(type="category")
    better = "higher is better" if higher_is_better else "lower is better"
    u_ax = f" ({unit})" if unit else ""
    return styled(fig, f"{metric_name} of every version with 95% intervals ({better})",
                  "Version (oldest to newest)", f"{metric_name}{u_ax}", height=320)


def segment_delta_figure(segments: pd.DataFrame, metric_name: str, a: int, b: int,
                         unit: str = "", higher_is_better: bool = True) -> go.Figure:
    """Per segment value: version b minus version a, with the paired 95% interval; values
    not judged are grey crosses with their reason."""
    t = segments.loc[(segments["note"] == "") & segments["delta"].notna()]
    names = [f"{s}: {v}" for s, v in zip(t["segment"], t["value"])]
    good = (t["delta"] > 0) if higher_is_better else (t["delta"] < 0)
    colours = [GREY if not sig else (BLUE if g else VERMILION)
               for sig, g in zip(t["significant"], good)]
    words = ["no significant difference" if not sig else
             (f"v{b} significantly better" if g else f"v{b} significantly worse")
             for sig, g in zip(t["significant"], good)]
    # the difference and its interval as the compare table writes them (enough digits that a
    # bound that is not zero never shows as zero beside "significantly better")
    said = []
    for r in t.itertuples():
        dg = difference_digits(r.metric, r.delta, r.low, r.high)
        said.append(f"{format_difference(r.metric, r.delta, unit, dg)} "
                    f"({interval_text(r.metric, r.low, r.high, unit, True, dg)})")
    fig = go.Figure(go.Scatter(
        x=t["delta"], y=names, mode="markers", marker=dict(color=colours, size=11),
        error_x=dict(type="data", symmetric=False, array=(t["high"] - t["delta"]).to_numpy(),
                     arrayminus=(t["delta"] - t["low"]).to_numpy(), color=GREY),
        customdata=list(zip(t["rows"].astype(int), said, words)),
        hovertemplate=(f"%{{y}}: v{b} minus v{a} = %{{customdata[1]}}, %{{customdata[0]:,}} "
                       "rows: %{customdata[2]}<extra></extra>"), name=f"v{b} − v{a}"))
    fig.add_vline(x=0, line=dict(color=GREY, dash="dot"))
    shown = _not_judged_trace(fig, segments, t["low"].clip(upper=0))
    fig.update_yaxes(autorange="reversed", type="category")
    height = max(300, 28 * (len(names) + shown) + 120)
    u_ax = f" ({unit})" if unit else ""
    better = "right is better" if higher_is_better else "left is better"
    return styled(fig, f"{metric_name}: version {b} minus version {a} per segment ({better})",
                  f"Difference in {metric_name}{u_ax}", "Segment", height=height)
