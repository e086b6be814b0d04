"""The model card: its registry fields (schema, folder, MLflow tags), its content against
scikit-learn, safe Markdown, and its HTML / PDF / Markdown exports."""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from analysis.card import NOT_DOCUMENTED, build_card
from registry import SAMPLE_REGISTRY, open_source
from registry.cached import CachedSource
from registry.mlflow_models import card_doc_from_tags
from registry.model import DataInfo, Problem
from registry.writer import log_model
from reports.card_report import card_html, card_markdown, markdown_html

CARD = {"purpose": "Find **leavers**", "intended_use": "Call lists",
        "limitations": ["Small sample", "One region"], "caveats": "Scores drift",
        "training_data": {"source": "CRM", "rows": 1200, "period": "2025"},
        "evaluation_data": {"source": "hold-out", "period": "Q1 2026"}}
EVIL = ('Purpose <script>alert("x")</script> <img src=x onerror="alert(1)"> '
        '[click](javascript:alert(1)) <a href="javascript:alert(2)">a</a> [ok](https://example.org)'
        ' <javascript:alert(3)> [e](&#106;avascript:alert(4)) [d]( data:text/html,x)\n\n'
        '[ref]: vbscript:alert(5)\n\n[see][ref]')


def _deck(root: Path) -> CachedSource:
    return CachedSource(open_source(str(root)))


def _model_json(root: Path, name: str) -> Path:
    return root / "models" / name / "model.json"


def _set_card(root: Path, name: str, card) -> None:
    path = _model_json(root, name)
    doc = json.loads(path.read_text())
    doc["card"] = card
    path.write_text(json.dumps(doc))


# ------------------------------------------------------------------ schema and sources
def test_writer_and_folder_read_the_card(tiny_registry):
    log_model(tiny_registry, "churn", "binary", entity="customer", positive_label=1,
              owner="team-a", card=CARD)
    m = _deck(tiny_registry).model("churn")
    assert m.card.purpose == "Find **leavers**"
    assert m.card.limitations == ("Small sample", "One region")
    assert m.card.caveats == ("Scores drift",)  # one text is a list of one
    assert m.card.training_data.rows == 1200 and m.card.evaluation_data.period == "Q1 2026"


@pytest.mark.parametrize("card, field", [
    ({"training_data": {"rows": "many"}}, "card.training_data.rows"),
    ({"training_data": {"rows": -3}}, "card.training_data.rows"),
    ({"limitations": {"a": 1}}, "card.limitations"),
    ({"purpose": ["a", "b"]}, "card.purpose"),
    ("just text", "card"),
])
def test_a_malformed_card_is_a_warning_naming_file_and_field_on_that_model_only(
        tiny_registry, card, field):
    good = dict(CARD)
    if isinstance(card, dict):
        good.update(card)
        card = good
    _set_card(tiny_registry, "churn", card)
    deck = _deck(tiny_registry)
    problems = deck.problems("churn")
    assert [p for p in problems if p.field == field] == [Problem(
        "models/churn/model.json", field, problems[0].message, model="churn",
        severity="warning")]
    assert "ignored" in problems[0].message
    m = deck.model("churn")  # the model still reads, and the rest of its card too
    if field != "card":
        assert m.card is not None and m.card.intended_use == "Call lists"
    assert deck.problems("price") == [] and deck.problems("iris") == []
    assert [x.name for x in deck.models().items] == ["churn", "iris", "price"]


def test_writer_refuses_a_malformed_card(tmp_path):
    with pytest.raises(ValueError, match="card.training_data.rows"):
        log_model(tmp_path, "m", "binary", card={"training_data": {"rows": "lots"}})


def test_mlflow_card_tags_become_the_same_document():
    tags = {"modeldeck.card.purpose": "Find leavers",
            "modeldeck.card.limitations": "Small sample\n\nOne region\n",
            "modeldeck.card.training_data.rows": "1,200",
            "modeldeck.card.training_data.period": "2025",
            "modeldeck.owner": "x", "other": "y"}
    assert card_doc_from_tags(tags) == {"purpose": "Find leavers",
                                        "limitations": ["Small sample", "One region"],
                                        "training_data": {"rows": 1200, "period": "2025"}}
    assert card_doc_from_tags({"modeldeck.owner": "x"}) is None


def test_mlflow_registered_model_tags_fill_the_card(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    from registry.mlflow_source import MlflowSource

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("leavers", tags={
        "modeldeck.task": "binary", "modeldeck.card.purpose": "Find leavers",
        "modeldeck.card.caveats": "One\nTwo",
        "modeldeck.card.training_data.rows": "not a number"},
        description="Who leaves")
    client.create_registered_model("other", tags={"modeldeck.task": "regression"})
    exp = client.create_experiment("training")
    for rows in ("1200", "a lot"):
        run = client.create_run(exp, tags={"modeldeck.training_data.rows": rows,
                                           "modeldeck.training_data.period": "2025"})
        client.set_terminated(run.info.run_id)
        client.create_model_version("leavers", f"runs:/{run.info.run_id}/model",
                                    run_id=run.info.run_id)
    deck = CachedSource(MlflowSource(uri))
    v2, v1 = deck.versions("leavers").items
    assert v1.training_data == DataInfo("", 1200, "2025")  # from the version's run tags
    assert v2.training_data is None  # a bad tag costs the training data, not the version
    [bad] = deck.versions("leavers").problems
    assert bad.field == "run tag modeldeck.training_data.rows" and bad.severity == "warning"
    m = deck.model("leavers")
    assert m.card.purpose == "Find leavers" and m.card.caveats == ("One", "Two")
    assert m.card.training_data is None  # the bad tag is left out …
    [p] = deck.models().problems  # … with a warning naming the tag
    assert p.field == "tag modeldeck.card.training_data.rows" and p.severity == "warning"
    assert deck.problems("other") == []


# ------------------------------------------------------------------ content
def test_sample_churn_card_is_complete_and_its_numbers_are_scikit_learns():
    deck = _deck(SAMPLE_REGISTRY)
    card = build_card(deck, "customer-churn")
    assert card.undocumented == ()
    assert card.champion == 3
    frame = deck.evaluation("customer-churn", 3).frame
    auc = roc_auc_score(frame["y_true"].astype(int), frame["y_score"])
    m = next(x for x in card.metrics if x.key == "roc_auc")
    assert m.value == f"{auc:.3f}" and m.interval.startswith("95% CI")
    assert "times in 100" in m.meaning
    assert dict((f.label, f.text) for f in card.evaluation)["Evaluation data: rows"] == "5,000"
    assert dict((f.label, f.text) for f in card.training)["Training data: rows"] == "15,000"
    # the weakest group of each segment is named, and it is the worst by scikit-learn
    worst = min(frame.groupby("segment.contract"), key=lambda kv: roc_auc_score(
        kv[1]["y_true"].astype(int), kv[1]["y_score"]))[0]
    assert any(s.startswith(f"Weakest contract: {worst},") for s in card.segments)
    assert list(card.versions["version"]) == ["v4", "v3", "v2", "v1"]
    assert any(f.label == "What it is worth" for f in card.business)


def test_missing_fields_say_not_documented_yet(tiny_registry):
    card = build_card(_deck(tiny_registry), "iris")
    labels = card.undocumented
    assert {"Intended use", "Training data: source", "Limitations", "Caveats",
            "Business settings"} <= set(labels)
    f = next(x for x in card.about if x.label == "Intended use")
    assert f.text == NOT_DOCUMENTED and "card.intended_use" in f.how
    assert next(x for x in card.about if x.label == "Purpose").text == "Flowers"


# ------------------------------------------------------------------ safe Markdown
class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.hrefs, self.events = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.hrefs += [v for k, v in attrs if k in ("href", "src")]
        self.events += [k for k, _ in attrs if k.startswith("on")]


def test_unsafe_links_stay_text_and_safe_ones_stay_links():
    from analysis.card import unlink_unsafe
    assert unlink_unsafe("[a](https://x.org) <mailto:a@b.c> [r](/rel)") == \
        "[a](https://x.org) <mailto:a@b.c> [r](/rel)"
    assert unlink_unsafe("[a](javascript:x)") == "[a\\](javascript:x)"
    assert unlink_unsafe("<JavaScript:x>") == "\\<JavaScript:x>"
    assert unlink_unsafe("[r]: data:x") == "\\[r]: data:x"


def test_registry_markdown_never_becomes_html_or_script():
    out = markdown_html(EVIL + "\n\n**bold**")
    p = _Tags()
    p.feed(out)
    assert "script" not in p.tags and "img" not in p.tags and p.events == []
    assert all(h.startswith("https://") for h in p.hrefs) and "https://example.org" in p.hrefs
    assert "&lt;script&gt;" in out and "<strong>bold</strong>" in out


# ------------------------------------------------------------------ exports
@pytest.fixture(scope="module")
def evil_registry(tmp_path_factory):
    from conftest import build_tiny_registry
    root = build_tiny_registry(tmp_path_factory.mktemp("card") / "reg")
    log_model(root, "churn", "binary", description=EVIL, owner="team-a", entity="customer",
              positive_label=1, card={**CARD, "limitations": [EVIL]})
    return root


def test_card_html_is_a_valid_document_without_registry_markup(evil_registry):
    deck = _deck(evil_registry)
    card = build_card(deck, "churn")
    doc = card_html(card, deck.model("churn")).decode()
    assert doc.startswith("<!DOCTYPE html>") and doc.rstrip().endswith("</html>")
    p = _Tags()
    p.feed(doc)
    # plotly.js and the segment chart's own call, both ModelDeck's; none from the registry
    assert p.tags.count("script") == 2 and '<script>alert' not in doc
    assert "img" in p.tags and p.tags.count("img") == 1  # the logo only
    assert not any(str(h).lower().startswith("javascript") for h in p.hrefs)
    assert p.events == []
    assert "<h1>churn: model card</h1>" in doc
    assert "<dt>Not intended for</dt><dd><em class=\"md-undocumented\">Not documented yet" in doc
    assert "<strong>leavers</strong>" in doc  # registry Markdown rendered


def test_card_markdown_keeps_registry_markdown_and_makes_html_inert(evil_registry):
    deck = _deck(evil_registry)
    text = card_markdown(build_card(deck, "churn")).decode()
    assert text.startswith("# churn: model card\n")
    for h in ("## What it is for", "## Data", "## How good it is", "## Where it is weaker",
              "## Known limitations", "## Caveats", "## Business settings",
              "## Version history"):
        assert h in text
    assert "<script" not in text and "<img" not in text and "&lt;script&gt;" in text
    assert "Find **leavers**" in text
    assert sum(line.startswith("| v") for line in text.splitlines()) == 3  # a row a version


def test_card_exports_through_the_report_route(evil_registry):
    from app import Settings, create_app

    client = create_app(Settings(registry=str(evil_registry))).server.test_client()
    r = client.get("/export/report/card/md?model=churn")
    assert r.status_code == 200 and r.mimetype == "text/markdown"
    assert r.headers["Content-Disposition"] == "attachment; filename=churn-model-card.md"
    r = client.get("/export/report/card/html?model=churn")
    assert r.status_code == 200 and r.data.startswith(b"<!DOCTYPE html>")
    r = client.get("/export/report/card/pdf?model=churn")
    assert r.status_code == 200 and r.data.startswith(b"%PDF") and b"%%EOF" in r.data[-1024:]
    for url, text in (("/export/report/card/pptx?model=churn", "choose one of html, pdf, md"),
                      ("/export/report/model/md?model=churn", "choose one of pptx, html, pdf"),
                      ("/export/report/card/md?model=nope", "no model called")):
        r = client.get(url)
        assert r.status_code in (400, 404) and text in r.get_data(as_text=True)
