"""An MLflow registry kept the ordinary way, built with MLflow's real client: no ``modeldeck.*``
tag anywhere, no prediction rows.

Three scikit-learn models (yes/no, several classes, a number), each trained twice under
``mlflow.sklearn.autolog()``, evaluated on a held-out set with ``mlflow.models.evaluate``
(MLflow's default evaluator), registered with ``mlflow.register_model`` and given the aliases
``champion`` (v1) and ``challenger`` (v2). Version 2 of the yes/no model is trained on a
dataset logged with ``mlflow.log_input`` under another name, so the versions' inputs differ.
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path


MODELS = ("cancer", "wine", "diabetes")  # binary, multiclass, regression
EXPERIMENT = "ordinary-training"


def save_uris() -> tuple:
    """MLflow's tracking and registry URIs as set now, to put back with ``restore_uris``.
    (``get_registry_uri()`` would report the tracking URI when none is set, and setting that
    back would pin every later test's registry to this store.)"""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    return (mlflow.get_tracking_uri(), registry_utils._registry_uri,
            os.environ.get("MLFLOW_REGISTRY_URI"))


def restore_uris(saved: tuple) -> None:
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    mlflow.set_tracking_uri(saved[0])
    registry_utils._registry_uri = saved[1]
    if saved[2] is None:
        os.environ.pop("MLFLOW_REGISTRY_URI", None)
    else:
        os.environ["MLFLOW_REGISTRY_URI"] = saved[2]


def build_ordinary_store(root: Path) -> str:
    """Write the store into ``root`` and return its ``sqlite:///`` URI."""
    import mlflow
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
    from sklearn.linear_model import LogisticRegression, Ridge
    from mlflow.models import infer_signature
    from sklearn.model_selection import train_test_split

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    old = save_uris()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        exp = mlflow.MlflowClient().create_experiment(
            EXPERIMENT, artifact_location=(root / "artifacts").as_uri())
        mlflow.set_experiment(experiment_id=exp)
        # autolog logs params, training metrics and datasets; the model is logged by hand
        # with its requirements named, which spares MLflow a slow subprocess per model.
        mlflow.sklearn.autolog(log_models=False, log_datasets=True, silent=True)
        specs = [
            ("cancer", load_breast_cancer, "classifier",
             [LogisticRegression(C=0.05, max_iter=3000), LogisticRegression(C=1.0, max_iter=3000)]),
            ("wine", load_wine, "classifier",
             [LogisticRegression(C=0.002, max_iter=3000), LogisticRegression(C=1.0, max_iter=3000)]),
            ("diabetes", load_diabetes, "regressor", [Ridge(alpha=10.0), Ridge(alpha=0.1)]),
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, loader, model_type, estimators in specs:
                data = loader(as_frame=True)
                X = (data.data - data.data.mean()) / data.data.std()  # quick to fit
                X_train, X_test, y_train, y_test = train_test_split(
                    X, data.target, test_size=0.3, random_state=0)
                held_out = X_test.assign(target=y_test.to_numpy())
                for i, est in enumerate(estimators, start=1):
                    with mlflow.start_run(run_name=f"{name}-{i}") as run:
                        if name == "cancer" and i == 2:
                            mlflow.log_input(mlflow.data.from_pandas(
                                X_train.assign(target=y_train.to_numpy()),
                                name="cancer-train-2026"), context="training")
                        est.fit(X_train, y_train)
                        info = mlflow.sklearn.log_model(
                            est, name="model", pip_requirements=["scikit-learn"],
                            signature=infer_signature(X_train, est.predict(X_train)))
                        model_uri = info.model_uri  # models:/m-… (an MLflow 3 logged model)
                        mlflow.models.evaluate(
                            model_uri, held_out, targets="target", model_type=model_type,
                            evaluators=["default"],
                            evaluator_config={"default": {"log_model_explainability": False}})
                    mv = mlflow.register_model(model_uri, name)
                    mlflow.MlflowClient().set_registered_model_alias(
                        name, "champion" if i == 1 else "challenger", mv.version)
        mlflow.sklearn.autolog(disable=True)
    finally:
        restore_uris(old)
    return uri


if __name__ == "__main__":  # python tests/mlflow_ordinary.py /tmp/somewhere
    import sys
    import time
    t = time.time()
    print(build_ordinary_store(Path(sys.argv[1])), f"{time.time() - t:.1f}s")
    os._exit(0)
