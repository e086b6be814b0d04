"""Imports only point down the layers (docs/architecture.md): registry → analysis →
components → sections → pages / reports. Read from the source files, so a new import that
points up fails here before it closes a circle."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"registry", "analysis", "components", "sections", "pages", "reports", "serving", "app"}
#: what each layer must not import (our packages above it; UI libraries below the UI)
FORBIDDEN = {
    "registry": {"analysis", "components", "sections", "pages", "reports", "app", "dash",
                 "plotly", "flask", "dash_bootstrap_components"},
    "analysis": {"components", "sections", "pages", "reports", "serving", "app", "dash",
                 "plotly", "flask", "dash_bootstrap_components"},
    "components": {"sections", "pages", "reports", "serving", "app"},
    "sections": {"pages", "reports", "serving", "app", "dash", "flask",
                 "dash_bootstrap_components"},
    "pages": {"reports", "app"},
    "reports": {"pages", "app"},
}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
    return out


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_down(layer):
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files
    wrong = {f"{f.relative_to(ROOT)} imports {m}" for f in files
             for m in _imports(f) & FORBIDDEN[layer]}
    assert not wrong, sorted(wrong)
