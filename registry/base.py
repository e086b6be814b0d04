"""The narrow interface every registry source implements.

A source turns one registry (a ModelDeck folder, an MLflow store) into the plain objects of
``registry.model``. It reads only; it never writes to the registry it reads.

Listings come back with the problems found while reading them, so that one malformed file
costs one model (or one version, or one line), never the whole registry.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Generic, Iterable, Sequence, TypeVar

import pandas as pd

from .model import (
    Evaluation, Experiment, Model, ModelVersion, Monitoring, Problem, RegistryError, Run,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Listing(Generic[T]):
    """What a source could read, and what it could not."""

    items: T
    problems: tuple[Problem, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RunsProgress:
    """The runs of one experiment read so far: all of them once ``done``. ``total`` is about
    how many there are (None when not known yet); ``generation`` changes whenever ``frame``
    does, so caches can key on it."""

    frame: pd.DataFrame
    problems: tuple[Problem, ...]
    loaded: int
    total: int | None
    done: bool
    generation: str


class Source(ABC):
    """Read-only access to one model registry."""

    #: the URI or path the source was opened from, as the user gave it
    uri: str
    #: True when ``runs_page`` takes MLflow filter strings and orders (a searchable store)
    can_search: bool = False

    @abstractmethod
    def data_version(self, model: str | None = None) -> str:
        """A cheap token that changes whenever the data behind ``model`` (or, with ``None``,
        the list of models and experiments) changes. Caches key on it."""

    @abstractmethod
    def list_models(self) -> Listing[tuple[Model, ...]]:
        """Every readable model, sorted by name; unreadable ones become problems.
        Never loads prediction tables."""

    @abstractmethod
    def list_versions(self, model: str) -> Listing[tuple[ModelVersion, ...]]:
        """The versions of ``model``, newest first. Raises KeyError for an unknown model."""

    @abstractmethod
    def evaluation(self, model: str, version: int, split: str | None = None) -> Evaluation:
        """Prediction rows of one version (default split: ``test`` or the first stored).
        Raises KeyError when there are none, RegistryError when the table is malformed."""

    @abstractmethod
    def monitoring(self, model: str) -> Monitoring | None:
        """Production rows of ``model``, or None when it has none.
        Raises RegistryError when the table is malformed."""

    @abstractmethod
    def list_experiments(self) -> Listing[tuple[Experiment, ...]]:
        """Every experiment, sorted by name."""

    @abstractmethod
    def runs(self, experiment: str) -> Listing[pd.DataFrame]:
        """The runs of one experiment as one flat table: ``run_id``, ``experiment``, ``name``,
        ``status``, ``start_time``, ``end_time`` and ``params.<k>``, ``metrics.<k>``,
        ``tags.<k>`` columns (MLflow's ``search_runs`` shape)."""

    @abstractmethod
    def metric_history(self, experiment: str, run_ids: Sequence[str] | None = None,
                       keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Per-step metric values (columns ``run_id, key, step, timestamp, value``)
        for the given runs and keys (all when None)."""

    def image(self, model: str, version: int, path: str) -> tuple[bytes, str]:
        """The bytes and media type of a chart image stored with a version (``images``);
        KeyError when there is no such image. Sources without stored images keep this."""
        raise KeyError(path)

    # Conveniences built on the abstract methods -------------------------------------------

    def get_model(self, name: str) -> Model:
        for m in self.list_models().items:
            if m.name == name:
                return m
        raise KeyError(name)

    def has_production(self, model: str) -> bool:
        """Whether the model has production rows (a file, parts or an external table),
        without reading them where the source can tell."""
        return bool(self.get_model(model).production_table) or \
            self.monitoring(model) is not None

    def keeps_rows(self, model: str, version: int, split: str | None = None) -> bool:
        """Whether ``rows(model, version, split, production=False)`` would be a table an
        engine queries where it lies, told without opening or checking it (a view that
        leaves such rows to a callback asks this first). This default reads every table
        into memory."""
        return False

    def rows(self, model: str, version: int | None = None, split: str | None = None,
             production: bool = True):
        """The model's production rows (None when it has none), or with ``production=False``
        the evaluation rows of ``version`` (KeyError when there are none), as
        ``registry.rows.Rows`` an engine queries. This default serves the tables the source
        reads into pandas; a source whose tables can be queried where they lie overrides it
        (``FolderSource``: large Parquet files, folders of parts, external tables)."""
        from .row_checks import external_rows
        from .rows import Rows
        if production:
            m = self.get_model(model)
            if m.production_table:  # named by the registry, queried where it lies
                return external_rows(*m.production_table, m, evaluation=False,
                                     where=f"model '{model}'")
            mon = self.monitoring(model)
            if mon is None:
                return None
            return Rows.from_frame(mon.frame, model, f"{model}: production rows", False,
                                   mon.notes)
        ev = self.evaluation(model, version, split)
        return Rows.from_frame(ev.frame, model, f"{model} v{version}: {ev.split} rows", True,
                               ev.notes)

    def runs_page(self, experiment: str, max_results: int = 100,
                  page_token: str | None = None, filter_string: str | None = None,
                  order_by: Sequence[str] | None = None) -> tuple[pd.DataFrame, str | None]:
        """One page of ``runs(experiment)``, newest start first, and the token of the next
        page (None after the last). Sources that can search (``can_search``) override it so
        that a page fetches only its own rows, filtered and ordered by the store."""
        if filter_string or order_by:
            raise ValueError("this source does not search: filter the runs() table instead")
        frame = self.runs(experiment).items
        frame = frame.sort_values(["start_time", "run_id"], ascending=[False, True],
                                  kind="stable", na_position="last")
        start = int(page_token or 0)
        end = start + max_results
        return (frame.iloc[start:end].reset_index(drop=True),
                str(end) if end < len(frame) else None)

    def runs_loaded(self, experiment: str) -> RunsProgress:
        """The runs read so far. A source that holds its runs in memory has them all; one
        backed by a server reads them in the background and returns what has arrived."""
        try:
            listing = self.runs(experiment)
        except RegistryError as e:  # runs.jsonl unreadable: no runs, and the page says why
            empty = pd.DataFrame(columns=["run_id", "experiment", "name", "status",
                                          "start_time", "end_time"])
            return RunsProgress(empty, (e.problem,), 0, 0, True, f"unreadable:{e.problem}")
        n = len(listing.items)
        return RunsProgress(listing.items, listing.problems, n, n, True, "all")

    def runs_by_id(self, experiment: str, run_ids: Sequence[str]) -> pd.DataFrame:
        """The rows of the given runs of ``experiment`` (unknown ids are left out)."""
        frame = self.runs(experiment).items
        return frame.loc[frame["run_id"].isin([str(r) for r in run_ids])] \
            .reset_index(drop=True)

    def history_keys(self, experiment: str, run_ids: Sequence[str]) -> list[str]:
        """Metric keys that at least one of the runs logged more than once (a curve)."""
        h = self.metric_history(experiment, list(run_ids))
        counts = h.groupby(["run_id", "key"]).size()
        return sorted({k for (_, k), n in counts.items() if n > 1})

    def get_run(self, experiment: str, run_id: str) -> Run:
        frame = self.runs(experiment).items
        row = frame.loc[frame["run_id"] == run_id]
        if row.empty:
            raise KeyError(run_id)
        return run_from_row(row.iloc[0])


def run_from_row(row: pd.Series) -> Run:
    """Turn one row of a ``runs()`` table back into a Run."""

    def group(prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in row.items()
                if isinstance(k, str) and k.startswith(prefix) and not _is_missing(v)}

    return Run(
        id=str(row["run_id"]),
        experiment=str(row.get("experiment", "")),
        name=str(row.get("name", "") or ""),
        status=str(row.get("status", "") or ""),
        start_time=_ts(row.get("start_time")),
        end_time=_ts(row.get("end_time")),
        params=group("params."),
        metrics=group("metrics."),
        tags=group("tags."),
    )


def _is_missing(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _ts(v):
    if v is None or _is_missing(v):
        return None
    return pd.Timestamp(v).to_pydatetime()
