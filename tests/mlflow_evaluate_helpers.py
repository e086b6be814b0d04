"""A real MLflow store for tests of the ``modeldeck`` evaluator: models trained on small
scikit-learn data sets, evaluated with ``mlflow.models.evaluate`` and registered."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

EVALUATORS = ["default", "modeldeck"]
EXPERIMENT = "evaluations"


@contextmanager
def tracking_store(folder: Path):
    """A fresh sqlite store under ``folder`` as MLflow's tracking and registry URI while the
    block runs; the URI is restored afterwards, and no run or active model is left behind.
    Runs go to the experiment ``evaluations``, whose artifacts live next to the database."""
    import mlflow
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    try:
        with _use_tracking_uri(uri):
            mlflow.MlflowClient().create_experiment(
                EXPERIMENT, artifact_location=(folder / "artifacts").as_uri())
            yield uri
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.clear_active_model()  # log_model makes the logged model the active one


def start_run():
    import mlflow
    return mlflow.start_run(
        experiment_id=mlflow.MlflowClient().get_experiment_by_name(EXPERIMENT).experiment_id)


def evaluate_and_register(name: str, estimator, X, y, model_type: str, config=None):
    """Log ``estimator`` in a run, evaluate it there with the default and the modeldeck
    evaluators, and register the run's model as a new version of ``name``.
    Returns (run_id, version, evaluation result)."""
    import mlflow

    with start_run() as run:
        # pip_requirements given: MLflow need not infer them (a slow subprocess)
        mlflow.sklearn.log_model(estimator, name="model", pip_requirements=[])
        result = mlflow.models.evaluate(
            f"runs:/{run.info.run_id}/model", X.assign(y=y), targets="y",
            model_type=model_type, evaluators=EVALUATORS,
            evaluator_config=None if config is None else {"modeldeck": config})
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    return run.info.run_id, int(mv.version), result


def evaluate_static(name: str, data, model_type: str, config=None, predictions="pred",
                    default_config=None):
    """Evaluate predictions already in ``data`` (``model=None``) and register the run as a
    version of ``name`` (there is no model to log). ``default_config`` is the default
    evaluator's. Returns (run_id, version, result)."""
    import mlflow

    with start_run() as run:
        result = mlflow.models.evaluate(
            data=data, targets="y", predictions=predictions, model_type=model_type,
            evaluators=EVALUATORS,
            evaluator_config={"default": default_config or {}, "modeldeck": config or {}})
    client = mlflow.MlflowClient()
    try:
        client.get_registered_model(name)
    except Exception:
        client.create_registered_model(name)
    mv = client.create_model_version(name, source=run.info.artifact_uri, run_id=run.info.run_id)
    return run.info.run_id, int(mv.version), result
