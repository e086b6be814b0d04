"""The model page's number pieces: a metric card (value, 95% interval, what it means), a
card for a metric that cannot be computed, the headline card and the versions table. Values
in, Dash components out; no data access."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from analysis.language import GLOSSARY, format_value, interval_text, metric_sentence
from analysis.metrics import METRICS

from .cards import scroll_table


def metric_card(key: str, ci, model, id_=None):
    info = METRICS[key]
    unit = model.target_unit if info.kind == "unit" else ""
    return dbc.Card(dbc.CardBody([
        html.Div(html.Abbr(info.name, title=GLOSSARY.get(key, "")),
                 className="metric-name small"),
        html.Div(format_value(key, ci.value, unit), className="metric-value"),
        html.Div(interval_text(key, ci.low, ci.high, unit), className="small text-muted"),
        html.P(metric_sentence(key, ci.value, model), className="small mb-0 mt-1"),
    ]), className="h-100 metric-card", id=id_ or f"card-{key}")


def unavailable_card(key: str, why: str):
    info = METRICS[key]
    return dbc.Card(dbc.CardBody([
        html.Div(html.Abbr(info.name, title=GLOSSARY.get(key, "")),
                 className="metric-name small"),
        html.Div("–", className="metric-value"),
        html.P(f"Cannot be computed: {why}.", className="small mb-0 mt-1"),
    ]), className="h-100 metric-card metric-unavailable", id=f"card-{key}")


def headline_card(summary, metric):
    if summary.value is None or metric is None:
        return None
    return dbc.Card(dbc.CardBody([
        html.Div([html.Span(summary.value_text, className="headline-value"),
                  html.Abbr(metric.name, title=GLOSSARY.get(metric.key, ""),
                            className="headline-name ms-2"),
                  html.Span(f" · champion v{summary.champion}" +
                            (" · as logged by MLflow" if summary.value_from == "logged"
                             else ""), className="text-muted")]),
        html.P(summary.sentence, className="mb-0"),
    ]), className="mb-3", id="headline")


def versions_table(table, metric, unit):
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Version", "Alias / stage", "Created", "Algorithm",
        metric.name if metric is not None else "Headline metric", "Rows evaluated",
        "Logged metrics", "What changed")]))
    rows = []
    for r in table.itertuples():
        value = (format_value(metric.key, r.value, unit) if r.problem == "" and metric
                 else r.problem)
        rows.append(html.Tr([
            html.Th(f"v{r.version}", scope="row"),
            html.Td(r.aliases or r.stage or "—"),
            html.Td(r.created_at.strftime("%d %b %Y") if pd.notna(r.created_at) else "—"),
            html.Td(r.algorithm or "—"),
            html.Td(value),
            html.Td(f"{r.rows:,}"),
            html.Td(r.logged or "—", className="small"),
            html.Td(r.description or "—"),
        ]))
    return scroll_table(dbc.Table([head, html.Tbody(rows)], bordered=False, hover=True,
                                  size="sm", id="versions-table", className="align-middle"),
                        "Versions")
