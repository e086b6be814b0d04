"""`/monitoring/<name>` — how a model does in production: performance over time, drift."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import html

from analysis.drift import psi_word
from analysis.metrics import METRICS
from analysis.monitoring import model_monitoring, monitoring_sentences, performance_caption
from components.graph import chart
from components.messages import not_found, registry_problem
from components.monitoring_figures import drift_heatmap, performance_over_time, score_drift
from registry import RegistryError

from ._data import deck, one

dash.register_page(__name__, path_template="/monitoring/<name>", name="Monitoring",
                   title=lambda name=None, **_: f"Monitoring {name} · ModelDeck")


def layout(name: str | None = None, version: str | None = None, **_query):
    version = one(version)
    try:
        d = deck()
        v = int(version) if version not in (None, "") else None
        model, v, report = model_monitoring(d, name or "", v)
    except ValueError:
        return not_found(f"'{version}' is not a version number.", f"/monitoring/{name}",
                         "Show the champion")
    except KeyError:
        return not_found(f"There is no model called {name!r} in this registry.")
    except RegistryError as e:
        return registry_problem(e.problem)
    header = [
        dbc.Breadcrumb(items=[{"label": "Portfolio", "href": "/"},
                              {"label": model.name, "href": f"/models/{model.name}"},
                              {"label": "Monitoring", "active": True}]),
        html.H1(f"{model.name} in production", className="h3"),
    ]
    if report is None:
        return html.Div(header + [dbc.Alert("No production data is registered for this model. "
                                            "docs/registry-format.md explains the monitoring "
                                            "table.", color="info")])
    if report.performance.empty:
        return html.Div(header + [dbc.Alert(
            f"Version {report.version} has no production rows in this registry.",
            color="info", id="no-production-rows"),
            dbc.Button("Show the champion", href=f"/monitoring/{model.name}", size="sm")])
    metric = METRICS[report.metric]
    unit = model.target_unit if metric.kind == "unit" else ""
    perf = report.performance
    parts = header + [
        html.P(f"Version {report.version}, {perf['rows'].sum():,} production rows in "
               f"{len(perf)} {report.window_kind}s.", className="text-muted"),
        html.Ul([html.Li(s) for s in monitoring_sentences(report, unit)], id="monitoring-summary"),
        chart(performance_over_time(perf, metric.name, report.reference, report.reference_low,
                                    report.reference_high, unit, report.window_kind),
              id="performance-over-time",
              caption=performance_caption(metric.name, report.window_kind)),
    ]
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
    return html.Div(parts)


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
