"""One summary per model for the portfolio: champion, headline metric, change, health.

Health is a traffic light with its reason in words:

* ``act``   – the champion is clearly worse than the version before it, or production
  performance has fallen well below what evaluation promised;
* ``watch`` – a smaller fall, labels missing for recent production data, no champion alias,
  no evaluation rows, or parts of the registry that could not be read;
* ``ok``    – none of the above;
* ``error`` – the model's files could not be read (the reason names file and field).

Every threshold lives in ``HealthSettings``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from registry.cached import CachedSource
from registry.model import RegistryError, champion_of

from .language import format_delta, format_value, metric_sentence
from .logged import headline_logged, logged_health_caveat
from .metrics import HEADLINE, METRICS, compute_metric, relative_drop
from .monitoring import model_monitoring
from . import task_rows as tr
from .evaluation_rows import evaluation_summary, summary_metric
from .reads import evaluation_frame, has_production


@dataclass(frozen=True)
class HealthSettings:
    watch_drop: float = 0.02  # relative fall of the headline metric that earns "watch"
    act_drop: float = 0.05  # relative fall that earns "act"
    min_window_rows: int = 200  # fewest labelled production rows to judge a month


@dataclass(frozen=True)
class Health:
    status: str  # ok | watch | act | error
    reason: str


@dataclass(frozen=True)
class ModelSummary:
    name: str
    task: str
    description: str = ""
    metric: str = ""
    champion: int | None = None
    champion_how: str = ""  # "alias 'champion'", "stage Production", "newest version"
    value: float | None = None
    value_text: str = "–"
    sentence: str = ""
    previous: int | None = None
    delta: float | None = None
    delta_text: str = ""
    improved: bool | None = None
    last_updated: datetime | None = None
    n_versions: int = 0
    health: Health = Health("ok", "")
    has_monitoring: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    task_source: str = ""  # where the task came from (registry.model.Model.task_source)
    value_from: str = ""  # "rows": computed from prediction rows; "logged": as MLflow logged it


def summarize(deck: CachedSource, name: str,
              settings: HealthSettings = HealthSettings()) -> ModelSummary:
    """The portfolio card of one model, cached until its files change."""
    return deck.memo(("summary", name, settings), name,
                     lambda: _summarize(deck, name, settings))


def summary_if_ready(deck: CachedSource, name: str,
                     settings: HealthSettings = HealthSettings()) -> ModelSummary | None:
    """``summarize``'s answer when it has already been worked out, else None (no work)."""
    return deck.peek(("summary", name, settings), name)


def _summarize(deck: CachedSource, name: str, settings: HealthSettings) -> ModelSummary:
    model = deck.model(name)
    listing = deck.versions(name)
    versions = listing.items
    metric = HEADLINE.get(model.task, "")
    notes = [str(p) for p in deck.problems(name)]  # model.json's and the versions'
    base = dict(name=name, task=model.task, description=model.description, metric=metric,
                n_versions=len(versions), notes=tuple(notes), task_source=model.task_source)
    if not versions:
        return ModelSummary(**base, health=Health("watch", "No versions are registered yet."))
    champ, how = champion_of(versions)
    last = max((v.created_at for v in versions if v.created_at), default=model.updated_at)
    base.update(champion=champ.version, champion_how=how, last_updated=last)
    if not model.task_known:
        return ModelSummary(**base, health=Health(
            "watch", f"ModelDeck does not know what this model predicts, so it cannot judge "
                     f"it. Task {model.task_source}."))

    try:
        value = _headline(deck, model, champ.version, metric)
    except KeyError:
        return _summarize_logged(model, versions, champ, how, metric, base)
    except RegistryError as e:
        return ModelSummary(**base, health=Health("error", str(e.problem)))
    if not np.isfinite(value):
        return ModelSummary(**base, health=Health(
            "watch", f"{METRICS[metric].name} is undefined on v{champ.version}'s evaluation "
                     "rows (for example, only one class is present)."))
    base.update(value=value, value_text=format_value(metric, value, model.target_unit),
                sentence=metric_sentence(metric, value, model), value_from="rows")

    # Change against the version registered just before the champion.
    older = [v for v in versions if v.version < champ.version]
    prev_value = None
    if older:
        prev = max(older, key=lambda v: v.version)
        try:
            prev_value = _headline(deck, model, prev.version, metric)
        except (KeyError, RegistryError):
            prev_value = None
        if prev_value is not None and not np.isfinite(prev_value):
            prev_value = None
        if prev_value is not None:
            delta = value - prev_value
            base.update(previous=prev.version, delta=delta,
                        delta_text=f"{format_delta(metric, delta, model.target_unit)} "
                                   f"vs v{prev.version}",
                        improved=relative_drop(metric, value, prev_value) < 0)

    health = _health(deck, model, champ, how, metric, value, prev_value, base.get("previous"),
                     settings, notes)
    try:
        has_monitoring = has_production(deck, name)
    except RegistryError:
        has_monitoring = True  # its page explains what is wrong with the table
    return ModelSummary(**base, health=health, has_monitoring=has_monitoring)


def _summarize_logged(model, versions, champ, how, metric, base) -> ModelSummary:
    """The card of a champion without prediction rows, from the metrics MLflow logged on
    held-out data (point values as stored); its health says a verdict needs rows."""
    h = headline_logged(model, champ)
    if h is None:
        return ModelSummary(**base, health=Health(
            "watch", f"Version {champ.version} has no evaluation rows and logged no "
                     f"{METRICS[metric].name} on held-out data, so its quality is unknown."))
    base.update(value=h.value, value_text=h.text, sentence=h.meaning, value_from="logged")
    name = METRICS[metric].name
    older = [v for v in versions if v.version < champ.version]
    prev = max(older, key=lambda v: v.version) if older else None
    ph = headline_logged(model, prev) if prev is not None else None
    reason = f"{name} {h.text} as logged by MLflow on v{champ.version}."
    status = "ok"
    if ph is not None:
        delta = h.value - ph.value
        base.update(previous=prev.version, delta=delta,
                    delta_text=f"{format_delta(metric, delta, model.target_unit)} "
                               f"vs v{prev.version} (as logged)",
                    improved=relative_drop(metric, h.value, ph.value) < 0)
        if relative_drop(metric, h.value, ph.value) >= HealthSettings().watch_drop:
            status = "watch"
            reason = (f"The champion (v{champ.version}) logged a worse {name} than "
                      f"v{prev.version}: {h.text} against {ph.text}.")
    if not how.startswith(("alias", "stage")):
        status = "watch"
        reason += f" No version carries the 'champion' alias; v{champ.version} is the {how}."
    return ModelSummary(**base, health=Health(status, f"{reason} {logged_health_caveat()}"))


def _later_windows(unlabelled: int, few: int, kind: str, min_rows: int) -> str:
    """What the windows after the last one judged lack: " The newest month has no labels
    yet." or " 2 later months have too few labels to judge (under 200 each)." """
    if not few:
        return {0: "", 1: f" The newest {kind} has no labels yet."}.get(
            unlabelled, f" The {unlabelled} newest {kind}s have no labels yet.")
    text = (f" {few} later {kind}{'s have' if few > 1 else ' has'} too few labels to judge "
            f"(under {min_rows}{' each' if few > 1 else ''})")
    if unlabelled:
        text += f", and {unlabelled} {'have' if unlabelled > 1 else 'has'} none yet"
    return text + "."


def _health(deck, model, champ, how, metric, value, prev_value, prev_version, settings,
            notes) -> Health:
    name = METRICS[metric].name
    unit = model.target_unit
    fmt = lambda v: format_value(metric, v, unit)  # noqa: E731
    # 1. Production: the latest window with enough labels, against evaluation (the same
    #    values the monitoring page shows; their intervals and the drift are not needed).
    try:
        _, _, report = model_monitoring(deck, model.name, champ.version, intervals=False)
    except RegistryError as e:
        return Health("watch", f"Production data could not be read: {e.problem}")
    if report is not None and not report.performance.empty:
        perf = report.performance
        judged = perf.loc[(perf["labelled"] >= settings.min_window_rows) & perf["value"].notna()]
        if not judged.empty:
            last = judged.iloc[-1]
            drop = relative_drop(metric, float(last["value"]), value)
            when = last["label"]
            if drop >= settings.watch_drop:
                status = "act" if drop >= settings.act_drop else "watch"
                return Health(status, f"{name} in production fell to {fmt(last['value'])} in "
                                      f"{when}, from {fmt(value)} at evaluation "
                                      f"({drop:.0%} worse).")
            after = perf.loc[perf["window"] > last["window"], "labelled"]
            tail = _later_windows(int((after == 0).sum()), int((after > 0).sum()),
                                  report.window_kind, settings.min_window_rows)
            return Health("ok", f"{name} in production ({fmt(last['value'])} in {when}) "
                                f"holds up against evaluation ({fmt(value)}).{tail}")
    # 2. Evaluation: the champion against the version before it.
    versus = ""
    if prev_value is not None:
        drop = relative_drop(metric, value, prev_value)
        if drop >= settings.watch_drop:
            status = "act" if drop >= settings.act_drop else "watch"
            return Health(status, f"The champion (v{champ.version}) scores worse than "
                                  f"v{prev_version}: {name} {fmt(value)} against "
                                  f"{fmt(prev_value)}.")
        if drop > 0:
            versus = (f"The champion scores slightly below v{prev_version} ({fmt(value)} "
                      f"against {fmt(prev_value)}), within the {settings.watch_drop:.0%} "
                      "tolerance.")
        else:
            versus = f"The champion scores at least as well as v{prev_version}."
    if not how.startswith(("alias", "stage")):
        return Health("watch", "No version carries the 'champion' alias, so ModelDeck treats "
                               f"v{champ.version}, the {how}, as the champion.")
    if notes:
        return Health("watch", f"{len(notes)} part(s) of this model's files could not be read.")
    production = ("No production data is registered." if report is None else
                  "Production data has too few labelled rows to judge.")
    return Health("ok", f"{versus} {production}".strip())


def _headline(deck, model, version: int, metric: str) -> float:
    """``metric`` of a version's evaluation rows: from the engine's summary when an engine
    keeps them, else on the rows."""
    summary = evaluation_summary(deck, model.name, version)
    if summary is not None:
        return summary_metric(model, summary, metric).value
    kept = tr.task_points(deck, model.name, version)
    if kept is not None:  # a number or class model's rows an engine keeps
        return tr.summary_metric(model, kept, metric).value
    return compute_metric(model, evaluation_frame(deck, model.name, version), metric)
