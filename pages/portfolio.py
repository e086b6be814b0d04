"""`/` — the model portfolio: one card per model with its health and worth at a glance.

The first view is what the registry's listing alone tells (each model's name and task), so
it appears at once however many models there are. Each card then fills itself in with its
own request (health and headline metric, then the recommendation): the cards at the top
first, several at a time, each from the shared cache once worked out. Search, the health
filter and the order run in the browser on facts the cards bring with them; the address
keeps them (``?q=&health=&sort=``), so a shared link reopens the same view.
"""
from __future__ import annotations

import logging
from collections import defaultdict

import dash
from dash import ALL, MATCH, ClientsideFunction, Input, Output, State, callback, \
    clientside_callback, dcc, html

from analysis.evidence import model_advice
from analysis.portfolio import summarize
from analysis.recommend import headline
from components.cards import (HEALTH_WORDS, advice_line, card_column, card_search_text,
                              model_card_body, model_card_shell, portfolio_controls,
                              problem_card, problem_card_body, problems_alert)
from components.messages import registry_unavailable
from registry import RegistryError
from registry.naming import display_name

from ._data import deck

dash.register_page(__name__, path="/", name="Portfolio", title="Portfolio · ModelDeck",
                   nav_order=0)
log = logging.getLogger(__name__)


def layout(q: str | None = None, health: str | None = None, sort: str | None = None,
           **_query):
    try:
        d = deck()
        listing = d.models()
    except RegistryError as e:
        return registry_unavailable(e.problem)
    columns = [card_column(m.name, model_card_shell(m.name, m.task),
                           card_search_text(m.name, m.description, m.task))
               for m in listing.items]
    broken = defaultdict(list)
    loose = []
    shown = {m.name for m in listing.items}  # their cards list their own problems
    for p in listing.problems:
        if p.model in shown:
            continue
        (broken[p.model] if p.model and p.severity == "error" else loose).append(p)
    columns += [card_column(name, problem_card(name, problems), name.lower())
                for name, problems in sorted(broken.items())]
    n = len(listing.items)
    return html.Div([
        html.H1("Model portfolio", className="h3 mt-2"),
        html.P([f"{n} model{'s' if n != 1 else ''} in {display_name(d.uri)}. ",
                html.Span(id="portfolio-health-counts")],
               className="text-muted", id="portfolio-summary"),
        problems_alert(loose),
        portfolio_controls(q, health, sort) if columns else None,
        html.P(id="portfolio-shown", className="small text-muted mb-2", role="status",
               **{"aria-live": "polite"}),
        dcc.Store(id="portfolio-words", data=HEALTH_WORDS),
        # re-applies search, filter and order while cards are still filling in; stops then
        dcc.Interval(id="portfolio-tick", interval=TICK_MS, disabled=not columns),
        html.Div(columns, id="portfolio-cards", className="row") if columns else
        html.Div("This registry has no models yet. docs/registry-format.md explains how to "
                 "add one.", className="alert alert-info"),
    ])


#: how often the browser re-applies search, filter and order while cards fill in (ms)
TICK_MS = 500


@callback(Output({"type": "card-body", "model": MATCH}, "children"),
          Output({"type": "model-card", "model": MATCH}, "className"),
          Input({"type": "card-body", "model": MATCH}, "id"))
def fill_card(card_id):
    """One card's health and headline metric (one request per card, so the first cards
    show while the others are still being worked out)."""
    name = _model_of(card_id)
    try:
        s = summarize(deck(), name)
    except RegistryError as e:
        return _unreadable(name, [e.problem])
    except KeyError:  # gone from the registry since the page was drawn
        return _unreadable(name, [])
    except Exception:  # one model's failure must never take the portfolio down
        log.exception("cannot summarize model %s", name)
        return _unreadable(name, [])
    return model_card_body(s), f"h-100 model-card status-{s.health.status}"


def _unreadable(name, problems):
    return problem_card_body(name, problems), "h-100 model-card status-error"


@callback(Output({"type": "card-advice", "model": MATCH}, "children"),
          Input({"type": "card-advice", "model": MATCH}, "id"))
def fill_advice(advice_id):
    """A card's headline recommendation (with the money at stake that the "money" order
    sorts by); it comes after the card's health, and can take seconds the first time."""
    return card_advice(_model_of(advice_id))


def _model_of(component_id) -> str:
    """The model a card's pattern id names (a request may carry anything there)."""
    return str(component_id.get("model", "")) if isinstance(component_id, dict) else ""


def card_advice(name: str):
    try:
        advice = model_advice(deck(), name)
    except (KeyError, RegistryError):
        return None
    except Exception:  # never let one model's evidence break the portfolio
        log.exception("cannot work out a recommendation for %s", name)
        return html.Span("No recommendation: the evidence could not be computed.",
                         className="text-muted")
    if not advice.recommendations:
        return html.Span(f"No recommendation: {advice.problem}", className="text-muted")
    return advice_line(headline(list(advice.recommendations)))


# Search, filter and order in the browser (assets/portfolio.js), from what each card shows.
# Its inputs are the controls and a tick, never the cards' own callbacks: Dash holds back a
# callback until every pending callback that feeds it has answered, which would make the
# search wait for the slowest recommendation.
clientside_callback(
    ClientsideFunction("modeldeck", "portfolioView"),
    Output({"type": "card-col", "model": ALL}, "style"),
    Output("portfolio-shown", "children"),
    Output("portfolio-health-counts", "children"),
    Output("portfolio-tick", "disabled"),
    Input("portfolio-search", "value"),
    Input("portfolio-health", "value"),
    Input("portfolio-sort", "value"),
    Input("portfolio-tick", "n_intervals"),
    State({"type": "card-col", "model": ALL}, "id"),
    State("portfolio-words", "data"),
)
