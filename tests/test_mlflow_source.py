"""The MLflow source beyond the contract: choosing it by URI, errors a person can act on,
caching, an mlruns folder, the logging helper and the app's banner.

What every source must do is in tests/contract/. Tests that need MLflow skip, saying why, only
when it is not installed.
"""
from __future__ import annotations

import http.server
import json
import threading
import time
import pytest

from app import Settings, create_app
from registry import RegistryError, open_source
from registry.folder import FolderSource
from registry.model import Problem

from contract.contract_content import write_sqlite_store
from contract.mlflow_server import HAVE_MLFLOW, free_port, needs_mlflow


# ------------------------------------------------------------------ without MLflow
def test_explain_names_the_uri_and_what_to_check():
    from registry.mlflow_client import explain

    class Err(Exception):
        def __init__(self, text, code=""):
            super().__init__(text)
            self.error_code = code

    uri = "http://mlflow.internal:5000"
    down = explain(uri, Err("API request to http://mlflow.internal:5000/api/2.0/mlflow/"
                            "registered-models/search failed with exception "
                            "HTTPConnectionPool(...): Max retries exceeded (Connection refused)"))
    assert down.path == uri and "cannot reach the MLflow server" in down.message
    assert "running" in down.message and "address and port" in down.message
    denied = explain(uri, Err("Permission denied", "PERMISSION_DENIED"))
    assert "refused access" in denied.message and "MLFLOW_TRACKING_TOKEN" in denied.message
    wrong = explain(uri, Err("Response code 404 ... Not Found", "ENDPOINT_NOT_FOUND"))
    assert "not an MLflow tracking server" in wrong.message and "Check the URI" in wrong.message
    other = explain(uri, Err("something odd"), "listing experiments")
    assert other.message == "MLflow could not answer while listing experiments: something odd"
    assert str(down).startswith(uri + ": ")


def test_params_that_read_as_numbers_become_numbers():
    from registry.mlflow_run_frames import param_value
    assert param_value("3") == 3 and isinstance(param_value("3"), int)
    assert param_value("0.30000000000000004") == 0.1 + 0.2
    assert param_value("-2") == -2 and param_value("1e-3") == 0.001
    for text in ("l2", "nan", "inf", "None", "True", ""):
        assert param_value(text) == text


def test_a_modeldeck_folder_is_never_taken_for_mlflow(tiny_registry):
    assert isinstance(open_source(str(tiny_registry)), FolderSource)
    assert isinstance(open_source("file:" + str(tiny_registry)), FolderSource)


@pytest.mark.skipif(HAVE_MLFLOW, reason="checks the message shown when MLflow is missing")
def test_without_mlflow_an_mlflow_uri_says_how_to_install():
    with pytest.raises(RegistryError) as err:
        open_source("sqlite:///mlflow.db")
    assert 'pip install -e ".[mlflow]"' in str(err.value)


# ------------------------------------------------------------------ with MLflow
@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory) -> str:
    return write_sqlite_store(tmp_path_factory.mktemp("mlflow-unit"))


@needs_mlflow
@pytest.mark.parametrize("uri", ["http://127.0.0.1:9", "https://mlflow.example.com",
                                 "postgresql://user@db.example.com/mlflow"])
def test_open_source_chooses_mlflow_by_scheme_without_contacting_it(uri):
    from registry.mlflow_source import MlflowSource
    t0 = time.perf_counter()
    source = open_source(uri)
    assert isinstance(source, MlflowSource) and source.uri == uri
    assert time.perf_counter() - t0 < 10  # nothing is read when opening


@needs_mlflow
def test_a_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path):
    path = tmp_path / "nothing-here.db"
    with pytest.raises(RegistryError) as err:
        open_source(f"sqlite:///{path}")
    assert str(path) in str(err.value) and "no MLflow database" in str(err.value)
    assert not path.exists()


@needs_mlflow
def test_unreachable_server_fails_fast_with_a_clear_problem():
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    source = open_source(uri)
    t0 = time.perf_counter()
    with pytest.raises(RegistryError) as err:
        source.list_models()
    assert time.perf_counter() - t0 < 10  # no minutes of retries
    problem = err.value.problem
    assert problem.path == uri and "cannot reach the MLflow server" in problem.message
    with pytest.raises(RegistryError):
        source.data_version()


class _Answer(http.server.BaseHTTPRequestHandler):
    """Answers every request with one status and body: a web server that is not MLflow, or
    an MLflow server that refuses the user."""
    status, body = 404, b"<html>not here</html>"

    def do_GET(self):
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json" if self.body.startswith(b"{")
                         else "text/html")
        self.end_headers()
        self.wfile.write(self.body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def answering_server():
    servers = []

    def start(status: int, body: bytes) -> str:
        handler = type("Handler", (_Answer,), {"status": status, "body": body})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


@needs_mlflow
def test_wrong_uri_says_it_is_not_an_mlflow_server(answering_server):
    uri = answering_server(404, b"<html>not here</html>")
    with pytest.raises(RegistryError) as err:
        open_source(uri).list_models()
    assert err.value.problem.path == uri
    assert "not an MLflow tracking server" in err.value.problem.message


@needs_mlflow
def test_permission_denied_says_to_check_credentials(answering_server):
    uri = answering_server(403, json.dumps({"error_code": "PERMISSION_DENIED",
                                            "message": "Permission denied"}).encode())
    with pytest.raises(RegistryError) as err:
        open_source(uri).list_models()
    assert err.value.problem.path == uri
    assert "refused access" in err.value.problem.message
    assert "MLFLOW_TRACKING_USERNAME" in err.value.problem.message


@needs_mlflow
def test_data_version_is_reused_for_poll_seconds(sqlite_store, monkeypatch):
    from registry.mlflow_source import MlflowSource
    source = MlflowSource(sqlite_store, poll_seconds=60)
    calls = []
    real = source.client.search_registered_models
    monkeypatch.setattr(source.client, "search_registered_models",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    first = source.data_version()
    assert [source.data_version() for _ in range(5)] == [first] * 5
    assert len(calls) == 1


@needs_mlflow
def test_evaluation_tables_are_downloaded_once(sqlite_store, monkeypatch):
    from registry.mlflow_source import MlflowSource
    source = MlflowSource(sqlite_store)
    downloads = []
    real = source.client.download_artifacts
    monkeypatch.setattr(source.client, "download_artifacts",
                        lambda *a, **k: downloads.append(a) or real(*a, **k))
    a = source.evaluation("churn", 2)
    b = source.evaluation("churn", 2)
    assert a.frame is b.frame and len(downloads) == 1


@needs_mlflow
def test_aliases_come_from_the_registered_model_when_versions_lack_them(sqlite_store,
                                                                       monkeypatch):
    """MLflow 3.17's search_model_versions may return versions without their aliases."""
    from registry.mlflow_source import MlflowSource
    source = MlflowSource(sqlite_store)
    real = source.client.search_model_versions

    def without_aliases(*a, **k):
        page = real(*a, **k)
        for v in page:
            v.aliases = []
        return page

    monkeypatch.setattr(source.client, "search_model_versions", without_aliases)
    versions = {v.version: v.aliases for v in source.list_versions("churn").items}
    assert versions[2] == ("champion",) and versions[3] == ("challenger",)


@needs_mlflow
def test_a_model_without_task_tag_is_listed_as_task_unknown_saying_how_to_set_it(sqlite_store):
    from mlflow import MlflowClient
    client = MlflowClient(tracking_uri=sqlite_store, registry_uri=sqlite_store)
    client.create_registered_model("untagged", description="made outside ModelDeck")
    try:
        listing = open_source(sqlite_store).list_models()
        assert [m.name for m in listing.items] == ["churn", "iris", "price", "untagged"]
        assert listing.problems == ()
        m = listing.items[-1]
        assert m.task == "unknown" and not m.task_known
        assert m.task_source.startswith("unknown: nothing in the registry says")
        assert "modeldeck.task" in m.task_source and "set_model_settings" in m.task_source
        assert listing.items[0].task_source == \
            "set by the registered model's tag modeldeck.task"
    finally:
        client.delete_registered_model("untagged")


@needs_mlflow
def test_an_mlruns_folder_is_read_in_place(tmp_path, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    from registry.mlflow_log import log_evaluation, set_model_settings
    from registry.mlflow_source import MlflowSource
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "mlruns"
    uri = store.as_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("train")
    run = client.create_run(exp, run_name="only")
    client.log_metric(run.info.run_id, "auc", 0.9)
    log_evaluation(run.info.run_id, y_true=[0, 1, 1], y_score=[0.2, 0.7, 0.9], client=client)
    client.set_terminated(run.info.run_id)
    set_model_settings("m", task="binary", client=client)
    client.create_model_version("m", source=f"{run.info.artifact_uri}/model",
                                run_id=run.info.run_id)
    try:
        source = open_source(str(store))
        assert isinstance(source, MlflowSource)
        assert [m.name for m in source.list_models().items] == ["m"]
        assert source.list_versions("m").items[0].metrics == {"auc": 0.9}
        assert source.evaluation("m", 1).frame["y_score"].tolist() == [0.2, 0.7, 0.9]
        assert [(e.name, e.run_count) for e in source.list_experiments().items] == [("train", 1)]
        assert not (tmp_path / "mlflow.db").exists()  # reading created nothing
    finally:
        mlflow.set_tracking_uri(None)


@needs_mlflow
def test_set_model_settings_checks_its_input(sqlite_store):
    from registry.mlflow_log import set_model_settings
    with pytest.raises(ValueError, match="task must be one of"):
        set_model_settings("x", task="ranking", tracking_uri=sqlite_store)
    with pytest.raises(ValueError, match="unknown business settings"):
        set_model_settings("x", task="binary", business={"value_tp": 1},
                           tracking_uri=sqlite_store)


# ------------------------------------------------------------------ the app
@needs_mlflow
def test_app_starts_on_an_unreachable_server_and_every_page_explains():
    import dash

    from components.shell import registry_banner
    from pages._data import registry_problem
    uri = f"http://127.0.0.1:{free_port()}"
    app = create_app(Settings(registry=uri))
    with app.server.test_request_context("/"):
        problem = registry_problem()
        assert isinstance(problem, Problem) and problem.path == uri
        banner = str(registry_banner(problem))
        assert uri in banner and "cannot reach the MLflow server" in banner
        text = str(dash.page_registry["pages.portfolio"]["layout"]())
        assert "could not be opened" in text and uri in text


def test_banner_is_empty_while_the_registry_answers(tiny_registry):
    from components.shell import registry_banner
    from pages._data import registry_problem
    app = create_app(Settings(registry=str(tiny_registry)))
    with app.server.test_request_context("/"):
        assert registry_problem() is None
    assert registry_banner(None) is None


@needs_mlflow
def test_mlflow_tables_and_tags_pass_the_same_edge_checks_as_a_folder(tmp_path):
    """Prediction rows read from MLflow are normalised like a folder's (text labels with the
    positive class the modeldeck evaluator noted on the run, rows without a score left out with
    a note), and business tags go through the same schema as model.json's."""
    import numpy as np
    import pandas as pd
    from mlflow import MlflowClient
    from registry.mlflow_source import MlflowSource

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("e", artifact_location=(tmp_path / "art").as_uri())
    run = client.create_run(exp)
    rid = run.info.run_id
    y = np.array(["yes", "no"] * 50)
    score = np.where(y == "yes", 0.8, 0.3)
    score[:3] = np.nan
    table = tmp_path / "test.parquet"
    pd.DataFrame({"y_true": y, "y_score": score}).to_parquet(table)
    client.log_artifact(rid, str(table), "modeldeck/evaluation")
    client.set_tag(rid, "modeldeck.task", "binary")
    client.set_tag(rid, "modeldeck.positive_label", "yes")
    client.set_terminated(rid)
    client.create_registered_model("churn")
    client.create_model_version("churn", f"runs:/{rid}/model", run_id=rid)
    client.set_registered_model_tag("churn", "modeldeck.business.value_true_positive", "150")

    source = MlflowSource(uri, poll_seconds=0)
    model = source.get_model("churn")
    assert model.business.value_true_positive == 150.0
    ev = source.evaluation("churn", 1)
    assert len(ev.frame) == 97 and any("3 of 100 rows left out" in n for n in ev.notes)
    # "yes" is the positive class: the rows reach analysis as 1 / 0
    np.testing.assert_array_equal(ev.frame["y_true"].to_numpy(), (y[3:] == "yes").astype(int))

    client.set_registered_model_tag("churn", "modeldeck.business.cost_false_positive", "1e400")
    source = MlflowSource(uri, poll_seconds=0)
    listing = source.list_models()
    assert [m.name for m in listing.items] == []
    [problem] = listing.problems
    assert problem.field == "tag modeldeck.business.cost_false_positive"
    assert "finite" in problem.message and problem.model == "churn"


@needs_mlflow
def test_evaluation_splits_say_what_they_are_through_run_tags(sqlite_store):
    """A stress split logged with its kind and description reads back as it would from
    version.json's ``splits``; a tag with a kind ModelDeck does not know costs only that
    split's description, with a warning naming the tag."""
    from mlflow import MlflowClient

    from registry.mlflow_log import log_evaluation, set_model_settings
    from registry.mlflow_source import MlflowSource
    from registry.model import split_info
    client = MlflowClient(tracking_uri=sqlite_store, registry_uri=sqlite_store)
    run = client.create_run(client.create_experiment("splits"))
    rid = run.info.run_id
    for split in ("test", "stress-missing"):
        log_evaluation(rid, y_true=[0, 1, 1, 0], y_score=[0.2, 0.7, 0.9, 0.4], split=split,
                       client=client, **({"kind": "stress",
                                          "description": "with 10% of values missing"}
                                         if split != "test" else {}))
    with pytest.raises(ValueError, match="unknown split kind"):
        log_evaluation(rid, y_true=[0, 1], y_score=[0.1, 0.9], split="odd", kind="weird",
                       client=client)
    client.set_tag(rid, "modeldeck.split.test.kind", "weird")  # as someone might by hand
    set_model_settings("s", task="binary", client=client)
    client.create_model_version("s", source=f"{run.info.artifact_uri}/model", run_id=rid)
    listing = MlflowSource(sqlite_store).list_versions("s")
    v = listing.items[0]
    assert split_info(v, "stress-missing").kind == "stress"
    assert split_info(v, "stress-missing").description == "with 10% of values missing"
    assert split_info(v, "test").kind == "test"  # read from the name instead
    assert any("modeldeck.split.test" in str(p) and "weird" in str(p)
               for p in listing.problems)
