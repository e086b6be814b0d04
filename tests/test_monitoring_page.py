"""Monitoring figures plot exactly the report's numbers; the page handles every case."""
from __future__ import annotations

import dash
import numpy as np
import pytest

from analysis.monitoring import monitoring_report
from app import Settings, create_app
from components.monitoring_figures import drift_heatmap, performance_over_time, score_drift
from registry import SAMPLE_REGISTRY, open_source

from conftest import monitoring_page


@pytest.fixture(scope="module")
def churn_report():
    src = open_source(str(SAMPLE_REGISTRY))
    model = src.get_model("customer-churn")
    return monitoring_report(model, src.evaluation("customer-churn", 3).frame,
                             src.monitoring("customer-churn").frame, 3, "roc_auc")


def test_performance_figure_plots_the_report(churn_report):
    r = churn_report
    fig = performance_over_time(r.performance, "ROC AUC", r.reference, r.reference_low,
                                r.reference_high)
    line = fig.data[0]
    labelled = r.performance[r.performance["labelled"] > 0]
    assert list(line.x) == list(labelled["label"])
    np.testing.assert_allclose(np.asarray(line.y, float), labelled["value"].to_numpy(float))
    np.testing.assert_allclose(np.asarray(line.error_y.array, float) + np.asarray(line.y, float),
                               labelled["high"].to_numpy(float))
    assert fig.data[1].name == "no labels yet" and list(fig.data[1].x) == ["Nov 2026"]
    assert fig.layout.title.text.startswith("ROC AUC in production, per month")
    assert fig.layout.xaxis.title.text == "Month" and fig.layout.yaxis.title.text == "ROC AUC"
    assert any(s.y0 == r.reference for s in fig.layout.shapes if s.type == "line")


def test_drift_heatmap_plots_psi(churn_report):
    fig = drift_heatmap(churn_report.drift)
    hm = fig.data[0]
    d = churn_report.drift
    row = list(hm.y).index("support_calls")
    col = list(hm.x).index("Oct 2026")
    expected = d[(d["name"] == "support_calls") & (d["label"] == "Oct 2026")]["psi"].iloc[0]
    assert np.asarray(hm.z, float)[row][col] == pytest.approx(expected)
    assert hm.y[-1] == churn_report.top_drift(1)["name"].iloc[0]  # most drifted on top
    assert fig.layout.yaxis.title.text == "Input" and "PSI" in fig.layout.title.text


def test_score_drift_figure(churn_report):
    fig = score_drift(churn_report.score_drift, "score")
    np.testing.assert_allclose(np.asarray(fig.data[0].y, float),
                               churn_report.score_drift["psi"].to_numpy(float))
    assert fig.layout.yaxis.title.text == "PSI"


@pytest.fixture(scope="module")
def layout():
    app = create_app(Settings(registry=str(SAMPLE_REGISTRY)))
    fn = dash.page_registry["pages.monitoring"]["layout"]

    def render(**query):
        with app.server.test_request_context("/"):
            return monitoring_page(fn, **query)[1]
    return render


def test_monitoring_page_cases(layout):
    text = layout(name="customer-churn")
    assert "ROC AUC in Oct 2026: 0.786" in text and "No labels yet for Nov 2026" in text
    assert "No production data is registered" in layout(name="digits")
    assert "is not a version number" in layout(name="digits", version="abc")
    assert "There is no model called" in layout(name="../etc")
    assert "Version 2 has no production rows" in layout(name="customer-churn", version="2")


def test_broken_production_table_is_named_not_a_stack_trace(tmp_path):
    import shutil
    reg = tmp_path / "reg"
    shutil.copytree(SAMPLE_REGISTRY, reg)
    (reg / "models/customer-churn/monitoring.parquet").write_bytes(b"not parquet")
    app = create_app(Settings(registry=str(reg)))
    fn = dash.page_registry["pages.monitoring"]["layout"]
    with app.server.test_request_context("/"):
        text = monitoring_page(fn, name="customer-churn")[0]
    assert "could not be read" in text
    assert "models/customer-churn/monitoring.parquet" in text and "Traceback" not in text


def test_point_values_only_report_matches_the_full_one(churn_report):
    """The portfolio's health reads the per-window values without intervals or drift; they
    must be exactly the values the monitoring page shows."""
    src = open_source(str(SAMPLE_REGISTRY))
    model = src.get_model("customer-churn")
    points = monitoring_report(model, src.evaluation("customer-churn", 3).frame,
                               src.monitoring("customer-churn").frame, 3, "roc_auc",
                               intervals=False)
    cols = ["label", "rows", "labelled", "value"]
    assert points.performance[cols].equals(churn_report.performance[cols])
    assert points.reference == churn_report.reference
    assert points.performance[["low", "high"]].isna().all().all()
    assert churn_report.performance["low"].notna().any()
    assert points.drift.empty and points.score_drift.empty


def test_page_shows_its_outline_first_then_the_whole(tmp_path):
    """The first screen has each window's value from counts alone; the intervals, the drift
    and the estimate arrive from the second callback, and a later visit shows the whole at
    once (cached by data version)."""
    import shutil

    from pages import monitoring
    reg = tmp_path / "reg"
    shutil.copytree(SAMPLE_REGISTRY, reg)
    app = create_app(Settings(registry=str(reg)))
    fn = dash.page_registry["pages.monitoring"]["layout"]
    ref = {"model": "customer-churn", "version": None, "threshold": None}
    with app.server.test_request_context("/"):
        frame = str(fn(name="customer-churn"))
        assert "Reading the production rows" in frame and "performance-over-time" not in frame
        body, done = monitoring.fill(ref)
        text = str(body)
        assert done is False
        assert "ROC AUC in Oct 2026: 0.786" in text and "monitoring-pending" in text
        assert "drift-heatmap" not in text and "estimate-table" not in text
        assert "their drift and any estimate from the scores are being worked out" in text
        assert "the 95% intervals are being worked out" in text
        whole = str(monitoring.fill_whole(False, ref))
        assert "drift-heatmap" in whole and "estimate-table" in whole
        assert "monitoring-pending" not in whole and "ROC AUC in Oct 2026: 0.786" in whole
        body, done = monitoring.fill(ref)  # a later visit: the whole at once
        assert done is True and str(body) == whole
        with pytest.raises(dash.exceptions.PreventUpdate):
            monitoring.fill_whole(True, ref)


@pytest.mark.parametrize("ref", [None, {}, {"model": 3}, {"model": "customer-churn"},
                                 {"model": "customer-churn", "version": "abc",
                                  "threshold": None},
                                 {"model": "customer-churn", "version": None,
                                  "threshold": "x"}])
def test_a_hand_made_page_question_is_a_400_not_a_500(ref):
    """The staged callbacks' store is written by the page; a request that sends something
    else is the client's mistake, said in a 400."""
    from fuzz_harness import callback_request
    app = create_app(Settings(registry=str(SAMPLE_REGISTRY)))
    client = app.server.test_client()
    whole = next(k for k in app.callback_map if k.startswith("monitoring-body.children@"))
    for req in (callback_request("..monitoring-body.children...monitoring-whole.data..",
                                 [("monitoring-ref", "data", ref)]),
                callback_request(whole, [("monitoring-whole", "data", False)],
                                 [("monitoring-ref", "data", ref)])):
        r = client.post("/_dash-update-component", json=req)
        assert r.status_code == 400, r.get_data(as_text=True)[:300]
        assert "monitoring-ref must be an object" in r.get_data(as_text=True)
    good = {"model": "customer-churn", "version": None, "threshold": 0.3}
    r = client.post("/_dash-update-component", json=callback_request(
        "..monitoring-body.children...monitoring-whole.data..",
        [("monitoring-ref", "data", good)]))
    assert r.status_code == 200 and "ROC AUC in Oct 2026" in r.get_data(as_text=True)
