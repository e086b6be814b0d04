"""Registry sources: read a model registry into plain domain objects.

``open_source(uri)`` is the one place that chooses a source from a path or URI.
"""
from __future__ import annotations

import os
from pathlib import Path

from .base import Listing, Source
from .model import Problem, RegistryError

SAMPLE_REGISTRY = Path(__file__).resolve().parent.parent / "data" / "sample-registry"
MLFLOW_SCHEMES = ("http://", "https://", "sqlite:///", "postgresql://", "postgresql+",
                  "mysql://", "mysql+", "databricks")


def default_registry() -> str:
    """``MODELDECK_REGISTRY`` when set, else the bundled sample registry."""
    return os.environ.get("MODELDECK_REGISTRY") or str(SAMPLE_REGISTRY)


def open_source(uri: str | os.PathLike | None = None) -> Source:
    """Open the registry at ``uri``: a ModelDeck folder (path or ``file:`` URI), or an MLflow
    tracking server or store (``http(s)://``, ``sqlite:///``, ``postgresql://``, ``mysql://``,
    or an ``mlruns`` folder); docs/mlflow.md.

    Raises RegistryError with a message a person can act on when nothing usable is there
    (for MLflow without its client installed: how to install it).
    """
    uri = str(uri) if uri is not None else default_registry()
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    path = path[len("file:"):] if path.startswith("file:") else path
    if uri.startswith(MLFLOW_SCHEMES) or _is_mlruns_folder(Path(path)):
        from .mlflow_source import MlflowSource
        return MlflowSource(uri)
    from .folder import FolderSource
    return FolderSource(path)


def _is_mlruns_folder(path: Path) -> bool:
    """An MLflow file store (``mlruns``) rather than a ModelDeck registry folder."""
    try:
        if not path.is_dir() or (path / "modeldeck.json").exists() \
                or any((path / "models").glob("*/model.json")):
            return False
        return path.name == "mlruns" or any(path.glob("*/meta.yaml")) \
            or any((path / "models").glob("*/meta.yaml"))
    except OSError:
        return False


__all__ = ["Listing", "Problem", "RegistryError", "Source", "open_source", "default_registry",
           "SAMPLE_REGISTRY"]
