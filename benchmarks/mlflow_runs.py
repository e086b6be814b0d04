"""ModelDeck's experiment pages on a 20,000-run MLflow store, beside MLflow's own REST search.

    python benchmarks/mlflow_runs.py --store /tmp/bench-mlflow     # build once, then reuse
    python benchmarks/mlflow_runs.py --store /tmp/bench-mlflow --skip-mlflow

The store (sqlite, MLflow's own schema): 20,000 runs x 15 params x 15 metrics, 200-step
``val_loss`` and ``train_loss`` histories for 1,000 runs, written in bulk into MLflow's tables
(about a minute; ``--store`` keeps it).

Each ModelDeck figure is taken in a fresh Python process (``--scenario``): the app is created
(imports done, nothing read: a freshly started server), then the clock runs over what the
browser would ask for, through the pages' own functions:

* first rows: ``/experiments`` layout + the grid's first block (``rows`` callback);
* filter from a link: the same with ``q=metrics.auc > 0.9`` in the link;
* compare N runs, first chart: ``/experiments/compare?sel=…`` layout + the parallel
  coordinates callback (cold), then again in the same process (warm);
* sort and filter: 40 grid requests (sorts by metrics and params, expressions, quick search),
  after the background read has finished, p50/p95;
* JSON bytes of the layout and of every callback response, and the length of each link.

Beside them, MLflow's server (``mlflow server --workers 1`` on 127.0.0.1) on the same store:
``/api/2.0/mlflow/runs/search`` for the first 100 runs, with ``metrics.auc > 0.9``, ordered by
``metrics.auc``, and N runs by id plus their ``val_loss`` histories.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXPERIMENT = "bench-sweep"
PARAMS = 15
METRICS = 15
STEPS = 200
HISTORY_KEYS = ("val_loss", "train_loss")
T0 = 1_780_000_000_000  # first run's start, ms


def build(store: Path, n: int, history_runs: int, quiet: bool = False) -> str:
    """The sqlite store of ``n`` runs in ``store/mlflow.db`` (reused when it is there).

    The experiment is made with MLflow's client (so the schema is MLflow's own); the runs are
    written with bulk INSERTs into MLflow's own tables (runs, params, tags, metrics,
    latest_metrics) through its SQLAlchemy store, 2,000 runs per transaction: minutes instead
    of the half hour that 20,000 ``create_run`` + ``log_batch`` + ``set_terminated`` take.
    """
    from mlflow import MlflowClient
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag,
    )
    from sqlalchemy import insert

    uri = f"sqlite:///{store / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if client.get_experiment_by_name(EXPERIMENT) is not None:
        return uri
    exp = int(client.create_experiment(EXPERIMENT, artifact_location=(store / "art").as_uri()))
    sql = client._tracking_client.store
    rng = np.random.default_rng(0)
    names = [f"p{k:02d}" for k in range(PARAMS - 3)]
    metric_names = ["auc", "val_loss", "train_loss", "accuracy", "f1", "precision", "recall",
                    "log_loss", "brier", "train_seconds"] + \
        [f"m{k:02d}" for k in range(METRICS - 10)]
    history = set(rng.choice(n, size=min(history_runs, n), replace=False).tolist())
    start = time.perf_counter()
    chunk = 2000
    for lo in range(0, n, chunk):
        runs, params, tags, metrics, latest = [], [], [], [], []
        for i in range(lo, min(n, lo + chunk)):
            rid = f"{i:08d}" + rng.bytes(12).hex()
            ts = T0 + i * 60_000
            end = ts + int(rng.integers(10_000, 600_000))
            status = "FAILED" if i % 97 == 0 else "FINISHED"
            runs.append(dict(run_uuid=rid, name=f"trial-{i:05d}", source_type="LOCAL",
                             source_name="", entry_point_name="", user_id="bench",
                             status=status, start_time=ts, end_time=end, source_version="",
                             lifecycle_stage="active", artifact_uri=f"{store.as_uri()}/art/{rid}",
                             experiment_id=exp))
            lr = float(rng.choice([0.01, 0.03, 0.1, 0.3]))
            depth = int(rng.integers(2, 12))
            p = {"learning_rate": lr, "max_depth": depth,
                 "booster": str(rng.choice(["gbtree", "dart", "hist"]))}
            p.update({k: round(float(rng.random()), 4) for k in names})
            params += [dict(key=k, value=str(v), run_uuid=rid) for k, v in p.items()]
            tags += [dict(key=k, value=v, run_uuid=rid) for k, v in
                     (("mlflow.runName", f"trial-{i:05d}"), ("mlflow.user", "bench"),
                      ("sweep", f"sweep-{i // 5000}"), ("team", ["fraud", "churn"][i % 2]),
                      ("note", "baseline" if i % 50 == 0 else "trial"))]
            quality = 0.6 + 0.3 * (1 - abs(lr - 0.1)) * (depth / 12) + 0.05 * rng.random()
            final = {m: float(rng.random()) for m in metric_names}
            final.update(auc=min(0.999, quality), val_loss=1.2 - quality,
                         train_loss=1.1 - quality, train_seconds=float(rng.gamma(2, 30)))
            for m, v in final.items():
                steps = [(0, v)]
                if i in history and m in HISTORY_KEYS:
                    curve = v + (1.5 - v) * np.exp(-np.arange(STEPS) / 30) + \
                        rng.normal(0, 0.01, STEPS)
                    curve[-1] = v
                    steps = list(enumerate(curve.tolist()))
                for s, value in steps:
                    metrics.append(dict(key=m, value=value, timestamp=ts + s * 1000, step=s,
                                        is_nan=False, run_uuid=rid))
                latest.append(dict(key=m, value=v, timestamp=ts + steps[-1][0] * 1000,
                                   step=steps[-1][0], is_nan=False, run_uuid=rid))
        with sql.ManagedSessionMaker() as session:
            for model, rows in ((SqlRun, runs), (SqlParam, params), (SqlTag, tags),
                                (SqlMetric, metrics), (SqlLatestMetric, latest)):
                session.execute(insert(model.__table__), rows)
        if not quiet:
            print(f"  wrote {min(n, lo + chunk):,} runs in {time.perf_counter() - start:.0f} s",
                  flush=True)
    return uri




def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _json_bytes(obj) -> int:
    import plotly
    return len(json.dumps(obj, cls=plotly.utils.PlotlyJSONEncoder))


# ------------------------------------------------------------------ ModelDeck, one process each
def scenario(name: str, uri: str, n: int) -> dict:
    """Run one measurement in this (fresh) process and return its figures."""
    warnings.simplefilter("ignore")
    import logging
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    import dash

    import threading

    from app import Settings, create_app
    app = create_app(Settings(registry=uri))
    for t in threading.enumerate():  # a started server: MLflow's store imported, nothing read
        if t.name == "modeldeck-mlflow-import":
            t.join()
    import pages.experiments as pe
    import pages.experiments_compare as pc
    from pages._data import deck
    exp_layout = dash.page_registry["pages.experiments"]["layout"]
    cmp_layout = dash.page_registry["pages.experiments_compare"]["layout"]
    out: dict = {}
    with app.server.test_request_context("/"):
        if name in ("first-rows", "filter"):
            q = "metrics.auc > 0.9" if name == "filter" else ""

            def first():
                layout = exp_layout(experiment=EXPERIMENT, q=q)
                state = _find(layout, "exp-state").data
                resp, count, _ = pe.rows({"startRow": 0, "endRow": 100, "sortModel": [],
                                          "filterModel": {}}, state)
                return layout, resp, count
            (layout, resp, count), out["cold_s"] = timed(first)
            _, out["warm_s"] = timed(first)
            out["count"] = count
            out["rows"] = len(resp["rowData"])
            out["bytes"] = {"layout": _json_bytes(layout), "rows block": _json_bytes(resp)}
        elif name == "compare":
            from registry.links import link_store
            ids = _history_runs(uri)[:n]
            href = pe.compare_href(EXPERIMENT, ids, "metrics.auc")
            sel = href.split("sel=")[1].split("&")[0]

            def first_chart():
                page = cmp_layout(experiment=EXPERIMENT, sel=sel, metric="metrics.auc")
                state = _find(page, "cmp-sel").data
                opts = {c: _find(page, c, "value") for c in
                        ("cmp-metric", "cmp-dims", "cmp-x", "cmp-y", "cmp-color",
                         "cmp-curve", "cmp-smooth", "cmp-group", "cmp-band")}
                fig = pc.update_parallel(opts["cmp-metric"], opts["cmp-dims"], state)
                return page, state, opts, fig
            (page, state, opts, fig), out["cold_s"] = timed(first_chart)
            _, out["warm_s"] = timed(first_chart)
            o = opts
            sizes = {"layout": _json_bytes(page), "parallel callback": _json_bytes(fig)}
            (scat, t) = timed(lambda: pc.update_scatter(o["cmp-x"], o["cmp-y"],
                                                        o["cmp-color"], state))
            sizes["scatter callback"] = _json_bytes(scat)
            out["scatter_s"] = t
            (box, t) = timed(lambda: pc.update_curves(o["cmp-curve"], o["cmp-smooth"],
                                                      o["cmp-group"], o["cmp-band"], state))
            sizes["curves callback"] = _json_bytes(box)
            out["curves_s"] = t
            sizes["side-by-side callback"] = _json_bytes(pc.update_table(True, state))
            sizes["url callback"] = _json_bytes(pc.remember_in_url(
                o["cmp-metric"], o["cmp-dims"], o["cmp-x"], o["cmp-y"], o["cmp-color"],
                o["cmp-curve"], o["cmp-smooth"], o["cmp-group"], o["cmp-band"], True, state))
            out["bytes"] = sizes
            out["link"] = len(href)
            out["page_url"] = len("/experiments/compare" + pc.options_query(
                state, o["cmp-metric"], o["cmp-dims"], o["cmp-x"], o["cmp-y"], o["cmp-color"],
                o["cmp-curve"], o["cmp-smooth"], o["cmp-group"], o["cmp-band"], True))
            assert link_store().load(sel)[1] == ids
        elif name == "sort-filter":
            from analysis.experiments import runs_view
            d = deck()
            layout = exp_layout(experiment=EXPERIMENT)
            state = _find(layout, "exp-state").data
            t0 = time.perf_counter()
            while not runs_view(d, EXPERIMENT).done:
                time.sleep(0.2)
            out["background_read_s"] = time.perf_counter() - t0
            rng = np.random.default_rng(1)
            cols = ["metrics.auc", "metrics.val_loss", "metrics.m00", "params.learning_rate",
                    "params.max_depth", "name", "tags.sweep"]
            times, biggest = [], 0
            for i in range(40):
                q = (f"metrics.auc > {0.80 + 0.002 * i:.3f} and params.max_depth <= "
                     f"{int(rng.integers(3, 12))}" + (" or tags.team == 'fraud'" if i % 3 == 0
                                                      else ""))
                st = {**state, "q": q if i % 4 else "", "search": "trial-01" if i % 5 == 0
                      else ""}
                req = {"startRow": 0, "endRow": 100, "filterModel": {},
                       "sortModel": [{"colId": cols[i % len(cols)],
                                      "sort": "desc" if i % 2 else "asc"}]}
                (resp, _, _), t = timed(lambda: pe.rows(req, st))
                times.append(t)
                biggest = max(biggest, _json_bytes(resp))
            out["p50_s"] = float(np.percentile(times, 50))
            out["p95_s"] = float(np.percentile(times, 95))
            out["bytes"] = {"rows block (largest)": biggest}
    return out


def _history_runs(uri: str) -> list[str]:
    """The runs with histories (the ones a comparison of curves is about), newest first."""
    from mlflow import MlflowClient
    store = MlflowClient(uri)._tracking_client.store
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlRun
    with store.ManagedSessionMaker() as session:
        rows = (session.query(SqlRun.run_uuid).join(
            SqlLatestMetric, SqlLatestMetric.run_uuid == SqlRun.run_uuid)
            .filter(SqlLatestMetric.key == HISTORY_KEYS[0], SqlLatestMetric.step > 0)
            .order_by(SqlRun.start_time.desc()).all())
    return [r[0] for r in rows]


def _find(component, cid, prop=None):
    if getattr(component, "id", None) == cid:
        return getattr(component, prop) if prop else component
    children = getattr(component, "children", None)
    for child in (children if isinstance(children, (list, tuple)) else [children]):
        if child is not None and not isinstance(child, (str, int, float)):
            found = _find(child, cid, prop)
            if found is not None:
                return found
    return None


def fresh(name: str, uri: str, n: int = 0) -> dict:
    """``scenario`` in a new Python process (nothing imported, nothing cached)."""
    env = {**os.environ, "MODELDECK_STATE_DIR": os.environ.get(
        "MODELDECK_STATE_DIR", str(Path(tempfile.gettempdir()) / "modeldeck-bench-state"))}
    res = subprocess.run([sys.executable, __file__, "--scenario", name, "--uri", uri,
                          "--n", str(n)], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ MLflow's own server
class MlflowServer:
    def __init__(self, uri: str):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("mlflow server did not start")

    def post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.url + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as r:
            return json.loads(r.read())

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=300) as r:
            return json.loads(r.read())

    def stop(self):
        # the server runs uvicorn and job runners as children: end its whole process group
        import signal
        for sig in (signal.SIGTERM, signal.SIGKILL):  # job runners may outlive a SIGTERM
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            time.sleep(1)


def mlflow_figures(uri: str, exp_id: str, ids: list[str], sizes) -> dict:
    from urllib.parse import urlencode
    server = MlflowServer(uri)
    out = {}
    try:
        def search(**kw):
            return server.post("/api/2.0/mlflow/runs/search",
                               {"experiment_ids": [exp_id], **kw})
        _, out["first-rows"] = timed(lambda: search(max_results=100))
        _, out["filter"] = timed(lambda: search(max_results=100,
                                                filter="metrics.auc > 0.9"))
        _, out["sort"] = timed(lambda: search(max_results=100, order_by=["metrics.auc DESC"]))
        for n in sizes:
            def compare():
                chosen = ids[:n]
                for k in range(0, n, 100):
                    chunk = ", ".join(f"'{x}'" for x in chosen[k:k + 100])
                    search(max_results=100, filter=f"attributes.run_id IN ({chunk})")
                    server.get("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?" +
                               urlencode([("run_ids", x) for x in chosen[k:k + 100]] +
                                         [("metric_key", HISTORY_KEYS[0]),
                                          ("max_results", 320)]))
            _, out[f"compare-{n}"] = timed(compare)
    finally:
        server.stop()
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20_000)
    p.add_argument("--history-runs", type=int, default=1_000)
    p.add_argument("--store", help="folder for the sqlite store (kept and reused)")
    p.add_argument("--compare", default="100,500,1000", help="comparison sizes")
    p.add_argument("--skip-mlflow", action="store_true", help="ModelDeck's figures only")
    p.add_argument("--scenario", help=argparse.SUPPRESS)
    p.add_argument("--uri", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.scenario:
        print(json.dumps(scenario(args.scenario, args.uri, args.n)))
        return
    warnings.simplefilter("ignore")
    tmp = None
    if args.store:
        store = Path(args.store)
        store.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="modeldeck-bench-mlflow-")
        store = Path(tmp.name)
    print(f"MLflow sqlite store with {args.runs:,} runs in {store}", flush=True)
    uri, secs = timed(lambda: build(store, args.runs, args.history_runs))
    print(f"  ready in {secs:.1f} s\n", flush=True)
    sizes = [int(x) for x in args.compare.split(",") if x]

    md = {"first-rows": fresh("first-rows", uri), "filter": fresh("filter", uri)}
    for n in sizes:
        md[f"compare-{n}"] = fresh("compare", uri, n)
    md["sort-filter"] = fresh("sort-filter", uri)
    ref = {}
    if not args.skip_mlflow:
        from mlflow import MlflowClient
        exp_id = MlflowClient(uri).get_experiment_by_name(EXPERIMENT).experiment_id
        ref = mlflow_figures(uri, exp_id, _history_runs(uri), sizes)

    def line(what, cold, warm=None, mlflow=None):
        f = lambda v: f"{v:8.2f} s" if v is not None else "       – "  # noqa: E731
        print(f"{what:<44} {f(cold)} {f(warm)}   {f(mlflow)}", flush=True)

    print(f"{'':<44} {'cold':>10} {'warm':>10}   {'MLflow REST':>10}")
    line("first rows (/experiments)", md["first-rows"]["cold_s"], md["first-rows"]["warm_s"],
         ref.get("first-rows"))
    line("filter metrics.auc > 0.9 from a link", md["filter"]["cold_s"],
         md["filter"]["warm_s"], ref.get("filter"))
    for n in sizes:
        r = md[f"compare-{n}"]
        line(f"compare {n:,} runs, first chart", r["cold_s"], r["warm_s"],
             ref.get(f"compare-{n}"))
    sf = md["sort-filter"]
    line("sort/filter p50 (all runs loaded)", sf["p50_s"])
    line("sort/filter p95 (all runs loaded)", sf["p95_s"], None, ref.get("sort"))
    print(f"\nbackground read of all {args.runs:,} runs: {sf['background_read_s']:.1f} s")
    print(f"first rows count line: {md['first-rows']['count']}")
    print(f"filter count line: {md['filter']['count']}")
    print("\nJSON bytes")
    for key, r in md.items():
        for what, b in r.get("bytes", {}).items():
            print(f"  {key:<12} {what:<24} {b:>10,}")
    for n in sizes:
        r = md[f"compare-{n}"]
        print(f"  compare-{n:<4} link {r['link']} characters, page URL {r['page_url']}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
