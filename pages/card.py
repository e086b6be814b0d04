"""`/models/<name>/card` — the model card: purpose and use, owner, data, headline metrics with
intervals, weakest segments, limitations, business settings and version history, for a
manager to read and an auditor to check. Exports as HTML, PDF and Markdown."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from analysis.card import card_outline, model_card
from components.card_view import card_view
from components.cards import TASK_LABEL, problems_alert
from components.export import report_button
from components.shell import model_page_heading

from ._data import deck, model_or_message, staged_body, staged_callbacks

dash.register_page(__name__, path_template="/models/<name>/card", name="Model card",
                   title=lambda name=None, **_: f"{name} model card · ModelDeck")


def layout(name: str | None = None, **_query):
    model, message = model_or_message(name)
    if model is None:
        return message
    # The page appears at once; the card arrives through the callbacks below: its outline
    # first (what the registry says), then the whole card with the champion's metrics and
    # their intervals, the segments and the evaluation rows.
    return html.Div([
        *model_page_heading(model.name, "Model card", f"{model.name}: model card"),
        html.P(TASK_LABEL.get(model.task, "Task unknown"), className="text-muted mb-1"),
        html.Nav([html.A("Model page", href=f"/models/{model.name}"), " · ",
                  html.A("Retraining story", href=f"/models/{model.name}/history")],
                 className="small mb-2", **{"aria-label": "Model pages"}),
        report_button("card", model=model.name),
        *staged_body("card", {"model": model.name}, "Putting the card together…"),
    ])


fill, fill_whole = staged_callbacks(
    "card", lambda ref: ("card",), lambda ref, outline: card_body(ref["model"], outline))


def card_body(name: str, outline: bool = False):
    d = deck()
    model = d.model(name)
    card = card_outline(d, name) if outline else model_card(d, name)
    missing = card.undocumented
    return [
        html.P(card.subtitle, id="card-subtitle"),
        problems_alert(list(d.problems(name))),
        dbc.Alert(f"{len(missing)} of the card's fields are not documented yet: "
                  f"{', '.join(missing)}.", color="info", className="py-2 small",
                  id="card-missing") if missing else None,
        card_view(card, model),
    ]
