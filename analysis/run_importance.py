"""Which params matter for a metric: cross-fitted permutation importance of a random forest
that predicts the metric from the params, beside Spearman's rank correlation, ranked only
when the runs can tell it from noise, and said in one sentence."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import RandomForestRegressor
from sklearn.inspection import permutation_importance
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

from .run_selection import short_name
from .run_table import cell_text, is_missing


# ------------------------------------------------------------------ importance
@dataclass(frozen=True)
class Importance:
    """Which params matter for a metric, over a set of runs."""

    metric: str
    #: param, importance, importance_std, low, high (its range over the folds), clear, why
    #: (not clear: the reason), spearman, spearman_p, values; ``clear`` params first, each
    #: part by importance
    table: pd.DataFrame
    constant: tuple[str, ...]  # params with one value in every run (cannot matter here)
    runs: int
    r2: float  # cross-validated R² of the forest: how much the params explain at all
    sentence: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ranked(self) -> pd.DataFrame:
        """The params whose importance can be told from noise, most important first: the
        only ones shown as a ranking."""
        if self.table.empty:
            return self.table
        return self.table.loc[self.table["clear"].astype(bool)]

    @property
    def noise_note(self) -> str:
        """What the params that cannot be told from noise (and negative importances) mean."""
        t = self.table
        if t.empty:
            return ""
        out = []
        for why, part in t.loc[~t["clear"].astype(bool)].groupby("why", sort=False):
            out.append(f"Not ranked ({why}), so these {self.runs} runs cannot tell their "
                       f"effect from noise: {', '.join(part['param'])}.")
        if (t["importance"] < 0).any():
            out.append("A negative importance means the forest happened to predict the held-out "
                       "runs slightly better with that parameter shuffled: chance, to be read as "
                       "no measurable effect, never as a harmful one.")
        return " ".join(out)


MIN_RUNS_IMPORTANCE = 10
#: folds needed before any param is ranked: all of 5 folds above zero by chance is 1 in 32
MIN_FOLDS_RANK = 5
#: cross-validated R² the forest needs before any param is ranked: below it the params
#: together explain too little of the metric for one of them to matter
MIN_R2_IMPORTANCE = 0.1


def param_matrix(sub: pd.DataFrame, params) -> pd.DataFrame:
    """Params as numbers for a model: numbers stay, text becomes codes in sorted order."""
    out = {}
    for col in params:
        s = sub[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[col] = s.to_numpy(dtype=float, na_value=np.nan)
        else:
            text = s.map(lambda v: "(none)" if is_missing(v) else cell_text(v))
            cats = sorted(text.unique())
            out[col] = text.map({c: i for i, c in enumerate(cats)}).to_numpy(dtype=float)
    return pd.DataFrame(out, index=sub.index)


def parameter_importance(sub: pd.DataFrame, params, metric: str, seed: int = 0,
                         n_estimators: int = 100, n_repeats: int = 5, folds: int = 5,
                         max_runs: int = 2000) -> Importance:
    """Permutation importance of a random forest that predicts ``metric`` from the params,
    cross-fitted: in each of ``folds`` folds the forest is trained on the other runs and each
    param is shuffled in the held-out runs; importance is the mean drop in R² (with its
    standard deviation over folds and repeats). Beside it, Spearman's rank correlation of each
    numeric param with the metric. Params with one value everywhere are listed as constant.

    ``low``/``high`` is the range of the importance over the ``k`` folds (each fold's mean
    over its repeats), each fold measured on runs its forest did not see. A param is
    ``clear`` (ranked) only when the forest explains something (cross-validated R² above
    ``MIN_R2_IMPORTANCE``), there are at least ``MIN_FOLDS_RANK`` folds, and it is above
    zero in every fold: were the param without effect, each fold's value would be as
    likely below zero as above, so all five above has a chance of 1 in 32 (a sign test,
    p ≈ 0.03); the range of five folds is a distribution-free 94% interval of the median
    fold importance. Fold values are skewed (one fold often dominates), so a t interval of
    their mean would be wrong here. With few runs nothing is clear, and the sentence says
    so.
    """
    name = short_name(metric)
    data = sub.loc[sub[metric].notna()].sort_values("run_id", kind="stable")  # order-free
    notes = []
    if len(data) > max_runs:
        data = data.sample(max_runs, random_state=seed).sort_index()
        notes.append(f"Computed on a random {max_runs:,} of the {len(sub):,} runs.")
    varying = [c for c in params if data[c].astype(object).fillna("\0").nunique() > 1]
    constant = tuple(short_name(c) for c in params if c not in varying)
    empty = pd.DataFrame(columns=["param", "importance", "importance_std", "low", "high",
                                  "clear", "why", "spearman", "spearman_p", "values"])
    if len(data) < MIN_RUNS_IMPORTANCE or not varying:
        why = (f"needs at least {MIN_RUNS_IMPORTANCE} runs with {name}" if len(data) <
               MIN_RUNS_IMPORTANCE else "no parameter differs between these runs")
        return Importance(metric, empty, constant, len(data), float("nan"),
                          f"Parameter importance {why}.", tuple(notes))
    X = param_matrix(data, varying).to_numpy()
    y = data[metric].to_numpy(dtype=float)
    k = min(folds, len(data) // 4)
    scores = np.zeros((len(varying), 0))
    fold_means = []
    predicted = np.empty_like(y)
    for train, test in KFold(k, shuffle=True, random_state=seed).split(X):
        forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=1)
        forest.fit(X[train], y[train])
        predicted[test] = forest.predict(X[test])
        result = permutation_importance(forest, X[test], y[test], scoring="r2",
                                        n_repeats=n_repeats, random_state=seed, n_jobs=1)
        scores = np.hstack([scores, result.importances])
        fold_means.append(result.importances.mean(axis=1))
    r2 = float(r2_score(y, predicted))
    low, high = importance_range(np.array(fold_means).T)
    if not np.isfinite(r2) or r2 <= MIN_R2_IMPORTANCE:
        blocked = "the parameters together explain too little of the metric"
    elif len(fold_means) < MIN_FOLDS_RANK:
        blocked = f"too few runs for {MIN_FOLDS_RANK} folds"
    else:
        blocked = ""
    rows = []
    for i, col in enumerate(varying):
        rho, p = np.nan, np.nan
        if pd.api.types.is_numeric_dtype(data[col]) and not pd.api.types.is_bool_dtype(data[col]):
            ok = ~np.isnan(X[:, i])
            if ok.sum() > 2 and np.unique(X[ok, i]).size > 1:
                res = stats.spearmanr(X[ok, i], y[ok])
                rho, p = float(res.statistic), float(res.pvalue)
        rows.append((short_name(col), float(scores[i].mean()), float(scores[i].std()),
                     float(low[i]), float(high[i]), bool(not blocked and low[i] > 0),
                     blocked or ("" if low[i] > 0 else "not above zero in every fold"), rho, p,
                     int(data[col].astype(object).fillna("\0").nunique())))
    table = pd.DataFrame(rows, columns=empty.columns).sort_values(
        ["clear", "importance"], ascending=False, kind="stable").reset_index(drop=True)
    return Importance(metric, table, constant, len(data), r2,
                      importance_sentence(name, table, r2, len(data)), tuple(notes))


def importance_range(fold_means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest of each row of ``fold_means`` (params × folds)."""
    return fold_means.min(axis=1), fold_means.max(axis=1)


def importance_sentence(metric: str, table: pd.DataFrame, r2: float, runs: int) -> str:
    """One sentence a manager can repeat about what drives the metric."""
    if table.empty:
        return f"No parameter could be related to {metric}."
    top = table.iloc[0]
    if not np.isfinite(r2) or r2 <= MIN_R2_IMPORTANCE:
        return (f"Across these {runs} runs the parameters explain little of {metric} "
                f"(cross-validated R² {r2:.2f}), so no parameter can be said to matter.")
    if not bool(top["clear"]) and str(top["why"]).startswith("too few runs"):
        return (f"These {runs} runs are too few to tell any parameter's effect on {metric} "
                f"from noise: ranking needs {MIN_FOLDS_RANK} folds of at least 4 runs, so "
                f"at least {4 * MIN_FOLDS_RANK} runs with {metric}. None is ranked.")
    if not bool(top["clear"]):
        return (f"These {runs} runs are too few to tell any parameter's effect on {metric} "
                "from noise: no parameter made the forest's predictions worse when shuffled "
                f"in every one of the {MIN_FOLDS_RANK} folds of runs, so none is ranked. More "
                "runs, or runs that vary one parameter at a time, would tell.")
    d = 2  # enough decimals that the lowest fold value, above zero, never shows as 0
    while d < 6 and round(float(top["low"]), d) == 0:
        d += 1
    return (f"Across these {runs} runs, {top['param']} matters most for {metric}: shuffling it "
            f"costs the forest {top['importance']:.{d}f} of R² ({top['low']:.{d}f} to "
            f"{top['high']:.{d}f} across the folds; the parameters together explain "
            f"{max(0.0, r2):.0%} of its variation).")
