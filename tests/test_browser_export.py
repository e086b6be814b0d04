"""Exports in a browser: a chart's download menu (mouse and keyboard), the report buttons, and
the self-contained HTML report opened with the network switched off."""
from __future__ import annotations

import time
from pathlib import Path

import plotly.graph_objects as go
import pytest
from selenium.webdriver.common.keys import Keys

from app import Settings, create_app
from registry import SAMPLE_REGISTRY
from browser_helpers import axe_violations, click  # noqa: E402 (tests/ is on sys.path)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def kaleido_renderer():
    """The process's chart renderer, started once, before any dash_duo server: dash_duo ends
    every thread started while its server runs, and the renderer's must outlive a test."""
    from reports.images import renderer
    r = renderer()
    r.render(go.Figure(), "svg", 100, 100)
    r.started_before = r.starts  # earlier modules (a digest, a report) may have used it
    yield r
    r.close()  # while pytest's output streams are still open


@pytest.fixture(autouse=True)
def desktop_window(kaleido_renderer, dash_duo):
    dash_duo.driver.set_window_size(1400, 1000)


def wait_for_file(folder: str, name: str, timeout: float = 60) -> Path:
    """A finished download (Chromium writes ``.crdownload`` until it is complete)."""
    path = Path(folder) / name
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.stat().st_size > 0 and \
                not Path(str(path) + ".crdownload").exists():
            return path
        time.sleep(0.1)
    raise AssertionError(f"no download {name}; folder holds "
                         f"{sorted(p.name for p in Path(folder).iterdir())}")


def _menu(key: str) -> str:
    return f"figure[data-md-chart='{key}'] .md-export"


def test_chart_download_menu_with_mouse_and_keyboard(dash_duo):
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    dash_duo.driver.get(dash_duo.server_url + "/models/customer-churn")
    dash_duo.wait_for_element("#roc-curve .main-svg", timeout=60)
    dash_duo.wait_for_element("#metric-by-version .main-svg", timeout=60)  # page complete
    downloads = dash_duo.download_path

    # Mouse: open the menu, take the SVG.
    click(dash_duo, _menu("roc-curve") + " summary")
    dash_duo.wait_for_element(_menu("roc-curve") + "[open]")
    click(dash_duo, "figure[data-md-chart='roc-curve'] button[title$='as SVG image']")
    svg = wait_for_file(downloads, "customer-churn-v3-roc-curve.svg").read_text()
    assert svg.startswith("<svg") and "</svg>" in svg
    assert "v3 (AUC 0.881)" in svg  # the legend
    assert "ROC curve: positives found against false alarms" in svg  # the title
    assert "False alarm rate (% of negatives flagged)" in svg  # an axis title
    assert "ModelDeck · customer-churn v3 · data as of 30 Nov 2026" in svg  # the footer
    dash_duo.wait_for_contains_text(
        "figure[data-md-chart='roc-curve'] [role='status']", "ready")
    assert axe_violations(dash_duo.driver) == []

    # Keyboard only: focus the gain chart's menu, open it with Enter, Tab to PNG, Enter.
    summary = dash_duo.find_element(_menu("gain-curve") + " summary")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', "
                                   "behavior: 'instant'}); "
                                   "arguments[0].focus();", summary)
    summary.send_keys(Keys.ENTER)
    dash_duo.wait_for_element(_menu("gain-curve") + "[open]")
    active = dash_duo.driver.switch_to.active_element
    active.send_keys(Keys.TAB)
    focused = dash_duo.driver.switch_to.active_element
    assert focused.text == "PNG image"
    focused.send_keys(Keys.ENTER)
    png = wait_for_file(downloads, "customer-churn-v3-gain-curve.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")

    # The chart as the page shows it after a callback changed it: threshold 0.30.
    dash_duo.driver.get(dash_duo.server_url + "/models/customer-churn?threshold=0.3")
    dash_duo.wait_for_element("#confusion-matrix .main-svg", timeout=60)
    dash_duo.wait_for_element("#metric-by-version .main-svg", timeout=60)
    click(dash_duo, _menu("confusion-matrix") + " summary")
    click(dash_duo, "figure[data-md-chart='confusion-matrix'] button[title$='as CSV data']")
    csv = wait_for_file(downloads, "customer-churn-v3-confusion-matrix.csv").read_text(
        encoding="utf-8-sig")
    assert csv.splitlines()[0] == "# Confusion matrix at threshold 0.30"
    assert csv.splitlines()[1] == "series,Predicted class,Actual class,% of actual,label"
    assert dash_duo.get_logs() == []


def test_report_button_builds_a_deck(dash_duo, kaleido_renderer):
    from pptx import Presentation

    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    dash_duo.driver.get(dash_duo.server_url + "/models/digits")
    dash_duo.wait_for_element("#report-pptx", timeout=60)
    click(dash_duo, "#report-pptx")
    path = wait_for_file(dash_duo.download_path, "digits-v2-report.pptx", timeout=90)
    dash_duo.wait_for_contains_text("#report-status", "PowerPoint ready")
    assert not dash_duo.find_element("#report-pptx").get_attribute("disabled")
    assert not dash_duo.find_element("#report-running").is_displayed()
    prs = Presentation(str(path))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles[0] == "digits: model report" and titles[1] == "Executive summary"
    assert "Where it goes wrong" in titles

    dash_duo.driver.get(dash_duo.server_url + "/compare?model=digits&a=2&b=3")
    dash_duo.wait_for_element("#report-html", timeout=60)
    click(dash_duo, "#report-html")
    html = wait_for_file(dash_duo.download_path, "digits-v2-vs-v3-report.html",
                         timeout=90).read_text()
    dash_duo.wait_for_contains_text("#report-status", "HTML report ready", timeout=30)
    assert "<h1>digits: v3 against v2</h1>" in html
    assert axe_violations(dash_duo.driver) == []
    assert dash_duo.get_logs() == []
    # one Chromium for every export of these tests
    assert kaleido_renderer.starts == kaleido_renderer.started_before


def test_html_report_opens_offline_with_its_charts(dash_duo, tmp_path):
    from registry import open_source
    from registry.cached import CachedSource
    from reports.model_report import model_report
    from reports.html_report import build_html

    report = model_report(CachedSource(open_source(str(SAMPLE_REGISTRY))), "breast-cancer")
    path = tmp_path / "report.html"
    path.write_bytes(build_html(report))
    driver = dash_duo.driver
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
    try:
        driver.get(path.as_uri())
        deadline = time.time() + 30
        while time.time() < deadline and \
                len(driver.find_elements("css selector", ".js-plotly-plot .main-svg")) \
                < len(report.sections):
            time.sleep(0.1)
        plots = driver.find_elements("css selector", ".js-plotly-plot")
        assert len(plots) == len(report.sections) >= 4
        for plot in plots:
            assert plot.find_elements("css selector", ".main-svg")
            assert plot.find_elements("css selector", ".gtitle")  # each chart kept its title
        assert driver.find_element("css selector", "h1").text == report.title
        assert dash_duo.get_logs() == []
        assert axe_violations(driver) == []
    finally:
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
