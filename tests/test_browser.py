"""What only a browser shows: the portfolio, following a card, broken models, accessibility.

Runs in headless Chromium through dash_duo: ``pytest --headless``.
"""
from __future__ import annotations

import json
import shutil
import time

import pytest

from app import Settings, create_app
from registry import SAMPLE_REGISTRY, open_source

from browser_helpers import axe_violations, click, wait_cards, wait_until  # noqa: E402 (tests/ on sys.path)
from test_browser_experiments import GRID_CONTAINERS  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def desktop_window(dash_duo):
    dash_duo.driver.set_window_size(1400, 1000)


def test_portfolio_shows_every_sample_model_and_leads_to_its_page(dash_duo):
    names = [m.name for m in open_source(str(SAMPLE_REGISTRY)).list_models().items]
    assert len(names) >= 4
    app = create_app(Settings(registry=str(SAMPLE_REGISTRY)))
    dash_duo.start_server(app)
    t0 = time.perf_counter()
    dash_duo.driver.get(dash_duo.server_url + "/")
    cards = wait_cards(dash_duo, len(names))
    print(f"\n[timing] portfolio page (cold) shown in {time.perf_counter() - t0:.2f} s")
    assert sorted(c.get_attribute("id") for c in cards) == sorted(
        json.dumps({"model": n, "type": "model-card"}, separators=(",", ":")) for n in names)
    for card in cards:
        text = card.text
        assert "Champion" in text and "Last updated" in text
        assert any(s in text for s in ("OK:", "Watch:", "Act:"))
    assert axe_violations(dash_duo.driver) == []

    for name in names:
        t0 = time.perf_counter()
        dash_duo.driver.get(dash_duo.server_url + "/")
        wait_cards(dash_duo, len(names))
        click(dash_duo, f"a[href='/models/{name}'].btn")
        dash_duo.wait_for_text_to_equal("h1", name, timeout=20)
        dash_duo.wait_for_element("#versions-table", timeout=20)
        print(f"[timing] card -> /models/{name} in {time.perf_counter() - t0:.2f} s")
        assert dash_duo.driver.current_url.endswith(f"/models/{name}")
        rows = dash_duo.find_elements("#versions-table tbody tr")
        assert len(rows) >= 3
        assert dash_duo.find_element("#model-description").text
        assert axe_violations(dash_duo.driver) == []
    assert dash_duo.get_logs() == []


def test_broken_model_shows_a_message_and_the_others_still_work(dash_duo, tmp_path):
    reg = tmp_path / "reg"
    shutil.copytree(SAMPLE_REGISTRY, reg)
    names = sorted(p.name for p in (reg / "models").iterdir())
    broken = names[0]
    (reg / "models" / broken / "model.json").write_text('{"task": "binary",,}')
    dash_duo.start_server(create_app(Settings(registry=str(reg))))
    dash_duo.driver.get(dash_duo.server_url + "/")
    cards = wait_cards(dash_duo, len(names))
    by_id = {json.loads(c.get_attribute("id"))["model"]: c for c in cards}
    assert set(by_id) == set(names)
    assert "Can't read" in by_id[broken].text
    assert f"models/{broken}/model.json" in by_id[broken].text
    assert "not valid JSON" in by_id[broken].text
    for other in names[1:]:
        assert "Champion" in by_id[other].text
    dash_duo.driver.get(dash_duo.server_url + f"/models/{broken}")
    dash_duo.wait_for_contains_text("#main", "could not be read", timeout=20)
    dash_duo.driver.get(dash_duo.server_url + f"/models/{names[1]}")
    dash_duo.wait_for_element("#versions-table", timeout=20)
    assert "Traceback" not in dash_duo.driver.page_source
    assert dash_duo.get_logs() == []


def test_unknown_model_and_page_say_not_found(dash_duo):
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    dash_duo.driver.get(dash_duo.server_url + "/models/no-such-model")
    dash_duo.wait_for_contains_text("#main", "There is no model called", timeout=20)
    dash_duo.driver.get(dash_duo.server_url + "/no/such/page")
    dash_duo.wait_for_contains_text("#main", "This page does not exist", timeout=20)
    assert dash_duo.get_logs() == []


def test_monitoring_page_from_the_portfolio(dash_duo):
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    dash_duo.driver.get(dash_duo.server_url + "/")
    wait_cards(dash_duo, 4)
    click(dash_duo, "a[href='/monitoring/customer-churn']")
    dash_duo.wait_for_text_to_equal("h1", "customer-churn in production", timeout=20)
    for graph in ("#performance-over-time", "#drift-heatmap", "#score-drift"):
        dash_duo.wait_for_element(f"{graph} .main-svg", timeout=20)
    assert "No labels yet for Nov 2026" in dash_duo.find_element("#monitoring-summary").text
    assert len(dash_duo.find_elements("#drift-table tbody tr")) == 5
    assert axe_violations(dash_duo.driver) == []
    assert dash_duo.get_logs() == []


def test_recommendations_list_and_expand(dash_duo):
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    dash_duo.driver.get(dash_duo.server_url + "/recommendations")
    dash_duo.wait_for_element("#recommendations-summary", timeout=60)
    buttons = dash_duo.find_elements("#recommendations .accordion-button")
    assert len(buttons) >= 4
    first = buttons[0].text
    assert first.startswith("customer-churn — Retrain")  # the most money first
    click(dash_duo, "#recommendations .accordion-item:first-child .accordion-button")
    dash_duo.wait_for_element(
        "#recommendations .accordion-item:first-child .accordion-collapse.show .main-svg",
        timeout=20)
    body = dash_duo.find_element("#recommendations .accordion-item:first-child").text
    assert "ROC AUC in Oct 2026" in body and "Confidence: high" in body
    assert axe_violations(dash_duo.driver) == []
    # the retrain advice names the last retraining that helped and links to the story
    assert "The last retraining that helped was v4" in body
    click(dash_duo, "#recommendations .accordion-item:first-child "
                    "a[href='/models/customer-churn/history']")
    dash_duo.wait_for_contains_text("#history-last-helped",
                                    "The last retraining that helped was v4", timeout=60)
    # the portfolio cards carry each model's headline recommendation
    dash_duo.driver.get(dash_duo.server_url + "/")
    dash_duo.wait_for_contains_text("#portfolio-cards", "Recommendation: Retrain", timeout=60)
    assert dash_duo.get_logs() == []


def test_cost_of_a_miss_moves_the_best_threshold_and_the_money(dash_duo):
    from selenium.webdriver.common.keys import Keys
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    dash_duo.driver.get(dash_duo.server_url + "/models/customer-churn")
    dash_duo.wait_for_text_to_equal("#best-threshold", "0.06", timeout=30)
    before = dash_duo.find_element("#best-value").text
    box = dash_duo.find_element("#what-if-cost_fn")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("0", Keys.ENTER)
    dash_duo.wait_for_text_to_equal("#best-threshold", "0.15", timeout=30)
    assert dash_duo.find_element("#best-value").text != before
    assert "cost_fn=0" in dash_duo.driver.current_url
    # the address reopens the same what-if
    dash_duo.driver.get(dash_duo.driver.current_url)
    dash_duo.wait_for_text_to_equal("#best-threshold", "0.15", timeout=30)
    assert dash_duo.find_element("#what-if-cost_fn").get_attribute("value") == "0"
    assert axe_violations(dash_duo.driver) == []
    assert dash_duo.get_logs() == []


EVERY_PAGE = ("/", "/models/customer-churn", "/models/digits", "/models/diabetes-progression",
              "/compare?model=customer-churn", "/monitoring/customer-churn", "/recommendations",
              "/experiments",
              "/experiments/compare?experiment=churn-sweep&runs=sweep-001&runs=sweep-002"
              "&runs=sweep-003", "/models/customer-churn/card", "/models/customer-churn/history")


def test_every_page_passes_a_current_axe_core(dash_duo):
    """Each page template, once it has settled, has no serious or critical violation under
    the pinned axe-core 4.x (tests/axe/package.json)."""
    dash_duo.start_server(create_app(Settings(registry=str(SAMPLE_REGISTRY))))
    driver = dash_duo.driver
    found = {}
    for path in EVERY_PAGE:
        driver.get(dash_duo.server_url + path)
        dash_duo.wait_for_element("h1", timeout=60)
        wait_until(lambda: driver.execute_script(
            "return document.readyState === 'complete' && "
            "!document.querySelector('[data-dash-is-loading=\"true\"], .dash-spinner, "
            "._dash-loading-callback')"), timeout=60, what=f"{path} to settle")
        # AG Grid's own empty containers on /experiments: see test_browser_experiments.py
        problems = axe_violations(driver, ignore=lambda rule, target: (
            rule == "aria-required-children" and len(target) == 1
            and target[0] in GRID_CONTAINERS))
        if problems:
            found[path] = problems
    assert found == {}


def test_portfolio_search_filter_and_order_stay_in_the_address(dash_duo):
    """Cards appear first and fill in; search, the health filter and the order work in the
    browser, are announced in words, and a shared link reopens the same view."""
    from selenium.webdriver.support.ui import Select

    app = create_app(Settings(registry=str(SAMPLE_REGISTRY)))
    dash_duo.start_server(app)
    dash_duo.driver.get(dash_duo.server_url + "/")
    wait_cards(dash_duo, 4)
    dash_duo.wait_for_contains_text("#portfolio-health-counts", "Health: 1 need action, 3 OK.")

    def shown():
        return dash_duo.driver.execute_script(
            "return Array.from(document.querySelectorAll('.model-card'))"
            ".filter(c => c.offsetParent !== null)"
            ".map(c => [c.getBoundingClientRect().top, c.getBoundingClientRect().left,"
            " c.querySelector('h2').textContent])"
            ".sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(c => c[2])")

    assert shown() == ["breast-cancer", "customer-churn", "diabetes-progression", "digits"]
    dash_duo.find_element("#portfolio-search").send_keys("category")  # digits' task
    wait_until(lambda: shown() == ["digits"], what="the search to keep digits only")
    dash_duo.wait_for_text_to_equal("#portfolio-shown", "Showing 1 of 4 models.")
    dash_duo.find_element("#portfolio-search").clear()
    dash_duo.find_element("#portfolio-search").send_keys("zzz")
    dash_duo.wait_for_text_to_equal("#portfolio-shown",
                                    "No model matches this search and filter.")
    dash_duo.find_element("#portfolio-search").clear()
    dash_duo.find_element("#portfolio-search").send_keys(" ")
    wait_until(lambda: len(shown()) == 4, what="every card back")

    Select(dash_duo.find_element("#portfolio-health")).select_by_value("act")
    wait_until(lambda: shown() == ["customer-churn"], what="the health filter")
    Select(dash_duo.find_element("#portfolio-health")).select_by_value("all")
    Select(dash_duo.find_element("#portfolio-sort")).select_by_value("attention")
    wait_until(lambda: shown()[0] == "customer-churn", what="needs-attention first")
    # the address follows the view (a callback after the cards', so a moment later)
    wait_until(lambda: "sort=attention" in dash_duo.driver.current_url
               and "health" not in dash_duo.driver.current_url, what="the address")

    # a shared link reopens the same view
    dash_duo.driver.get(dash_duo.server_url + "/?health=act&sort=money")
    wait_cards(dash_duo, 1)
    wait_until(lambda: shown() == ["customer-churn"], what="the filter from the link")
    assert Select(dash_duo.find_element("#portfolio-sort")).first_selected_option \
        .get_attribute("value") == "money"
    assert axe_violations(dash_duo.driver) == []
    assert dash_duo.get_logs() == []


def test_a_large_portfolio_pages_and_searches_on_the_server(dash_duo, tmp_path):
    """Fourteen models: the first page holds twelve cards, the pager moves to the rest and
    keeps the page in the address; a search looks through every model, not just the page."""
    root = tmp_path / "registry"
    shutil.copytree(SAMPLE_REGISTRY, root)
    for i in range(10):
        src = root / "models" / "diabetes-progression"
        dest = root / "models" / f"diabetes-progression-{i:02d}"
        shutil.copytree(src, dest)
        meta = json.loads((dest / "model.json").read_text())
        meta["name"] = dest.name
        (dest / "model.json").write_text(json.dumps(meta))
    dash_duo.start_server(create_app(Settings(registry=str(root))))
    dash_duo.driver.get(dash_duo.server_url + "/")
    assert len(wait_cards(dash_duo, 12, timeout=60)) == 12
    assert dash_duo.find_element("#portfolio-page-text").text == \
        "Models 1–12 of 14 · page 1 of 2"
    click(dash_duo, "#portfolio-next")
    dash_duo.wait_for_text_to_equal("#portfolio-page-text", "Models 13–14 of 14 · page 2 of 2")
    wait_until(lambda: [c.text for c in dash_duo.find_elements(".model-card h2")]
               == ["diabetes-progression-09", "digits"], what="the second page's cards")
    wait_until(lambda: "page=2" in dash_duo.driver.current_url, what="the page in the address")
    assert dash_duo.find_element("#portfolio-next").get_attribute("disabled")
    # every model's health is worked out in the background, not only the page's
    dash_duo.wait_for_contains_text("#portfolio-health-counts", "Health: 1 need action",
                                    timeout=90)
    wait_until(lambda: "still being checked" not in
               dash_duo.find_element("#portfolio-health-counts").text, timeout=90,
               what="every model checked")
    dash_duo.find_element("#portfolio-search").send_keys("churn")  # on page 1, not page 2
    dash_duo.wait_for_text_to_equal("#portfolio-shown", "Showing 1 of 14 models.")
    wait_until(lambda: [c.text for c in dash_duo.find_elements(".model-card h2")]
               == ["customer-churn"], what="the search across pages")
    wait_until(lambda: "page=" not in dash_duo.driver.current_url and
               "q=churn" in dash_duo.driver.current_url, what="the search in the address")
    # a shared link opens the same page
    dash_duo.driver.get(dash_duo.server_url + "/?page=2")
    dash_duo.wait_for_text_to_equal("#portfolio-page-text", "Models 13–14 of 14 · page 2 of 2",
                                    timeout=30)
    assert axe_violations(dash_duo.driver) == []
    assert dash_duo.get_logs() == []
