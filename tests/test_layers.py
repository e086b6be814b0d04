"""Imports only point down the layers (docs/architecture.md): registry → analysis →
components → sections → pages / reports. Read from the source files, so a new import that
points up fails here before it closes a circle."""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"registry", "analysis", "components", "sections", "pages", "reports", "serving", "alerts",
        "app"}
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


@lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
    return out


def _modules() -> dict[str, Path]:
    """Every module of ours by its dotted name."""
    out = {}
    for layer in sorted(OURS - {"app"}):
        for f in sorted((ROOT / layer).rglob("*.py")):
            parts = f.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    out["app"] = ROOT / "app.py"
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
    tree = _tree(path)
    return [f"{path.relative_to(ROOT)}:{node.lineno} .{node.func.attr}("
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ROW_READS]


def test_rows_are_read_through_the_query_layer_only():
    """Everything above registry/ reads prediction rows through analysis/reads.py (or the
    engine's summaries, analysis/queries.py), so a change of how rows are fetched is made
    there once."""
    assert "analysis.reads" in _modules() and "alerts.run" in _modules()
    files = [f for name, f in _modules().items() if not name.startswith("registry")]
    wrong = [hit for f in files if str(f.relative_to(ROOT)) not in READERS
             for hit in _row_reads(f)]
    assert not wrong, wrong
    # the check sees a read where there is one
    reads = _row_reads(ROOT / "analysis/reads.py")
    assert {h.rsplit(" ", 1)[1] for h in reads} >= {".evaluation(", ".rows(", ".monitoring("}


# ------------------------------------------------------------------ import circles
def _import_graph(deferred: bool) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports: at module level only, or (``deferred``)
    also inside functions."""
    mods = _modules()
    graph = {}
    for name, f in mods.items():
        package = name if f.name == "__init__.py" else name.rpartition(".")[0]
        tree = _tree(f)
        found = set()
        for node in (ast.walk(tree) if deferred else tree.body):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found |= {m for m in names if m in mods and m != name}
        graph[name] = found
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or round a circle (Tarjan's
    strongly connected components of more than one module)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)




def test_no_import_circle():
    """No module of ours imports itself round a circle at module level, so any import order
    works; and no new circle hides behind an import deferred into a function."""
    assert _circles(_import_graph(deferred=False)) == []
    assert _circles(_import_graph(deferred=True)) == []


def test_circle_finder_sees_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]
    assert "analysis.estimation" in _import_graph(deferred=True)["analysis.alert_rules"]


def test_the_champion_rule_lives_next_to_the_domain_model():
    """Which version is the champion and which the challenger is decided once, in
    registry/model.py, and every layer above imports it from there."""
    where = {str(f.relative_to(ROOT)) for f in _modules().values()
             for node in ast.walk(_tree(f))
             if isinstance(node, ast.FunctionDef)
             and node.name in {"champion_of", "challenger_of"}}
    assert where == {"registry/model.py"}
