"""One set of expectations, run against every source built from the same content.

``SourceContract`` holds the expectations; each subclass supplies a ``source`` built from
``CONTENT`` (and a ``changer`` that can change the store while a source reads it):

* ``TestFolderSource``      – a ModelDeck folder written with registry.writer
* ``TestMlflowSqliteStore`` – an MLflow sqlite store written with MLflow's own client
* ``TestMlflowServer``      – the same through a real ``mlflow server`` on 127.0.0.1

The MLflow classes are skipped, saying why, only when MLflow is not installed.
"""
from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contract_content import CONTENT, T0, TRAINING_EXPERIMENT, write_folder, write_mlflow
from mlflow_server import MlflowServer, needs_mlflow
from registry import RegistryError, open_source
from registry.base import Source
from registry.model import TASKS, Evaluation


def _utc_ns(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col, utc=True).dt.as_unit("ns")


def _plain(d) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


class SourceContract:
    """Expectations every registry source meets. Subclasses provide the fixtures
    ``source`` (built from CONTENT) and ``changer`` (a writable copy with its source)."""

    content = CONTENT

    # -------------------------------------------------------------- models
    def test_lists_the_same_models_with_their_settings(self, source: Source):
        listing = source.list_models()
        assert listing.problems == ()
        assert [m.name for m in listing.items] == sorted(m.name for m in self.content.models)
        for got in listing.items:
            spec = self.content.model(got.name)
            assert got.task == spec.task and got.task in TASKS
            assert got.description == spec.description
            assert got.owner == spec.owner
            assert got.entity == spec.entity
            assert got.target_unit == spec.target_unit
            assert got.positive_label == spec.positive_label
            assert dict(got.tags) == spec.tags
            assert got.business == spec.business
            assert got.updated_at is not None and got.updated_at.tzinfo is not None

    def test_get_model_and_unknown_model(self, source: Source):
        assert source.get_model("iris").task == "multiclass"
        with pytest.raises(KeyError):
            source.get_model("no-such-model")
        with pytest.raises(KeyError):
            source.list_versions("no-such-model")

    # -------------------------------------------------------------- versions
    def test_versions_aliases_stages_params_and_metrics(self, source: Source):
        for spec in self.content.models:
            listing = source.list_versions(spec.name)
            assert listing.problems == ()
            got = listing.items
            assert [v.version for v in got] == sorted((v.version for v in spec.versions),
                                                      reverse=True)  # newest first
            for v in got:
                want = self.content.version(spec.name, v.version)
                assert v.model == spec.name
                assert sorted(v.aliases) == sorted(want.aliases), (spec.name, v.version)
                assert v.stage == want.stage, (spec.name, v.version)
                assert _plain(v.params) == want.params, (spec.name, v.version)
                assert dict(v.metrics) == pytest.approx(want.metrics, abs=1e-12)
                assert v.algorithm == want.algorithm
                assert v.description == want.description
                assert v.splits == (() if want.rows is None else ("test",))
                assert v.created_at is not None and v.created_at.tzinfo is not None

    def test_champion_alias_names_one_version(self, source: Source):
        versions = source.list_versions("churn").items
        assert [v.version for v in versions if "champion" in v.aliases] == [2]
        assert [v.version for v in versions if "challenger" in v.aliases] == [3]

    # -------------------------------------------------------------- tables
    def test_evaluation_rows_are_the_logged_rows(self, source: Source):
        for spec in self.content.models:
            for v in spec.versions:
                if v.rows is None:
                    continue
                ev = source.evaluation(spec.name, v.version)
                assert isinstance(ev, Evaluation)
                assert (ev.model, ev.version, ev.split) == (spec.name, v.version, "test")
                pd.testing.assert_frame_equal(
                    ev.frame.reset_index(drop=True),
                    self.content.evaluation_frame(spec.name, v.version), check_dtype=False)
        ev = source.evaluation("churn", 2, "test")
        assert ev.segment_columns == ["segment.region"]
        assert ev.feature_columns == ["feature.tenure"]
        assert source.evaluation("iris", 1).proba_columns == ["proba.0", "proba.1", "proba.2"]

    def test_a_version_without_rows_keeps_its_metrics_and_raises_keyerror(self, source):
        v4 = next(v for v in source.list_versions("churn").items if v.version == 4)
        assert v4.metrics == {"cv_auc": 0.75} and v4.splits == ()
        with pytest.raises(KeyError):
            source.evaluation("churn", 4)
        with pytest.raises(KeyError):
            source.evaluation("churn", 2, "no-such-split")
        with pytest.raises(KeyError):
            source.evaluation("churn", 99)

    def test_monitoring_rows(self, source: Source):
        mon = source.monitoring("churn")
        want = self.content.monitoring_frame("churn")
        got = mon.frame.reset_index(drop=True)
        assert list(got.columns) == list(want.columns)
        assert str(got["timestamp"].dt.tz) == "UTC"
        pd.testing.assert_series_equal(_utc_ns(got["timestamp"]), _utc_ns(want["timestamp"]))
        pd.testing.assert_frame_equal(got.drop(columns="timestamp"),
                                      want.drop(columns="timestamp"), check_dtype=False)
        assert int(got["y_true"].isna().sum()) == 50
        assert source.monitoring("iris") is None

    # -------------------------------------------------------------- experiments
    def test_experiments_with_run_counts(self, source: Source):
        listing = source.list_experiments()
        by_name = {e.name: e for e in listing.items}
        for spec in self.content.experiments:
            assert by_name[spec.name].description == spec.description
            assert by_name[spec.name].run_count == len(spec.runs)
        assert [e.name for e in listing.items] == sorted(by_name)

    def test_runs_table_holds_every_run_with_params_metrics_and_tags(self, source: Source):
        spec = self.content.experiments[0]
        frame = source.runs(spec.name).items
        assert {"run_id", "experiment", "name", "status", "start_time",
                "end_time"} <= set(frame.columns)
        assert frame["run_id"].is_unique and len(frame) == len(spec.runs)
        assert set(frame["experiment"]) == {spec.name}
        by_name = frame.set_index("name")
        for run in spec.runs:
            row = by_name.loc[run.name]
            assert row["status"] == "FINISHED"
            assert pd.Timestamp(row["start_time"]) == pd.Timestamp(run.start)
            assert pd.Timestamp(row["end_time"]) == pd.Timestamp(run.end)
            for group, want in (("params", run.params), ("metrics", run.metrics),
                                ("tags", run.tags)):
                got = {c[len(group) + 1:]: (v.item() if isinstance(v, np.generic) else v)
                       for c, v in row.items()
                       if c.startswith(group + ".") and not pd.isna(v)}
                assert got == (pytest.approx(want, abs=1e-12) if group == "metrics" else want)

    def test_runs_page_walks_every_run_newest_first(self, source: Source):
        spec = self.content.experiments[0]
        names, token, pages = [], None, 0
        while True:
            page, token = source.runs_page(spec.name, max_results=2, page_token=token)
            assert len(page) <= 2
            names += list(page["name"])
            pages += 1
            if token is None:
                break
        assert pages == 3
        want = [r.name for r in sorted(spec.runs, key=lambda r: r.start, reverse=True)]
        assert names == want

    def test_get_run_and_unknown_experiment(self, source: Source):
        spec = self.content.experiments[0]
        frame = source.runs(spec.name).items
        rid = frame.loc[frame["name"] == "trial-3", "run_id"].iloc[0]
        run = source.get_run(spec.name, rid)
        assert run.name == "trial-3" and run.params["depth"] == 2 and run.tags["seed"] == "3"
        with pytest.raises(KeyError):
            source.runs("no-such-experiment")

    def test_metric_history_on_demand(self, source: Source):
        spec = self.content.experiments[0]
        frame = source.runs(spec.name).items
        name_of = dict(zip(frame["run_id"], frame["name"]))
        two = [rid for rid, name in name_of.items() if name in ("trial-1", "trial-4")]
        hist = source.metric_history(spec.name, run_ids=two, keys=["val_loss"])
        assert list(hist.columns) == ["run_id", "key", "step", "timestamp", "value"]
        assert set(hist["run_id"]) == set(two) and set(hist["key"]) == {"val_loss"}
        for rid in two:
            run = next(r for r in spec.runs if r.name == name_of[rid])
            got = hist.loc[hist["run_id"] == rid].sort_values("step")
            np.testing.assert_array_equal(got["step"].to_numpy(), run.history["step"].to_numpy())
            np.testing.assert_allclose(got["value"].to_numpy(), run.history["value"].to_numpy(),
                                       rtol=0, atol=1e-12)
        everything = source.metric_history(spec.name)
        assert set(everything["run_id"]) == set(frame["run_id"])
        assert len(everything.loc[everything["key"] == "val_loss"]) == 5 * 8

    # -------------------------------------------------------------- freshness
    def test_data_version_is_stable_until_something_changes(self, changer):
        source = changer.source
        before_all, before_iris = source.data_version(), source.data_version("iris")
        assert source.data_version() == before_all
        assert source.data_version("iris") == before_iris
        changer.set_alias("iris", "shadow", 1)
        try:
            assert source.data_version("iris") != before_iris
            assert source.data_version() != before_all
            v1 = next(v for v in source.list_versions("iris").items if v.version == 1)
            assert "shadow" in v1.aliases
        finally:
            changer.delete_alias("iris", "shadow")

    def test_a_new_run_appears_without_reopening(self, changer):
        source = changer.source
        spec = self.content.experiments[0]
        assert len(source.runs(spec.name).items) == len(spec.runs)
        before = source.data_version()
        rid = changer.add_run(spec.name, "late-trial", {"val_auc": 0.9})
        try:
            assert source.data_version() != before
            frame = source.runs(spec.name).items
            assert "late-trial" in set(frame["name"])
            counts = {e.name: e.run_count for e in source.list_experiments().items}
            assert counts[spec.name] == len(spec.runs) + 1
        finally:
            changer.delete_run(rid)

    def test_a_new_version_and_a_moved_alias_appear_without_reopening(self, changer):
        source = changer.source
        before = source.data_version("price")
        new = changer.add_version("price", {"mae": 1.5})
        try:
            assert source.data_version("price") != before
            versions = {v.version: v for v in source.list_versions("price").items}
            assert new in versions and versions[new].metrics["mae"] == 1.5
            for target in (new, 1):  # set, then moved to another version
                moved = source.data_version("price")
                changer.set_alias("price", "champion", target)
                assert source.data_version("price") != moved
                versions = {v.version: v for v in source.list_versions("price").items}
                assert [v for v, x in versions.items() if "champion" in x.aliases] == [target]
        finally:
            changer.delete_alias("price", "champion")
            changer.delete_version("price", new)

    def test_a_deleted_version_and_a_deleted_run_disappear_without_reopening(self, changer):
        source = changer.source
        new = changer.add_version("price", {"mae": 2.5})
        try:
            if changer.version_runs:  # a folder's versions have no runs of their own
                before = source.data_version("price")
                changer.delete_version_run("price", new)
                assert source.data_version("price") != before
                listing = source.list_versions("price")
                gone = next(v for v in listing.items if v.version == new)
                assert dict(gone.metrics) == {} and dict(gone.params) == {}
                assert any(p.severity == "warning" and "was deleted" in p.message
                           for p in listing.problems)
        finally:
            before = source.data_version("price")
            changer.delete_version("price", new)
        assert source.data_version("price") != before
        assert new not in {v.version for v in source.list_versions("price").items}
        assert {v.version for v in source.list_versions("price").items} == \
            {v.version for v in self.content.model("price").versions}


# ------------------------------------------------------------------ the folder source
@pytest.fixture(scope="session")
def folder_registry(tmp_path_factory) -> Path:
    return write_folder(CONTENT, tmp_path_factory.mktemp("contract-folder") / "reg")


class FolderChanger:
    def __init__(self, root: Path):
        from registry.folder import FolderSource
        self.root = root
        self.source = FolderSource(root)

    def set_alias(self, model, alias, version):
        from registry.writer import set_alias
        set_alias(self.root, model, alias, version)

    def delete_alias(self, model, alias):
        pass  # a throw-away copy

    def add_run(self, experiment, name, metrics):
        from registry.writer import log_run
        return log_run(self.root, experiment, name=name, metrics=metrics,
                       start_time=T0 + timedelta(days=1), end_time=T0 + timedelta(days=1))

    def delete_run(self, run_id):
        pass

    def add_version(self, model, metrics):
        from registry.writer import log_model_version
        return log_model_version(self.root, model, y_true=[1.0, 2.0], y_pred=[1.5, 2.5],
                                 metrics=metrics).version

    def delete_version(self, model, version):
        shutil.rmtree(self.root / "models" / model / "versions" / str(version))

    version_runs = False


class TestFolderSource(SourceContract):
    @pytest.fixture
    def source(self, folder_registry):
        return open_source(str(folder_registry))

    @pytest.fixture
    def changer(self, folder_registry, tmp_path):
        copy = tmp_path / "reg"
        shutil.copytree(folder_registry, copy)
        return FolderChanger(copy)


# ------------------------------------------------------------------ the MLflow sources
class MlflowChanger:
    def __init__(self, client, source):
        self.client = client
        self.source = source

    def set_alias(self, model, alias, version):
        self.client.set_registered_model_alias(model, alias, str(version))

    def delete_alias(self, model, alias):
        self.client.delete_registered_model_alias(model, alias)

    def add_run(self, experiment, name, metrics):
        exp = self.client.get_experiment_by_name(experiment)
        start = int(time.time() * 1000)  # a new run starts now
        run = self.client.create_run(exp.experiment_id, start_time=start, run_name=name)
        for k, v in metrics.items():
            self.client.log_metric(run.info.run_id, k, v, timestamp=start)
        self.client.set_terminated(run.info.run_id, end_time=start + 1000)
        return run.info.run_id

    def delete_run(self, run_id):
        self.client.delete_run(run_id)

    def add_version(self, model, metrics):
        from mlflow.entities import Metric
        exp = self.client.get_experiment_by_name(TRAINING_EXPERIMENT)
        run = self.client.create_run(exp.experiment_id, run_name=f"{model}-late")
        self.client.log_batch(run.info.run_id, metrics=[
            Metric(k, float(v), int(time.time() * 1000), 0) for k, v in metrics.items()])
        self.client.set_terminated(run.info.run_id)
        mv = self.client.create_model_version(model, source=f"{run.info.artifact_uri}/model",
                                              run_id=run.info.run_id)
        return int(mv.version)

    def delete_version(self, model, version):
        self.client.delete_model_version(model, str(version))

    def delete_version_run(self, model, version):
        mv = self.client.get_model_version(model, str(version))
        self.client.delete_run(mv.run_id)

    version_runs = True


def _sqlite_store(root: Path):
    from mlflow import MlflowClient
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    write_mlflow(CONTENT, client, artifact_location=(root / "artifacts").as_uri())
    return uri


@pytest.fixture(scope="session")
def mlflow_sqlite_store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("contract-mlflow-sqlite")
    _sqlite_store(root)
    return root


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """One real ``mlflow server`` for the session, holding CONTENT written through it."""
    server = MlflowServer(tmp_path_factory.mktemp("contract-mlflow-server")).start()
    try:
        write_mlflow(CONTENT, server.client())
        yield server
    finally:
        server.stop()


@needs_mlflow
class TestMlflowSqliteStore(SourceContract):
    @pytest.fixture
    def source(self, mlflow_sqlite_store):
        src = open_source(f"sqlite:///{mlflow_sqlite_store / 'mlflow.db'}")
        assert type(src).__name__ == "MlflowSource"
        return src

    @pytest.fixture
    def changer(self, mlflow_sqlite_store, tmp_path):
        from mlflow import MlflowClient

        from registry.mlflow_source import MlflowSource
        shutil.copy(mlflow_sqlite_store / "mlflow.db", tmp_path / "mlflow.db")
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
        return MlflowChanger(MlflowClient(tracking_uri=uri, registry_uri=uri),
                             MlflowSource(uri, poll_seconds=0))


@needs_mlflow
class TestMlflowServer(SourceContract):
    @pytest.fixture
    def source(self, mlflow_server):
        src = open_source(mlflow_server.url)
        assert type(src).__name__ == "MlflowSource"
        return src

    @pytest.fixture
    def changer(self, mlflow_server):
        from registry.mlflow_source import MlflowSource
        return MlflowChanger(mlflow_server.client(),
                             MlflowSource(mlflow_server.url, poll_seconds=0))


def test_mlflow_uri_without_the_extra_says_how_to_install(monkeypatch):
    """Without MLflow installed, an MLflow URI is refused with the command that fixes it."""
    import builtins
    real_import = builtins.__import__

    def no_mlflow(name, *args, **kwargs):
        if name == "mlflow" or name.startswith("mlflow."):
            raise ImportError("No module named 'mlflow'", name="mlflow")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    with pytest.raises(RegistryError) as err:
        open_source("http://127.0.0.1:5000")
    assert 'pip install -e ".[mlflow]"' in str(err.value)
