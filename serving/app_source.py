"""The app's one cached source, for whatever answers a request or runs a background job:
a page (``pages._data``) or an export (``reports.routes``). ``app.create_app`` puts it in
``server.extensions["modeldeck"]``; nothing here reads the registry itself."""
from __future__ import annotations

import dash
from flask import Flask, current_app, has_app_context

from registry.cached import CachedSource


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
