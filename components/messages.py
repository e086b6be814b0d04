"""Messages shown in place of content that could not be produced."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from registry.model import Problem


def registry_unavailable(problem: Problem):
    return dbc.Alert([
        html.H1("The registry could not be opened", className="h4 alert-heading"),
        html.P(str(problem)),
        html.P("Check the path given with --registry or MODELDECK_REGISTRY.", className="mb-0"),
    ], color="danger", className="mt-3")


def not_found(what: str, back_href: str = "/", back_label: str = "Back to the portfolio"):
    return dbc.Alert([
        html.H1("Not found", className="h4 alert-heading"),
        html.P(what),
        dbc.Button(back_label, href=back_href, color="primary", size="sm"),
    ], color="secondary", className="mt-3")


def registry_problem(problem: Problem):
    """A registry error in place of a page: the whole registry (no model named), or one
    model's files (file and field named)."""
    if problem.model is None:
        return registry_unavailable(problem)
    return dbc.Alert([html.H1("This model's files could not be read", className="h4"),
                      html.P(str(problem), className="mb-0")], color="warning",
                     className="mt-3")
