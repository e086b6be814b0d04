"""Metric histories of MLflow runs, fetched on demand: only for the runs and keys asked for —
from a database store with one query per key and 100 runs (MLflow's own bulk read), from a
server one request per run and key, several at a time. A finished run's history is kept in
process. A base of ``registry.mlflow_source.MlflowSource``; it relies on that class's client,
``_reading``, ``_map`` and ``_lock`` and on ``MlflowRuns`` for the runs and the SQL store.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Sequence

import pandas as pd

from .mlflow_run_frames import SQL_ID_CHUNK
from .model import HISTORY_COLUMNS


class MlflowHistories:
    """Metric histories of an MLflow store (mixed into ``MlflowSource``)."""

    def _init_histories(self, history_cache_size: int) -> None:
        self._histories: OrderedDict[tuple, tuple] = OrderedDict()
        self._histories_max = history_cache_size

    def history_keys(self, experiment: str, run_ids: Sequence[str]) -> list[str]:
        """Metric keys that at least one of the runs logged more than once (a curve)."""
        store = self._sql_store()
        if store is None:
            return super().history_keys(experiment, run_ids)
        from mlflow.store.tracking.dbmodels.models import SqlMetric
        from sqlalchemy import func
        ids = list(dict.fromkeys(str(r) for r in run_ids))
        keys: set[str] = set()
        with self._reading(f"reading metric names of {experiment!r}"), \
                store.ManagedSessionMaker() as session:
            for k in range(0, len(ids), SQL_ID_CHUNK):
                q = (session.query(SqlMetric.key)
                     .filter(SqlMetric.run_uuid.in_(ids[k:k + SQL_ID_CHUNK]))
                     .group_by(SqlMetric.run_uuid, SqlMetric.key)
                     .having(func.count() > 1))
                keys |= {r[0] for r in q.distinct()}
        return sorted(keys)

    def metric_history(self, experiment: str, run_ids: Sequence[str] | None = None,
                       keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Histories fetched on demand, only for the runs and keys asked for: from a database
        with one query per key and 100 runs, from a server one request per run and key,
        several at a time. A finished run's history is kept in process."""
        frame = self.runs(experiment).items if run_ids is None else \
            self.runs_by_id(experiment, run_ids)
        metric_cols = [c for c in frame.columns if c.startswith("metrics.")]
        wanted = None if keys is None else set(keys)
        jobs = []
        for row in frame[["run_id", "status", "end_time", *metric_cols]].itertuples(index=False):
            for col, value in zip(metric_cols, row[3:]):
                key = col[len("metrics."):]
                if (wanted is None or key in wanted) and not pd.isna(value):
                    jobs.append((row[0], key, row[1], row[2]))
        with self._reading(f"reading metric histories of {experiment!r}"):
            fetched = self._bulk_histories(jobs)
            parts = self._map(lambda j: fetched[j[:2]] if j[:2] in fetched
                              else self._history(*j), jobs)
        rows = [(rid, key, m.step, m.timestamp, m.value)
                for (rid, key, _, _), metrics in zip(jobs, parts) for m in metrics]
        out = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
        out["timestamp"] = pd.to_datetime(out["timestamp"], unit="ms", utc=True)
        out["step"] = out["step"].astype("int64")
        out["value"] = out["value"].astype(float)
        return out.sort_values(["run_id", "key", "step"], kind="stable").reset_index(drop=True)

    def _bulk_histories(self, jobs: list[tuple]) -> dict[tuple, list]:
        """On a database store, the histories not yet in memory with one query per metric
        key and 100 runs (MLflow's own bulk read), instead of one request per run and key."""
        store = self._sql_store()
        if store is None or not hasattr(store, "get_metric_history_bulk"):
            return {}
        with self._lock:
            missing = [j for j in jobs if not (j[:2] in self._histories and
                                               self._histories[j[:2]][0] == (j[2], j[3]))]
        out: dict[tuple, list] = {}
        by_key: dict[str, list[tuple]] = {}
        for j in missing:
            by_key.setdefault(j[1], []).append(j)
        for key, group in by_key.items():
            for k in range(0, len(group), 100):
                chunk = group[k:k + 100]
                limit = 1_000_000
                got = store.get_metric_history_bulk([j[0] for j in chunk], key, limit)
                if len(got) >= limit:
                    return out  # too long to read at once: per run, as usual
                per_run: dict[str, list] = {j[0]: [] for j in chunk}
                for m in got:
                    per_run[m.run_id].append(m)  # a Metric that also knows its run
                for rid, status, end in ((j[0], j[2], j[3]) for j in chunk):
                    metrics = sorted(per_run[rid], key=lambda m: (m.step, m.timestamp))
                    out[(rid, key)] = metrics
                    if status != "RUNNING":
                        with self._lock:
                            self._histories[(rid, key)] = ((status, end), metrics)
        with self._lock:
            while len(self._histories) > self._histories_max:
                self._histories.popitem(last=False)
        return out

    def _history(self, run_id: str, key: str, status: str, end_time) -> list:
        cache_key = (run_id, key)
        with self._lock:
            hit = self._histories.get(cache_key)
            if hit is not None and hit[0] == (status, end_time):
                self._histories.move_to_end(cache_key)
                return hit[1]
        metrics = self.client.get_metric_history(run_id, key)
        if status != "RUNNING":
            with self._lock:
                self._histories[cache_key] = ((status, end_time), metrics)
                while len(self._histories) > self._histories_max:
                    self._histories.popitem(last=False)
        return metrics
