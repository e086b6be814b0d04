"""ModelDeck on MLflow, in a browser: the pages on an MLflow store, and a tracking server that
goes away mid-session and comes back.

Runs in headless Chromium through dash_duo: ``pytest --headless``. Skipped, saying why, only
when MLflow is not installed.
"""
from __future__ import annotations


import dash
import pytest

from app import Settings, create_app
from contract.contract_content import CONTENT, Content, write_sqlite_store, write_mlflow
from contract.mlflow_server import MlflowServer, needs_mlflow
from registry.naming import display_name
from browser_helpers import axe_violations, click, wait_cards, wait_until

pytestmark = [pytest.mark.browser, needs_mlflow]


@pytest.fixture(autouse=True)
def desktop_window(dash_duo):
    dash_duo.driver.set_window_size(1400, 1000)


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory) -> str:
    return write_sqlite_store(tmp_path_factory.mktemp("browser-mlflow"))


def test_portfolio_and_model_page_on_an_mlflow_store(dash_duo, sqlite_uri):
    dash_duo.start_server(create_app(Settings(registry=sqlite_uri)))
    dash_duo.driver.get(dash_duo.server_url + "/")
    cards = wait_cards(dash_duo, len(CONTENT.models))
    assert len(cards) == len(CONTENT.models)
    summary = dash_duo.find_element("#portfolio-summary").text
    assert display_name(sqlite_uri) in summary and sqlite_uri not in summary
    assert not dash_duo.find_elements("#registry-banner-alert")
    assert axe_violations(dash_duo.driver) == []

    click(dash_duo, "a[href='/models/churn'].btn")
    dash_duo.wait_for_text_to_equal("h1", "churn", timeout=20)
    dash_duo.wait_for_element("#versions-table", timeout=20)
    rows = dash_duo.find_elements("#versions-table tbody tr")
    assert [r.find_element("css selector", "th").text for r in rows] == ["v4", "v3", "v2", "v1"]
    # v4 was registered with metrics only: the table says its charts need prediction rows
    assert "no evaluation rows" in rows[0].text
    assert "champion" in rows[2].text and "challenger" in rows[1].text
    assert "Archived" in rows[3].text
    assert dash_duo.find_element("#model-description").text == "Who will cancel within 90 days"
    # (the model page's own accessibility is checked by tests/test_browser.py)
    assert dash_duo.get_logs() == []


def test_experiments_page_on_an_mlflow_store(dash_duo, sqlite_uri):
    app = create_app(Settings(registry=sqlite_uri))
    if not any(p.get("path") == "/experiments" for p in dash.page_registry.values()):
        pytest.skip("this checkout has no /experiments page yet")
    dash_duo.start_server(app)
    spec = CONTENT.experiments[0]
    dash_duo.driver.get(dash_duo.server_url + f"/experiments?experiment={spec.name}")
    dash_duo.wait_for_contains_text("#main", f"{len(spec.runs)} runs", timeout=20)
    assert "Traceback" not in dash_duo.driver.page_source
    assert dash_duo.get_logs() == []


def test_server_that_stops_mid_session_shows_a_banner_and_recovers(dash_duo, tmp_path):
    server = MlflowServer(tmp_path / "server").start()
    try:
        write_mlflow(Content(models=(CONTENT.model("churn"),), experiments=()), server.client())
        dash_duo.start_server(create_app(Settings(registry=server.url,
                                                  status_poll_seconds=1.0)))
        dash_duo.driver.get(dash_duo.server_url + "/")
        wait_cards(dash_duo, 1, timeout=60)
        assert not dash_duo.find_elements("#registry-banner-alert")

        server.stop()
        dash_duo.wait_for_element("#registry-banner-alert", timeout=30)
        text = dash_duo.find_element("#registry-banner-alert").text
        assert server.url in text and "cannot reach the MLflow server" in text
        assert "Check that the tracking server is running" in text
        # another page while the server is away: the banner stays, no stack trace
        dash_duo.driver.get(dash_duo.server_url + "/models/churn")
        dash_duo.wait_for_element("#registry-banner-alert", timeout=30)
        dash_duo.wait_for_contains_text("#main", "could not be opened", timeout=20)
        assert "Traceback" not in dash_duo.driver.page_source
        assert axe_violations(dash_duo.driver) == []

        server.start()  # the same port, the same store
        wait_until(lambda: not dash_duo.find_elements("#registry-banner-alert"), 60,
              "the banner to go")
        dash_duo.wait_for_element("#versions-table", timeout=30)  # the page reloaded itself
        assert dash_duo.find_element("h1").text == "churn"
        assert dash_duo.get_logs() == []
    finally:
        server.stop()
