"""Benchmark: reports and chart exports on the sample registry (or ``--registry``).

    .venv/bin/python benchmarks/reports.py [--registry DIR] [--model customer-churn]

In a fresh process, with an empty cache: the model report of ``--model`` (the sample's
customer-churn: 4 versions × 5,000 evaluation rows, a year of production rows) and the
portfolio report, each as PPTX, HTML and PDF, with the time and size of every file; then the
same again with the analysis cached (what happens when someone presses the button on a page
they are looking at); then one chart as PNG / SVG / PDF / CSV. Peak RSS at the end.

Targets (issue 6): model report ≤ 10 s, portfolio report ≤ 30 s on a 2-core machine.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class DictCache:
    """The app's SimpleCache in miniature: what ``deck.memo`` stores, kept in a dict."""

    def __init__(self):
        self.data = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value, timeout=None):
        self.data[key] = value
        return True


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run(deck, kind: str, model: str | None, label: str) -> float:
    from reports.branding import Branding
    from reports.requests import build_report, parse_request
    from reports.html_report import build_html, html_to_pdf
    from reports.pptx_deck import build_pptx

    branding = Branding()
    query = {"model": model} if model else {}
    report, t_content = timed(lambda: build_report(deck, parse_request(deck, kind, "pptx",
                                                                       query)))
    pptx, t_pptx = timed(lambda: build_pptx(report, branding))
    html, t_html = timed(lambda: build_html(report, branding))
    pdf, t_pdf = timed(lambda: html_to_pdf(html))
    print(f"{label:<36} content {t_content:6.2f} s | "
          f"pptx {t_content + t_pptx:6.2f} s {len(pptx) / 1e6:5.2f} MB | "
          f"html {t_content + t_html:6.2f} s {len(html) / 1e6:5.2f} MB | "
          f"pdf {t_content + t_html + t_pdf:6.2f} s {len(pdf) / 1e6:5.2f} MB | "
          f"{len(report.sections)} charts")
    return t_content + t_pptx


def main() -> None:
    from registry import SAMPLE_REGISTRY, open_source
    from registry.cached import CachedSource

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=str(SAMPLE_REGISTRY))
    parser.add_argument("--model", default="customer-churn")
    args = parser.parse_args()
    print(f"registry {args.registry}; times include building the content (analysis) and, for "
          "the first report, starting Chromium\n")
    # Cold: a fresh source and an empty cache each, as in a freshly started app.
    cold_model = run(CachedSource(open_source(args.registry), DictCache()), "model", args.model,
                     f"model report {args.model} (cold)")
    deck = CachedSource(open_source(args.registry), DictCache())
    cold_port = run(deck, "portfolio", None, "portfolio report (cold)")
    # Cached: the analysis already done, as when the page has been viewed.
    run(deck, "model", args.model, f"model report {args.model} (first)")
    warm_model = run(deck, "model", args.model, f"model report {args.model} (cached)")
    warm_port = run(deck, "portfolio", None, "portfolio report (cached)")

    from analysis.evaluation import threshold_result, version_evaluation
    from components.evaluation_figures import roc_figure
    from reports.chart_data import figure_csv
    from reports.images import ExportMeta, chart_image

    versions = deck.versions(args.model).items
    v = max(x.version for x in versions)
    ev = version_evaluation(deck, args.model, v)
    if ev.binary is not None:
        fig = roc_figure([(f"v{v}", ev.binary.roc)],
                         [(f"v{v}", threshold_result(deck, args.model, v, 0.5))])
        print()
        for fmt in ("png", "svg", "pdf"):
            data, t = timed(lambda: chart_image(fig, fmt, ExportMeta(args.model, str(v))))
            print(f"chart ROC curve as {fmt}: {t * 1000:6.0f} ms, {len(data):>9,} bytes")
        data, t = timed(lambda: figure_csv(fig))
        print(f"chart ROC curve as csv: {t * 1000:6.0f} ms, {len(data):>9,} bytes")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process {rss:,.0f} MB (Chromium runs in its own processes)")
    print(f"targets: model report ≤ 10 s (cold {cold_model:.1f} s, cached {warm_model:.1f} s); "
          f"portfolio report ≤ 30 s (cold {cold_port:.1f} s, cached {warm_port:.1f} s)")


if __name__ == "__main__":
    main()
