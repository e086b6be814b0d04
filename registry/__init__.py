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
    """Open the registry at ``uri``: a ModelDeck folder (path or ``file:`` URI).

    Raises RegistryError with a message a person can act on when nothing usable is there.
    """
    uri = str(uri) if uri is not None else default_registry()
    if uri.startswith(MLFLOW_SCHEMES):
        raise RegistryError(Problem(path=uri, field="", message=(
            "MLflow registries are not supported by this version of ModelDeck yet; "
            "point --registry at a ModelDeck registry folder")))
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    path = path[len("file:"):] if path.startswith("file:") else path
    from .folder import FolderSource
    return FolderSource(path)


__all__ = ["Listing", "Problem", "RegistryError", "Source", "open_source", "default_registry",
           "SAMPLE_REGISTRY"]
