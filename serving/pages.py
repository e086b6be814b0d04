"""Warm page views in milliseconds: a page's layout, once built for a question, is kept in
the shared cache as JSON.

Dash Pages calls ``layout(**path_and_query)`` on every visit, and ModelDeck's layouts build
a dozen Plotly figures (≈0.3–1 s of CPU even when every number is cached). The layout of a
page depends only on the registry's data, the page's address and the day (sentences such as
"3 days ago"), so ``cache_layouts`` wraps each page's ``layout`` in ``CachedSource.memo``
keyed by exactly those: computed once across workers and threads (single flight), re-built
when any file of the registry changes. A registry that cannot be read is never cached: the
page then says why, and recovers on the next view.
"""
from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime, timezone

import dash
from plotly.utils import PlotlyJSONEncoder

from registry.model import RegistryError


def registry_version(deck) -> str:
    """One token for the whole registry: its listing and every model's data."""
    parts = [deck.source.data_version(None)]
    parts += [deck.source.data_version(m.name) for m in deck.models().items]
    return hashlib.blake2b("|".join(parts).encode(), digest_size=10).hexdigest()


def cached_layout(layout, module: str, get_deck):
    @functools.wraps(layout)
    def wrapper(**kwargs):
        try:
            deck = get_deck()
            version = registry_version(deck)
        except (RegistryError, AttributeError):  # unreadable registry: the page explains
            return layout(**kwargs)
        day = datetime.now(timezone.utc).date().isoformat()
        key = ("layout", module, version, day, tuple(sorted(
            (str(k), json.dumps(v, sort_keys=True, default=str)) for k, v in kwargs.items())))

        def build() -> str:
            return json.dumps(layout(**kwargs), cls=PlotlyJSONEncoder, separators=(",", ":"))
        # Dash's component JSON, as the browser receives it.
        return json.loads(deck.memo(key, None, build))
    return wrapper


def cache_layouts(app: dash.Dash, get_deck) -> None:
    """Wrap every registered page's layout (call after ``Dash(use_pages=True)``)."""
    for module, page in dash.page_registry.items():
        layout = page.get("layout")
        if callable(layout) and not getattr(layout, "_modeldeck_cached", False):
            wrapped = cached_layout(layout, module, get_deck)
            wrapped._modeldeck_cached = True
            page["layout"] = wrapped
