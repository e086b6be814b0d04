"""The frame around every page: skip link, navigation bar, registry banner, main landmark."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from registry.model import Problem


def nav_links() -> list:
    """Navigation built from Dash's page registry: every page that declares ``nav_order``."""
    pages = sorted((p for p in dash.page_registry.values() if p.get("nav_order") is not None),
                   key=lambda p: p["nav_order"])
    return [dbc.NavItem(dbc.NavLink(p["name"], href=p["relative_path"], active="exact"))
            for p in pages]


def registry_banner(problem: Problem | None):
    """What the banner above every page says: nothing while the registry answers."""
    if problem is None:
        return None
    return dbc.Alert([
        html.Strong("The registry is not available. "),
        html.Span(str(problem), id="registry-banner-text"),
        html.Span(" Pages show what could be read before; this page reloads by itself when "
                  "the registry answers again.", className="d-block small mt-1"),
    ], color="danger", className="mb-3", id="registry-banner-alert")


def app_shell(title: str, poll_seconds: float = 15.0, sign_out: bool = False):
    """``sign_out``: the login is on (serving/auth.py), so the bar offers to sign out."""
    account = [dbc.Nav(dbc.NavItem(dbc.NavLink("Sign out", href="/logout", external_link=True,
                                               id="sign-out")), navbar=True)] if sign_out else []
    return html.Div([
        html.A("Skip to main content", href="#main", className="visually-hidden-focusable"),
        html.Header(dbc.Navbar(
            dbc.Container([
                dbc.NavbarBrand(title, href="/", className="fw-semibold"),
                dbc.Nav(nav_links(), navbar=True, className="me-auto"),
                *account,
            ], fluid=True),
            color="dark", dark=True, className="mb-3",
        )),
        # Filled by the app's status callback whenever the registry cannot be read.
        html.Div(id="registry-banner", className="container-fluid", role="status",
                 **{"aria-live": "polite"}),
        dcc.Interval(id="registry-poll", interval=int(poll_seconds * 1000)),
        dcc.Store(id="registry-state"),
        dcc.Store(id="registry-reload"),
        html.Main(dash.page_container, id="main", className="container-fluid pb-5"),
    ])


def model_page_heading(model: str, here: str, title: str, title_class: str = "h3 mb-0"
                       ) -> list:
    """The breadcrumb (portfolio › the model › ``here``) and the heading of one of a model's
    pages (its card, story, monitoring, comparison)."""
    return [dbc.Breadcrumb(items=[{"label": "Portfolio", "href": "/"},
                                  {"label": model, "href": f"/models/{model}"},
                                  {"label": here, "active": True}]),
            html.H1(title, className=title_class)]

