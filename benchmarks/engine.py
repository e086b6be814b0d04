"""Benchmark: the monitoring page on 10,000,000 and 100,000,000 production rows, queried in
place by the embedded engine (DuckDB), beside today's pandas path at 10,000,000.

    .venv/bin/python benchmarks/engine.py                        # 10M (engine and pandas)
    .venv/bin/python benchmarks/engine.py --rows 10000000,100000000 --dir /tmp/md-engine
    .venv/bin/python benchmarks/engine.py --baseline /path/to/older/checkout   # its pandas path

The registry: the sample's ``customer-churn`` model (its versions and evaluation rows), and
production rows resampled from the sample's own production table — 12 months, 3 text
segments, 5 features of which one is text, the second half of the last month unlabelled —
written as Parquet parts partitioned by month (``monitoring/month=YYYY-MM/part-N.parquet``),
generated in chunks of ``--chunk`` rows so that generating 100M rows needs little memory.
The "pandas" layout writes the same rows as one ``monitoring.parquet`` file and reads it with
the engine turned off (``MODELDECK_ENGINE_MIN_ROWS``), or with ``--baseline`` with another
checkout's code: what the monitoring page did before the query layer.

Each figure is taken in a fresh Python process: the app is created (nothing read), then the
clock runs over the monitoring page's own layout function, called as Dash Pages calls it for
a browser, and its first callback (the first screen: each window's value), then over its
second callback (the whole:
intervals, drift, the estimate without labels), both with an empty cache; warm is the same
page again, answered whole from the app's cache; then the process's peak RSS is read.
Files go under ``--dir`` (default: a temporary folder, deleted at the end), never the repo.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# the code measured: this checkout, or (--baseline) another one
sys.path.insert(0, os.environ.get("MODELDECK_BENCH_CODE", str(ROOT)))
sys.path.insert(1, str(ROOT))

from benchmarks.measure import peak_rss_bytes  # noqa: E402

SAMPLE = ROOT / "data" / "sample-registry" / "models" / "customer-churn"
MODEL = "customer-churn"


def generate(root: Path, rows: int, layout: str, chunk: int = 4_000_000, seed: int = 0) -> None:
    """A registry at ``root`` with ``rows`` production rows (``layout``: "parts" or "file")."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = root / "models" / MODEL
    d.mkdir(parents=True)
    shutil.copy(SAMPLE / "model.json", d / "model.json")
    shutil.copytree(SAMPLE / "versions", d / "versions")
    src = pq.read_table(SAMPLE / "monitoring.parquet").drop_columns(["timestamp", "version"])
    src = src.combine_chunks()
    cols = {name: (src[name].dictionary_encode() if pa.types.is_string(src[name].type)
                   or pa.types.is_large_string(src[name].type) else src[name])
            for name in src.column_names}
    src = pa.table(cols)
    rng = np.random.default_rng(seed)
    starts = np.array([np.datetime64(f"{2025 + (11 + m) // 12}-{(11 + m) % 12 + 1:02d}-01")
                       for m in range(13)], dtype="datetime64[us]")
    per_month = [rows // 12 + (1 if m < rows % 12 else 0) for m in range(12)]  # Python ints
    single = pq.ParquetWriter(d / "monitoring.parquet", _schema(src)) if layout == "file" \
        else None
    for m in range(12):
        lo, hi = int(starts[m].astype(np.int64)), int(starts[m + 1].astype(np.int64))
        done, part = 0, 0
        if single is None:
            folder = d / "monitoring" / f"month={str(starts[m])[:7]}"
            folder.mkdir(parents=True)
        while done < per_month[m]:
            n = int(min(chunk, per_month[m] - done))
            t = np.sort(rng.integers(lo + (hi - lo) * done // per_month[m],
                                     lo + (hi - lo) * (done + n) // per_month[m], n))
            take = src.take(pa.array(rng.integers(0, src.num_rows, n)))
            y = take["y_true"].to_numpy(zero_copy_only=False).astype(np.float64)
            if m == 11:  # the second half of the last month has no labels yet
                y[t >= lo + (hi - lo) // 2] = np.nan
            table = pa.table({"timestamp": pa.array(t.astype("datetime64[us]"),
                                                    pa.timestamp("us", tz="UTC")),
                              "version": pa.array(np.full(n, 3, np.int64)),
                              "y_true": pa.array(y, from_pandas=True),
                              **{c: take[c] for c in take.column_names if c != "y_true"}})
            if single is not None:
                single.write_table(table.cast(_schema(src)))
            else:
                pq.write_table(table, folder / f"part-{part}.parquet")
            done, part = done + n, part + 1
    if single is not None:
        single.close()


def _schema(src):
    import pyarrow as pa
    fields = [pa.field("timestamp", pa.timestamp("us", tz="UTC")), pa.field("version", pa.int64()),
              pa.field("y_true", pa.float64())]
    fields += [src.schema.field(c) for c in src.column_names if c != "y_true"]
    return pa.schema(fields)


def measure(root: Path) -> dict:
    """In this (fresh) process, the monitoring page as a browser gets it: its layout and first
    callback (the first screen: each window's value), then its second callback (intervals, drift, the estimate),
    both cold; then the page again (warm: the whole from the app's cache); and peak RSS."""
    import warnings
    warnings.simplefilter("ignore")
    import dash

    from app import Settings, create_app
    from pages import monitoring
    app = create_app(Settings(registry=str(root)))
    layout = dash.page_registry["pages.monitoring"]["layout"]
    ref = {"model": MODEL, "version": None, "threshold": None}
    # as the browser asks for a page (Dash Pages' callback): the app's layout cache applies
    with app.server.test_request_context("/_dash-update-component", method="POST"):
        t0 = time.perf_counter()
        layout(name=MODEL)
        first, done = monitoring.fill(ref)
        cold_first = time.perf_counter() - t0
        assert done is False
        t0 = time.perf_counter()
        whole = monitoring.fill_whole(False, ref)
        cold_whole = time.perf_counter() - t0
        warm = []
        for _ in range(10):
            t0 = time.perf_counter()
            layout(name=MODEL)
            again, done = monitoring.fill(ref)
            warm.append(time.perf_counter() - t0)
            assert done is True
    import plotly
    text = json.dumps(first, cls=plotly.utils.PlotlyJSONEncoder)
    assert "performance-over-time" in text and "monitoring-pending" in text, text[:2000]
    for part in (whole, again):
        text = json.dumps(part, cls=plotly.utils.PlotlyJSONEncoder)
        assert "drift-heatmap" in text and "monitoring-pending" not in text, text[:2000]
    return {"first_s": round(cold_first, 2), "whole_s": round(cold_first + cold_whole, 2),
            "warm_ms": round(1000 * float(np.median(warm)), 3),
            "peak_rss_mb": round(peak_rss_bytes() / 2**20)}


def fresh(root: Path, engine: bool, code: Path = ROOT) -> dict:
    env = {**os.environ, "MODELDECK_BENCH_CODE": str(code),
           "MODELDECK_ENGINE_MIN_ROWS": "1000000" if engine else str(10**15),
           "MODELDECK_STATE_DIR": str(root.parent / "state")}
    res = subprocess.run([sys.executable, __file__, "--measure", str(root)],
                         capture_output=True, text=True, env=env, cwd=str(code))
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="10000000", help="sizes, comma-separated")
    ap.add_argument("--dir", type=Path, help="where to write (kept); default a temporary "
                                             "folder, deleted at the end")
    ap.add_argument("--chunk", type=int, default=4_000_000)
    ap.add_argument("--no-pandas", action="store_true", help="skip the pandas path")
    ap.add_argument("--baseline", type=Path, help="another checkout whose (pandas) code "
                                                  "measures the single-file table")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    tmp = None
    base = args.dir
    if base is None:
        tmp = tempfile.mkdtemp(prefix="modeldeck-engine-")
        base = Path(tmp)
    try:
        for rows in [int(r) for r in args.rows.split(",")]:
            layouts = ["parts"] + ([] if args.no_pandas or rows > 20_000_000 else ["file"])
            for layout in layouts:
                root = base / f"{layout}-{rows}" / "registry"
                if not (root / "models").exists():
                    t0 = time.perf_counter()
                    generate(root, rows, layout, args.chunk)
                    print(f"generated {rows:,} rows ({layout}) in "
                          f"{time.perf_counter() - t0:.0f} s", flush=True)
                runs = [("engine", fresh(root, True))] if layout == "parts" else \
                    [("pandas", fresh(root, False, args.baseline or ROOT))]
                for name, r in runs:
                    print(f"{rows:>12,} rows  {name:<7} first screen {r['first_s']:6.2f} s  "
                          f"whole {r['whole_s']:6.2f} s  warm {r['warm_ms']:8.3f} ms  "
                          f"peak RSS {r['peak_rss_mb']:6,} MiB", flush=True)
        print("load:", os.getloadavg())
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
