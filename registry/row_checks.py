"""Prediction rows checked and put in the documented shape by the engine that holds them.

``check`` applies the rules of ``registry.tables.prepare_predictions`` (docs/registry-format.md,
"Limits and normalisation") to a table in DuckDB, Spark or any Ibis engine, without reading it
into memory: required columns and their types from the schema, rows left out (and why) from one
pass, the scores' range and the labels of a yes/no model from small queries. A table that
cannot be used raises RegistryError naming the table and the column. ``parquet_rows`` and
``external_rows`` open a table (Parquet files in place, or a table of an external engine) and
check it.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from .model import (
    COL_PRED, COL_SCORE, COL_TIME, COL_TRUE, COL_VERSION, FEATURE_PREFIX, PROBA_PREFIX,
    SEGMENT_PREFIX, Evaluation, Model, Problem, RegistryError,
)
from .rows import COL_FILE, COL_MONTH, COL_POS, COL_ROW, Rows, connection, day_number, duckdb
from .tables import MISSING, check_binary_labels, label_key, prepare_predictions


#: the hive partition that may hold each production row's UTC month ("YYYY-MM")
MONTH_PARTITION = "month"
#: month folders are aggregated one at a time (stacked in one query: ``_month_counts``,
#: ``analysis.queries.Windowed.per_window``) when they hold this many rows on average, and
#: there are at most ``STACK_MAX_MONTHS`` of them: each folder's aggregate has a fixed cost
#: (~25 ms to build, compile and start), which smaller aggregates repay only on many rows
STACK_MIN_ROWS = 2_000_000
STACK_MAX_MONTHS = 36
#: the column DuckDB adds with each row's position in its Parquet file
ROW_NUMBER = "file_row_number"
FILE_NAME = "filename"


def check(t, model: Model, where: str, evaluation: bool, positions: bool = False,
          months: tuple[str, ...] = ()) -> Rows:
    """``t`` in the documented shape, checked and normalised by the engine itself: the rules
    of ``registry.tables.prepare_predictions`` for typed columns. Raises RegistryError naming
    ``where`` and the column. ``positions``: ``t`` carries DuckDB's ``file_row_number`` (and,
    for production rows, ``filename``), kept as ``COL_ROW`` (and ``COL_FILE``). ``months``:
    production rows in ``month=YYYY-MM`` partitions that ``parquet_rows`` found, by the
    footers, to hold only times of their UTC month and no missing time: the rows are then
    counted per version and month, one partition at a time, without reading the times
    (``_month_counts``)."""
    import ibis
    import ibis.expr.datatypes as dt

    name = model.name

    def fail(col: str, message: str):
        raise RegistryError(Problem(where, col, message, model=name))

    schema = t.schema()
    cols = list(schema.names)

    def numeric(col: str, what: str):
        typ = schema[col]
        if typ.is_boolean():
            return t[col].cast("float64")
        if not (typ.is_numeric()):
            fail(col, f"must hold {what}; the column's type is {typ}")
        return t[col].cast("float64")

    out: dict[str, Any] = {}
    reasons: list[tuple[str, Any]] = []  # (why, boolean expression: the row is left out)
    no_time = f"no readable {COL_TIME}"
    if not evaluation:
        for col in (COL_TIME, COL_VERSION):
            if col not in cols:
                fail(col, "required column is missing")
        typ = schema[COL_TIME]
        if typ.is_numeric():
            fail(COL_TIME, "must hold ISO 8601 times (e.g. 2026-03-01T12:00:00Z), not numbers")
        if typ.is_timestamp():
            ts = t[COL_TIME].cast(dt.Timestamp(timezone="UTC") if typ.timezone is None
                                  else typ)
        elif typ.is_date():
            ts = t[COL_TIME].cast(dt.Timestamp(timezone="UTC"))
        elif typ.is_string():
            ts = t[COL_TIME].try_cast(dt.Timestamp(timezone="UTC"))
        else:
            fail(COL_TIME, f"must hold times; the column's type is {typ}")
        out[COL_TIME] = ts
        reasons.append((no_time, ts.isnull()))
        vtyp = schema[COL_VERSION]
        if vtyp.is_integer():
            v = t[COL_VERSION].cast("int64")
            bad = v.isnull()
        elif vtyp.is_floating() or vtyp.is_decimal() or vtyp.is_string():
            f = t[COL_VERSION].try_cast("float64") if vtyp.is_string() \
                else t[COL_VERSION].cast("float64")
            bad = f.isnull() | f.isnan() | f.isinf() | (f.floor() != f)
            v = bad.ifelse(ibis.literal(-1, "int64"), f.cast("int64"))
        else:
            fail(COL_VERSION, "must hold whole version numbers")
        out[COL_VERSION] = v
        reasons.append((f"no whole number in {COL_VERSION}", bad))

    if COL_TRUE not in cols:
        if evaluation:
            fail(COL_TRUE, "required column is missing")
        truth = ibis.null("float64")
    else:
        truth = t[COL_TRUE]
        if schema[COL_TRUE].is_floating():  # NaN is a missing label, as in pandas
            truth = truth.isnan().ifelse(ibis.null("float64"), truth)
    if evaluation:
        reasons.append((f"no {COL_TRUE}", truth.isnull()))

    if model.task == "binary":
        if COL_SCORE not in cols:
            fail(COL_SCORE, "required column is missing (probability of the positive class)")
        s = numeric(COL_SCORE, "numbers between 0 and 1")
        out[COL_SCORE] = s
        reasons.append((f"a NaN or infinite {COL_SCORE}", s.isnull() | s.isnan() | s.isinf()))
        out[COL_TRUE] = truth
    elif model.task == "multiclass":
        proba = [c for c in cols if c.startswith(PROBA_PREFIX)]
        if COL_PRED not in cols and not proba:
            fail(COL_PRED, f"required column is missing (or '{PROBA_PREFIX}<class>' columns)")
        for c in proba:
            out[c] = numeric(c, "probabilities (numbers)")
        if proba:
            anybad = ibis.literal(False)
            for c in proba:
                anybad = anybad | out[c].isnull() | out[c].isnan() | out[c].isinf()
            reasons.append(("a NaN or infinite probability", anybad))
        if COL_PRED in cols:
            out[COL_PRED] = t[COL_PRED].cast("string")
            reasons.append((f"no {COL_PRED}", t[COL_PRED].isnull()))
        else:  # the most probable class (the first one on ties, as numpy's argmax)
            best = out[proba[0]]
            pred = ibis.literal(proba[0][len(PROBA_PREFIX):])
            for c in proba[1:]:
                better = out[c] > best
                pred = better.ifelse(ibis.literal(c[len(PROBA_PREFIX):]), pred)
                best = better.ifelse(out[c], best)
            out[COL_PRED] = pred
        out[COL_TRUE] = _class_text(truth, schema[COL_TRUE] if COL_TRUE in cols else None)
    else:
        if COL_PRED not in cols:
            fail(COL_PRED, "required column is missing")
        p = numeric(COL_PRED, "numbers")
        out[COL_PRED] = p
        y = numeric(COL_TRUE, "numbers") if COL_TRUE in cols else truth
        out[COL_TRUE] = y
        reasons.append((f"a NaN or infinite {COL_PRED}", p.isnull() | p.isnan() | p.isinf()))
        if COL_TRUE in cols:
            reasons.append((f"an infinite {COL_TRUE}", y.isinf().fill_null(False)))

    # segments as text, features as numbers or text
    numeric_features = set()
    for c in cols:
        typ = schema[c]
        if c.startswith(SEGMENT_PREFIX):
            seg = t[c]
            if typ.is_floating():  # whole numbers written without ".0", as the pandas reader
                seg = (seg.floor() == seg).ifelse(seg.cast("int64").cast("string"),
                                                   seg.cast("string"))
            out[c] = seg.cast("string").fill_null(MISSING)
        elif c.startswith(FEATURE_PREFIX):
            if typ.is_boolean() or typ.is_numeric():
                f = t[c].cast("float64")
                out[c] = f.isinf().ifelse(ibis.null("float64"), f)
                numeric_features.add(c)
            else:
                out[c] = t[c].cast("string")

    # a hive partition "month" (monitoring/month=2026-01/…) travels with the rows: when it is
    # each row's UTC month (``parquet_rows`` checks), monthly windows are numbered from it
    partition_month = not evaluation and MONTH_PARTITION in cols and \
        schema[MONTH_PARTITION].is_string()
    if partition_month:
        out[COL_MONTH] = t[MONTH_PARTITION]
    # an evaluation table's times, when stored as times (the model card's period)
    if evaluation and COL_TIME in cols and (schema[COL_TIME].is_timestamp()
                                            or schema[COL_TIME].is_date()):
        typ = schema[COL_TIME]
        out[COL_TIME] = t[COL_TIME].cast(typ if typ.is_timestamp() and typ.timezone
                                         else dt.Timestamp(timezone="UTC"))
    # the rows' places in their files (``parquet_rows``): an evaluation file's positions pair
    # two versions' rows; samples hash them (``Rows.positions``)
    if positions and ROW_NUMBER in cols:
        out[COL_ROW] = t[ROW_NUMBER]
    if positions and not evaluation and FILE_NAME in cols:
        out[COL_FILE] = t[FILE_NAME]

    # one pass: rows left out, and why (each row counted under its first reason)
    # (each reason is a test that is never null: a null operand is itself a reason, tested
    # first, and SQL's "TRUE OR NULL" is TRUE; no COALESCE per row, which costs 0.5 s at 100M)
    drop = ibis.literal(False)
    for _, bad in reasons:
        drop = drop | bad
    shaped = t.mutate(**{"__drop": drop}).select("__drop", **out)
    first_reason = ibis.cases(*[(bad, why) for why, bad in reasons],
                              else_=None) if reasons else ibis.null("string")
    rows = Rows(shaped, where, name, evaluation, (), frozenset(numeric_features),
                t.get_backend())
    # (binary) the range of the scores kept comes with the same pass
    extra = {"lo": out[COL_SCORE].min(), "hi": out[COL_SCORE].max()} \
        if model.task == "binary" else {}
    # (binary, numeric labels) whether every label is 0 or 1, and which: the labels' check
    # then needs no scan of its own (the common case; other labels are found by a query)
    number_labels = model.task == "binary" and COL_TRUE in cols and \
        schema[COL_TRUE].is_numeric()
    if number_labels:  # rows labelled, labelled 0, labelled 1 (NaN equals neither)
        extra.update(y_n=truth.count(), y_0=(t[COL_TRUE] == 0).cast("int64").sum(),
                     y_1=(t[COL_TRUE] == 1).cast("int64").sum())
    days = None
    if evaluation:
        summary = rows.execute(t.mutate(why=first_reason).group_by("why").aggregate(
            n=ibis._.count(), **extra))
    elif months and schema[COL_TIME].is_timestamp():
        # the same pass counts the kept rows per version and month (no time is missing, so
        # the first reason, a time that cannot be read, is never true and no time is read)
        per, days = _month_counts(t, rows, months, [r for r in reasons if r[0] != no_time],
                                  out, extra)
        summary = per.groupby("why", dropna=False, as_index=False).agg(
            n=("n", "sum"), **({"lo": ("lo", "min"), "hi": ("hi", "max")} if extra else {}),
            **({k: (k, "sum") for k in ("y_n", "y_0", "y_1")} if number_labels else {}))
    else:  # the same pass counts the kept rows per version and UTC day (Rows.days)
        g = t.mutate(why=first_reason, __version=out[COL_VERSION],
                     __day=day_number(rows.backend, out[COL_TIME]),
                     __labelled=out[COL_TRUE].notnull().cast("int64"), __time=out[COL_TIME])
        per = _labelled(rows.execute(g.group_by(["why", "__version", "__day"]).aggregate(
            n=g.count(), first=g["__time"].min(), last=g["__time"].max(),
            **_with_labelled(g, extra))))
        kept_days = per.loc[per["why"].isna()]
        days = pd.DataFrame({COL_VERSION: kept_days["__version"].astype("int64"),
                             "day": kept_days["__day"].astype("int64"),
                             "rows": kept_days["n"].astype("int64"),
                             "labelled": kept_days["labelled"].fillna(0).astype("int64"),
                             "first": kept_days["first"], "last": kept_days["last"]})
        summary = per.groupby("why", dropna=False, as_index=False).agg(
            n=("n", "sum"), **({"lo": ("lo", "min"), "hi": ("hi", "max")} if extra else {}),
            **({k: (k, "sum") for k in ("y_n", "y_0", "y_1")} if number_labels else {}))
    n_read = int(summary["n"].sum())
    if n_read == 0:
        fail("", "has no rows")
    left_out = summary.dropna(subset=["why"])
    notes = []
    if len(left_out):
        order = {why: i for i, (why, _) in enumerate(reasons)}
        left_out = left_out.assign(o=left_out["why"].map(order)).sort_values("o")
        text = "; ".join(f"{int(r.n):,} with {r.why}" for r in left_out.itertuples())
        if int(left_out["n"].sum()) == n_read:
            fail(str(left_out["why"].iloc[0]).split()[-1], "no row is usable: " + text)
        notes.append(f"{where}: {int(left_out['n'].sum()):,} of {n_read:,} rows left out "
                     f"({text}).")
    if evaluation and schema.get(COL_TRUE) is not None and schema[COL_TRUE].is_string() \
            and model.task == "regression":
        fail(COL_TRUE, "must hold numbers")
    # every row usable (the common case): no per-row test of the reasons in later queries
    kept = shaped.filter(~shaped["__drop"]).drop("__drop") if len(left_out) else \
        t.select(**out)
    if model.task == "binary":
        usable = summary.loc[summary["why"].isna()]
        lo, hi = (usable["lo"].iloc[0], usable["hi"].iloc[0]) if len(usable) else (None, None)
        every = t.filter(truth.notnull()).select(**{COL_TRUE: truth}) \
            if COL_TRUE in cols else None
        known = None
        n_0, n_1 = (int(summary[k].fillna(0).sum()) for k in ("y_0", "y_1")) \
            if number_labels else (0, 0)
        if number_labels and int(summary["y_n"].fillna(0).sum()) == n_0 + n_1:
            known = [v for v, n in ((0, n_0), (1, n_1)) if n]
            if schema[COL_TRUE].is_floating():
                known = [float(v) for v in known]
        kept = _binary_checks(rows, kept, model, lo, hi, fail, every, known)
    return replace(rows, table=kept, notes=tuple(notes), days=days,
                   days_monthly=days is not None and bool(months) and
                   schema[COL_TIME].is_timestamp())


def _with_labelled(g, extra: dict) -> dict:
    """``extra`` and the count of labelled rows, unless ``extra`` counts them already (the
    labels' check of a yes/no model's numeric labels: ``y_n``, the same count)."""
    return extra if "y_n" in extra else {**extra, "labelled": g["__labelled"].sum()}


def _labelled(per: pd.DataFrame) -> pd.DataFrame:
    return per.assign(labelled=per["y_n"]) if "labelled" not in per else per


def _month_counts(t, rows: Rows, months: tuple[str, ...], reasons, out: dict, extra: dict):
    """``check``'s pass over production rows in month partitions: (rows per reason, version
    and month, with ``extra``'s aggregates; ``Rows.days`` per version and month, each month
    standing as its first day). One aggregate per partition, stacked, reading no time (at
    100M rows in 12 months 1.7 s against 3.1 s per day). Each version's first and last time
    come from a second query that reads the times of only the months where some version
    starts or ends (0.2 s); other months' first and last are left missing."""
    import datetime

    import ibis
    why = ibis.cases(*[(bad, w) for w, bad in reasons], else_=None) if reasons \
        else ibis.null("string")
    g = t.mutate(why=why, __version=out[COL_VERSION],
                 __labelled=out[COL_TRUE].notnull().cast("int64"))
    parts = []
    for m in months:
        p = g.filter(g[MONTH_PARTITION] == m)
        day = datetime.date(int(m[:4]), int(m[5:7]), 1).toordinal() - 1
        parts.append(p.group_by(["why", "__version"]).aggregate(
            n=p.count(), **_with_labelled(p, extra))
            .mutate(__day=ibis.literal(day, "int64"), __part=ibis.literal(m)))
    per = _labelled(rows.execute(parts[0].union(*parts[1:], distinct=False)
                                 if len(parts) > 1 else parts[0]))
    kept = per.loc[per["why"].isna()]
    days = pd.DataFrame({COL_VERSION: kept["__version"].astype("int64"),
                         "day": kept["__day"].astype("int64"),
                         "rows": kept["n"].astype("int64"),
                         "labelled": kept["labelled"].fillna(0).astype("int64"),
                         "first": pd.NaT, "last": pd.NaT, "part": kept["__part"]})
    if len(days):
        ends = days.groupby(COL_VERSION)["day"].agg(["min", "max"])
        wanted = sorted(set(days.loc[days["day"].isin(set(ends["min"]) | set(ends["max"])),
                                     "part"]))
        left_out = per["why"].notna().any()
        ends_of = []
        for m in wanted:  # per partition, as above (a month grouped as text costs twice)
            k = g.filter((g[MONTH_PARTITION] == m) & g["why"].isnull()) if left_out \
                else t.filter(t[MONTH_PARTITION] == m)
            k = k.mutate(__version=out[COL_VERSION], __time=out[COL_TIME])
            ends_of.append(k.group_by("__version").aggregate(
                first=k["__time"].min(), last=k["__time"].max()).mutate(
                __part=ibis.literal(m)))
        times = rows.execute(ends_of[0].union(*ends_of[1:], distinct=False)
                             if len(ends_of) > 1 else ends_of[0])
        at = {(int(v), m): (f, la) for v, f, la, m in times[
            ["__version", "first", "last", "__part"]].itertuples(index=False)}
        ends_at = [at.get((int(v), part), (pd.NaT, pd.NaT))
                   for v, part in zip(days[COL_VERSION], days["part"])]
        days["first"] = [f for f, _ in ends_at]
        days["last"] = [la for _, la in ends_at]
    return per.drop(columns=["__day", "__part"]), days.drop(columns="part")


def _class_text(truth, typ):
    """Class labels as the text ``multiclass_labels`` compares them by (``str(value)``)."""
    if typ is not None and typ.is_floating():
        return (truth.floor() == truth).ifelse(truth.cast("int64").cast("string") + ".0",
                                               truth.cast("string"))
    return truth.cast("string")


def _binary_checks(rows: Rows, kept, model: Model, lo, hi, fail, every=None, known=None):
    """The scores' range (``lo``, ``hi``) and the labels (one small query). ``every``: the
    labels of every row, rows left out included, whose distinct values one quick scan of a
    single column finds; when they pass the rule, so do the kept rows' (fewer labels, the
    same positive class). Otherwise the kept rows' labels decide, as the rule is written.
    ``known``: those distinct labels when the check's own pass found them (numbers that are
    all 0 or 1), so that no scan is needed."""
    import ibis
    if lo is not None and hi is not None and (lo < 0 or hi > 1):
        fail(COL_SCORE, "must hold probabilities between 0 and 1 "
                        f"(found {lo:.3g} to {hi:.3g})")
    labels = target = None
    if known is not None:
        target = check_binary_labels(known, model, fail)  # 0 and 1: at most two
        labels = known
    elif every is not None:
        wide = rows.execute(every.distinct().limit(64))[COL_TRUE]
        try:
            target = check_binary_labels(wide, model, fail)
            labels = wide
        except RegistryError:
            pass
    if labels is None:
        labels = rows.execute(kept.filter(kept[COL_TRUE].notnull()).select(COL_TRUE)
                              .distinct().limit(64))[COL_TRUE]
        target = check_binary_labels(labels, model, fail)
    positives = [v for v in labels if label_key(v) == target]
    y = kept[COL_TRUE]
    if not positives:
        return kept.mutate(**{COL_POS: y.isnull().ifelse(None, ibis.literal(0.0))})
    pos = y == ibis.literal(positives[0])
    for v in positives[1:]:
        pos = pos | (y == ibis.literal(v))
    # null without a label: a comparison with a missing label is itself missing (SQL)
    return kept.mutate(**{COL_POS: pos.cast("float64")})


def with_positive(rows: Rows, positive_label: str | None) -> Rows:
    """Binary rows from a prepared frame: add ``y_pos`` (1.0 positive, 0.0 negative, null
    without a label), comparing labels as ``registry.tables.positive_mask`` does (numbers and
    booleans directly; text through its distinct values, one query)."""
    import ibis
    if rows.has(COL_POS) or not rows.has(COL_TRUE):
        return rows
    t = rows.table
    target = label_key(positive_label if positive_label is not None else 1)
    kind = t[COL_TRUE].type()
    if kind.is_boolean():  # as positive_mask compares booleans: no query needed
        pos = (t[COL_TRUE] == (target == "1")) if target in ("0", "1") else \
            ibis.literal(False)
    elif kind.is_numeric():  # numbers: equal to the target as a number (positive_mask)
        try:
            pos = t[COL_TRUE] == float(target)
        except ValueError:
            pos = ibis.literal(False)
    else:  # text: the distinct labels, each compared as positive_mask compares it
        labels = rows.execute(t.filter(t[COL_TRUE].notnull()).select(COL_TRUE).distinct()
                              .limit(64))[COL_TRUE]
        pos = ibis.literal(False)
        for v in labels:
            if label_key(v) == target:
                pos = pos | (t[COL_TRUE] == ibis.literal(v))
    y_pos = t[COL_TRUE].isnull().ifelse(ibis.null("float64"), pos.cast("float64"))
    return replace(rows, table=t.mutate(**{COL_POS: y_pos}))


# ------------------------------------------------------------------ opening a table
def parquet_rows(files: list[Path], rel: str, model: Model, evaluation: bool,
                 partitioned: bool = False) -> Rows:
    """Parquet files (one table, or the parts of one; ``partitioned``: hive-style folder
    names such as ``month=2026-01`` become columns) read in place by DuckDB and checked by
    it. Only the parts' footers are read here; a query reads only the columns it uses."""
    con = duckdb()
    # each row's place: an evaluation file's positions (which pair two versions' rows), a
    # production table's file and position (which its samples hash)
    places = {ROW_NUMBER: True} if evaluation and len(files) == 1 else \
        {} if evaluation else {ROW_NUMBER: True, FILE_NAME: True}
    t = None
    for options in (places, {}) if places else ({},):
        try:
            t = con.read_parquet([str(f) for f in files], hive_partitioning=partitioned,
                                 union_by_name=True, **options)
            break
        except Exception as e:
            if options:  # e.g. the files have a column of that name: read without places
                continue
            raise RegistryError(Problem(rel, "", f"cannot be read as Parquet "
                                        f"({type(e).__name__}: {str(e)[:300]})",
                                        model=model.name)) from None
    schema = t.schema()
    months, complete, n = _months_hold(con, files, schema.get(COL_TIME)) \
        if partitioned and not evaluation and MONTH_PARTITION in schema.names and \
        schema[MONTH_PARTITION].is_string() else (None, False, 0)
    stack = bool(months) and len(months) <= STACK_MAX_MONTHS and \
        n >= STACK_MIN_ROWS * len(months)
    rows = check(t, model, rel, evaluation, positions=bool(options),
                 months=months if stack and complete else ())
    if evaluation and rows.has(COL_ROW):
        rows = replace(rows, row_numbers=COL_ROW, positions=(COL_ROW,))
    elif not evaluation and rows.has(COL_ROW) and rows.has(COL_FILE):
        rows = replace(rows, positions=(COL_FILE, COL_ROW))
    if months and rows.has(COL_MONTH):
        rows = replace(rows, months=COL_MONTH, stack_months=stack)
    return rows


def _months_hold(con, files: list[Path], time_type
                 ) -> tuple[tuple[str, ...] | None, bool, int]:
    """(the months, in order, when every part sits under a ``month=YYYY-MM`` folder that is
    the UTC month of all its times, else None; whether no time is missing; how many rows),
    by the parts' own statistics (each row group's smallest and largest time, count of
    missing times and rows, in the footers: nothing else is read). Any part without them,
    or times kept as text: (None, False, 0)."""
    import datetime
    no = (None, False, 0)
    if time_type is None or not time_type.is_timestamp():
        return no
    folder_month = {}
    for f in files:
        names = [x.split("=", 1)[1] for x in Path(f).parts[:-1] if x.startswith("month=")]
        if len(names) != 1 or len(names[0]) != 7:
            return no
        folder_month[str(f)] = names[0]
    try:
        stats = con.raw_sql(
            "SELECT file_name, stats_min, stats_max, row_group_num_rows, stats_null_count "
            "FROM parquet_metadata(?) WHERE path_in_schema = ?",
            parameters=[[str(f) for f in files], COL_TIME]).fetchall()
    except Exception:
        return no
    complete, total = True, 0
    for name, lo, hi, n, nulls in stats:
        month = folder_month.get(name)
        if month is None:
            return no
        if not n:
            continue
        total += n
        complete = complete and nulls == 0
        if lo is None or hi is None:
            return no
        for text in (lo, hi):
            try:
                ts = datetime.datetime.fromisoformat(str(text))
            except ValueError:
                return no
            if ts.tzinfo is not None:
                ts = ts.astimezone(datetime.timezone.utc)
            elif time_type.timezone is not None:  # a zone-aware column's naive statistics
                return no
            if ts.strftime("%Y-%m") != month:
                return no
    return (tuple(sorted(set(folder_month.values()))), complete, total) if stats else no


def external_rows(connection_name: str, table: str, model: Model, evaluation: bool,
                  where: str, connection_field: str | None = None) -> Rows:
    """A table in an external engine (``where`` names the registry file or entity that names
    it; ``connection_field`` the field or tag that names its connection, in messages: by
    default the folder format's ``evaluation_table.connection`` or
    ``production_table.connection``)."""
    backend = connection(connection_name, where, model.name, connection_field or (
        ("evaluation_table" if evaluation else "production_table") + ".connection"))
    label = f"{table} (connection {connection_name!r})"
    try:
        parts = table.split(".")
        t = backend.table(parts[-1], database=tuple(parts[:-1]) or None) if len(parts) > 1 \
            else backend.table(table)
    except Exception as e:
        raise RegistryError(Problem(label, "", f"cannot be opened "
                                    f"({type(e).__name__}: {str(e)[:300]})",
                                    model=model.name)) from None
    return check(t, model, label, evaluation)


def engine_evaluation(connection_name: str, table: str, model: Model, version: int,
                      where: str, field: str, limit: int,
                      connection_field: str | None = None) -> Evaluation:
    """A version's "test" rows kept in an external engine (version.json's
    ``evaluation_table``, an MLflow version's tag ``modeldeck.evaluation_table``), read from
    it for the pages that still work on rows in memory: at most ``limit`` rows (every source
    passes ``registry.folder.ENGINE_MIN_ROWS``, i.e. ``MODELDECK_ENGINE_MIN_ROWS``), else a
    RegistryError naming ``where`` and ``field``. The engine checks them as it checks any
    table it keeps, then the pandas rules apply as to a file."""
    rows = external_rows(connection_name, table, model, evaluation=True, where=where,
                         connection_field=connection_field)
    n = int(rows.execute(rows.table.count()))
    if n > limit:
        raise RegistryError(Problem(where, field, f"names a table of {n:,} rows; the pages "
                                    "that work on rows in memory read at most "
                                    f"{limit:,} evaluation rows into memory (the pages that "
                                    "query rows where they lie, such as monitoring, take "
                                    "any number)", model=model.name))
    frame = rows.execute(rows.table).drop(columns=[COL_POS], errors="ignore")
    frame, notes = prepare_predictions(frame, model, f"{table} (connection "
                                       f"{connection_name!r})", True)
    return Evaluation(model=model.name, version=version, split="test", frame=frame,
                      notes=tuple(rows.notes) + tuple(notes))
