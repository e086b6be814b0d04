"""Experiments: the runs a view needs, asked of the registry through the cached source.

* ``runs_table`` — the runs of one experiment (or all) ready to filter (``run_table``),
  parsed once per registry change.
* ``runs_view`` / ``answer_rows`` — the runs loaded so far, and the rows a grid view shows
  without waiting for the rest: from MLflow's own search (filter translated by
  ``expressions.to_mlflow``, the rest applied to the fetched rows) until every run is loaded;
  ``selected_runs`` reads only the runs of a comparison.
* ``ordered_rows`` — ``run_table.select_rows`` on an experiment, cached per filter.

The rest of the experiments maths has a module each: the table and its filters
(``run_table``), selections and their links (``run_selection``), training curves
(``run_curves``) and parameter importance (``run_importance``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from registry.base import Listing
from registry.model import RegistryError

from .expression_mlflow import to_mlflow
from .run_selection import selection
from .run_table import ALL, FIXED, RunsTable, canonical, prepare_runs, select_rows


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


