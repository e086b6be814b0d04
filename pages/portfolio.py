"""`/` — the model portfolio: one card per model with its health and worth at a glance.

The first view is what the registry's listing alone tells, a page of cards at a time
(``analysis.portfolio_view.PAGE_SIZE``), so it appears at once however many models there
are. Each card on the page fills itself in with its own request (health and headline metric,
then the recommendation), from the shared cache once worked out. Meanwhile the page works
through every model's health and recommendation in the background, a little at each tick
(``warm``), and gathers what is known so far (``gather``): search, the health filter, the
order and the pages are worked out on the server from those facts (``portfolio_view``), and
the page says what is still being checked. The address keeps the view
(``?q=&health=&sort=&page=``), so a shared link reopens it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

import dash
from dash import MATCH, ClientsideFunction, Input, Output, State, callback, \
    clientside_callback, ctx, dcc, html, no_update

from analysis.evidence import advice_if_ready, model_advice
from analysis.portfolio import summarize, summary_if_ready
from analysis.portfolio_view import UNREADABLE, Entry, clean_facts, complete, fact, select
from analysis.recommend import headline
from components.cards import (advice_line, card_column, card_search_text, health_counts_text,
                              model_card, model_card_body, model_card_shell, pager_text,
                              portfolio_controls, portfolio_pager, problem_card,
                              problem_card_body, problems_alert, shown_text)
from components.messages import registry_unavailable
from registry import RegistryError
from registry.naming import display_name

from ._data import deck, one

dash.register_page(__name__, path="/", name="Portfolio", title="Portfolio · ModelDeck",
                   nav_order=0)
log = logging.getLogger(__name__)

#: how often the page gathers what has been worked out, until everything is (ms)
TICK_MS = 1000
#: how long one background tick starts new work for (s); a model's recommendation can take
#: several seconds cold, so a tick may run longer, but never starts work after this
WARM_BUDGET_S = 1.0


def _listing():
    """(the cached source, its listing, the portfolio's entries — listed models, then models
    whose files cannot be read —, the unreadable models' problems by name, and the problems
    of no one model)."""
    d = deck()
    listing = d.models()
    entries = [Entry(m.name, card_search_text(m.name, m.description, m.task))
               for m in listing.items]
    broken = defaultdict(list)
    loose = []
    shown = {m.name for m in listing.items}  # their cards list their own problems
    for p in listing.problems:
        if p.model in shown:
            continue
        (broken[p.model] if p.model and p.severity == "error" else loose).append(p)
    entries += [Entry(name, name.lower()) for name in sorted(broken)]
    return d, listing, entries, dict(broken), loose


def layout(q: str | None = None, health: str | None = None, sort: str | None = None,
           page: str | None = None, **_query):
    try:
        d, listing, entries, broken, loose = _listing()
    except RegistryError as e:
        return registry_unavailable(e.problem)
    q, health, sort, page = one(q), one(health), one(sort), one(page)
    # A plain first view needs no facts; a shared link that filters or orders by them uses
    # what is already worked out (the rest follow within a tick).
    plain = health in (None, "", "all") and sort in (None, "", "name")
    facts = {n: UNREADABLE for n in broken}
    if not plain:
        facts |= _peek(d, [e.name for e in entries if e.name not in broken])
    view = select(entries, facts, q, health, sort, page)
    n = len(listing.items)
    return html.Div([
        html.H1("Model portfolio", className="h3 mt-2"),
        html.P([f"{n} model{'s' if n != 1 else ''} in {display_name(d.uri)}. ",
                html.Span(health_counts_text(facts, [e.name for e in entries]),
                          id="portfolio-health-counts")],
               className="text-muted", id="portfolio-summary"),
        problems_alert(loose),
        portfolio_controls(q, health, sort) if entries else None,
        html.P(shown_text(view, sort), id="portfolio-shown", className="small text-muted mb-2",
               role="status", **{"aria-live": "polite"}),
        dcc.Store(id="portfolio-facts", data=facts),
        dcc.Store(id="portfolio-page", data=view.page),
        dcc.Store(id="portfolio-on-page", data=list(view.names)),
        dcc.Store(id="portfolio-warm"),
        dcc.Store(id="portfolio-address"),
        dcc.Interval(id="portfolio-tick", interval=TICK_MS,
                     disabled=not entries or complete(entries, facts)),
        html.Div(_cards(d, view.names, broken, {m.name: m.task for m in listing.items}),
                 id="portfolio-cards", className="row")
        if entries else
        html.Div("This registry has no models yet. docs/registry-format.md explains how to "
                 "add one.", className="alert alert-info"),
        portfolio_pager(view) if entries else None,
    ])


def _cards(d, names, broken, tasks) -> list:
    """The cards of one page: drawn whole when their summary is already worked out, else
    a shell that fills itself in."""
    out = []
    for name in names:
        if name in broken:
            out.append(card_column(problem_card(name, broken[name])))
            continue
        try:
            s = summary_if_ready(d, name)
            advice = advice_if_ready(d, name) if s is not None else None
        except (KeyError, RegistryError):
            s = None
        if s is None:
            out.append(card_column(model_card_shell(name, tasks.get(name, ""))))
        else:
            out.append(card_column(model_card(s, None if advice is None
                                              else _advice_view(advice))))
    return out


def _peek(d, names) -> dict:
    out = {}
    for name in names:
        try:
            s = summary_if_ready(d, name)
            if s is None:
                continue
            out[name] = fact(s, advice_if_ready(d, name))
        except (KeyError, RegistryError):
            continue
    return out


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
    return _advice_view(advice)


def _advice_view(advice):
    if not advice.recommendations:
        return html.Span(f"No recommendation: {advice.problem}", className="text-muted")
    return advice_line(headline(list(advice.recommendations)))


# ------------------------------------------------------------------ the view
# Search, filter, order and page are worked out on the server (``analysis.portfolio_view``)
# from the listing and the facts gathered so far. The controls never wait for the background
# work: Dash holds back a callback while a callback feeding its inputs is pending, so the view
# depends only on the controls and on ``gather`` (a quick read of the cache), never on
# ``warm`` or on the cards' own requests.
@callback(Output("portfolio-cards", "children"),
          Output("portfolio-on-page", "data"),
          Output("portfolio-page", "data"),
          Output("portfolio-page-text", "children"),
          Output("portfolio-prev", "disabled"),
          Output("portfolio-next", "disabled"),
          Output("portfolio-pager", "hidden"),
          Output("portfolio-shown", "children"),
          Input("portfolio-search", "value"),
          Input("portfolio-health", "value"),
          Input("portfolio-sort", "value"),
          Input("portfolio-prev", "n_clicks"),
          Input("portfolio-next", "n_clicks"),
          Input("portfolio-facts", "data"),
          State("portfolio-page", "data"),
          State("portfolio-on-page", "data"),
          prevent_initial_call=True)
def show(query, health, sort, _prev, _next, facts, page, on_page):
    """The page of cards for the controls; redrawn only when which cards it holds changes
    (new facts that do not change it leave the cards, and what they filled in, alone)."""
    try:
        d, listing, entries, broken, _loose = _listing()
    except RegistryError:
        raise dash.exceptions.PreventUpdate
    facts = clean_facts(facts)
    page = page if isinstance(page, int) else 1
    trigger = ctx.triggered_id
    if trigger in ("portfolio-search", "portfolio-health", "portfolio-sort"):
        page = 1
    elif trigger == "portfolio-prev":
        page -= 1
    elif trigger == "portfolio-next":
        page += 1
    view = select(entries, facts, query, health, sort, page)
    same = list(view.names) == list(on_page or [])
    tasks = {m.name: m.task for m in listing.items}
    return (no_update if same else _cards(d, view.names, broken, tasks),
            no_update if same else list(view.names), view.page, pager_text(view),
            view.page <= 1, view.page >= view.pages, view.pages <= 1,
            shown_text(view, sort))


#: the page's gathering stops looking further once this many models in a row have nothing
#: new (the background work goes through them in the same order, so what lies beyond is not
#: worked out yet); the cards on the page are always looked at
NOTHING_NEW_RUN = 12


@callback(Output("portfolio-facts", "data"),
          Output("portfolio-health-counts", "children"),
          Output("portfolio-tick", "disabled"),
          Input("portfolio-tick", "n_intervals"),
          State("portfolio-facts", "data"),
          State("portfolio-on-page", "data"),
          prevent_initial_call=True)
def gather(_tick, facts, on_page):
    """What has been worked out so far about the models (a read of the cache, no work); the
    tick stops once every model's health and recommendation are known."""
    try:
        d, _listing_, entries, broken, _loose = _listing()
    except RegistryError:
        raise dash.exceptions.PreventUpdate
    new = clean_facts(facts)
    new |= {n: UNREADABLE for n in broken}
    page = [n for n in (on_page or []) if isinstance(n, str)]
    run = 0
    for i, name in enumerate(_work_order(entries, broken, page)):
        if new.get(name, {}).get("a"):
            continue  # nothing more to learn
        found = _peek(d, [name]).get(name)
        if found is not None and found != new.get(name):
            new[name], run = found, 0
        elif i >= len(page):
            run += 1
            if run >= NOTHING_NEW_RUN:
                break
    names = [e.name for e in entries]
    new = {n: new[n] for n in names if n in new}
    return (no_update if new == facts else new, health_counts_text(new, names),
            complete(entries, new))


def _work_order(entries, broken, page) -> list[str]:
    """The cards on the page first, then every other model by name."""
    rest = [e.name for e in entries if e.name not in broken and e.name not in page]
    return [n for n in page if n not in broken] + rest


#: one background tick at a time in this process; a tick that finds one running returns
_warming = threading.Lock()
#: what this process has seen worked out, per registry listing: {(uri, version): {name: step}}
_worked: dict = {}


@callback(Output("portfolio-warm", "data"),
          Input("portfolio-tick", "n_intervals"),
          State("portfolio-on-page", "data"),
          prevent_initial_call=True)
def warm(tick, on_page):
    """Works out a little more of every model's health, then of every recommendation
    (cached, shared by every worker and visitor), starting no new work after
    ``WARM_BUDGET_S``. The cards on screen come first."""
    if not _warming.acquire(blocking=False):
        return tick
    try:
        d, _listing_, entries, broken, _loose = _listing()
        seen = _worked.setdefault((d.uri, d.source.data_version(None)), {})
        if len(_worked) > 8:
            _worked.pop(next(iter(_worked)))
        order = _work_order(entries, broken, [n for n in (on_page or [])
                                              if isinstance(n, str)])
        started = time.monotonic()
        for step, ready, mark in ((summarize, summary_if_ready, 1),
                                  (model_advice, advice_if_ready, 2)):
            for name in order:
                if seen.get(name, 0) >= mark:
                    continue
                if time.monotonic() - started > WARM_BUDGET_S:
                    return tick
                try:
                    if ready(d, name) is None:
                        step(d, name)
                    seen[name] = mark
                except (KeyError, RegistryError):
                    continue  # the card says why; nothing to warm
                except Exception:
                    log.exception("cannot work out %s for %s", step.__name__, name)
    except RegistryError:
        pass
    finally:
        _warming.release()
    return tick


# The address keeps the view, so a shared link reopens it (assets/portfolio.js).
clientside_callback(
    ClientsideFunction("modeldeck", "portfolioAddress"),
    Output("portfolio-address", "data"),
    Input("portfolio-search", "value"),
    Input("portfolio-health", "value"),
    Input("portfolio-sort", "value"),
    Input("portfolio-page", "data"),
)
