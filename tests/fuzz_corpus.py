"""A corpus of broken and unusual registries: each case is the tiny test registry
(``conftest.build_tiny_registry``) with one thing changed.

A case says what it changes, which model it touches, and what ModelDeck must say about it:
``path``/``field`` of the Problem it must report (``None`` for ordinary data that must just
work), and which pages to open over HTTP. ``tests/test_fuzz_registry.py`` runs them.

The cases cover every file of the format: model.json, version.json, evaluation and monitoring
tables (Parquet and CSV), experiment.json, runs.jsonl and history.csv, and the folders
around them (links out of the registry, FIFOs, folders where files should be).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

# Relative paths of the tiny registry's files.
CHURN = "models/churn/model.json"
IRIS = "models/iris/model.json"
PRICE = "models/price/model.json"
CHURN_V2 = "models/churn/versions/2/version.json"
IRIS_V2 = "models/iris/versions/2/version.json"
PRICE_V3 = "models/price/versions/3/version.json"
CHURN_EVAL = "models/churn/versions/2/evaluation/test.parquet"  # the champion's rows
CHURN_EVAL_V1 = "models/churn/versions/1/evaluation/test.parquet"
IRIS_EVAL = "models/iris/versions/3/evaluation/test.parquet"
PRICE_EVAL = "models/price/versions/3/evaluation/test.csv"
MONITORING = "models/churn/monitoring.parquet"
CHURN_TABLES = tuple(f"models/churn/versions/{v}/evaluation/test.parquet" for v in (1, 2, 3)) \
    + (MONITORING,)
EXPERIMENT = "experiments/sweep/experiment.json"
RUNS = "experiments/sweep/runs.jsonl"
HISTORY = "experiments/sweep/history.csv"

MODEL_PAGE = "/models/{m}"
MONITORING_PAGE = "/monitoring/{m}"
COMPARE_PAGE = "/compare?model={m}"
EXPERIMENTS_PAGE = "/experiments"
RUN_COMPARE_PAGE = "/experiments/compare?experiment=sweep&runs=run-0,run-1,run-2"


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Callable[[Path], None]
    model: str | None  # the model the change belongs to (None: experiments / registry)
    path: str | None = None  # file a Problem must name; None: ordinary data, no error
    field: str | None = None  # field it must name ("" = the whole file; None = any)
    pages: tuple[str, ...] = ()  # pages to open besides the portfolio and recommendations
    note: str | None = None  # ordinary data: words the model page must show
    exports: bool = False  # also GET /export/report/... for this model


# ------------------------------------------------------------------ mutations
def edit_json(rel: str, change: Callable[[dict], object]) -> Callable[[Path], None]:
    def mutate(root: Path):
        p = root / rel
        doc = json.loads(p.read_text())
        out = change(doc)
        p.write_text(json.dumps(doc if out is None else out))
    return mutate


def set_field(rel: str, dotted: str, value) -> Callable[[Path], None]:
    def change(doc):
        *parents, last = dotted.split(".")
        node = doc
        for k in parents:
            node = node.setdefault(k, {})
        node[last] = value
    return edit_json(rel, change)


def write_bytes(rel: str, data: bytes) -> Callable[[Path], None]:
    def mutate(root: Path):
        (root / rel).write_bytes(data)
    return mutate


def remove(rel: str) -> Callable[[Path], None]:
    def mutate(root: Path):
        p = root / rel
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    return mutate


def fifo(rel: str) -> Callable[[Path], None]:
    def mutate(root: Path):
        (root / rel).unlink()
        os.mkfifo(root / rel)
    return mutate


def folder_instead(rel: str) -> Callable[[Path], None]:
    def mutate(root: Path):
        (root / rel).unlink()
        (root / rel).mkdir()
    return mutate


def link_outside(rel: str, content: bytes | None = None, copy_of: str | None = None
                 ) -> Callable[[Path], None]:
    """Replace a file by a link to a file outside the registry (holding ``content``, or a
    copy of another registry file: a perfectly readable table ModelDeck must still refuse)."""
    def mutate(root: Path):
        outside = root.parent / f"outside-{Path(rel).name}"
        if copy_of is not None:
            shutil.copy(root / copy_of, outside)
        else:
            outside.write_bytes(content if content is not None else b"secret\n")
        (root / rel).unlink()
        (root / rel).symlink_to(outside)
    return mutate


def link_inside(rel: str, target: str) -> Callable[[Path], None]:
    def mutate(root: Path):
        (root / rel).unlink()
        (root / rel).symlink_to(root / target)
    return mutate


def edit_table(rel: str, change: Callable[[pd.DataFrame], pd.DataFrame | None],
               fmt: str | None = None) -> Callable[[Path], None]:
    """Rewrite a table; ``fmt`` "csv" or "parquet" changes its format (and file name)."""
    def mutate(root: Path):
        p = root / rel
        frame = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
        out = change(frame)
        frame = frame if out is None else out
        target = p.with_suffix("." + fmt) if fmt else p
        p.unlink()
        if target.suffix == ".parquet":
            frame.to_parquet(target, index=False)
        else:
            frame.to_csv(target, index=False)
    return mutate


def both(*mutations) -> Callable[[Path], None]:
    def mutate(root: Path):
        for m in mutations:
            m(root)
    return mutate


def nested(depth: int):
    doc: object = 1
    for _ in range(depth):
        doc = [doc]
    return doc


# ------------------------------------------------------------------ JSON field values
#: unusual values tried in every field of every metadata document
VALUES = {
    "null": None, "true": True, "negative": -1, "huge": 10**400, "nan": float("nan"),
    "word": "yes", "control": "a\x00b\x07c", "list": [1, "two"], "object": {"a": [1]},
    "deep": nested(40),
}
#: more values, for MODELDECK_FUZZ_FULL=1
MORE_VALUES = {"float": 3.5, "inf": float("inf"), "empty": "", "long": "x" * 20_000}
if os.environ.get("MODELDECK_FUZZ_FULL") == "1":
    VALUES.update(MORE_VALUES)

#: per file: (relative path, model, fields, whether a bad value costs the whole document)
FIELDS = {
    "model": (PRICE, "price", ("task", "name", "description", "owner", "tags", "tags.domain",
                               "entity", "target_unit", "positive_label", "business",
                               "business.cost_per_unit_error", "business.volume_per_month",
                               "business.currency")),
    "version": (IRIS_V2, "iris", ("version", "aliases", "stage", "created_at", "run_id",
                                  "algorithm", "params", "params.C", "metrics",
                                  "metrics.cv_auc", "description")),
    "experiment": (EXPERIMENT, None, ("name", "description")),
}


def _valid(fname: str, field_: str, value) -> bool:
    """Whether ``value`` is legitimate in ``field_`` (no Problem expected), by the rules of
    docs/registry-format.md."""
    container = isinstance(value, (list, dict))
    boolean = isinstance(value, bool)
    number = isinstance(value, (int, float)) and not boolean
    finite = number and value == value and abs(value) < 1e300
    if field_ in ("description", "owner", "entity", "target_unit", "algorithm", "tags.domain",
                  "business.currency") or (fname == "experiment" and field_ == "name"):
        return not container  # text; numbers and true/false are written as text
    if field_ in ("stage", "run_id"):
        return value is None or isinstance(value, str) or (isinstance(value, int) and number)
    if field_ == "positive_label":
        return not container and (not number or value == value and abs(value) != float("inf"))
    if field_ == "params.C":
        return True  # any value: objects and lists are kept as JSON text
    if field_ == "params":
        return value is None or isinstance(value, dict)
    if field_ == "business":
        return value is None or (isinstance(value, dict) and "a" in value)  # unknown keys
    if field_ in ("tags", "metrics", "aliases", "created_at"):
        return value is None or (field_ == "created_at" and value == "")
    if field_ in ("metrics.cv_auc", "business.cost_per_unit_error"):
        return finite or (value is None and field_.startswith("business"))
    if field_ == "business.volume_per_month":
        return value is None or (finite and value >= 0)
    if field_ == "name":  # model.json: must equal the folder name when given
        return value is None or value == ""
    return False  # task, version


def json_field_cases() -> list[Case]:
    out = []
    for fname, (rel, model, fields) in FIELDS.items():
        page = (EXPERIMENTS_PAGE,) if model is None else ()
        for field_ in fields:
            for vname, value in VALUES.items():
                if field_ == "tags.domain" and vname == "deep":
                    continue  # the same as "deep" in any field
                valid = vname != "deep" and _valid(fname, field_, value)
                out.append(Case(
                    id=f"{fname}.{field_}={vname}", mutate=set_field(rel, field_, value),
                    model=model, path=None if valid else rel,
                    field=None if valid else ("" if vname == "deep" else field_),
                    pages=page))
    return out


def run_line_cases() -> list[Case]:
    """One more line in runs.jsonl with one bad field."""
    good = {"run_id": "extra", "name": "extra run", "status": "FINISHED",
            "start_time": "2026-01-01T00:00:00+00:00", "params": {"lr": 0.1},
            "metrics": {"auc": 0.9}, "tags": {"who": "me"}}
    out = []
    for field_ in ("run_id", "status", "start_time", "params", "metrics", "metrics.auc",
                   "tags"):
        for vname in ("null", "true", "huge", "nan", "word", "control", "list", "object",
                      "deep"):
            value = VALUES[vname]
            doc = json.loads(json.dumps(good))
            node, key = (doc, field_) if "." not in field_ else (
                doc[field_.split(".")[0]], field_.split(".")[1])
            node[key] = value
            line = json.dumps(doc)

            def mutate(root: Path, line=line):
                with open(root / RUNS, "a") as f:
                    f.write(line + "\n")
            ok = (field_ in ("status",) and vname in ("null", "true", "word", "control",
                                                      "huge", "nan"))  \
                or (field_ == "run_id" and vname in ("word", "control", "huge")) \
                or (field_ == "start_time" and vname == "null") \
                or (field_ in ("params",) and vname in ("null", "object")) \
                or (field_ in ("metrics", "tags") and vname == "null") \
                or (field_ == "metrics.auc" and vname == "null")
            out.append(Case(id=f"run.{field_}={vname}", mutate=mutate, model=None,
                            path=None if ok else RUNS, field=None,
                            pages=(EXPERIMENTS_PAGE,)))
    return out


def whole_file_cases() -> list[Case]:
    """Each metadata file: missing, empty, not JSON, not UTF-8, the wrong JSON type, too
    deep, too large, a FIFO, a folder, a link out of the registry, a link inside it."""
    files = [(PRICE, "price", (MODEL_PAGE,)), (IRIS_V2, "iris", (MODEL_PAGE,)),
             (EXPERIMENT, None, (EXPERIMENTS_PAGE,)), (RUNS, None, (EXPERIMENTS_PAGE,)),
             (HISTORY, None, (RUN_COMPARE_PAGE,))]
    out = []
    for rel, model, pages in files:
        short = Path(rel).name
        variants = {
            "empty": write_bytes(rel, b""),
            "not-json": write_bytes(rel, b"{\"task\": \"binary\", "),
            "not-utf8": write_bytes(rel, b"{\"description\": \"\xff\xfe\"}"),
            "array": write_bytes(rel, b"[1, 2, 3]"),
            "string": write_bytes(rel, b"\"model\""),
            "nested-100000": write_bytes(rel, b"[" * 100_000 + b"]" * 100_000),
            "too-large": write_bytes(rel, b"{\"description\": \"" + b"x" * (5 * 2**20)
                                     + b"\"}"),
            "fifo": fifo(rel),
            "folder": folder_instead(rel),
            "link-outside": link_outside(rel, b"{\"task\": \"binary\", \"description\": "
                                              b"\"SECRET-OUTSIDE\"}\n"),
            "missing": remove(rel),
            "nul-bytes": write_bytes(rel, b"\x00" * 64),
        }
        for name, mutate in variants.items():
            optional = rel in (EXPERIMENT, RUNS, HISTORY) and name == "missing"
            # runs.jsonl is read line by line: a bad line is a warning naming the line
            field_ = "" if rel != RUNS or name in ("fifo", "folder", "link-outside",
                                                  "too-large") else None
            if rel == RUNS and name == "too-large":
                field_ = None  # one line longer than the line limit
            if rel == HISTORY and name not in ("fifo", "folder", "link-outside", "missing"):
                field_ = None
            if rel == RUNS and name == "empty":
                optional = True  # an experiment without runs yet
            out.append(Case(id=f"{short}:{name}:{model or 'sweep'}", mutate=mutate,
                            model=model, path=None if optional else rel, field=field_,
                            pages=pages))
    out.append(Case(id="model.json:link-inside", mutate=link_inside(PRICE, IRIS),
                    model="price", path=PRICE, field="name", pages=(MODEL_PAGE,)))
    out.append(Case(id="version.json:link-inside",
                    mutate=link_inside(IRIS_V2, "models/iris/versions/1/version.json"),
                    model="iris", path=IRIS_V2, field="version", pages=(MODEL_PAGE,)))
    return out


# ------------------------------------------------------------------ tables
def _score_rows(frame, rows, value):
    frame = frame.copy()
    frame.loc[frame.index[:rows], "y_score"] = value
    return frame


def _with(frame, **cols):
    frame = frame.copy()
    for k, v in cols.items():
        frame[k] = v(frame) if callable(v) else v
    return frame


def table_cases() -> list[Case]:
    B, MP = CHURN_EVAL, (MODEL_PAGE, COMPARE_PAGE)
    n = lambda f: len(f)  # noqa: E731
    label_yes = set_field(CHURN, "positive_label", "yes")
    cases = [
        # ---- ordinary data that must simply work (with notes where something was left out)
        Case("eval:labels-as-booleans", edit_table(B, lambda f: _with(
            f, y_true=lambda f: f["y_true"].astype(bool))), "churn", pages=MP, exports=True),
        Case("eval:labels-yes-no+positive_label", both(label_yes, *[edit_table(
            rel, lambda f: _with(f, y_true=lambda f: f["y_true"].map({1: "yes", 0: "no"})))
            for rel in CHURN_TABLES]), "churn", pages=MP, exports=True),
        Case("eval:labels-Yes-No+positive_label-yes", both(label_yes, *[edit_table(
            rel, lambda f: _with(f, y_true=lambda f: f["y_true"].map({1: "Yes", 0: " no"})))
            for rel in CHURN_TABLES]), "churn", pages=MP),
        Case("eval:labels-true-false-text", edit_table(B, lambda f: _with(
            f, y_true=lambda f: np.where(f["y_true"] == 1, "true", "false"))), "churn",
            pages=(MODEL_PAGE,)),
        Case("eval:one-class", edit_table(B, lambda f: _with(f, y_true=0)), "churn",
             pages=MP, note="every row is negative", exports=True),
        Case("eval:one-row", edit_table(B, lambda f: f.head(1)), "churn", pages=MP,
             note="only 1 row", exports=True),
        Case("eval:two-rows", edit_table(B, lambda f: f.head(2)), "churn", pages=MP,
             note="only 2 rows"),
        Case("eval:nan-scores", edit_table(B, lambda f: _score_rows(f, 7, np.nan)), "churn",
             pages=MP, note="7 of 200 rows left out"),
        Case("eval:inf-scores", edit_table(B, lambda f: _score_rows(f, 3, np.inf)), "churn",
             pages=(MODEL_PAGE,), note="3 of 200 rows left out"),
        Case("eval:perfect-scores", edit_table(B, lambda f: _with(
            f, y_score=lambda f: f["y_true"].astype(float))), "churn", pages=MP),
        Case("eval:constant-scores", edit_table(B, lambda f: _with(f, y_score=0.5)), "churn",
             pages=MP),
        Case("eval:float32-scores", edit_table(B, lambda f: _with(
            f, y_score=lambda f: f["y_score"].astype("float32"))), "churn",
            pages=(MODEL_PAGE,)),
        Case("eval:as-csv", edit_table(B, lambda f: None, fmt="csv"), "churn",
             pages=(MODEL_PAGE,)),
        Case("eval:segment-5000-values", edit_table(B, lambda f: _with(
            f, **{"segment.region": lambda f: [f"r{i}" for i in range(n(f))]})), "churn",
            pages=MP, note="largest groups are shown"),
        Case("eval:segment-floats", edit_table(B, lambda f: _with(
            f, **{"segment.region": lambda f: np.linspace(0, 1, n(f))})), "churn", pages=MP,
            note="largest groups are shown"),
        Case("eval:segment-with-missing", edit_table(B, lambda f: _with(
            f, **{"segment.region": lambda f: np.where(np.arange(n(f)) % 3 == 0, None,
                                                       f["segment.region"])})), "churn",
            pages=MP),
        Case("eval:segment-one-value", edit_table(B, lambda f: _with(
            f, **{"segment.region": "north"})), "churn", pages=(MODEL_PAGE,)),
        Case("eval:feature-as-text", edit_table(B, lambda f: _with(
            f, **{"feature.x": lambda f: f["feature.x"].round(1).astype(str)})), "churn",
            pages=(MODEL_PAGE, MONITORING_PAGE)),
        Case("eval:extra-columns", edit_table(B, lambda f: _with(f, comment="hello",
                                                                 **{"proba.x": 0.3})),
             "churn", pages=(MODEL_PAGE,)),
        Case("eval:control-chars-in-labels", both(
            set_field(CHURN, "positive_label", "y\x07"), *[edit_table(rel, lambda f: _with(
                f, y_true=lambda f: f["y_true"].map({1: "y\x07", 0: "n"})))
                for rel in CHURN_TABLES]),
            "churn", pages=(MODEL_PAGE,)),  # the edge removes control characters
        # ---- multiclass and regression
        Case("iris:y_pred-only", edit_table(IRIS_EVAL, lambda f: f[["y_true", "y_pred"]]),
             "iris", pages=(MODEL_PAGE, COMPARE_PAGE)),
        Case("iris:labels-as-text", edit_table(IRIS_EVAL, lambda f: _with(
            f, y_true=lambda f: f["y_true"].map({0: "a", 1: "b", 2: "c"}),
            y_pred=lambda f: f["y_pred"].map({0: "a", 1: "b", 2: "c"})).rename(
                columns={"proba.0": "proba.a", "proba.1": "proba.b", "proba.2": "proba.c"})),
            "iris", pages=(MODEL_PAGE,)),
        Case("iris:one-class", edit_table(IRIS_EVAL, lambda f: _with(f, y_true=1)), "iris",
             pages=(MODEL_PAGE, COMPARE_PAGE), note="same true class"),
        Case("iris:one-row", edit_table(IRIS_EVAL, lambda f: f.head(1)), "iris",
             pages=(MODEL_PAGE, COMPARE_PAGE), note="only 1 row"),
        Case("iris:nan-proba", edit_table(IRIS_EVAL, lambda f: _with(
            f, **{"proba.0": lambda f: np.where(np.arange(n(f)) < 5, np.nan, f["proba.0"])})),
            "iris", pages=(MODEL_PAGE,), note="5 of 200 rows left out"),
        Case("iris:zero-proba-rows", edit_table(IRIS_EVAL, lambda f: _with(
            f, **{c: 0.0 for c in ("proba.0", "proba.1", "proba.2")})), "iris",
            path=IRIS_EVAL, field=None),
        Case("price:perfect", edit_table(PRICE_EVAL, lambda f: _with(
            f, y_pred=lambda f: f["y_true"])), "price", pages=(MODEL_PAGE, COMPARE_PAGE),
            exports=True),
        Case("price:constant-target", edit_table(PRICE_EVAL, lambda f: _with(f, y_true=5.0)),
             "price", pages=(MODEL_PAGE, COMPARE_PAGE), note="every true value is the same"),
        Case("price:zero-target", edit_table(PRICE_EVAL, lambda f: _with(f, y_true=0.0)),
             "price", pages=(MODEL_PAGE,)),
        Case("price:one-row", edit_table(PRICE_EVAL, lambda f: f.head(1)), "price",
             pages=(MODEL_PAGE, COMPARE_PAGE), note="only 1 row"),
        Case("price:inf-pred", edit_table(PRICE_EVAL, lambda f: _with(
            f, y_pred=lambda f: np.where(np.arange(n(f)) < 4, np.inf, f["y_pred"]))),
            "price", pages=(MODEL_PAGE,), note="4 of 200 rows left out"),
        Case("price:huge-values", edit_table(PRICE_EVAL, lambda f: _with(
            f, y_pred=lambda f: f["y_pred"] * 1e300, y_true=lambda f: f["y_true"] * 1e300)),
            "price", pages=(MODEL_PAGE,)),
        Case("price:as-parquet", edit_table(PRICE_EVAL, lambda f: None, fmt="parquet"),
             "price", pages=(MODEL_PAGE,)),
        # ---- tables that cannot be used: a Problem naming file and column
        Case("eval:empty-table", edit_table(B, lambda f: f.head(0)), "churn", path=B,
             field="", pages=MP),
        Case("eval:header-only-csv", both(remove(B), write_bytes(
            B.replace(".parquet", ".csv"), b"y_true,y_score\n")), "churn",
            path=B.replace(".parquet", ".csv"), field="", pages=(MODEL_PAGE,)),
        Case("eval:empty-file", write_bytes(B, b""), "churn", path=B, field="",
             pages=(MODEL_PAGE,)),
        Case("eval:garbage", write_bytes(B, b"PAR1garbagePAR1"), "churn", path=B, field="",
             pages=(MODEL_PAGE,)),
        Case("eval:no-y_true", edit_table(B, lambda f: f.drop(columns="y_true")), "churn",
             path=B, field="y_true", pages=MP),
        Case("eval:no-y_score", edit_table(B, lambda f: f.drop(columns="y_score")), "churn",
             path=B, field="y_score", pages=MP),
        Case("eval:all-nan-scores", edit_table(B, lambda f: _with(f, y_score=np.nan)),
             "churn", path=B, field="y_score", pages=(MODEL_PAGE,)),
        Case("eval:text-scores", edit_table(B, lambda f: _with(f, y_score="high")), "churn",
             path=B, field="y_score", pages=(MODEL_PAGE,)),
        Case("eval:scores-above-1", edit_table(B, lambda f: _with(
            f, y_score=lambda f: f["y_score"] * 10)), "churn", path=B, field="y_score"),
        Case("eval:three-labels", edit_table(B, lambda f: _with(
            f, y_true=lambda f: np.arange(n(f)) % 3)), "churn", path=B, field="y_true"),
        Case("eval:yes-no-without-positive_label", edit_table(B, lambda f: _with(
            f, y_true=lambda f: np.where(f["y_true"] == 1, "yes", "no"))), "churn", path=B,
            field="y_true"),
        Case("eval:labels-not-matching-positive_label", both(
            set_field(CHURN, "positive_label", "churned"), edit_table(B, lambda f: _with(
                f, y_true=lambda f: np.where(f["y_true"] == 1, "yes", "no")))), "churn",
            path=B, field="y_true"),
        Case("eval:all-y_true-missing", edit_table(B, lambda f: _with(f, y_true=np.nan)),
             "churn", path=B, field="y_true", pages=(MODEL_PAGE,)),
        Case("eval:old-version-broken", write_bytes(CHURN_EVAL_V1, b"nope"), "churn",
             path=CHURN_EVAL_V1, field="", pages=(MODEL_PAGE, COMPARE_PAGE)),
        Case("eval:fifo", fifo(B), "churn", path=B, field="", pages=(MODEL_PAGE,)),
        Case("eval:folder", folder_instead(B), "churn", path=B, field="",
             pages=(MODEL_PAGE,)),
        Case("eval:link-outside", link_outside(B, copy_of=CHURN_EVAL_V1), "churn", path=B,
             field="", pages=(MODEL_PAGE,), exports=True),
        Case("eval:link-inside", link_inside(B, CHURN_EVAL_V1), "churn",
             pages=(MODEL_PAGE,)),
        Case("iris:no-predictions", edit_table(IRIS_EVAL, lambda f: f[["y_true"]]), "iris",
             path=IRIS_EVAL, field="y_pred"),
        Case("iris:text-proba", edit_table(IRIS_EVAL, lambda f: _with(f, **{"proba.0": "x"})),
             "iris", path=IRIS_EVAL, field="proba.0"),
        Case("price:text-pred", edit_table(PRICE_EVAL, lambda f: _with(f, y_pred="much")),
             "price", path=PRICE_EVAL, field="y_pred"),
        Case("price:text-target", edit_table(PRICE_EVAL, lambda f: _with(
            f, y_true=lambda f: np.where(np.arange(n(f)) == 3, "unknown", f["y_true"]))),
            "price", path=PRICE_EVAL, field="y_true"),
        Case("price:duplicate-column", write_bytes(PRICE_EVAL, b"y_true,y_pred,y_pred\n"
                                                               b"1,2,3\n4,5,6\n"),
             "price", pages=(MODEL_PAGE,)),
        Case("price:no-y_pred", edit_table(PRICE_EVAL, lambda f: f[["y_true"]]), "price",
             path=PRICE_EVAL, field="y_pred"),
        Case("price:csv-garbage", write_bytes(PRICE_EVAL, b"\x00\x01\x02,\xff\n\"unclosed"),
             "price", path=PRICE_EVAL, field=None, pages=(MODEL_PAGE,)),
    ]
    # ---- monitoring
    M, MON = MONITORING, (MONITORING_PAGE,)
    cases += [
        Case("mon:no-y_true", edit_table(M, lambda f: f.drop(columns="y_true")), "churn",
             pages=MON),
        Case("mon:labels-as-booleans", edit_table(M, lambda f: _with(
            f, y_true=lambda f: f["y_true"].map({1.0: True, 0.0: False}))), "churn",
            pages=MON),
        Case("mon:all-timestamps-null", edit_table(M, lambda f: _with(f, timestamp=pd.NaT)),
             "churn", path=M, field="timestamp", pages=MON),
        Case("mon:some-timestamps-null", edit_table(M, lambda f: _with(
            f, timestamp=lambda f: f["timestamp"].where(np.arange(n(f)) % 10 != 0))),
            "churn", pages=MON, note="rows left out"),
        Case("mon:timestamps-text", edit_table(M, lambda f: _with(f, timestamp="yesterday")),
             "churn", path=M, field="timestamp", pages=MON),
        Case("mon:timestamps-centuries", edit_table(M, lambda f: _with(
            f, timestamp=lambda f: pd.to_datetime(np.linspace(
                pd.Timestamp("1700-01-01").value, pd.Timestamp("2200-01-01").value,
                n(f)).astype("int64"), utc=True))), "churn", pages=MON,
            note="older production rows are left out"),
        Case("mon:timestamps-epoch-ints", edit_table(M, lambda f: _with(
            f, timestamp=lambda f: np.arange(n(f)))), "churn", path=M, field="timestamp",
            pages=MON),
        Case("mon:timestamps-year-9999", edit_table(M, lambda f: _with(
            f, timestamp=lambda f: np.where(np.arange(n(f)) < 10, "9999-01-01T00:00:00Z",
                                            f["timestamp"].astype(str)))), "churn",
            pages=MON, note="rows left out"),
        Case("mon:one-row", edit_table(M, lambda f: f.head(1)), "churn", pages=MON),
        Case("mon:empty", edit_table(M, lambda f: f.head(0)), "churn", path=M, field="",
             pages=MON),
        Case("mon:no-version", edit_table(M, lambda f: f.drop(columns="version")), "churn",
             path=M, field="version", pages=MON),
        Case("mon:version-text", edit_table(M, lambda f: _with(f, version="two")), "churn",
             path=M, field="version", pages=MON),
        Case("mon:version-float", edit_table(M, lambda f: _with(f, version=2.0)), "churn",
             pages=MON),
        Case("mon:unknown-version", edit_table(M, lambda f: _with(f, version=99)), "churn",
             pages=MON),
        Case("mon:nan-scores", edit_table(M, lambda f: _score_rows(f, 50, np.nan)), "churn",
             pages=MON, note="rows left out"),
        Case("mon:feature-text-vs-numbers", edit_table(M, lambda f: _with(
            f, **{"feature.x": lambda f: np.where(np.arange(n(f)) % 2 == 0, "low", "high")})),
            "churn", pages=MON),
        Case("mon:feature-numbers-vs-text", both(
            edit_table(M, lambda f: _with(f, **{"feature.x": 1.0})),
            edit_table(B, lambda f: _with(f, **{"feature.x": "a"}))), "churn", pages=MON),
        Case("mon:feature-all-nan", edit_table(M, lambda f: _with(f, **{"feature.x": np.nan})),
             "churn", pages=MON),
        Case("mon:segment-5000", edit_table(M, lambda f: _with(
            f, **{"segment.shop": lambda f: [f"s{i}" for i in range(n(f))]})), "churn",
            pages=MON),
        Case("mon:segment-floats", edit_table(M, lambda f: _with(
            f, **{"segment.shop": lambda f: np.random.default_rng(0).random(n(f))})), "churn",
            pages=MON),
        Case("mon:as-csv", edit_table(M, lambda f: None, fmt="csv"), "churn", pages=MON),
        Case("mon:fifo", fifo(M), "churn", path=M, field="", pages=MON),
        Case("mon:link-outside", link_outside(M, copy_of=M), "churn", path=M, field="",
             pages=MON),
        Case("mon:garbage", write_bytes(M, b"garbage"), "churn", path=M, field="",
             pages=MON),
        Case("mon:no-labels-at-all", edit_table(M, lambda f: _with(f, y_true=np.nan)),
             "churn", pages=MON),
        Case("mon:one-week", edit_table(M, lambda f: _with(
            f, timestamp=pd.Timestamp("2026-02-03T10:00:00Z"))), "churn", pages=MON),
    ]
    # ---- history and runs tables
    H = HISTORY
    cases += [
        Case("history:text-steps", edit_table(H, lambda f: _with(f, step="first")), None,
             pages=(RUN_COMPARE_PAGE,)),
        Case("history:nan-values", edit_table(H, lambda f: _with(f, value=np.nan)), None,
             pages=(RUN_COMPARE_PAGE,)),
        Case("history:no-key", edit_table(H, lambda f: f.drop(columns="key")), None,
             path=H, field="key", pages=(RUN_COMPARE_PAGE,)),
        Case("history:numeric-run-ids", edit_table(H, lambda f: _with(f, run_id=7)), None,
             pages=(RUN_COMPARE_PAGE,)),
        Case("history:as-parquet", edit_table(H, lambda f: None, fmt="parquet"), None,
             pages=(RUN_COMPARE_PAGE,)),
        Case("runs:duplicate-ids", lambda root: open(root / RUNS, "a").write(
            (root / RUNS).read_text().splitlines()[0] + "\n"), None, path=RUNS,
            field="run_id", pages=(EXPERIMENTS_PAGE, RUN_COMPARE_PAGE)),
        Case("runs:metrics-everywhere-different", lambda root: open(root / RUNS, "a").write(
            "".join(json.dumps({"run_id": f"m{i}", "metrics": {f"k{i}": i}}) + "\n"
                    for i in range(60))), None, pages=(EXPERIMENTS_PAGE,)),
        Case("runs:crlf-and-blank-lines", lambda root: (root / RUNS).write_bytes(
            (root / RUNS).read_bytes().replace(b"\n", b"\r\n\r\n")), None,
            pages=(EXPERIMENTS_PAGE, RUN_COMPARE_PAGE)),
        Case("runs:bom", lambda root: (root / RUNS).write_bytes(
            b"\xef\xbb\xbf" + (root / RUNS).read_bytes()), None, path=RUNS, field="line 1",
            pages=(EXPERIMENTS_PAGE,)),
    ]
    return cases


# ------------------------------------------------------------------ folders and versions
def layout_cases() -> list[Case]:
    def version_folder_without_json(root: Path):
        (root / "models/iris/versions/9").mkdir()

    def version_as_file(root: Path):
        (root / "models/iris/versions/9").write_text("not a folder")

    def model_folder_outside(root: Path):
        outside = root.parent / "outside-model"
        shutil.copytree(root / "models/price", outside)
        (root / "models/leak").symlink_to(outside)

    def models_is_a_file(root: Path):
        shutil.rmtree(root / "models")
        (root / "models").write_text("no")

    def bad_model_folder_name(root: Path):
        shutil.copytree(root / "models/price", root / "models/bad name!")

    def hidden_folder(root: Path):
        shutil.copytree(root / "models/price", root / "models/.trash")

    def dir_fifo(root: Path):
        os.mkfifo(root / "models/pipe")

    def version_created_at_missing_once(root: Path):
        p = root / IRIS_V2
        doc = json.loads(p.read_text())
        del doc["created_at"]
        p.write_text(json.dumps(doc))

    def no_champion(root: Path):
        for v in (1, 2, 3):
            p = root / f"models/iris/versions/{v}/version.json"
            doc = json.loads(p.read_text())
            doc["aliases"] = []
            p.write_text(json.dumps(doc))

    def two_champions(root: Path):
        p = root / "models/iris/versions/1/version.json"
        doc = json.loads(p.read_text())
        doc["aliases"] = ["champion"]
        p.write_text(json.dumps(doc))

    def one_version_only(root: Path):
        for v in (1, 2):
            shutil.rmtree(root / f"models/iris/versions/{v}")

    def no_versions(root: Path):
        shutil.rmtree(root / "models/iris/versions")

    def evaluation_folder_missing(root: Path):
        shutil.rmtree(root / "models/iris/versions/3/evaluation")

    def split_folder(root: Path):
        (root / "models/iris/versions/3/evaluation/other.parquet").mkdir()

    def model_description_nul(root: Path):
        p = root / PRICE
        doc = json.loads(p.read_text())
        doc["description"] = "Houses\x00 and \x07bells \ud800"
        p.write_text(json.dumps(doc))

    def experiments_is_a_file(root: Path):
        shutil.rmtree(root / "experiments")
        (root / "experiments").write_text("no")

    def experiment_folder_outside(root: Path):
        outside = root.parent / "outside-experiment"
        shutil.copytree(root / "experiments/sweep", outside)
        (root / "experiments/leak").symlink_to(outside)

    MP = (MODEL_PAGE,)
    return [
        Case("layout:version-folder-without-json", version_folder_without_json, "iris",
             path="models/iris/versions/9/version.json", field="", pages=MP),
        Case("layout:version-is-a-file", version_as_file, "iris", pages=MP),
        Case("layout:model-folder-link-outside", model_folder_outside, None),
        Case("layout:models-is-a-file", models_is_a_file, None, path="models/", field=""),
        Case("layout:bad-model-folder-name", bad_model_folder_name, None,
             path="models/bad name!", field=""),
        Case("layout:hidden-model-folder", hidden_folder, None),
        Case("layout:fifo-in-models", dir_fifo, None),
        Case("layout:created_at-missing-on-one-version", version_created_at_missing_once,
             "iris", pages=(MODEL_PAGE, COMPARE_PAGE)),
        Case("layout:no-champion-alias", no_champion, "iris", pages=MP),
        Case("layout:two-champion-aliases", two_champions, "iris", pages=MP),
        Case("layout:one-version", one_version_only, "iris", pages=(MODEL_PAGE, COMPARE_PAGE)),
        Case("layout:no-versions", no_versions, "iris", pages=(MODEL_PAGE, COMPARE_PAGE)),
        Case("layout:no-evaluation-folder", evaluation_folder_missing, "iris",
             pages=(MODEL_PAGE, COMPARE_PAGE)),
        Case("layout:split-is-a-folder", split_folder, "iris",
             path="models/iris/versions/3/evaluation/other.parquet", field=None, pages=MP),
        Case("layout:description-with-control-characters", model_description_nul, "price",
             pages=MP, exports=True),
        Case("layout:experiments-is-a-file", experiments_is_a_file, None,
             pages=(EXPERIMENTS_PAGE,)),
        Case("layout:experiment-folder-link-outside", experiment_folder_outside, None,
             pages=(EXPERIMENTS_PAGE,)),
    ]


def all_cases() -> list[Case]:
    cases = json_field_cases() + run_line_cases() + whole_file_cases() + table_cases() \
        + layout_cases()
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases
