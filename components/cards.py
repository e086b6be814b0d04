"""Portfolio cards: one per model, and one per model that could not be read."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from analysis.language import GLOSSARY, ago
from analysis.metrics import METRICS
from analysis.portfolio import ModelSummary
from registry.model import Problem

from .theme import STATUS

TASK_LABEL = {"binary": "Yes/no prediction", "multiclass": "Category prediction",
              "regression": "Number prediction"}


def status_badge(status: str, **kwargs) -> dbc.Badge:
    label, color, text = STATUS[status]
    return dbc.Badge(label, color=color, className=f"status-badge {text}".strip(),
                     **kwargs)


#: how the portfolio can order its cards (value, label); the first is the default
SORTS = (("name", "Name (A to Z)"),
         ("attention", "Needs attention first"),
         ("money", "Money at stake (most first)"),
         ("updated", "Last updated (newest first)"))
#: the portfolio's health filter (value, label): "all" or a health status
HEALTH_FILTER = (("all", "Every model"), ("act", "Need action"), ("watch", "To watch"),
                 ("ok", "OK"), ("error", "Unreadable"))
#: the words for each health status in the portfolio's count ("Health: 1 need action, …")
HEALTH_WORDS = {"act": "need action", "watch": "to watch", "ok": "OK", "error": "unreadable"}


def portfolio_controls(search: str, health: str, sort: str) -> dbc.Row:
    """Search, health filter and order of the portfolio's cards (labelled native controls;
    the cards are filtered and ordered in the browser, without asking the server)."""
    health = health if health in dict(HEALTH_FILTER) else "all"
    sort = sort if sort in dict(SORTS) else SORTS[0][0]
    return dbc.Row([
        dbc.Col([dbc.Label("Search", html_for="portfolio-search", className="small mb-1"),
                 dbc.Input(id="portfolio-search", type="search", value=search or "",
                           placeholder="name, description or task", debounce=False)],
                xs=12, md=5),
        dbc.Col([dbc.Label("Health", html_for="portfolio-health", className="small mb-1"),
                 dbc.Select(id="portfolio-health", value=health,
                            options=[{"label": lbl, "value": v} for v, lbl in HEALTH_FILTER])],
                xs=6, md=3),
        dbc.Col([dbc.Label("Order", html_for="portfolio-sort", className="small mb-1"),
                 dbc.Select(id="portfolio-sort", value=sort,
                            options=[{"label": lbl, "value": v} for v, lbl in SORTS])],
                xs=6, md=4),
    ], className="g-2 mb-2", id="portfolio-controls")


def card_search_text(name: str, description: str, task: str) -> str:
    """What the portfolio's search looks in for one card."""
    return " ".join([name, description or "", TASK_LABEL.get(task, "Task unknown")]).lower()


def card_column(card) -> html.Div:
    """One card's place in the portfolio grid."""
    return html.Div(card, className="col-12 col-md-6 col-xl-4 mb-3")


def model_card(s: ModelSummary, advice=None) -> dbc.Card:
    """A model's card drawn at once from its summary (already worked out); ``advice``, when
    known, is its recommendation line, else the card asks for it by itself."""
    return dbc.Card(dbc.CardBody(model_card_body(s, advice), className="d-flex flex-column"),
                    className=f"h-100 model-card status-{s.health.status}")


def portfolio_pager(view) -> html.Nav:
    """Previous / next page of the portfolio's cards, with where this page is."""
    return html.Nav([
        dbc.Button("‹ Previous", id="portfolio-prev", color="secondary", outline=True,
                   size="sm", disabled=view.page <= 1, n_clicks=0),
        html.Span(pager_text(view), id="portfolio-page-text", className="small",
                  role="status"),
        dbc.Button("Next ›", id="portfolio-next", color="secondary", outline=True,
                   size="sm", disabled=view.page >= view.pages, n_clicks=0),
    ], className="d-flex align-items-center gap-3 my-2", id="portfolio-pager",
        **{"aria-label": "Pages of models"}, hidden=view.pages <= 1)


def pager_text(view) -> str:
    if not view.matched:
        return ""
    last = view.first + len(view.names) - 1
    return f"Models {view.first}–{last} of {view.matched} · page {view.page} of {view.pages}"


def shown_text(view, sort: str) -> str:
    """What the page says about the search, the filter and an order that is still being
    worked out (a model's health or money not known yet)."""
    parts = []
    if view.filtered:
        parts.append(f"Showing {view.matched} of {view.total} models." if view.matched
                     else "No model matches this search and filter.")
        if view.checked < view.total:
            parts.append(f"{view.total - view.checked} not checked yet may still join them.")
    if sort == "money" and view.priced < view.total:
        parts.append(f"Money at stake is known for {view.priced} of {view.total} models so "
                     "far; the others follow, by name.")
    elif sort in ("attention", "updated") and view.checked < view.total:
        parts.append(f"Ordered by what is known so far: {view.total - view.checked} models "
                     "are still being checked.")
    return " ".join(parts)


def health_counts_text(facts: dict, names) -> str:
    """"Health: 1 need action, 3 OK. 196 still being checked. Recommendations still being
    worked out for 199 models." """
    counts: dict[str, int] = {}
    for n in names:
        status = (facts.get(n) or {}).get("s", "pending")
        counts[status] = counts.get(status, 0) + 1
    parts = [f"{counts[k]} {w}" for k, w in HEALTH_WORDS.items() if counts.get(k)]
    text = f"Health: {', '.join(parts)}." if parts else ""
    if counts.get("pending"):
        text += f" {counts['pending']} still being checked."
    unadvised = sum(1 for n in names if not (facts.get(n) or {}).get("a"))
    if unadvised:
        text += (f" Recommendations still being worked out for {unadvised} "
                 f"model{'s' if unadvised != 1 else ''}.")
    return text.strip()


def model_card_shell(name: str, task: str) -> dbc.Card:
    """A model's card before its health is worked out: what the listing alone tells. The
    portfolio shows these at once and fills each in (``model_card_body``) as it is ready."""
    return dbc.Card(dbc.CardBody([
        _card_header(name, html.Span("Checking…", className="badge bg-light text-dark "
                                     "status-badge")),
        html.Div(TASK_LABEL.get(task, "Task unknown"), className="small text-muted mb-2"),
        html.P("Working out its health and headline metric…",
               className="small text-muted card-pending mb-0"),
    ], className="d-flex flex-column", id={"type": "card-body", "model": name}),
        className="h-100 model-card status-pending",
        id={"type": "model-card", "model": name})


def _card_header(name: str, badge) -> html.Div:
    return html.Div([
        html.H2(html.A(name, href=f"/models/{name}"), className="h5 card-title mb-0"),
        badge,
    ], className="d-flex justify-content-between align-items-start gap-2")


def model_card_body(s: ModelSummary, advice=None) -> list:
    """The inside of a model's card: headline metric, change, facts, health in words, and
    its recommendation (``advice``), or a place for it that fills itself in (its own
    request)."""
    metric = METRICS.get(s.metric)
    if s.delta is not None:
        word = "better" if s.improved else ("same" if s.delta == 0 else "worse")
        arrow = "▲" if s.delta > 0 else ("▼" if s.delta < 0 else "=")
        change = html.Span(f"{arrow} {s.delta_text} ({word})",
                           className=f"delta delta-{word}")
    else:
        change = html.Span("no earlier version to compare", className="text-muted")
    champion = (f"v{s.champion} ({s.champion_how})" if s.champion is not None
                else "none registered")
    body = [
        _card_header(s.name, status_badge(s.health.status,
                                          id={"type": "status", "model": s.name})),
        html.Div(TASK_LABEL.get(s.task, "Task unknown"), className="small text-muted mb-2"),
    ]
    if s.value is not None and metric is not None:
        body += [
            html.Div([
                html.Span(s.value_text, className="headline-value"),
                html.Abbr(metric.name, title=GLOSSARY.get(s.metric, ""),
                          className="headline-name ms-2"),
            ]),
            html.P(s.sentence, className="mb-1"),
            html.Div(change, className="small mb-2"),
        ]
    body += [
        html.Dl([
            html.Dt("Champion"), html.Dd(champion),
            html.Dt("Versions"), html.Dd(str(s.n_versions)),
            html.Dt("Last updated"),
            html.Dd(ago(s.last_updated),
                    title=s.last_updated.strftime("%d %b %Y %H:%M UTC") if s.last_updated else None),
        ], className="facts small mb-2"),
        html.P([html.Strong(f"{STATUS[s.health.status][0]}: "), s.health.reason],
               className="small health-reason mb-2",
               **{"data-updated": s.last_updated.isoformat() if s.last_updated else ""}),
        _notes(s.notes),
        html.Div(html.Span("Working out a recommendation…",
                           className="text-muted advice-pending"),
                 id={"type": "card-advice", "model": s.name}, className="small mb-2",
                 **{"aria-live": "polite"}) if advice is None else
        html.Div(advice, className="small mb-2"),
        html.Div([
            dbc.Button("Open model", href=f"/models/{s.name}", color="primary", size="sm",
                       title=f"Open {s.name}"),
            dbc.Button("Production", href=f"/monitoring/{s.name}", color="secondary",
                       outline=True, size="sm", title=f"{s.name} in production")
            if s.has_monitoring else None,
        ], className="mt-auto d-flex gap-2"),
    ]
    return body


def _notes(notes) -> html.Details | None:
    """Parts of the model's files that could not be read, each naming its file and field."""
    if not notes:
        return None
    shown = list(notes[:3])
    more = len(notes) - len(shown)
    return html.Details([
        html.Summary(f"{len(notes)} part{'s' if len(notes) != 1 else ''} of this model's "
                     "files could not be read"),
        html.Ul([html.Li(n, className="font-monospace") for n in shown]
                + ([html.Li(f"and {more} more: open the model")] if more else []),
                className="mb-0"),
    ], className="small mb-2 card-notes")


ACTION_LABEL = {"promote": ("Promote", "success", ""), "retrain": ("Retrain", "danger", ""),
                "roll back": ("Roll back", "danger", ""),
                "investigate": ("Investigate", "warning", "text-dark"),
                "keep": ("Keep", "secondary", "")}


def advice_line(rec) -> html.Div:
    """A card's headline recommendation: action, sentence, link to the evidence; it carries
    the money at stake (the portfolio's "money" order)."""
    label, color, text = ACTION_LABEL[rec.action]
    money = {} if rec.money_per_month is None else \
        {"data-money": f"{abs(rec.money_per_month):.6g}"}
    return html.Div([
        html.Strong("Recommendation: "),
        dbc.Badge(label, color=color, className=f"me-1 {text}".strip()),
        rec.headline, " ",
        html.A("Why?", href="/recommendations", title="See the evidence"),
    ], **money)


def problem_card(name: str, problems: list[Problem]) -> dbc.Card:
    return dbc.Card(dbc.CardBody(problem_card_body(name, problems)),
                    className="h-100 model-card status-error",
                    id={"type": "model-card", "model": name})


def problem_card_body(name: str, problems: list[Problem]) -> list:
    return [
        html.Div([
            html.H2(name, className="h5 card-title mb-0"),
            status_badge("error"),
        ], className="d-flex justify-content-between align-items-start gap-2"),
        html.P("This model's files could not be read, so it is left out. The other models are "
               "not affected.", className="small mb-2"),
        html.Ul([html.Li(str(p), className="small font-monospace") for p in problems],
                className="mb-0"),
    ]


MAX_PROBLEMS = 12  # listed in one alert; the rest are counted


def problems_alert(problems: list[Problem], heading: str = "Some registry files could not be read"):
    """A warning listing problems (file and field each), or None when there are none."""
    if not problems:
        return None
    return dbc.Alert([
        html.H2(heading, className="h6 alert-heading"),
        html.Ul([html.Li(str(p), className="small") for p in problems[:MAX_PROBLEMS]]
                + ([html.Li(f"… and {len(problems) - MAX_PROBLEMS} more.", className="small")]
                   if len(problems) > MAX_PROBLEMS else []), className="mb-0"),
    ], color="warning", className="mb-3")


def scroll_table(table, label: str) -> html.Div:
    """A wide table in a region that scrolls sideways on narrow screens. The region is a tab
    stop with a name, so keyboard users can scroll it too (axe: scrollable-region-focusable)."""
    return html.Div(table, className="table-responsive", tabIndex=0, role="region",
                    **{"aria-label": label})
