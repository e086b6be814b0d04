"""What the model page shows of a model that picks one of several classes: the confusion
matrix, precision and recall per class (undefined, not 0, where a class is never predicted or
never occurs, with why in words), each class's one-vs-rest ROC curve, how sure the model is
against how often it is right, and the pairs of classes most often confused. Computed with
scikit-learn on the version's labelled rows; the curves are ``analysis.curves``'.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from registry.model import PROBA_PREFIX

from .curves import CALIBRATION_BINS, Curve, calibration_table, drawn_curve, roc_and_pr_curves
from .metrics import class_probabilities, multiclass_labels, roc_auc


@dataclass(frozen=True)
class ClassCurve:
    """One class against all the others: its ROC curve (``roc.area`` is the one-vs-rest
    ROC AUC) from the class's own probability column."""

    label: str
    roc: Curve
    positives: int  # rows truly of this class
    negatives: int


@dataclass(frozen=True)
class ConfidenceCalibration:
    """How sure the model is against how often it is right. ``table`` has, per bin of the
    top probability (equal widths over 0–1, empty bins left out): bin_left, bin_right,
    mean_confidence, share_correct, rows."""

    table: pd.DataFrame
    mean_confidence: float  # mean top probability over all rows
    share_correct: float  # share of rows whose most probable class is the true one
    rows: int


@dataclass(frozen=True)
class ConfusedPair:
    """Rows truly ``actual`` that the model predicted as ``predicted``."""

    actual: str
    predicted: str
    count: int
    of: int  # rows truly ``actual``

    @property
    def share(self) -> float:
        return self.count / self.of if self.of else float("nan")


@dataclass(frozen=True)
class MulticlassDetails:
    labels: tuple[str, ...]
    confusion: np.ndarray  # rows: truth, columns: prediction
    #: label, precision, recall, f1, support, predicted (rows predicted as the class);
    #: precision is NaN for a class never predicted, recall for a class with no true rows
    #: (scikit-learn's zero_division=np.nan): undefined, not 0 (``per_class_notes`` says why)
    per_class: pd.DataFrame
    #: one-vs-rest ROC of each class that has rows of its own and of others (needs proba.*)
    roc: tuple[ClassCurve, ...] = ()
    #: classes with a probability column whose one-vs-rest curve cannot be drawn, and why
    roc_missing: tuple[tuple[str, str], ...] = ()
    confidence: ConfidenceCalibration | None = None  # needs proba.* columns
    confused: tuple[ConfusedPair, ...] = ()  # most often confused pairs, most first



def multiclass_details(frame: pd.DataFrame) -> MulticlassDetails:
    y_true, y_pred = multiclass_labels(frame)
    labels = natural_sort(np.union1d(y_true, y_pred))
    cm = skm.confusion_matrix(y_true, y_pred, labels=labels)
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                     zero_division=0)
    predicted = cm.sum(axis=0)
    per_class = pd.DataFrame({"label": labels,
                              "precision": np.where(predicted > 0, p, np.nan),
                              "recall": np.where(s > 0, r, np.nan), "f1": f,
                              "support": s, "predicted": predicted})
    parts: dict = {"confused": most_confused(cm, labels)}
    if any(c.startswith(PROBA_PREFIX) for c in frame.columns):
        proba, classes = class_probabilities(frame)
        keep = np.isfinite(proba).all(axis=1)
        order = natural_sort(classes)
        cols = [classes.index(c) for c in order]
        parts["roc"], parts["roc_missing"] = one_vs_rest_curves(y_true[keep],
                                                                proba[keep][:, cols], order)
        parts["confidence"] = confidence_calibration(y_true[keep], proba[keep], classes)
    return MulticlassDetails(tuple(labels), cm, per_class, **parts)


def one_vs_rest_curves(y_true: np.ndarray, proba: np.ndarray, classes: list[str]
                       ) -> tuple[tuple[ClassCurve, ...], tuple[tuple[str, str], ...]]:
    """Each class against the rest: ``sklearn.metrics.roc_curve`` of (truth == class,
    probability of the class) and its area, which is ``roc_auc_score`` of the same (tested).
    A class with no rows of its own, or no rows of any other class, has no curve; it is
    returned with the reason in words."""
    curves, missing = [], []
    y_true = np.asarray(y_true).astype(str)
    for j, label in enumerate(classes):
        y = (y_true == label).astype(float)
        pos = int(y.sum())
        if pos == 0:
            missing.append((label, f"no evaluation row is truly {label}"))
            continue
        if pos == len(y):
            missing.append((label, f"every evaluation row is truly {label}"))
            continue
        fpr, tpr, thr, *_ = roc_and_pr_curves(y, proba[:, j])
        curves.append(ClassCurve(label, drawn_curve(fpr, tpr, thr, roc_auc(y, proba[:, j])), pos,
                                 len(y) - pos))
    return tuple(curves), tuple(missing)


def confidence_calibration(y_true: np.ndarray, proba: np.ndarray, classes: list[str],
                           n_bins: int = CALIBRATION_BINS) -> ConfidenceCalibration:
    """The top probability of each row (the confidence of its most probable class) against
    whether that class is the true one, binned as ``calibration_table`` bins scores."""
    classes_arr = np.asarray(classes)
    top = proba.max(axis=1) if len(proba) else np.zeros(0)
    correct = (classes_arr[proba.argmax(axis=1)] == np.asarray(y_true).astype(str)
               ).astype(int) if len(proba) else np.zeros(0, int)
    if len(top) == 0:
        empty = pd.DataFrame(columns=["bin_left", "bin_right", "mean_confidence",
                                      "share_correct", "rows"])
        return ConfidenceCalibration(empty, float("nan"), float("nan"), 0)
    table = calibration_table(correct, np.clip(top, 0.0, 1.0), n_bins).rename(
        columns={"mean_predicted": "mean_confidence", "observed_rate": "share_correct"})
    return ConfidenceCalibration(table, float(top.mean()), float(correct.mean()), len(top))


def most_confused(confusion: np.ndarray, labels, top: int = 5) -> tuple[ConfusedPair, ...]:
    """The off-diagonal cells of the confusion matrix with the most rows (at most ``top``),
    most first; ties by the larger share of the true class, then by label order."""
    cm = np.asarray(confusion)
    totals = cm.sum(axis=1)
    pairs = [ConfusedPair(str(labels[i]), str(labels[j]), int(cm[i, j]), int(totals[i]))
             for i in range(cm.shape[0]) for j in range(cm.shape[1])
             if i != j and cm[i, j] > 0]
    pairs.sort(key=lambda p: (-p.count, -p.share))  # stable: label order breaks ties
    return tuple(pairs[:top])


def per_class_notes(per_class: pd.DataFrame) -> list[str]:
    """Why a class's precision or recall has no value, in words ('Class 7 is never
    predicted, so its precision is undefined: there is no prediction of it to be right or
    wrong.')."""
    out = []
    for r in per_class.itertuples():
        if r.predicted == 0:
            out.append(f"Class {r.label} is never predicted, so its precision is undefined "
                       "(not 0%): there is no prediction of it to be right or wrong.")
        if r.support == 0:
            out.append(f"Class {r.label} never occurs in these rows, so its recall is "
                       "undefined: there is no true case of it to find.")
    return out


def natural_sort(labels) -> list[str]:
    """'2' before '10'; text labels alphabetically."""
    def key(v):
        try:
            return (0, float(v), "")
        except ValueError:
            return (1, 0.0, v)
    return sorted((str(v) for v in labels), key=key)
