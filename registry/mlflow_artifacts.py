"""The artifact side of the MLflow source: a version's evaluation rows and the production
rows (Parquet artifacts, downloaded, checked by ``registry.tables`` and kept in a small
in-process cache, or a version's "test" rows in an engine, named by its tag
``modeldeck.evaluation_table``), and the chart images stored with a version's run.

Used as a base of ``registry.mlflow_source.MlflowSource``; it relies on that class's client,
``_reading``, ``get_model``, ``_version``, ``_logged_model_run`` and its table cache.
"""
from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

from .mlflow_client import (
    EVALUATION_DIR, EVALUATION_TABLE_TAG, MONITORING_PATH, MONITORING_RUN_TAG, PREFIX,
    _not_found, evaluation_table_of, version_where,
)
from .mlflow_models import IMAGE_TYPES, MAX_IMAGE_BYTES, images_of, logged_model_id
from .model import COL_TRUE, Evaluation, Monitoring, Problem, RegistryError
from .tables import positive_mask, prepare_predictions


class MlflowArtifacts:
    """Prediction tables and chart images of MLflow runs (a part of ``MlflowSource``)."""

    def image(self, model: str, version: int, path: str) -> tuple[bytes, str]:
        """The bytes and media type of a chart image stored with a version's run (a PNG,
        JPEG or SVG at the top of its artifacts, at most MAX_IMAGE_BYTES). KeyError for
        anything else: another file, a path that is not one of the run's images."""
        suffix = Path(path).suffix.lower()
        if suffix not in IMAGE_TYPES or "/" in path or "\\" in path or path.startswith("."):
            raise KeyError(path)
        with self._reading(f"reading the image {path} of {model} v{version}"):
            v = self._version(model, version)
            run_id = v.run_id or self._logged_model_run(
                logged_model_id(v.source, getattr(v, "model_id", None)) or "")
            if not run_id:
                raise KeyError(path)
            found = [f for f in images_of(self._artifacts(run_id, None)) if f.path == path]
            if not found or found[0].size > MAX_IMAGE_BYTES:
                raise KeyError(path)
            with tempfile.TemporaryDirectory(prefix="modeldeck-image-") as tmp:
                local = Path(self.client.download_artifacts(run_id, path, tmp))
                data = local.read_bytes()
        if len(data) > MAX_IMAGE_BYTES:
            raise KeyError(path)
        return data, IMAGE_TYPES[suffix]

    # ---------------------------------------------------------------- versions

    def _splits(self, run_id: str) -> tuple[str, ...]:
        return tuple(sorted(Path(f.path).stem for f in self._artifacts(run_id, EVALUATION_DIR)
                            if f.path.endswith(".parquet") and not f.is_dir))

    def _artifacts(self, run_id: str, path: str | None) -> list:
        try:
            return list(self.client.list_artifacts(run_id, path))
        except Exception as e:
            # A run whose artifact folder was never created: no artifacts, not an error.
            if isinstance(e, (FileNotFoundError, NotADirectoryError)) or _not_found(e):
                return []
            raise


    # ---------------------------------------------------------------- tables
    def evaluation(self, model: str, version: int, split: str | None = None) -> Evaluation:
        m = self.get_model(model)
        with self._reading(f"reading the evaluation rows of {model} v{version}"):
            v = self._version(model, version)
            files = {Path(f.path).stem: f for f in
                     (self._artifacts(v.run_id, EVALUATION_DIR) if v.run_id else [])
                     if f.path.endswith(".parquet") and not f.is_dir}
        if not m.task_known:
            raise KeyError(f"{model}'s task is unknown, so its prediction rows cannot be read; "
                           f"{m.task_source}")
        if split in (None, "test") and "test" not in files:
            table = self._evaluation_table(v)
            if table is not None:  # the "test" rows in an engine; an artifact would win
                from .folder import ENGINE_MIN_ROWS  # one limit for every source
                from .row_checks import engine_evaluation
                field = f"tag {EVALUATION_TABLE_TAG}"
                return engine_evaluation(*table, m, int(version), version_where(model, version),
                                         field, ENGINE_MIN_ROWS, connection_field=field)
        if not files:
            raise KeyError(f"{model} v{version} has no evaluation rows (no "
                           f"{EVALUATION_DIR}/<split>.parquet in run {v.run_id}"
                           + (f"; its tag {EVALUATION_TABLE_TAG} is malformed"
                              if (v.tags or {}).get(EVALUATION_TABLE_TAG) else "") + ")")
        if split is None:
            split = "test" if "test" in files else sorted(files)[0]
        if split not in files:
            raise KeyError(f"{model} v{version} has no split {split!r}")
        info = files[split]
        rel = f"run {v.run_id}: {info.path}"
        run_label = None
        if m.task == "binary" and m.positive_label is None:
            # the modeldeck evaluator notes the positive class on the run it evaluated
            run_label = self._run_positive_label(v.run_id)
            m = replace(m, positive_label=run_label)

        def prepare(frame: pd.DataFrame):
            frame, notes = prepare_predictions(frame, m, rel, evaluation=True)
            if run_label is not None:
                # the model knows no positive class: hand analysis the labels as 1 / 0
                frame = frame.assign(**{COL_TRUE: positive_mask(frame[COL_TRUE], run_label)})
            return frame, tuple(notes)

        frame, notes = self._prepared(v.run_id, info, rel, model,
                                      ("evaluation", m.task, m.positive_label), prepare)
        return Evaluation(model=model, version=int(version), split=split, frame=frame,
                          notes=notes)

    def rows(self, model: str, version: int | None = None, split: str | None = None,
             production: bool = True):
        """``Source.rows``; a version's "test" rows named by its tag
        ``modeldeck.evaluation_table`` are queried where they lie, whatever their size (the
        table wins over a ``test`` artifact here, as version.json's ``evaluation_table`` does
        over a file: docs/mlflow.md)."""
        if not production and split in (None, "test"):
            m = self.get_model(model)
            with self._reading(f"reading {model} v{version}"):
                v = self._version(model, version)
            table = self._evaluation_table(v)
            if table is not None:
                if not m.task_known:
                    raise KeyError(f"{model}'s task is unknown, so its prediction rows cannot "
                                   f"be read; {m.task_source}")
                from .row_checks import external_rows
                return external_rows(*table, m, evaluation=True,
                                     where=version_where(model, version),
                                     connection_field=f"tag {EVALUATION_TABLE_TAG}")
        return super().rows(model, version, split, production)

    def keeps_rows(self, model: str, version: int, split: str | None = None) -> bool:
        """The "test" rows named by the tag ``modeldeck.evaluation_table`` (artifacts are
        read into memory)."""
        if split not in (None, "test"):
            return False
        with self._reading(f"reading {model} v{version}"):
            v = self._version(model, version)
        return self._evaluation_table(v) is not None

    @staticmethod
    def _evaluation_table(v) -> tuple[str, str] | None:
        """The table a version's tag ``modeldeck.evaluation_table`` names; None without the
        tag, or when its value is malformed (``list_versions`` reports that as a warning)."""
        try:
            return evaluation_table_of(v.tags)
        except ValueError:
            return None

    def _prepared(self, run_id: str, info, rel: str, model: str, how: tuple, prepare):
        """A table checked and normalised once (``prepare``), kept beside the raw tables."""
        key = (run_id, info.path, info.file_size, how)
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        result = prepare(self._table(run_id, info, rel, model))
        with self._lock:
            self._tables[key] = result
            while len(self._tables) > self._tables_max:
                self._tables.popitem(last=False)
        return result

    def _run_positive_label(self, run_id: str) -> str | None:
        with self._reading(f"reading run {run_id}"):
            try:
                run = self.client.get_run(run_id)
            except Exception as e:
                if _not_found(e):
                    return None
                raise
        label = run.data.tags.get(PREFIX + "positive_label")
        return label if label not in (None, "") else None

    def monitoring(self, model: str) -> Monitoring | None:
        m = self.get_model(model)
        if not m.task_known:
            return None  # production rows cannot be checked without a task (its page says so)
        with self._reading(f"reading the production rows of {model}"):
            rm = self.client.get_registered_model(model)
            run_id = (rm.tags or {}).get(MONITORING_RUN_TAG)
            if not run_id:
                return None
            infos = [f for f in self._artifacts(run_id, str(Path(MONITORING_PATH).parent))
                     if f.path == MONITORING_PATH]
        rel = f"run {run_id}: {MONITORING_PATH}"
        if not infos:
            raise RegistryError(Problem(rel, "", f"the tag {MONITORING_RUN_TAG} names this run, "
                                        "but it has no such artifact", model=model))

        def prepare(frame: pd.DataFrame):
            frame, notes = prepare_predictions(frame, m, rel, evaluation=False)
            return frame, tuple(notes)

        frame, notes = self._prepared(run_id, infos[0], rel, model,
                                      ("monitoring", m.task, m.positive_label), prepare)
        return Monitoring(model=model, frame=frame, notes=notes)

    def _table(self, run_id: str, info, rel: str, model: str | None) -> pd.DataFrame:
        """Download one Parquet artifact into a temporary folder and parse it; parsed tables
        stay in a small in-process cache keyed by run, path and size."""
        key = (run_id, info.path, info.file_size)
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        with self._reading(f"downloading {rel}"), tempfile.TemporaryDirectory(
                prefix="modeldeck-mlflow-") as tmp:
            local = self.client.download_artifacts(run_id, info.path, tmp)
            try:
                frame = pd.read_parquet(local)
            except Exception as e:  # pyarrow raises many types for damaged files
                raise RegistryError(Problem(rel, "", f"cannot be read as a PARQUET table "
                                            f"({type(e).__name__}: {e})", model=model)) from None
        with self._lock:
            self._tables[key] = frame
            while len(self._tables) > self._tables_max:
                self._tables.popitem(last=False)
        return frame
