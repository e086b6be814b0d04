"""Shared fixtures: a small registry written with the writer API, and app factories."""
from __future__ import annotations

import os
import stat
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
# Short links (registry.links) go to a folder of this test run, not the user's cache.
os.environ.setdefault("MODELDECK_STATE_DIR",
                      tempfile.mkdtemp(prefix="modeldeck-state-test-"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from registry.model import BusinessSettings  # noqa: E402
from registry.writer import (  # noqa: E402
    log_experiment, log_model, log_model_version, log_monitoring, log_run,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def build_tiny_registry(root: Path, n: int = 400, seed: int = 0) -> Path:
    """Three models (one per task), three versions each, monitoring and an experiment."""
    rng = np.random.default_rng(seed)
    log_model(root, "churn", "binary", description="Who will leave", owner="team-a",
              entity="customer", positive_label=1, tags={"domain": "crm"},
              business=BusinessSettings(positive_means="the customer leaves",
                                        value_true_positive=100, cost_false_positive=10,
                                        cost_false_negative=20, volume_per_month=1000))
    y = rng.integers(0, 2, n)
    region = rng.choice(["north", "south"], n)
    for v, noise in ((1, 1.2), (2, 0.8), (3, 0.6)):
        score = 1 / (1 + np.exp(-(2 * y - 1) * 1.5 + rng.normal(0, noise, n)))
        log_model_version(root, "churn", y_true=y, y_score=score, segments={"region": region},
                          features={"x": rng.normal(size=n)}, params={"C": v},
                          metrics={"cv_auc": 0.7 + v / 100}, algorithm="LogReg",
                          aliases=["champion"] if v == 2 else (["challenger"] if v == 3 else []),
                          stage="Archived" if v == 1 else None,
                          created_at=T0.replace(month=v), description=f"version {v}")
    months = pd.date_range("2026-01-01", periods=4, freq="MS", tz="UTC")
    ts = np.repeat(months, 300) + pd.to_timedelta(np.tile(np.arange(300), 4), unit="h")
    ym = rng.integers(0, 2, len(ts))
    sm = 1 / (1 + np.exp(-(2 * ym - 1) * 1.5 + rng.normal(0, 0.8, len(ts))))
    ytrue = ym.astype(float)
    ytrue[-300:] = np.nan
    log_monitoring(root, "churn", timestamp=ts, version=2, y_true=ytrue, y_score=sm)

    log_model(root, "iris", "multiclass", description="Flowers", entity="flower")
    yc = rng.integers(0, 3, n)
    for v in (1, 2, 3):
        p = rng.dirichlet(np.ones(3), n)
        p[np.arange(n), yc] += v * 0.5
        p = p / p.sum(axis=1, keepdims=True)
        log_model_version(root, "iris", y_true=yc, proba=p, classes=[0, 1, 2],
                          y_pred=p.argmax(axis=1), aliases=["champion"] if v == 3 else [],
                          created_at=T0.replace(month=v))

    log_model(root, "price", "regression", description="House prices", target_unit="kEUR",
              entity="house")
    yr = rng.normal(300, 50, n)
    for v in (1, 2, 3):
        log_model_version(root, "price", y_true=yr, y_pred=yr + rng.normal(0, 40 / v, n),
                          aliases=["champion"] if v == 3 else [], table_format="csv",
                          created_at=T0.replace(month=v))

    log_experiment(root, "sweep", "A small sweep")
    for i in range(5):
        hist = pd.DataFrame({"key": "loss", "step": np.arange(10),
                             "value": np.linspace(1, 0.1 * (i + 1), 10)})
        log_run(root, "sweep", run_id=f"run-{i}", name=f"trial {i}",
                params={"lr": 0.1 * (i + 1), "depth": i % 3}, metrics={"auc": 0.8 + i / 100},
                tags={"who": "test"}, start_time=T0, end_time=T0, history=hist)
    return root


@pytest.fixture
def tiny_registry(tmp_path) -> Path:
    return build_tiny_registry(tmp_path / "reg")


def snapshot(root: Path) -> dict:
    """Every file under root with its size, mtime and bytes: to prove nothing was written."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns,
                                         p.read_bytes() if p.is_file() else None)
    return out


def make_read_only(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def make_writable(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


@pytest.fixture(scope="session", autouse=True)
def _dash_test_ports():
    """dash_duo numbers its servers from 58050 in each process; MODELDECK_TEST_PORT moves the
    start so that two test runs on one machine do not collide."""
    from dash.testing.application_runners import BaseDashRunner
    BaseDashRunner._next_port = int(os.environ.get("MODELDECK_TEST_PORT", "58050"))
    yield


@pytest.fixture(scope="session")
def ordinary_mlflow_store(tmp_path_factory) -> str:
    """An MLflow store kept the ordinary way (tests/mlflow_ordinary.py), built once per test
    session by MLflow's real client: autolog, mlflow.models.evaluate, register_model, aliases,
    no modeldeck.* tags and no prediction rows. Read it only; copy it to change it."""
    pytest.importorskip("mlflow", reason="MLflow is not installed (pip install -e '.[mlflow]')")
    from mlflow_ordinary import build_ordinary_store
    return build_ordinary_store(tmp_path_factory.mktemp("ordinary-mlflow"))


def monitoring_page(layout, **query) -> tuple[str, str]:
    """The monitoring page as a browser ends up with it, as text: (its layout and the outline
    its first callback sends, the whole body its second callback sends). Call inside a
    request context of the app whose page ``layout`` is."""
    from pages import monitoring
    page = layout(**query)
    ref = _find(page, "monitoring-ref")
    if ref is None:  # a message instead of the page (no such model, a bad version)
        return str(page), str(page)
    body, done = monitoring.fill(ref.data)
    whole = body if done else monitoring.fill_whole(False, ref.data)
    return str(page) + str(body), str(page) + str(whole)


def _find(component, id_):
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, str):
            got = _find(child, id_)
            if got is not None:
                return got
    return None
