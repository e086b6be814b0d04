"""One run of the alert command over the sample registry, as cron starts it.

    .venv/bin/python benchmarks/alerts.py              # 3 runs
    .venv/bin/python benchmarks/alerts.py --runs 5

Each run is a fresh process (``python -m alerts``) with the example settings
(docs/alerts-example.toml: four rules over the sample's four models), an empty state folder
and ``--dry-run`` (the rules are checked and the alerts printed; nothing is sent, since the
example's mail server and webhook do not exist here). The clock covers the whole process:
start-up and imports, reading the registry, the monitoring reports and the recommendations'
evidence the rules read. Sending adds one SMTP or HTTP exchange per alert.

Target (issue 16): a run over the sample in ≤ 10 s.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run() -> tuple[float, float, float]:
    """(wall seconds of the whole process, of the rules' check alone, CPU seconds)."""
    with tempfile.TemporaryDirectory(prefix="modeldeck-alerts-bench-") as state:
        before = os.times()
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "alerts", "--settings",
                              str(ROOT / "docs" / "alerts-example.toml"), "--dry-run",
                              "--state-dir", state], cwd=ROOT, capture_output=True,
                             text=True, check=True)
        wall = time.perf_counter() - t0
        after = os.times()
    checked = float(re.search(r" in ([\d.]+) s\.", out.stdout).group(1))
    cpu = (after.children_user - before.children_user) + \
        (after.children_system - before.children_system)
    return wall, checked, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = [one_run() for _ in range(args.runs)]
    for i, (wall, checked, cpu) in enumerate(rows, 1):
        print(f"run {i}: {wall:5.1f} s wall (rules checked in {checked:.1f} s), "
              f"{cpu:.1f} s CPU")
    print(f"median: {statistics.median(r[0] for r in rows):.1f} s wall, "
          f"{statistics.median(r[2] for r in rows):.1f} s CPU · target ≤ 10 s")


if __name__ == "__main__":
    main()
