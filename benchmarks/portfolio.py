"""The portfolio's first view, at 4 models (the sample) and at 200, as a manager sees it.

    .venv/bin/python benchmarks/portfolio.py                  # 4 and 200 models, 3 cold starts each
    .venv/bin/python benchmarks/portfolio.py --models 200 --starts 1

For each size, on a fresh copy of the registry:
1. starts gunicorn as ``make run`` does (serving/gunicorn_conf.py's defaults, the default
   cache in a new, empty state folder) on a free 127.0.0.1 port, waits until it listens —
   a server that has just started, nothing read yet;
2. headless Chromium opens ``/`` and the clock runs until (a) the first page of cards is on
   the screen (twelve, or every model when fewer), (b) the first screen (the first nine
   cards, three rows at 1300 px) shows each card's health, headline metric and
   recommendation, (c) the page knows every model's health (what search, the health filter
   and the orders work on), (d) with ``--all-advice``, every model's recommendation is
   known (at 200 models that is 200 cold evidence computations: minutes on 2 cores);
3. opens ``/`` again (warm), then types a search, picks a health filter and sorts by money
   at stake, timing each until the cards on screen change;
4. stops gunicorn. Repeated ``--starts`` times (a new server and an empty cache each time).

The 200-model registry is the sample's four models, each copied 50 times under new names
(``customer-churn-017``…): real prediction tables, monitoring rows and business settings,
so every card does the same work a real one does.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))
from load import ROOT, SAMPLE, browser, free_port, wait_port  # noqa: E402

CARD = ".model-card"
PAGE_SIZE = 12  # analysis.portfolio_view.PAGE_SIZE


def build_registry(dest: Path, n_models: int) -> Path:
    """The sample (n_models == 4) or the sample's models copied to reach ``n_models``."""
    shutil.copytree(SAMPLE, dest)
    if n_models == 4:
        return dest
    models = dest / "models"
    originals = sorted(p.name for p in models.iterdir())
    for i in range(n_models - len(originals)):
        base = originals[i % len(originals)]
        name = f"{base}-{i + 1:03d}"
        shutil.copytree(models / base, models / name)
        meta_path = models / name / "model.json"
        meta = json.loads(meta_path.read_text())
        meta["name"] = name
        meta_path.write_text(json.dumps(meta, indent=2))
    return dest


def count(driver, css: str) -> int:
    return driver.execute_script(f"return document.querySelectorAll({css!r}).length")


def until(predicate, t0: float | None = None, seconds: float = 300,
          step: float = 0.02) -> float:
    """Seconds from ``t0`` (default: now) until ``predicate()`` is true."""
    t0 = time.perf_counter() if t0 is None else t0
    while time.perf_counter() - t0 < seconds:
        if predicate():
            return time.perf_counter() - t0
        time.sleep(step)
    raise RuntimeError("timed out")


FIRST_SCREEN = 9


def first_screen_done(driver) -> bool:
    return driver.execute_script(
        "const cols = Array.from(document.querySelectorAll('#portfolio-cards > div'))"
        f".slice(0, {FIRST_SCREEN});"
        "return cols.length > 0 && cols.every(c => !c.querySelector('.status-pending')"
        " && !c.querySelector('.advice-pending'));")


def open_portfolio(driver, base: str, n: int, all_advice: bool) -> dict[str, float]:
    """Seconds from the address being entered until each condition first holds (polled
    together, every 20 ms)."""
    conditions = {
        "cards": lambda: count(driver, CARD) >= min(n, PAGE_SIZE),
        "first screen": lambda: first_screen_done(driver),
        "every health": lambda: "Health:" in counts_text(driver)
        and "still being checked" not in counts_text(driver),
    }
    if all_advice:
        conditions["every advice"] = lambda: "Health:" in counts_text(driver) and \
            "still being" not in counts_text(driver)
    driver.get("about:blank")
    t0 = time.perf_counter()
    driver.get(base + "/")
    out: dict[str, float] = {}
    while len(out) < len(conditions):
        for name, holds in conditions.items():
            if name not in out and holds():
                out[name] = time.perf_counter() - t0
        if time.perf_counter() - t0 > 1800:
            raise RuntimeError(f"timed out; reached {sorted(out)}")
        time.sleep(0.02)
    return {name: out[name] for name in conditions}


def counts_text(driver) -> str:
    """What the page says it knows about every model ("Health: …; … still being checked")."""
    return driver.execute_script(
        "const e = document.getElementById('portfolio-health-counts');"
        "return e ? e.textContent : ''")


def visible_cards(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.model-card'))"
        ".filter(c => c.offsetParent !== null)"
        ".map(c => [c.getBoundingClientRect().top, c.getBoundingClientRect().left,"
        " c.querySelector('h2').textContent])"
        ".sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(c => c[2])")


def interactions(driver) -> dict[str, float]:
    from selenium.webdriver.support.ui import Select

    out = {}
    before = visible_cards(driver)
    box = driver.find_element("id", "portfolio-search")
    t0 = time.perf_counter()
    box.send_keys("churn")
    out["search"] = until(lambda: visible_cards(driver) != before, t0)
    box.clear()
    box.send_keys(" ")  # back to every card (a blank search matches all)
    until(lambda: len(visible_cards(driver)) == len(before))
    before = visible_cards(driver)
    t0 = time.perf_counter()
    Select(driver.find_element("id", "portfolio-health")).select_by_value("watch")
    out["filter by health"] = until(lambda: visible_cards(driver) != before, t0)
    Select(driver.find_element("id", "portfolio-health")).select_by_value("all")
    until(lambda: len(visible_cards(driver)) == len(before))
    before = visible_cards(driver)
    t0 = time.perf_counter()
    Select(driver.find_element("id", "portfolio-sort")).select_by_value("money")
    out["sort by money"] = until(lambda: visible_cards(driver) != before, t0)
    return out


def one_start(registry: Path, tmp: Path, n: int, run: int, all_advice: bool
              ) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "MODELDECK_REGISTRY": str(registry),
           "MODELDECK_STATE_DIR": str(tmp / f"state-{n}-{run}"),
           "MODELDECK_BIND": f"127.0.0.1:{port}", "PYTHONPATH": str(ROOT)}
    env.pop("MODELDECK_CACHE_URL", None)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen([str(gunicorn), "-c", str(ROOT / "serving/gunicorn_conf.py"),
                             "app:server"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "gunicorn.log", "a"), start_new_session=True)
    driver = None
    try:
        wait_port(port, proc, 120)
        driver = browser("1300,1000")
        base = f"http://127.0.0.1:{port}"
        cold = open_portfolio(driver, base, n, all_advice)
        if not all_advice:  # let every model finish, so that the second visit is warm
            until(lambda: "still being" not in counts_text(driver), None, 1800, 0.5)
        warm = open_portfolio(driver, base, n, True)
        result = {f"cold: {k}": v for k, v in cold.items()}
        result |= {f"warm: {k}": v for k, v in warm.items()}
        result |= interactions(driver)
        return result
    finally:
        if driver is not None:
            driver.quit()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(30)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, nargs="+", default=[4, 200])
    ap.add_argument("--starts", type=int, default=3, help="cold starts per size")
    ap.add_argument("--all-advice", action="store_true",
                    help="also time until every card's recommendation is in, cold")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="modeldeck-portfolio-"))
    try:
        for n in args.models:
            registry = build_registry(tmp / f"registry-{n}", n)
            runs = [one_start(registry, tmp, n, i, args.all_advice or n <= 20)
                    for i in range(args.starts)]
            print(f"\n{n} models, {args.starts} fresh start(s): median (min–max) seconds")
            for key in runs[0]:
                values = [r[key] for r in runs]
                print(f"  {key:<18} {statistics.median(values):6.2f}  "
                      f"({min(values):.2f}–{max(values):.2f})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
