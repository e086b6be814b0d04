"""ModelDeck's MLflow source on a large experiment, next to ``mlflow.search_runs``.

    python benchmarks/mlflow_runs.py                 # 20,000 runs in a temporary sqlite store
    python benchmarks/mlflow_runs.py --runs 2000     # quicker
    python benchmarks/mlflow_runs.py --store /tmp/bench-mlflow   # keep (and reuse) the store

Writes the runs with MLflow's own client (params, final metrics and a 10-step ``val_loss``
history each), then measures, cold (a new source) and warm (the same source again):

* experiments page, first rows: the experiment listing with run counts and the first 100 runs
  (``runs_page``), against ``mlflow.search_runs(max_results=100)``;
* the whole run table (``runs``), against ``mlflow.search_runs`` of every run;
* a 1,000-run comparison: those runs' rows (from the run table, as the pages read them; cold
  includes fetching that table) and their ``val_loss`` histories, against
  ``mlflow.search_runs`` filtered to the same runs plus ``MlflowClient.get_metric_history``.

Prints latency, the JSON size of what a page would send (bytes) and the peak RSS.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

EXPERIMENT = "bench-sweep"
STEPS = 10


def build(store: Path, n: int) -> str:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    uri = f"sqlite:///{store / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if client.get_experiment_by_name(EXPERIMENT) is not None:
        return uri
    exp = client.create_experiment(EXPERIMENT, artifact_location=(store / "art").as_uri())
    rng = np.random.default_rng(0)
    t0 = 1_780_000_000_000
    start = time.perf_counter()
    for i in range(n):
        ts = t0 + i * 60_000
        run = client.create_run(exp, start_time=ts, run_name=f"trial-{i:05d}")
        lr, depth = float(rng.choice([0.01, 0.03, 0.1, 0.3])), int(rng.integers(2, 10))
        loss = np.linspace(1.0, 0.2 + rng.random() * 0.3, STEPS)
        metrics = [Metric("val_loss", float(v), ts + s * 1000, s) for s, v in enumerate(loss)]
        metrics += [Metric("val_auc", float(0.7 + rng.random() * 0.25), ts, 0),
                    Metric("train_seconds", float(rng.gamma(2, 30)), ts, 0)]
        client.log_batch(run.info.run_id, metrics=metrics,
                         params=[Param("learning_rate", str(lr)), Param("max_depth", str(depth)),
                                 Param("booster", "hist")],
                         tags=[RunTag("sweep", "random")])
        client.set_terminated(run.info.run_id, end_time=ts + 30_000)
        if (i + 1) % 2000 == 0:
            print(f"  wrote {i + 1:,} runs in {time.perf_counter() - start:.0f} s", flush=True)
    return uri


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20_000)
    p.add_argument("--compare", type=int, default=1_000)
    p.add_argument("--store", help="folder for the sqlite store (kept and reused)")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    import logging
    logging.getLogger("mlflow").setLevel(logging.WARNING)

    tmp = None
    if args.store:
        store = Path(args.store)
        store.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="modeldeck-bench-mlflow-")
        store = Path(tmp.name)
    print(f"MLflow sqlite store with {args.runs:,} runs in {store}")
    uri, secs = timed(lambda: build(store, args.runs))
    print(f"  ready in {secs:.1f} s\n")

    import mlflow
    from mlflow import MlflowClient

    from registry.mlflow_source import MlflowSource
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id

    rows = []

    def row(what, modeldeck, reference, payload=None):
        rows.append((what, modeldeck, reference, payload))
        ref = f"{reference:8.3f} s" if reference is not None else "       –  "
        size = f"{payload:>12,}" if payload is not None else " " * 12
        print(f"{what:<46} {modeldeck:8.3f} s   {ref}   {size}", flush=True)

    print(f"{'':<46} {'ModelDeck':>10}   {'mlflow':>10}   {'JSON bytes':>12}")
    # experiments page: listing with counts + first 100 rows
    source = MlflowSource(uri)
    (_, (page, _tok)), cold = timed(lambda: (source.list_experiments(),
                                             source.runs_page(EXPERIMENT, 100)))
    _, ref = timed(lambda: mlflow.search_runs([exp_id], max_results=100))
    row("experiments page, first 100 rows (cold)", cold, ref,
        len(page.to_json(orient="records", date_format="iso")))
    _, warm = timed(lambda: (source.list_experiments(), source.runs_page(EXPERIMENT, 100)))
    row("experiments page, first 100 rows (warm)", warm, None)

    # the whole run table
    frame, cold = timed(lambda: source.runs(EXPERIMENT).items)
    every, ref = timed(lambda: mlflow.search_runs([exp_id], max_results=args.runs + 1000))
    assert len(frame) == len(every) == args.runs, (len(frame), len(every))
    row(f"all {args.runs:,} runs as one table (cold)", cold, ref)
    _, warm = timed(lambda: source.runs(EXPERIMENT).items)
    row(f"all {args.runs:,} runs as one table (warm)", warm, None)

    # a 1,000-run comparison
    rng = np.random.default_rng(1)
    ids = list(rng.choice(frame["run_id"].to_numpy(), size=args.compare, replace=False))

    def modeldeck_compare(src):
        f = src.runs(EXPERIMENT).items
        chosen = f.loc[f["run_id"].isin(ids)]
        hist = src.metric_history(EXPERIMENT, run_ids=ids, keys=["val_loss"])
        return chosen, hist

    def mlflow_compare():
        parts = []
        for k in range(0, len(ids), 100):  # keep the filter string to a sane length
            chunk = ", ".join(f"'{x}'" for x in ids[k:k + 100])
            parts.append(mlflow.search_runs([exp_id], filter_string=f"attributes.run_id IN "
                                                                    f"({chunk})"))
        hist = [client.get_metric_history(x, "val_loss") for x in ids]
        return parts, hist

    fresh = MlflowSource(uri)
    (chosen, hist), cold = timed(lambda: modeldeck_compare(fresh))
    assert len(chosen) == args.compare and len(hist) == args.compare * STEPS
    _, ref = timed(mlflow_compare)
    row(f"{args.compare:,}-run comparison (cold, with run table)", cold, ref,
        len(hist.to_json(orient="split", date_format="iso")))
    _, warm = timed(lambda: modeldeck_compare(fresh))
    row(f"{args.compare:,}-run comparison (warm)", warm, None)

    print(f"\npeak RSS {rss_mb():,.0f} MB")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
