"""Serving a team: the shared cache and single flight (real Redis, real processes), render
slots, the export rate limit, compression and static caching."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from app import Settings, create_app
from reports.images import RenderSlots, RendererBusy, configure_renders
from serving.config import cache_config, code_version
from serving.locks import FileLocks

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    """A real Redis on a free loopback port, without persistence; stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port),
                             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


# One app instance in its own process: T threads ask the same cold question (the list of
# models) at once, after every process has said it is ready. Each real computation appends
# a line to a file, so the test counts them.
WORKER = textwrap.dedent("""
    import json, os, sys, threading, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from app import Settings, create_app
    registry, cache_url, state, tally, go, threads = sys.argv[2:8]
    app = create_app(Settings(registry=registry, cache_url=cache_url, workers=2,
                              state_dir=state))
    deck = app.server.extensions["modeldeck"]
    inner = deck.source.list_models
    def counted():
        with open(tally, "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(0.5)  # long enough for every other asker to arrive meanwhile
        return inner()
    deck.source.list_models = counted
    Path(go + f".ready-{os.getpid()}").touch()
    while not Path(go).exists():
        time.sleep(0.01)
    out = []
    def ask():
        with app.server.app_context():
            out.append(len(deck.models().items))
    ts = [threading.Thread(target=ask) for _ in range(int(threads))]
    [t.start() for t in ts]
    [t.join() for t in ts]
    print(json.dumps(out))
""")


def ask_from_two_processes(tmp_path, registry, cache_url: str, threads: int = 4):
    state, tally, go = tmp_path / "state", tmp_path / "computed.txt", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(ROOT), str(registry),
                               cache_url, str(state), str(tally), str(go), str(threads)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.ready-*"))) < 2:
        assert time.monotonic() < deadline, "the app processes did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    go.touch()
    answers = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        answers.append(json.loads(out.strip().splitlines()[-1]))
    return answers, tally.read_text().split()


def test_redis_two_processes_compute_once(tmp_path, tiny_registry, redis_url):
    answers, computed = ask_from_two_processes(tmp_path, tiny_registry, redis_url)
    assert answers == [[3] * 4, [3] * 4]  # everyone got the three models
    assert len(computed) == 1  # ... computed once, by one thread of one process
    import redis
    keys = redis.Redis.from_url(redis_url).keys(f"modeldeck:{code_version()}:md:*")
    assert keys, "the result lives in Redis, under the code version"


def test_file_cache_two_processes_compute_once(tmp_path, tiny_registry):
    answers, computed = ask_from_two_processes(tmp_path, tiny_registry, "")
    assert answers == [[3] * 4, [3] * 4]
    assert len(computed) == 1
    assert list((tmp_path / "state" / "cache").iterdir()), "FileSystemCache in the state dir"


def test_registry_change_recomputes_once_per_question(tmp_path, tiny_registry):
    """After a file changes, a crowd of threads waiting on the new version computes it once."""
    app = create_app(Settings(registry=str(tiny_registry), state_dir=str(tmp_path / "s")))
    deck = app.server.extensions["modeldeck"]
    calls = []
    inner = deck.source.list_models

    def counted():
        calls.append(1)
        time.sleep(0.3)
        return inner()
    deck.source.list_models = counted
    deck.models()
    model_json = tiny_registry / "models" / "churn" / "model.json"
    model_json.write_text(model_json.read_text().replace("Who will leave", "Who leaves"))
    ts = [threading.Thread(target=deck.models) for _ in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert len(calls) == 2
    assert {m.description for m in deck.models().items if m.name == "churn"} == {"Who leaves"}


def test_while_one_request_recomputes_others_get_the_previous_answer(tmp_path,
                                                                     tiny_registry):
    """After a change, requests arriving during the recomputation are answered at once
    from the data as it was just before; a computation itself waits for fresh inputs, so
    nothing cached mixes two versions."""
    app = create_app(Settings(registry=str(tiny_registry), state_dir=str(tmp_path / "s")))
    deck = app.server.extensions["modeldeck"]

    def churn(listing):
        return next(m.description for m in listing.items if m.name == "churn")
    assert churn(deck.models()) == "Who will leave"
    model_json = tiny_registry / "models" / "churn" / "model.json"
    model_json.write_text(model_json.read_text().replace("Who will leave", "Who leaves"))
    started, release = threading.Event(), threading.Event()
    inner = deck.source.list_models

    def slow():
        started.set()
        release.wait(20)
        return inner()
    deck.source.list_models = slow
    first, nested = [], []
    recompute = threading.Thread(target=lambda: first.append(deck.models()))
    recompute.start()
    assert started.wait(20)
    t0 = time.monotonic()
    assert churn(deck.models()) == "Who will leave"  # the previous answer, at once
    assert time.monotonic() - t0 < 2
    builder = threading.Thread(target=lambda: nested.append(
        deck.memo(("built on the listing",), None, lambda: churn(deck.models()))))
    builder.start()
    time.sleep(0.5)
    assert nested == []  # a computation waits for the new listing
    release.set()
    recompute.join(20)
    builder.join(20)
    assert churn(first[0]) == "Who leaves" and nested == ["Who leaves"]
    assert churn(deck.models()) == "Who leaves"


def test_file_lock_times_out_instead_of_hanging(tmp_path):
    locks = FileLocks(tmp_path, wait=0.2)
    with locks.hold("k") as first:
        assert first
        t0 = time.monotonic()
        with locks.hold("k") as second:
            assert not second  # gave up waiting: the caller computes unlocked
        assert 0.15 < time.monotonic() - t0 < 2
    with locks.hold("k") as again:
        assert again


def test_cache_settings_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MODELDECK_CACHE_URL", "redis://127.0.0.1:6399/1")
    monkeypatch.setenv("MODELDECK_WORKERS", "4")
    s = Settings.from_env()
    assert (s.cache_url, s.workers) == ("redis://127.0.0.1:6399/1", 4)
    config = cache_config(s.cache_url, s.workers, tmp_path)
    assert config["CACHE_TYPE"] == "RedisCache"
    assert config["CACHE_REDIS_URL"] == "redis://127.0.0.1:6399/1"
    assert config["CACHE_KEY_PREFIX"] == f"modeldeck:{code_version()}:"
    assert cache_config("", 4, tmp_path)["CACHE_TYPE"] == "FileSystemCache"
    assert cache_config("", 1, tmp_path)["CACHE_TYPE"] == "SimpleCache"
    with pytest.raises(ValueError):
        cache_config("memcached://x", 2, tmp_path)
    version, digest = code_version().rsplit("-", 1)
    assert version and len(digest) == 10


# ------------------------------------------------------------------ exports
def test_render_slots_bound_concurrent_renders(tmp_path):
    slots = RenderSlots(2, tmp_path, wait=0.2)
    running, peak, lock = [0], [0], threading.Lock()
    refused = []

    def render():
        try:
            with slots.take():
                with lock:
                    running[0] += 1
                    peak[0] = max(peak[0], running[0])
                time.sleep(0.5)
                with lock:
                    running[0] -= 1
        except RendererBusy as e:
            refused.append(e.retry_after)
    ts = [threading.Thread(target=render) for _ in range(5)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert peak[0] == 2
    assert len(refused) == 3 and all(r >= 1 for r in refused)


def test_busy_renderer_is_503_with_retry_after(tmp_path):
    app = create_app(Settings(registry=str(ROOT / "data/sample-registry"),
                              state_dir=str(tmp_path)))
    configure_renders(1, tmp_path / "renders", wait=0.2)
    client = app.server.test_client()
    try:
        blocker = RenderSlots(1, tmp_path / "renders", wait=1)
        with blocker.take():  # another worker is printing a PDF
            r = client.get("/export/report/portfolio/pdf")
        assert r.status_code == 503
        assert int(r.headers["Retry-After"]) >= 1
        assert "try again" in r.get_data(as_text=True)
    finally:
        configure_renders(2)


def test_exports_rate_limited_per_user(tmp_path):
    app = create_app(Settings(registry=str(ROOT / "data/sample-registry"),
                              state_dir=str(tmp_path), exports_per_minute=3))
    app.server.secret_key = "test"
    alice, bob = app.server.test_client(), app.server.test_client()
    with alice.session_transaction() as s:
        s["modeldeck_user"] = "alice"
    codes = [alice.get("/export/report/nothing/html").status_code for _ in range(4)]
    assert codes[:3] == [404] * 3 or codes[:3] == [400] * 3
    assert codes[3] == 429
    r = alice.get("/export/report/nothing/html")
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 61
    assert bob.get("/export/report/nothing/html").status_code != 429  # another user
    assert alice.get("/").status_code == 200  # pages are not limited


def test_compression_and_static_caching(tmp_path):
    app = create_app(Settings(registry=str(ROOT / "data/sample-registry"),
                              state_dir=str(tmp_path)))
    client = app.server.test_client()
    r = client.get("/_dash-layout", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    css = client.get("/assets/modeldeck.css?m=123")
    assert css.status_code == 200
    assert "max-age=31536000" in css.headers["Cache-Control"]
    assert "immutable" in css.headers["Cache-Control"]
    vendor = client.get("/vendor/bootstrap.min.css")
    assert "max-age=86400" in vendor.headers["Cache-Control"]


# ------------------------------------------------------------------ background jobs (Celery)
def _post_update(client, payload: dict, args: str = ""):
    return client.post("/_dash-update-component" + args, json=payload)


def test_report_built_by_a_celery_worker(tmp_path, tiny_registry, redis_url):
    """With Redis, a report button's work goes to a real Celery worker (another process,
    started as the deploy guide says); the web app only hands it over and polls."""
    env = {**os.environ, "MODELDECK_CACHE_URL": redis_url, "MODELDECK_REGISTRY":
           str(tiny_registry), "MODELDECK_STATE_DIR": str(tmp_path / "state"),
           "PYTHONPATH": str(ROOT)}
    celery = Path(sys.executable).parent / "celery"
    worker = subprocess.Popen([str(celery), "-A", "app:celery_app", "worker", "--pool", "solo",
                               "--loglevel", "WARNING"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        app = create_app(Settings(registry=str(tiny_registry), cache_url=redis_url, workers=2,
                                  state_dir=str(tmp_path / "state")))
        client = app.server.test_client()
        page = client.get("/").get_data(as_text=True)
        end_id = json.loads(page.split('<script id="_dash-config" type="application/json">')[1]
                            .split("</script>")[0])["end_id"]
        payload = {"output": "..report-download.data...report-status.children..",
                   "outputs": [{"id": "report-download", "property": "data"},
                               {"id": "report-status", "property": "children"}],
                   "inputs": [{"id": "report-request", "property": "data",
                               "value": {"fmt": "html", "search": "", "at": 1}}],
                   "changedPropIds": ["report-request.data"],
                   "state": [{"id": "report-params", "property": "data",
                              "value": {"kind": "portfolio"}}]}
        first = _post_update(client, payload, f"?endId={end_id}")
        assert first.status_code == 200, first.get_data(as_text=True)
        handle = first.get_json()
        assert {"cacheKey", "job"} <= set(handle)  # handed over, not built in the request
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            r = _post_update(client, payload, f"?endId={end_id}&cacheKey={handle['cacheKey']}"
                                              f"&job={handle['job']}")
            body = r.get_json() if r.status_code == 200 and r.data else None
            if body and "response" in body:
                answer = body["response"]
                break
            assert worker.poll() is None, worker.stderr.read()
            time.sleep(0.25)
        assert answer is not None, "the worker never answered"
        assert answer["report-status"]["children"].startswith("HTML report ready")
        assert answer["report-download"]["data"]["filename"].endswith(".html")
    finally:
        worker.terminate()
        worker.wait(20)


def test_gunicorn_threads_serve_a_fresh_workers_first_burst(tmp_path, tiny_registry):
    """`make run`'s server (serving/gunicorn_conf.py): a browser's first visit sends the page
    and then a dozen script requests at once, all to a worker that has served nothing yet.
    Each must succeed, and the page router must be among the callbacks — Dash's own
    first-request set-up, left to the first request, raced its threads (blank page)."""
    import re
    from concurrent.futures import ThreadPoolExecutor
    from urllib.error import HTTPError
    from urllib.request import urlopen

    port = free_port()
    env = {**os.environ, "MODELDECK_BIND": f"127.0.0.1:{port}", "MODELDECK_WORKERS": "1",
           "MODELDECK_THREADS": "8", "MODELDECK_REGISTRY": str(tiny_registry),
           "MODELDECK_STATE_DIR": str(tmp_path / "state")}
    env.pop("MODELDECK_CACHE_URL", None)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c",
                             str(ROOT / "serving/gunicorn_conf.py"), "app:server"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "gunicorn.log", "w"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)

        def get(path):
            try:
                with urlopen(base + path, timeout=30) as r:
                    return r.status, r.read()
            except HTTPError as e:
                return e.code, e.read()

        # What the page links (the same code and files, so the same addresses), then
        # everything at once as the worker's very first requests: with the load balanced over
        # workers, the page itself is often served by another one.
        local = create_app(Settings(registry=str(tiny_registry),
                                    state_dir=str(tmp_path / "local")))
        page = local.server.test_client().get("/").get_data(as_text=True)
        scripts = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)
        assert len(scripts) >= 5
        paths = [*scripts, "/_dash-layout", "/_dash-dependencies", "/"]
        with ThreadPoolExecutor(len(paths)) as pool:
            answers = dict(zip(paths, pool.map(get, paths)))
        assert {p: s for p, (s, _) in answers.items() if s != 200} == {}
        deps = json.loads(answers["/_dash-dependencies"][1])
        assert any("_pages_content.children" in d["output"] for d in deps)
    finally:
        proc.terminate()
        proc.wait(20)


def test_thread_jobs_are_seen_by_every_worker_on_the_store(tmp_path):
    """The single-machine job runner (serving/jobs.py): a job started by one worker runs in
    a thread there; another worker's manager on the same store sees it running, then its
    result — the browser's polls may reach either. No process is forked."""
    import diskcache

    from serving.jobs import ThreadJobManager

    first = ThreadJobManager(diskcache.Cache(str(tmp_path / "jobs")), expire=60)
    second = ThreadJobManager(diskcache.Cache(str(tmp_path / "jobs")), expire=60)
    release = threading.Event()
    threads_before = threading.active_count()

    def job_fn(key, progress_key, args, context):
        first.handle.set(progress_key, ["halfway"])
        release.wait(10)
        first.handle.set(key, {"answer": args[0] * 2})

    job = first.call_job_fn("result-key", job_fn, [21], {})
    assert threading.active_count() == threads_before + 1
    deadline = time.monotonic() + 5
    while second.get_progress("result-key") is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert second.job_running(job) and not second.result_ready("result-key")
    release.set()
    deadline = time.monotonic() + 5
    while second.job_running(job):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert second.get_result("result-key", job) == {"answer": 42}
    assert not second.terminate_unhealthy_job(job)


def test_a_malformed_callback_request_is_a_400_not_a_500(tmp_path, tiny_registry):
    client = create_app(Settings(registry=str(tiny_registry),
                                 state_dir=str(tmp_path / "s"))).server.test_client()
    for body in ({}, [], {"output": 3, "inputs": []}, {"output": "x.children"}, None):
        r = client.post("/_dash-update-component", json=body)
        assert r.status_code == 400, (body, r.status_code)
        assert b"Not a Dash callback request" in r.data
    r = client.post("/_dash-update-component", data=b"{not json",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400
