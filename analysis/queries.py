"""The query layer: what a view needs from prediction rows, asked of the engine that holds them.

Every function here takes ``registry.rows.Rows`` (a table in DuckDB, Spark or any Ibis engine)
and returns a small pandas frame or plain numbers — counts per window, per distinct score, per
bin, sums, a random sample of bounded size — never the rows themselves. The maths that turns
those summaries into metrics lives in ``analysis.summaries`` (exact, tested against
scikit-learn / scipy); the same expression runs on every engine, so one contract suite of
numbers holds for all of them (tests/test_engines.py).

``rows_of`` is the one place where analysis asks the cached source for rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from registry.model import (
    COL_PRED, COL_SCORE, COL_TIME, COL_TRUE, COL_VERSION, PROBA_PREFIX, Model,
)
from registry.rows import COL_POS, COL_WINDOW, Rows, with_positive


# ------------------------------------------------------------------ reaching the rows
def rows_of(deck, name: str, version: int | None = None, split: str | None = None,
            production: bool = True) -> Rows | None:
    """The production rows of model ``name`` (None when it has none), or with
    ``production=False`` the evaluation rows of ``version`` (KeyError when there are none)."""
    model = deck.model(name)
    rows = deck.rows(name, version, split, production)
    if rows is not None and model.task == "binary":
        rows = with_positive(rows, model.positive_label)
    return rows


# ------------------------------------------------------------------ time
@dataclass(frozen=True)
class TimeSpan:
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    rows: int


def time_span(rows: Rows, version: int | None) -> TimeSpan:
    t = _of_version(rows, version)
    got = rows.execute(t.aggregate(first=t[COL_TIME].min(), last=t[COL_TIME].max(),
                                   rows=t.count()))
    r = got.iloc[0]
    n = int(r["rows"])
    if n == 0:
        return TimeSpan(None, None, 0)
    return TimeSpan(_utc(r["first"]), _utc(r["last"]), n)


def _utc(v) -> pd.Timestamp:
    ts = pd.Timestamp(v)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _of_version(rows: Rows, version: int | None):
    t = rows.table
    if version is not None and rows.has(COL_VERSION):
        t = t.filter(t[COL_VERSION] == version)
    return t


def windowed(rows: Rows, version: int | None, weekly: bool, since: pd.Timestamp | None):
    """The rows of ``version`` since ``since``, with the start of their window (a calendar
    month, or an ISO week starting Monday; UTC) in column ``window``."""
    import ibis
    t = _of_version(rows, version)
    if since is not None:
        t = t.filter(t[COL_TIME] >= ibis.literal(since.to_pydatetime(), "timestamp('UTC')"))
    return t.mutate(**{COL_WINDOW: t[COL_TIME].truncate("W" if weekly else "M")})


# ------------------------------------------------------------------ counts
def window_counts(t, rows: Rows) -> pd.DataFrame:
    """window, rows, labelled — oldest first."""
    out = rows.execute(t.group_by(COL_WINDOW).aggregate(
        rows=t.count(), labelled=t[COL_TRUE].notnull().sum()).order_by(COL_WINDOW))
    out[COL_WINDOW] = _naive(out[COL_WINDOW])
    return out.astype({"rows": np.int64, "labelled": np.int64})


def _naive(col: pd.Series) -> pd.Series:
    """Window starts as UTC wall times without a zone (as analysis.monitoring labels them)."""
    col = pd.to_datetime(col)
    if col.dt.tz is not None:
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)
    return col.dt.as_unit("ns")


def metric_summary(model: Model, t, rows: Rows, by: list[str]) -> pd.DataFrame:
    """What every metric of the task needs, for the labelled rows of each group of ``by``:
    binary (score, n, pos) per distinct score; multiclass (y_true, y_pred, n); regression
    the sums n, abs, sq, y, y2, ape, zeros (``analysis.summaries``)."""
    import ibis
    t = t.filter(t[COL_TRUE].notnull())
    if model.task == "binary":
        e = t.group_by([*by, t[COL_SCORE].name("score")]).aggregate(
            n=t.count(), pos=t[COL_POS].sum())
    elif model.task == "multiclass":
        e = t.group_by([*by, COL_TRUE, COL_PRED]).aggregate(n=t.count())
    else:
        err = t[COL_TRUE] - t[COL_PRED]
        y = t[COL_TRUE]
        nonzero = y != 0
        e = t.group_by(by or [ibis.literal(1).name("all")]).aggregate(
            n=t.count(), abs=err.abs().sum(), sq=(err * err).sum(), y=y.sum(), y2=(y * y).sum(),
            ape=nonzero.ifelse(err.abs() / y.abs(), 0.0).sum(),
            zeros=(~nonzero).cast("int64").sum())
    out = rows.execute(e)
    if COL_WINDOW in out.columns:
        out[COL_WINDOW] = _naive(out[COL_WINDOW])
    return out


# ------------------------------------------------------------------ drift
def value_counts(rows: Rows, column: str, version: int | None = None) -> pd.DataFrame:
    """value, n: the distinct non-missing values of a column and how many rows hold each."""
    t = _of_version(rows, version)
    c = t[column]
    t = t.filter(c.notnull())
    return rows.execute(t.group_by(t[column].name("value")).aggregate(n=t.count()))


def bin_counts(t, rows: Rows, numeric: dict[str, np.ndarray], text: list[str]) -> pd.DataFrame:
    """column, window, key, n for every input: numeric ones counted per bin (``key`` the
    number of edges at or below the value), text ones per value — one query for all."""
    import ibis
    parts = []
    for col, edges in numeric.items():
        x = t[col].cast("float64")
        idx = ibis.literal(0)
        for e in edges:
            idx = idx + (x >= float(e)).cast("int64")
        parts.append(t.filter(x.notnull() & ~x.isnan()).select(
            column=ibis.literal(col), window=t[COL_WINDOW], key=idx.cast("string")))
    for col in text:
        x = t[col]
        parts.append(t.filter(x.notnull()).select(
            column=ibis.literal(col), window=t[COL_WINDOW], key=x.cast("string")))
    if not parts:
        return pd.DataFrame(columns=["column", COL_WINDOW, "key", "n"])
    u = parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]
    out = rows.execute(u.group_by(["column", COL_WINDOW, "key"]).aggregate(n=u.count()))
    out[COL_WINDOW] = _naive(out[COL_WINDOW])
    return out


# ------------------------------------------------------------------ samples
def sample(t, rows: Rows, columns: list[str], counts: pd.DataFrame, all_rows: int,
           labelled_rows: int, seed: int = 0) -> pd.DataFrame:
    """A random sample per window: every row with probability about ``all_rows`` / the
    window's rows (flag ``any``: an unbiased sample of all rows), and labelled rows also
    with probability about ``labelled_rows`` / the window's labelled rows (flag ``lab``).
    Windows small enough come back whole. The caller trims each sample to its exact size."""
    import ibis
    margin = 1.2  # ask for a little more, trim exactly in Python
    f_any, f_lab = ibis.literal(1.0), ibis.literal(1.0)
    by_any, by_lab = [], []
    for r in counts.itertuples():
        w = ibis.literal(pd.Timestamp(r.window).tz_localize("UTC").to_pydatetime(),
                         "timestamp('UTC')")
        by_any.append((t[COL_WINDOW] == w, min(1.0, margin * all_rows / max(r.rows, 1))))
        by_lab.append((t[COL_WINDOW] == w,
                       min(1.0, margin * labelled_rows / max(r.labelled, 1))))
    if by_any:
        f_any = ibis.cases(*[(c, v) for c, v in by_any], else_=1.0)
        f_lab = ibis.cases(*[(c, v) for c, v in by_lab], else_=1.0)
    u = t.mutate(__u=ibis.random())
    keep_any = u["__u"] < f_any
    keep_lab = u[COL_TRUE].notnull() & (u["__u"] < f_lab)
    e = u.filter(keep_any | keep_lab).select(
        COL_WINDOW, *columns, any=keep_any, lab=keep_lab)
    out = rows.execute(e)
    out[COL_WINDOW] = _naive(out[COL_WINDOW])
    return out


def rows_sample(rows: Rows, columns: list[str], size: int, labelled: bool = True,
                seed: int = 0) -> tuple[pd.DataFrame, int]:
    """(about ``size`` random rows of ``columns``, how many rows there are) — every row when
    there are at most ``size`` (labelled rows only with ``labelled``)."""
    import ibis
    t = rows.table
    if labelled:
        t = t.filter(t[COL_TRUE].notnull())
    n = int(rows.execute(t.aggregate(n=t.count()))["n"].iloc[0])
    if n <= size:
        return rows.execute(t.select(*columns)), n
    frac = min(1.0, 1.2 * size / n)
    got = rows.execute(t.filter(ibis.random() < frac).select(*columns))
    if len(got) > size:
        rng = np.random.default_rng(seed)
        got = got.iloc[np.sort(rng.choice(len(got), size, replace=False))]
    return got.reset_index(drop=True), n


def output_columns(model: Model, rows: Rows) -> list[str]:
    """The columns a metric of the task reads (besides y_true)."""
    if model.task == "binary":
        return [COL_SCORE, COL_POS]
    if model.task == "multiclass":
        return [COL_PRED] + [c for c in rows.columns if c.startswith(PROBA_PREFIX)]
    return [COL_PRED]
