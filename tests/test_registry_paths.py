"""No page, deck or HTML report shows the server's path of the registry: viewers see its name
(``registry.naming.display_name``), also in the messages about broken files."""
from __future__ import annotations

import io

import dash
import pytest
from pptx import Presentation

from app import Settings, create_app
from conftest import build_tiny_registry
from reports.branding import default_logo
from reports.requests import build_report, parse_request
from reports.html_report import build_html
from reports.pptx_deck import build_pptx

PNG = default_logo(size=16)

PAGES = [
    ("pages.portfolio", {}),
    ("pages.model", {"name": "churn"}),
    ("pages.model", {"name": "iris"}),
    ("pages.model", {"name": "iris", "version": "1"}),  # its table is broken
    ("pages.model", {"name": "price"}),  # its model.json is broken
    ("pages.compare", {"model": "churn"}),
    ("pages.compare", {"model": "iris", "a": "2", "b": "3"}),
    ("pages.monitoring", {"name": "churn"}),
    ("pages.recommendations", {}),
    ("pages.experiments", {}),
    ("pages.experiments_compare", {"experiment": "sweep"}),
]
REPORTS = [("portfolio", None, None), ("model", "churn", None), ("model", "iris", 3),
           ("compare", "iris", None)]


def _deck_text(data: bytes) -> str:
    prs = Presentation(io.BytesIO(data))
    out = []
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                out.append(shape.text_frame.text)
            if shape.has_table:
                out += [c.text for row in shape.table.rows for c in row.cells]
        out.append(slide.notes_slide.notes_text_frame.text if slide.has_notes_slide else "")
    out.append(prs.core_properties.subject or "")
    return "\n".join(out)


@pytest.fixture(scope="module")
def broken_copy(tmp_path_factory):
    """A registry at a path of this machine, with a broken table and a broken model file, so
    that messages about files are shown too."""
    root = build_tiny_registry(tmp_path_factory.mktemp("srv-paths") / "team-registry")
    table = next((root / "models" / "iris" / "versions" / "1").rglob("*.parquet"))
    table.write_bytes(b"PAR1 this is not a table")
    (root / "models" / "price" / "model.json").write_text("{not json")
    return root


def test_no_page_or_report_shows_the_registry_path(broken_copy):
    app = create_app(Settings(registry=str(broken_copy)))
    secret = str(broken_copy.parent)  # the folder the registry lives in, on the server
    texts = {}
    with app.server.test_request_context("/"):
        for module, args in PAGES:
            texts[f"{module} {args}"] = str(dash.page_registry[module]["layout"](**args))
        from conftest import monitoring_page  # its body comes from two callbacks
        texts["monitoring body"] = "".join(monitoring_page(
            dash.page_registry["pages.monitoring"]["layout"], name="churn"))
        from pages.portfolio import card_advice
        texts["portfolio advice"] = str([card_advice(n) for n in
                                         ("churn", "iris", "price")])
    assert "team-registry" in texts["pages.portfolio {}"]
    assert "models/iris/versions/1" in texts["pages.model {'name': 'iris', 'version': '1'}"]
    assert "models/price/model.json" in texts["pages.portfolio {}"]
    # Reports: the deck's text (the charts' pictures are left out: they are the figures the
    # HTML report carries as data) and the HTML report.
    deck = app.server.extensions["modeldeck"]
    for kind, model, version in REPORTS:
        query = {"model": model, "version": version, "a": 2 if kind == "compare" else None,
                 "b": 3 if kind == "compare" else None}
        report = build_report(deck, parse_request(deck, kind, "pptx",
                                                  {k: v for k, v in query.items() if v}))
        texts[f"{kind} {model} pptx"] = _deck_text(build_pptx(report, images=[PNG] * len(
            report.sections)))
        texts[f"{kind} {model} html"] = build_html(report).decode()
    broken = app.server.test_client().get("/export/report/model/html?model=iris&version=1")
    texts["report of a version with a broken table"] = broken.get_data(as_text=True)
    leaks = {where: text[max(0, text.find(secret) - 80):text.find(secret) + 80]
             for where, text in texts.items() if secret in text}
    assert leaks == {}
    portfolio_deck = texts["portfolio None pptx"]
    assert "team-registry" in portfolio_deck  # named in the provenance appendix
