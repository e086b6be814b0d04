"""A report as a PowerPoint deck (python-pptx), 16:9.

Slides: a title slide; the executive summary in plain words; one slide per key chart (the
chart as a PNG with the export footer, its one-line takeaway above it, its numbers beside it,
the chart's caption in the speaker notes); an appendix with the metric glossary and the data's
provenance. Every slide's title is a real title placeholder, so PowerPoint's outline, screen
readers and ``slide.shapes.title`` see it; every picture has alternative text.
"""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.util import Emu, Inches, Pt

from .branding import Branding
from .report import Report
from .images import chart_image
from .text_fit import LINE_HEIGHT, fit, shorten, wrap

WIDTH, HEIGHT = Inches(13.333), Inches(7.5)
MARGIN = Inches(0.5)
TITLE_ONLY = 5  # layout index in python-pptx's default template
TITLE_SLIDE = 0
SUMMARY_LINES_PER_SLIDE = 7
GLOSSARY_LINES_PER_SLIDE = 8
INSET_X, INSET_Y = Inches(0.1), Inches(0.05)  # a text box's inner margins (set explicitly)
TABLE_TOP = Inches(1.4)
KEY_COLUMN = Inches(3.6)
TABLE_SIZE = 12  # pt
BODY_BOTTOM = HEIGHT - Inches(0.55)  # everything above the footer


def _rgb(hex_colour: str) -> RGBColor:
    return RGBColor.from_string(hex_colour.lstrip("#").upper())


def chart_pngs(report: Report) -> list[bytes]:
    """Every section's chart as a presentation-size PNG with the report's footer. Renders go
    to the one Chromium in turn; building the figures' JSON overlaps with rendering."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda s: chart_image(s.figure, "png", report.meta),
                             report.sections))


def build_pptx(report: Report, branding: Branding = Branding(),
               images: list[bytes] | None = None) -> bytes:
    images = images if images is not None else chart_pngs(report)
    prs = Presentation()
    prs.slide_width, prs.slide_height = WIDTH, HEIGHT
    deck = _Deck(prs, branding, report)
    deck.title_slide()
    for i, part in enumerate(_chunks(list(report.summary), SUMMARY_LINES_PER_SLIDE)):
        deck.bullets_slide(_numbered("Executive summary", i, len(report.summary),
                                     SUMMARY_LINES_PER_SLIDE), part, size=18)
    for section, png in zip(report.sections, images):
        deck.chart_slide(section, png)
    glossary = [f"{term}: {meaning}" for term, meaning in report.glossary]
    for i, part in enumerate(_chunks(glossary, GLOSSARY_LINES_PER_SLIDE)):
        deck.bullets_slide(_numbered("Appendix: metric glossary", i, len(glossary),
                                     GLOSSARY_LINES_PER_SLIDE), part, size=14)
    pages = _table_pages(list(report.provenance))
    for i, part in enumerate(pages):
        deck.table_slide("Appendix: data provenance" if len(pages) == 1 else
                         f"Appendix: data provenance ({i + 1}/{len(pages)})", part)
    prs.core_properties.title = report.title
    prs.core_properties.author = branding.title
    prs.core_properties.subject = report.subtitle[:250]
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


def _chunks(items: list, n: int) -> list[list]:
    return [items[i:i + n] for i in range(0, len(items), n)] or [[]]


def _pt(emu) -> float:
    return Emu(int(emu)).pt


def _row_height(key: str, value: str) -> float:
    """Points a provenance row needs at TABLE_SIZE: its taller cell's lines and insets."""
    value_w = _pt(WIDTH - 2 * MARGIN - KEY_COLUMN - 2 * INSET_X)
    key_w = _pt(KEY_COLUMN - 2 * INSET_X)
    lines = max(len(wrap(key, key_w, TABLE_SIZE)), len(wrap(value, value_w, TABLE_SIZE)))
    return lines * TABLE_SIZE * LINE_HEIGHT + 2 * _pt(INSET_Y)


def _table_pages(rows: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Provenance rows split over as many slides as their measured heights need; a value too
    long for half a slide is cut at a word with an ellipsis."""
    room = _pt(BODY_BOTTOM - TABLE_TOP) - _row_height("What", "Value")
    value_w = _pt(WIDTH - 2 * MARGIN - KEY_COLUMN - 2 * INSET_X)
    most = int((room / 2 - 2 * _pt(INSET_Y)) // (TABLE_SIZE * LINE_HEIGHT))
    pages, page, used = [], [], 0.0
    for key, value in rows:
        value = shorten(value, value_w, TABLE_SIZE, most)
        h = _row_height(key, value)
        if page and used + h > room:
            pages.append(page)
            page, used = [], 0.0
        page.append((key, value))
        used += h
    return pages + [page] if page or not pages else pages


def _numbered(title: str, i: int, total: int, per: int) -> str:
    pages = max(1, -(-total // per))
    return title if pages == 1 else f"{title} ({i + 1}/{pages})"


class _Deck:
    def __init__(self, prs, branding: Branding, report: Report):
        self.prs, self.b, self.report = prs, branding, report
        self.n = 0

    # -------------------------------------------------------------- common parts
    def _slide(self, title: str, layout: int = TITLE_ONLY):
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[layout])
        self.n += 1
        t = slide.shapes.title
        if layout == TITLE_ONLY:
            t.left, t.top, t.width, t.height = MARGIN, Inches(0.3), WIDTH - 2 * MARGIN - \
                Inches(0.9), Inches(0.9)
            fitted = _fill(t, [title], 28, 20, bold=True)
            para = t.text_frame.paragraphs[0]
            para.alignment = PP_ALIGN.LEFT
            para.font.size = Pt(fitted.size)
            para.font.bold = True
            para.font.color.rgb = _rgb(self.b.primary)
            t.text_frame.vertical_anchor = MSO_ANCHOR.MIDDLE
            self._logo(slide, Inches(0.6), WIDTH - MARGIN - Inches(0.6), Inches(0.45))
            self._footer(slide)
        else:
            t.text = title
        return slide

    def _logo(self, slide, size, left, top):
        slide.shapes.add_picture(io.BytesIO(self.b.logo_png), left, top, size, size)
        slide.shapes[-1].name = "Logo"
        _alt_text(slide.shapes[-1], f"{self.b.title} logo")

    def _footer(self, slide):
        text = f"{self.b.title} · {self.report.title} · generated {self.report.generated_text}"
        box = slide.shapes.add_textbox(MARGIN, HEIGHT - Inches(0.45), WIDTH - 2 * MARGIN,
                                       Inches(0.3))
        box.name = "Footer"
        _frame(box.text_frame)
        p = box.text_frame.paragraphs[0]
        p.text = shorten(f"{text} · {self.n}", _pt(box.width - 2 * INSET_X), 10, 1)
        p.font.size = Pt(10)
        p.font.color.rgb = _rgb("#6C757D")

    def _text(self, slide, left, top, width, height, lines, size=16, bold_first=False,
              colour=None, name="Text", min_size=None):
        """A text box whose text fits it: shrunk down to ``min_size`` if need be, then cut
        at a word with an ellipsis (``text_fit.fit``)."""
        box = slide.shapes.add_textbox(left, top, width, height)
        box.name = name
        tf = box.text_frame
        bold = tuple(bold_first and i == 0 for i in range(len(lines)))
        fitted = fit(list(lines), _pt(width - 2 * INSET_X), _pt(height - 2 * INSET_Y), size,
                     min_size if min_size is not None else size, 6, bold)
        _frame(tf)
        for i, line in enumerate(fitted.paragraphs):
            p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
            p.text = line
            p.font.size = Pt(fitted.size)
            p.font.color.rgb = _rgb(colour or self.b.text)
            p.space_after = Pt(6)
            if bold[i]:
                p.font.bold = True
        return box

    # -------------------------------------------------------------- slide kinds
    def title_slide(self):
        slide = self._slide(self.report.title, TITLE_SLIDE)
        t = slide.shapes.title
        t.left, t.top, t.width, t.height = Inches(1.0), Inches(2.3), WIDTH - Inches(2.0), \
            Inches(1.4)
        fitted = _fill(t, [self.report.title], 40, 28, bold=True)
        p = t.text_frame.paragraphs[0]
        p.font.size, p.font.bold = Pt(fitted.size), True
        p.font.color.rgb = _rgb(self.b.primary)
        sub = slide.placeholders[1]
        sub.left, sub.top, sub.width, sub.height = Inches(1.0), Inches(3.8), WIDTH - \
            Inches(2.0), Inches(1.8)
        # The description gets the box less one line for who made the deck and when, which
        # is always shown whole.
        by = " · ".join(x for x in (self.b.organisation, self.b.title,
                                    self.report.generated_text) if x)
        _frame(sub.text_frame)
        width = _pt(sub.width - 2 * INSET_X)
        by = shorten(by, width, 14, 1)
        desc = fit([self.report.subtitle], width,
                   _pt(sub.height - 2 * INSET_Y) - 14 * LINE_HEIGHT - 6, 16, 12)
        sub.text_frame.text = desc.paragraphs[0] if desc.paragraphs else ""
        p2 = sub.text_frame.add_paragraph()
        p2.text = by
        for p, size in zip(sub.text_frame.paragraphs, (desc.size, 14)):
            p.font.size = Pt(size)
            p.space_after = Pt(6)
            p.alignment = PP_ALIGN.LEFT
            p.font.color.rgb = _rgb(self.b.text)
        bar = slide.shapes.add_shape(1, 0, 0, WIDTH, Inches(0.35))  # 1 = rectangle
        bar.name = "Brand bar"
        bar.fill.solid()
        bar.fill.fore_color.rgb = _rgb(self.b.primary)
        bar.line.fill.background()
        self._logo(slide, Inches(1.1), Inches(1.0), Inches(0.9))

    def bullets_slide(self, title: str, lines: list[str], size: int = 16):
        slide = self._slide(title)
        self._text(slide, MARGIN, Inches(1.4), WIDTH - 2 * MARGIN, BODY_BOTTOM - Inches(1.4),
                   [f"• {x}" for x in lines], size=size, name="Body", min_size=min(size, 12))
        return slide

    def chart_slide(self, section, png: bytes):
        slide = self._slide(section.title)
        self._text(slide, MARGIN, Inches(1.2), WIDTH - 2 * MARGIN, Inches(0.7),
                   [section.takeaway], size=18, colour=self.b.text, bold_first=True,
                   name="Takeaway", min_size=13)
        # The picture keeps its aspect ratio inside the left 8.9 in × 5.1 in.
        box_w, box_h = Inches(8.9), Inches(5.1)
        pic = slide.shapes.add_picture(io.BytesIO(png), MARGIN, Inches(1.9))
        scale = min(box_w / pic.width, box_h / pic.height)
        pic.width, pic.height = Emu(int(pic.width * scale)), Emu(int(pic.height * scale))
        pic.name = "Chart"
        _alt_text(pic, f"{section.figure.layout.title.text or section.title}. "
                       f"{section.takeaway}")
        left = MARGIN + box_w + Inches(0.2)
        self._text(slide, left, Inches(1.9), WIDTH - left - MARGIN, box_h,
                   ["The numbers"] + [f"• {n}" for n in section.numbers], size=12,
                   bold_first=True, name="Numbers", min_size=10)
        if section.caption:
            slide.notes_slide.notes_text_frame.text = section.caption
        return slide

    def table_slide(self, title: str, rows: list[tuple[str, str]]):
        slide = self._slide(title)
        n = max(len(rows), 1)
        shape = slide.shapes.add_table(n + 1, 2, MARGIN, TABLE_TOP, WIDTH - 2 * MARGIN,
                                       Inches(0.4) * (n + 1))
        shape.name = "Provenance"
        table = shape.table
        table.columns[0].width = KEY_COLUMN
        table.columns[1].width = WIDTH - 2 * MARGIN - KEY_COLUMN
        for i, (k, v) in enumerate([("What", "Value")] + list(rows)):
            table.rows[i].height = Pt(_row_height(k, v))
            for j, text in enumerate((k, v)):
                cell = table.cell(i, j)
                cell.margin_left = cell.margin_right = INSET_X
                cell.margin_top = cell.margin_bottom = INSET_Y
                cell.text = text
                for p in cell.text_frame.paragraphs:
                    p.font.size = Pt(TABLE_SIZE)
        return slide


def _frame(tf) -> None:
    """No automatic fitting by the program that opens the deck (they disagree): the text
    put in has been measured to fit; fixed insets, as measured."""
    tf.word_wrap = True
    tf.auto_size = MSO_AUTO_SIZE.NONE
    tf.margin_left = tf.margin_right = INSET_X
    tf.margin_top = tf.margin_bottom = INSET_Y


def _fill(shape, paragraphs: list[str], size: float, min_size: float, bold: bool = False):
    """Put fitted text into a placeholder; returns the ``Fitted`` (its size to apply)."""
    tf = shape.text_frame
    _frame(tf)
    fitted = fit(paragraphs, _pt(shape.width - 2 * INSET_X), _pt(shape.height - 2 * INSET_Y),
                 size, min_size, 0, tuple(bold for _ in paragraphs))
    tf.text = "\n".join(fitted.paragraphs)
    return fitted


def _alt_text(shape, text: str) -> None:
    """Alternative text (the picture's 'descr'), read by screen readers and PowerPoint."""
    shape._element.nvPicPr.cNvPr.set("descr", text[:1000])
