"""`/models/<name>/history` — the retraining story: every version, what changed in it, and
what that did to the headline metric and to the money figure, with paired 95% intervals where
two versions share their evaluation rows."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import html

from analysis.business import money
from analysis.history import (effect_sentence, last_helped_sentence, retraining_story,
                              story_outline)
from analysis.language import format_value
from analysis.metrics import METRICS
from components.cards import problems_alert
from components.graph import chart
from components.history_figures import retraining_effects_figure
from components.shell import model_page_heading

from ._data import deck, model_or_message, staged_body, staged_callbacks

dash.register_page(__name__, path_template="/models/<name>/history", name="Retraining story",
                   title=lambda name=None, **_: f"{name} retraining story · ModelDeck")


def layout(name: str | None = None, **_query):
    model, message = model_or_message(name)
    if model is None:
        return message
    # The page appears at once; the story arrives through the callbacks below: the versions
    # and what changed in each first, then what each retraining did (paired comparisons).
    return html.Div([
        *model_page_heading(model.name, "Retraining story", f"{model.name}: retraining story"),
        html.P("Every version, what changed in it and what that did, against the version "
               "registered before it.", className="text-muted"),
        html.Nav([html.A("Model page", href=f"/models/{model.name}"), " · ",
                  html.A("Model card", href=f"/models/{model.name}/card")],
                 className="small mb-2", **{"aria-label": "Model pages"}),
        *staged_body("history", {"model": model.name}, "Working out the story…"),
    ])


fill, fill_whole = staged_callbacks(
    "history", lambda ref: ("history",), lambda ref, outline: history_view(ref["model"], outline))


def history_view(name: str, outline: bool = False):
    d = deck()
    model = d.model(name)
    story = story_outline(d, name) if outline else retraining_story(d, name)
    if not story.steps:
        return dbc.Alert("No versions are registered yet.", color="info")
    metric = METRICS.get(story.metric)
    helped = last_helped_sentence(story)
    parts = [
        problems_alert([p for p in d.problems(name)]),
        html.P(helped or "No retraining has clearly improved the headline metric yet (no "
                         "paired interval excludes no change).",
               className="lead fs-6 fw-semibold", id="history-last-helped",
               role="status" if not story.measured else None),
    ]
    if metric is not None:
        parts.append(_effects_chart(model, story, metric))
    parts.append(html.Ol([_step(model, story, s, metric) for s in reversed(story.steps)],
                         className="list-unstyled", id="history-timeline",
                         reversed=True))
    return parts


def _effects_chart(model, story, metric):
    rows = [(f"v{s.version} vs v{s.previous}", s.metric_change.delta, s.metric_change.low,
             s.metric_change.high, s.verdict == "hurt")
            for s in story.steps if s.metric_change is not None
            and np.isfinite(s.metric_change.delta)]
    if not rows:
        return None
    unit = model.target_unit if metric.kind == "unit" else ""
    better = "right of the line is better" if metric.higher_is_better else \
        "left of the line is better"
    return chart(retraining_effects_figure(
        rows, f"{metric.name}: each version minus the one before, with paired 95% intervals",
        f"Change in {metric.name}" + (f" ({unit})" if unit else "")),
        id="history-effects",
        caption=f"Each row is one retraining, measured on the rows both versions were "
                f"evaluated on; {better}. Vermilion: significantly worse.")


def _step(model, story, s, metric):
    unit = model.target_unit if metric is not None and metric.kind == "unit" else ""
    facts = [f"v{s.version}"]
    if s.role:
        facts.append(s.role)
    if s.created_at is not None:
        facts.append(s.created_at.strftime("%d %b %Y"))
    facts.append(s.algorithm or "algorithm not recorded")
    numbers = []
    if metric is not None and np.isfinite(s.value):
        numbers.append(f"{metric.name} {format_value(metric.key, s.value, unit)} (95% CI "
                       f"{format_value(metric.key, s.low, unit)} to "
                       f"{format_value(metric.key, s.high, unit)})")
    if s.money is not None:
        what = ("worth per month at its best threshold" if story.money_kind == "value"
                else "error cost per month")
        numbers.append(f"{what}: {money(s.money, story.currency)}")
    badge = {"helped": ("helped", "success"), "hurt": ("made it worse", "danger"),
             "no clear change": ("no clear change", "secondary")}.get(s.verdict)
    return html.Li(dbc.Card(dbc.CardBody([
        html.H2([" · ".join(facts),
                 dbc.Badge(badge[0], color=badge[1], className="ms-2") if badge else None],
                className="h6"),
        html.P(s.description, className="small mb-1") if s.description else None,
        html.H3("What changed", className="h6 mt-2 mb-1"),
        html.Ul([html.Li(c) for c in s.changes], className="small mb-1"),
        html.H3("What it did", className="h6 mt-2 mb-1"),
        html.P(effect_sentence(model, story, s), className="mb-1"),
        html.P(" · ".join(numbers), className="small text-muted mb-0") if numbers else None,
    ])), className="mb-2", id=f"history-v{s.version}")
