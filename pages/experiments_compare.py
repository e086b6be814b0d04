"""`/experiments/compare?sel=…` — chosen runs side by side: parallel coordinates, scatter,
training curves (smoothed, thinned on the server), mean curves with a band per group, the
fields that differ, and which parameters matter for a metric.

The URL holds the selection and every chart option, so a shared or reloaded link shows the
same view. A short selection is its run ids (``runs=``); a long one a short id stored by
ModelDeck (``sel=``, ``registry.links``), so that no request line grows past 2 KB. Only the
chosen runs are read (``selected_runs``), never the whole experiment.
"""
from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from analysis.experiments import selected_runs
from analysis.run_curves import curves, group_curves
from analysis.run_importance import parameter_importance
from analysis.run_selection import axis, decode_runs, run_labels, short_name, side_by_side
from analysis.run_table import ALL
from analysis.language import GLOSSARY
from components.cards import problems_alert
from components.experiment_figures import (
    comparison_table, grouped_curves, importance_box, parallel_coordinates, scatter,
    training_curves,
)
from components.graph import chart
from components.messages import not_found, registry_unavailable
from registry import RegistryError
from registry.links import link_store

from ._data import deck

dash.register_page(__name__, path="/experiments/compare", name="Compare runs",
                   title="Compare runs · ModelDeck")

MAX_DIMS = 10
MAX_TABLE_RUNS = 20


def layout(experiment: str | None = None, runs: str | None = None, sel: str | None = None,
           **query):
    experiment = _text(experiment) or ALL
    try:
        experiment, ids, key = chosen(experiment, _text(runs), _text(sel))
    except ValueError as e:
        return not_found(f"This link's run list cannot be read: {e}.", _back(experiment),
                         "Back to the runs")
    back = _back(experiment)
    try:
        d = deck()
        table, sub, missing = selected_runs(d, experiment, ids)
    except KeyError:
        return not_found(f"There is no experiment called {experiment!r} in this registry.",
                         "/experiments", "Show the experiments")
    except RegistryError as e:
        return registry_unavailable(e.problem)
    if sub.empty:
        return not_found("None of the runs in this link are in this registry"
                         if ids else "No runs were chosen to compare.", back,
                         "Back to the runs")
    keys = history_keys(d, sub)
    opts = view_options(table, sub, query, keys)  # charts and curves: by callback
    sel_data = {"experiment": experiment, "sel": key}
    return html.Div([
        dcc.Location(id="cmp-url", refresh=False),
        dcc.Store(id="cmp-sel", data=sel_data),
        dbc.Breadcrumb(items=[{"label": "Experiments", "href": back},
                              {"label": "Compare", "active": True}]),
        html.H1(f"Compare {len(sub):,} runs" + (f" of {experiment}" if experiment != ALL
                                                 else ""), className="h3"),
        html.P(f"{len(missing):,} runs of the link are no longer in the registry: "
               f"{', '.join(missing[:5])}{'…' if len(missing) > 5 else ''}.",
               className="text-warning", id="cmp-missing") if missing else None,
        html.H2("Parameters and results", className="h5 mt-3"),
        dbc.Row([
            _select("cmp-metric", "Metric", opts["metric"], _options(table.metrics), md=3),
            _select("cmp-dims", "Parameters (parallel coordinates)", opts["dims"],
                    _options(table.params), multi=True, md=9),
        ], className="g-3"),
        chart(_empty("Loading…"), id="cmp-parallel",
              caption="Each line is one run. Drag along an axis to keep only the runs in a "
                      "range; the colour is the metric."),
        dbc.Row([
            _select("cmp-x", "Scatter: across", opts["x"], _options(table.params +
                                                                     table.metrics), md=4),
            _select("cmp-y", "Scatter: up", opts["y"], _options(table.metrics), md=4),
            _select("cmp-color", "Scatter: colour", opts["color"],
                    _options(table.params + table.metrics + table.tags), clearable=True, md=4),
        ], className="g-3"),
        chart(_empty("Loading…"), id="cmp-scatter",
              caption="Each point is one run."),
        html.H2("Training curves", className="h5 mt-4"),
        problems_alert(history_problems(d, sub), "Some metric histories could not be read"),
        dbc.Row([
            _select("cmp-curve", "Logged metric", opts["curve"],
                    [{"label": k, "value": k} for k in opts["keys"]], md=3),
            dbc.Col([html.Label(["Smoothing: ", html.Span(f"{opts['smooth']:g}",
                                                          id="cmp-smooth-value")],
                                htmlFor="cmp-smooth", className="form-label"),
                     dbc.Input(id="cmp-smooth", type="range", min=0, max=0.99, step=0.01,
                               value=opts["smooth"], className="form-range")], md=3),
            _select("cmp-group", "Group runs by", opts["group"], _options(table.params), md=3),
            _select("cmp-band", "Band", opts["band"],
                    [{"label": "± 1 standard deviation", "value": "std"},
                     {"label": "min – max", "value": "minmax"}], md=3),
        ], className="g-3"),
        dcc.Loading(html.Div(id="cmp-curves-box"), type="dot"),
        html.H2("Which parameters matter", className="h5 mt-4"),
        html.P(GLOSSARY["param_importance"], className="small text-muted"),
        html.P("Fitting the importance model… this can take a few seconds on a large sweep.",
               id="cmp-importance-busy", className="small text-muted", role="status",
               style={"display": "none"}),
        html.Div(id="cmp-importance-box"),
        html.H2("Side by side", className="h5 mt-4"),
        dbc.Switch(id="cmp-diff", label="Only show differences", value=opts["diff"],
                   className="mb-2"),
        html.Div(diff_table(table, sub, opts["diff"]), id="cmp-table"),
    ])


# ------------------------------------------------------------------ options from the URL
def _text(v) -> str:
    if isinstance(v, list):
        v = v[-1] if v else ""
    return "" if v is None else str(v)


def _back(experiment: str) -> str:
    return "/experiments" + (f"?{urlencode({'experiment': experiment})}"
                             if experiment != ALL else "")


def chosen(experiment: str, runs: str, sel: str) -> tuple[str, list[str], str]:
    """The experiment, run ids and short id of a link: ``sel=`` (a stored selection) or the
    older ``runs=`` (ids, or a packed list), which is stored now so the page's own links stay
    short. ValueError with a plain message when neither can be read."""
    store = link_store()
    if sel:
        found = store.load(sel)
        if found is None:
            raise ValueError(f"the selection {sel!r} is not stored here (ModelDeck keeps "
                             "selections in MODELDECK_STATE_DIR; it may have been cleared)")
        stored_experiment, ids = found
        return (stored_experiment or experiment), ids, sel
    ids = decode_runs(runs)
    return experiment, ids, store.save(experiment, ids) if ids else ""


def _options(cols) -> list[dict]:
    return [{"label": short_name(c), "value": c} for c in cols]


def _select(id_, label, value, options, multi=False, clearable=False, md=3):
    return dbc.Col([html.Label(label, htmlFor=id_, className="form-label"),
                    dcc.Dropdown(id=id_, options=options, value=value, multi=multi,
                                 clearable=clearable or multi)], md=md)


def history_keys(d, sub: pd.DataFrame) -> list[str]:
    """The metrics with a curve (logged more than once) in the chosen runs."""
    keys: set[str] = set()
    for exp in sub["experiment"].dropna().unique():
        ids = sub.loc[sub["experiment"] == exp, "run_id"].tolist()
        try:
            keys |= set(d.history_keys(exp, ids))
        except (KeyError, RegistryError):
            pass
    return sorted(keys)


def _history(d, experiment: str, sub: pd.DataFrame, keys=None) -> pd.DataFrame:
    ids = sub.loc[sub["experiment"] == experiment, "run_id"].tolist()
    try:
        return d.metric_history(experiment, ids, keys)
    except (KeyError, RegistryError):
        return pd.DataFrame(columns=["run_id", "key", "step", "timestamp", "value"])


def history_problems(d, sub: pd.DataFrame) -> list:
    """Why the history of an experiment in ``sub`` cannot be read (file and column)."""
    out = []
    for exp in sub["experiment"].dropna().unique():
        try:
            d.metric_history(exp, [])
        except KeyError:
            continue
        except RegistryError as e:
            out.append(e.problem)
    return out


def history(d, sub: pd.DataFrame, keys=None) -> pd.DataFrame:
    """The chosen runs' histories of ``keys`` (all when None), only those runs and keys."""
    parts = [_history(d, e, sub, keys) for e in sub["experiment"].dropna().unique()]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else \
        pd.DataFrame(columns=["run_id", "key", "step", "timestamp", "value"])


def view_options(table, sub: pd.DataFrame, query: dict, keys: list[str]) -> dict:
    """Every chart option from the query string; unknown or bad values fall back to a
    sensible default (never an error)."""
    varying = list(table.varying_params(sub)) or list(table.params)
    metrics = list(table.metrics)

    def pick(name, allowed, default):
        v = _text(query.get(name))
        return v if v in allowed else default

    preferred = [m for m in metrics if "auc" in m] + metrics
    metric = pick("metric", metrics, preferred[0] if preferred else None)
    dims = [c for c in _text(query.get("dims")).split(",") if c in table.params][:MAX_DIMS] \
        or varying[:MAX_DIMS]
    x = pick("x", table.params + table.metrics, varying[0] if varying else metric)
    y = pick("y", metrics, metric)
    color_default = varying[1] if len(varying) > 1 else None
    color = pick("color", table.params + table.metrics + table.tags, color_default) \
        if _text(query.get("color")) != "none" else None
    val = [k for k in keys if k.startswith("val")]
    curve = pick("curve", keys, (val or keys or [None])[0])
    try:
        smooth = min(0.99, max(0.0, float(_text(query.get("smooth")) or 0)))
    except ValueError:
        smooth = 0.0
    group = pick("group", table.params, varying[0] if varying else None)
    band = pick("band", ("std", "minmax"), "std")
    diff = _text(query.get("diff")) != "0"
    return dict(metric=metric, dims=dims, x=x, y=y, color=color, curve=curve, smooth=smooth,
                group=group, band=band, diff=diff, keys=keys)


def options_query(sel: dict, metric, dims, x, y, color, curve, smooth, group, band,
                  diff) -> str:
    q = {"experiment": sel["experiment"], "sel": sel.get("sel"), "runs": sel.get("runs"),
         "metric": metric,
         "dims": ",".join(dims or []), "x": x, "y": y, "color": color or "none",
         "curve": curve, "smooth": f"{float(smooth or 0):g}", "group": group, "band": band,
         "diff": "1" if diff else "0"}
    return "?" + urlencode({k: v for k, v in q.items() if v not in (None, "")})


# ------------------------------------------------------------------ figures (delegating)
def _sub(sel: dict):
    _, ids, _ = chosen(sel["experiment"], sel.get("runs") or "", sel.get("sel") or "")
    table, sub, _ = selected_runs(deck(), sel["experiment"], ids)
    return table, sub


def parallel_figure(sub, metric, dims):
    if not metric:
        return _empty("This experiment logs no metrics.")
    return parallel_coordinates([axis(sub, c) for c in (dims or [])[:MAX_DIMS]],
                                axis(sub, metric))


def scatter_figure(sub, x, y, color):
    if not (x and y):
        return _empty("Choose what goes across and up.")
    return scatter(axis(sub, x), axis(sub, y), axis(sub, color) if color else None,
                   run_labels(sub))


def curve_charts(d, sub, opts):
    if not opts["curve"]:
        return html.P("These runs logged no metric histories.", className="text-muted")
    h = history(d, sub, [opts["curve"]])
    parts = [chart(training_curves(curves(h, sub, opts["curve"], opts["smooth"])),
                   id="cmp-curves",
                   caption="Each line is one run's logged values by step, thinned on the "
                           "server to the lowest and highest value of each stretch of steps. "
                           "Smoothing is an exponential moving average.")]
    if opts["group"]:
        parts.append(chart(grouped_curves(group_curves(h, sub, opts["curve"], opts["group"],
                                                       opts["smooth"], opts["band"])),
                           id="cmp-groups",
                           caption="Runs with the same parameter value (or range) are averaged "
                                   "step by step; the band shows how much they spread."))
    return parts


def diff_table(table, sub, only_differences):
    t, same = side_by_side(sub, table.params, table.metrics, table.tags, only_differences,
                           MAX_TABLE_RUNS)
    return comparison_table(t, same, only_differences, min(len(sub), MAX_TABLE_RUNS), len(sub))


def _empty(message: str):
    import plotly.graph_objects as go

    from components.figures import styled
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper",
                       yref="paper")
    return styled(fig, message, "", "", height=200)


# ------------------------------------------------------------------ callbacks
@callback(Output("cmp-parallel", "figure"), Input("cmp-metric", "value"),
          Input("cmp-dims", "value"), State("cmp-sel", "data"))
def update_parallel(metric, dims, sel):
    return parallel_figure(_sub(sel)[1], metric, dims)


@callback(Output("cmp-scatter", "figure"), Input("cmp-x", "value"), Input("cmp-y", "value"),
          Input("cmp-color", "value"), State("cmp-sel", "data"))
def update_scatter(x, y, color, sel):
    return scatter_figure(_sub(sel)[1], x, y, color)


@callback(Output("cmp-curves-box", "children"), Output("cmp-smooth-value", "children"),
          Input("cmp-curve", "value"), Input("cmp-smooth", "value"),
          Input("cmp-group", "value"), Input("cmp-band", "value"), State("cmp-sel", "data"))
def update_curves(curve, smooth, group, band, sel):
    smooth = min(0.99, max(0.0, float(smooth or 0)))
    opts = dict(curve=curve, smooth=smooth, group=group, band=band or "std")
    return curve_charts(deck(), _sub(sel)[1], opts), f"{smooth:g}"


# Fitting the importance model takes seconds on a large sweep: a background job
# (serving/jobs.py), after the charts, its result shared through the cache.
@callback(Output("cmp-importance-box", "children"), Input("cmp-metric", "value"),
          State("cmp-sel", "data"), background=True, interval=500,
          running=[(Output("cmp-importance-busy", "style"), {"display": "block"},
                    {"display": "none"})])
def update_importance(metric, sel):
    if not metric:
        return None
    table, sub = _sub(sel)
    which = sel.get("sel") or hashlib.blake2b((sel.get("runs") or "").encode(),
                                              digest_size=12).hexdigest()
    imp = deck().memo(("importance", sel["experiment"], which, metric), None,
                      lambda: parameter_importance(sub, table.params, metric))
    return importance_box(imp)


@callback(Output("cmp-table", "children"), Input("cmp-diff", "value"),
          State("cmp-sel", "data"), prevent_initial_call=True)
def update_table(diff, sel):
    table, sub = _sub(sel)
    return diff_table(table, sub, bool(diff))


@callback(Output("cmp-url", "search"), Input("cmp-metric", "value"),
          Input("cmp-dims", "value"), Input("cmp-x", "value"), Input("cmp-y", "value"),
          Input("cmp-color", "value"), Input("cmp-curve", "value"),
          Input("cmp-smooth", "value"), Input("cmp-group", "value"),
          Input("cmp-band", "value"), Input("cmp-diff", "value"), State("cmp-sel", "data"),
          prevent_initial_call=True)
def remember_in_url(metric, dims, x, y, color, curve, smooth, group, band, diff, sel):
    return options_query(sel, metric, dims, x, y, color, curve, smooth, group, band, diff)
