"""`/monitoring/<name>` — how a model does in production: performance over time, drift."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import html

from analysis.drift import psi_word
from analysis.business import money
from analysis.estimate_sentences import summary_sentences
from analysis.estimation import drawn_estimate, model_estimate
from analysis.evaluation import parse_threshold
from analysis.metrics import METRICS
from analysis.monitoring import model_monitoring, monitoring_sentences, performance_caption
from components.graph import chart
from components.messages import not_found
from components.monitoring_figures import drift_heatmap, performance_over_time, score_drift
from components.shell import model_page_heading

from ._data import deck, model_or_message, one, staged_body, staged_callbacks

dash.register_page(__name__, path_template="/monitoring/<name>", name="Monitoring",
                   title=lambda name=None, **_: f"Monitoring {name} · ModelDeck")


def layout(name: str | None = None, version: str | None = None, threshold: str | None = None,
           **_query):
    version, threshold = one(version), one(threshold)
    # ?threshold= sets the estimate's threshold (default: the best one for the business
    # settings); an unusable value is said, and 0.5 used as on the model page
    t, t_message = parse_threshold(threshold) if threshold not in (None, "") else (None, "")
    try:
        v = int(version) if version not in (None, "") else None
    except ValueError:
        return not_found(f"'{version}' is not a version number.", f"/monitoring/{name}",
                         "Show the champion")
    model, message = model_or_message(name)
    if model is None:
        return message
    # The page appears at once; its body arrives through the callbacks below: the outline
    # first (each window's value, from counts the engine returns quickly), then the whole
    # (intervals, drift, the estimate without labels). Both are cached by data version.
    return html.Div([
        *model_page_heading(model.name, "Monitoring", f"{model.name} in production", "h3"),
        dbc.Alert(t_message, color="warning", id="threshold-message") if t_message else None,
        *staged_body("monitoring", {"model": model.name, "version": v, "threshold": t},
                     "Reading the production rows…"),
    ])


def _key(version: int | None, threshold: float | None) -> tuple:
    return ("monitoring", version, threshold)


fill, fill_whole = staged_callbacks(
    "monitoring", lambda ref: _key(ref["version"], ref["threshold"]),
    lambda ref, outline: monitoring_body(ref["model"], ref["version"], ref["threshold"],
                                         outline),
    {"version": (int, type(None)), "threshold": (int, float, type(None))})


def monitoring_body(name: str, version: int | None, threshold: float | None,
                    outline: bool = False):
    """The page below its heading: the whole, or with ``outline`` each window's value only
    (no intervals, drift or estimate; they are said to be on their way)."""
    d = deck()
    model, v, report = model_monitoring(d, name, version, intervals=not outline)
    if report is None:
        return dbc.Alert("No production data is registered for this model. "
                         "docs/registry-format.md explains the monitoring table.",
                         color="info")
    if report.performance.empty:
        return [dbc.Alert(f"Version {report.version} has no production rows in this "
                          "registry.", color="info", id="no-production-rows"),
                dbc.Button("Show the champion", href=f"/monitoring/{model.name}", size="sm")]
    metric = METRICS[report.metric]
    unit = model.target_unit if metric.kind == "unit" else ""
    perf = report.performance
    est = model_estimate(d, model.name, v, threshold)[2] \
        if model.task == "binary" and not outline else None
    estimate = drawn_estimate(est, report.metric)
    said = monitoring_sentences(report, unit, pending=True) if outline else \
        summary_sentences(report, est, unit)
    parts = [
        html.P(f"Version {report.version}, {perf['rows'].sum():,} production rows in "
               f"{len(perf)} {report.window_kind}s.", className="text-muted"),
        html.Ul([html.Li(s) for s in said], id="monitoring-summary"),
        chart(performance_over_time(perf, metric.name, report.reference, report.reference_low,
                                    report.reference_high, unit, report.window_kind,
                                    estimate),
              id="performance-over-time",
              caption=performance_caption(metric.name, report.window_kind,
                                          estimate is not None, intervals=not outline)),
    ]
    if outline:
        parts.append(html.P("Working out the intervals, how the inputs drift"
                            + (" and what the scores say about the windows without labels"
                               if model.task == "binary" else "") + "…",
                            className="text-muted", role="status", id="monitoring-pending"))
    if estimate is not None and len(est.unlabelled()):
        parts.append(_estimate_table(est))
    if not report.drift.empty:
        parts += [
            html.H2("Is the input data changing?", className="h5 mt-4"),
            chart(drift_heatmap(report.drift), id="drift-heatmap",
                  caption="PSI (population stability index) compares each input's distribution "
                          "in a window with the evaluation data: below 0.1 stable, 0.1–0.2 "
                          "moderate, above 0.2 a large shift."),
            _top_table(report),
        ]
    if not report.score_drift.empty:
        output = "score" if model.task == "binary" else "prediction"
        parts.append(chart(score_drift(report.score_drift, output), id="score-drift",
                           caption=f"A shift in the model's {output} can show drift even "
                                   "before labels arrive."))
    for note in report.notes:
        parts.append(dbc.Alert(note, color="info"))
    return parts


def _estimate_table(est):
    """The estimate of every window without labels, with its 95% intervals."""
    def cell(r, key, fmt):
        if not np.isfinite(r[key]):
            return html.Td("undefined")
        return html.Td(f"{fmt(r[key])} ({fmt(r[key + '_low'])} to {fmt(r[key + '_high'])})")
    ratio, pct = (lambda v: f"{v:.3f}"), (lambda v: f"{v:.1%}")
    cash = (lambda v: money(v, est.currency))  # noqa: E731
    rows = []
    for _, r in est.unlabelled().iterrows():
        if r["note"]:
            rows.append(html.Tr([html.Th(r["label"], scope="row"), html.Td(f"{r['rows']:,}"),
                                 html.Td(r["note"], colSpan=4)]))
            continue
        rows.append(html.Tr([html.Th(r["label"], scope="row"), html.Td(f"{r['rows']:,}"),
                             cell(r, "roc_auc", ratio), cell(r, "precision", pct),
                             cell(r, "recall", pct), cell(r, "money", cash)]))
    heads = ("Window", "Rows", "ROC AUC", "Precision", "Recall", "Money per month")
    return html.Div([
        html.H2("Estimated without labels", className="h5 mt-4"),
        html.P(f"From the model's scores alone, at the threshold {est.threshold:.2f} "
               f"({est.threshold_source}); in brackets the 95% interval of the value the "
               "labels will give.", className="small text-muted"),
        dbc.Table([html.Thead(html.Tr([html.Th(h, scope="col") for h in heads])),
                   html.Tbody(rows)], size="sm", id="estimate-table", className="w-auto"),
    ])


def _top_table(report):
    top = report.top_drift(5)
    window = top["label"].iloc[0]
    rows = [html.Tr([html.Th(r.name, scope="row"), html.Td(r.kind), html.Td(f"{r.psi:.3f}"),
                     html.Td(psi_word(r.psi)),
                     html.Td("–" if not np.isfinite(r.ks_pvalue) else
                             ("< 0.001" if r.ks_pvalue < 0.001 else f"{r.ks_pvalue:.3f}"))])
            for r in top.itertuples()]
    return html.Div([
        html.H3(f"Largest shifts in {window}", className="h6"),
        dbc.Table([html.Thead(html.Tr([html.Th(h, scope="col") for h in
                                       ("Input", "Kind", "PSI", "Meaning", "KS p-value")])),
                   html.Tbody(rows)], size="sm", hover=True, id="drift-table",
                  className="w-auto"),
    ])
