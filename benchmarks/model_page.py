"""Benchmark: the model page and the compare page on versions with 1,000,000 evaluation rows.

    .venv/bin/python benchmarks/model_page.py [--rows 1000000] [--versions 2] [--dir DIR]
                                              [--task binary|regression|multiclass]
                                              [--in-memory]

Generates a registry (a yes/no model, or with ``--task`` a number or class model,
``--versions`` versions of ``--rows`` rows each, with two segment columns; in a temporary
folder, or in ``--dir`` where it is kept and reused),
then, in this fresh process, prints:

* cold: the first view of ``/models/<model>`` as a server gives it, from the files: every
  analysis computed (metrics with bootstrap intervals, curves, segments, the trend across
  versions, the portfolio summary), except, for tables an engine keeps, what the page then
  asks for with callbacks (the charts of the scores; the segments; the numbers across
  versions when the other versions are not summarised yet), timed after it one by one. Evaluation tables of at
  least ``MODELDECK_ENGINE_MIN_ROWS`` rows (default 1,000,000) are summarised by DuckDB
  where they lie (``analysis.evaluation_rows``, ``analysis.task_rows``); ``--in-memory``
  reads them into pandas instead, as before;
* warm: the threshold callback at a threshold already viewed (cached), and the first time at
  a new threshold;
* the largest figure's JSON size in bytes;
* cold ``/compare`` (paired bootstrap, per-segment differences; for tables an engine keeps,
  the segments then from a callback, timed after it);
* peak RSS of the process.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import plotly.io as pio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.writer import log_model, log_model_version  # noqa: E402

MODEL = "bench-churn"


def build(root: Path, rows: int, versions: int, seed: int = 0, task: str = "binary") -> None:
    """A model of ``task``: yes/no (scores with 6 digits), a number (values with 2 digits)
    or one of four classes (probabilities with 3 digits)."""
    rng = np.random.default_rng(seed)
    log_model(root, MODEL, task, description="Benchmark model", entity="customer",
              positive_label=1 if task == "binary" else None,
              target_unit="EUR" if task == "regression" else None)
    region = rng.choice(["north", "south", "east", "west"], rows)
    plan = rng.choice(["basic", "standard", "premium"], rows)
    y = (rng.random(rows) < 0.25).astype(int) if task == "binary" else \
        np.round(rng.normal(200, 40, rows), 2) if task == "regression" else \
        rng.choice(4, rows, p=[0.4, 0.3, 0.2, 0.1])
    classes = ["basic", "gold", "silver", "none"]
    for v in range(1, versions + 1):
        aliases = ["champion"] if v == versions - 1 else (["challenger"] if v == versions
                                                          else [])
        out: dict = {}
        if task == "binary":
            logit = -1.5 + (1.2 + 0.2 * v) * y + rng.normal(0, 1, rows)
            out = {"y_true": y, "y_score": np.round(1 / (1 + np.exp(-logit)), 6)}
        elif task == "regression":
            out = {"y_true": y, "y_pred": np.round(y + rng.normal(0, 20 - v, rows), 2)}
        else:
            logits = rng.normal(0, 1, (rows, 4))
            logits[np.arange(rows), y] += 1.0 + 0.2 * v
            p = np.exp(logits)
            out = {"y_true": np.asarray(classes)[y],
                   "proba": np.round(p / p.sum(axis=1, keepdims=True), 3), "classes": classes}
        log_model_version(root, MODEL, aliases=aliases, segments={"region": region, "plan": plan},
                          algorithm="Synthetic", **out)


def figures_of(component) -> list:
    """Every figure inside a Dash layout."""
    out = []

    def walk(c):
        if isinstance(c, (list, tuple)):
            for x in c:
                walk(x)
        elif isinstance(c, dict) and isinstance(c.get("props"), dict):  # a callback's JSON
            props = c["props"]
            if props.get("figure") is not None:
                out.append((props.get("id"), props["figure"]))
            walk(props.get("children"))
        elif hasattr(c, "to_plotly_json"):
            fig = getattr(c, "figure", None)
            if fig is not None:
                out.append((c.id, fig))
            walk(getattr(c, "children", None))
    walk(component)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--versions", type=int, default=2)
    parser.add_argument("--dir", help="keep the generated registry here (reused if there)")
    parser.add_argument("--task", choices=["binary", "regression", "multiclass"],
                        default="binary", help="the model's task (default: yes/no)")
    parser.add_argument("--in-memory", action="store_true",
                        help="read every evaluation table into pandas (the path before "
                             "the engine summaries)")
    args = parser.parse_args()
    if args.in_memory:  # the limit above which the engine keeps a table, out of reach
        import registry.folder
        registry.folder.ENGINE_MIN_ROWS = 10 ** 15

    import dash

    from app import Settings, create_app

    with tempfile.TemporaryDirectory(prefix="modeldeck-bench-") as tmp:
        kind = "" if args.task == "binary" else f"-{args.task}"
        root = Path(args.dir) / f"registry-{args.rows}x{args.versions}{kind}" if args.dir \
            else Path(tmp) / "registry"
        if not (root / "models" / MODEL).is_dir():
            t = time.perf_counter()
            build(root, args.rows, args.versions, task=args.task)
            print(f"generated {args.versions} versions x {args.rows:,} rows in "
                  f"{time.perf_counter() - t:.1f} s")
        app = create_app(Settings(registry=str(root)))
        model_layout = dash.page_registry["pages.model"]["layout"]
        compare_layout = dash.page_registry["pages.compare"]["layout"]
        import pages.model as model_page

        champion = args.versions - 1 if args.versions > 1 else 1
        with app.server.test_request_context():
            t = time.perf_counter()
            page = model_layout(name=MODEL)
            cold = time.perf_counter() - t
            # what the browser asks next, when the first view left them out: the charts of
            # the scores, the segments and the numbers across versions (one request each,
            # in this order here)
            t = time.perf_counter()
            charts = model_page.fill_charts({"model": MODEL, "version": champion,
                                             "threshold": 0.5}) \
                if "charts-ref" in str(page) else None
            cold_charts = time.perf_counter() - t
            t = time.perf_counter()
            segments = model_page.fill_segments({"model": MODEL, "version": champion}) \
                if "segments-ref" in str(page) else None
            cold_segments = time.perf_counter() - t
            t = time.perf_counter()
            across = model_page.fill_across({"model": MODEL}) \
                if "across-ref" in str(page) else None
            cold_across = time.perf_counter() - t
            peak_page = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            t = time.perf_counter()
            model_layout(name=MODEL)
            warm_page = time.perf_counter() - t

            new_threshold, warm = float("nan"), [float("nan")]
            if args.task == "binary":  # only a yes/no model has a threshold
                t = time.perf_counter()
                model_page.threshold_outputs(MODEL, champion, 0.35)
                new_threshold = time.perf_counter() - t
                warm = []
                for _ in range(20):
                    t = time.perf_counter()
                    model_page.threshold_outputs(MODEL, champion, 0.35)
                    warm.append(time.perf_counter() - t)

            t = time.perf_counter()
            comp = compare_layout(model=MODEL)
            cold_compare = time.perf_counter() - t
            # then, for rows an engine keeps, how each segment changed (a callback)
            t = time.perf_counter()
            compare_segments = None
            if "compare-segments-ref" in str(comp):
                import pages.compare as compare_page
                from analysis.compare import default_pair
                from pages._data import deck
                a, b = default_pair(deck().versions(MODEL).items)
                compare_segments = compare_page.fill_segments(
                    {"model": MODEL, "a": a, "b": b, "threshold": 0.5})
            cold_compare_segments = time.perf_counter() - t

            sizes = [(gid, len(pio.to_json(fig))) for gid, fig in
                     figures_of(page) + figures_of(comp) + figures_of(segments or []) +
                     figures_of(charts or []) + figures_of(compare_segments or []) +
                     figures_of(list(across or []))]
        largest = max(sizes, key=lambda s: s[1])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
        how = "read into pandas" if args.in_memory else "summarised where they lie"
        print(f"cold /models/{MODEL} (tables {how}, from the files): {cold:.2f} s")
        if charts is not None:
            print(f"  then its charts (a callback):              {cold_charts:.2f} s")
        if segments is not None:
            print(f"  then its segments (a callback):            {cold_segments:.2f} s")
        if across is not None:
            print(f"  then the numbers across versions (one):    {cold_across:.2f} s")
        everything = cold + (cold_charts if charts is not None else 0) + \
            (cold_segments if segments is not None else 0) + \
            (cold_across if across is not None else 0)
        print(f"  first view to everything:                  {everything:.2f} s")
        print(f"peak RSS after the model page:              {peak_page:,.0f} MiB")
        print(f"warm /models/{MODEL} (cached):               {warm_page * 1000:.0f} ms")
        print(f"threshold callback, new threshold:          {new_threshold * 1000:.0f} ms")
        print(f"threshold callback, warm (median of 20):    {np.median(warm) * 1000:.1f} ms")
        print(f"cold /compare (paired bootstrap, segments): {cold_compare:.2f} s")
        if compare_segments is not None:
            print(f"  then how each segment changed (a callback): "
                  f"{cold_compare_segments:.2f} s")
        print(f"largest figure: {largest[0]} {largest[1]:,} bytes of JSON "
              f"({len(sizes)} figures, all <= 250 KB: {all(s <= 250_000 for _, s in sizes)})")
        print(f"peak RSS: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
