"""Charts as files: PNG / SVG / PDF rendered by kaleido, and the data behind a chart as CSV.

Rendering uses one long-lived headless Chromium per process (Debian's ``/usr/bin/chromium``,
or ``MODELDECK_CHROMIUM``), started on the first export — never at app start — and reused for
every later one (the first render takes ~2 s, later ones ~0.1–0.3 s). It runs kaleido's
documented async API (``Kaleido``, ``calc_fig``) on an event loop in its own thread; unlike
``kaleido.start_sync_server`` this lets several request threads render at once, gives every
render a timeout, and starts a fresh browser when the old one has died (or after a fork).

An exported image keeps the chart's title, legend and axis titles and adds a small footer
("ModelDeck · customer-churn v3 · data as of 26 Nov 2026"). The data behind a chart (CSV) and
the checks on a figure a browser sends back are ``reports.chart_data``.
"""
from __future__ import annotations

import asyncio
import atexit
import base64
import fcntl
import logging
import os
import re
import shutil
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go

from components.figures import place_legend

log = logging.getLogger(__name__)

IMAGE_FORMATS = ("png", "svg", "pdf")
CHART_FORMATS = IMAGE_FORMATS + ("csv",)
MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf",
        "csv": "text/csv", "pptx": "application/vnd.openxmlformats-officedocument."
                                   "presentationml.presentation", "html": "text/html",
        "md": "text/markdown"}
#: presentation size (16:9); PNGs are rendered at twice this for sharp slides
PRESENTATION = (1200, 675)
PNG_SCALE = 2
FOOTER_SPACE = 34  # pixels added below the plot for the footer line
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class ExportError(Exception):
    """An export that cannot be produced; the message is safe to show to the user."""


class RendererBusy(ExportError):
    """Every render slot stayed taken for the whole wait: try again in ``retry_after`` s."""

    def __init__(self, retry_after: int):
        super().__init__("Many exports are being prepared right now; "
                         f"please try again in {retry_after} seconds.")
        self.retry_after = retry_after


# ------------------------------------------------------------------ how many renders at once
class RenderSlots:
    """At most ``size`` renders (a chart in kaleido's Chromium, a report printed to PDF) at
    once; the others queue for up to ``wait`` seconds, then get ``RendererBusy`` — a 503
    with Retry-After — instead of starting browsers until memory runs out.

    With ``folder`` the slots are ``flock``-ed files there, shared by every worker process
    of the machine (the kernel frees a slot whose holder died); without, they are a
    semaphore of this process."""

    POLL = 0.05

    def __init__(self, size: int = 2, folder: Path | None = None, wait: float = 20.0):
        self.size, self.wait = max(1, int(size)), float(wait)
        self.folder = Path(folder) if folder is not None else None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._semaphore = threading.BoundedSemaphore(self.size)

    @contextmanager
    def take(self):
        if self.folder is None:
            if not self._semaphore.acquire(timeout=self.wait):
                raise RendererBusy(self._retry_after())
            try:
                yield
            finally:
                self._semaphore.release()
            return
        fd = self._take_file()
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _take_file(self) -> int:
        deadline = time.monotonic() + self.wait
        while True:
            for i in range(self.size):
                fd = os.open(self.folder / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    os.close(fd)
            if time.monotonic() >= deadline:
                raise RendererBusy(self._retry_after())
            time.sleep(self.POLL)

    def _retry_after(self) -> int:
        return max(5, int(self.wait // 2))


_slots = RenderSlots(int(os.environ.get("MODELDECK_RENDERS", "2")))


def configure_renders(size: int, folder: Path | None = None, wait: float = 20.0) -> None:
    """Set the process's render slots (``app.create_app`` does, from the settings)."""
    global _slots
    _slots = RenderSlots(size, folder, wait)


def render_slot():
    """``with render_slot(): …`` around any work that drives a Chromium."""
    return _slots.take()


# ------------------------------------------------------------------ the footer
@dataclass(frozen=True)
class ExportMeta:
    """What the footer of an exported chart names. Every field is optional."""

    model: str = ""
    version: str = ""  # "3", or "2 vs 3" for a comparison
    data_date: str = ""  # "26 Nov 2026"

    @classmethod
    def from_dict(cls, d: dict | None) -> "ExportMeta":
        d = d or {}
        return cls(**{k: str(d[k])[:60] for k in ("model", "version", "data_date")
                      if d.get(k) not in (None, "")})


def footer_text(meta: ExportMeta, exported: str = "") -> str:
    """'ModelDeck · customer-churn v3 · data as of 26 Nov 2026'."""
    parts = ["ModelDeck"]
    if meta.model:
        parts.append(f"{meta.model} v{meta.version}" if meta.version else meta.model)
    if meta.data_date:
        parts.append(f"data as of {meta.data_date}")
    elif exported:
        parts.append(f"exported {exported}")
    return " · ".join(parts)


def for_export(fig: go.Figure, footer: str, width: int = PRESENTATION[0],
               height: int | None = None) -> go.Figure:
    """A copy of ``fig`` at presentation size with the footer line below the axis title.
    Title, legend and axis titles are kept; nothing else is changed. Figures taller than
    16:9 (long segment lists) keep their own height."""
    out = go.Figure(fig)
    own = out.layout.height or 0
    h = height or max(PRESENTATION[1], int(own) + FOOTER_SPACE)
    margin = out.layout.margin
    bottom = margin.b if margin.b is not None else 50
    out.update_layout(width=width, height=h, autosize=False,
                      margin=dict(b=bottom + FOOTER_SPACE))
    if out.layout.title.text and not out.layout.title.x:  # a title flush left: keep it whole
        out.update_layout(title_pad_l=12)
    if out.layout.legend.yref == "container":  # the band under the title, at the new height
        place_legend(out, h)
    out.add_annotation(text=footer, xref="paper", yref="paper", x=0, y=0, xanchor="left",
                       yanchor="top", yshift=-(bottom + 8), showarrow=False,
                       font=dict(size=11, color="#495057"), name="modeldeck-footer")
    return out


# ------------------------------------------------------------------ rendering
class ChartRenderer:
    """One headless Chromium driven by kaleido, started on first use."""

    def __init__(self, chromium: str | None = None, timeout: float = 60.0):
        self.chromium = chromium
        self.timeout = timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido = None
        self._pid: int | None = None
        self.starts = 0  # how many browsers this renderer has started (tests check it is 1)

    @property
    def running(self) -> bool:
        return (self._kaleido is not None and self._pid == os.getpid()
                and self._thread is not None and self._thread.is_alive())

    def _ensure(self):
        with self._lock:
            if self.running:
                return self._loop, self._kaleido
            self._shutdown()
            import kaleido

            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="modeldeck-kaleido",
                                      daemon=True)
            thread.start()
            path = self.chromium or os.environ.get("MODELDECK_CHROMIUM") or \
                shutil.which("chromium") or None

            async def start():
                # MathJax off: it would be fetched from a CDN, and no chart uses it.
                k = kaleido.Kaleido(n=1, timeout=self.timeout, mathjax=False,
                                    **({"path": path} if path else {}))
                await k.open()
                return k
            try:
                k = asyncio.run_coroutine_threadsafe(start(), loop).result(self.timeout)
            except Exception as e:
                loop.call_soon_threadsafe(loop.stop)
                raise ExportError(f"The image renderer (Chromium) could not start: {e}") from e
            self._loop, self._thread, self._kaleido, self._pid = loop, thread, k, os.getpid()
            self.starts += 1
            log.info("kaleido renderer started (Chromium at %s)", path or "default")
            return loop, k

    def render(self, fig: go.Figure, fmt: str, width: int, height: int,
               scale: float = 1) -> bytes:
        if fmt not in IMAGE_FORMATS:
            raise ExportError(f"'{fmt}' is not an image format ({', '.join(IMAGE_FORMATS)}).")
        with render_slot():
            return self._render(fig, fmt, width, height, scale)

    def _render(self, fig, fmt, width, height, scale) -> bytes:
        loop, k = self._ensure()
        opts = {"format": fmt, "width": width, "height": height, "scale": scale}
        future = asyncio.run_coroutine_threadsafe(k.calc_fig(fig, opts=opts), loop)
        try:
            data = future.result(self.timeout + 5)
        except FutureTimeout as e:
            future.cancel()
            self.close()  # a stuck browser is replaced on the next export
            raise ExportError("Rendering the chart took too long.") from e
        except Exception as e:  # kaleido reports plotly.js errors as exceptions
            if not self.running:
                self.close()
            raise ExportError(f"The chart could not be rendered: {e}") from e
        return bytes(data)

    def print_pdf(self, url: str, timeout: float = 90) -> bytes:
        """The page at ``url`` (a file the server wrote) printed to PDF by the same Chromium,
        in a tab of its own: a report costs no second browser."""
        with render_slot():
            loop, k = self._ensure()
            future = asyncio.run_coroutine_threadsafe(_print_pdf(k, url, timeout), loop)
            try:
                return future.result(timeout + 5)
            except FutureTimeout as e:
                future.cancel()
                self.close()
                raise ExportError("Printing the report took too long.") from e
            except ExportError:
                raise
            except Exception as e:
                if not self.running:
                    self.close()
                raise ExportError("Chromium could not print the report to PDF.") from e

    def close(self) -> None:
        with self._lock:
            self._shutdown()

    def _shutdown(self) -> None:
        loop, k = self._loop, self._kaleido
        self._loop = self._thread = self._kaleido = None
        if loop is None:
            return
        if k is not None and self._pid == os.getpid():
            closed = False
            if loop.is_running():
                try:
                    asyncio.run_coroutine_threadsafe(k.close(), loop).result(10)
                    closed = True
                except Exception:  # the browser may already be gone
                    log.debug("kaleido close failed", exc_info=True)
            process = getattr(k, "subprocess", None)  # the loop died: end its browser
            if not closed and process is not None and process.poll() is None:
                process.terminate()
        loop.call_soon_threadsafe(loop.stop)


# Runs in the page before printing: resolves once every chart is drawn (plotly.js draws
# after the load event) and the fonts are in, or after 20 s.
CHARTS_DRAWN = """
new Promise(function (resolve) {
    const t0 = Date.now();
    (function check() {
        const divs = document.querySelectorAll('.plotly-graph-div');
        const drawn = Array.from(divs).every(function (d) { return d.querySelector('.main-svg'); });
        if (drawn || Date.now() - t0 > 20000) {
            document.fonts.ready.then(function () {
                requestAnimationFrame(function () { resolve(divs.length); });
            });
        } else { setTimeout(check, 50); }
    })();
})
"""
A4_INCHES = (8.27, 11.69)


async def _print_pdf(k, url: str, timeout: float) -> bytes:
    tab = await k.create_tab("")
    try:
        loaded = tab.subscribe_once("Page.loadEventFired")
        for command, params in (("Page.enable", None), ("Page.navigate", {"url": url})):
            reply = await tab.send_command(command, params=params)
            if "error" in reply:
                raise ExportError("Chromium could not open the report to print it.")
        await asyncio.wait_for(loaded, timeout)
        await tab.send_command("Runtime.evaluate", params={
            "expression": CHARTS_DRAWN, "awaitPromise": True, "returnByValue": True})
        reply = await tab.send_command("Page.printToPDF", params={
            "printBackground": True, "preferCSSPageSize": True,
            "paperWidth": A4_INCHES[0], "paperHeight": A4_INCHES[1],
            "displayHeaderFooter": False})
        if "error" in reply:
            raise ExportError("Chromium could not print the report to PDF.")
        return base64.b64decode(reply["result"]["data"])
    finally:
        try:
            await tab.close()
        except Exception:  # the browser may be gone; _ensure starts a new one next time
            log.debug("closing the PDF tab failed", exc_info=True)


_renderer: ChartRenderer | None = None
_renderer_lock = threading.Lock()


def renderer() -> ChartRenderer:
    """The process's renderer (created on first call; the browser starts on first render)."""
    global _renderer
    with _renderer_lock:
        if _renderer is None:
            _renderer = ChartRenderer()
            atexit.register(_renderer.close)
        return _renderer


def chart_image(fig: go.Figure, fmt: str, meta: ExportMeta = ExportMeta(),
                exported: str = "") -> bytes:
    """``fig`` as a PNG (1200×675 at scale 2), SVG or PDF with the export footer."""
    out = for_export(fig, footer_text(meta, exported))
    scale = PNG_SCALE if fmt == "png" else 1
    return renderer().render(out, fmt, int(out.layout.width), int(out.layout.height), scale)


def safe_name(*parts: str, default: str = "chart") -> str:
    """A file name stem from known names: letters, digits, '.', '_' and '-' only."""
    text = "-".join(SAFE_NAME.sub("-", str(p)).strip("-.") for p in parts if p)
    text = re.sub(r"-{2,}", "-", text)[:120].strip("-.")
    return text or default

