"""The model card and the retraining story in a browser: reached from the model page, every
section shown, registry Markdown rendered without its HTML, the card's Markdown export."""
from __future__ import annotations

import time

import pytest

from app import Settings, create_app
from registry import SAMPLE_REGISTRY
from registry.writer import log_model

from browser_helpers import axe_violations, click, wait_until  # noqa: E402

pytestmark = pytest.mark.browser

EVIL = ('Scores **leavers**. <script>window.__pwned = 1</script>'
        '<img src=x onerror="window.__pwned = 2"> [link](javascript:window.__pwned=3) '
        '<javascript:window.__pwned=4> [ok](https://example.org)')


@pytest.fixture(autouse=True)
def desktop_window(dash_duo):
    dash_duo.driver.set_window_size(1400, 1000)


def test_card_and_history_of_the_sample_churn_model(dash_duo):
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    driver = dash_duo.driver
    driver.get(dash_duo.server_url + "/models/customer-churn")
    dash_duo.wait_for_element("#model-links", timeout=30)
    t0 = time.perf_counter()
    click(dash_duo, "#model-links a[href='/models/customer-churn/card']")
    dash_duo.wait_for_element("#model-card", timeout=30)
    print(f"\n[timing] model page -> card outline in {time.perf_counter() - t0:.2f} s")
    wait_whole(dash_duo, "#model-card")
    print(f"[timing] model page -> whole card in {time.perf_counter() - t0:.2f} s")
    assert dash_duo.find_element("h1").text == "customer-churn: model card"
    text = dash_duo.find_element("#model-card").text
    for words in ("What it is for", "cancelling within the next 90 days", "retention-analytics",
                  "one customer", "15,000", "5,000", "ROC AUC", "95% CI", "Weakest contract",
                  "A competitor launched", "Value of a positive caught", "v4"):
        assert words in text, words
    assert "Not documented yet" not in text
    assert dash_duo.find_element("#model-card strong").text == \
        "cancelling within the next 90 days"  # the purpose's Markdown
    assert len(dash_duo.find_elements("#card-metrics .metric-card")) == 4
    assert len(dash_duo.find_elements("#card-versions tbody tr")) == 4
    # the card's report menu offers HTML, PDF and Markdown (no slide deck)
    shown = [b.get_attribute("id") for b in dash_duo.find_elements("#report-tools button")
             if b.is_displayed()]
    assert shown == ["report-html", "report-pdf", "report-md"]
    click(dash_duo, "#report-md")
    dash_duo.wait_for_contains_text("#report-status",
                                    "Markdown ready: customer-churn-model-card.md", timeout=60)

    t0 = time.perf_counter()
    click(dash_duo, "a[href='/models/customer-churn/history']")
    dash_duo.wait_for_element("#history-timeline", timeout=60)
    print(f"[timing] card -> retraining story outline in {time.perf_counter() - t0:.2f} s")
    wait_whole(dash_duo, "#history-body")
    print(f"[timing] card -> retraining story (measured) in {time.perf_counter() - t0:.2f} s")
    assert dash_duo.find_element("#history-last-helped").text.startswith(
        "The last retraining that helped was v4: ROC AUC +")
    items = dash_duo.find_elements("#history-timeline > li")
    assert [i.get_attribute("id") for i in items] == [f"history-v{v}" for v in (4, 3, 2, 1)]
    v4 = dash_duo.find_element("#history-v4").text
    assert "Features added: support_calls, data_usage_gb." in v4
    assert "It helped: ROC AUC +" in v4 and "Monthly value:" in v4
    dash_duo.wait_for_element("#history-effects .main-svg", timeout=30)
    assert dash_duo.get_logs() == []


def test_registry_markdown_is_shown_without_its_html(dash_duo, tiny_registry):
    log_model(tiny_registry, "churn", "binary", description=EVIL, entity="customer",
              positive_label=1, card={"limitations": [EVIL]})
    dash_duo.start_server(create_app(Settings(registry=str(tiny_registry))))
    driver = dash_duo.driver
    driver.get(dash_duo.server_url + "/models/churn/card")
    dash_duo.wait_for_element("#model-card", timeout=30)
    wait_whole(dash_duo, "#model-card")
    card = dash_duo.find_element("#model-card")
    assert card.find_elements("css selector", "script, img, iframe") == []
    hrefs = [a.get_attribute("href") or "" for a in card.find_elements("css selector", "a")]
    assert hrefs == ["https://example.org/"] * 2  # the javascript: links stayed text
    assert card.find_element("css selector", "strong").text == "leavers"
    assert driver.execute_script("return window.__pwned === undefined")
    # fields nobody documented say so, and how to document them
    missing = dash_duo.find_element("#card-missing").text
    assert "not documented yet" in missing and "Intended use" in missing
    assert "document it as card.intended_use" in card.text
    wait_until(lambda: driver.execute_script("return document.readyState === 'complete'"),
               timeout=30, what="the page to settle")
    assert axe_violations(driver) == []
    assert dash_duo.get_logs() == []


def wait_whole(dash_duo, css: str, timeout: float = 60):
    """Until the section's outline (shown at once) has been replaced by the measured whole."""
    wait_until(lambda: "Working out" not in dash_duo.find_element(css).text
               and "being worked out" not in dash_duo.find_element(css).text,
               timeout=timeout, what=f"{css} measured")
