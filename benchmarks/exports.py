"""Memory under a burst of exports: N parallel PDF reports (plain GETs) against gunicorn.

    .venv/bin/python benchmarks/exports.py                # 20 parallel, 2 workers
    .venv/bin/python benchmarks/exports.py --parallel 20 --workers 2 --renders 2

Starts gunicorn (serving/gunicorn_conf.py) on a free 127.0.0.1 port on a copy of the sample
registry, sends ``--parallel`` GET /export/report/model/pdf at once, and samples every 0.2 s
the memory (sum of RSS and of PSS) of the whole process tree (gunicorn master, workers, every Chromium
they started). Prints the peak, the answers (200 / 503 with Retry-After), and how long the
burst took. Target (issue 11): the burst stays under ~1.5 GB in all.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import ROOT, SAMPLE, free_port, wait_port  # noqa: E402


def tree_memory(pid: int) -> tuple[int, int, int]:
    """(sum of RSS, sum of PSS, number of processes) of ``pid`` and all its descendants.
    RSS counts pages shared between processes (libraries, forked memory) once per process;
    PSS divides them among the sharers, so its sum is what the tree really occupies."""
    import psutil
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0, 0, 0
    rss = pss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
            rss, pss = rss + info.rss, pss + info.pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return rss, pss, len(procs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parallel", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4,
                    help="threads per worker, so the burst reaches the render queue")
    ap.add_argument("--renders", type=int, default=2, help="MODELDECK_RENDERS")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="modeldeck-exports-"))
    proc = None
    try:
        shutil.copytree(SAMPLE, tmp / "registry")
        port = free_port()
        env = {**os.environ, "MODELDECK_REGISTRY": str(tmp / "registry"),
               "MODELDECK_STATE_DIR": str(tmp / "state"), "MODELDECK_BIND": f"127.0.0.1:{port}",
               "MODELDECK_WORKERS": str(args.workers), "MODELDECK_THREADS": str(args.threads),
               "MODELDECK_RENDERS": str(args.renders), "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c",
                                 str(ROOT / "serving/gunicorn_conf.py"), "app:server"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=open(tmp / "gunicorn.log", "w"), start_new_session=True)
        wait_port(port, proc, 120)
        url = f"http://127.0.0.1:{port}/export/report/model/pdf?model=customer-churn"
        idle = tree_memory(proc.pid)
        peak, stop = list(idle), threading.Event()

        def sample():
            while not stop.wait(0.2):
                now = tree_memory(proc.pid)
                peak[:] = [max(a, b) for a, b in zip(peak, now)]
        threading.Thread(target=sample, daemon=True).start()
        answers, waits = Counter(), []

        def get():
            try:
                with urllib.request.urlopen(url, timeout=180) as r:
                    r.read()
                    answers[r.status] += 1
            except urllib.error.HTTPError as e:
                answers[e.code] += 1
                if e.headers.get("Retry-After"):
                    waits.append(int(e.headers["Retry-After"]))
            except OSError as e:
                answers[type(e).__name__] += 1
        t0 = time.monotonic()
        threads = [threading.Thread(target=get) for _ in range(args.parallel)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        took = time.monotonic() - t0
        stop.set()
        print(f"{args.parallel} parallel PDF reports, {args.workers} workers x {args.threads} "
              f"threads, {args.renders} render slots")
        print(f"answers: {dict(sorted(answers.items(), key=str))}"
              + (f" (Retry-After {min(waits)}–{max(waits)} s)" if waits else ""))
        print(f"burst took {took:.1f} s")
        print(f"whole process tree, idle: RSS {idle[0] / 2**20:.0f} MiB, "
              f"PSS {idle[1] / 2**20:.0f} MiB, {idle[2]} processes")
        print(f"whole process tree, peak: RSS {peak[0] / 2**20:.0f} MiB, "
              f"PSS {peak[1] / 2**20:.0f} MiB, {peak[2]} processes")
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
