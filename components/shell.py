"""The frame around every page: skip link, navigation bar, main landmark."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html


def nav_links() -> list:
    """Navigation built from Dash's page registry: every page that declares ``nav_order``."""
    pages = sorted((p for p in dash.page_registry.values() if p.get("nav_order") is not None),
                   key=lambda p: p["nav_order"])
    return [dbc.NavItem(dbc.NavLink(p["name"], href=p["relative_path"], active="exact"))
            for p in pages]


def app_shell(title: str):
    return html.Div([
        html.A("Skip to main content", href="#main", className="visually-hidden-focusable"),
        html.Header(dbc.Navbar(
            dbc.Container([
                dbc.NavbarBrand(title, href="/", className="fw-semibold"),
                dbc.Nav(nav_links(), navbar=True, className="me-auto"),
            ], fluid=True),
            color="dark", dark=True, className="mb-3",
        )),
        html.Main(dash.page_container, id="main", className="container-fluid pb-5"),
    ])
