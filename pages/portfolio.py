"""`/` — the model portfolio: one card per model with its health and worth at a glance."""
from __future__ import annotations

import logging
from collections import defaultdict

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html

from analysis.evidence import model_advice
from analysis.portfolio import summarize
from analysis.recommend import headline
from components.cards import advice_line, model_card, problem_card, problems_alert
from components.messages import registry_unavailable
from registry import RegistryError
from registry.naming import display_name

from ._data import deck

dash.register_page(__name__, path="/", name="Portfolio", title="Portfolio · ModelDeck",
                   nav_order=0)
log = logging.getLogger(__name__)


def layout(**_query):
    try:
        d = deck()
        listing = d.models()
    except RegistryError as e:
        return registry_unavailable(e.problem)
    cards = []
    for m in listing.items:
        try:
            cards.append(model_card(summarize(d, m.name)))
        except RegistryError as e:
            cards.append(problem_card(m.name, [e.problem]))
        except Exception:  # one model's failure must never take the portfolio down
            log.exception("cannot summarize model %s", m.name)
            cards.append(problem_card(m.name, []))
    broken = defaultdict(list)
    loose = []
    shown = {m.name for m in listing.items}  # their cards list their own problems
    for p in listing.problems:
        if p.model in shown:
            continue
        (broken[p.model] if p.model and p.severity == "error" else loose).append(p)
    cards += [problem_card(name, problems) for name, problems in sorted(broken.items())]
    counts = _status_counts(cards)
    return html.Div([
        html.H1("Model portfolio", className="h3 mt-2"),
        html.P(f"{len(listing.items)} models in {display_name(d.uri)}. {counts}", className="text-muted",
               id="portfolio-summary"),
        problems_alert(loose),
        dcc.Store(id="portfolio-trigger", data=True),
        dbc.Row([dbc.Col(c, xs=12, md=6, xl=4, className="mb-3") for c in cards],
                id="portfolio-cards") if cards else
        dbc.Alert("This registry has no models yet. docs/registry-format.md explains how to add "
                  "one.", color="info"),
    ])


@callback(Output({"type": "card-advice", "model": ALL}, "children"),
          Input("portfolio-trigger", "data"),
          State({"type": "card-advice", "model": ALL}, "id"))
def fill_advice(_, ids):
    """Each card's headline recommendation, filled in after the cards are on screen: working
    them out the first time can take a few seconds."""
    return [card_advice(i["model"]) for i in ids]


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


def _status_counts(cards) -> str:
    counts = defaultdict(int)
    for c in cards:
        status = c.className.split("status-")[-1]
        counts[status] += 1
    words = {"act": "need action", "watch": "to watch", "ok": "OK", "error": "unreadable"}
    parts = [f"{counts[k]} {w}" for k, w in words.items() if counts[k]]
    return ("Health: " + ", ".join(parts) + ".") if parts else ""
