"""Runs one case of ``fuzz_corpus`` against a real app: the source, the analysis behind the
pages, the pages themselves through Dash's own callback endpoint (``/_dash-update-component``,
as a browser asks for them), the main callbacks and the ``/export/...`` routes.

``check_case`` returns what went wrong, in words (an empty list when the case passed); with
``pages=False`` it opens only the portfolio and checks the Problem at the source:
an HTTP status other than 200, a traceback in a response or in the log, a request that took
more than ``HANG_SECONDS``, another model whose card changed, a Problem that does not name the
expected file and field (or a page that does not show it), or a file outside the registry
whose content reached a page or an export.
"""
from __future__ import annotations

import json
import logging
import shutil
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from analysis.evidence import portfolio_advice
from analysis.portfolio import summarize
from registry.cached import CachedSource
from registry.folder import FolderSource
from registry.model import RegistryError

from fuzz_corpus import Case

HANG_SECONDS = 30
SECRET = "SECRET-OUTSIDE"


@dataclass
class Env:
    app: object
    base: Path  # the untouched tiny registry
    root: Path  # where each case's registry is built (always the same path)
    cache: object
    source: FolderSource
    baseline: dict[str, str] = field(default_factory=dict)  # model -> card value text

    @property
    def client(self):
        return self.app.server.test_client()


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int):
    def boom(signum, frame):
        raise Hang(f"no answer within {seconds} s")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


class _Tracebacks(logging.Handler):
    """Collects log records that carry a traceback or are errors."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


# ------------------------------------------------------------------ requests
def page_request(path: str) -> dict:
    pathname, _, query = path.partition("?")
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": pathname},
                       {"id": "_pages_location", "property": "search",
                        "value": f"?{query}" if query else ""}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}


def monitoring_requests(app, model: str) -> list[tuple[str, dict]]:
    """The monitoring page's two callbacks (pages/monitoring.py): its outline, then the whole
    (an output Dash names with a suffix, since two callbacks write it)."""
    ref = [("monitoring-ref", "data", {"model": model, "version": None, "threshold": None})]
    whole = next(k for k in app.callback_map if k.startswith("monitoring-body.children@"))
    return [("outline", callback_request("..monitoring-body.children...monitoring-whole.data..",
                                         ref)),
            ("whole", callback_request(whole, [("monitoring-whole", "data", False)], ref))]


def callback_request(output: str, inputs: list[tuple[str, str, object]],
                     state: list[tuple[str, str, object]] = ()) -> dict:
    """A request for a callback with plain ids; ``output`` as Dash writes it ("id.prop",
    several joined as "..a.p...b.q..")."""
    outs = [o for o in output.strip(".").split("...")] if output.startswith("..") else [output]
    return {"output": output,
            "outputs": [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]}
                        for o in outs] if len(outs) > 1 else
            {"id": outs[0].rsplit(".", 1)[0], "property": outs[0].rsplit(".", 1)[1]},
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
            "state": [{"id": i, "property": p, "value": v} for i, p, v in state]}


def card_requests(model: str) -> list[dict]:
    """What the browser asks for one portfolio card once its shell is on screen: its health
    and headline metric, then its recommendation (pages/portfolio.py, one request each)."""
    out = []
    for trigger, outputs in (("card-body", (("card-body", "children"),
                                            ("model-card", "className"))),
                             ("card-advice", (("card-advice", "children"),))):
        def key(kind):
            return json.dumps({"model": ["MATCH"], "type": kind}, separators=(",", ":"))
        trigger_id = {"model": model, "type": trigger}
        many = len(outputs) > 1
        out.append({
            "output": "".join(f"..{key(k)}.{p}." for k, p in outputs) + "." if many
            else f"{key(outputs[0][0])}.{outputs[0][1]}",
            "outputs": [{"id": {"model": model, "type": k}, "property": p}
                        for k, p in outputs] if many
            else {"id": {"model": model, "type": outputs[0][0]}, "property": outputs[0][1]},
            "inputs": [{"id": trigger_id, "property": "id", "value": trigger_id}],
            "changedPropIds": [f"{json.dumps(trigger_id, separators=(',', ':'))}.id"],
            "state": []})
    return out


# ------------------------------------------------------------------ one case
def build(env: Env, case: Case) -> None:
    for p in env.root.parent.glob("outside-*"):
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    if env.root.exists():
        shutil.rmtree(env.root)
    shutil.copytree(env.base, env.root, symlinks=True)
    case.mutate(env.root)


def collect_problems(deck: CachedSource, failures: list[str]) -> list:
    """Every Problem the source reports, reading every file a page could ask for."""
    problems = []

    def guard(what, fn):
        try:
            return fn()
        except (KeyError, RegistryError) as e:
            if isinstance(e, RegistryError):
                problems.append(e.problem)
            return None
        except Hang:
            raise
        except Exception as e:  # noqa: BLE001 - that is what this looks for
            failures.append(f"{what} raised {type(e).__name__}: {e}")
            return None

    listing = guard("models()", deck.models)
    if listing is not None:
        problems += listing.problems
        for m in listing.items:
            vl = guard(f"versions({m.name})", lambda: deck.versions(m.name))
            if vl is None:
                continue
            problems += vl.problems
            for v in vl.items:
                for split in v.splits or (None,):
                    guard(f"evaluation({m.name}, {v.version})",
                          lambda: deck.evaluation(m.name, v.version, split))
            guard(f"monitoring({m.name})", lambda: deck.monitoring(m.name))
    exps = guard("experiments()", deck.experiments)
    if exps is not None:
        problems += exps.problems
        for e in exps.items:
            runs = guard(f"runs({e.name})", lambda: deck.runs(e.name))
            if runs is not None:
                problems += runs.problems
            guard(f"metric_history({e.name})", lambda: deck.metric_history(e.name))
    return problems


def _field_matches(found: str, expected: str | None) -> bool:
    if expected is None:
        return True
    if expected == "":
        return found == ""
    return found == expected or found.startswith((expected + ".", expected + ":"))


def check_case(env: Env, case: Case, pages: bool = True) -> list[str]:
    """Build the case's registry and open what it touches. Every case opens the portfolio;
    with ``pages`` also its recommendations, /recommendations, the case's pages (each version
    of a model) and, with ``exports``, the HTML reports."""
    failures: list[str] = []
    build(env, case)
    # One source for all cases, like an app whose registry changes while it runs: files a
    # case did not touch keep their size and time, so their parsed tables stay cached.
    deck = CachedSource(env.source, env.cache)
    env.app.server.extensions["modeldeck"] = deck
    catcher = _Tracebacks()
    logging.getLogger().addHandler(catcher)
    texts: dict[str, str] = {}
    client = env.client
    try:
        with time_limit(HANG_SECONDS):
            problems = collect_problems(deck, failures)

            def ask(what: str, send):
                t0 = time.perf_counter()
                r = send()
                body = "" if r.mimetype.startswith("application/vnd") else \
                    r.get_data(as_text=True)
                if r.mimetype == "application/json":
                    body = json.dumps(json.loads(body), ensure_ascii=False)
                export = what.startswith("/export/")
                if r.status_code != 200 and not (export and r.status_code in (400, 404, 503)
                                                 and "models/" in body):
                    # an export may refuse, saying which file is at fault; nothing else may
                    failures.append(f"{what}: HTTP {r.status_code} {body[:300]}")
                if "Traceback" in body:
                    failures.append(f"{what}: a traceback in the response")
                if SECRET in body:
                    failures.append(f"{what}: shows a file from outside the registry")
                texts[what] = body
                if time.perf_counter() - t0 > HANG_SECONDS / 2:
                    failures.append(f"{what}: took {time.perf_counter() - t0:.0f} s")
                return body

            post = lambda body: client.post("/_dash-update-component", json=body)  # noqa
            ask("/", lambda: post(page_request("/")))
            for name in [m.name for m in deck.models().items]:
                # The cards fill in, one request each: health, then (pages only: it is the
                # slow part) the recommendation.
                for req in card_requests(name)[:None if pages else 1]:
                    texts["/"] = texts.get("/", "") + ask(f"portfolio card {name}",
                                                          lambda: post(req))
            if pages:
                advice = portfolio_advice(deck)
                for name in env.baseline:
                    if name != case.model and not _registry_wide(case) and not any(
                            a.model == name and a.recommendations for a in advice):
                        failures.append(f"the recommendations lost {name}")
                ask("/recommendations", lambda: post(callback_request(
                    "recommendations-body.children",
                    [("recommendations-trigger", "data", True)])))
                for template in case.pages:
                    path = template.format(m=case.model)
                    ask(path, lambda: post(page_request(path)))
                    if path.startswith("/monitoring/"):  # its body: two callbacks
                        for what, req in monitoring_requests(env.app, case.model):
                            ask(f"{path} {what}", lambda: post(req))
                    if path.startswith("/models/") and case.model == "churn":
                        ask("threshold callback", lambda: post(callback_request(
                            "..confusion-matrix.figure...threshold-metrics.children..."
                            "threshold-sentence.children..",
                            [("threshold", "value", 0.3)],
                            [("model-ref", "data", {"model": "churn", "version": 2})])))
                    if path.startswith("/models/") and case.model:
                        for v in {v.version for v in _versions(deck, case.model)}:
                            ask(f"{path}?version={v}", lambda: post(page_request(
                                f"{path}?version={v}")))
                if case.exports and case.model:
                    for url in (f"/export/report/model/html?model={case.model}",
                                "/export/report/portfolio/html"):
                        ask(url, lambda: client.get(url))
    except Hang as e:
        failures.append(f"hang: {e}")
        problems = []
    except Exception as e:  # noqa: BLE001 - an analysis call of the harness itself
        failures.append(f"{type(e).__name__}: {e}")
        problems = []
    finally:
        logging.getLogger().removeHandler(catcher)
    for r in catcher.records:
        failures.append(f"logged {r.levelname} from {r.name}: {r.getMessage()[:200]}"
                        + (" (with a traceback)" if r.exc_info else ""))
    _check_isolation(env, case, deck, texts, failures)
    _check_message(case, problems, texts if pages else None, failures)
    return failures


def _versions(deck, model):
    try:
        return deck.versions(model).items
    except (KeyError, RegistryError):
        return ()


def _registry_wide(case: Case) -> bool:
    """A case that breaks the registry's ``models`` folder itself: no model can survive it."""
    return case.model is None and case.path is not None and case.path.startswith("models")


def _check_isolation(env: Env, case: Case, deck, texts, failures) -> None:
    """Every model the case does not touch keeps its card, on the portfolio and in the
    summaries (a registry-wide case, model None with a problem path, is exempt)."""
    if _registry_wide(case):
        return
    portfolio = texts.get("/", "")
    for name, value_text in env.baseline.items():
        if name == case.model:
            continue
        try:
            got = summarize(deck, name).value_text
        except Exception as e:  # noqa: BLE001
            failures.append(f"another model, {name}, broke: {type(e).__name__}: {e}")
            continue
        if got != value_text:
            failures.append(f"another model, {name}, changed: {got} instead of {value_text}")
        if portfolio and (name not in portfolio or value_text not in portfolio):
            failures.append(f"the portfolio lost {name}'s card")
        recs = texts.get("/recommendations", "")
        if recs and name not in recs:
            failures.append(f"/recommendations lost {name}")


def _check_message(case: Case, problems, texts: dict | None, failures) -> None:
    """The Problem the case must cause (file and field), or none for ordinary data; with
    ``texts`` (the pages opened), also that a page shows it (or the case's note)."""
    errors_here = [p for p in problems if p.severity == "error" and case.model
                   and p.model == case.model]
    if case.path is None:
        if errors_here:
            failures.append(f"ordinary data reported as an error: {errors_here[0]}")
        if case.note and texts is not None:
            shown = " ".join(texts.values())
            if case.note not in shown:
                failures.append(f"the pages do not say {case.note!r}")
        return
    hits = [p for p in problems if (p.path == case.path or p.path.rstrip("/") == case.path
                                    .rstrip("/")) and _field_matches(p.field, case.field)]
    if not hits:
        seen = "; ".join(str(p) for p in problems) or "no problem at all"
        failures.append(f"no problem names {case.path!r} field {case.field!r}: {seen}")
        return
    if texts is None:
        return
    shown = " ".join(texts.values())
    if case.path not in shown and json.dumps(case.path)[1:-1] not in shown:
        failures.append(f"no page shows the file {case.path!r}")
    elif hits[0].field and hits[0].field not in shown and \
            json.dumps(hits[0].field)[1:-1] not in shown:
        failures.append(f"no page shows the field {hits[0].field!r}")
