"""Bad input never breaks a page: the corpus of broken registries (tests/fuzz_corpus.py)
against the source, the pages and the exports of one real app (tests/fuzz_harness.py).

Every case checks the source (every file a page could ask for) and the portfolio page through
Dash's ``/_dash-update-component``: no HTTP 500, no traceback in a response or the log, no
hang, the other models' cards unchanged, and a Problem that names the file and the field.
Cases in ``WITH_PAGES`` also open the portfolio's recommendations, /recommendations, the pages
they touch (each version of the model page, compare, monitoring, experiments) and the HTML
reports, and check that a page shows the file and field (or the case's note);
``MODELDECK_FUZZ_FULL=1`` does so for every case (about ten minutes more).

A property test (hypothesis) feeds arbitrary JSON to every document of the schema: the only
outcome is a typed document or a Problem naming the file.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.portfolio import summarize
from app import Settings, create_app
from registry.cached import CachedSource
from registry.folder import FolderSource
from registry.model import RegistryError
from registry.schema import DOCUMENTS, MAX_DEPTH, loads, parse

from conftest import build_tiny_registry
from fuzz_corpus import EXPERIMENTS_PAGE, RUN_COMPARE_PAGE, Case, all_cases, set_field
from fuzz_harness import Env, callback_request, card_requests, check_case, page_request

FULL = os.environ.get("MODELDECK_FUZZ_FULL") == "1"
CASES = all_cases()

#: cases that also open their pages and exports in the default run: the issue's list, and
#: at least one of each kind of table problem
WITH_PAGES = {
    "eval:labels-yes-no+positive_label", "eval:one-class", "eval:one-row", "eval:nan-scores",
    "eval:segment-5000-values", "eval:empty-table", "eval:link-outside", "iris:one-class",
    "price:constant-target", "mon:no-y_true", "mon:all-timestamps-null",
    "mon:timestamps-centuries", "mon:feature-text-vs-numbers",
    "layout:created_at-missing-on-one-version", "layout:description-with-control-characters",
    "experiment.json:not-json:sweep", "runs.jsonl:fifo:sweep",
    "history.csv:link-outside:sweep", "model.json:fifo:price",
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    base = build_tiny_registry(work / "base", n=200)
    root = work / "cases" / "registry"
    shutil.copytree(base, root)
    app = create_app(Settings(registry=str(base)))
    deck = app.server.extensions["modeldeck"]
    e = Env(app=app, base=base, root=root, cache=deck.cache,
            source=FolderSource(root, table_cache_size=64))
    with app.server.test_request_context("/"):
        e.baseline = {m.name: summarize(deck, m.name).value_text for m in deck.models().items}
    assert set(e.baseline) == {"churn", "iris", "price"} and "–" not in e.baseline.values()
    yield e
    app.server.extensions["modeldeck"] = deck


def test_the_corpus_is_large_and_covers_every_file():
    assert len(CASES) >= 300
    touched = " ".join(c.id for c in CASES)
    for kind in ("model.", "version.", "experiment.", "run.", "runs", "history", "eval:",
                 "mon:", "iris:", "price:", "layout:"):
        assert kind in touched
    assert WITH_PAGES <= {c.id for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_never_breaks_a_page(env, case: Case):
    with env.app.server.test_request_context("/"):
        failures = check_case(env, case, pages=FULL or case.id in WITH_PAGES)
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------ named bugs
def _with_registry(env, case: Case):
    from fuzz_harness import build
    build(env, case)
    deck = CachedSource(env.source, env.cache)
    env.app.server.extensions["modeldeck"] = deck
    return deck


def test_a_repeated_query_key_is_not_a_500(env):
    _with_registry(env, Case("plain", lambda root: None, None))
    client = env.app.server.test_client()
    for path in ("/monitoring/churn?version=1&version=2", "/models/churn?version=3&version=1",
                 "/models/churn?threshold=0.3&threshold=0.4", "/compare?model=churn&a=1&a=2"
                 "&b=3", "/compare?model=churn&model=iris"):
        r = client.post("/_dash-update-component", json=page_request(path))
        assert r.status_code == 200, path
        assert "Traceback" not in r.get_data(as_text=True)


def test_parallel_coordinates_download_as_csv(env):
    """The CSV download of the parallel-coordinates chart, through the export callback."""
    from components.export import DOWNLOAD, REF, REQUEST, STATUS
    from pages.experiments_compare import parallel_figure
    from analysis.experiments import runs_table
    from analysis.run_selection import selection

    deck = _with_registry(env, Case("plain", lambda root: None, None))
    with env.app.server.test_request_context("/"):
        table = runs_table(deck, "sweep")
        sub, _ = selection(table, ["run-0", "run-1", "run-2"])
        fig = parallel_figure(sub, "metrics.auc", ["params.lr", "params.depth"])
    key = {"chart": "cmp-parallel"}

    def pattern(kind):
        return json.dumps({"chart": ["MATCH"], "type": kind}, separators=(",", ":"))
    body = {
        "output": f"..{pattern(DOWNLOAD)}.data...{pattern(STATUS)}.children..",
        "outputs": [{"id": {**key, "type": DOWNLOAD}, "property": "data"},
                    {"id": {**key, "type": STATUS}, "property": "children"}],
        "inputs": [{"id": {**key, "type": REQUEST}, "property": "data",
                    "value": {"fmt": "csv", "figure": json.loads(fig.to_json()),
                              "location": "/experiments/compare?experiment=sweep",
                              "at": 1}}],
        "changedPropIds": [json.dumps({**key, "type": REQUEST}, separators=(",", ":"))
                           + ".data"],
        "state": [{"id": {**key, "type": REF}, "property": "data",
                   "value": {"key": "cmp-parallel", "name": "parallel-coordinates"}}],
    }
    r = env.app.server.test_client().post("/_dash-update-component", json=body)
    assert r.status_code == 200
    out = r.get_json()["response"]
    status = json.dumps(out)
    assert "CSV data ready: parallel-coordinates.csv" in status, status[:500]
    download = next(v for k, v in out.items() if DOWNLOAD in k)["data"]
    lines = base64.b64decode(download["content"]).decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("# How the parameters lead to")
    assert lines[1] == "series,lr,depth,auc"  # one column per axis of the chart
    rows = [line.split(",")[1:] for line in lines[2:]]
    assert sorted(rows) == [["0.1", "0", "0.8"], ["0.2", "1", "0.81"], ["0.3", "2", "0.82"]]


def test_a_broken_experiment_json_still_lists_the_experiment(env):
    _with_registry(env, Case("bad", lambda root: (root / "experiments/sweep/experiment.json")
                             .write_text("{oops"), None))
    client = env.app.server.test_client()
    text = client.post("/_dash-update-component",
                       json=page_request(EXPERIMENTS_PAGE)).get_data(as_text=True)
    assert "no experiments yet" not in text
    assert "5 runs" in text and "experiment.json" in text and "not valid JSON" in text


def test_a_folder_that_cannot_be_listed_costs_only_its_model(env, monkeypatch):
    """Tests run as root here, where permissions do not stop reading: the folder's listing
    fails the way it does for another user (PermissionError)."""
    # a change in the folder, so that nothing cached for an earlier registry is reused
    deck = _with_registry(env, Case("touch", lambda root: (
        root / "models/iris/versions/.new").write_text(""), None))
    real = os.listdir
    blocked = str(env.root / "models" / "iris" / "versions")

    def listdir(path="."):
        if str(path) == blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)
    monkeypatch.setattr(os, "listdir", listdir)
    client = env.app.server.test_client()
    for path in ("/", "/models/iris", "/compare?model=iris"):
        r = client.post("/_dash-update-component", json=page_request(path))
        assert r.status_code == 200
    text = "".join(client.post("/_dash-update-component", json=req).get_data(as_text=True)
                   for req in [page_request("/")] + [card_requests(m)[0] for m in env.baseline]
                   ).replace("\\u002f", "/")
    assert "models/iris/versions/" in text and "Permission denied" in text
    assert env.baseline["churn"] in text and env.baseline["price"] in text
    r = client.post("/_dash-update-component", json=callback_request(
        "recommendations-body.children", [("recommendations-trigger", "data", True)]))
    assert r.status_code == 200 and "churn" in r.get_data(as_text=True)
    assert deck.models().items


def test_control_characters_reach_no_slide(env):
    """A NUL or BEL in a description is removed at the edge, so the PowerPoint export, which
    refuses such characters, works."""
    from reports.branding import Branding
    from reports.requests import build_report, parse_request
    from reports.pptx_deck import build_pptx

    mutate = set_field("models/churn/model.json", "description", "Who\x00 leaves\x07 next")
    deck = _with_registry(env, Case("nul", mutate, "churn"))
    with env.app.server.test_request_context("/"):
        assert deck.model("churn").description == "Who leaves next"
        report = build_report(deck, parse_request(deck, "portfolio", "pptx", {}))
        data = build_pptx(report, Branding())
    assert data[:2] == b"PK"


def test_a_link_out_of_the_registry_is_never_read(env):
    """Not even through the export routes: the linked file is a perfectly good table."""
    from fuzz_corpus import CHURN_EVAL, CHURN_EVAL_V1, link_outside
    deck = _with_registry(env, Case("link", link_outside(CHURN_EVAL, copy_of=CHURN_EVAL_V1),
                                    "churn"))
    with pytest.raises(RegistryError, match="outside the registry"):
        deck.evaluation("churn", 2)
    r = env.app.server.test_client().get("/export/report/model/html?model=churn&version=2")
    assert r.status_code == 503  # the report refuses, naming the file and why
    assert b"models/churn/versions/2/evaluation/test.parquet" in r.data
    assert b"outside the registry" in r.data


# ------------------------------------------------------------------ the schema, by property
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(DOCUMENTS)),
       doc=st.dictionaries(st.sampled_from(["task", "version", "name", "description", "tags",
                                            "metrics", "params", "business", "aliases",
                                            "created_at", "run_id", "positive_label",
                                            "start_time", "status", "other"]),
                           JSON, max_size=8))
def test_any_json_becomes_a_document_or_a_problem_naming_the_file(kind, doc):
    try:
        parsed, warnings = parse(DOCUMENTS[kind], doc, "some/file.json", model="m")
    except RegistryError as e:
        assert e.problem.path == "some/file.json" and e.problem.message
        return
    assert all(w.path == "some/file.json" and w.field and w.severity == "warning"
               for w in warnings)
    json.dumps(parsed.model_dump(mode="json"), allow_nan=False)  # plain, finite values


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_json_or_a_problem(data):
    try:
        loads(data, "f.json")
    except RegistryError as e:
        assert e.problem.path == "f.json"


def test_deep_nesting_is_refused_before_validation():
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    with pytest.raises(RegistryError, match="nested more than"):
        loads(deep, "f.json")
    with pytest.raises(RegistryError, match="nested more than"):
        loads("[" * 100_000 + "]" * 100_000, "f.json")


def test_the_published_json_schema_is_current():
    from pathlib import Path

    from registry.schema import json_schemas
    folder = Path(__file__).resolve().parent.parent / "docs" / "schema"
    for name, schema in json_schemas().items():
        stored = json.loads((folder / f"{name}.schema.json").read_text())
        assert stored == schema, f"run: python -m registry.schema docs/schema ({name})"
    assert json_schemas()["model"]["required"] == ["task"]


def test_the_writer_refuses_what_the_reader_would_refuse(tmp_path):
    from registry.writer import log_model
    with pytest.raises(ValueError, match="business.volume_per_month"):
        log_model(tmp_path, "m", "binary", business={"volume_per_month": -5})
    with pytest.raises(ValueError, match="tags"):
        log_model(tmp_path, "m", "binary", tags={"a": ["not", "text"]})
    log_model(tmp_path, "m", "binary", description="fine")
    assert FolderSource(tmp_path).list_models().problems == ()


def test_hostile_runs_never_log_a_traceback(env, caplog):
    """The experiments pages with every kind of broken line at once."""
    lines = ["{oops", json.dumps({"name": "no id"}), json.dumps({"run_id": 1e400}),
             json.dumps({"run_id": "x", "metrics": {"a": "b"}, "params": [1]}),
             json.dumps({"run_id": "y", "start_time": "never", "tags": {"t": {"deep": 1}}}),
             "[" * 5000 + "]" * 5000]

    def mutate(root):
        with open(root / "experiments/sweep/runs.jsonl", "a") as f:
            f.write("\n".join(lines) + "\n")
    _with_registry(env, Case("runs", mutate, None))
    client = env.app.server.test_client()
    with caplog.at_level(logging.ERROR):
        for path in (EXPERIMENTS_PAGE, RUN_COMPARE_PAGE, "/experiments?experiment=__all__"):
            r = client.post("/_dash-update-component", json=page_request(path))
            assert r.status_code == 200 and "Traceback" not in r.get_data(as_text=True)
    assert not [r for r in caplog.records if r.exc_info]
    text = client.post("/_dash-update-component", json=page_request(EXPERIMENTS_PAGE)) \
        .get_data(as_text=True)
    assert "line 6" in text and "line 11" in text


def test_one_models_failure_never_costs_the_shared_pages(env, monkeypatch):
    """The safety net behind /recommendations and the portfolio report: an error nobody
    foresaw in one model's evidence leaves the others' advice (and the pages) intact."""
    import analysis.evidence as evidence
    from reports.requests import build_report, parse_request

    # a change in iris's folder, so that no advice cached for an earlier registry is reused
    deck = _with_registry(env, Case("touch", lambda root: (
        root / "models/iris/.new").write_text(""), None))
    real = evidence._advice

    def advice(d, name, settings):
        if name == "iris":
            raise ZeroDivisionError("unforeseen")
        return real(d, name, settings)
    monkeypatch.setattr(evidence, "_advice", advice)
    with env.app.server.test_request_context("/"):
        got = {a.model: a for a in evidence.portfolio_advice(deck)}
        assert got["iris"].problem == "the evidence could not be computed"
        assert got["churn"].recommendations and got["price"].recommendations
        report = build_report(deck, parse_request(deck, "portfolio", "html", {}))
    assert any("iris: no recommendation" in line for line in report.summary)
    r = env.app.server.test_client().post("/_dash-update-component", json=callback_request(
        "recommendations-body.children", [("recommendations-trigger", "data", True)]))
    assert r.status_code == 200 and "churn" in r.get_data(as_text=True)
