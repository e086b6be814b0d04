"""Benchmark: the model card and the retraining story on the sample's customer-churn model.

    .venv/bin/python benchmarks/card_history.py [--model customer-churn]

Each page in its own fresh process with an empty cache (so neither profits from the other's
work), through the page's own layout and callbacks, prints: the first paint (its layout:
heading, links, report buttons), the outline (the page's first callback: what the registry
says, shown at once), the whole (the second callback: every number computed — the
champion's metrics with bootstrap intervals, segments, the value curve; every paired
comparison of the story), and the page opened again (warm: the whole, from the cache, in the
first callback). Target (issue 15): each page opens in ≤ 1.5 s cold on the sample.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def one_page(page: str, model: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["MODELDECK_STATE_DIR"] = tempfile.mkdtemp(prefix="modeldeck-bench-")
    from app import Settings, create_app
    from registry import SAMPLE_REGISTRY

    app = create_app(Settings(registry=str(SAMPLE_REGISTRY)))
    module = __import__(f"pages.{page}", fromlist=["layout"])
    ref = {"model": model}
    with app.server.test_request_context():
        paint, _ = timed(lambda: module.layout(name=model))
        outline, (_, whole) = timed(lambda: module.fill(ref))
        assert whole is False, "the cache was not empty"
        rest, _ = timed(lambda: module.fill_whole(False, ref))
        warm, (_, whole) = timed(lambda: module.fill(ref))
        assert whole is True
    for what, s in ((f"{page}: first paint", paint), (f"{page}: outline, cold", outline),
                    (f"{page}: whole, cold", rest), (f"{page}: again (warm)", warm)):
        print(f"{what:26s} {s * 1000:8.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="customer-churn")
    ap.add_argument("--page", choices=("card", "history"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.page:
        return one_page(args.page, args.model)
    for page in ("card", "history"):
        subprocess.run([sys.executable, __file__, "--page", page, "--model", args.model],
                       check=True)


if __name__ == "__main__":
    main()
