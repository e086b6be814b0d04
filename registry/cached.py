"""The one way the app reads a registry: a source behind a cache keyed by data version.

Every key carries the source's cheap data version (file modification times for a folder,
last-update times for MLflow), so a registry that changes while the app runs is re-read on the
next request, and several worker processes that share a cache agree on what is current.

Small things (listings, analysis results) go into the cache given here — in the app a
Flask-Caching ``Cache``; large prediction tables stay in the source's own in-process cache,
so they are never pickled.
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable, Protocol

from .base import Listing, Source
from .model import Evaluation, Model, ModelVersion, Monitoring, Problem, RegistryError


class CacheLike(Protocol):
    def get(self, key: str) -> Any: ...
    def set(self, key: str, value: Any, timeout: int | None = None) -> Any: ...


class _NoCache:
    def get(self, key):
        return None

    def set(self, key, value, timeout=None):
        return True



class CachedSource:
    def __init__(self, source: Source, cache: CacheLike | None = None, timeout: int = 3600):
        self.source = source
        self.cache = cache if cache is not None else _NoCache()
        self.timeout = timeout
        self._prefix = "md:" + hashlib.blake2b(source.uri.encode(), digest_size=6).hexdigest()

    @property
    def uri(self) -> str:
        return self.source.uri

    def memo(self, key: tuple, model: str | None, compute: Callable[[], Any]) -> Any:
        """``compute()``, cached until the data behind ``model`` (None: the registry's
        listing) changes. ``key`` names the result with plain values whose ``repr`` is
        stable across processes (strings, numbers, dataclasses of them)."""
        full = f"{self._prefix}:{model}:{self.source.data_version(model)}:{key!r}"
        hit = self.cache.get(full)
        if hit is None:
            value = compute()
            self.cache.set(full, (value,), timeout=self.timeout)
            return value
        return hit[0]

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

    def experiments(self):
        return self.memo(("experiments",), None, self.source.list_experiments)

    def runs(self, experiment: str):
        return self.source.runs(experiment)

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
