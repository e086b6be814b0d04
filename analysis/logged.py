"""What a version's logged metrics say when it has no prediction rows.

MLflow's default evaluator (``mlflow.models.evaluate``) and scikit-learn autolog log metrics
under their own names (``accuracy_score``, ``root_mean_squared_error``, ``training_roc_auc``…).
This module is the one place that maps those names onto ModelDeck's metric keys
(``analysis.metrics.METRICS``), so that a logged value gets the same name and plain-language
meaning as one ModelDeck computes; it also gives exact intervals where the logged counts allow
them (Clopper-Pearson, from the true/false positive/negative counts and ``example_count``), and
says "no interval: needs prediction rows" everywhere else. Values are shown exactly as stored.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from registry.model import Model, ModelVersion

from .language import format_value, metric_sentence
from .metrics import HEADLINE, METRICS, relative_drop

TRAINING = "training"  # group of autolog's metrics on the training data
HELD_OUT = "held-out"  # group of mlflow.evaluate's metrics without a prefix
NO_INTERVAL = "no interval: needs prediction rows"
EXACT = "exact 95% interval (Clopper-Pearson) from the logged counts"

# MLflow metric name -> ModelDeck key, per task (None: shown under its own name and meaning).
# The default evaluator averages precision, recall and F1 over the classes ("weighted") when
# there are more than two; ModelDeck's precision/recall/F1 are those of the positive class.
_BY_TASK: dict[str, dict[str, str]] = {
    "binary": {"accuracy_score": "accuracy", "precision_score": "precision",
               "recall_score": "recall", "f1_score": "f1", "roc_auc": "roc_auc",
               "log_loss": "log_loss"},
    "multiclass": {"accuracy_score": "accuracy", "f1_score": "f1_weighted",
                   "log_loss": "log_loss"},
    "regression": {"mean_absolute_error": "mae", "root_mean_squared_error": "rmse",
                   "r2_score": "r2", "mean_absolute_percentage_error": "mape"},
}
_ANY_TASK = {"accuracy_score": "accuracy", "log_loss": "log_loss", "mean_absolute_error": "mae",
             "root_mean_squared_error": "rmse", "r2_score": "r2",
             "mean_absolute_percentage_error": "mape"}

# Names MLflow logs that have no ModelDeck key: (label, meaning).
OWN_NAMES: dict[str, tuple[str, str]] = {
    "example_count": ("Rows evaluated", "How many rows the metrics were computed on."),
    "true_positives": ("True positives", "Positive cases the model flagged."),
    "false_positives": ("False positives", "Negative cases the model flagged by mistake "
                                           "(false alarms)."),
    "true_negatives": ("True negatives", "Negative cases the model left alone."),
    "false_negatives": ("False negatives", "Positive cases the model missed."),
    "precision_recall_auc": ("Area under the precision-recall curve",
                             "How precise the alerts stay as the model flags more and more "
                             "cases (MLflow's trapezoid area). Higher is better."),
    "precision_score": ("Precision (weighted over classes)",
                        "For each class, the share of the rows predicted as that class that "
                        "really are it, averaged by how common each class is."),
    "recall_score": ("Recall (weighted over classes)",
                     "For each class, the share of its rows the model recognises, averaged "
                     "by how common each class is (equal to accuracy)."),
    "f1_score": ("F1 score", "A balance of precision and recall."),
    "roc_auc": ("ROC AUC (one class against the rest, weighted)",
                "For each class, the chance that the model scores a row of that class above "
                "a row of another, averaged by how common each class is."),
    "mean_squared_error": ("Mean squared error",
                           "The average squared prediction error, in the target's unit "
                           "squared. Lower is better."),
    "max_error": ("Largest error", "The worst miss on these rows, in the target's unit."),
    "mean_on_target": ("Mean of the target", "The average true value on these rows."),
    "sum_on_target": ("Sum of the target", "The total of the true values on these rows."),
    "score": ("Estimator's own score",
              "What the scikit-learn estimator's score() returns: accuracy for a classifier, "
              "R² for a regressor."),
}
KNOWN = tuple(sorted(set(OWN_NAMES) | set(_ANY_TASK) | {k for m in _BY_TASK.values() for k in m},
                     key=len, reverse=True))


def mlflow_key(name: str, task: str) -> str | None:
    """ModelDeck's key for an MLflow metric name (without prefix), or None."""
    return _BY_TASK.get(task, _ANY_TASK).get(name)


def split_name(name: str) -> tuple[str, str]:
    """(group, base name): ``training_roc_auc`` -> (training, roc_auc);
    ``val_roc_auc`` -> (val, roc_auc); ``holdout/roc_auc`` (a metric logged on a logged model
    for a named dataset) -> (holdout, roc_auc); ``roc_auc`` -> (held-out, roc_auc). A name
    MLflow's evaluators do not log keeps its own group "other"."""
    if "/" in name:
        group, _, base = name.rpartition("/")
        return group, base
    if name.startswith("training_"):
        return TRAINING, name[len("training_"):]
    if name in KNOWN:
        return HELD_OUT, name
    for base in KNOWN:
        if name.endswith("_" + base):
            return name[:-len(base) - 1], base
    return "other", name


def group_label(group: str) -> str:
    return {TRAINING: "on training data (logged by autolog while fitting)",
            HELD_OUT: "on held-out data (logged by mlflow.evaluate)",
            "other": "other metrics logged with the run"}.get(group, f"on '{group}'")


@dataclass(frozen=True)
class LoggedValue:
    name: str  # as stored in MLflow
    group: str
    base: str
    key: str | None  # ModelDeck metric key when the meaning is the same
    label: str
    value: float
    text: str  # the value formatted
    meaning: str  # plain-language sentence
    low: float | None = None
    high: float | None = None
    interval: str = NO_INTERVAL


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval of a proportion k/n (scipy's binomtest, method "exact")."""
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def _count(metrics: dict, name: str) -> int | None:
    v = metrics.get(name)
    if v is None or not np.isfinite(v) or v < 0 or abs(v - round(v)) > 1e-9:
        return None
    return int(round(v))


def _counts_for(base: str, values: dict[str, float]) -> tuple[int, int] | None:
    """(successes, trials) behind a logged proportion, when the logged counts give them and
    agree with the logged value (a weighted evaluation would not)."""
    tp, fp, tn, fn = (_count(values, n) for n in ("true_positives", "false_positives",
                                                  "true_negatives", "false_negatives"))
    n = _count(values, "example_count")
    value = values.get(base)
    cand = None
    if base == "precision_score" and None not in (tp, fp) and tp + fp > 0:
        cand = (tp, tp + fp)
    elif base == "recall_score" and None not in (tp, fn) and tp + fn > 0:
        cand = (tp, tp + fn)
    elif base == "accuracy_score":
        if None not in (tp, fp, tn, fn) and tp + fp + tn + fn > 0:
            cand = (tp + tn, tp + fp + tn + fn)
        elif n and value is not None and abs(round(value * n) / n - value) < 1e-9:
            cand = (int(round(value * n)), n)  # multiclass: right answers = accuracy × rows
    if cand is None or value is None or abs(cand[0] / cand[1] - value) > 1e-9:
        return None
    return cand


def logged_values(model: Model, version: ModelVersion) -> list[LoggedValue]:
    """Every metric the version logged, grouped (held-out first, then prefixed datasets,
    training last), each with its ModelDeck name and meaning where one exists, and an exact
    interval where the logged counts allow one."""
    groups: dict[str, dict[str, float]] = {}
    for name, value in version.metrics.items():
        group, base = split_name(name)
        groups.setdefault(group, {})[base] = float(value)
    out = []
    order = sorted(groups, key=lambda g: (g == TRAINING, g == "other", g != HELD_OUT, g))
    for group in order:
        values = groups[group]
        for base in sorted(values, key=lambda b: (_rank(b, model.task), b)):
            value = values[base]
            name = base if group in (HELD_OUT, "other") else (
                f"training_{base}" if group == TRAINING else
                (f"{group}/{base}" if f"{group}/{base}" in version.metrics else f"{group}_{base}"))
            key = mlflow_key(base, model.task)
            if key is not None:
                unit = model.target_unit if METRICS[key].kind == "unit" else ""
                label, text = METRICS[key].name, format_value(key, value, unit)
                meaning = metric_sentence(key, value, model)
            elif base in OWN_NAMES:
                label, meaning = OWN_NAMES[base]
                text = f"{value:,.0f}" if base in _COUNTS else f"{value:.4g}"
            else:
                label, meaning, text = base, "Logged with the run; ModelDeck has no meaning " \
                                             "for this name.", f"{value:.4g}"
            low = high = None
            interval = "" if base in _COUNTS else NO_INTERVAL
            kn = _counts_for(base, values)
            if kn is not None:
                low, high = clopper_pearson(*kn)
                interval = EXACT
            out.append(LoggedValue(name, group, base, key, label, value, text, meaning,
                                   low, high, interval))
    return out


_COUNTS = ("example_count", "true_positives", "false_positives", "true_negatives",
           "false_negatives", "sum_on_target", "mean_on_target")


def _rank(base: str, task: str) -> int:
    key = mlflow_key(base, task)
    if key is not None and key == HEADLINE.get(task):
        return 0
    if key is not None:
        return 1
    return 3 if base in _COUNTS else 2


def headline_logged(model: Model, version: ModelVersion) -> LoggedValue | None:
    """The task's headline metric as logged on held-out data (mlflow.evaluate), if any."""
    want = HEADLINE.get(model.task)
    return next((v for v in logged_values(model, version)
                 if v.group == HELD_OUT and v.key == want and want), None)


def logged_across_versions(model: Model, versions) -> pd.DataFrame:
    """The headline metric each version logged on held-out data, oldest first (point values
    as stored). Columns: version, label, aliases, metric, value, text, problem."""
    rows = []
    metric = HEADLINE.get(model.task, "")
    for v in sorted(versions, key=lambda v: v.version):
        h = headline_logged(model, v)
        rows.append({"version": v.version, "label": v.label, "aliases": ", ".join(v.aliases),
                     "metric": metric, "value": h.value if h else np.nan,
                     "text": h.text if h else "–",
                     "problem": "" if h else "not logged on held-out data"})
    return pd.DataFrame(rows, columns=["version", "label", "aliases", "metric", "value", "text",
                                       "problem"])


def logged_comparison(model: Model, a: ModelVersion, b: ModelVersion) -> pd.DataFrame:
    """Held-out metrics both versions logged, side by side: point values only (paired
    intervals need the prediction rows of both). Columns: name, label, key, value_a, value_b,
    text_a, text_b, delta, better (True when b is better, None when unknown)."""
    va = {x.name: x for x in logged_values(model, a) if x.group != TRAINING}
    vb = {x.name: x for x in logged_values(model, b) if x.group != TRAINING}
    rows = []
    for name, x in va.items():
        y = vb.get(name)
        if y is None or x.base in _COUNTS:
            continue
        better = None
        if x.key is not None and x.value != y.value:
            better = relative_drop(x.key, y.value, x.value) < 0
        rows.append({"name": name, "label": x.label, "key": x.key, "value_a": x.value,
                     "value_b": y.value, "text_a": x.text, "text_b": y.text,
                     "delta": y.value - x.value, "better": better})
    return pd.DataFrame(rows, columns=["name", "label", "key", "value_a", "value_b", "text_a",
                                       "text_b", "delta", "better"])


@dataclass(frozen=True)
class VersionChanges:
    """What differs between two versions' runs: (name, value in a, value in b) triples."""

    params: tuple[tuple[str, str, str], ...]
    tags: tuple[tuple[str, str, str], ...]
    datasets: tuple[tuple[str, str, str], ...]  # (context, datasets of a, datasets of b)


def version_changes(a: ModelVersion, b: ModelVersion) -> VersionChanges:
    def diff(x, y):
        keys = sorted(set(x) | set(y))
        return tuple((k, _show(x.get(k)), _show(y.get(k))) for k in keys
                     if _show(x.get(k)) != _show(y.get(k)))

    def by_context(v):
        out: dict[str, list[str]] = {}
        for d in v.datasets:
            out.setdefault(d.context or "no context", []).append(
                f"{d.name} ({d.digest})" if d.digest else d.name)
        return {k: ", ".join(sorted(x)) for k, x in out.items()}
    return VersionChanges(diff(a.params, b.params), diff(a.tags, b.tags),
                          diff(by_context(a), by_context(b)))


def _show(v) -> str:
    return "—" if v is None else str(v)


def logged_health_caveat() -> str:
    return ("These are the metrics MLflow logged; a verdict needs prediction rows to be "
            "sure (docs/mlflow.md says how to log them).")


__all__ = ["LoggedValue", "VersionChanges", "clopper_pearson", "group_label",
           "headline_logged", "logged_across_versions", "logged_comparison", "logged_values",
           "mlflow_key", "split_name", "version_changes"]
