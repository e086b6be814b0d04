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


# ------------------------------------------------------------------ reading rows
#: the source's reads of prediction rows (``registry.cached.CachedSource``)
ROW_READS = {"evaluation", "rows", "monitoring", "production", "has_production"}
#: the modules allowed to call them: the query layer
READERS = {"analysis/reads.py", "analysis/queries.py"}


def _row_reads(path: Path) -> list[str]:
    """'file:line .name(' for every call of a row read as a method (``deck.evaluation(…)``,
    ``self.deck.rows(…)``, ``d.monitoring(…)``) — by any receiver's name, so that renaming
    the deck does not hide a read."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(ROOT)}:{node.lineno} .{node.func.attr}("
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ROW_READS]


def test_rows_are_read_through_the_query_layer_only():
    """Everything above registry/ reads prediction rows through analysis/reads.py (or the
    engine's summaries, analysis/queries.py), so a change of how rows are fetched is made
    there once."""
    files = [f for layer in ("analysis", "components", "sections", "pages", "reports",
                             "serving") for f in sorted((ROOT / layer).rglob("*.py"))]
    files.append(ROOT / "app.py")
    wrong = [hit for f in files if str(f.relative_to(ROOT)) not in READERS
             for hit in _row_reads(f)]
    assert not wrong, wrong
    # the check sees a read where there is one
    reads = _row_reads(ROOT / "analysis/reads.py")
    assert {h.rsplit(" ", 1)[1] for h in reads} >= {".evaluation(", ".rows(", ".monitoring("}
