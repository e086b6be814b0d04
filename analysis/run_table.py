"""The runs table behind the experiments grid, and what is done to it without the registry:
``prepare_runs`` turns runs in ``search_runs`` shape into a typed, searchable table (params
that look numeric become numbers, a lower-case search text per run); ``select_rows`` applies
the filter expression, the quick search and the grid's column filters and sort, as row
positions; ``row_block`` is one block of rows with only the shown columns.

Reading the runs from the registry is ``analysis.experiments``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from registry.model import Problem

from .expression_eval import evaluate


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
    return s.map(lambda v: None if is_missing(v) else cell_text(v)).astype(object)


def is_missing(v) -> bool:
    """Whether a cell is missing (None, NaN, NaT); anything pandas cannot test is not."""
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def cell_text(v) -> str:
    """A cell as text: a whole float without its '.0'."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


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
        out = s.map(lambda v: "" if is_missing(v) else cell_text(v))
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


