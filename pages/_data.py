"""How a page reaches the registry: the app's one cached source."""
from __future__ import annotations

from flask import current_app

from registry.cached import CachedSource


def deck() -> CachedSource:
    """The cached source of the app serving this request.

    Raises RegistryError when the registry could not be opened at all."""
    source = current_app.extensions["modeldeck"]
    if not isinstance(source, CachedSource):
        raise source.error
    return source
