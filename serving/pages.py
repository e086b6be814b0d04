"""Warm page views in milliseconds: a page's layout, once built for a question, is kept in
the shared cache as JSON.

Dash Pages calls ``layout(**path_and_query)`` on every visit, and ModelDeck's layouts build
a dozen Plotly figures (≈0.3–1 s of CPU even when every number is cached). The layout of a
page depends only on the registry's data, the page's address and the day (sentences such as
"3 days ago"), so when Dash Pages renders a page for the browser, ``cache_layouts`` keeps
the result in ``CachedSource.memo`` keyed by exactly those (called directly, a layout still
returns Dash components): computed once across workers and threads (single flight),
re-built when any file of the registry changes (seen within ``VERSION_TTL``, one second).
A registry that cannot be read is never cached: the
page then says why, and recovers on the next view.
"""
from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone

import dash
from flask import has_request_context, request
from plotly.utils import PlotlyJSONEncoder

from registry.model import RegistryError


#: a registry's version is re-read at most this often per process (seconds): reading it
#: stats every file of the registry, ~2 ms per model
VERSION_TTL = 1.0
#: decoded layouts kept per process, so a warm view does not even parse the cached JSON
LOCAL_LAYOUTS = 32

_versions: dict[int, tuple[float, str]] = {}
_local: OrderedDict = OrderedDict()
_local_lock = threading.Lock()


def registry_version(deck) -> str:
    """One token for the whole registry: its listing and every model's data."""
    now = time.monotonic()
    seen = _versions.get(id(deck))
    if seen is not None and now - seen[0] < VERSION_TTL:
        return seen[1]
    parts = [deck.source.data_version(None)]
    parts += [deck.source.data_version(m.name) for m in deck.models().items]
    version = hashlib.blake2b("|".join(parts).encode(), digest_size=10).hexdigest()
    _versions[id(deck)] = (now, version)
    return version


def _remember(key: str, value=None):
    """The decoded form of the layout JSON ``key`` in this process (with ``value``: keep
    it). Keyed by the text itself, so it can never answer for another version."""
    with _local_lock:
        if value is None:
            hit = _local.get(key)
            if hit is not None:
                _local.move_to_end(key)
            return hit
        _local[key] = value
        while len(_local) > LOCAL_LAYOUTS:
            _local.popitem(last=False)
        return value


def _answering_a_callback() -> bool:
    """True while Dash Pages renders a page for the browser (POST _dash-update-component)."""
    return has_request_context() and request.path.endswith("/_dash-update-component")


def cached_layout(layout, module: str, get_deck):
    @functools.wraps(layout)
    def wrapper(**kwargs):
        if not _answering_a_callback():  # called directly (tests, Dash's checks): components
            return layout(**kwargs)
        try:
            deck = get_deck()
            version = registry_version(deck)
        except (RegistryError, AttributeError):  # unreadable registry: the page explains
            return layout(**kwargs)
        day = datetime.now(timezone.utc).date().isoformat()
        key = ("layout", module, tuple(sorted(
            (str(k), json.dumps(v, sort_keys=True, default=str)) for k, v in kwargs.items())))

        def build() -> str:
            return json.dumps(layout(**kwargs), cls=PlotlyJSONEncoder, separators=(",", ":"))
        text = deck.memo(key, None, build, version=f"{version}:{day}")
        # Dash's component JSON, as the browser receives it (Dash encodes it as it is).
        return _remember(text) or _remember(text, json.loads(text))
    return wrapper


def cache_layouts(app: dash.Dash, get_deck) -> None:
    """Wrap every registered page's layout (call after ``Dash(use_pages=True)``)."""
    for module, page in dash.page_registry.items():
        layout = page.get("layout")
        if callable(layout) and not getattr(layout, "_modeldeck_cached", False):
            wrapped = cached_layout(layout, module, get_deck)
            wrapped._modeldeck_cached = True
            page["layout"] = wrapped
