"""How a page reaches the registry: the app's one cached source."""
from __future__ import annotations

from flask import current_app

from registry.cached import CachedSource
from registry.model import Problem, RegistryError


def deck() -> CachedSource:
    """The cached source of the app serving this request.

    Raises RegistryError when the registry could not be opened at all."""
    source = current_app.extensions["modeldeck"]
    if not isinstance(source, CachedSource):
        raise source.error
    return source


def registry_problem() -> Problem | None:
    """Why the registry cannot be read right now (a server that is down, a wrong address,
    access refused), or None when it answers. A registry that could not be opened at all is
    explained by every page itself, so it gives None here."""
    source = current_app.extensions["modeldeck"]
    if not isinstance(source, CachedSource):
        return None
    try:
        source.source.data_version(None)
    except RegistryError as e:
        return e.problem
    return None


def one(value):
    """One value of a query parameter: a key repeated in the address (``?version=1&version=2``)
    arrives as a list, and the first is used, as for a key given once."""
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value
