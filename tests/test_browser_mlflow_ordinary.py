"""ModelDeck on an MLflow registry kept the ordinary way, in a browser: every model on the
portfolio, the champion's logged test metrics as stored, the evaluator's charts, /compare on
two versions without prediction rows, and nothing "unreadable".

The store (tests/mlflow_ordinary.py) is built once per session by MLflow's real client:
sklearn autolog, mlflow.models.evaluate on a held-out set, register_model, aliases
champion/challenger, no modeldeck.* tags, no prediction rows.
"""
from __future__ import annotations

import pytest

from app import Settings, create_app
from browser_helpers import wait_cards, wait_until
from contract.mlflow_server import needs_mlflow

pytestmark = [pytest.mark.browser, needs_mlflow]

TASK_WORDS = {"cancer": "Yes/no prediction", "wine": "Category prediction",
              "diabetes": "Number prediction"}


@pytest.fixture(autouse=True)
def desktop_window(dash_duo):
    dash_duo.driver.set_window_size(1400, 1000)


def test_an_ordinary_mlflow_registry_reads_fully(dash_duo, ordinary_mlflow_store):
    from mlflow import MlflowClient
    client = MlflowClient(tracking_uri=ordinary_mlflow_store,
                          registry_uri=ordinary_mlflow_store)
    dash_duo.start_server(create_app(Settings(registry=ordinary_mlflow_store)))
    dash_duo.driver.get(dash_duo.server_url + "/")
    assert len(wait_cards(dash_duo, 3)) == 3
    text = dash_duo.find_element("#portfolio-cards").text
    for name, word in TASK_WORDS.items():
        assert name in text and word in text
    assert "can't read" not in text.lower() and "could not be read" not in text
    assert "unreadable" not in dash_duo.find_element("#portfolio-summary").text

    for name in TASK_WORDS:
        dash_duo.driver.get(dash_duo.server_url + f"/models/{name}")
        dash_duo.wait_for_text_to_equal("h1", name, timeout=30)
        dash_duo.wait_for_element("#logged-metrics", timeout=30)
        assert "inferred from the metrics mlflow.evaluate logged on v1" in \
            dash_duo.find_element("#task-source").text
        champion = client.get_model_version_by_alias(name, "champion")
        run = client.get_run(champion.run_id)
        held_out = dash_duo.find_element("#logged-metrics-held-out").text
        for key, value in run.data.metrics.items():
            if key.startswith("training_"):
                continue
            assert f"{key} = {value!r}" in held_out  # exactly as stored
        training = dash_duo.find_element("#logged-metrics-training").text
        assert "training_score" in training
        assert "on training data" in dash_duo.find_element("#logged-metrics").text
        page = dash_duo.find_element("#main").text
        assert "unreadable" not in page.lower()
        assert "no interval: needs prediction rows" in page
        if name == "cancer":
            assert "(exact, from the logged counts)" in held_out
            wait_until(lambda: dash_duo.driver.execute_script(
                "const i = document.querySelector('#logged-images img');"
                "return i && i.complete && i.naturalWidth > 0;"), 30, "an evaluator chart")
            assert "drawn by mlflow.evaluate" in dash_duo.find_element("#logged-images").text

        dash_duo.driver.get(dash_duo.server_url + f"/compare?model={name}")
        dash_duo.wait_for_element("#compare-logged-table", timeout=30)
        table = dash_duo.find_element("#compare-logged-table").text
        assert "v1" in table and "v2" in table
        assert "paired 95% intervals need the prediction rows" in \
            dash_duo.find_element("#verdict").text
        changes = dash_duo.find_element("#version-changes").text
        assert ("alpha" if name == "diabetes" else "C") in changes
        assert "unreadable" not in dash_duo.find_element("#main").text.lower()
    dash_duo.driver.get(dash_duo.server_url + "/recommendations")
    dash_duo.wait_for_contains_text("#main", "cancer — Keep v1: nothing logged calls for a "
                                             "change.", 30)
    assert "a verdict needs prediction rows to be sure" in dash_duo.driver.execute_script(
        "return document.querySelector('#main').textContent;")
    assert "unreadable" not in dash_duo.find_element("#main").text.lower()
    assert "Traceback" not in dash_duo.driver.page_source
    assert dash_duo.get_logs() == []
