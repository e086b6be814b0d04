"""`/experiments` — the runs of an experiment in a grid that stays fast at 20,000 runs.

Filtering, sorting and paging happen on the server (AG Grid's infinite row model): the browser
only ever holds the block of rows it shows. The first rows never wait for the whole run table:
from MLflow they come from one search with the filter and order pushed down where MLflow can do
them (``analysis.experiments.answer_rows``), while the rest of the runs load in the background
and a timer reports how many have arrived. The URL holds the experiment, the filter
expression, the quick search, the shown columns and the "top N" choice.
"""
from __future__ import annotations

from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from analysis.experiments import answer_rows, ordered_rows, runs_view, schema_table
from analysis.run_selection import lower_is_better, selection_query, short_name, top_runs
from analysis.run_table import ALL, row_block
from analysis.expression_eval import evaluate
from analysis.expressions import ExpressionError
from components.cards import problems_alert
from components.messages import not_found, registry_unavailable
from registry import RegistryError

from ._data import deck

dash.register_page(__name__, path="/experiments", name="Experiments",
                   title="Experiments · ModelDeck", nav_order=1)

BLOCK = 100
LOADING_POLL_MS = 1000  # how often the page asks how many runs have been read
EXAMPLE = "e.g. metrics.auc > 0.9 and params.max_depth <= 6"


def layout(experiment: str | None = None, q: str = "", search: str = "", cols=None,
           metric: str | None = None, n: str | None = None, **_query):
    try:
        d = deck()
        listing = d.experiments()
        names = [e.name for e in listing.items]
    except RegistryError as e:
        return registry_unavailable(e.problem)
    if not names:
        return html.Div([html.H1("Experiments", className="h3 mt-2"),
                         problems_alert(list(listing.problems)),
                         dbc.Alert("This registry has no experiments yet. "
                                   "docs/registry-format.md explains how to log runs.",
                                   color="info")])
    experiment = _text(experiment) or names[0]
    if experiment != ALL and experiment not in names:
        return not_found(f"There is no experiment called {experiment!r} in this registry.",
                         "/experiments", "Show the experiments")
    view = runs_view(d, experiment)
    table = schema_table(d, experiment, view)
    q, search = _text(q), _text(search)
    applied, message = _check(q, table)
    columns = _columns(table, cols)
    metric = _text(metric)
    metric = metric if metric in table.metrics else (table.metrics[0] if table.metrics else None)
    top_n = _count(n)
    state = {"experiment": experiment, "q": applied, "search": search, "cols": columns}
    options = [{"label": "All experiments", "value": ALL}] + \
        [{"label": x, "value": x} for x in names]
    return html.Div([
        dcc.Location(id="exp-url", refresh=False),
        dcc.Location(id="exp-nav", refresh="callback-nav"),
        dcc.Store(id="exp-state", data=state),
        dcc.Store(id="exp-view", data={}),
        dcc.Store(id="exp-purged"),
        dcc.Store(id="exp-loaded", data=view.done),
        dcc.Interval(id="exp-loading", interval=LOADING_POLL_MS, disabled=view.done),
        html.H1("Experiments", className="h3 mt-2"),
        html.P(progress_text(view), className="text-muted", id="exp-total",
               **{"aria-live": "polite"}),
        problems_alert(_problems(listing.problems, table.problems, experiment)),
        dbc.Row([
            dbc.Col([html.Label("Experiment", htmlFor="exp-experiment", className="form-label"),
                     dcc.Dropdown(id="exp-experiment", options=options, value=experiment,
                                  clearable=False)], md=3),
            dbc.Col([html.Label("Filter expression", htmlFor="exp-expression",
                                className="form-label"),
                     dbc.InputGroup([
                         dbc.Input(id="exp-expression", value=q, debounce=True,
                                   placeholder=EXAMPLE, type="text"),
                         dbc.Button("Apply", id="exp-apply", color="primary")]),
                     html.Div("Compare params., metrics. and tags. columns with ==, !=, <, <=, "
                              ">, >=, contains; combine with and, or, not and parentheses. "
                              "A run without the value matches no comparison on it, "
                              "with or without not.",
                              id="exp-expression-help", className="form-text")], md=6),
            dbc.Col([html.Label("Search runs", htmlFor="exp-search", className="form-label"),
                     dbc.Input(id="exp-search", value=search, debounce=True, type="search",
                               placeholder="name, id, tag…")], md=3),
        ], className="g-3 mb-2"),
        html.Div(message, id="exp-filter-message", role="alert",
                 className="alert alert-danger py-2" if message else ""),
        html.Label("Columns shown", htmlFor="exp-cols", className="form-label"),
        dcc.Dropdown(id="exp-cols", options=_column_options(table), value=columns, multi=True,
                     placeholder="Choose params, metrics and tags", className="mb-2"),
        html.P(id="exp-count", className="small text-muted mb-1", **{"aria-live": "polite"}),
        dag.AgGrid(
            id="exp-grid",
            rowModelType="infinite",
            columnDefs=column_defs(table, columns),
            defaultColDef={"sortable": True, "resizable": True, "minWidth": 110,
                           "filterParams": {"maxNumConditions": 2}},
            getRowId="params.data.experiment + '/' + params.data.run_id",
            dashGridOptions={
                "rowSelection": {"mode": "multiRow", "checkboxes": True,
                                 "headerCheckbox": False, "enableClickSelection": False},
                "cacheBlockSize": BLOCK, "maxBlocksInCache": 20, "rowBuffer": 10,
                "infiniteInitialRowCount": BLOCK, "suppressFieldDotNotation": True,
                "ensureDomOrder": True, "selectionColumnDef": {"pinned": "left"},
            },
            style={"height": "520px"},
            className="ag-theme-quartz md-runs-grid",
        ),
        dbc.Row([
            dbc.Col(dbc.Button("Select runs with their check boxes to compare them",
                               id="exp-compare-selected", href="/experiments/compare",
                               disabled=True, color="primary"), md="auto"),
            dbc.Col(html.Div([
                html.Label("Best", htmlFor="exp-top-n", className="form-label me-2 mb-0"),
                dbc.Input(id="exp-top-n", type="number", min=2, max=5000, step=1, value=top_n,
                          debounce=True, style={"width": "6rem"}),
                html.Label("runs by", htmlFor="exp-top-metric",
                           className="form-label mx-2 mb-0"),
                dcc.Dropdown(id="exp-top-metric", value=metric, clearable=False,
                             options=[{"label": short_name(m), "value": m}
                                      for m in table.metrics], style={"minWidth": "14rem"}),
                dbc.Button("Compare them", id="exp-compare-top", href="/experiments/compare",
                           color="primary", outline=True, className="ms-2"),
            ], className="d-flex align-items-center"), md="auto"),
        ], className="g-3 mt-2 align-items-center"),
    ])


# ------------------------------------------------------------------ helpers (tested directly)
def _problems(listed, in_table, experiment: str) -> list:
    """The experiment's problems: its folder's (experiment.json) and its runs' (runs.jsonl),
    each once."""
    mine = [p for p in listed if experiment == ALL or f"experiments/{experiment}/" in p.path]
    out = []
    for p in mine + list(in_table):
        if p not in out:
            out.append(p)
    return out


def _text(v) -> str:
    if isinstance(v, list):
        v = v[-1] if v else ""
    return "" if v is None else str(v)


def _count(n) -> int:
    try:
        return max(2, min(5000, int(_text(n))))
    except ValueError:
        return 10


def _check(q: str, table) -> tuple[str, list]:
    """The expression to apply (empty when it is bad) and the message to show."""
    if not q.strip():
        return "", []
    try:
        evaluate(q, table.frame.head(0))
    except ExpressionError as e:
        return "", [html.Strong("This filter cannot be applied: "), str(e),
                    html.Pre(e.pointer(), className="mb-0 mt-1 small")]
    return q, []


def _columns(table, cols) -> list[str]:
    known = set(table.params) | set(table.metrics) | set(table.tags)
    if cols:
        chosen = cols if isinstance(cols, list) else str(cols).split(",")
        chosen = [c for c in chosen if c in known]
        if chosen:
            return list(dict.fromkeys(chosen))
    varying = list(table.varying_params())[:8]
    return varying + list(table.metrics)[:8]


def _column_options(table) -> list[dict]:
    return ([{"label": f"param: {short_name(c)}", "value": c} for c in table.params] +
            [{"label": f"metric: {short_name(c)}", "value": c} for c in table.metrics] +
            [{"label": f"tag: {short_name(c)}", "value": c} for c in table.tags])


def column_defs(table, columns) -> list[dict]:
    """The grid's columns: the run name pinned left, then id, status, start, chosen ones."""
    defs = [
        {"field": "name", "headerName": "Run", "pinned": "left", "filter": "agTextColumnFilter",
         "minWidth": 150},
        {"field": "run_id", "headerName": "Run id", "filter": "agTextColumnFilter"},
        {"field": "status", "headerName": "Status", "filter": "agTextColumnFilter"},
        {"field": "start_time", "headerName": "Started (UTC)", "filter": "agTextColumnFilter",
         "sort": None},
    ]
    if table.experiment == ALL:
        defs.insert(1, {"field": "experiment", "headerName": "Experiment",
                        "filter": "agTextColumnFilter"})
    for c in columns:
        numeric = table.is_numeric(c)
        d = {"field": c, "headerName": short_name(c), "headerTooltip": c,
             "filter": "agNumberColumnFilter" if numeric else "agTextColumnFilter"}
        if numeric:
            d["valueFormatter"] = {"function": "params.value == null ? '' : "
                                               "d3.format('.4~g')(params.value)"}
            d["type"] = "rightAligned"
        defs.append(d)
    return defs


def progress_text(view) -> str:
    """How many runs there are, or how many of about how many are loaded so far."""
    if view.done:
        return f"{view.loaded:,} runs. Filter, sort and pick runs, then compare them."
    about = f" of about {view.total:,}" if view.total else ""
    return (f"{view.loaded:,}{about} runs loaded so far; the rest are loading. Filter, sort "
            "and pick runs, then compare them.")


def grid_rows(d, state: dict, request: dict) -> tuple[dict, str, dict]:
    """One block of rows for the grid's request, the count line and the grid's view."""
    experiment = state.get("experiment") or ALL
    filter_model = request.get("filterModel") or {}
    sort_model = request.get("sortModel") or []
    start, end = int(request.get("startRow") or 0), int(request.get("endRow") or BLOCK)
    try:
        ans = answer_rows(d, experiment, state.get("q", ""), state.get("search", ""),
                          filter_model, sort_model, need=end)
    except (ExpressionError, ValueError) as e:
        return {"rowData": [], "rowCount": 0}, f"No rows: {e}.", {}
    rows = row_block(ans.table, ans.positions, start, end, state.get("cols") or [])
    # rowCount -1: MLflow has more pages; the grid asks for the next block when it needs it
    count = int(len(ans.positions)) if ans.complete else -1
    return ({"rowData": rows, "rowCount": count}, count_text(ans, state, end),
            {"filterModel": filter_model, "sortModel": sort_model})


def count_text(ans, state: dict, shown: int) -> str:
    """What the grid shows and who filtered it."""
    view = ans.view
    n = len(ans.positions)
    if ans.how == "all":
        return f"{n:,} of {len(ans.table):,} runs match."
    about = f"about {view.total:,}" if view and view.total else "all the"
    loaded = f"{view.loaded:,} loaded so far" if view else ""
    if ans.how == "mlflow":
        first = f"First {min(n, shown):,}" + (f" of {n:,}" if ans.complete else "")
        what = "matching runs, filtered by MLflow" if ans.pushed else "runs, newest first"
        if ans.residual:
            what += " and then by ModelDeck on the fetched runs"
        return f"{first} {what} (of {about} runs; {loaded})."
    if not view.loaded:
        return (f"This sort or filter works on the loaded runs, and none have arrived yet "
                f"({about} runs in all); the rows appear when they have.")
    return (f"{n:,} of the {view.loaded:,} loaded runs match, filtered on the "
            f"{view.loaded:,} loaded runs ({about} in all; the rest are loading).")


def compare_href(experiment: str, run_ids, metric: str | None = None) -> str:
    query = selection_query(experiment, run_ids)
    if metric:
        query["metric"] = metric
    return "/experiments/compare?" + urlencode(query)


# ------------------------------------------------------------------ callbacks
@callback(Output("exp-state", "data"), Output("exp-filter-message", "children"),
          Output("exp-filter-message", "className"),
          Input("exp-apply", "n_clicks"), Input("exp-expression", "n_submit"),
          Input("exp-expression", "value"), Input("exp-search", "value"),
          Input("exp-cols", "value"), State("exp-state", "data"), prevent_initial_call=True)
def apply_filter(_clicks, _submit, expression, search, cols, state):
    table = schema_table(deck(), state["experiment"])
    applied, message = _check(_text(expression), table)
    if message:
        return no_update, message, "alert alert-danger py-2"
    return ({**state, "q": applied, "search": _text(search).strip(),
             "cols": _columns(table, cols)}, [], "")


@callback(Output("exp-grid", "columnDefs"), Input("exp-state", "data"),
          prevent_initial_call=True)
def show_columns(state):
    return column_defs(schema_table(deck(), state["experiment"]), state["cols"])


# A changed filter or column set, or the last runs arriving, empties the grid's row cache, so
# it asks for rows again.
clientside_callback(
    """async function(state, loaded) {
        const api = await dash_ag_grid.getApiAsync("exp-grid");
        api.purgeInfiniteCache();
        return Date.now();
    }""",
    Output("exp-purged", "data"), Input("exp-state", "data"), Input("exp-loaded", "data"),
    prevent_initial_call=True)


@callback(Output("exp-total", "children"), Output("exp-loading", "disabled"),
          Output("exp-loaded", "data"), Input("exp-loading", "n_intervals"),
          State("exp-state", "data"), State("exp-loaded", "data"), prevent_initial_call=True)
def loading(_n, state, was_done):
    """While the runs load in the background: how many have arrived; once all have, stop
    asking and let the grid fetch its rows from the whole table."""
    view = runs_view(deck(), state["experiment"])
    return progress_text(view), view.done, True if view.done else (was_done or no_update)


@callback(Output("exp-grid", "getRowsResponse"), Output("exp-count", "children"),
          Output("exp-view", "data"), Input("exp-grid", "getRowsRequest"),
          State("exp-state", "data"))
def rows(request, state):
    if not request:
        return no_update, no_update, no_update
    return grid_rows(deck(), state, request)


@callback(Output("exp-url", "search"), Input("exp-state", "data"),
          Input("exp-top-metric", "value"), Input("exp-top-n", "value"),
          prevent_initial_call=True)
def remember_in_url(state, metric, n):
    query = {"experiment": state["experiment"], "q": state["q"], "search": state["search"],
             "cols": ",".join(state["cols"]), "metric": metric or "", "n": n or ""}
    return "?" + urlencode({k: v for k, v in query.items() if v not in ("", None)})


@callback(Output("exp-nav", "href"), Input("exp-experiment", "value"),
          prevent_initial_call=True)
def change_experiment(experiment):
    return "/experiments?" + urlencode({"experiment": experiment})


@callback(Output("exp-compare-selected", "href"), Output("exp-compare-selected", "children"),
          Output("exp-compare-selected", "disabled"),
          Input("exp-grid", "selectedRows"), State("exp-state", "data"))
def compare_selected(selected, state):
    ids = [r["run_id"] for r in (selected or []) if isinstance(r, dict) and r.get("run_id")]
    if not ids:
        return ("/experiments/compare", "Select runs with their check boxes to compare them",
                True)
    return compare_href(state["experiment"], ids), f"Compare {len(ids)} selected runs", False


@callback(Output("exp-compare-top", "href"), Output("exp-compare-top", "children"),
          Input("exp-top-metric", "value"), Input("exp-top-n", "value"),
          Input("exp-view", "data"), Input("exp-state", "data"))
def compare_top(metric, n, view, state):
    if not metric:
        return "/experiments/compare", "Compare them"
    d = deck()
    loaded = runs_view(d, state["experiment"])
    view = view or {}
    try:
        positions = ordered_rows(d, state["experiment"], state["q"], state["search"],
                                 view.get("filterModel"), view.get("sortModel"),
                                 loaded.table, loaded.generation)
        ids = top_runs(loaded.table, positions, metric, _count(n))
    except (ExpressionError, ValueError, KeyError):
        return "/experiments/compare", "Compare them"
    way = "lowest" if lower_is_better(metric) else "highest"
    among = "" if loaded.done else f" of the {loaded.loaded:,} loaded"
    return (compare_href(state["experiment"], ids, metric),
            f"Compare the {len(ids)}{among} with the {way} {short_name(metric)}")


__all__ = ["layout", "column_defs", "grid_rows", "compare_href"]
