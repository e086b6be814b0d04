"""How a page reaches the registry: the app's one cached source."""
from __future__ import annotations

import dash
from flask import Flask, current_app, has_app_context

from registry.cached import CachedSource
from registry.model import Problem, RegistryError


def flask_app() -> Flask:
    """The Flask app serving this request — or, in a background job (a Celery worker, which
    has no request), the app its process built."""
    return current_app._get_current_object() if has_app_context() else dash.get_app().server


def deck() -> CachedSource:
    """The cached source of the app serving this request (or running this background job).

    Raises RegistryError when the registry could not be opened at all."""
    source = flask_app().extensions["modeldeck"]
    if not isinstance(source, CachedSource):
        raise source.error
    return source


def registry_problem() -> Problem | None:
    """Why the registry cannot be read right now (a server that is down, a wrong address,
    access refused), or None when it answers. A registry that could not be opened at all is
    explained by every page itself, so it gives None here."""
    source = flask_app().extensions["modeldeck"]
    if not isinstance(source, CachedSource):
        return None
    try:
        source.source.data_version(None)
    except RegistryError as e:
        return e.problem
    return None
