"""An MLflow model version whose evaluation ("test") rows are a table in an engine: the version
tag ``modeldeck.evaluation_table`` = ``<connection>:<table>`` (docs/mlflow.md), read from a
real sqlite MLflow store, the table kept by an in-process DuckDB registered as a connection.

The pages that query rows in place get the table where it lies (``rows``); the pages that work
on rows in memory get it read from the engine up to ``MODELDECK_ENGINE_MIN_ROWS`` rows
(``evaluation``), else a message naming the tag; a malformed tag or an unknown connection
costs that version's rows, never the listing or another model.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from contract.mlflow_server import needs_mlflow

pytestmark = needs_mlflow

TAG = "modeldeck.evaluation_table"
N = 240


def table_rows() -> pd.DataFrame:
    """Evaluation rows of a yes/no model in the documented columns, scores with ties."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=N)
    return pd.DataFrame({
        "y_true": (x + rng.normal(size=N) > 0).astype("int64"),
        "y_score": np.round(1 / (1 + np.exp(-x)), 2),
        "segment.region": rng.choice(["north", "south"], N),
        "feature.x": x,
    })


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(URI, the table's rows): a sqlite store written by MLflow's client.

    * ``scored`` v1: no artifact, tagged ``evalhouse:eval_binary``;
      v2: a ``test`` artifact of the table's first 60 rows, and the same tag;
    * ``odd`` v1: the tag ``no-colon`` (malformed); v2: ``nowhere:eval_binary`` (a connection
      nobody set up)."""
    import ibis
    from mlflow import MlflowClient

    from registry.mlflow_log import log_evaluation, set_model_settings
    from registry.rows import register_connection

    root = tmp_path_factory.mktemp("mlflow-evaluation-table")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("train", artifact_location=(root / "art").as_uri())
    rows = table_rows()

    def version(model: str, tag: str, artifact: pd.DataFrame | None = None):
        rid = client.create_run(exp).info.run_id
        if artifact is not None:
            log_evaluation(rid, y_true=artifact["y_true"], y_score=artifact["y_score"],
                           segments={"region": artifact["segment.region"]}, client=client)
        client.set_terminated(rid)
        client.create_model_version(model, f"runs:/{rid}/model", run_id=rid,
                                    tags={TAG: tag})

    for name in ("scored", "odd"):
        set_model_settings(name, task="binary", positive_label=1, client=client)
    version("scored", "evalhouse:eval_binary")
    version("scored", "evalhouse:eval_binary", artifact=rows.iloc[:60])
    version("odd", "no-colon")
    version("odd", "nowhere:eval_binary")

    con = ibis.duckdb.connect()
    con.create_table("eval_binary", rows)
    register_connection("evalhouse", con)
    return uri, rows


@pytest.fixture
def source(store, monkeypatch):
    from registry.mlflow_source import MlflowSource
    monkeypatch.delenv("MODELDECK_CONNECTION_NOWHERE", raising=False)
    return MlflowSource(store[0], poll_seconds=0)


def test_the_tagged_table_is_queried_where_it_lies(store, source):
    _, table = store
    rows = source.rows("scored", 1, None, False)
    assert not rows.in_memory
    assert int(rows.execute(rows.table.count())) == len(table)
    assert rows.where == "eval_binary (connection 'evalhouse')"
    [v2, v1] = source.list_versions("scored").items
    assert v1.splits == () and v1.images == ()  # its rows are the table, not artifacts
    assert v2.splits == ("test",)


def test_the_pages_on_rows_in_memory_read_the_table_from_its_engine(store, source,
                                                                     monkeypatch):
    from registry import folder
    from registry.model import RegistryError
    from registry.tables import prepare_predictions
    _, table = store
    got = source.evaluation("scored", 1)
    want, _ = prepare_predictions(table, source.get_model("scored"), "eval_binary", True)
    assert got.split == "test" and got.version == 1
    pd.testing.assert_frame_equal(got.frame.reset_index(drop=True),
                                  want.reset_index(drop=True)[list(got.frame.columns)],
                                  check_dtype=False, check_categorical=False)
    assert source.evaluation("scored", 1, "test").frame.shape == got.frame.shape
    with pytest.raises(KeyError):  # the tag names the "test" rows only
        source.evaluation("scored", 1, "valid")

    monkeypatch.setattr(folder, "ENGINE_MIN_ROWS", 100)
    with pytest.raises(RegistryError) as e:
        source.evaluation("scored", 1)
    p = e.value.problem
    assert (p.path, p.field, p.model) == ("registered model 'scored' version 1", f"tag {TAG}",
                                          "scored")
    assert f"names a table of {N} rows" in p.message
    assert "read at most 100 evaluation rows" in p.message
    rows = source.rows("scored", 1, None, False)  # queried in place whatever its size
    assert int(rows.execute(rows.table.count())) == N


def test_the_source_says_which_rows_it_keeps_without_opening_them(source, monkeypatch):
    """``keeps_rows``: the tagged "test" rows are kept where they lie (with or without an
    artifact beside them), no other split is; no table is opened to tell."""
    from registry import row_checks

    def no_opening(*a, **k):
        raise AssertionError("a table was opened")

    monkeypatch.setattr(row_checks, "external_rows", no_opening)
    assert source.keeps_rows("scored", 1) and source.keeps_rows("scored", 1, "test")
    assert source.keeps_rows("scored", 2, "test")
    assert not source.keeps_rows("scored", 1, "valid")
    assert not source.keeps_rows("odd", 1)  # a malformed tag names no table


def test_an_artifact_serves_rows_in_memory_and_the_table_serves_rows_in_place(store, source):
    """A version with a ``test`` artifact and the tag (as a folder version with
    ``evaluation/test.*`` and ``evaluation_table``)."""
    _, table = store
    ev = source.evaluation("scored", 2)
    np.testing.assert_array_equal(ev.frame["y_score"].to_numpy(), table["y_score"][:60])
    for split in (None, "test"):
        rows = source.rows("scored", 2, split, False)
        assert not rows.in_memory and int(rows.execute(rows.table.count())) == N


def test_a_malformed_tag_or_an_unknown_connection_costs_that_version_only(source):
    from registry.cached import CachedSource
    from registry.model import RegistryError
    listing = source.list_models()
    assert [m.name for m in listing.items] == ["odd", "scored"] and listing.problems == ()
    versions = source.list_versions("odd")
    assert [v.version for v in versions.items] == [2, 1]
    [p] = versions.problems
    assert (p.path, p.field, p.model, p.severity) == (
        "registered model 'odd' version 1", f"tag {TAG}", "odd", "warning")
    assert "'<connection>:<table>'" in p.message and p.message.endswith("; ignored")
    assert CachedSource(source).problems("odd") == [p]  # on the model's card
    with pytest.raises(KeyError, match=f"its tag {TAG} is malformed"):
        source.evaluation("odd", 1)
    with pytest.raises(KeyError):
        source.rows("odd", 1, None, False)

    for read in (lambda: source.rows("odd", 2, None, False),
                 lambda: source.evaluation("odd", 2)):
        with pytest.raises(RegistryError) as e:
            read()
        p = e.value.problem
        assert (p.path, p.field, p.model) == ("registered model 'odd' version 2",
                                              f"tag {TAG}", "odd")
        assert "'nowhere'" in p.message and "MODELDECK_CONNECTION_NOWHERE" in p.message
    assert source.list_versions("scored").problems == ()


def test_the_model_page_numbers_equal_scikit_learn_on_the_table(store, source):
    """The cached model page's metrics of the tagged version. On this branch they come from
    the rows read into memory (``evaluation``); once ``analysis/evaluation_rows.py`` serves a
    yes/no model whose rows an engine keeps, from the engine's summaries (``rows``): the
    same numbers either way."""
    from analysis.evaluation import version_evaluation
    from registry.cached import CachedSource
    _, table = store
    ev = version_evaluation(CachedSource(source), "scored", 1)
    y, s = table["y_true"].to_numpy(), table["y_score"].to_numpy()
    assert ev.rows == N
    want = {"roc_auc": skm.roc_auc_score(y, s),
            "average_precision": skm.average_precision_score(y, s),
            "log_loss": skm.log_loss(y, np.clip(s, 1e-15, 1 - 1e-15)),
            "brier": skm.brier_score_loss(y, s),
            "accuracy": skm.accuracy_score(y, s >= 0.5),
            "recall": skm.recall_score(y, s >= 0.5)}
    for key, value in want.items():
        assert ev.metrics[key].value == pytest.approx(value, abs=1e-9), key
        assert ev.metrics[key].low <= value <= ev.metrics[key].high, key


def test_the_model_page_shows_the_table_or_says_what_is_wrong(store, monkeypatch):
    """The page of the tagged version has its metric cards; the version whose connection is
    not set up is a message naming the tag and what to set, not an error page; reading
    wrote nothing to the store."""
    import dash

    from app import Settings, create_app
    monkeypatch.delenv("MODELDECK_CONNECTION_NOWHERE", raising=False)
    uri, _ = store
    db = uri[len("sqlite:///"):]
    before = hashlib.sha256(open(db, "rb").read()).hexdigest()
    app = create_app(Settings(registry=uri))
    layout = dash.page_registry["pages.model"]["layout"]
    with app.server.test_request_context("/"):
        good = str(layout(name="scored", version="1"))
        bad = str(layout(name="odd", version="2"))
    assert "metric-cards" in good and f"Measured by ModelDeck on {N:,} evaluation" in good
    assert "could not be read" in bad and f"tag {TAG}" in bad
    assert "MODELDECK_CONNECTION_NOWHERE" in bad and "Traceback" not in bad
    assert hashlib.sha256(open(db, "rb").read()).hexdigest() == before
