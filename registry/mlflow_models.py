"""What an MLflow registry kept the ordinary way says about its models, without ModelDeck's tags.

``registry.mlflow_source.MlflowSource`` reads registered models and versions through the
functions here:

* ``infer_task``: what a model predicts, from (in order) the registered model's
  ``modeldeck.task`` tag, a ``modeldeck.task`` tag on a version's run, the metrics MLflow's
  default evaluator (``mlflow.models.evaluate``) and scikit-learn autolog logged, and the
  logged model's signature. The answer says where it came from; when nothing tells, the task
  is ``unknown`` and the answer says how to set it. A missing tag is never an error.
* ``version_extras``: for one version, its run's own tags, the datasets it logged
  (``mlflow.log_input``), the chart images stored with it, and for MLflow 3 logged models
  (``models:/m-…``) the logged model's id and the metrics logged on it.

The metric names are the ones MLflow 3's default evaluator
(``mlflow/models/evaluation/evaluators/classifier.py`` and ``regressor.py``) and
``mlflow.sklearn.autolog`` (``training_`` prefix) log; tests/mlflow_ordinary.py builds a store
with both and the tests read it back.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .model import TASKS, UNKNOWN_TASK, LoggedDataset, LoggedImage

PREFIX = "modeldeck."
TASK_TAG = PREFIX + "task"
#: a registered model's model-card fields: ``modeldeck.card.purpose``,
#: ``modeldeck.card.training_data.rows``, … (the fields of model.json's ``card``)
CARD_PREFIX = PREFIX + "card."
#: a version's run: the rows it was trained on (``modeldeck.training_data.rows`` …)
TRAINING_DATA_PREFIX = PREFIX + "training_data."
#: what an evaluation split is, as run tags: modeldeck.split.<split>.kind / .description
SPLIT_PREFIX = PREFIX + "split."
_CARD_LISTS = ("limitations", "caveats")
_DATA_FIELDS = ("source", "rows", "period")
TRAINING_PREFIX = "training_"  # scikit-learn autolog's metrics on the training data

#: the default evaluator logs these only for a yes/no target (two classes)
BINARY_ONLY = ("true_positives", "false_positives", "true_negatives", "false_negatives",
               "precision_recall_auc")
#: classifier metrics the default evaluator logs for any number of classes
CLASSIFIER = ("accuracy_score", "precision_score", "recall_score", "f1_score", "log_loss",
              "roc_auc")
#: regressor metrics of the default evaluator (and, with ``training_``, of autolog)
REGRESSOR = ("r2_score", "mean_squared_error", "root_mean_squared_error",
             "mean_absolute_error", "mean_absolute_percentage_error", "max_error",
             "mean_on_target", "sum_on_target")
#: artifacts the default evaluator writes only for more than two classes
MULTICLASS_ARTIFACTS = ("per_class_metrics.csv",)
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".svg": "image/svg+xml"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # larger images are listed but not shown
HOW_TO_SET = ("set the registered-model tag modeldeck.task to binary, multiclass or "
              "regression (registry.mlflow_log.set_model_settings does it), or evaluate a "
              "version with mlflow.models.evaluate")
TASK_WORD = {"binary": "yes/no", "multiclass": "one of several classes",
             "regression": "a number"}


def _tag_value(key: str, raw: str):
    """A tag's text as the schema expects it: ``rows`` as the whole number it spells, the
    list fields one entry per non-empty line."""
    if key.endswith("rows"):
        text = raw.strip().replace(",", "").replace("_", "")
        return int(text) if text.isdigit() else raw
    if key in _CARD_LISTS:
        return [line.strip() for line in raw.splitlines() if line.strip()]
    return raw


def data_doc_from_tags(tags: Mapping[str, str], prefix: str) -> dict | None:
    """``{source, rows, period}`` from tags ``<prefix>source`` …; None when none is set."""
    doc = {f: _tag_value(f, tags[prefix + f]) for f in _DATA_FIELDS
           if (tags.get(prefix + f) or "") != ""}
    return doc or None


def card_doc_from_tags(tags: Mapping[str, str]) -> dict | None:
    """model.json's ``card`` section spelled as registered-model tags (``modeldeck.card.*``);
    None when the model has none. Validated by registry.schema.CardDoc like a folder's."""
    tags = tags or {}
    if not any(k.startswith(CARD_PREFIX) for k in tags):
        return None
    doc: dict = {}
    for key in ("purpose", "intended_use", "out_of_scope", *_CARD_LISTS):
        if (tags.get(CARD_PREFIX + key) or "") != "":
            doc[key] = _tag_value(key, tags[CARD_PREFIX + key])
    for part in ("training_data", "evaluation_data"):
        data = data_doc_from_tags(tags, f"{CARD_PREFIX}{part}.")
        if data:
            doc[part] = data
    return doc


@dataclass(frozen=True)
class TaskAnswer:
    task: str
    source: str  # where it came from, in words


def _has(metrics: Mapping[str, float], base: str) -> bool:
    """An evaluator metric on held-out data: ``base`` itself or with a prefix
    (``evaluator_config={"metric_prefix": "test_"}``), never autolog's ``training_``."""
    return any((k == base or k.endswith("_" + base)) and not k.startswith(TRAINING_PREFIX)
               for k in metrics)


def task_from_metrics(metrics: Mapping[str, float], artifacts: tuple[str, ...] = ()
                      ) -> tuple[str | None, str]:
    """The task the logged metrics show, and who logged them ("mlflow.evaluate" or
    "autolog"); (None, "") when they do not tell. Autolog's training metrics tell a
    regressor from a classifier but not two classes from more: a classifier seen only through
    them stays undecided."""
    if any(_has(metrics, b) for b in BINARY_ONLY):
        return "binary", "mlflow.evaluate"
    if any(Path(a).name in MULTICLASS_ARTIFACTS for a in artifacts) or \
            any(_has(metrics, b) for b in CLASSIFIER):
        # the default evaluator logs the confusion counts whenever there are two classes:
        # classifier metrics without them are of more than two
        return "multiclass", "mlflow.evaluate"
    if any(_has(metrics, b) for b in REGRESSOR):
        return "regression", "mlflow.evaluate"
    if any(k.startswith(TRAINING_PREFIX) and k[len(TRAINING_PREFIX):] in REGRESSOR
           for k in metrics):
        return "regression", "autolog"
    return None, ""


def task_from_signature(mlmodel: Mapping) -> tuple[str | None, str]:
    """From a logged model's ``MLmodel`` document: a single floating-point output is a
    regression; an integer, text or yes/no output is a classifier ("classifier": two or
    more classes cannot be told apart from the signature)."""
    sig = (mlmodel or {}).get("signature") or {}
    try:
        outputs = json.loads(sig.get("outputs") or "[]")
    except (TypeError, ValueError):
        return None, ""
    types = set()
    for o in outputs if isinstance(outputs, list) else []:
        t = o.get("type") if isinstance(o, dict) else None
        if t == "tensor":
            t = (o.get("tensor-spec") or {}).get("dtype", "")
        types.add(str(t))
    if not types:
        return None, ""
    if types <= {"double", "float", "float32", "float64"}:
        return "regression", "signature"
    if types <= {"long", "integer", "int32", "int64", "string", "boolean", "bool", "str"}:
        return "classifier", "signature"
    return None, ""


def infer_task(model_tags: Mapping[str, str], versions: list[tuple[str, Mapping, Mapping,
                                                                   tuple[str, ...], object]]
               ) -> TaskAnswer:
    """The task of a registered model and where it came from.

    ``versions``: (label, run tags, metrics, artifact names, signature reader) per version,
    the champion first then newest first; the signature reader is called only when nothing
    before it told (it downloads the ``MLmodel`` file) and returns the document or None.
    """
    tag = (model_tags or {}).get(TASK_TAG)
    bad = ""
    if tag in TASKS:
        return TaskAnswer(tag, "set by the registered model's tag modeldeck.task")
    if tag is not None:
        bad = f" (the tag modeldeck.task is {tag!r}, which is not a task ModelDeck knows)"
    for label, run_tags, _, _, _ in versions:
        t = (run_tags or {}).get(TASK_TAG)
        if t in TASKS:
            return TaskAnswer(t, f"set by the tag modeldeck.task on the run of {label}{bad}")
    by_autolog = None
    for label, _, metrics, artifacts, _ in versions:
        task, who = task_from_metrics(metrics or {}, artifacts)
        if task and who == "mlflow.evaluate":
            return TaskAnswer(task, f"inferred from the metrics mlflow.evaluate logged on "
                                    f"{label}{bad}")
        if task and by_autolog is None:
            by_autolog = TaskAnswer(task, f"inferred from the training metrics autolog "
                                          f"logged on {label}{bad}")
    if by_autolog is not None:
        return by_autolog
    classifier_seen = ""
    for label, _, _, _, read_signature in versions[:3]:
        doc = read_signature() if callable(read_signature) else None
        task, _ = task_from_signature(doc or {})
        if task == "regression":
            return TaskAnswer(task, f"inferred from the signature of the model logged for "
                                    f"{label} (it outputs a number){bad}")
        if task == "classifier" and not classifier_seen:
            classifier_seen = label
    if classifier_seen:
        return TaskAnswer(UNKNOWN_TASK, f"unknown: the signature of the model logged for "
                                        f"{classifier_seen} shows a classifier, but not whether "
                                        f"it has two classes or more; {HOW_TO_SET}{bad}")
    return TaskAnswer(UNKNOWN_TASK, f"unknown: nothing in the registry says what this model "
                                    f"predicts; {HOW_TO_SET}{bad}")


# ------------------------------------------------------------------ versions
def logged_model_id(source: str | None, model_id: str | None = None) -> str | None:
    """The MLflow 3 logged model a version was registered from (``models:/m-…``)."""
    if model_id:
        return model_id
    if source and source.startswith("models:/m-"):
        return source[len("models:/"):].split("/")[0]
    return None


def logged_model_metrics(lm) -> dict[str, float]:
    """Metrics logged on a logged model (``mlflow.log_metric(model_id=…)``, and what
    mlflow.evaluate logs on it), latest value per key. A key logged on more than one dataset
    keeps each, prefixed with the dataset's name (``holdout/roc_auc``)."""
    by_key: dict[str, dict[str, tuple]] = {}
    for m in getattr(lm, "metrics", None) or []:
        try:
            value = float(m.value)
        except (TypeError, ValueError):
            continue
        ds = m.dataset_name or ""
        seen = by_key.setdefault(m.key, {}).get(ds)
        order = (m.timestamp or 0, m.step or 0)
        if seen is None or order >= seen[0]:
            by_key[m.key][ds] = (order, value)
    out = {}
    for key, per_ds in by_key.items():
        if len(per_ds) == 1:
            out[key] = next(iter(per_ds.values()))[1]
        else:
            for ds, (_, value) in per_ds.items():
                out[f"{ds}/{key}" if ds else key] = value
    return out


def run_datasets(run) -> tuple[LoggedDataset, ...]:
    """The datasets a run logged as inputs, in the order MLflow returns them."""
    out = []
    for di in getattr(getattr(run, "inputs", None), "dataset_inputs", None) or []:
        ds = di.dataset
        context = next((t.value for t in di.tags or [] if t.key == "mlflow.data.context"), "")
        source = ds.source or ""
        try:
            parsed = json.loads(source)
            if isinstance(parsed, dict):  # a code or pandas source carries only run tags
                source = parsed.get("uri") or parsed.get("url") or parsed.get("path") or ""
        except (TypeError, ValueError):
            pass
        out.append(LoggedDataset(name=ds.name or "", digest=ds.digest or "",
                                 context=context, source=str(source)))
    return tuple(out)


def images_of(files) -> tuple[LoggedImage, ...]:
    """The chart images among a run's top-level artifacts (PNG, JPEG, SVG)."""
    return tuple(LoggedImage(path=f.path, size=int(f.file_size or 0)) for f in files
                 if not f.is_dir and Path(f.path).suffix.lower() in IMAGE_TYPES)


def read_mlmodel(client, run_id: str | None, model_id: str | None, source: str | None):
    """The ``MLmodel`` document of a version's logged model, or None (best effort: the
    signature is the last thing ModelDeck looks at for the task)."""
    import yaml
    with tempfile.TemporaryDirectory(prefix="modeldeck-mlmodel-") as tmp:
        try:
            if model_id:
                lm = client.get_logged_model(model_id)
                from mlflow.artifacts import download_artifacts
                local = download_artifacts(artifact_uri=f"{lm.artifact_location}/MLmodel",
                                           dst_path=tmp,
                                           tracking_uri=client._tracking_client.tracking_uri)
            elif run_id and source and "/artifacts/" in source:
                path = source.split("/artifacts/", 1)[1].rstrip("/")
                local = client.download_artifacts(run_id, f"{path}/MLmodel", tmp)
            else:
                return None
            return yaml.safe_load(Path(local).read_text())
        except Exception:  # no model file, another store layout: the task stays unknown
            return None


def split_docs_from_tags(tags: dict) -> dict[str, dict]:
    """``{split: {"kind": …, "description": …}}`` from a run's ``modeldeck.split.*`` tags
    (the MLflow form of version.json's ``splits``)."""
    out: dict[str, dict] = {}
    for key, value in tags.items():
        if not key.startswith(SPLIT_PREFIX):
            continue
        split, _, field = key[len(SPLIT_PREFIX):].rpartition(".")
        if split:
            out.setdefault(split, {})[field] = value
    return out
