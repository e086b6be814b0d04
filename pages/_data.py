"""How a page reaches the registry: the app's one cached source (``serving.app_source``),
and the helpers that cache a callback's outputs through it."""
from __future__ import annotations

import json
from typing import Callable

from plotly.utils import PlotlyJSONEncoder

from registry.cached import CachedSource
from registry.model import Problem, RegistryError
from registry.naming import public_problem
from serving.app_source import deck, flask_app  # noqa: F401 - pages reach the source here


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
        return public_problem(e.problem, source.uri)
    return None


def cached_outputs(key: tuple, model: str, build):
    """A callback's outputs (components, figures) through the cached source, kept as the JSON
    the browser receives: a repeated question (the same threshold, the same amounts) costs
    a cache read instead of building the figures again. ``key`` names the question with
    plain values; ``model`` is the model whose data they come from."""
    text = deck().memo(("outputs",) + key, model, lambda: json.dumps(
        build(), cls=PlotlyJSONEncoder, separators=(",", ":")))
    return json.loads(text)


def cached_model_view(key: tuple, model: str, build):
    """A page section filled in by a callback (``cached_outputs``), or what to say instead
    when the model has gone from the registry or its files cannot be read."""
    import dash_bootstrap_components as dbc

    from components.cards import problems_alert
    try:
        return cached_outputs(key, model, build)
    except KeyError:
        return dbc.Alert("This model is no longer in the registry; reload the page.",
                         color="warning")
    except RegistryError as e:
        return problems_alert([e.problem], "The registry could not be read")


def staged_model_view(key: tuple, model: str, outline, build) -> tuple[object, bool]:
    """A page section that shows at once: (the full section, True) when it has already been
    worked out, else (its outline, False) — the outline is cheap (what the registry says,
    before the bootstraps), and the page then asks for the full section with a second
    request (``cached_model_view(key, …)``)."""
    try:
        text = deck().peek(("outputs",) + key, model)
    except (KeyError, RegistryError):
        text = None
    if text is not None:
        return json.loads(text), True
    return cached_model_view(key + ("outline",), model, outline), False


def model_or_message(name: str | None):
    """(the model called ``name``, None), or (None, what its page shows instead): there is no
    such model, the registry cannot be read, or this model's own files cannot be read."""
    from dash import html

    from components.cards import problems_alert
    from components.messages import not_found, registry_unavailable
    try:
        return deck().model(name or ""), None
    except KeyError:
        return None, not_found(f"There is no model called {name!r} in this registry.")
    except RegistryError as e:
        if e.problem.model is None:
            return None, registry_unavailable(e.problem)
        return None, html.Div([html.H1(name, className="h3 mt-2"), problems_alert(
            [e.problem], "This model's files could not be read")])


def staged_body(prefix: str, ref: dict, waiting: str) -> list:
    """The stores and the body of a page whose body arrives from ``staged_callbacks``;
    ``waiting`` is said until the first callback answers."""
    from dash import dcc, html
    return [dcc.Store(id=f"{prefix}-ref", data=ref), dcc.Store(id=f"{prefix}-whole"),
            html.Div(html.P(waiting, className="text-muted", role="status"),
                     id=f"{prefix}-body")]


def checked_ref(prefix: str, ref, fields: dict[str, tuple[type, ...]] | None = None) -> dict:
    """``ref`` when it is what a page wrote to its store ``{prefix}-ref``: an object with
    ``"model"`` (text) and each key of ``fields`` holding one of its types (a boolean is not
    a number; a ``"threshold"`` number lies between 0 and 1). Anything else (a request made
    by hand) is a 400 saying so, never a 500."""
    from werkzeug.exceptions import BadRequest
    wanted = {"model": (str,), **(fields or {})}
    t = ref.get("threshold") if isinstance(ref, dict) else None
    if not isinstance(ref, dict) or any(
            k not in ref or not isinstance(ref[k], types) or isinstance(ref[k], bool)
            for k, types in wanted.items()) or \
            (isinstance(t, (int, float)) and not 0 <= t <= 1):
        raise BadRequest(f"{prefix}-ref must be an object with "
                         + ", ".join(f"'{k}'" for k in wanted) + " as the page writes it")
    return ref


def staged_callbacks(prefix: str, key: Callable[[dict], tuple],
                     view: Callable[[dict, bool], object],
                     fields: dict[str, tuple[type, ...]] | None = None):
    """The two callbacks of a page whose body shows its outline first, then the whole
    (``staged_model_view``): the store ``{prefix}-ref`` (the page's question, ``"model"``
    included) fills ``{prefix}-body`` and says in ``{prefix}-whole`` whether that was the
    whole; if not, the second callback sends the whole. ``key(ref)`` names the question for
    the cache, ``view(ref, outline)`` builds the body; ``fields``: the ref's other keys and
    their types. A ref that is not what the page wrote (a request made by hand) is a 400
    saying so, never a 500. Returns (fill, fill_whole)."""
    from dash import Input, Output, State, callback
    from dash.exceptions import PreventUpdate

    def checked(ref) -> dict:
        return checked_ref(prefix, ref, fields)

    @callback(Output(f"{prefix}-body", "children"), Output(f"{prefix}-whole", "data"),
              Input(f"{prefix}-ref", "data"))
    def fill(ref):
        ref = checked(ref)
        return staged_model_view(key(ref), ref["model"], lambda: view(ref, True),
                                 lambda: view(ref, False))

    @callback(Output(f"{prefix}-body", "children", allow_duplicate=True),
              Input(f"{prefix}-whole", "data"), State(f"{prefix}-ref", "data"),
              prevent_initial_call=True)
    def fill_whole(whole, ref):
        if whole is not False:
            raise PreventUpdate
        ref = checked(ref)
        return cached_model_view(key(ref), ref["model"], lambda: view(ref, False))
    return fill, fill_whole


def one(value):
    """One value of a query parameter: a key repeated in the address (``?version=1&version=2``)
    arrives as a list, and the first is used, as for a key given once."""
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value
