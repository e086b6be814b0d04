"""Benchmark: the experiment pages on 20,000 runs.

    .venv/bin/python benchmarks/experiments.py [--runs 20000] [--history-runs 1000] [--keep DIR]

Writes one experiment of 20,000 runs with 15 params and 15 metrics (30 columns, params stored
as text like MLflow does, a few text params and tags), and 200-step histories of two metrics for
1,000 of them, in the folder format (runs.jsonl, history.parquet). Then, in a fresh process
with the app's own cache type (Flask-Caching's SimpleCache, which pickles), it times what the
pages' callbacks do:

* first table rows: the /experiments layout plus the grid's first block (cold: parses
  runs.jsonl) — and again warm;
* filter + sort: 40 different expression / quick search / column filter / sort combinations,
  each new to the cache (the table itself warm), p50 and p95; and a repeated one (cached);
* compare view of 1,000 runs: parallel coordinates + scatter, then the whole page (curves,
  grouped curves, side-by-side table) and the importance callback;
* payload bytes of every response (rows block, layouts, each figure) and peak RSS.

Targets (issue 4): first rows ≤ 1 s, filter/sort p95 ≤ 150 ms warm, 1,000-run parallel
coordinates + scatter ≤ 1.5 s, every payload ≤ 250 KB.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.measure import peak_rss_bytes  # noqa: E402

N_PARAMS = 15
N_METRICS = 15
STEPS = 200


def generate(root: Path, runs: int, history_runs: int, seed: int = 0) -> None:
    from registry.writer import log_experiment

    rng = np.random.default_rng(seed)
    log_experiment(root, "big-sweep", f"{runs:,} generated runs for the benchmark")
    d = root / "experiments" / "big-sweep"
    p = {"learning_rate": 10 ** rng.uniform(-3, -0.5, runs),
         "max_depth": rng.integers(2, 12, runs),
         "n_estimators": rng.choice([100, 200, 400, 800], runs),
         "subsample": rng.uniform(0.5, 1, runs).round(3),
         "optimizer": rng.choice(["adam", "sgd", "rmsprop"], runs),
         "activation": rng.choice(["relu", "gelu", "tanh"], runs)}
    for i in range(N_PARAMS - len(p)):
        p[f"p{i:02d}"] = rng.normal(size=runs).round(4)
    signal = (-0.3 * (np.log10(p["learning_rate"]) + 1.8) ** 2 - 0.02 * np.abs(p["max_depth"] - 6)
              + 0.05 * (p["optimizer"] == "adam"))
    m = {"auc": 0.85 + 0.05 * signal + rng.normal(0, 0.01, runs),
         "val_loss": 0.4 - 0.2 * signal + rng.normal(0, 0.02, runs)}
    for i in range(N_METRICS - len(m)):
        m[f"m{i:02d}"] = rng.normal(size=runs)
    start = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(
        np.arange(runs) * 90, unit="s")
    sweeps = rng.choice(["random-search", "grid", "bayes"], runs)
    with open(d / "runs.jsonl", "w", encoding="utf-8") as f:
        for r in range(runs):
            doc = {"run_id": f"run-{r:06d}", "name": f"trial-{r:06d}", "status": "FINISHED",
                   "start_time": start[r].isoformat(),
                   "end_time": (start[r] + pd.Timedelta(seconds=80)).isoformat(),
                   "params": {k: str(v[r]) for k, v in p.items()},  # MLflow stores text
                   "metrics": {k: float(v[r]) for k, v in m.items()},
                   "tags": {"sweep": str(sweeps[r]), "owner": "bench", "trial": str(r)}}
            f.write(json.dumps(doc) + "\n")
    steps = np.arange(STEPS)
    ids = np.repeat([f"run-{r:06d}" for r in range(history_runs)], STEPS)
    rate = np.repeat(p["learning_rate"][:history_runs], STEPS)
    step = np.tile(steps, history_runs)
    loss = 1 / (1 + rate * 50 * step) + rng.normal(0, 0.02, len(step))
    frames = [pd.DataFrame({"run_id": ids, "key": key, "step": step, "timestamp": pd.NaT,
                            "value": loss * scale + offset})
              for key, scale, offset in (("train_loss", 1.0, 0.0), ("val_loss", 1.1, 0.05))]
    pd.concat(frames, ignore_index=True).to_parquet(d / "history.parquet", index=False)


def _json_bytes(obj) -> int:
    import plotly
    return len(json.dumps(obj, cls=plotly.utils.PlotlyJSONEncoder))


def measure(root: Path, history_runs: int) -> dict:
    import dash
    from dash import html

    from app import Settings, create_app
    from analysis.experiments import runs_table
    from analysis.run_selection import axis, encode_runs, run_labels, selection
    from components.experiment_figures import parallel_coordinates, scatter

    app = create_app(Settings(registry=str(root)))
    exp_layout = dash.page_registry["pages.experiments"]["layout"]
    cmp_layout = dash.page_registry["pages.experiments_compare"]["layout"]
    import pages.experiments as pe
    import pages.experiments_compare as pc
    from pages._data import deck

    out: dict = {}
    payloads: dict[str, int] = {}
    with app.server.test_request_context("/"):
        d = deck()

        def first_rows():
            layout = exp_layout(experiment="big-sweep")
            state = {"experiment": "big-sweep", "q": "", "search": "",
                     "cols": pe._columns(runs_table(d, "big-sweep"), None)}
            resp, count, _ = pe.grid_rows(d, state, {"startRow": 0, "endRow": 100,
                                                     "sortModel": [], "filterModel": {}})
            return layout, resp, count, state

        t0 = time.perf_counter()
        layout, resp, count, state = first_rows()
        out["first_rows_cold_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        first_rows()
        out["first_rows_warm_ms"] = round(1000 * (time.perf_counter() - t0), 1)
        out["runs"] = count
        payloads["/experiments layout"] = _json_bytes(layout)
        payloads["rows block (100 rows)"] = _json_bytes(resp)

        rng = np.random.default_rng(1)
        metrics = ["metrics.auc", "metrics.val_loss", "metrics.m00", "params.learning_rate",
                   "params.max_depth", "name", "tags.sweep"]
        times = []
        for i in range(40):
            q = (f"metrics.auc > {0.80 + 0.002 * i:.3f} and params.max_depth <= "
                 f"{int(rng.integers(3, 12))}" + (" or tags.sweep == 'grid'" if i % 3 == 0
                                                  else ""))
            request = {"startRow": 0, "endRow": 100,
                       "sortModel": [{"colId": metrics[i % len(metrics)],
                                      "sort": "desc" if i % 2 else "asc"}],
                       "filterModel": {} if i % 4 else {"params.optimizer": {
                           "filterType": "text", "type": "equals", "filter": "adam"}}}
            st = {**state, "q": q, "search": "trial-01" if i % 5 == 0 else ""}
            t0 = time.perf_counter()
            resp_i, _, _ = pe.grid_rows(d, st, request)
            times.append(time.perf_counter() - t0)
            payloads["rows block (100 rows)"] = max(payloads["rows block (100 rows)"],
                                                    _json_bytes(resp_i))
        out["filter_sort_p50_ms"] = round(1000 * float(np.percentile(times, 50)), 1)
        out["filter_sort_p95_ms"] = round(1000 * float(np.percentile(times, 95)), 1)
        t0 = time.perf_counter()
        for _ in range(10):
            pe.grid_rows(d, st, {**request, "startRow": 100, "endRow": 200})
        out["next_block_cached_ms"] = round(100 * (time.perf_counter() - t0), 1)

        table = runs_table(d, "big-sweep")
        ids = table.frame["run_id"].iloc[-history_runs:].tolist()  # the runs with histories
        t0 = time.perf_counter()
        sub, _ = selection(runs_table(d, "big-sweep"), ids)
        dims = ["params.learning_rate", "params.max_depth", "params.n_estimators",
                "params.subsample", "params.optimizer", "params.activation"]
        pcf = parallel_coordinates([axis(sub, c) for c in dims], axis(sub, "metrics.auc"))
        scf = scatter(axis(sub, "params.learning_rate"), axis(sub, "metrics.auc"),
                      axis(sub, "params.optimizer"), run_labels(sub))
        payloads["parallel coordinates (1,000 runs)"] = len(pcf.to_json())
        payloads["scatter (1,000 runs)"] = len(scf.to_json())
        out["compare_parallel_scatter_s"] = round(time.perf_counter() - t0, 3)

        runs = encode_runs(ids)
        payloads["compare link (URL)"] = len("/experiments/compare?runs=" + runs)
        t0 = time.perf_counter()
        page = cmp_layout(experiment="big-sweep", runs=runs, dims=",".join(dims),
                          metric="metrics.auc", curve="val_loss", smooth="0.6",
                          group="params.optimizer")
        out["compare_page_cold_s"] = round(time.perf_counter() - t0, 3)
        sel = _find_store(page, "cmp-sel")
        payloads["/experiments/compare layout (table; charts by callback)"] = _json_bytes(page)
        payloads["figure cmp-parallel"] = len(pc.update_parallel(
            "metrics.auc", dims, sel).to_json())
        payloads["figure cmp-scatter"] = len(pc.update_scatter(
            "params.learning_rate", "metrics.auc", "params.optimizer", sel).to_json())
        t0 = time.perf_counter()
        box, _ = pc.update_curves("val_loss", 0.6, "params.optimizer", "std",
                                  {"experiment": "big-sweep", "runs": runs})
        out["compare_curves_callback_s"] = round(time.perf_counter() - t0, 3)
        payloads["curves callback (curves + groups)"] = _json_bytes(box)
        for cid in ("cmp-curves", "cmp-groups"):
            payloads[f"figure {cid}"] = len(_find(html.Div(box), cid).to_json())
        t0 = time.perf_counter()
        box = pc.update_importance("metrics.auc", {"experiment": "big-sweep", "runs": runs})
        out["importance_1000_runs_s"] = round(time.perf_counter() - t0, 3)
        payloads["importance box"] = _json_bytes(box)
        t0 = time.perf_counter()
        pc.update_curves("val_loss", 0.9, "params.optimizer", "minmax",
                         {"experiment": "big-sweep", "runs": runs})
        out["smoothing_change_1000_runs_ms"] = round(1000 * (time.perf_counter() - t0), 1)
    out["payload_bytes"] = payloads
    out["largest_payload_bytes"] = max(v for k, v in payloads.items() if "URL" not in k)
    out["peak_rss_mb"] = round(peak_rss_bytes() / 2**20)
    return out


def _find_store(component, cid):
    if getattr(component, "id", None) == cid:
        return component.data
    children = getattr(component, "children", None)
    for child in (children if isinstance(children, (list, tuple)) else [children]):
        if child is not None and not isinstance(child, (str, int, float)):
            found = _find_store(child, cid)
            if found is not None:
                return found
    return None


def _find(component, cid):
    if getattr(component, "id", None) == cid and hasattr(component, "figure"):
        return component.figure
    children = getattr(component, "children", None)
    for child in (children if isinstance(children, (list, tuple)) else [children]):
        if child is not None and not isinstance(child, (str, int, float)):
            found = _find(child, cid)
            if found is not None:
                return found
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20_000)
    ap.add_argument("--history-runs", type=int, default=1_000)
    ap.add_argument("--keep", type=Path, help="write the registry here and keep it")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.history_runs)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "registry"
        t0 = time.perf_counter()
        generate(root, args.runs, args.history_runs)
        print(f"generated {args.runs:,} runs ({N_PARAMS} params, {N_METRICS} metrics), "
              f"{args.history_runs:,} with {STEPS}-step histories, in "
              f"{time.perf_counter() - t0:.1f} s")
        res = subprocess.run([sys.executable, __file__, "--measure", str(root),
                              "--history-runs", str(args.history_runs)],
                             capture_output=True, text=True)
        if res.returncode:
            print(res.stderr)
            raise SystemExit(res.returncode)
        result = json.loads(res.stdout.strip().splitlines()[-1])
        payloads = result.pop("payload_bytes")
        for k, v in result.items():
            print(f"{k:>32}: {v}")
        print("payloads (bytes of JSON):")
        for k, v in payloads.items():
            print(f"{k:>45}: {v:,}")


if __name__ == "__main__":
    main()
