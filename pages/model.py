"""`/models/<name>` — one model: what it is for, its champion, its versions."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from analysis.language import GLOSSARY, format_value
from analysis.metrics import METRICS
from analysis.portfolio import summarize
from analysis.versions import version_table
from components.cards import TASK_LABEL, problems_alert, status_badge
from components.figures import metric_by_version
from components.graph import chart
from components.messages import not_found, registry_unavailable
from registry import RegistryError

from ._data import deck

dash.register_page(__name__, path_template="/models/<name>", name="Model",
                   title=lambda name=None, **_: f"{name} · ModelDeck")


def layout(name: str | None = None, **_query):
    try:
        d = deck()
        model = d.model(name or "")
    except KeyError:
        return not_found(f"There is no model called {name!r} in this registry.")
    except RegistryError as e:
        if e.problem.model is None:
            return registry_unavailable(e.problem)
        return html.Div([html.H1(name, className="h3 mt-2"),
                         problems_alert([e.problem], "This model's files could not be read")])
    summary = summarize(d, model.name)
    table = version_table(d, model.name)
    metric = METRICS[summary.metric]
    return html.Div([
        dbc.Breadcrumb(items=[{"label": "Portfolio", "href": "/"},
                              {"label": model.name, "active": True}]),
        html.Div([html.H1(model.name, className="h3 mb-0"),
                  status_badge(summary.health.status, id="model-status")],
                 className="d-flex align-items-center gap-3"),
        html.P(TASK_LABEL.get(model.task, model.task) +
               (f" · owner: {model.owner}" if model.owner else ""), className="text-muted"),
        html.P(model.description or "No description in the registry.", id="model-description"),
        _business(model),
        problems_alert(list(summary.notes)),
        dbc.Alert([html.Strong("Health: "), summary.health.reason],
                  color={"ok": "success", "watch": "warning", "act": "danger"}.get(
                      summary.health.status, "secondary"), className="py-2"),
        _headline(summary, metric),
        html.H2("Versions", className="h5 mt-4"),
        _versions_table(table, metric, model.target_unit),
        chart(metric_by_version(table, metric.name,
                                model.target_unit if metric.kind == "unit" else "",
                                metric.higher_is_better),
              id="metric-by-version",
              caption=f"{metric.name} of each version, computed by ModelDeck from its "
                      "evaluation rows. The champion is blue, the challenger orange.")
        if table["value"].notna().any() else None,
    ])


def _headline(summary, metric):
    if summary.value is None:
        return None
    return dbc.Card(dbc.CardBody([
        html.Div([html.Span(summary.value_text, className="headline-value"),
                  html.Abbr(metric.name, title=GLOSSARY.get(metric.key, ""),
                            className="headline-name ms-2"),
                  html.Span(f" · champion v{summary.champion}", className="text-muted")]),
        html.P(summary.sentence, className="mb-0"),
    ]), className="mb-3", id="headline")


def _business(model):
    b = model.business
    if b is None:
        return None
    money = lambda v: "–" if v is None else f"{v:,.0f} {b.currency}"  # noqa: E731
    facts = [("A positive means", b.positive_means or "–"),
             ("Value of a positive caught", money(b.value_true_positive)),
             ("Cost of a false alarm", money(b.cost_false_positive)),
             ("Cost of a missed positive", money(b.cost_false_negative)),
             ("Predictions per month", "–" if b.volume_per_month is None
              else f"{b.volume_per_month:,.0f}")]
    return html.Dl(sum([[html.Dt(k), html.Dd(v)] for k, v in facts], []),
                   className="facts business small")


def _versions_table(table, metric, unit):
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Version", "Alias / stage", "Created", "Algorithm", metric.name, "Rows evaluated",
        "What changed")]))
    rows = []
    for r in table.itertuples():
        value = (format_value(metric.key, r.value, unit) if r.problem == ""
                 else r.problem)
        rows.append(html.Tr([
            html.Th(f"v{r.version}", scope="row"),
            html.Td(r.aliases or r.stage or "—"),
            html.Td(r.created_at.strftime("%d %b %Y") if r.created_at else "—"),
            html.Td(r.algorithm or "—"),
            html.Td(value),
            html.Td(f"{r.rows:,}"),
            html.Td(r.description or "—"),
        ]))
    return dbc.Table([head, html.Tbody(rows)], bordered=False, hover=True, responsive=True,
                     size="sm", id="versions-table", className="align-middle")
