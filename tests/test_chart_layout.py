"""Chart layout as drawn: every chart with a legend, rendered by Plotly in Chromium (kaleido's
SVG) at a page column's width and at export size, has its legend below the title and above
the plot area — a legend that wraps onto several rows never covers the title."""
from __future__ import annotations

import re

import pytest

from analysis.evaluation import threshold_result, version_evaluation
from analysis.monitoring import model_monitoring
from components import evaluation_figures as ef
from components.monitoring_figures import performance_over_time
from conftest import build_tiny_registry
from registry import SAMPLE_REGISTRY, open_source
from registry.cached import CachedSource
from reports.images import for_export, renderer


@pytest.fixture(scope="module", autouse=True)
def close_renderer_at_the_end():
    yield
    renderer().close()


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    deck = CachedSource(open_source(str(build_tiny_registry(
        tmp_path_factory.mktemp("chart-layout") / "reg"))))
    a, b = (version_evaluation(deck, "churn", v) for v in (2, 3))
    ta, tb = (threshold_result(deck, "churn", v, 0.5) for v in (2, 3))
    # ten classes: the longest legend
    digits = version_evaluation(CachedSource(open_source(str(SAMPLE_REGISTRY))), "digits",
                                2).multiclass
    _, _, mon = model_monitoring(deck, "churn", 2)
    return {
        "compare ROC": ef.roc_figure([("v3", a.binary.roc), ("v4", b.binary.roc)],
                                     [("v3", ta), ("v4", tb)]),
        "compare precision-recall": ef.pr_figure([("v3", a.binary.pr), ("v4", b.binary.pr)],
                                                 0.2),
        "compare calibration": ef.calibration_figure([("v3", a.binary.calibration),
                                                      ("v4", b.binary.calibration)]),
        "compare gain": ef.gain_figure([("v3", a.binary.gain), ("v4", b.binary.gain)]),
        "score distribution": ef.score_distribution_figure(a.binary.scores, 0.5),
        "per class": ef.per_class_figure(digits.per_class),
        "one-vs-rest ROC": ef.one_vs_rest_roc_figure(digits.roc, "digits"),
        "confidence": ef.confidence_figure([("v2", digits.confidence)]),
        "performance over time": performance_over_time(
            mon.performance, "ROC AUC", mon.reference, mon.reference_low, mon.reference_high,
            "", mon.window_kind),
    }


def _boxes(svg: str) -> dict:
    """Top and bottom (px) of the title, the legend and the plot area in a Plotly SVG."""
    title = re.search(r'<text class="gtitle"[^>]*\by="([\d.]+)"[^>]*font-size: ([\d.]+)px', svg)
    legend = re.search(r'<g class="legend"[^>]*transform="translate\(([\d.]+),([\d.]+)\)">'
                       r'<rect class="bg"[^>]*height="([\d.]+)"', svg)
    plot = re.search(r'<g class="overplot"><g class="xy" transform="translate\(([\d.]+),\s*'
                     r'([\d.]+)\)"', svg)
    assert title and legend and plot, "title, legend and plot area are all drawn"
    top, size = float(title[1]), float(title[2])
    return {"title_bottom": top + 1.2 * size, "legend_top": float(legend[2]),
            "legend_bottom": float(legend[2]) + float(legend[3]), "plot_top": float(plot[2])}


@pytest.mark.parametrize("width", [520, None])  # a narrow page column; an export (1200 px)
def test_legends_sit_between_the_title_and_the_plot(figures, width):
    for name, fig in figures.items():
        if width is None:
            out = for_export(fig, "ModelDeck · test")
        else:
            out = fig
        w = int(out.layout.width or width)
        h = int(out.layout.height or 360)
        b = _boxes(renderer().render(out, "svg", w, h, 1).decode())
        assert b["title_bottom"] <= b["legend_top"], (name, width, b)
        assert b["legend_bottom"] <= b["plot_top"] + 1, (name, width, b)
