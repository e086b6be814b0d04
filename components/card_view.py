"""The model card as Dash components (the page) — the same ``analysis.card.ModelCard`` that
``reports.card_report`` turns into HTML, PDF and Markdown.

Registry text (purpose, intended use, limitations…) is Markdown written by whoever registered
the model: it is rendered by ``dcc.Markdown`` with ``dangerously_allow_html=False``, so raw
HTML in it is shown as text and never becomes markup or script, and a ``javascript:`` (or any
non-http) link stays text.
"""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from analysis.card import CardField, ModelCard, unlink_unsafe
from analysis.metrics import METRICS

from .cards import scroll_table
from .evaluation_figures import segment_figure
from .graph import chart


def safe_markdown(text: str, **kwargs) -> dcc.Markdown:
    """Registry text as Markdown, with raw HTML left as text (never markup) and links other
    than http(s)/mailto left as text (``analysis.card.unlink_unsafe``)."""
    return dcc.Markdown(unlink_unsafe(text), dangerously_allow_html=False, link_target="_blank",
                        className="md-registry-text", **kwargs)


def _value(f: CardField):
    if not f.documented:
        return html.Span([html.Em("Not documented yet"),
                          html.Span(f" — {f.how}." if f.how else "", className="small")],
                         className="text-muted md-undocumented")
    return safe_markdown(f.text) if f.markdown else html.Span(f.text)


def field_list(fields, id_: str):
    """Labelled entries as a description list."""
    items = []
    for f in fields:
        items += [html.Dt(f.label, className="col-sm-3"),
                  html.Dd(_value(f), className="col-sm-9 mb-2")]
    return html.Dl(items, className="row mb-0", id=id_)


def _item_list(fields, id_: str):
    if len(fields) == 1 and not fields[0].documented:
        return html.Div(_value(fields[0]), id=id_)
    return html.Ul([html.Li(_value(f)) for f in fields], id=id_)


def _section(title: str, body, id_: str):
    return html.Section([html.H2(title, className="h5 mt-4", id=f"{id_}-h"), body],
                        id=id_, **{"aria-labelledby": f"{id_}-h"})


def metrics_block(card: ModelCard, model):
    if not card.metrics:
        return dbc.Alert(card.metrics_note, color="info", id="card-metrics")
    cards = []
    for m in card.metrics:
        cards.append(dbc.Col(dbc.Card(dbc.CardBody([
            html.Div(html.Abbr(m.name, title=m.definition or m.meaning),
                     className="metric-name small"),
            html.Div(m.value, className="metric-value"),
            html.Div(m.interval, className="small text-muted"),
            html.P(m.meaning, className="small mb-0 mt-1"),
        ]), className="h-100 metric-card"), md=6, xl=3))
    return html.Div([html.P(card.metrics_note, className="small text-muted"),
                     dbc.Row(cards, className="g-3", id="card-metrics")])


def segments_block(card: ModelCard, model):
    parts = [html.Ul([html.Li(s) for s in card.segments], id="card-segments")]
    seg = card.segment_table
    if not seg.empty:
        metric = METRICS[seg["metric"].iloc[0]]
        unit = model.target_unit if metric.kind == "unit" else ""
        parts.append(chart(segment_figure(seg, metric.name, unit, metric.higher_is_better),
                           id="card-segment-chart",
                           caption="Each dot is one group of rows, with its 95% interval; the "
                                   "weakest of each segment is red. Groups under 30 rows are "
                                   "not judged."))
    return html.Div(parts)


def versions_block(card: ModelCard):
    head = html.Thead(html.Tr([html.Th(h, scope="col") for h in (
        "Version", "Alias / stage", "Created", "Algorithm",
        card.metric_name or "Headline metric", "What changed")]))
    body = [html.Tr([html.Th(r.version, scope="row"), html.Td(r.role), html.Td(r.created),
                     html.Td(r.algorithm), html.Td(r.value), html.Td(r.description)])
            for r in card.versions.itertuples()]
    return scroll_table(dbc.Table([head, html.Tbody(body)], size="sm", hover=True,
                                  id="card-versions", className="align-middle"),
                        "Version history")


def card_view(card: ModelCard, model) -> html.Div:
    """Every section of the card, in the order an auditor reads it."""
    return html.Div([
        _section("What it is for", field_list(card.about, "card-about"), "card-purpose"),
        _section("Data", html.Div([field_list(card.training, "card-training"),
                                   field_list(card.evaluation, "card-evaluation")]),
                 "card-data"),
        _section("How good it is", metrics_block(card, model), "card-quality"),
        _section("Where it is weaker", segments_block(card, model), "card-weaker"),
        _section("Known limitations", _item_list(card.limitations, "card-limitations"),
                 "card-limits"),
        _section("Caveats", _item_list(card.caveats, "card-caveats"), "card-caveats-section"),
        _section("Business settings", field_list(card.business, "card-business"),
                 "card-money"),
        _section("Version history", versions_block(card), "card-history"),
    ], id="model-card")
