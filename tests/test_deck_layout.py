"""Layout of exported decks: every text box's text fits it (a long description is cut at a
word with an ellipsis, not mid-word by LibreOffice), and the provenance table is split over
slides by its rows' measured heights.

Text is re-measured here independently of ``reports.text_fit``: with DejaVu Sans (the font
LibreOffice falls back to for the deck's Calibri, and wider than Calibri) read by Pillow,
wrapped word by word.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import ImageFont
from pptx import Presentation
from pptx.util import Emu

from conftest import build_tiny_registry
from registry import open_source
from registry.cached import CachedSource
from registry.writer import log_model, log_model_version
from reports.branding import default_logo
from reports.model_report import model_report
from reports.pptx_deck import build_pptx

FONTS = [Path("/usr/share/fonts/truetype/dejavu"), Path(__import__("matplotlib").get_data_path())
         / "fonts" / "ttf"]
LONG = ("Scores each customer's risk of cancelling within the next 90 days so the retention "
        "team can call the riskiest first, retrained every month on the newest twelve months "
        "of contracts, usage and support tickets, with a competitor launch in the south region "
        "from September 2026 that changed who leaves and why, and a pricing change in January "
        "that moved many customers from monthly to yearly contracts. ") * 3


def _font(bold: bool, size: float):
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = next(d / name for d in FONTS if (d / name).is_file())
    return ImageFont.truetype(str(path), 400), size / 400


def _lines(text: str, width_pt: float, size: float, bold: bool) -> int:
    font, scale = _font(bold, size)
    n, line = 1, ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if font.getlength(trial) * scale > width_pt and line:
            n, line = n + 1, word
        else:
            line = trial
    return n


def _needed_height(tf, default_size: float) -> float:
    """Points the paragraphs of a text frame need inside its insets."""
    width = Emu(tf._parent.width - tf.margin_left - tf.margin_right).pt
    total = 0.0
    paras = tf.paragraphs
    for i, p in enumerate(paras):
        size = p.font.size.pt if p.font.size else default_size
        total += _lines(p.text, width, size, bool(p.font.bold)) * size * 1.2
        if i < len(paras) - 1 and p.space_after is not None:
            total += p.space_after.pt
    return total


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    root = build_tiny_registry(tmp_path_factory.mktemp("deck-layout") / "reg")
    log_model(root, "churn", "binary", description=LONG, entity="customer", positive_label=1,
              owner="team-a")
    rng = __import__("numpy").random.default_rng(3)
    y = rng.integers(0, 2, 200)
    for _ in range(40):  # a long provenance row: many versions
        log_model_version(root, "churn", y_true=y, y_score=rng.uniform(size=200))
    source = CachedSource(open_source(str(root)))
    report = model_report(source, "churn", 2)
    # the charts' pictures do not change the text layout: a small stand-in each
    pictures = [default_logo(size=32)] * len(report.sections)
    return report, Presentation(io.BytesIO(build_pptx(report, images=pictures)))


def test_title_slide_description_is_cut_at_a_word_with_an_ellipsis(deck):
    report, prs = deck
    sub = prs.slides[0].placeholders[1]
    first, by = [p.text for p in sub.text_frame.paragraphs]
    assert first.endswith("…") and len(first) < len(report.subtitle)
    kept = first[:-1]
    assert report.subtitle.startswith(kept)
    assert report.subtitle[len(kept)] in " ,." and not kept.endswith((" ", ","))  # a whole word
    assert by.startswith("ModelDeck · ") and by.endswith("UTC")  # shown whole
    assert sub.text_frame.auto_size == 0  # MSO_AUTO_SIZE.NONE: no program re-fits it
    assert _needed_height(sub.text_frame, 16) <= Emu(sub.height - sub.text_frame.margin_top -
                                                     sub.text_frame.margin_bottom).pt


def test_every_text_box_of_the_deck_fits(deck):
    _, prs = deck
    checked = 0
    for slide in prs.slides:
        for shape in slide.shapes:
            if not shape.has_text_frame or not shape.text_frame.text:
                continue
            tf = shape.text_frame
            room = Emu(shape.height - tf.margin_top - tf.margin_bottom).pt
            assert _needed_height(tf, 18) <= room + 0.5, (slide.shapes.title.text, shape.name,
                                                          tf.text[:80])
            for para in tf.paragraphs:  # a cut is at the end of a paragraph, never inside
                assert "…" not in para.text[:-1], para.text
            checked += 1
    assert checked > 20


def test_provenance_table_is_split_by_measured_row_heights(deck):
    report, prs = deck
    slides = [s for s in prs.slides
              if s.shapes.title.text.startswith("Appendix: data provenance")]
    shown = []
    for s in slides:
        (table,) = [sh for sh in s.shapes if sh.name == "Provenance"]
        rows = table.table.rows
        bottom = Emu(table.top).pt + sum(Emu(r.height).pt for r in rows)
        assert bottom <= Emu(prs.slide_height).pt - 0.55 * 72 + 0.5  # above the footer
        for r in list(rows)[1:]:
            key, value = (c.text for c in r.cells)
            width = Emu(table.table.columns[1].width - r.cells[1].margin_left -
                        r.cells[1].margin_right).pt
            lines = _lines(value, width, 12, False)
            assert lines * 12 * 1.2 <= Emu(r.height).pt
            shown.append((key, value))
    assert [k for k, _ in shown] == [k for k, _ in report.provenance]
    versions = dict(report.provenance)["churn: versions"]
    assert dict(shown)["churn: versions"] == versions  # long, but it fits: shown whole
