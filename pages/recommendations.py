"""`/recommendations` — what to do with each model, sorted by what it is worth."""
from __future__ import annotations

import logging

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html

from analysis.evidence import advice_summary, portfolio_advice, ranked
from analysis.monitoring import model_monitoring
from components.export import report_button
from components.graph import chart
from components.messages import registry_unavailable
from components.recommendation_figures import evidence_figure
from registry import RegistryError

from ._data import deck

log = logging.getLogger(__name__)

dash.register_page(__name__, path="/recommendations", name="Recommendations",
                   title="Recommendations · ModelDeck", nav_order=2)

ACTION_STYLE = {"promote": ("Promote", "success"), "retrain": ("Retrain", "danger"),
                "roll back": ("Roll back", "danger"), "investigate": ("Investigate", "warning"),
                "keep": ("Keep", "secondary")}


def layout(**_query):
    # The page appears at once; the recommendations, which may take a few seconds to work
    # out the first time, arrive through the callback below behind a spinner.
    return html.Div([
        html.H1("Recommendations", className="h3 mt-2"),
        report_button("portfolio"),
        dcc.Store(id="recommendations-trigger", data=True),
        dcc.Loading(html.Div(html.P("Working out the recommendations…",
                                    className="text-muted"), id="recommendations-body"),
                    type="default", delay_show=300),
    ])


@callback(Output("recommendations-body", "children"), Input("recommendations-trigger", "data"))
def fill(_):
    try:
        d = deck()
        return recommendations_view(d, portfolio_advice(d))
    except RegistryError as e:
        return registry_unavailable(e.problem)


def recommendations_view(d, advice):
    recs = ranked(advice)
    by_model = {a.model: a for a in advice}
    items = [dbc.AccordionItem(_safe_body(d, r, by_model[r.model]), title=_title(r),
                               item_id=f"rec-{i}") for i, r in enumerate(recs)]
    problems = [html.Li(f"{a.model}: {a.problem}") for a in advice if a.problem]
    unread = [html.Li(f"{a.model}: {p}") for a in advice if a.evidence is not None
              for p in a.evidence.unread]
    return html.Div([
        html.P(advice_summary(advice), id="recommendations-summary"),
        dbc.Accordion(items, start_collapsed=True, always_open=True, id="recommendations")
        if items else dbc.Alert("No models to advise on.", color="info"),
        html.Div([html.H2("Models without a recommendation", className="h6 mt-4"),
                  html.Ul(problems)]) if problems else None,
        html.Div([html.H2("Evidence left out because a file could not be read",
                          className="h6 mt-4"),
                  html.Ul(unread, id="recommendations-unread")]) if unread else None,
    ])


def _safe_body(d, r, advice):
    """A recommendation's evidence; if its chart cannot be drawn, the words without it, so
    one model never costs the page."""
    try:
        return _body(d, r, advice)
    except RegistryError as e:
        return html.P(f"The evidence could not be read: {e.problem}")
    except Exception:
        log.exception("cannot show the evidence for %s", r.model)
        return html.Ul([html.Li(e) for e in r.evidence])


def _title(r):
    return f"{r.model} — {r.headline}"


def _body(d, r, advice):
    label, color = ACTION_STYLE[r.action]
    links = {"compare": (f"/compare?model={r.model}", "Open the comparison"),
             "monitoring": (f"/monitoring/{r.model}", "Open production monitoring"),
             "segments": (f"/models/{r.model}", "Open the model"),
             "versions": (f"/models/{r.model}", "Open the model")}
    href, text = links[r.chart]
    return html.Div([
        html.Div([dbc.Badge(label, color=color,
                            className="text-dark" if color == "warning" else ""),
                  html.Span(f"Confidence: {r.confidence}", className="ms-2 small"),
                  html.Span(f" · {r.money_text}", className="small")]),
        html.Ul([html.Li(e) for e in r.evidence], className="mt-2"),
        _evidence_chart(d, r, advice),
        dbc.Button(text, href=href, size="sm", color="primary", outline=True),
        dbc.Button("Open the retraining story", href=f"/models/{r.model}/history", size="sm",
                   color="primary", outline=True, className="ms-2")
        if r.action == "retrain" else None,
    ], className="recommendation", id={"type": "recommendation", "model": r.model,
                                       "action": r.action})


def _evidence_chart(d, r, advice):
    e = advice.evidence
    if e is None:
        return None
    report = model_monitoring(d, r.model, e.champion)[2] if r.chart == "monitoring" else None
    fig, caption = evidence_figure(r, e, report)
    if fig is None:
        return None
    return chart(fig, id={"type": "evidence-chart", "model": r.model, "action": r.action},
                 caption=caption)
