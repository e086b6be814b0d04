"""Title, logo and colours of exported reports, from configuration with good defaults.

Configuration comes from the operator, never from a page: ``MODELDECK_BRANDING`` names a JSON
file (``{"title": ..., "logo": "path/to/logo.png", "primary": "#0072B2", "accent": "#E69F00",
"organisation": ...}``), and ``MODELDECK_BRAND_TITLE`` / ``MODELDECK_BRAND_LOGO`` /
``MODELDECK_BRAND_PRIMARY`` / ``MODELDECK_BRAND_ACCENT`` / ``MODELDECK_BRAND_ORGANISATION``
override single fields. Anything unusable (a colour that is not ``#rrggbb``, a logo that is not
a PNG or JPEG under 2 MB) falls back to the default with a warning in the log.
"""
from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from components.theme import BLUE, ORANGE

log = logging.getLogger(__name__)

COLOUR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
MAX_LOGO_BYTES = 2_000_000
FIELDS = ("title", "organisation", "logo", "primary", "accent")


@dataclass(frozen=True)
class Branding:
    title: str = "ModelDeck"  # product name on title slides and report headers
    organisation: str = ""  # e.g. "Acme Analytics", shown under the title when set
    logo: str | None = None  # PNG or JPEG file; None: a generated ModelDeck mark
    primary: str = BLUE  # title bars, headings
    accent: str = ORANGE  # takeaway lines
    text: str = "#212529"

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Branding":
        env = os.environ if env is None else env
        values: dict = {}
        path = env.get("MODELDECK_BRANDING")
        if path:
            try:
                data = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
                values.update({k: data[k] for k in FIELDS if isinstance(data.get(k), str)})
            except (OSError, ValueError) as e:
                log.warning("branding file %s ignored: %s", path, e)
        for k in FIELDS:
            v = env.get(f"MODELDECK_BRAND_{k.upper()}")
            if v:
                values[k] = v
        return cls().with_values(**values)

    def with_values(self, **values) -> "Branding":
        """A copy with the given fields, each checked; unusable values keep the default."""
        clean = {}
        for k in ("primary", "accent"):
            if k in values:
                if COLOUR_RE.match(str(values[k])):
                    clean[k] = str(values[k])
                else:
                    log.warning("branding %s %r is not a #rrggbb colour; default kept", k,
                                values[k])
        for k in ("title", "organisation"):
            if k in values:
                clean[k] = str(values[k])[:80]
        if values.get("logo"):
            clean["logo"] = str(values["logo"])
        return replace(self, **clean)

    @cached_property
    def logo_png(self) -> bytes:
        """The logo as PNG or JPEG bytes (read once), or the generated default mark."""
        if self.logo:
            try:
                data = Path(self.logo).expanduser().read_bytes()
                if len(data) <= MAX_LOGO_BYTES and logo_kind(data):
                    return data
                log.warning("logo %s is not a PNG or JPEG under 2 MB; default used", self.logo)
            except OSError as e:
                log.warning("logo %s cannot be read (%s); default used", self.logo, e)
        return default_logo(self.primary)

    @property
    def logo_data_uri(self) -> str:
        data = self.logo_png
        return f"data:image/{logo_kind(data) or 'png'};base64," + base64.b64encode(data).decode()


def logo_kind(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def default_logo(colour: str = BLUE, size: int = 256) -> bytes:
    """A plain mark: the letters MD on a rounded square in the primary colour."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 6, fill=colour)
    try:
        font = ImageFont.load_default(size=size // 2)
    except TypeError:  # Pillow < 10.1 has no sized default font
        font = ImageFont.load_default()
    draw.text((size / 2, size / 2), "MD", fill="white", font=font, anchor="mm")
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
