"""The ModelDeck folder format (docs/registry-format.md), read in place.

Layout::

    <root>/models/<model>/model.json
    <root>/models/<model>/versions/<folder>/version.json
    <root>/models/<model>/versions/<folder>/evaluation/<split>.parquet | .csv
    <root>/models/<model>/monitoring.parquet | .csv
    <root>/experiments/<experiment>/experiment.json
    <root>/experiments/<experiment>/runs.jsonl
    <root>/experiments/<experiment>/history.parquet | .csv

Reads are lazy: listing models reads only the small JSON files; a prediction table is read
when a page asks for it. Every file is opened through ``registry.folder_files`` (only regular
files inside the registry, read once while unchanged); JSON documents are parsed by
``registry.schema``, prediction tables checked by ``registry.tables`` and experiments' run
tables read by ``registry.folder_runs``, once each, when read.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .base import Listing, Source
from .model import (
    HISTORY_COLUMNS,
    BusinessSettings, Evaluation, Experiment, Model, ModelVersion, Monitoring, Problem,
    RegistryError,
)
from .folder_files import TABLE_SUFFIXES, RegistryFiles, first_table, mtime
from .folder_runs import MAX_RUNS_BYTES, history_table, parse_runs
from .schema import ExperimentDoc, ModelDoc, VersionDoc, card_info, data_info, parse, split_infos
from .tables import prepare_predictions

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

#: Parquet tables with at least this many rows are queried in place (registry.rows), not
#: read into pandas; ``MODELDECK_ENGINE_MIN_ROWS`` sets another limit
ENGINE_MIN_ROWS = int(os.environ.get("MODELDECK_ENGINE_MIN_ROWS", "1000000"))


def is_valid_name(name: str) -> bool:
    """Model and experiment names are folder names and URL segments: letters, digits, . _ -"""
    return bool(NAME_RE.match(name)) and ".." not in name


class FolderSource(Source, RegistryFiles):
    def __init__(self, root: str | os.PathLike, table_cache_size: int = 6):
        self.uri = str(root)
        RegistryFiles.__init__(self, root, table_cache_size)
        if not self.root.is_dir():
            raise RegistryError(Problem(path=str(root), field="",
                                        message="no registry folder at this path"))

    # ---------------------------------------------------------------- data versions
    def data_version(self, model: str | None = None) -> str:
        if model is None:
            paths = [self.root / "models", self.root / "experiments"]
            paths += sorted((self.root / "models").glob("*/model.json"))
            paths += sorted((self.root / "models").glob("*/versions"))
            paths += sorted((self.root / "models").glob("*/versions/*/version.json"))
            paths += sorted((self.root / "experiments").glob("*/experiment.json"))
            paths += sorted((self.root / "experiments").glob("*/runs.jsonl"))
            paths += sorted((self.root / "experiments").glob("*/history.*"))
        else:
            d = self._model_dir(model)
            paths = [d, d / "model.json", d / "versions"]
            paths += sorted(d.glob("monitoring.*"))
            paths += sorted(d.glob("monitoring/**/*.parquet"))  # a table in parts
            paths += sorted(d.glob("versions/*"))
            paths += sorted(d.glob("versions/*/version.json"))
            paths += sorted(d.glob("versions/*/evaluation/*"))
        h = hashlib.blake2b(digest_size=10)
        for p in paths:
            try:
                st = p.stat()
                h.update(f"{p}:{st.st_mtime_ns}:{st.st_size};".encode())
            except OSError:
                h.update(f"{p}:-;".encode())
        return h.hexdigest()

    # ---------------------------------------------------------------- models
    def list_models(self) -> Listing[tuple[Model, ...]]:
        models, problems = [], []
        base = self.root / "models"
        if not base.is_dir():
            problems.append(Problem(path="models/", field="",
                                    message="the registry has no 'models' folder"))
            return Listing((), tuple(problems))
        try:
            folders = self._subfolders(base)
        except RegistryError as e:
            return Listing((), (e.problem,))
        for d in folders:
            try:
                model, warnings = self._read_model(d)
                models.append(model)
                problems += warnings
            except RegistryError as e:
                problems.append(e.problem)
        for p in problems:
            log.warning("registry problem: %s", p)
        return Listing(tuple(models), tuple(problems))

    def _model_dir(self, name: str) -> Path:
        if not isinstance(name, str) or not is_valid_name(name):
            raise KeyError(name)
        d = self.root / "models" / name
        if not d.is_dir() or not self._inside(d):
            raise KeyError(name)
        return d

    def _read_model(self, d: Path) -> tuple[Model, list[Problem]]:
        name = d.name
        path = d / "model.json"
        rel = self._rel(path)
        if not is_valid_name(name):
            raise RegistryError(Problem(self._rel(d), "", "a model folder name may use only "
                                        "letters, digits, '.', '_' and '-'", model=name))
        doc, warnings = parse(ModelDoc, self._read_json(path, model=name), rel, model=name)
        if doc.name is not None and doc.name != name:
            raise RegistryError(Problem(rel, "name", f"says {doc.name!r} but the folder is "
                                        f"{name!r}", model=name))
        b = doc.business
        business = None if b is None else BusinessSettings(
            positive_means=b.positive_means, value_true_positive=b.value_true_positive,
            cost_false_positive=b.cost_false_positive, cost_false_negative=b.cost_false_negative,
            volume_per_month=b.volume_per_month, currency=b.currency,
            cost_per_unit_error=b.cost_per_unit_error)
        return Model(
            name=name,
            task=doc.task,
            description=doc.description,
            owner=doc.owner,
            tags=dict(doc.tags),
            business=business,
            entity=doc.entity,
            target_unit=doc.target_unit,
            positive_label=doc.positive_label,
            updated_at=mtime(path),
            card=card_info(doc.card),
            production_table=(doc.production_table.connection, doc.production_table.table)
            if doc.production_table else None,
        ), warnings

    # ---------------------------------------------------------------- versions
    def list_versions(self, model: str) -> Listing[tuple[ModelVersion, ...]]:
        d = self._model_dir(model)
        versions: dict[int, ModelVersion] = {}
        seen_in: dict[int, Path] = {}
        problems: list[Problem] = []
        vdir = d / "versions"
        try:
            folders = self._subfolders(vdir, model=model) if vdir.is_dir() else []
        except RegistryError as e:
            return Listing((), (e.problem,))
        for folder in folders:
            try:
                v = self._read_version(model, folder, problems)
            except RegistryError as e:
                problems.append(e.problem)
                continue
            if v.version in versions:
                problems.append(Problem(self._rel(folder / "version.json"), "version",
                                        f"version {v.version} is also defined in "
                                        f"{self._rel(seen_in[v.version] / 'version.json')}; "
                                        "this copy is ignored", model=model))
                continue
            versions[v.version] = v
            seen_in[v.version] = folder
        for p in problems:
            log.warning("registry problem: %s", p)
        ordered = tuple(sorted(versions.values(), key=lambda v: v.version, reverse=True))
        return Listing(ordered, tuple(problems))

    def _read_version(self, model: str, folder: Path, problems: list[Problem]) -> ModelVersion:
        path = folder / "version.json"
        rel = self._rel(path)
        doc, warnings = parse(VersionDoc, self._read_json(path, model=model), rel, model=model)
        problems += warnings
        tables = self._tables_in(folder / "evaluation")
        for split, table in tables.items():
            if split != ("test" if "test" in tables else min(tables)):
                try:  # the default split's own page says what is wrong with it
                    self._regular_file(table, model)
                except RegistryError as e:
                    problems.append(Problem(e.problem.path, e.problem.field, e.problem.message
                                            + "; this split is not shown", model=model,
                                            severity="warning"))
        return ModelVersion(
            model=model,
            version=doc.version,
            aliases=tuple(doc.aliases),
            stage=doc.stage,
            created_at=doc.created_at,
            run_id=doc.run_id,
            algorithm=doc.algorithm,
            params=dict(doc.params),
            metrics=dict(doc.metrics),
            description=doc.description,
            splits=tuple(sorted(tables)),
            training_data=data_info(doc.training_data),
            split_info=split_infos(doc.splits),
        )

    def _tables_in(self, folder: Path) -> dict[str, Path]:
        """Split name -> table file, for the tables stored in an evaluation folder."""
        try:
            entries = self._entries(folder) if folder.is_dir() else []
        except RegistryError:
            return {}
        return {p.stem: p for p in entries if p.suffix in TABLE_SUFFIXES}

    def _version_folder(self, model: str, version: int) -> Path:
        d = self._model_dir(model)
        vdir = d / "versions"
        for folder in (self._subfolders(vdir, model=model) if vdir.is_dir() else []):
            try:
                doc = self._read_json(folder / "version.json", model=model)
            except RegistryError:
                continue
            raw = doc.get("version")
            if type(raw) is int and raw == version:
                return folder
        raise KeyError(f"{model} v{version}")

    # ---------------------------------------------------------------- tables
    def get_model(self, name: str) -> Model:
        return self._read_model(self._model_dir(name))[0]

    def evaluation(self, model: str, version: int, split: str | None = None) -> Evaluation:
        m = self.get_model(model)
        folder = self._version_folder(model, version)
        tables = self._tables_in(folder / "evaluation")
        if split in (None, "test") and "test" not in tables:
            doc = parse(VersionDoc, self._read_json(folder / "version.json", model=model),
                        self._rel(folder / "version.json"), model=model)[0]
            if doc.evaluation_table:  # the "test" rows in an external engine
                from .row_checks import engine_evaluation
                return engine_evaluation(doc.evaluation_table.connection,
                                         doc.evaluation_table.table, m, version,
                                         self._rel(folder / "version.json"),
                                         "evaluation_table", ENGINE_MIN_ROWS)
        if not tables:
            raise KeyError(f"{model} v{version} has no evaluation rows")
        if split is None:
            split = "test" if "test" in tables else sorted(tables)[0]
        if split not in tables:
            raise KeyError(f"{model} v{version} has no split {split!r}")
        path = tables[split]
        rel = self._rel(path)

        def prepare(frame: pd.DataFrame):
            return prepare_predictions(frame, m, rel, evaluation=True)

        frame, notes = self._read_table(path, model, prepare=(
            f"evaluation:{m.task}:{m.positive_label}", prepare))
        return Evaluation(model=model, version=version, split=split, frame=frame, notes=notes)

    def monitoring(self, model: str) -> Monitoring | None:
        m = self.get_model(model)
        d = self._model_dir(model)
        path = first_table(d / "monitoring")
        if path is None:
            return None
        rel = self._rel(path)

        def prepare(frame: pd.DataFrame):
            return prepare_predictions(frame, m, rel, evaluation=False)

        frame, notes = self._read_table(path, model, prepare=(
            f"monitoring:{m.task}:{m.positive_label}", prepare))
        return Monitoring(model=model, frame=frame, notes=notes)

    def rows(self, model: str, version: int | None = None, split: str | None = None,
             production: bool = True):
        """Prediction rows for the query layer. Read in place by DuckDB (never into pandas):
        production rows stored as a folder of Parquet parts (``monitoring/``, e.g.
        ``monitoring/month=2026-01/part-0.parquet``), and any Parquet table of at least
        ``ENGINE_MIN_ROWS`` rows. Smaller tables and CSV files are read and checked as
        before (``Source.rows``)."""
        from .row_checks import external_rows, parquet_rows
        m = self.get_model(model)
        if production and m.production_table:
            return external_rows(*m.production_table, m, evaluation=False,
                                 where=self._rel(self._model_dir(model) / "model.json"))
        if production:
            d = self._model_dir(model)
            parts = d / "monitoring"
            if parts.is_dir() and self._inside(parts):
                return parquet_rows(self._parts(parts, model), self._rel(parts) + "/", m,
                                    evaluation=False, partitioned=True)
            path = first_table(d / "monitoring")
        else:
            folder, doc, path = self._evaluation_place(model, version, split)
            if doc.evaluation_table and split in (None, "test"):
                return external_rows(doc.evaluation_table.connection,
                                     doc.evaluation_table.table, m, evaluation=True,
                                     where=self._rel(folder / "version.json"))
        if self._large_parquet(path, model):
            return parquet_rows([path], self._rel(path), m, evaluation=not production)
        return super().rows(model, version, split, production)

    def keeps_rows(self, model: str, version: int, split: str | None = None) -> bool:
        """An ``evaluation_table`` (the "test" rows) or a Parquet split of at least
        ``ENGINE_MIN_ROWS`` rows (its footer's count): as ``rows`` decides."""
        _, doc, path = self._evaluation_place(model, version, split)
        return bool(doc.evaluation_table and split in (None, "test")) or \
            self._large_parquet(path, model)

    def _evaluation_place(self, model: str, version: int, split: str | None):
        """(the version's folder, its version.json, the split's table file or None)."""
        folder = self._version_folder(model, version)
        doc = parse(VersionDoc, self._read_json(folder / "version.json", model=model),
                    self._rel(folder / "version.json"), model=model)[0]
        tables = self._tables_in(folder / "evaluation")
        split = split or ("test" if "test" in tables else min(tables, default=None))
        return folder, doc, (tables.get(split) if split else None)

    def _large_parquet(self, path: Path | None, model: str) -> bool:
        return path is not None and path.suffix == ".parquet" and \
            self._parquet_rows(path, model) >= ENGINE_MIN_ROWS

    def has_production(self, model: str) -> bool:
        d = self._model_dir(model)
        return bool(self.get_model(model).production_table) or (d / "monitoring").is_dir() \
            or first_table(d / "monitoring") is not None

    def _parts(self, folder: Path, model: str) -> list[Path]:
        """The Parquet parts of a table folder (any depth), each a regular file inside the
        registry."""
        out = []
        for p in sorted(folder.rglob("*.parquet")):
            if any(part.startswith(".") for part in p.relative_to(folder).parts):
                continue
            self._regular_file(p, model)
            out.append(p)
        if not out:
            raise RegistryError(Problem(self._rel(folder) + "/", "", "holds no Parquet parts "
                                        "(*.parquet files)", model=model))
        return out

    # ---------------------------------------------------------------- experiments
    def list_experiments(self) -> Listing[tuple[Experiment, ...]]:
        base = self.root / "experiments"
        out, problems = [], []
        if not base.is_dir():
            return Listing((), ())
        try:
            folders = self._subfolders(base)
        except RegistryError as e:
            return Listing((), (e.problem,))
        for d in folders:
            if not is_valid_name(d.name):
                problems.append(Problem(self._rel(d), "", "an experiment folder name may use "
                                        "only letters, digits, '.', '_' and '-'"))
                continue
            desc = ""
            path = d / "experiment.json"
            if os.path.lexists(path):
                # A broken experiment.json costs its description, not the experiment.
                try:
                    doc, warnings = parse(ExperimentDoc, self._read_json(path), self._rel(path))
                    desc = doc.description
                    problems += warnings
                except RegistryError as e:
                    problems.append(Problem(e.problem.path, e.problem.field,
                                            e.problem.message + "; the experiment is shown "
                                            "without its description", severity="warning"))
            count = 0
            try:
                count = self.runs(d.name).items.shape[0]
            except RegistryError as e:
                problems.append(e.problem)
            out.append(Experiment(name=d.name, description=desc, run_count=count))
        return Listing(tuple(out), tuple(problems))

    def _experiment_dir(self, experiment: str) -> Path:
        if not isinstance(experiment, str) or not is_valid_name(experiment):
            raise KeyError(experiment)
        d = self.root / "experiments" / experiment
        if not d.is_dir() or not self._inside(d):
            raise KeyError(experiment)
        return d

    def runs(self, experiment: str) -> Listing[pd.DataFrame]:
        """Parsed once per change of runs.jsonl (in-process cache keyed by its size and
        modification time, like ``_read_table``); callers must not modify the frame.
        Raises RegistryError when runs.jsonl is not a readable file inside the registry."""
        d = self._experiment_dir(experiment)
        path = d / "runs.jsonl"
        if not os.path.lexists(path):
            return parse_runs(experiment, self._rel(path), None)
        st = self._regular_file(path, None)
        key = ("runs", str(path), st.st_mtime_ns, st.st_size)
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        listing = parse_runs(experiment, self._rel(path),
                             self._read_bytes(path, None, MAX_RUNS_BYTES))
        with self._lock:
            self._tables[key] = listing
            while len(self._tables) > self._tables_max:
                self._tables.popitem(last=False)
        return listing

    def metric_history(self, experiment: str, run_ids: Sequence[str] | None = None,
                       keys: Iterable[str] | None = None) -> pd.DataFrame:
        d = self._experiment_dir(experiment)
        path = first_table(d / "history")
        if path is None:
            return pd.DataFrame(columns=list(HISTORY_COLUMNS))
        rel = self._rel(path)
        frame, _ = self._read_table(path, None, prepare=("history",
                                                         lambda f: (history_table(f, rel), ())))
        mask = np.ones(len(frame), dtype=bool)
        if run_ids is not None:
            mask &= frame["run_id"].isin([str(r) for r in run_ids]).to_numpy()
        if keys is not None:
            mask &= frame["key"].isin([str(k) for k in keys]).to_numpy()
        return frame.loc[mask].reset_index(drop=True)
