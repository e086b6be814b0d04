"""What only a browser shows on the experiment pages: the grid filled from the server, the
filter expression, selecting runs, the compare view and its options kept in the URL.

Runs in headless Chromium through dash_duo: ``pytest --headless``.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from app import Settings, create_app
from registry import SAMPLE_REGISTRY

from browser_helpers import axe_violations, click, wait_until

pytestmark = pytest.mark.browser

# AG Grid's own markup: it gives some of its (often empty) row containers role="rowgroup" —
# the full-width and the sticky-top containers — and axe wants every rowgroup to hold rows
# ("aria-required-children"). They are AG Grid internals that cannot be changed from outside,
# so exactly that rule is skipped for exactly those AG Grid containers; every other rule and
# every other element (the grid's cells and headers included) is still checked.
GRID = ".md-runs-grid"
GRID_CONTAINERS = (".ag-full-width-container", ".ag-pinned-left-sticky-top",
                   ".ag-pinned-right-sticky-top", ".ag-sticky-top-viewport",
                   ".ag-sticky-bottom-viewport", ".ag-pinned-left-sticky-bottom",
                   ".ag-pinned-right-sticky-bottom", ".ag-sticky-top-container",
                   ".ag-sticky-bottom-container", ".ag-sticky-top-full-width-container",
                   ".ag-sticky-bottom-full-width-container")


@pytest.fixture(autouse=True)
def desktop_window(dash_duo):
    dash_duo.driver.set_window_size(1400, 1000)


def _violations(driver):
    return axe_violations(driver, ignore=lambda rule, target: rule == "aria-required-children"
                          and len(target) == 1 and target[0] in GRID_CONTAINERS)


def _grid_names(dash_duo):
    cells = dash_duo.find_elements(f"{GRID} .ag-cell[col-id='name']")
    return [c.text for c in cells if c.text]


def test_filter_select_compare_and_reload(dash_duo):
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    dash_duo.driver.get(dash_duo.server_url + "/experiments?experiment=churn-sweep")
    dash_duo.wait_for_contains_text("#exp-count", "64 of 64 runs match", timeout=20)
    assert len(wait_until(lambda: _grid_names(dash_duo), what="grid rows")) >= 10
    assert _violations(dash_duo.driver) == []

    # a bad expression says what is wrong and keeps the table as it was
    box = dash_duo.find_element("#exp-expression")
    box.send_keys("params.max_depth <=")
    click(dash_duo, "#exp-apply")
    dash_duo.wait_for_contains_text("#exp-filter-message", "cannot be applied", timeout=10)
    assert "64 of 64" in dash_duo.find_element("#exp-count").text

    # a good one filters on the server and goes into the URL
    box.send_keys(" 3 and metrics.val_roc_auc > 0.85")
    click(dash_duo, "#exp-apply")
    expected = "params.max_depth <= 3 and metrics.val_roc_auc > 0.85"
    from registry import open_source
    from analysis.run_table import prepare_runs, select_rows
    t = prepare_runs(open_source(str(SAMPLE_REGISTRY)).runs("churn-sweep").items)
    n = len(select_rows(t, expected))
    assert 0 < n < 64
    dash_duo.wait_for_contains_text("#exp-count", f"{n} of 64 runs match", timeout=10)
    assert dash_duo.find_element("#exp-filter-message").text == ""
    wait_until(lambda: "max_depth" in dash_duo.driver.current_url, what="URL with the filter")
    query = parse_qs(urlparse(dash_duo.driver.current_url).query)
    assert query["q"] == [expected]
    wait_until(lambda: len(_grid_names(dash_duo)) == n, what="filtered rows")

    # select three runs, then compare them
    checks = dash_duo.find_elements(f"{GRID} .ag-selection-checkbox input")
    for c in checks[:3]:
        dash_duo.driver.execute_script("arguments[0].click()", c)
    dash_duo.wait_for_contains_text("#exp-compare-selected", "Compare 3 selected runs",
                                    timeout=10)
    chosen = _grid_names(dash_duo)[:3]
    click(dash_duo, "#exp-compare-selected")
    dash_duo.wait_for_contains_text("h1", "Compare 3 runs", timeout=20)
    for graph in ("#cmp-parallel", "#cmp-scatter", "#cmp-curves", "#cmp-groups"):
        dash_duo.wait_for_element(f"{graph} .main-svg", timeout=20)
    table_head = dash_duo.find_element("#cmp-table thead").text
    assert all(name in table_head for name in chosen)
    dash_duo.wait_for_element("#cmp-importance-box p", timeout=30)

    # differences only: fewer rows, and back
    rows_diff = len(dash_duo.find_elements("#cmp-table tbody tr"))
    assert "hidden" in dash_duo.find_element("#cmp-table-note").text
    click(dash_duo, "label[for='cmp-diff']")
    wait_until(lambda: len(dash_duo.find_elements("#cmp-table tbody tr")) > rows_diff,
          what="all fields")
    wait_until(lambda: "diff=0" in dash_duo.driver.current_url, what="diff in URL")

    # smoothing changes the curves and the URL
    slider = dash_duo.find_element("#cmp-smooth")
    dash_duo.driver.execute_script(
        "const s = arguments[0];"
        "const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;"
        "set.call(s, '0.8'); s.dispatchEvent(new Event('input', {bubbles: true}));"
        "s.dispatchEvent(new Event('change', {bubbles: true}));", slider)
    dash_duo.wait_for_text_to_equal("#cmp-smooth-value", "0.8", timeout=10)
    wait_until(lambda: "smooth=0.8" in dash_duo.driver.current_url, what="smoothing in URL")
    dash_duo.wait_for_contains_text("#cmp-curves .gtitle", "smoothed", timeout=10)
    assert _violations(dash_duo.driver) == []

    # reloading the URL restores the view
    url = dash_duo.driver.current_url
    dash_duo.driver.get(url)
    dash_duo.wait_for_contains_text("h1", "Compare 3 runs", timeout=20)
    dash_duo.wait_for_text_to_equal("#cmp-smooth-value", "0.8", timeout=10)
    dash_duo.wait_for_contains_text("#cmp-curves .gtitle", "smoothed", timeout=10)
    assert not dash_duo.find_element("#cmp-diff").is_selected()
    assert len(dash_duo.find_elements("#cmp-table tbody tr")) > rows_diff
    assert dash_duo.get_logs() == []


def test_top_n_by_metric_and_filter_from_the_url(dash_duo):
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    dash_duo.driver.get(dash_duo.server_url + "/experiments?experiment=churn-sweep"
                        "&q=params.learning_rate+%3E+0.05&n=5&metric=metrics.val_log_loss")
    dash_duo.wait_for_contains_text("#exp-count", "of 64 runs match", timeout=20)
    assert dash_duo.find_element("#exp-expression").get_attribute("value") == \
        "params.learning_rate > 0.05"
    dash_duo.wait_for_contains_text("#exp-compare-top", "Compare the 5 with the lowest "
                                    "val_log_loss", timeout=10)
    click(dash_duo, "#exp-compare-top")
    dash_duo.wait_for_contains_text("h1", "Compare 5 runs", timeout=20)
    dash_duo.wait_for_element("#cmp-parallel .main-svg", timeout=20)
    assert "Traceback" not in dash_duo.driver.page_source
    assert dash_duo.get_logs() == []
