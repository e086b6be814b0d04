"""The one way the app reads a registry: a source behind a cache keyed by data version.

Every key carries the source's cheap data version (file modification times for a folder,
last-update times for MLflow), so a registry that changes while the app runs is re-read on the
next request, and several worker processes that share a cache agree on what is current.

Small things (listings, analysis results) go into the cache given here — in the app a
Flask-Caching ``Cache``; large prediction tables stay in the source's own in-process cache,
so they are never pickled.
"""
from __future__ import annotations

import contextvars
import hashlib
import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Callable, ContextManager, Protocol

from .base import Listing, Source
from .model import Evaluation, Model, ModelVersion, Monitoring, Problem, RegistryError


class CacheLike(Protocol):
    def get(self, key: str) -> Any: ...
    def set(self, key: str, value: Any, timeout: int | None = None) -> Any: ...


class Locks(Protocol):
    """Named locks: ``hold(name)`` waits (bounded; ``wait`` seconds when given, 0 to only
    try) until no one else holds ``name`` and yields True, or yields False when the wait
    timed out (the caller goes on unlocked)."""

    def hold(self, name: str, wait: float | None = None) -> ContextManager[bool]: ...


class ThreadLocks:
    """Locks shared by the threads of one process (enough with one worker process).
    ``serving.locks`` has the ones shared by processes (a file lock, a Redis lock)."""

    def __init__(self, wait: float = 60.0):
        self.wait = wait
        self._guard = threading.Lock()
        self._locks: dict[str, list] = {}  # name -> [lock, how many threads use it]

    @contextmanager
    def hold(self, name: str, wait: float | None = None):
        with self._guard:
            entry = self._locks.setdefault(name, [threading.Lock(), 0])
            entry[1] += 1
        wait = self.wait if wait is None else wait
        got = entry[0].acquire(timeout=wait) if wait > 0 else entry[0].acquire(False)
        try:
            yield got
        finally:
            if got:
                entry[0].release()
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    self._locks.pop(name, None)


class _NoCache:
    def get(self, key):
        return None

    def set(self, key, value, timeout=None):
        return True


#: how deep the current thread is inside ``memo`` computations (0: a request's own call)
_computing = contextvars.ContextVar("modeldeck_memo_depth", default=0)


class CachedSource:
    """``locks`` make a result computed once (single flight): when a key is missing, the
    first asker computes it, across threads and — with a shared lock (``serving.locks``) —
    across worker processes and machines. The others do not compute it again: a request
    that asks while the new answer is being computed gets the answer to the same question
    from the data as it was just before (when there is one), instead of waiting seconds
    after every registry change; the next request after the computation sees the new one.
    A computation itself always waits for the answers it builds on, so a cached result
    never mixes two versions of the data."""

    def __init__(self, source: Source, cache: CacheLike | None = None, timeout: int = 3600,
                 locks: Locks | None = None):
        self.source = source
        self.cache = cache if cache is not None else _NoCache()
        self.timeout = timeout
        self.locks = locks if locks is not None else ThreadLocks()
        self._prefix = "md:" + hashlib.blake2b(source.uri.encode(), digest_size=6).hexdigest()
        self._local: OrderedDict[str, Any] = OrderedDict()
        self._local_lock = threading.Lock()
        self._thread = threading.local()  # checked engine tables of this thread (``rows``)

    def memo_local(self, key: tuple, model: str | None, compute: Callable[[], Any],
                   keep: int = 6) -> Any:
        """Like ``memo``, but kept in this process only (the last ``keep`` results): for
        large tables that would cost more to pickle in and out of a shared cache than to
        rebuild once per worker."""
        full = f"{self._prefix}:{model}:{self.source.data_version(model)}:{key!r}"
        with self._local_lock:
            if full in self._local:
                self._local.move_to_end(full)
                return self._local[full]
        value = compute()
        with self._local_lock:
            self._local[full] = value
            while len(self._local) > keep:
                self._local.popitem(last=False)
        return value

    @property
    def uri(self) -> str:
        return self.source.uri

    def memo(self, key: tuple, model: str | None, compute: Callable[[], Any],
             version: str | None = None) -> Any:
        """``compute()``, cached until the data behind ``model`` (None: the registry's
        listing) changes — or, when given, until ``version`` does. ``key`` names the result
        with plain values whose ``repr`` is stable across processes (strings, numbers,
        dataclasses of them)."""
        question = f"{self._prefix}:{model}:{key!r}"
        if version is None:
            version = self.source.data_version(model)
        full = f"{question}@{version}"
        hit = self.cache.get(full)
        if hit is not None:
            return hit[0]
        name = hashlib.blake2b(full.encode(), digest_size=12).hexdigest()
        if _computing.get() == 0:  # a request's own question: it may get the previous answer
            with self.locks.hold(name, wait=0) as got:
                if got:
                    return self._compute(full, question, compute)
            previous = self._previous(question, full)
            if previous is not None:
                return previous[0]
        with self.locks.hold(name):
            # Whoever held the lock before us may have computed it; a wait that timed out
            # computes too (slower, never stuck).
            return self._compute(full, question, compute)

    def peek(self, key: tuple, model: str | None) -> Any:
        """What ``memo(key, model, …)`` has already worked out for the data as it is now, or
        None: nothing is computed (a view that can show "still being checked" instead of
        waiting)."""
        hit = self.cache.get(f"{self._prefix}:{model}:{key!r}@{self.source.data_version(model)}")
        return None if hit is None else hit[0]

    def _compute(self, full: str, question: str, compute: Callable[[], Any]) -> Any:
        hit = self.cache.get(full)
        if hit is not None:
            return hit[0]
        token = _computing.set(_computing.get() + 1)
        try:
            value = compute()
        finally:
            _computing.reset(token)
        self.cache.set(full, (value,), timeout=self.timeout)
        self.cache.set("latest:" + question, full, timeout=self.timeout)
        return value

    def _previous(self, question: str, full: str) -> tuple | None:
        """(the answer to ``question`` for the newest earlier data,) or None."""
        latest = self.cache.get("latest:" + question)
        if not latest or latest == full:
            return None
        return self.cache.get(latest)

    # ------------------------------------------------------------ reads
    def models(self) -> Listing[tuple[Model, ...]]:
        return self.memo(("models",), None, self.source.list_models)

    def model(self, name: str) -> Model:
        """The model called ``name``; KeyError when there is none, RegistryError when its
        files are broken."""
        listing = self.models()
        for m in listing.items:
            if m.name == name:
                return m
        for p in listing.problems:
            if p.model == name and p.severity == "error":
                raise RegistryError(p)
        raise KeyError(name)

    def versions(self, model: str) -> Listing[tuple[ModelVersion, ...]]:
        return self.memo(("versions", model), model,
                         lambda: self.source.list_versions(model))

    def version(self, model: str, version: int) -> ModelVersion:
        for v in self.versions(model).items:
            if v.version == version:
                return v
        raise KeyError(f"{model} v{version}")

    def evaluation(self, model: str, version: int, split: str | None = None) -> Evaluation:
        # Tables are cached by the source itself (no pickling of large frames).
        return self.source.evaluation(model, version, split)

    def image(self, model: str, version: int, path: str) -> tuple[bytes, str]:
        # Bytes stay out of the shared cache: an image is fetched when a browser asks for it.
        return self.source.image(model, version, path)

    def monitoring(self, model: str) -> Monitoring | None:
        return self.source.monitoring(model)

    def has_production(self, model: str) -> bool:
        return self.source.has_production(model)

    def keeps_rows(self, model: str, version: int, split: str | None = None) -> bool:
        return self.source.keeps_rows(model, version, split)

    def rows(self, model: str, version: int | None = None, split: str | None = None,
             production: bool = True):
        """Prediction rows as ``registry.rows.Rows`` (``Source.rows``): a table an engine
        queries, for ``analysis.queries``. A table kept by an engine is checked once per
        thread (its DuckDB connection is the thread's) until the model's data changes, so the
        views of a page do not each check it again; tables read into memory are not kept
        here (the source keeps their frames). What the queries return is cached by data
        version through ``memo``."""
        key = (model, version, split, production, self.source.data_version(model))
        kept = getattr(self._thread, "rows", None)
        if kept is None:
            kept = self._thread.rows = OrderedDict()
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
        rows = self.source.rows(model, version, split, production)
        if rows is not None and not getattr(rows, "in_memory", True):
            kept[key] = rows
            while len(kept) > 16:
                kept.popitem(last=False)
        return rows

    def experiments(self):
        return self.memo(("experiments",), None, self.source.list_experiments)

    def runs(self, experiment: str):
        return self.source.runs(experiment)

    @property
    def can_search(self) -> bool:
        return self.source.can_search

    # Run tables and pages live in the source's own memory (a background read fills them);
    # callers key their cached results on ``RunsProgress.generation``.
    def runs_loaded(self, experiment: str):
        return self.source.runs_loaded(experiment)

    def runs_page(self, experiment: str, max_results: int = 100, page_token=None,
                  filter_string=None, order_by=None):
        return self.source.runs_page(experiment, max_results, page_token, filter_string,
                                     order_by)

    def runs_by_id(self, experiment: str, run_ids):
        return self.source.runs_by_id(experiment, run_ids)

    def history_keys(self, experiment: str, run_ids):
        return self.source.history_keys(experiment, run_ids)

    def metric_history(self, experiment: str, run_ids=None, keys=None):
        # Like evaluation tables, histories are cached by the source itself (no pickling).
        return self.source.metric_history(experiment, run_ids, keys)

    def problems(self, model: str | None = None) -> list[Problem]:
        """Problems found in the listing of models (and, for one model, of its versions)."""
        out = list(self.models().problems)
        if model is not None:
            out = [p for p in out if p.model == model]
            try:
                out += list(self.versions(model).problems)
            except KeyError:
                pass
        return out
