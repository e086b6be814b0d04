"""Text that fits its box on a slide: measured, shrunk within limits, else cut at a word with
an ellipsis.

PowerPoint and LibreOffice do not agree on shrinking text to fit (LibreOffice Impress simply
cuts a subtitle off mid-word), so the deck never relies on either: every text box is filled
with text measured here. Text is measured with DejaVu Sans, which is wider than Calibri (the
deck's theme font) and than Arial / Liberation Sans, and is what LibreOffice shows where
Calibri is missing — text that fits when measured with it fits in either program. Without the
font file a conservative width per character is used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ELLIPSIS = "…"
LINE_HEIGHT = 1.2  # line pitch as a multiple of the font size (PowerPoint's single spacing)
FALLBACK_EM = 0.62  # width of an average character, in ems, when no font file is found
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF",
              "/usr/share/fonts/dejavu", "/usr/local/share/fonts")
_MEASURE_SIZE = 200  # the font is loaded once at this size and widths are scaled
_TRAILING = " ,;:·-–—"  # left off before an ellipsis


@lru_cache(maxsize=2)
def _font(bold: bool):
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        from PIL import ImageFont
    except ImportError:  # pragma: no cover - Pillow comes with python-pptx
        return None
    candidates = [Path(d) / name for d in _FONT_DIRS]
    try:
        import matplotlib
        candidates.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            return ImageFont.truetype(str(path), _MEASURE_SIZE)
    return None


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` in points at ``size`` points."""
    font = _font(bold)
    if font is None:
        return len(text) * size * (FALLBACK_EM + (0.06 if bold else 0))
    return font.getlength(text) * size / _MEASURE_SIZE


def wrap(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """``text`` broken into lines no wider than ``width`` points, at spaces (a word wider
    than a line is broken between characters, as PowerPoint does)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if text_width(trial, size, bold) <= width:
            line = trial
            continue
        if line:
            lines.append(line)
        while text_width(word, size, bold) > width and len(word) > 1:
            cut = max(1, max(i for i in range(1, len(word) + 1)
                             if i == 1 or text_width(word[:i], size, bold) <= width))
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line or not lines:
        lines.append(line)
    return lines


def shorten(text: str, width: float, size: float, max_lines: int, bold: bool = False) -> str:
    """``text`` if it fits in ``max_lines`` lines of ``width`` points, else its longest
    beginning that ends at a whole word, followed by an ellipsis, that does ("" when not
    even the ellipsis fits)."""
    if len(wrap(text, width, size, bold)) <= max_lines:
        return text
    return _cut(text.split(), width, size, max_lines, bold)


def _cut(words: list[str], width: float, size: float, max_lines: int, bold: bool) -> str:
    """The most of ``words`` (fewer than all) that fits with an ellipsis after them."""
    lo, hi = 0, len(words)  # the number of words kept: lo fits (or is 0), hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if len(wrap(_ellipsised(words[:mid]), width, size, bold)) <= max_lines:
            lo = mid
        else:
            hi = mid
    out = _ellipsised(words[:lo])
    return out if len(wrap(out, width, size, bold)) <= max_lines else ""


def _ellipsised(words: list[str]) -> str:
    return " ".join(words).rstrip(_TRAILING) + ELLIPSIS


@dataclass(frozen=True)
class Fitted:
    paragraphs: tuple[str, ...]
    size: float  # font size, points
    truncated: bool


def fit(paragraphs: list[str], width: float, height: float, size: float,
        min_size: float | None = None, space_after: float = 0.0,
        bold: tuple[bool, ...] = ()) -> Fitted:
    """Paragraphs in a box of ``width`` × ``height`` points (the text area, insets already
    taken off): at the largest size from ``size`` down to ``min_size`` (1 pt steps) at which
    all fit; else at ``min_size``, the paragraphs that fit, the first that does not cut at a
    word with an ellipsis, and the rest left out (the ellipsis says so)."""
    low = size if min_size is None else min_size
    s = size
    while True:
        if _height(paragraphs, width, s, space_after, bold) <= height:
            return Fitted(tuple(paragraphs), s, False)
        if s - 1 < low:
            break
        s -= 1
    s = low
    pitch = s * LINE_HEIGHT
    kept: list[str] = []
    used = 0.0
    for i, p in enumerate(paragraphs):
        b = bold[i] if i < len(bold) else False
        h = len(wrap(p, width, s, b)) * pitch
        if used + h <= height + 1e-6:
            kept.append(p)
            used += h + space_after
            continue
        room = int(math.floor((height - used) / pitch + 1e-6))
        cut = shorten(p, width, s, room, b) if room >= 1 else ""
        if cut:
            kept.append(cut)
        elif kept:  # not one word of this one fits: the one before ends with the ellipsis
            j = len(kept) - 1
            bj = bold[j] if j < len(bold) else False
            lines = len(wrap(kept[j], width, s, bj))
            marked = f"{kept[j]} {ELLIPSIS}"
            kept[j] = marked if len(wrap(marked, width, s, bj)) <= lines else \
                (_cut(kept[j].split(), width, s, lines, bj) or ELLIPSIS)
        break
    return Fitted(tuple(kept), s, True)


def _height(paragraphs, width, size, space_after, bold) -> float:
    pitch = size * LINE_HEIGHT
    total = 0.0
    for i, p in enumerate(paragraphs):
        total += len(wrap(p, width, size, bold[i] if i < len(bold) else False)) * pitch
    return total + space_after * max(0, len(paragraphs) - 1)
