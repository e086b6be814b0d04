"""The estimate without labels in a browser: the sample churn model's unlabelled November on
the monitoring page, drawn as an estimate beside the measured months, and axe-clean."""
from __future__ import annotations

import pytest

from app import Settings, create_app
from registry import SAMPLE_REGISTRY

from browser_helpers import axe_violations  # noqa: E402 (tests/ on sys.path)

pytestmark = pytest.mark.browser


def test_monitoring_page_shows_novembers_estimate(dash_duo, tmp_path):
    dash_duo.driver.set_window_size(1400, 1000)
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    dash_duo.driver.get(dash_duo.server_url + "/monitoring/customer-churn")
    # the outline comes first; the estimate arrives with the whole page (second callback)
    dash_duo.wait_for_element("#estimate-table", timeout=60)
    dash_duo.wait_for_element("#performance-over-time .main-svg", timeout=60)
    summary = dash_duo.find_element("#monitoring-summary").text
    assert "Estimated from the scores alone for Nov 2026 (no labels yet" in summary
    assert "concept shift" in summary
    # what Plotly drew: the measured line stops in October, the estimate reaches November
    traces = dash_duo.driver.execute_script(
        "return document.querySelector('#performance-over-time .js-plotly-plot').data"
        ".map(t => ({name: t.name, x: t.x, dash: t.line && t.line.dash}));")
    by_name = {t["name"]: t for t in traces}
    assert "Nov 2026" not in by_name["ROC AUC"]["x"]
    est = by_name["ROC AUC estimated from scores"]
    assert est["x"][-1] == "Nov 2026" and est["dash"] == "dot"
    assert "estimate's 95% interval" in by_name
    legend = dash_duo.find_element("#performance-over-time .legend").text
    assert "ROC AUC estimated from scores" in legend
    row = dash_duo.find_element("#estimate-table tbody tr")
    assert row.text.startswith("Nov 2026") and "€" in row.text
    dash_duo.driver.save_screenshot(str(tmp_path / "monitoring-estimate.png"))
    assert axe_violations(dash_duo.driver) == []
    assert dash_duo.get_logs() == []
