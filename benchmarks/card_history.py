"""Benchmark: the model card and the retraining story on the sample's customer-churn model.

    .venv/bin/python benchmarks/card_history.py [--model customer-churn]

In a fresh process with an empty cache, prints for ``/models/<model>/card`` and
``/models/<model>/history``: the page's first paint (its layout: heading, links, report
buttons, spinner), the cold fill (every number computed: the champion's metrics with bootstrap
intervals, segments, the value curve; every paired comparison of the story), and the warm fill
(cached). Target (issue 15): each page opens in ≤ 1.5 s cold on the sample.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="customer-churn")
    args = ap.parse_args()
    os.environ["MODELDECK_STATE_DIR"] = tempfile.mkdtemp(prefix="modeldeck-bench-")
    from app import Settings, create_app
    from registry import SAMPLE_REGISTRY

    app = create_app(Settings(registry=str(SAMPLE_REGISTRY)))
    import pages.card as card
    import pages.history as history
    with app.server.test_request_context():
        rows = [
            ("card: first paint", timed(lambda: card.layout(name=args.model))),
            ("card: cold fill", timed(lambda: card.fill({"model": args.model}))),
            ("card: warm fill", timed(lambda: card.fill({"model": args.model}))),
            ("history: first paint", timed(lambda: history.layout(name=args.model))),
            ("history: cold fill", timed(lambda: history.fill({"model": args.model}))),
            ("history: warm fill", timed(lambda: history.fill({"model": args.model}))),
        ]
    for what, s in rows:
        print(f"{what:24s} {s * 1000:8.0f} ms")


if __name__ == "__main__":
    main()
