"""MLflow runs as ModelDeck's flat runs table: from ``Run`` entities (``runs_frame``, the
``mlflow.search_runs`` shape without MLflow's own ``mlflow.*`` tags) or, on a database store,
straight from MLflow's tables (``sql_runs``: the same columns and values, without building a
``Run`` per run). Params that read as numbers become numbers; metrics that are not finite are
left out.
"""
from __future__ import annotations

import math
import re
import time
from typing import Sequence

import numpy as np
import pandas as pd

from .model import Problem

FIXED = ["run_id", "experiment", "name", "status", "start_time", "end_time"]
SQL_ID_CHUNK = 500  # run ids per IN (...) on a database
FETCH = 5000  # rows per fetch from a database cursor (other threads get a turn in between)


# ------------------------------------------------------------------ reading a database
def sql_runs(store, experiment_id: str, experiment: str,
             run_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """The ``runs_frame`` of an experiment's active runs (or of the given ones) read straight
    from MLflow's tables on a database store: the same columns and values as
    ``runs_frame(search_runs(...))`` (tested), without building a ``Run`` per run."""
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric, SqlParam, SqlRun, SqlTag,
    )
    from sqlalchemy import select

    active = (SqlRun.experiment_id == int(experiment_id)) & \
        (SqlRun.lifecycle_stage == "active")
    chunks = [None] if run_ids is None else \
        [list(run_ids[k:k + SQL_ID_CHUNK]) for k in range(0, len(run_ids), SQL_ID_CHUNK)]
    runs, params, metrics, tags = [], [], [], []
    with store.ManagedSessionMaker() as session:
        conn = session.connection()
        # The database driver's own cursor: hundreds of thousands of plain tuples, without
        # SQLAlchemy building a Row object for each (a third of the time otherwise).
        cursor = conn.connection.driver_connection.cursor()

        def rows(stmt, chunk, col):
            if chunk is not None:
                stmt = stmt.where(col.in_(chunk))
            sql = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            cursor.execute(str(sql))
            out = []
            while True:
                batch = cursor.fetchmany(FETCH)
                if not batch:
                    return out
                out += batch
                time.sleep(0)  # let a request thread run between batches
        for chunk in chunks:
            runs += rows(select(SqlRun.run_uuid, SqlRun.name, SqlRun.status,
                                SqlRun.start_time, SqlRun.end_time).where(active),
                         chunk, SqlRun.run_uuid)
            for model, out, extra in ((SqlParam, params, ()), (SqlTag, tags, ()),
                                      (SqlLatestMetric, metrics, (SqlLatestMetric.is_nan,))):
                out += rows(select(model.run_uuid, model.key, model.value, *extra)
                            .join(SqlRun, SqlRun.run_uuid == model.run_uuid).where(active),
                            chunk, model.run_uuid)
    frame = pd.DataFrame(runs, columns=["run_id", "name", "status", "start_time", "end_time"])
    frame.insert(1, "experiment", experiment)
    frame["name"] = frame["name"].fillna("")
    index = frame["run_id"]
    p = _wide(pd.DataFrame(params, columns=["run_id", "key", "value"]), "params.", index)
    for col in p.columns:  # MLflow stores text: numbers come back as numbers (param_value)
        values = p[col].dropna().unique()
        p[col] = p[col].map({v: param_value(v) for v in values})
    m = pd.DataFrame(metrics, columns=["run_id", "key", "value", "is_nan"])
    m = m.loc[~m["is_nan"].astype(bool) & np.isfinite(m["value"].astype(float))]
    m = _wide(m[["run_id", "key", "value"]], "metrics.", index).astype(float)
    t = pd.DataFrame(tags, columns=["run_id", "key", "value"])
    t = _wide(t.loc[~t["key"].str.startswith("mlflow.")], "tags.", index)
    frame = pd.concat([frame.reset_index(drop=True), p, m, t], axis=1)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    frame = frame.sort_values(["start_time", "run_id"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    rest = sorted(c for c in frame.columns if c not in FIXED)
    return frame[FIXED + rest]


def _wide(long: pd.DataFrame, prefix: str, index: pd.Series) -> pd.DataFrame:
    """key/value rows as one column per key, aligned to the runs in ``index``."""
    if long.empty:
        return pd.DataFrame(index=range(len(index)))
    wide = long.drop_duplicates(["run_id", "key"], keep="last") \
        .pivot(index="run_id", columns="key", values="value")
    wide = wide.reindex(index.to_numpy())
    wide.columns = [prefix + str(c) for c in wide.columns]
    return wide.reset_index(drop=True).astype(object).where(wide.notna().to_numpy(), np.nan)


def concat_runs(parts: list[pd.DataFrame], experiment: str) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return runs_frame([], experiment)[0]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame = frame.sort_values(["start_time", "run_id"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    rest = sorted(c for c in frame.columns if c not in FIXED)
    return frame[FIXED + rest]


# ------------------------------------------------------------------ conversions
def runs_frame(runs: list, experiment: str) -> tuple[pd.DataFrame, tuple[Problem, ...]]:
    """MLflow runs as the flat ``runs()`` table (``mlflow.search_runs`` shape without MLflow's
    own ``mlflow.*`` tags; params that read as numbers become numbers)."""
    rows = []
    for r in runs:
        row = {"run_id": r.info.run_id, "experiment": experiment,
               "name": r.info.run_name or r.data.tags.get("mlflow.runName", "") or "",
               "status": r.info.status, "start_time": r.info.start_time,
               "end_time": r.info.end_time}
        row.update({f"params.{k}": param_value(v) for k, v in r.data.params.items()})
        row.update({f"metrics.{k}": v for k, v in _finite(r.data.metrics).items()})
        row.update({f"tags.{k}": v for k, v in r.data.tags.items()
                    if not k.startswith("mlflow.")})
        rows.append(row)
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=FIXED)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    rest = sorted(c for c in frame.columns if c not in FIXED)
    return frame[FIXED + rest], ()


def param_value(text):
    """MLflow stores params as text; ``"3"`` and ``"0.1"`` come back as the numbers they were."""
    if not isinstance(text, str):
        return text
    if re.fullmatch(r"[+-]?\d+", text.strip()):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) and not text.strip().lower().startswith(("n", "i")) \
        else text


def _finite(metrics: dict) -> dict:
    return {str(k): float(v) for k, v in metrics.items()
            if v is not None and np.isfinite(float(v))}
