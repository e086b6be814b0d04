"""Load test: ModelDeck under gunicorn + Redis, many simulated users, loopback only.

    .venv/bin/python benchmarks/load.py                   # 50 users, 180 s
    .venv/bin/python benchmarks/load.py --seconds 60 --workers 4 --threads 4

What it does, and stops by itself:
1. copies the sample registry to a temporary folder, starts redis-server (no persistence)
   and gunicorn (serving/gunicorn_conf.py) on free 127.0.0.1 ports;
2. records what a real browser sends: headless Chromium opens the portfolio, the model page
   (then moves the threshold with the keyboard) and the compare page, and the Chrome
   DevTools log gives every request each step made — the page, _dash-layout,
   _dash-dependencies and each POST /_dash-update-component with its exact payload;
3. replays those requests for ``--users`` simulated users (1 s between pages, each page's
   requests in the order the browser sent them, static files taken as cached, as a browser
   does), for ``--seconds``; halfway through it rewrites a file of the registry (the data
   version of customer-churn and of the listing change), and reports the pages started in
   the ``--change-window`` seconds after that separately;
4. prints requests, errors, p50/p95/p99 per page, pages per second and the peak RSS of each
   gunicorn worker; then stops gunicorn and Redis and deletes the copy.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample-registry"
MODEL = "customer-churn"
PAGES = {"portfolio": "/", "model": f"/models/{MODEL}", "compare": f"/compare?model={MODEL}"}
CHANGED_FILE = Path("models") / MODEL / "model.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# ------------------------------------------------------------------ what a browser sends
def browser(window: str, network_log: bool = False):
    """Headless Chromium (Debian's, or MODELDECK_CHROMIUM) through chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={window}"):
        opts.add_argument(arg)
    chromium = os.environ.get("MODELDECK_CHROMIUM") or shutil.which("chromium")
    if chromium:
        opts.binary_location = chromium
    if network_log:
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def record(base: str) -> dict[str, list[dict]]:
    """{page: [{"method", "path", "body"}]} as headless Chromium sent them."""
    from selenium.webdriver.common.keys import Keys

    driver = browser("1300,2000", network_log=True)
    try:
        flows = {}
        for page, path in PAGES.items():
            driver.get("about:blank")
            driver.get_log("performance")  # drop what came before
            driver.get(base + path)
            quiet(driver, "h1")
            steps = requests_from(driver, base)
            if page == "model":
                handle = driver.find_element("css selector", "#threshold [role='slider']")
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'});"
                                      "arguments[0].focus();", handle)
                handle.send_keys(Keys.ARROW_LEFT)
                time.sleep(1.5)
                steps += requests_from(driver, base)
                assert any("threshold" in (s["body"] or "") for s in steps), \
                    "the threshold change sent no callback"
            flows[page] = steps
        return flows
    finally:
        driver.quit()


def quiet(driver, css: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if driver.find_elements("css selector", css) and driver.execute_script(
                "return document.querySelectorAll('[data-dash-is-loading=\"true\"]').length"
        ) == 0:
            time.sleep(2.0)  # callbacks chained after the first render
            return
        time.sleep(0.2)
    loading = driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-dash-is-loading=\"true\"]'))"
        ".map(e => e.id || e.className).join(', ')")
    raise RuntimeError(f"{css} did not appear on {driver.current_url} "
                       f"(still loading: {loading or 'nothing'})")


def requests_from(driver, base: str) -> list[dict]:
    out = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") != "Network.requestWillBeSent":
            continue
        req = msg["params"]["request"]
        if not req["url"].startswith(base):
            continue
        url = urlsplit(req["url"])
        path = url.path + (f"?{url.query}" if url.query else "")
        if path.startswith(("/assets/", "/_dash-component-suites/", "/vendor/",
                            "/_favicon")):
            continue  # cached by the browser after the first visit
        body = req.get("postData")
        if req["method"] == "POST" and body is None and req.get("hasPostData"):
            body = driver.execute_cdp_cmd("Network.getRequestPostData",
                                          {"requestId": msg["params"]["requestId"]})["postData"]
        out.append({"method": req["method"], "path": path, "body": body})
    return out


# ------------------------------------------------------------------ simulated users
class Results:
    def __init__(self):
        self.pages: list[tuple[str, float, float, bool]] = []  # page, start, seconds, ok
        self.requests = 0
        self.errors: dict[str, int] = {}
        self.steps: dict[str, list[float]] = {}  # what a request asked -> seconds


async def user(session, base, flows, order, stop_at, results: Results, offset: float):
    import aiohttp

    await asyncio.sleep(offset)
    i = 0
    while time.monotonic() < stop_at:
        page = order[i % len(order)]
        i += 1
        start, ok = time.monotonic(), True
        for step in flows[page]:
            t_step = time.monotonic()
            try:
                async with session.request(
                        step["method"], base + step["path"], data=step["body"],
                        headers={"Content-Type": "application/json"} if step["body"] else {},
                        timeout=aiohttp.ClientTimeout(total=60)) as r:
                    await r.read()
                    results.requests += 1
                    results.steps.setdefault(f"{page}: {step_name(step)}", []).append(
                        time.monotonic() - t_step)
                    if r.status >= 400:
                        ok = False
                        key = f"{r.status} {step['path'].split('?')[0]}"
                        results.errors[key] = results.errors.get(key, 0) + 1
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                ok = False
                results.requests += 1
                key = f"{type(e).__name__} {step['path'].split('?')[0]}"
                results.errors[key] = results.errors.get(key, 0) + 1
        results.pages.append((page, start, time.monotonic() - start, ok))
        await asyncio.sleep(1.0)


async def run_users(base, flows, users, seconds, results, on_half):
    import aiohttp

    order = list(flows)
    stop_at = time.monotonic() + seconds
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn, auto_decompress=True,
                                     headers={"Accept-Encoding": "gzip, br"}) as session:
        tasks = [asyncio.create_task(user(session, base, flows, order[u % 3:] + order[:u % 3],
                                          stop_at, results, offset=u / users))
                 for u in range(users)]
        await asyncio.sleep(seconds / 2)
        on_half()
        await asyncio.gather(*tasks)


def step_name(step: dict) -> str:
    if step["body"]:
        try:
            return "callback " + json.loads(step["body"]).get("output", "?")[:60]
        except ValueError:
            pass
    return step["method"] + " " + step["path"].split("?")[0]


# ------------------------------------------------------------------ memory of the workers
class RssSampler(threading.Thread):
    def __init__(self, master_pid: int):
        super().__init__(daemon=True)
        import psutil
        self.master = psutil.Process(master_pid)
        self.peak: dict[int, int] = {}
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(0.5):
            try:
                for p in self.master.children():
                    if "gunicorn" in " ".join(p.cmdline()):
                        self.peak[p.pid] = max(self.peak.get(p.pid, 0), p.memory_info().rss)
            except Exception:
                pass


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def report(results: Results, t0: float, seconds: float, change_at: float | None,
           window: float) -> None:
    def table(rows, title):
        print(f"\n{title}")
        print(f"{'page':<10}{'pages':>7}{'errors':>8}{'p50 s':>8}{'p95 s':>8}{'p99 s':>8}")
        for page in PAGES:
            times = [d for p, _, d, _ in rows if p == page]
            bad = sum(1 for p, _, _, ok in rows if p == page and not ok)
            print(f"{page:<10}{len(times):>7}{bad:>8}{pct(times, 50):>8.2f}"
                  f"{pct(times, 95):>8.2f}{pct(times, 99):>8.2f}")
    table(results.pages, f"all pages ({seconds:.0f} s)")
    if change_at is not None:
        during = [r for r in results.pages if change_at <= r[1] < change_at + window]
        table(during, f"pages started in the {window:.0f} s after the registry change")
    done = len(results.pages)
    print(f"\nrequests {results.requests}, errors {sum(results.errors.values())}"
          f"{' ' + json.dumps(results.errors) if results.errors else ''}")
    print(f"throughput {done / seconds:.1f} pages/s ({results.requests / seconds:.0f} requests/s)")
    print("\nslowest requests (p95 s, median s): ")
    ranked = sorted(results.steps.items(), key=lambda kv: -pct(kv[1], 95))
    for name, times in ranked[:8]:
        print(f"  {pct(times, 95):6.2f} {statistics.median(times):6.2f}  {name}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=180)
    ap.add_argument("--workers", type=int, default=None, help="default: gunicorn_conf's")
    ap.add_argument("--threads", type=int, default=None, help="default: gunicorn_conf's")
    ap.add_argument("--cache", choices=("redis", "file"), default="redis",
                    help="Redis (default) or the state dir's FileSystemCache")
    ap.add_argument("--change-window", type=float, default=20.0)
    ap.add_argument("--save-flows", type=Path, help="also write the recorded requests here")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="modeldeck-load-"))
    procs: list[subprocess.Popen] = []
    sampler = None
    try:
        registry = tmp / "registry"
        shutil.copytree(SAMPLE, registry)
        env = {**os.environ, "MODELDECK_REGISTRY": str(registry),
               "MODELDECK_STATE_DIR": str(tmp / "state"),
               "PYTHONPATH": str(ROOT)}
        if args.threads:
            env["MODELDECK_THREADS"] = str(args.threads)
        if args.workers:
            env["MODELDECK_WORKERS"] = str(args.workers)
        if args.cache == "redis":
            rport = free_port()
            procs.append(subprocess.Popen(
                [shutil.which("redis-server") or "/usr/bin/redis-server", "--bind", "127.0.0.1",
                 "--port", str(rport), "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                stdout=subprocess.DEVNULL))
            wait_port(rport, procs[-1])
            env["MODELDECK_CACHE_URL"] = f"redis://127.0.0.1:{rport}/0"
        port = free_port()
        env["MODELDECK_BIND"] = f"127.0.0.1:{port}"
        gunicorn = Path(sys.executable).parent / "gunicorn"
        procs.append(subprocess.Popen(
            [str(gunicorn), "-c", str(ROOT / "serving/gunicorn_conf.py"), "app:server"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "gunicorn.log", "w"),
            start_new_session=True))
        wait_port(port, procs[-1], 120)
        base = f"http://127.0.0.1:{port}"
        print(f"gunicorn {env.get('MODELDECK_WORKERS', 'default')} workers x "
              f"{env.get('MODELDECK_THREADS', 'default')} threads, cache {args.cache}, "
              f"{args.users} users, "
              f"{args.seconds:.0f} s", flush=True)

        flows = record(base)  # this also warms the cache, like the first visitor of the day
        if args.save_flows:
            args.save_flows.write_text(json.dumps(flows, indent=1))
        for page, steps in flows.items():
            posts = sum(1 for s in steps if s["method"] == "POST")
            print(f"  {page}: {len(steps)} requests per page ({posts} callbacks)")

        sampler = RssSampler(procs[-1].pid)
        sampler.start()
        results = Results()
        change = {}

        def change_registry():
            path = registry / CHANGED_FILE
            meta = json.loads(path.read_text())
            meta["description"] = str(meta.get("description", "")) + " "
            path.write_text(json.dumps(meta, indent=2))
            change["at"] = time.monotonic()
            print(f"  rewrote {CHANGED_FILE} at {args.seconds / 2:.0f} s", flush=True)

        t0 = time.monotonic()
        asyncio.run(run_users(base, flows, args.users, args.seconds, results, change_registry))
        elapsed = time.monotonic() - t0
        sampler.stopped.set()
        report(results, t0, elapsed, change.get("at"), args.change_window)
        peaks = sorted(sampler.peak.values(), reverse=True)
        print("peak RSS per worker: " + ", ".join(f"{p / 2**20:.0f} MiB" for p in peaks))
        return 0
    finally:
        if sampler:
            sampler.stopped.set()
        for p in reversed(procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM) if p is procs[-1] else p.terminate()
                except ProcessLookupError:
                    pass
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
