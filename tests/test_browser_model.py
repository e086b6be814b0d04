"""The model page's threshold control and the compare page's version choice, in a browser."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.keys import Keys

from app import Settings, create_app
from registry import SAMPLE_REGISTRY
from browser_helpers import axe_violations, click, wait_until  # noqa: E402 (tests/ is on sys.path)

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def desktop_window(dash_duo):
    dash_duo.driver.set_window_size(1400, 1000)


def _query(dash_duo) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(dash_duo.driver.current_url).query).items()}


def _choose(dash_duo, dropdown: str, text: str):
    """Open a dropdown and pick the option whose text starts with ``text``."""
    click(dash_duo, dropdown)
    option = wait_until(lambda: next((o for o in dash_duo.find_elements("[role='option']")
                                      if o.text.strip().startswith(text)), None),
                        timeout=10, what=f"option {text!r} in {dropdown}")
    # The option list floats over the page; a script click is not blocked by it.
    dash_duo.driver.execute_script("arguments[0].click()", option)


def _plotted(dash_duo, graph: str, script: str):
    """A value of the figure Plotly has drawn in ``graph`` (its ``data``/``layout``)."""
    return dash_duo.driver.execute_script(
        f"const g = document.querySelector('#{graph} .js-plotly-plot');"
        f"return g && g.data ? {script} : null;")


def _matrix_counts(dash_duo):
    return _plotted(dash_duo, "confusion-matrix", "JSON.stringify(g.data[0].text)")


def test_threshold_changes_matrix_sentence_and_url(dash_duo):
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    dash_duo.driver.get(dash_duo.server_url + "/models/customer-churn?version=3&threshold=0.5")
    dash_duo.wait_for_text_to_equal("h1", "customer-churn", timeout=30)
    dash_duo.wait_for_element("#confusion-matrix .main-svg", timeout=30)
    wait_until(lambda: _matrix_counts(dash_duo) is not None, what="the matrix")
    sentence = dash_duo.find_element("#threshold-sentence").text
    counts = _matrix_counts(dash_duo)
    assert sentence.startswith("Of ") and "customers who cancel" in sentence
    assert axe_violations(dash_duo.driver) == []

    # Move the threshold with the keyboard: each arrow press is one step of 0.01.
    handle = dash_duo.find_element("#threshold [role='slider']")
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", handle)
    for _ in range(20):
        handle.send_keys(Keys.ARROW_LEFT)
    wait_until(lambda: dash_duo.find_element("#threshold-sentence").text != sentence,
          what="the sentence to change")
    wait_until(lambda: _matrix_counts(dash_duo) != counts, what="the matrix to change")
    wait_until(lambda: _query(dash_duo).get("threshold") not in (None, "0.50"), what="the URL")
    q = _query(dash_duo)
    assert q["version"] == "3" and float(q["threshold"]) < 0.5
    # The address follows the slider at once (in the browser); the matrix follows when the
    # last step's callback has answered.
    wait_until(lambda: f"threshold {float(q['threshold']):.2f}" in _plotted(
        dash_duo, "confusion-matrix", "g.layout.title.text"), what="the matrix's title")
    new_sentence = dash_duo.find_element("#threshold-sentence").text
    new_counts = _matrix_counts(dash_duo)

    # Reloading the URL restores the same view.
    dash_duo.driver.refresh()
    dash_duo.wait_for_element("#confusion-matrix .main-svg", timeout=30)
    wait_until(lambda: dash_duo.find_element("#threshold-sentence").text == new_sentence,
          what="the sentence after reload")
    wait_until(lambda: _matrix_counts(dash_duo) == new_counts, what="the matrix after reload")
    assert dash_duo.get_logs() == []


def test_compare_versions_updates_url_and_verdict_and_reload_restores(dash_duo):
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    dash_duo.driver.get(dash_duo.server_url + "/models/customer-churn")
    dash_duo.wait_for_element("#compare-link", timeout=30)
    click(dash_duo, "#compare-link")
    dash_duo.wait_for_contains_text("#verdict", "Version 4", timeout=60)
    first = dash_duo.find_element("#verdict").text
    assert "version 3" in first  # champion vs challenger by default
    assert len(dash_duo.find_elements("#compare-table tbody tr")) == 8
    dash_duo.wait_for_element("#compare-roc .main-svg", timeout=20)
    assert axe_violations(dash_duo.driver) == []

    _choose(dash_duo, "#compare-a", "v1")
    wait_until(lambda: _query(dash_duo).get("a") == "1", timeout=60, what="the URL to hold a=1")
    assert _query(dash_duo) == {"model": "customer-churn", "a": "1", "b": "4"}
    wait_until(lambda: dash_duo.find_element("#verdict").text not in ("", first), timeout=60,
          what="a new verdict")
    verdict = dash_duo.find_element("#verdict").text
    assert "version 1" in verdict and "Version 4" in verdict

    dash_duo.driver.refresh()
    dash_duo.wait_for_contains_text("#verdict", "version 1", timeout=60)
    assert dash_duo.find_element("#verdict").text == verdict
    assert "v1" in dash_duo.find_element("#compare-a").text
    assert dash_duo.get_logs() == []


def test_other_tasks_and_bad_urls(dash_duo):
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    for name, graph in (("digits", "#per-class"), ("diabetes-progression", "#residuals")):
        dash_duo.driver.get(dash_duo.server_url + f"/models/{name}")
        dash_duo.wait_for_element(f"{graph} .main-svg", timeout=30)
        dash_duo.wait_for_element("#metric-cards", timeout=10)
        assert axe_violations(dash_duo.driver) == []
    dash_duo.driver.get(dash_duo.server_url + "/compare?model=digits&a=1&b=x")
    dash_duo.wait_for_contains_text("#verdict", "no version", timeout=30)
    dash_duo.driver.get(dash_duo.server_url + "/models/breast-cancer?threshold=banana")
    dash_duo.wait_for_contains_text("#threshold-message", "not a threshold", timeout=30)
    assert "Traceback" not in dash_duo.driver.page_source
    assert dash_duo.get_logs() == []


def test_a_model_whose_rows_an_engine_keeps_fills_in_after_its_first_view(
        dash_duo, tmp_path, monkeypatch):
    """Evaluation tables an engine summarises (Parquet over the limit): the first view shows
    the chosen version, then the browser asks for the segments and for the numbers across
    versions, which replace their "working out" notes; accessible before and after."""
    import numpy as np

    from registry import folder
    from registry.writer import log_model, log_model_version
    monkeypatch.setattr(folder, "ENGINE_MIN_ROWS", 1_000)
    rng = np.random.default_rng(2)
    log_model(tmp_path, "big", "binary", positive_label=1, entity="customer")
    y = (rng.random(3_000) < 0.3).astype(int)
    region = rng.choice(["north", "south"], 3_000)
    for v in (1, 2):
        score = np.round(1 / (1 + np.exp(-(-1 + (1 + v * 0.5) * y + rng.normal(0, 1, 3_000)))),
                         3)
        log_model_version(tmp_path, "big", y_true=y, y_score=score, segments={"region": region},
                          aliases=["champion"] if v == 1 else ["challenger"])
    dash_duo.start_server(create_app(Settings(registry=str(tmp_path))))
    dash_duo.driver.get(dash_duo.server_url + "/models/big")
    dash_duo.wait_for_text_to_equal("h1", "big", timeout=30)
    dash_duo.wait_for_element("#roc-curve .main-svg", timeout=30)
    wait_until(lambda: "Health:" in dash_duo.find_element("#model-health").text, timeout=60,
               what="the health, from every version")
    wait_until(lambda: dash_duo.find_elements("#versions-table"), timeout=60,
               what="the versions table")
    wait_until(lambda: "north" in dash_duo.find_element("#segments-body").text, timeout=60,
               what="the segments")
    assert dash_duo.find_element("#model-status").text.strip() not in ("", "Checking…")
    assert "Working out" not in dash_duo.find_element("#model-across").text
    assert axe_violations(dash_duo.driver) == []
    # the compare page likewise: the verdict first, then how each segment changed
    dash_duo.driver.get(dash_duo.server_url + "/compare?model=big")
    dash_duo.wait_for_element("#verdict", timeout=30)
    dash_duo.wait_for_element("#segment-deltas .main-svg", timeout=60)
    assert "Working out" not in dash_duo.find_element("#compare-segments").text
    assert axe_violations(dash_duo.driver) == []
    assert dash_duo.get_logs() == []
