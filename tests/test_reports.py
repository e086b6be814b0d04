"""Reports: the PowerPoint deck opened with python-pptx (slides, titles, a picture and a
takeaway on every chart slide, numbers that match the analysis), the self-contained HTML
report, the PDF, branding, and the report content for each kind."""
from __future__ import annotations

import html
import io
import json
import re

import pytest
from plotly.offline import get_plotlyjs
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from sklearn import metrics as skm

from analysis.compare import version_comparison
from analysis.evaluation import binary_rows, threshold_result, version_evaluation
from analysis.evidence import model_advice, portfolio_advice
from analysis.language import (
    GLOSSARY, format_value, interval_text, metric_sentence, threshold_sentence,
)
from analysis.versions import metric_across_versions
from conftest import build_tiny_registry
from registry import open_source
from registry.cached import CachedSource
from registry.writer import log_model
from reports.branding import Branding, default_logo
from reports.compare_report import compare_report
from reports.model_report import model_report
from reports.portfolio_report import portfolio_report
from reports.html_report import build_html, html_to_pdf
from reports.pptx_deck import build_pptx


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = build_tiny_registry(tmp_path_factory.mktemp("reports") / "reg")
    # Registry text is never markup: a description that tries to be.
    log_model(root, "iris", "multiclass", entity="flower",
              description='Flowers <script>alert("x")</script> & <b>bold</b>')
    return root


@pytest.fixture(scope="module")
def deck(registry):
    return CachedSource(open_source(str(registry)))


@pytest.fixture(scope="module")
def churn(deck):
    report = model_report(deck, "churn")
    return report, Presentation(io.BytesIO(build_pptx(report)))


def _slide(prs, title):
    slides = [s for s in prs.slides if s.shapes.title.text == title]
    assert len(slides) == 1, [s.shapes.title.text for s in prs.slides]
    return slides[0]


def _named(slide, name):
    return [sh for sh in slide.shapes if sh.name == name]


# ------------------------------------------------------------------ the deck
def test_deck_has_title_summary_one_slide_per_chart_and_appendix(churn):
    report, prs = churn
    titles = [s.shapes.title.text for s in prs.slides]
    sections = [s.title for s in report.sections]
    assert titles == (["churn: model report", "Executive summary"] + sections +
                      ["Appendix: metric glossary", "Appendix: data provenance"])
    assert sections == ["How well it ranks", "What happens at threshold 0.50",
                        "Who to contact first", "Where it is weaker", "Every version",
                        "In production"]  # no inputs logged in production: no drift
    assert prs.slide_width / prs.slide_height == pytest.approx(16 / 9, rel=1e-3)


def test_every_chart_slide_has_a_picture_a_takeaway_and_its_numbers(churn):
    report, prs = churn
    for section in report.sections:
        slide = _slide(prs, section.title)
        pictures = [sh for sh in _named(slide, "Chart")
                    if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1
        assert pictures[0].image.content_type == "image/png"
        assert pictures[0].image.blob.startswith(b"\x89PNG")
        alt = pictures[0]._element.nvPicPr.cNvPr.get("descr")
        assert section.takeaway in alt
        (takeaway,) = _named(slide, "Takeaway")
        assert takeaway.text_frame.text == section.takeaway != ""
        (numbers,) = _named(slide, "Numbers")
        assert numbers.text_frame.text.splitlines() == \
            ["The numbers"] + [f"• {n}" for n in section.numbers]
        assert slide.notes_slide.notes_text_frame.text == section.caption


def test_takeaways_and_numbers_match_the_analysis(deck, churn):
    """The numbers on the slides are those of the model page: the same cached analysis,
    formatted by the same functions; and the ROC AUC is scikit-learn's on the same rows."""
    _, prs = churn
    model = deck.model("churn")
    ev = version_evaluation(deck, "churn", 2)
    auc = ev.metrics["roc_auc"]
    y, s = binary_rows(model, deck.evaluation("churn", 2).frame)
    assert auc.value == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    slide = _slide(prs, "How well it ranks")
    assert _named(slide, "Takeaway")[0].text_frame.text == \
        metric_sentence("roc_auc", auc.value, model)
    assert (f"ROC AUC: {format_value('roc_auc', auc.value)} "
            f"({interval_text('roc_auc', auc.low, auc.high)})") in \
        _named(slide, "Numbers")[0].text_frame.text

    tr = threshold_result(deck, "churn", 2, 0.5)
    slide = _slide(prs, "What happens at threshold 0.50")
    assert _named(slide, "Takeaway")[0].text_frame.text == \
        threshold_sentence(model, tr.tp, tr.fp, tr.fn)
    flagged = re.search(r"Of ([\d,]+) customers flagged, ([\d,]+) really",
                        _named(slide, "Takeaway")[0].text_frame.text)
    assert int(flagged[1].replace(",", "")) == int(((s >= 0.5)).sum())
    assert int(flagged[2].replace(",", "")) == int(((s >= 0.5) & (y == 1)).sum())

    trend = metric_across_versions(deck, "churn")
    text = _named(_slide(prs, "Every version"), "Numbers")[0].text_frame.text
    for r in trend.itertuples():
        assert f"{r.label}" in text and format_value("roc_auc", r.value) in text


def test_summary_names_health_and_every_recommendation(deck, churn):
    _, prs = churn
    text = _named(_slide(prs, "Executive summary"), "Body")[0].text_frame.text
    assert "Health:" in text
    for r in model_advice(deck, "churn").recommendations:
        assert r.headline in text


def test_appendix_has_the_glossary_and_provenance(deck, registry, churn):
    report, prs = churn
    glossary = _named(_slide(prs, "Appendix: metric glossary"), "Body")[0].text_frame.text
    roc_term, _, roc_meaning = GLOSSARY["roc_auc"].partition(": ")
    assert f"• {roc_term}: {roc_meaning}" in glossary.splitlines()
    table = _named(_slide(prs, "Appendix: data provenance"), "Provenance")[0].table
    rows = {table.cell(i, 0).text: table.cell(i, 1).text for i in range(1, len(table.rows))}
    assert rows["Registry"] == registry.name  # its name, not the server's path
    assert rows["churn: versions"] == "v1 (Archived), v2 (champion), v3 (challenger)"
    assert rows["churn: evaluation rows"] == "v1: 400 rows, v2: 400 rows, v3: 400 rows"
    assert "Generated at" in rows and rows["Evaluation rows of v2"] == "400 labelled rows"


def test_compare_and_portfolio_decks(deck):
    comp = compare_report(deck, "churn", 2, 3)
    prs = Presentation(io.BytesIO(build_pptx(comp)))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles[0] == "churn: v3 against v2"
    assert "Ranking: the two ROC curves" in titles and "Differences per segment" in titles
    assert comp.summary[0] == version_comparison(deck, "churn", 2, 3).verdict

    port = portfolio_report(deck)
    prs = Presentation(io.BytesIO(build_pptx(port)))
    titles = [s.shapes.title.text for s in prs.slides]
    recs = [r for a in portfolio_advice(deck) for r in a.recommendations]
    assert len(port.sections) >= 1
    assert titles[1].startswith("Executive summary")
    summary = " ".join(_named(s, "Body")[0].text_frame.text for s in prs.slides
                       if s.shapes.title.text.startswith("Executive summary"))
    for r in recs:
        assert r.headline in summary
    for section in port.sections:
        slide = _slide(prs, section.title)
        assert len(_named(slide, "Chart")) == 1 and _named(slide, "Takeaway")


def test_model_without_charts_still_gives_a_deck(deck):
    report = model_report(deck, "iris", 2)
    prs = Presentation(io.BytesIO(build_pptx(report)))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles[0] == "iris: model report" and "Where it goes wrong" in titles


# ------------------------------------------------------------------ the HTML report
def test_html_report_is_self_contained_and_escapes_registry_text(deck):
    report = model_report(deck, "iris")
    document = build_html(report).decode()
    assert get_plotlyjs() in document  # inlined
    markup = document.replace(get_plotlyjs(), "")
    assert "<script src" not in markup and "<link" not in markup
    assert not re.findall(r'(?:src|href)="(?!data:)', markup)  # nothing is fetched
    assert document.count("Plotly.newPlot(") == len(report.sections)
    assert document.count("plotly.js v") <= 2  # one inlined bundle (its banner)
    assert '<script>alert("x")' not in document and "<b>bold</b>" not in document
    assert "Flowers &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" \
           in document
    for s in report.sections:
        assert f">{s.title}</h2>" in document
    assert 'lang="en"' in document


def test_html_report_charts_carry_the_same_numbers(deck, churn):
    report, _ = churn
    document = build_html(report).decode()
    blobs = re.findall(r'Plotly\.newPlot\(\s*"md-chart-\d+",\s*(\[.*?\]),\s*\{', document,
                       flags=re.S)
    assert len(blobs) == len(report.sections)
    roc_traces = json.loads(blobs[0])
    ev = version_evaluation(deck, "churn", 2)
    assert roc_traces[1]["name"] == f"v2 (AUC {ev.binary.roc.area:.3f})"
    for s in report.sections:
        assert f'<p class="md-takeaway">{html.escape(s.takeaway)}</p>' in document


def test_pdf_report(deck):
    pdf = html_to_pdf(build_html(model_report(deck, "price")))
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000


# ------------------------------------------------------------------ branding
def test_branding_from_configuration_with_checked_values(tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(default_logo("#009E73", 64))
    conf = tmp_path / "branding.json"
    conf.write_text(json.dumps({"title": "Acme Insights", "logo": str(logo),
                                "primary": "#123456", "accent": "orange"}))
    b = Branding.from_env({"MODELDECK_BRANDING": str(conf),
                           "MODELDECK_BRAND_ORGANISATION": "Acme Ltd"})
    assert (b.title, b.organisation, b.primary) == ("Acme Insights", "Acme Ltd", "#123456")
    assert b.accent == Branding().accent  # 'orange' is not #rrggbb: default kept
    assert b.logo_png == logo.read_bytes()
    assert b.logo_data_uri.startswith("data:image/png;base64,")
    (tmp_path / "bad.png").write_bytes(b"GIF89a....")
    assert Branding(logo=str(tmp_path / "bad.png")).logo_png.startswith(b"\x89PNG")  # default
    assert Branding.from_env({}) == Branding()


def test_branding_reaches_deck_and_html(deck):
    b = Branding(title="Acme Insights", primary="#123456")
    report = model_report(deck, "price")
    document = build_html(report, b).decode()
    assert "--md-primary: #123456" in document and "Acme Insights" in document
    prs = Presentation(io.BytesIO(build_pptx(report, b)))
    title = prs.slides[0].shapes.title.text_frame.paragraphs[0]
    assert str(title.font.color.rgb) == "123456"
    assert prs.core_properties.author == "Acme Insights"
    footer = _named(prs.slides[1], "Footer")[0].text_frame.text
    assert footer.startswith("Acme Insights · price: model report")
