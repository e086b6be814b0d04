"""One line of MLflow, the full model page: a model evaluated with
``evaluators=["default", "modeldeck"]`` and registered, with no ModelDeck setting on the
registered model, shows its metric cards, ROC curve and segments in a browser.

The page knows the task from the run tag the evaluator sets (``modeldeck.task``); that part of
the reader comes with the branch mlflow-models. Runs in headless Chromium through dash_duo
(``pytest --headless``); skipped, saying why, only when MLflow is not installed.
"""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from app import Settings, create_app
from browser_helpers import wait_until
from contract.mlflow_server import needs_mlflow
from mlflow_evaluate_helpers import evaluate_and_register, tracking_store

pytestmark = [pytest.mark.browser, needs_mlflow]


def test_a_model_evaluated_with_the_modeldeck_evaluator_gets_the_full_page(dash_duo, tmp_path):
    import mlflow

    X, y = datasets.load_breast_cancer(return_X_y=True, as_frame=True)
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    size = np.where(X["mean radius"] > 14, "large", "small")
    with tracking_store(tmp_path / "store") as uri:
        run_id, _, _ = evaluate_and_register("tumours", clf, X, y, "classifier",
                                             {"segments": {"size": size}})
        client = mlflow.MlflowClient()
        logged_auc = client.get_run(run_id).data.metrics["roc_auc"]
        # nothing but MLflow's own calls: no ModelDeck tag on the registered model
        assert not any(k.startswith("modeldeck.")
                       for k in client.get_registered_model("tumours").tags)

    dash_duo.driver.set_window_size(1400, 1000)
    dash_duo.start_server(create_app(Settings(registry=uri)))
    dash_duo.driver.get(dash_duo.server_url + "/models/tumours")
    dash_duo.wait_for_element("#metric-cards", timeout=30)
    # ModelDeck's ROC AUC from the logged rows, as MLflow logged it
    assert dash_duo.find_element("#card-roc_auc .metric-value").text == f"{logged_auc:.3f}"
    names = wait_until(lambda: dash_duo.driver.execute_script(
        "const g = document.querySelector('#roc-curve .js-plotly-plot');"
        "return g && g.data ? g.data.map(t => t.name || '') : null;"),
        timeout=30, what="the ROC curve")
    assert any(f"AUC {logged_auc:.3f}" in n for n in names), names
    assert dash_duo.find_element("#segment-chart")
    assert dash_duo.get_logs() == []
