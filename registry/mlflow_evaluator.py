"""``modeldeck``: an evaluator for ``mlflow.models.evaluate`` that logs ModelDeck's rows.

Installed with the project, it is found through MLflow's ``mlflow.model_evaluator`` entry point
(pyproject.toml). One more name in the call is all it takes::

    mlflow.models.evaluate(model_uri, test_df, targets="y", model_type="classifier",
                           evaluators=["default", "modeldeck"],
                           evaluator_config={"modeldeck": {"segments": ["region"]}})

Next to MLflow's own metrics and plots the run then holds the prediction rows as
``modeldeck/evaluation/<split>.parquet`` (written by ``registry.mlflow_log.log_evaluation``, so
the columns are the folder format's) and the run tags ``modeldeck.task`` and
``modeldeck.positive_label``. A version registered from the run shows ModelDeck's full
evaluation page. Options (``evaluator_config={"modeldeck": {...}}``) are in docs/mlflow.md.

Predictions come from the same helpers MLflow's classifier and regressor evaluators use
(the raw scikit-learn / XGBoost / CatBoost model's ``predict`` and ``predict_proba`` behind a
pyfunc model, else the pyfunc's ``predict``), so the rows are the ones MLflow's metrics were
computed from. With ``model=None`` (static predictions) the labels or values are the
``predictions`` column and probabilities can be named with the ``scores`` option.
"""
from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models.evaluation.base import EvaluationResult, ModelEvaluator
from mlflow.models.evaluation.artifacts import ParquetEvaluationArtifact
from mlflow.models.evaluation.default_evaluator import (
    _extract_output_and_other_columns, _extract_predict_fn, _extract_raw_model,
    _get_dataframe_with_renamed_columns,
)
from mlflow.models.evaluation.evaluators.classifier import (
    _extract_predict_fn_and_predict_proba_fn,
)
from mlflow.tracking.artifact_utils import get_artifact_uri

from .mlflow_log import log_evaluation
from .mlflow_client import PREFIX

log = logging.getLogger(__name__)

NAME = "modeldeck"
TASK_TAG = PREFIX + "task"
POSITIVE_LABEL_TAG = PREFIX + "positive_label"
NOTE_TAG = PREFIX + "evaluation_note"
#: feature columns copied into the rows unless ``max_features`` says otherwise: enough for
#: drift checks on the inputs that matter, without copying a 2,000-column table into every run
MAX_FEATURES = 50
OPTIONS = ("split", "segments", "scores", "pos_label", "label_list", "max_features")


class ModelDeckEvaluator(ModelEvaluator):
    """Logs the evaluation rows ModelDeck reads; computes and logs no metrics of its own (the
    default evaluator's stay as they are)."""

    @classmethod
    def can_evaluate(cls, *, model_type, evaluator_config, **kwargs) -> bool:
        return model_type in ("classifier", "regressor")

    def evaluate(self, *, model_type, dataset, run_id, evaluator_config, model=None,
                 extra_metrics=None, custom_artifacts=None, predictions=None,
                 **kwargs) -> EvaluationResult:
        config = dict(evaluator_config or {})
        unknown = sorted(set(config) - set(OPTIONS))
        if unknown:
            # Not an error: without `evaluators`, MLflow hands one flat evaluator_config to
            # every installed evaluator, so options meant for the others arrive here too.
            log.warning("modeldeck evaluator: ignoring options %s (its options: %s)",
                        unknown, ", ".join(OPTIONS))
        split = str(config.get("split", "test"))
        features = _features_frame(dataset)
        y_true = np.asarray(dataset.labels_data)
        rows = _predict(model_type, model, dataset, features, predictions, config)
        segments = _segments(config.get("segments"), features, len(y_true))
        used = set(segments) | set(rows.pop("score_columns"))
        kept = [c for c in features.columns if c not in used]
        limit = int(config.get("max_features", MAX_FEATURES))
        if len(kept) > limit:
            log.info("modeldeck: keeping the first %d of %d feature columns (max_features)",
                     limit, len(kept))
        feature_cols = {str(c): _storable(features[c]) for c in kept[:max(limit, 0)]}

        client = MlflowClient()
        path = log_evaluation(run_id, y_true=y_true, y_score=rows["y_score"],
                              y_pred=rows["y_pred"], proba=rows["proba"],
                              classes=rows["classes"], split=split, segments=segments,
                              features=feature_cols, client=client)
        client.set_tag(run_id, TASK_TAG, rows["task"])
        if rows["positive_label"] is not None:
            client.set_tag(run_id, POSITIVE_LABEL_TAG, _text(rows["positive_label"]))
        if rows["note"]:
            log.warning("modeldeck: %s", rows["note"])
            client.set_tag(run_id, NOTE_TAG, rows["note"])
        artifact = ParquetEvaluationArtifact(uri=get_artifact_uri(run_id, path))
        return EvaluationResult(metrics={}, artifacts={"modeldeck_evaluation_rows": artifact},
                                run_id=run_id)


# ---------------------------------------------------------------------- predictions
def _features_frame(dataset) -> pd.DataFrame:
    """The evaluation features as the default evaluator hands them to the model."""
    return _get_dataframe_with_renamed_columns(dataset.features_data, dataset.feature_names)


def _predict(model_type: str, model, dataset, features: pd.DataFrame, predictions,
             config: Mapping) -> dict:
    """The prediction columns for the rows, the task, the positive label, and a note when
    something ModelDeck would show is missing."""
    out = {"y_score": None, "proba": None, "classes": None, "positive_label": None,
           "note": "", "score_columns": []}
    if model_type == "regressor":
        if model is None:
            y_pred = dataset.predictions_data
        else:
            y_pred, _, _ = _extract_output_and_other_columns(
                _extract_predict_fn(model)(features.copy()), predictions)
        return {**out, "task": "regression", "y_pred": np.asarray(y_pred, dtype=float)}

    score = None
    if model is None:
        y_pred = np.asarray(dataset.predictions_data)
        score, proba, proba_classes, out["score_columns"] = _static_scores(
            config.get("scores"), features)
        raw = None
    else:
        if config.get("scores") is not None:
            raise ValueError("the modeldeck option 'scores' names probability columns of "
                             "static predictions (model=None); with a model, its "
                             "predict_proba gives them")
        predict_fn, proba_fn = _extract_predict_fn_and_predict_proba_fn(model)
        y_pred, _, _ = _extract_output_and_other_columns(predict_fn(features.copy()),
                                                         predictions)
        y_pred = np.asarray(y_pred)
        proba = np.asarray(proba_fn(features.copy()), dtype=float) if proba_fn else None
        _, raw = _extract_raw_model(model)
        proba_classes = None
    out["y_pred"] = y_pred

    classes = _classes(config, raw, proba_classes, dataset.labels_data, y_pred)
    out["task"] = "binary" if len(classes) == 2 else "multiclass"
    if out["task"] == "binary":
        pos = config.get("pos_label", classes[-1])  # MLflow's default: the larger label
        matches = [i for i, c in enumerate(classes) if _text(c) == _text(pos)]
        if not matches:
            raise ValueError(f"modeldeck option pos_label={pos!r} is not one of the classes "
                             f"{list(classes)}")
        out["positive_label"] = classes[matches[0]]
    if score is not None:
        if out["task"] != "binary":
            raise ValueError("modeldeck option 'scores' is one column, the probability of the "
                             "positive class, only for a binary model; for "
                             f"{len(classes)} classes give {{class: column}}")
        out["y_score"] = score
        return out
    if proba is None:
        out["note"] = ("no class probabilities: the model has no predict_proba (or, with static "
                       "predictions, the 'scores' option names none), so only y_pred was logged"
                       + ("; ModelDeck's charts of a binary model need y_score, the "
                          "probability of the positive class" if out["task"] == "binary" else ""))
        return out
    if proba.ndim != 2 or proba.shape != (len(y_pred), len(classes)):
        raise ValueError(f"class probabilities have shape {proba.shape}, expected "
                         f"({len(y_pred)}, {len(classes)}) for the classes {list(classes)}")
    if out["task"] == "binary":
        out["y_score"] = proba[:, matches[0]]
    else:
        out["proba"], out["classes"] = proba, [_text(c) for c in classes]
    return out


def _classes(config: Mapping, raw, proba_classes, y_true, y_pred) -> list:
    """The classes in the order of the probability columns: the fitted model's ``classes_``,
    else the ``scores`` mapping's keys, else ``label_list``, else the sorted labels seen in
    y_true and y_pred (what MLflow's classifier evaluator infers)."""
    if raw is not None and getattr(raw, "classes_", None) is not None:
        return list(np.asarray(raw.classes_))
    if proba_classes is not None:
        return list(proba_classes)
    if config.get("label_list") is not None:
        return sorted(config["label_list"])
    return list(np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)])))


def _static_scores(scores, features: pd.DataFrame) -> tuple:
    """Probabilities named by the ``scores`` option for static predictions: a column name
    (binary: the probability of the positive class) or ``{class: column}``. Returns
    (score, proba, classes of the proba columns, the columns used)."""
    if scores is None:
        return None, None, None, []
    if isinstance(scores, str):
        return _column(features, scores, "scores").to_numpy(dtype=float), None, None, [scores]
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError("modeldeck option 'scores' must be a column name or a non-empty "
                         "{class: column} mapping")
    cols = [_column(features, c, "scores").to_numpy(dtype=float) for c in scores.values()]
    return None, np.column_stack(cols), list(scores), list(scores.values())


def _segments(spec, features: pd.DataFrame, n: int) -> dict[str, np.ndarray]:
    """``segments``: column names of the evaluation data, or ``{name: values}`` (one value per
    row, for groups that are not model inputs)."""
    if spec is None:
        return {}
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, Mapping):
        out = {}
        for name, values in spec.items():
            values = np.asarray(values)
            if values.shape != (n,):
                raise ValueError(f"modeldeck segment {name!r} has {values.size} values, the "
                                 f"evaluation data has {n} rows")
            out[str(name)] = values
        return out
    if isinstance(spec, Sequence):
        return {str(c): _column(features, c, "segments").to_numpy() for c in spec}
    raise ValueError("modeldeck option 'segments' must be a list of column names or a "
                     "{name: values} mapping")


def _column(features: pd.DataFrame, name, option: str) -> pd.Series:
    if name not in features.columns:
        raise ValueError(f"modeldeck option {option!r}: no column {name!r} in the evaluation "
                         f"data (columns: {', '.join(map(str, features.columns[:20]))})")
    return features[name]


def _storable(col: pd.Series) -> np.ndarray:
    """A feature column Parquet can hold: text columns of mixed types become text."""
    if col.dtype == object:
        return col.astype("string").to_numpy()
    return col.to_numpy()


def _text(v) -> str:
    if isinstance(v, np.generic):
        v = v.item()
    return str(v)
