"""Experiments: the runs table behind the grid, and the maths of comparing runs.

* ``runs_table`` — the runs of one experiment (or all) ready to filter: numeric-looking
  params become numbers, a lower-case search text per run; parsed once per registry change.
* ``runs_view`` / ``answer_rows`` — the runs loaded so far, and the rows a grid view shows
  without waiting for the rest: from MLflow's own search (filter translated by
  ``expressions.to_mlflow``, the rest applied to the fetched rows) until every run is loaded;
  ``selected_runs`` reads only the runs of a comparison; ``selection_query`` makes its link.
* ``ordered_rows`` — server-side filter (expression, quick search, the grid's column filters)
  and sort, as row positions; ``row_block`` — one block of rows with only the shown columns.
* ``ema`` / ``downsample_minmax`` / ``curves`` / ``group_curves`` — training curves, smoothed
  and thinned on the server so a chart of 1,000 runs stays small.
* ``side_by_side`` — runs as columns, optionally only the fields that differ.
* ``parameter_importance`` — cross-fitted permutation importance of a random forest that
  predicts a metric from the params, beside Spearman's rank correlation.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import signal, stats
from sklearn.ensemble import RandomForestRegressor
from sklearn.inspection import permutation_importance
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

from registry.base import Listing
from registry.model import Problem, RegistryError

from .expressions import evaluate, to_mlflow
from .metrics import METRICS

FIXED = ("run_id", "experiment", "name", "status", "start_time", "end_time")
SEARCH = "_search"  # hidden lower-case text the quick search looks in
ALL = "*"  # "all experiments"
MAX_COMPARE = 5000  # runs in one compare view
MAX_BLOCK = 500  # rows in one grid block


@dataclass(frozen=True)
class RunsTable:
    """The runs of an experiment (or of all, ``experiment == ALL``) in search_runs shape."""

    experiment: str
    frame: pd.DataFrame
    params: tuple[str, ...]
    metrics: tuple[str, ...]
    tags: tuple[str, ...]
    problems: tuple[Problem, ...] = ()

    def __len__(self) -> int:
        return len(self.frame)

    def is_numeric(self, col: str) -> bool:
        s = self.frame[col]
        return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)

    @property
    def numeric_params(self) -> tuple[str, ...]:
        return tuple(c for c in self.params if self.is_numeric(c))

    def varying_params(self, frame: pd.DataFrame | None = None) -> tuple[str, ...]:
        """Params with more than one value (missing counts as a value) in ``frame``."""
        f = self.frame if frame is None else frame
        return tuple(c for c in self.params if f[c].astype(object).fillna("\0").nunique() > 1)


def prepare_runs(frame: pd.DataFrame, experiment: str = ALL,
                 problems: tuple = ()) -> RunsTable:
    """Make a ``runs()`` table ready to filter, sort and plot (the input is not changed).

    A param column whose values are all numbers or number-looking text becomes numbers (MLflow
    stores params as text); any other param column becomes text. Rows are ordered newest first.
    """
    f = frame.copy()
    for col in FIXED:
        if col not in f.columns:
            f[col] = pd.NaT if col.endswith("_time") else ""
    params = sorted(c for c in f.columns if c.startswith("params."))
    metrics = sorted(c for c in f.columns if c.startswith("metrics."))
    tags = sorted(c for c in f.columns if c.startswith("tags."))
    for col in params:
        f[col] = _coerce_param(f[col])
    for col in metrics:
        f[col] = pd.to_numeric(f[col], errors="coerce").astype(float)
    for col in tags + ["name", "status", "run_id", "experiment"]:
        f[col] = f[col].astype(object).where(f[col].notna(), None)
    text_cols = ["name", "run_id", "status"] + tags + [c for c in params
                                                       if f[c].dtype == object]
    search = pd.Series("", index=f.index, dtype=object)
    for col in text_cols:
        search = search + " " + f[col].fillna("").astype(str)
    f[SEARCH] = search.str.lower()
    f = f.sort_values(["start_time", "run_id"], ascending=[False, True], kind="stable",
                      na_position="last").reset_index(drop=True)
    return RunsTable(experiment, f, tuple(params), tuple(metrics), tuple(tags),
                     tuple(problems))


def _coerce_param(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return s.map(lambda v: None if pd.isna(v) else str(v)).astype(object)
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(float)
    present = s.dropna()
    text_only = pd.api.types.is_string_dtype(s) and s.dtype != object  # no bools inside
    if len(present) and (text_only or not present.map(type).eq(bool).any()):
        numbers = pd.to_numeric(present, errors="coerce")
        if numbers.notna().all():
            return pd.to_numeric(s, errors="coerce").astype(float)
    return s.map(lambda v: None if _missing(v) else _text(v)).astype(object)


def _missing(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def runs_table(d, experiment: str | None) -> RunsTable:
    """The prepared runs table of one experiment (``ALL``/None: every experiment), computed
    once per registry change. KeyError for an unknown experiment."""
    name = experiment or ALL

    def runs(experiment: str):
        # runs.jsonl that cannot be read at all (a FIFO, a link out of the registry) costs
        # that experiment's runs, not the page
        try:
            return d.runs(experiment)
        except RegistryError as e:
            return Listing(pd.DataFrame(columns=list(FIXED)), (e.problem,))

    def build():
        if name != ALL:
            listing = runs(name)
            return prepare_runs(listing.items, name, listing.problems)
        frames, problems = [], []
        for e in d.experiments().items:
            listing = runs(e.name)
            frames.append(listing.items)
            problems += list(listing.problems)
        frame = pd.concat(frames, ignore_index=True) if frames else \
            pd.DataFrame(columns=list(FIXED))
        return prepare_runs(frame, ALL, tuple(problems))

    return d.memo(("runs-table", name), None, build)


PAGE_FIRST, PAGE_MORE, MAX_PAGES = 100, 500, 20  # runs per MLflow page; pages per answer


@dataclass(frozen=True)
class RunsView:
    """The runs loaded so far (all of them once ``done``) as a prepared table."""

    table: RunsTable
    loaded: int
    total: int | None  # about how many runs there are; None while not known
    done: bool
    generation: str  # changes whenever ``table`` does


def runs_view(d, experiment: str | None) -> RunsView:
    """The prepared table of the runs the source has read so far, without waiting for the
    rest (an MLflow source reads them in the background; a folder has them all). Prepared
    once per registry change and per batch of newly read runs."""
    name = experiment or ALL
    exps = [name] if name != ALL else [e.name for e in d.experiments().items]
    progress = [d.runs_loaded(e) for e in exps]
    generation = "|".join(p.generation for p in progress)

    def build():
        frames = [p.frame for p in progress]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else \
            (frames[0] if frames else pd.DataFrame(columns=list(FIXED)))
        return prepare_runs(frame, name, tuple(x for p in progress for x in p.problems))

    table = d.memo_local(("runs-view", name, generation), None, build)
    counts = {e.name: e.run_count for e in d.experiments().items}
    totals = [p.total if p.total is not None else counts.get(e)
              for e, p in zip(exps, progress)]
    return RunsView(table, sum(p.loaded for p in progress),
                    None if None in totals else sum(totals),
                    all(p.done for p in progress), generation)


def first_page(d, experiment: str) -> RunsTable:
    """The newest ``PAGE_FIRST`` runs from one search (cached until the registry changes):
    enough to know the columns and show first rows before the whole table is read."""
    return d.memo(("runs-head", experiment), None,
                  lambda: prepare_runs(_mlflow_page(d, experiment, "", (), 0)[0], experiment))


def schema_table(d, experiment: str | None, view: RunsView | None = None) -> RunsTable:
    """The table whose columns a page offers: the loaded runs, or before any have arrived
    from a searchable source, its first page."""
    view = view or runs_view(d, experiment)
    if view.done or view.loaded or not d.can_search or (experiment or ALL) == ALL:
        return view.table
    return first_page(d, experiment)


# Sorting that MLflow does cheaply: its own columns. (Ordering 20,000 runs by a metric or a
# param takes MLflow's SQL store ~20 s, so those sorts wait for the loaded table.)
MLFLOW_ORDER = {"start_time": "attributes.start_time", "end_time": "attributes.end_time",
                "name": "attributes.run_name", "status": "attributes.status"}


def mlflow_order(sort_model: list | None) -> list[str] | None:
    """The grid's sort as MLflow ``order_by`` clauses, or None when MLflow cannot do it
    cheaply (no sort: newest start first, MLflow's own default)."""
    out = []
    for s in sort_model or []:
        col = s.get("colId") if isinstance(s, dict) else None
        if col not in MLFLOW_ORDER:
            return None
        out.append(f"{MLFLOW_ORDER[col]} {'DESC' if s.get('sort') == 'desc' else 'ASC'}")
    return out


@dataclass(frozen=True)
class RowsAnswer:
    """The rows a view shows, in order: positions into ``table``."""

    table: RunsTable
    positions: np.ndarray
    complete: bool  # False: MLflow has further pages this answer has not fetched yet
    how: str  # "all" (every run, filtered here), "loaded" (the loaded runs), "mlflow"
    pushed: str = ""  # the filter MLflow applied ("mlflow")
    view: RunsView | None = None
    residual: bool = False  # ("mlflow") part of the filter was applied here, on fetched rows


def answer_rows(d, experiment: str | None, expression: str = "", quick: str = "",
                filter_model: dict | None = None, sort_model: list | None = None,
                need: int = PAGE_FIRST) -> RowsAnswer:
    """The rows for a view of at least ``need`` rows, without waiting for the whole table.

    Every run loaded: filter and sort here. Otherwise, from a searchable source, when MLflow
    can do the sort (``mlflow_order``) and the filter has a part it can do (``to_mlflow``),
    or there is no filter: MLflow's pages, with what it cannot do evaluated on the fetched
    rows. Else: filter and sort the runs loaded so far (and say so)."""
    name = experiment or ALL
    view = runs_view(d, name)
    schema = schema_table(d, name, view)
    if not view.done and d.can_search and name != ALL:
        order = mlflow_order(sort_model)
        push = to_mlflow(expression, schema.frame.columns, [c for c in schema.params +
                                                              schema.metrics
                                                              if schema.is_numeric(c)])
        filtered = bool((expression or "").strip() or (quick or "").strip() or filter_model)
        if order is not None and (push.filter_string or not filtered):
            return _mlflow_rows(d, name, expression, push, quick, filter_model, order, need,
                                view)
    if not view.done and not view.loaded:  # nothing to filter yet: the grid asks again later
        return RowsAnswer(schema, np.array([], dtype=int), True, "loaded", "", view)
    positions = ordered_rows(d, name, expression, quick, filter_model, sort_model, view.table,
                             view.generation)
    return RowsAnswer(view.table, positions, True, "all" if view.done else "loaded", "", view)


def _mlflow_rows(d, experiment, expression, push, quick, filter_model, order, need,
                 view) -> RowsAnswer:
    frames, token, k = [], None, 0
    while True:
        frame, token = _mlflow_page(d, experiment, push.filter_string, tuple(order), k)
        frames.append(frame)
        k += 1
        table = prepare_runs(pd.concat(frames, ignore_index=True) if len(frames) > 1
                             else frame, experiment)
        # MLflow's order, not the table's own newest-first: restore it
        table = RunsTable(table.experiment, _in_order(table.frame, frames), table.params,
                          table.metrics, table.tags, table.problems)
        # the whole expression, not only the residual: MLflow compares a NaN or infinite
        # metric as a number, ModelDeck's table holds it as missing (unknown), so MLflow's
        # rows are a superset on those runs and the fetched rows are checked again (cheap)
        positions = select_rows(table, expression, quick, filter_model, None)
        if token is None or len(positions) >= need or k >= MAX_PAGES:
            rest = bool(push.residual or (quick or "").strip() or filter_model)
            return RowsAnswer(table, positions, token is None, "mlflow", push.filter_string,
                              view, rest)


def _in_order(frame: pd.DataFrame, frames: list[pd.DataFrame]) -> pd.DataFrame:
    ids = pd.concat([f["run_id"] for f in frames], ignore_index=True)
    order = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
    order = order[~order.index.duplicated()]
    return frame.iloc[np.argsort(order.reindex(frame["run_id"]).to_numpy(), kind="stable")] \
        .reset_index(drop=True)


def _mlflow_page(d, experiment: str, filter_string: str, order: tuple, k: int):
    """Page ``k`` of one MLflow search (cached until the registry changes; page k follows
    page k-1's token)."""
    def fetch():
        token = None if k == 0 else _mlflow_page(d, experiment, filter_string, order, k - 1)[1]
        if k and token is None:
            return pd.DataFrame(columns=list(FIXED)), None
        return d.runs_page(experiment, PAGE_FIRST if k == 0 else PAGE_MORE, token,
                           filter_string or None, list(order) or None)
    return d.memo(("runs-mlflow-page", experiment, filter_string, order, k), None, fetch)


def selected_runs(d, experiment: str | None, run_ids) -> tuple[RunsTable, pd.DataFrame,
                                                                 list[str]]:
    """The table of only the chosen runs (their params, metrics and tags), the rows in the
    given order, and the ids not found: read by id, never the whole experiment."""
    ids = [str(r) for r in run_ids]
    name = experiment or ALL
    key = hashlib.blake2b("\n".join(ids).encode(), digest_size=12).hexdigest()

    def build():
        exps = [name] if name != ALL else [e.name for e in d.experiments().items]
        frames = [d.runs_by_id(e, ids) for e in exps]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return prepare_runs(frame, name)

    table = d.memo(("runs-selected", name, key), None, build)
    sub, missing = selection(table, ids)
    return table, sub, missing


# ------------------------------------------------------------------ filter, sort, page
NUMBER_FILTERS = {
    "equals": lambda x, a, b: x == a, "notEqual": lambda x, a, b: (x != a) & ~np.isnan(x),
    "lessThan": lambda x, a, b: x < a, "lessThanOrEqual": lambda x, a, b: x <= a,
    "greaterThan": lambda x, a, b: x > a, "greaterThanOrEqual": lambda x, a, b: x >= a,
    "inRange": lambda x, a, b: (x >= a) & (x <= b),
    "blank": lambda x, a, b: np.isnan(x), "notBlank": lambda x, a, b: ~np.isnan(x),
}
TEXT_FILTERS = {
    "contains": lambda s, v: s.str.contains(v, regex=False),
    "notContains": lambda s, v: ~s.str.contains(v, regex=False),
    "equals": lambda s, v: s == v, "notEqual": lambda s, v: s != v,
    "startsWith": lambda s, v: s.str.startswith(v), "endsWith": lambda s, v: s.str.endswith(v),
    "blank": lambda s, v: s == "", "notBlank": lambda s, v: s != "",
}


def grid_filter_mask(table: RunsTable, filter_model: dict | None) -> np.ndarray:
    """AG Grid's column filter model (number and text filters, with AND/OR conditions) as a
    row mask. ValueError names a column or filter it cannot apply."""
    mask = np.ones(len(table), dtype=bool)
    for col, model in (filter_model or {}).items():
        if col not in table.frame.columns or col == SEARCH:
            raise ValueError(f"there is no column '{col}' to filter")
        mask &= _one_filter(table, col, model)
    return mask


def _one_filter(table: RunsTable, col: str, model: dict) -> np.ndarray:
    if not isinstance(model, dict):
        raise ValueError(f"the filter of '{col}' is not understood")
    if "conditions" in model:
        masks = [_one_filter(table, col, m) for m in model["conditions"]]
        if not masks:
            return np.ones(len(table), dtype=bool)
        return np.logical_or.reduce(masks) if str(model.get("operator", "AND")).upper() == "OR" \
            else np.logical_and.reduce(masks)
    kind, ftype = model.get("filterType"), model.get("type")
    if kind == "number":
        if ftype not in NUMBER_FILTERS:
            raise ValueError(f"unknown number filter '{ftype}'")
        x = pd.to_numeric(table.frame[col], errors="coerce").to_numpy(dtype=float,
                                                                       na_value=np.nan)
        a = _float(model.get("filter"))
        b = _float(model.get("filterTo"))
        with np.errstate(invalid="ignore"):
            return np.asarray(NUMBER_FILTERS[ftype](x, a, b), dtype=bool)
    if kind == "text":
        if ftype not in TEXT_FILTERS:
            raise ValueError(f"unknown text filter '{ftype}'")
        s = _text_column(table.frame[col])
        v = str(model.get("filter") or "").lower()
        return np.asarray(TEXT_FILTERS[ftype](s, v), dtype=bool)
    raise ValueError(f"the filter of '{col}' is not understood")


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


def _text_column(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s.dt.strftime("%Y-%m-%d %H:%M")
    else:
        out = s.map(lambda v: "" if _missing(v) else _text(v))
    return out.fillna("").astype(str).str.lower()


def select_rows(table: RunsTable, expression: str = "", quick: str = "",
                filter_model: dict | None = None,
                sort_model: list | None = None) -> np.ndarray:
    """Row positions of ``table.frame`` that pass every filter, in display order.

    ExpressionError for a bad expression, ValueError for a bad grid filter or sort."""
    f = table.frame
    mask = evaluate(expression, f)
    quick = (quick or "").strip().lower()
    if quick:
        for word in quick.split():
            mask &= f[SEARCH].str.contains(word, regex=False).to_numpy()
    if filter_model:
        mask &= grid_filter_mask(table, filter_model)
    positions = np.flatnonzero(mask)
    if sort_model:
        cols, ascending = [], []
        for s in sort_model:
            col = s.get("colId") if isinstance(s, dict) else None
            if col not in f.columns or col == SEARCH:
                raise ValueError(f"there is no column '{col}' to sort by")
            cols.append(col)
            ascending.append(s.get("sort") != "desc")
        sub = f.iloc[positions][cols]
        for c in cols:  # text sorts ignoring case; missing values always last
            if sub[c].dtype == object:
                sub = sub.assign(**{c: sub[c].map(lambda v: None if v is None else
                                                  str(v).lower())})
        order = sub.reset_index(drop=True).sort_values(cols, ascending=ascending,
                                                       kind="stable", na_position="last").index
        positions = positions[order.to_numpy()]
    return positions


def canonical(obj) -> str:
    """Stable text of a filter/sort model, for cache keys."""
    return json.dumps(obj or None, sort_keys=True, separators=(",", ":"), default=str)


def ordered_rows(d, experiment: str | None, expression: str = "", quick: str = "",
                 filter_model: dict | None = None, sort_model: list | None = None,
                 table: RunsTable | None = None, generation: str = "") -> np.ndarray:
    """``select_rows`` on the experiment's table (``table`` when the caller has it already,
    ``generation`` naming which loaded state it is), cached per filter until the registry
    changes."""
    key = ("runs-order", experiment or ALL, generation, expression or "",
           (quick or "").strip().lower(), canonical(filter_model), canonical(sort_model))
    return d.memo(key, None, lambda: select_rows(table if table is not None else
                                                 runs_table(d, experiment), expression, quick,
                                                 filter_model, sort_model))


def row_block(table: RunsTable, positions: np.ndarray, start: int, end: int,
              columns) -> list[dict]:
    """Rows ``start:end`` of the ordered positions, with the fixed and the given columns,
    as JSON-ready dicts (missing values are None, times are 'YYYY-MM-DD HH:MM')."""
    start = max(0, int(start))
    end = min(len(positions), int(end), start + MAX_BLOCK)
    cols = ["run_id", "experiment", "name", "status", "start_time"] + \
        [c for c in columns if c in table.frame.columns and c not in FIXED and c != SEARCH]
    block = table.frame.iloc[positions[start:end]][cols]
    block = block.assign(start_time=block["start_time"].dt.strftime("%Y-%m-%d %H:%M"))
    out = block.astype(object).where(block.notna(), None)
    return out.to_dict("records")


# ------------------------------------------------------------------ selections
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]+$")
_PACKED = "~"


def encode_runs(run_ids) -> str:
    """A run selection as a URL value: the ids joined by commas when short and plain, else
    ``~`` + base64url(zlib(JSON list)). Needs no server storage, so it survives a restart."""
    ids = [str(r) for r in run_ids]
    plain = ",".join(ids)
    if len(plain) <= 300 and all(_SAFE_ID.match(r) for r in ids):
        return plain
    packed = zlib.compress(json.dumps(ids, separators=(",", ":")).encode(), 9)
    return _PACKED + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode_runs(value: str | None) -> list[str]:
    """The run ids of ``encode_runs``; ValueError with a plain message for anything else."""
    if not value:
        return []
    if not isinstance(value, str):
        raise ValueError("the run list must be text")
    if value.startswith(_PACKED):
        raw = value[1:]
        try:
            data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            z = zlib.decompressobj()
            text = z.decompress(data, 8_000_000)
            if z.unconsumed_tail:
                raise ValueError("the run list is too long")
            ids = json.loads(text)
        except (binascii.Error, zlib.error, UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError("the run list in the link is damaged") from None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError("the run list in the link is damaged")
    else:
        ids = [r for r in value.split(",") if r]
    if len(ids) > MAX_COMPARE:
        raise ValueError(f"at most {MAX_COMPARE:,} runs can be compared at once "
                         f"(the link has {len(ids):,})")
    return list(dict.fromkeys(ids))


SHORT_RUNS = 300  # characters of run ids that stay in a link as they are


def selection_query(experiment: str, run_ids, store=None) -> dict:
    """The query of a link to these runs: their ids when short and plain (``runs=``), else
    the id of the selection stored in ModelDeck's own link store (``sel=``, see
    ``registry.links``), so that no request line grows with the number of runs."""
    from registry.links import link_store
    value = encode_runs(run_ids)
    if value.startswith(_PACKED) or len(value) > SHORT_RUNS:
        return {"experiment": experiment,
                "sel": (store or link_store()).save(experiment, [str(r) for r in run_ids])}
    return {"experiment": experiment, "runs": value}


LOWER_WORDS = ("loss", "error", "rmse", "mse", "mae", "mape", "brier", "time", "latency",
               "duration", "perplexity")


def lower_is_better(metric: str) -> bool:
    key = metric[len("metrics."):] if metric.startswith("metrics.") else metric
    info = METRICS.get(key)
    if info is not None:
        return not info.higher_is_better
    return any(w in key.lower() for w in LOWER_WORDS)


def top_runs(table: RunsTable, positions: np.ndarray, metric: str, n: int) -> list[str]:
    """Run ids of the ``n`` best runs by ``metric`` among ``positions`` (runs without it are
    left out); best means lowest for losses and errors."""
    if metric not in table.metrics:
        raise KeyError(metric)
    values = table.frame[metric].to_numpy(dtype=float)[positions]
    keep = positions[~np.isnan(values)]
    values = values[~np.isnan(values)]
    order = np.argsort(values if lower_is_better(metric) else -values, kind="stable")
    return table.frame["run_id"].to_numpy()[keep[order[:max(0, int(n))]]].tolist()


def selection(table: RunsTable, run_ids) -> tuple[pd.DataFrame, list[str]]:
    """The rows of the given runs, in the given order, and the ids that were not found."""
    ids = list(run_ids)
    f = table.frame
    found = f.loc[f["run_id"].isin(ids)]
    order = {r: i for i, r in enumerate(ids)}
    found = found.iloc[np.argsort(found["run_id"].map(order).to_numpy(), kind="stable")]
    present = set(found["run_id"])
    missing = [r for r in ids if r not in present]
    return found.reset_index(drop=True), missing


def run_labels(sub: pd.DataFrame) -> list[str]:
    """A short unique label per run: its name, or its id when names repeat or are empty."""
    names = sub["name"].fillna("").astype(str)
    dup = names.duplicated(keep=False) | (names == "")
    return [r if d else n for n, r, d in zip(names, sub["run_id"].astype(str), dup)]


# ------------------------------------------------------------------ axes of a chart
@dataclass(frozen=True)
class Axis:
    """One column as numbers for a chart; text columns become codes with their labels."""

    column: str
    label: str
    values: np.ndarray
    numeric: bool
    ticktext: tuple[str, ...] = ()  # text columns: the label of code 0, 1, ...


def axis(sub: pd.DataFrame, col: str) -> Axis:
    s = sub[col]
    label = short_name(col)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return Axis(col, label, s.to_numpy(dtype=float, na_value=np.nan), True)
    text = s.map(lambda v: "(none)" if _missing(v) else _text(v))
    cats = sorted(text.unique())
    codes = text.map({c: i for i, c in enumerate(cats)}).to_numpy(dtype=float)
    return Axis(col, label, codes, False, tuple(cats))


def short_name(col: str) -> str:
    for p in ("params.", "metrics.", "tags."):
        if col.startswith(p):
            return col[len(p):]
    return col


# ------------------------------------------------------------------ curves
def ema(values, weight: float) -> np.ndarray:
    """Exponential moving average: s[0] = x[0], s[t] = weight * s[t-1] + (1 - weight) * x[t].
    ``weight`` 0 leaves the values as they are; 0.99 smooths heavily."""
    x = np.asarray(values, dtype=float)
    w = float(weight)
    if not 0 <= w < 1:
        raise ValueError("smoothing must be at least 0 and below 1")
    if w == 0 or x.size == 0:
        return x.copy()
    out, _ = signal.lfilter([1 - w], [1, -w], x, zi=[w * x[0]])
    return out


def downsample_minmax(y, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points that keep the shape of a curve: the first and
    last point, and the lowest and highest point of each of ``max_points // 2`` equal buckets.
    Every kept point is a real point of the curve."""
    y = np.asarray(y, dtype=float)
    n = y.size
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, (max_points - 2) // 2)
    b = np.arange(n) * buckets // n
    frame = pd.DataFrame({"b": b, "y": np.where(np.isnan(y), np.inf, y)})
    lo = frame.groupby("b")["y"].idxmin().to_numpy()
    frame["y"] = np.where(np.isnan(y), -np.inf, y)
    hi = frame.groupby("b")["y"].idxmax().to_numpy()
    return np.unique(np.r_[0, lo, hi, n - 1])


@dataclass(frozen=True)
class Curves:
    """Per-run curves of one metric: ``frame`` has run_id, label, step, value, smoothed."""

    key: str
    frame: pd.DataFrame
    smoothing: float
    points_logged: int
    runs_without: tuple[str, ...] = ()


def curves(history: pd.DataFrame, sub: pd.DataFrame, key: str, smoothing: float = 0.0,
           max_points: int = 10_000, max_per_run: int = 400) -> Curves:
    """The ``key`` history of each selected run, smoothed on all points, then thinned to at most
    ``max_per_run`` points per run and about ``max_points`` in all (min/max per bucket)."""
    labels = dict(zip(sub["run_id"], run_labels(sub)))
    h = history.loc[(history["key"] == key) & history["run_id"].isin(list(labels)),
                    ["run_id", "step", "value"]]
    h = h.sort_values(["run_id", "step"], kind="stable").reset_index(drop=True)
    n_runs = max(1, h["run_id"].nunique())
    per_run = int(min(max_per_run, max(8, max_points // n_runs)))
    y = h["value"].to_numpy(dtype=float)
    run = h["run_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]]) if len(h) else np.array([], int)
    bounds = np.r_[starts, len(h)]
    smoothed = np.concatenate([ema(y[a:b], smoothing) for a, b in zip(bounds[:-1], bounds[1:])]) \
        if len(h) else y
    # min/max per bucket for every run at once (the same rule as downsample_minmax)
    size = np.diff(bounds)
    count = np.repeat(size, size)
    pos = np.arange(len(h)) - np.repeat(starts, size)
    buckets = max(1, (per_run - 2) // 2)
    bucket = np.repeat(np.arange(len(starts)), size) * buckets + \
        pos * buckets // np.maximum(count, 1)
    frame = pd.DataFrame({"k": bucket, "lo": np.where(np.isnan(y), np.inf, y),
                          "hi": np.where(np.isnan(y), -np.inf, y)})
    keep = np.zeros(len(h), dtype=bool)
    if len(h):
        keep[frame.groupby("k")["lo"].idxmin().to_numpy()] = True
        keep[frame.groupby("k")["hi"].idxmax().to_numpy()] = True
    keep |= (pos == 0) | (pos == count - 1) | (count <= per_run)
    out = pd.DataFrame({"run_id": run[keep], "label": [labels[r] for r in run[keep]],
                        "step": h["step"].to_numpy()[keep], "value": y[keep],
                        "smoothed": smoothed[keep]})
    order = {r: i for i, r in enumerate(labels)}
    frame = out.iloc[np.argsort(out["run_id"].map(order).to_numpy(), kind="stable")] \
        .reset_index(drop=True)
    logged = set(h["run_id"])
    without = tuple(r for r in labels if r not in logged)
    return Curves(key, frame, float(smoothing), int(len(h)), without)


def group_labels(values: pd.Series, max_groups: int = 6) -> pd.Series:
    """A group label per run for a param: its value, or for a number with many values one of
    ``max_groups`` quantile bins ("0.01 – 0.03")."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        distinct = values.dropna().unique()
        if len(distinct) <= max_groups:
            out = values.map(lambda v: "(none)" if pd.isna(v) else f"{v:g}")
        else:
            bins = pd.qcut(values, q=min(4, max_groups), duplicates="drop")
            out = bins.map(lambda iv: f"{iv.left:.3g} – {iv.right:.3g}").astype(object)
            out = out.where(values.notna(), "(none)")
        return out.astype(str)
    text = values.map(lambda v: "(none)" if _missing(v) else _text(v))
    common = text.value_counts().index[:max_groups - 1]
    if text.nunique() > max_groups:
        text = text.where(text.isin(common), "other")
    return text.astype(str)


@dataclass(frozen=True)
class GroupCurves:
    """Mean curve and band per group: ``frame`` has group, step, mean, low, high, runs."""

    key: str
    by: str
    band: str  # "std" (mean ± one standard deviation) or "minmax"
    frame: pd.DataFrame
    groups: tuple[tuple[str, int], ...]  # (label, number of runs)


def group_curves(history: pd.DataFrame, sub: pd.DataFrame, key: str, by: str,
                 smoothing: float = 0.0, band: str = "std",
                 max_steps: int = 300) -> GroupCurves:
    """Runs grouped by the param ``by``: at each step the mean of the (smoothed) curves of a
    group and a band of ± one standard deviation or min–max. Steps beyond ``max_steps`` are
    bucketed (mean of means, lowest low, highest high)."""
    if band not in ("std", "minmax"):
        raise ValueError("band must be 'std' or 'minmax'")
    groups = pd.Series(group_labels(sub[by]).to_numpy(), index=sub["run_id"].to_numpy())
    h = history.loc[(history["key"] == key) & history["run_id"].isin(groups.index),
                    ["run_id", "step", "value"]].sort_values(["run_id", "step"], kind="stable")
    if smoothing:
        h = h.assign(value=np.concatenate([ema(g.to_numpy(dtype=float), smoothing)
                                           for _, g in h.groupby("run_id", sort=False)["value"]])
                     if len(h) else h["value"])
    h = h.assign(group=groups.reindex(h["run_id"]).to_numpy())
    agg = h.groupby(["group", "step"], sort=True)["value"].agg(["mean", "std", "min", "max",
                                                                "count"]).reset_index()
    if band == "std":
        sd = agg["std"].fillna(0.0)
        agg["low"], agg["high"] = agg["mean"] - sd, agg["mean"] + sd
    else:
        agg["low"], agg["high"] = agg["min"], agg["max"]
    agg = agg.rename(columns={"count": "runs"})[["group", "step", "mean", "low", "high",
                                                 "runs"]]
    steps = np.sort(agg["step"].unique())
    if len(steps) > max_steps:
        edges = steps[np.linspace(0, len(steps) - 1, max_steps + 1).astype(int)]
        agg["bucket"] = np.searchsorted(edges[1:-1], agg["step"].to_numpy(), side="right")
        agg = agg.groupby(["group", "bucket"]).agg(step=("step", "max"), mean=("mean", "mean"),
                                                   low=("low", "min"), high=("high", "max"),
                                                   runs=("runs", "max")).reset_index()
        agg = agg.drop(columns="bucket")
    counts = groups.value_counts()
    order = _group_order(list(counts.index), sub[by])
    return GroupCurves(key, by, band, agg.reset_index(drop=True),
                       tuple((g, int(counts[g])) for g in order))


def _group_order(labels: list[str], values: pd.Series) -> list[str]:
    def key(label):
        try:
            return (0, float(label.split(" – ")[0]), label)
        except ValueError:
            return (1, 0.0, label)
    return sorted(labels, key=key)


# ------------------------------------------------------------------ side by side
def side_by_side(sub: pd.DataFrame, params, metrics, tags, only_differences: bool = True,
                 max_runs: int = 20) -> tuple[pd.DataFrame, int]:
    """Fields as rows, runs as columns (their labels), values as text; with
    ``only_differences`` only the rows whose value is not the same in every run. Returns the
    table and how many fields are the same everywhere. At most ``max_runs`` runs."""
    sub = sub.iloc[:max_runs]
    labels = run_labels(sub)
    fields = ["status"] + list(params) + list(metrics) + list(tags)
    rows, same = [], 0
    for col in fields:
        if col not in sub.columns:
            continue
        values = [_cell(v, col) for v in sub[col]]
        differs = len(set(values)) > 1
        same += not differs
        if differs or not only_differences:
            rows.append([col, differs] + values)
    table = pd.DataFrame(rows, columns=["field", "differs"] + labels)
    return table, same


def _cell(v, col: str) -> str:
    if _missing(v):
        return "—"
    if isinstance(v, float):
        return f"{v:.6g}" if col.startswith("metrics.") else _text(v)
    return _text(v)


# ------------------------------------------------------------------ importance
@dataclass(frozen=True)
class Importance:
    """Which params matter for a metric, over a set of runs."""

    metric: str
    #: param, importance, importance_std, low, high (its range over the folds), clear, why
    #: (not clear: the reason), spearman, spearman_p, values; ``clear`` params first, each
    #: part by importance
    table: pd.DataFrame
    constant: tuple[str, ...]  # params with one value in every run (cannot matter here)
    runs: int
    r2: float  # cross-validated R² of the forest: how much the params explain at all
    sentence: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ranked(self) -> pd.DataFrame:
        """The params whose importance can be told from noise, most important first: the
        only ones shown as a ranking."""
        if self.table.empty:
            return self.table
        return self.table.loc[self.table["clear"].astype(bool)]

    @property
    def noise_note(self) -> str:
        """What the params that cannot be told from noise (and negative importances) mean."""
        t = self.table
        if t.empty:
            return ""
        out = []
        for why, part in t.loc[~t["clear"].astype(bool)].groupby("why", sort=False):
            out.append(f"Not ranked ({why}), so these {self.runs} runs cannot tell their "
                       f"effect from noise: {', '.join(part['param'])}.")
        if (t["importance"] < 0).any():
            out.append("A negative importance means the forest happened to predict the held-out "
                       "runs slightly better with that parameter shuffled: chance, to be read as "
                       "no measurable effect, never as a harmful one.")
        return " ".join(out)


MIN_RUNS_IMPORTANCE = 10
#: folds needed before any param is ranked: all of 5 folds above zero by chance is 1 in 32
MIN_FOLDS_RANK = 5
#: cross-validated R² the forest needs before any param is ranked: below it the params
#: together explain too little of the metric for one of them to matter
MIN_R2_IMPORTANCE = 0.1


def param_matrix(sub: pd.DataFrame, params) -> pd.DataFrame:
    """Params as numbers for a model: numbers stay, text becomes codes in sorted order."""
    out = {}
    for col in params:
        s = sub[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[col] = s.to_numpy(dtype=float, na_value=np.nan)
        else:
            text = s.map(lambda v: "(none)" if _missing(v) else _text(v))
            cats = sorted(text.unique())
            out[col] = text.map({c: i for i, c in enumerate(cats)}).to_numpy(dtype=float)
    return pd.DataFrame(out, index=sub.index)


def parameter_importance(sub: pd.DataFrame, params, metric: str, seed: int = 0,
                         n_estimators: int = 100, n_repeats: int = 5, folds: int = 5,
                         max_runs: int = 2000) -> Importance:
    """Permutation importance of a random forest that predicts ``metric`` from the params,
    cross-fitted: in each of ``folds`` folds the forest is trained on the other runs and each
    param is shuffled in the held-out runs; importance is the mean drop in R² (with its
    standard deviation over folds and repeats). Beside it, Spearman's rank correlation of each
    numeric param with the metric. Params with one value everywhere are listed as constant.

    ``low``/``high`` is the range of the importance over the ``k`` folds (each fold's mean
    over its repeats), each fold measured on runs its forest did not see. A param is
    ``clear`` (ranked) only when the forest explains something (cross-validated R² above
    ``MIN_R2_IMPORTANCE``), there are at least ``MIN_FOLDS_RANK`` folds, and it is above
    zero in every fold: were the param without effect, each fold's value would be as
    likely below zero as above, so all five above has a chance of 1 in 32 (a sign test,
    p ≈ 0.03); the range of five folds is a distribution-free 94% interval of the median
    fold importance. Fold values are skewed (one fold often dominates), so a t interval of
    their mean would be wrong here. With few runs nothing is clear, and the sentence says
    so.
    """
    name = short_name(metric)
    data = sub.loc[sub[metric].notna()].sort_values("run_id", kind="stable")  # order-free
    notes = []
    if len(data) > max_runs:
        data = data.sample(max_runs, random_state=seed).sort_index()
        notes.append(f"Computed on a random {max_runs:,} of the {len(sub):,} runs.")
    varying = [c for c in params if data[c].astype(object).fillna("\0").nunique() > 1]
    constant = tuple(short_name(c) for c in params if c not in varying)
    empty = pd.DataFrame(columns=["param", "importance", "importance_std", "low", "high",
                                  "clear", "why", "spearman", "spearman_p", "values"])
    if len(data) < MIN_RUNS_IMPORTANCE or not varying:
        why = (f"needs at least {MIN_RUNS_IMPORTANCE} runs with {name}" if len(data) <
               MIN_RUNS_IMPORTANCE else "no parameter differs between these runs")
        return Importance(metric, empty, constant, len(data), float("nan"),
                          f"Parameter importance {why}.", tuple(notes))
    X = param_matrix(data, varying).to_numpy()
    y = data[metric].to_numpy(dtype=float)
    k = min(folds, len(data) // 4)
    scores = np.zeros((len(varying), 0))
    fold_means = []
    predicted = np.empty_like(y)
    for train, test in KFold(k, shuffle=True, random_state=seed).split(X):
        forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=1)
        forest.fit(X[train], y[train])
        predicted[test] = forest.predict(X[test])
        result = permutation_importance(forest, X[test], y[test], scoring="r2",
                                        n_repeats=n_repeats, random_state=seed, n_jobs=1)
        scores = np.hstack([scores, result.importances])
        fold_means.append(result.importances.mean(axis=1))
    r2 = float(r2_score(y, predicted))
    low, high = importance_range(np.array(fold_means).T)
    if not np.isfinite(r2) or r2 <= MIN_R2_IMPORTANCE:
        blocked = "the parameters together explain too little of the metric"
    elif len(fold_means) < MIN_FOLDS_RANK:
        blocked = f"too few runs for {MIN_FOLDS_RANK} folds"
    else:
        blocked = ""
    rows = []
    for i, col in enumerate(varying):
        rho, p = np.nan, np.nan
        if pd.api.types.is_numeric_dtype(data[col]) and not pd.api.types.is_bool_dtype(data[col]):
            ok = ~np.isnan(X[:, i])
            if ok.sum() > 2 and np.unique(X[ok, i]).size > 1:
                res = stats.spearmanr(X[ok, i], y[ok])
                rho, p = float(res.statistic), float(res.pvalue)
        rows.append((short_name(col), float(scores[i].mean()), float(scores[i].std()),
                     float(low[i]), float(high[i]), bool(not blocked and low[i] > 0),
                     blocked or ("" if low[i] > 0 else "not above zero in every fold"), rho, p,
                     int(data[col].astype(object).fillna("\0").nunique())))
    table = pd.DataFrame(rows, columns=empty.columns).sort_values(
        ["clear", "importance"], ascending=False, kind="stable").reset_index(drop=True)
    return Importance(metric, table, constant, len(data), r2,
                      importance_sentence(name, table, r2, len(data)), tuple(notes))


def importance_range(fold_means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest of each row of ``fold_means`` (params × folds)."""
    return fold_means.min(axis=1), fold_means.max(axis=1)


def importance_sentence(metric: str, table: pd.DataFrame, r2: float, runs: int) -> str:
    """One sentence a manager can repeat about what drives the metric."""
    if table.empty:
        return f"No parameter could be related to {metric}."
    top = table.iloc[0]
    if not np.isfinite(r2) or r2 <= MIN_R2_IMPORTANCE:
        return (f"Across these {runs} runs the parameters explain little of {metric} "
                f"(cross-validated R² {r2:.2f}), so no parameter can be said to matter.")
    if not bool(top["clear"]) and str(top["why"]).startswith("too few runs"):
        return (f"These {runs} runs are too few to tell any parameter's effect on {metric} "
                f"from noise: ranking needs {MIN_FOLDS_RANK} folds of at least 4 runs, so "
                f"at least {4 * MIN_FOLDS_RANK} runs with {metric}. None is ranked.")
    if not bool(top["clear"]):
        return (f"These {runs} runs are too few to tell any parameter's effect on {metric} "
                "from noise: no parameter made the forest's predictions worse when shuffled "
                f"in every one of the {MIN_FOLDS_RANK} folds of runs, so none is ranked. More "
                "runs, or runs that vary one parameter at a time, would tell.")
    d = 2  # enough decimals that the lowest fold value, above zero, never shows as 0
    while d < 6 and round(float(top["low"]), d) == 0:
        d += 1
    return (f"Across these {runs} runs, {top['param']} matters most for {metric}: shuffling it "
            f"costs the forest {top['importance']:.{d}f} of R² ({top['low']:.{d}f} to "
            f"{top['high']:.{d}f} across the folds; the parameters together explain "
            f"{max(0.0, r2):.0%} of its variation).")
