"""Helpers shared by the browser tests (dash_duo in headless Chromium)."""
from __future__ import annotations

import time
from pathlib import Path


AXE_JS = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def axe_source() -> str:
    """The pinned axe-core (tests/axe/package.json, installed by ``make test`` with npm)."""
    if not AXE_JS.is_file():
        raise RuntimeError(f"{AXE_JS} is missing: run `make test` (it runs `npm ci` in tests/axe)")
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(driver, serious_only=True, ignore=None):
    """axe-core's violations on the current page (serious and critical ones by default), as
    readable strings. ``ignore(rule_id, target)`` drops single nodes a test has a stated
    reason to leave out (e.g. markup inside a third-party widget)."""
    driver.execute_script(axe_source())
    driver.set_script_timeout(60)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done({version: axe.version, violations: r.violations}))"
        ".catch(e => done({error: String(e)}));")
    if "error" in result:
        raise RuntimeError(f"axe-core failed: {result['error']}")
    assert result["version"].startswith("4."), result["version"]
    out = []
    for v in result["violations"]:
        if serious_only and v["impact"] not in ("serious", "critical"):
            continue
        nodes = [n["target"] for n in v["nodes"]]
        if ignore is not None:
            nodes = [t for t in nodes if not ignore(v["id"], t)]
        if nodes:
            out.append(f"{v['id']} ({v['impact']}): {v['help']} — {nodes[:3]}")
    return out


def click(dash_duo, selector, timeout=30):
    """Scroll an element into view and click it, retrying while the page is still settling.
    The scroll is instant: Bootstrap's smooth scrolling would still be moving the page."""
    from selenium.common.exceptions import (ElementClickInterceptedException,
                                            StaleElementReferenceException)
    deadline = time.time() + timeout
    while True:
        try:
            el = dash_duo.find_element(selector)
            dash_duo.driver.execute_script(
                "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", el)
            el.click()
            return
        except (ElementClickInterceptedException, StaleElementReferenceException):
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def wait_cards(dash_duo, n, timeout=30):
    """The portfolio's model cards, once at least ``n`` are on the page and each has filled
    in its health (the page shows each card's shell first)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        cards = dash_duo.find_elements(".model-card")
        if len(cards) >= n and not dash_duo.find_elements(".model-card.status-pending"):
            return cards
        time.sleep(0.05)
    raise AssertionError(f"expected {n} cards, saw {len(dash_duo.find_elements('.model-card'))}")


def wait_until(predicate, timeout=20, what="condition"):
    """``predicate()``'s first truthy value, polling; an element that went stale or is not
    there yet (the page is re-rendering under us) counts as "not yet"."""
    from selenium.common.exceptions import (NoSuchElementException,
                                            StaleElementReferenceException)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (StaleElementReferenceException, NoSuchElementException):
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
