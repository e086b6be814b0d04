"""Build the sample registry bundled with ModelDeck (``data/sample-registry/``).

Every number in the sample comes from a scikit-learn model that this script really trains;
nothing is typed in by hand. Three models use datasets that ship with scikit-learn
(breast cancer, digits, diabetes); the customer-churn model, its monitoring year and its
hyper-parameter sweep use synthetic data generated below with a fixed seed.

    python data/build_sample.py               # rebuilds data/sample-registry/
    python data/build_sample.py --out /tmp/x  # writes somewhere else

The output is deterministic: fixed seeds, single-threaded fits, fixed timestamps and run ids,
so running it twice on the same library versions gives the same numbers. It writes only through
the public writer API in ``registry/writer.py``.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.ensemble import (
    GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import (
    average_precision_score, log_loss, mean_absolute_error, roc_auc_score,
)
from sklearn.model_selection import (
    KFold, StratifiedKFold, cross_val_predict, cross_validate, train_test_split,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project's ``registry`` importable
    sys.path.insert(0, str(ROOT))

from registry.model import BusinessSettings  # noqa: E402
from registry.writer import (  # noqa: E402
    log_experiment, log_folds, log_model, log_model_version, log_monitoring, log_run, log_stress,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "sample-registry"
SEED = 20250101
UTC = timezone.utc

# Churn story: the champion must lose at least this much ROC AUC in the drift months.
MIN_DRIFT_AUC_DROP = 0.05


def _t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _params(estimator, keys, **extra) -> dict:
    """The named hyper-parameters as the fitted estimator really has them."""
    p = estimator.get_params()
    return {**{k: p[k] for k in keys}, **extra}


def _cv(estimator, X, y, cv, scoring: dict) -> dict:
    """Mean cross-validated scores on the training set (sklearn's neg_* scorers flipped)."""
    res = cross_validate(estimator, X, y, cv=cv, scoring=scoring, n_jobs=1)
    out = {}
    for name, scorer in scoring.items():
        v = float(np.mean(res[f"test_{name}"]))
        out[name] = -v if scorer.startswith("neg_") else v
    return out


def _folds(estimator, X, y, cv) -> list[dict]:
    """Each cross-validation fold's held-out training rows with the scores of the model
    trained on the other folds (scikit-learn's cross_val_predict, same folds as ``_cv``)."""
    score = cross_val_predict(estimator, X, y, cv=cv, method="predict_proba", n_jobs=1)[:, 1]
    return [{"y_true": y[held], "y_score": score[held]} for _, held in cv.split(X, y)]


def _roles(n: int) -> list[tuple[list[str], str]]:
    """Aliases and stage per version: the newest is the challenger, the one before it the
    champion, all older ones are archived."""
    out = [([], "Archived")] * (n - 2)
    return out + [(["champion"], "Production"), (["challenger"], "Staging")]


# ---------------------------------------------------------------------------- breast cancer
def _breast_cancer(out: Path) -> None:
    data = load_breast_cancer(as_frame=True)
    X = data.data
    y = (1 - data.target).to_numpy()  # sklearn: 0 = malignant; here 1 = malignant (positive)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=SEED)
    feature_cols = {"mean_radius": "mean radius", "mean_texture": "mean texture",
                    "mean_smoothness": "mean smoothness",
                    "mean_concave_points": "mean concave points",
                    "worst_area": "worst area", "worst_concavity": "worst concavity"}
    features = {k: X_te[v].to_numpy() for k, v in feature_cols.items()}
    size = np.where(X_te["mean radius"] < 12, "small",
                    np.where(X_te["mean radius"] < 15, "medium", "large"))

    log_model(out, "breast-cancer", task="binary",
              description="Flags breast tumours as malignant from 30 measurements of cell "
                          "nuclei in a fine-needle aspirate image (Wisconsin diagnostic breast "
                          "cancer data, 569 patients, bundled with scikit-learn). Positive "
                          "class 1 = malignant.",
              owner="clinical-analytics", entity="patient", positive_label="1",
              tags={"domain": "healthcare", "dataset": "sklearn.datasets.load_breast_cancer"})

    cv = StratifiedKFold(5, shuffle=True, random_state=SEED)
    scoring = {"cv_roc_auc": "roc_auc", "cv_accuracy": "accuracy"}
    lr = Pipeline([("scale", StandardScaler()),
                   ("model", LogisticRegression(C=1.0, max_iter=1000))])
    rf = RandomForestClassifier(n_estimators=300, min_samples_leaf=2, max_features="sqrt",
                                random_state=SEED, n_jobs=1)
    gb = GradientBoostingClassifier(n_estimators=200, learning_rate=0.05, max_depth=3,
                                    subsample=0.8, random_state=SEED)
    versions = [
        (lr, "LogisticRegression", ["C", "l1_ratio", "solver", "max_iter"],
         {"scaling": "StandardScaler"}, _t(2025, 2, 10, 9, 30),
         "Baseline: logistic regression on all 30 standardised measurements."),
        (rf, "RandomForestClassifier",
         ["n_estimators", "max_depth", "min_samples_leaf", "max_features"], {},
         _t(2025, 6, 18, 14, 5),
         "Random forest of 300 trees; captures non-linear effects of size and shape."),
        (gb, "GradientBoostingClassifier",
         ["n_estimators", "learning_rate", "max_depth", "subsample"], {},
         _t(2026, 3, 5, 11, 0),
         "Gradient boosting (200 shallow trees, learning rate 0.05, 80% row subsampling)."),
    ]
    for (est, algo, keys, extra, created, desc), (aliases, stage) in zip(versions,
                                                                         _roles(len(versions))):
        metrics = _cv(est, X_tr, y_tr, cv, scoring)
        est.fit(X_tr, y_tr)
        final = est[-1] if isinstance(est, Pipeline) else est
        v = log_model_version(out, "breast-cancer", y_true=y_te,
                              y_score=est.predict_proba(X_te)[:, 1],
                              segments={"tumour_size": size}, features=features,
                              params=_params(final, keys, **extra), metrics=metrics,
                              algorithm=algo, aliases=aliases, stage=stage, description=desc,
                              created_at=created)
        if "champion" in aliases:
            # Validation evidence: the 5 folds of the training rows, and the test rows with
            # measurement noise (half of each measurement's spread in training).
            log_folds(out, "breast-cancer", v.version, _folds(est, X_tr, y_tr, cv))
            spread = X_tr.std().to_numpy()
            noise = np.random.default_rng(SEED).normal(0, 0.5, X_te.shape) * spread
            log_stress(out, "breast-cancer", v.version, "stress-noise",
                       "with noise of half of each measurement's spread added",
                       y_true=y_te, y_score=est.predict_proba(X_te + noise)[:, 1])


# ---------------------------------------------------------------------------- digits
def _digits(out: Path) -> None:
    data = load_digits()
    X, y = data.data, data.target
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=SEED)
    classes = list(range(10))

    log_model(out, "digits", task="multiclass",
              description="Reads handwritten digits 0-9 from 8x8 greyscale scans (1,797 "
                          "images from the UCI optical digits set, bundled with scikit-learn).",
              owner="document-processing", entity="handwritten digit",
              tags={"domain": "document processing", "dataset": "sklearn.datasets.load_digits"})

    cv = StratifiedKFold(5, shuffle=True, random_state=SEED)
    scoring = {"cv_accuracy": "accuracy", "cv_log_loss": "neg_log_loss"}
    nb = GaussianNB()
    lr = Pipeline([("scale", StandardScaler()),
                   ("model", LogisticRegression(C=0.1, max_iter=2000))])
    rf = RandomForestClassifier(n_estimators=300, max_features="sqrt", min_samples_leaf=1,
                                random_state=SEED, n_jobs=1)
    versions = [
        (nb, "GaussianNB", ["var_smoothing"], {}, _t(2025, 1, 20, 10, 0),
         "Baseline: Gaussian naive Bayes on the 64 pixel intensities."),
        (lr, "LogisticRegression", ["C", "l1_ratio", "solver", "max_iter"],
         {"scaling": "StandardScaler"}, _t(2025, 8, 12, 16, 45),
         "Multinomial logistic regression on standardised pixels (C = 0.1)."),
        (rf, "RandomForestClassifier",
         ["n_estimators", "max_depth", "min_samples_leaf", "max_features"], {},
         _t(2026, 5, 27, 8, 15),
         "Random forest of 300 trees on the raw pixels."),
    ]
    ink = X_te.sum(axis=1)
    for (est, algo, keys, extra, created, desc), (aliases, stage) in zip(versions,
                                                                         _roles(len(versions))):
        metrics = _cv(est, X_tr, y_tr, cv, scoring)
        est.fit(X_tr, y_tr)
        proba = est.predict_proba(X_te)
        assert list(est.classes_) == classes
        final = est[-1] if isinstance(est, Pipeline) else est
        log_model_version(out, "digits", y_true=y_te, proba=proba, classes=classes,
                          y_pred=est.classes_[proba.argmax(axis=1)],
                          features={"ink": ink}, params=_params(final, keys, **extra),
                          metrics=metrics, algorithm=algo, aliases=aliases, stage=stage,
                          description=desc, created_at=created)


# ---------------------------------------------------------------------------- diabetes
def _diabetes(out: Path) -> None:
    data = load_diabetes(as_frame=True, scaled=False)
    X, y = data.data, data.target.to_numpy()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=SEED)
    features = {c: X_te[c].to_numpy() for c in ("age", "bmi", "bp", "s1", "s3", "s5")}
    # The dataset codes sex as 1/2 without saying which is which: keep two plain groups.
    sex = np.where(X_te["sex"].to_numpy() == 1, "group 1", "group 2")

    log_model(out, "diabetes-progression", task="regression",
              description="Predicts disease progression one year after baseline for diabetes "
                          "patients from age, sex, BMI, blood pressure and six blood serum "
                          "measurements (442 patients, bundled with scikit-learn). The target "
                          "is a quantitative progression score.",
              owner="clinical-analytics", entity="patient", target_unit="points",
              tags={"domain": "healthcare", "dataset": "sklearn.datasets.load_diabetes"})

    cv = KFold(5, shuffle=True, random_state=SEED)
    scoring = {"cv_rmse": "neg_root_mean_squared_error", "cv_r2": "r2"}
    ols = LinearRegression()
    ridge = Pipeline([("scale", StandardScaler()), ("model", Ridge(alpha=10.0))])
    gbr = GradientBoostingRegressor(n_estimators=150, learning_rate=0.05, max_depth=2,
                                    subsample=0.8, random_state=SEED)
    versions = [
        (ols, "LinearRegression", ["fit_intercept"], {}, _t(2025, 3, 14, 13, 20),
         "Baseline: ordinary least squares on all ten baseline measurements."),
        (ridge, "Ridge", ["alpha", "fit_intercept", "solver"], {"scaling": "StandardScaler"},
         _t(2025, 10, 2, 9, 40),
         "Ridge regression (alpha = 10 on standardised inputs) to tame correlated serum "
         "measurements."),
        (gbr, "GradientBoostingRegressor",
         ["n_estimators", "learning_rate", "max_depth", "subsample", "loss"], {},
         _t(2026, 7, 21, 15, 10),
         "Gradient boosting with depth-2 trees to pick up interactions (BMI x serum)."),
    ]
    for (est, algo, keys, extra, created, desc), (aliases, stage) in zip(versions,
                                                                         _roles(len(versions))):
        metrics = _cv(est, X_tr, y_tr, cv, scoring)
        est.fit(X_tr, y_tr)
        final = est[-1] if isinstance(est, Pipeline) else est
        log_model_version(out, "diabetes-progression", y_true=y_te, y_pred=est.predict(X_te),
                          segments={"sex": sex}, features=features,
                          params=_params(final, keys, **extra), metrics=metrics,
                          algorithm=algo, aliases=aliases, stage=stage, description=desc,
                          created_at=created)


# ---------------------------------------------------------------------------- churn data
CONTRACTS = ["month-to-month", "one-year", "two-year"]
PLANS = ["basic", "standard", "premium"]
REGIONS = ["north", "south", "east", "west"]
PAYMENTS = ["electronic-check", "credit-card", "bank-transfer", "mailed-check"]
NUMERIC = ["tenure_months", "monthly_charges", "support_calls", "data_usage_gb"]
CATEGORICAL = ["contract", "plan", "region", "payment_method"]
ALL_FEATURES = NUMERIC + CATEGORICAL
# v1-v3 were trained before support-call and usage data were joined in from the CRM.
ACCOUNT_FEATURES = ["tenure_months", "monthly_charges", "contract", "plan", "region",
                    "payment_method"]


def churn_customers(rng: np.random.Generator, n: int,
                    competitor: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` synthetic customers and whether each cancels within 90 days (1) or not (0).

    ``competitor`` (0 = none) is the strength of a rival's launch in the south region: it
    raises support calls and monthly charges there, and makes southern customers more likely
    to leave for reasons the features do not show (some are simply poached).
    """
    region = rng.choice(REGIONS, n, p=[0.30, 0.25, 0.25, 0.20])
    south = region == "south"
    tenure = np.clip(np.round(rng.gamma(1.3, 20.0, n)) + 1, 1, 72).astype(int)
    # Long-standing customers are more often on longer contracts.
    logits = np.stack([1.2 - 0.03 * tenure, np.zeros(n), -0.8 + 0.02 * tenure], axis=1)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    contract_idx = (rng.random(n)[:, None] > p.cumsum(axis=1)).sum(axis=1)
    contract = np.asarray(CONTRACTS)[np.minimum(contract_idx, 2)]
    plan_idx = rng.choice(3, n, p=[0.4, 0.4, 0.2])
    plan = np.asarray(PLANS)[plan_idx]
    plan_price = np.array([30.0, 60.0, 95.0])[plan_idx]
    usage = np.round(rng.lognormal(np.log(np.array([4.0, 12.0, 30.0])[plan_idx]), 0.6), 1)
    charges = plan_price + 0.4 * usage + rng.normal(0, 8, n) + 12 * competitor * south
    charges = np.round(np.clip(charges, 15, None), 2)
    calls = rng.poisson(0.9 + 0.4 * (plan_idx == 0) + 1.5 * competitor * south)
    payment = rng.choice(PAYMENTS, n, p=[0.35, 0.25, 0.25, 0.15])

    m2m = contract == "month-to-month"
    overcharge = charges - plan_price - 0.4 * usage
    z = (-0.2
         + np.array([0.9, -0.6, -1.8])[np.minimum(contract_idx, 2)]
         - 1.4 * np.log1p(tenure / 3)
         + 1.2 * m2m * (tenure <= 6)
         + 0.04 * overcharge * (overcharge > 0)
         + 0.35 * calls + 1.0 * (calls >= 3) * m2m + 0.8 * (calls >= 5)
         - 0.6 * (usage < np.array([2.0, 5.0, 12.0])[plan_idx])
         + 0.7 * (payment == "electronic-check") * m2m
         - 0.2 * (plan == "premium") + 0.1 * south
         + rng.normal(0, 0.5, n)          # everything else we do not observe
         + 1.0 * competitor * south)      # the rival's pull, invisible in the features
    churn = rng.random(n) < 1 / (1 + np.exp(-z))
    poached = south & (rng.random(n) < 0.3 * competitor)
    frame = pd.DataFrame({
        "tenure_months": tenure, "monthly_charges": charges, "support_calls": calls,
        "data_usage_gb": usage,
        "contract": pd.Categorical(contract, categories=CONTRACTS),
        "plan": pd.Categorical(plan, categories=PLANS),
        "region": pd.Categorical(region, categories=REGIONS),
        "payment_method": pd.Categorical(payment, categories=PAYMENTS),
    })
    return frame, (churn | poached).astype(int)


def _churn_columns(frame: pd.DataFrame) -> tuple[dict, dict]:
    """Segment and feature columns for evaluation and monitoring tables."""
    segments = {c: frame[c].astype(str).to_numpy() for c in ("region", "plan", "contract")}
    features = {c: frame[c].to_numpy() for c in NUMERIC}
    features["payment_method"] = frame["payment_method"].astype(str).to_numpy()
    return segments, features


# HGB settings shared by every sweep trial (and so by v4).
SWEEP_FIXED = {"loss": "log_loss", "max_iter": 150, "early_stopping": True, "scoring": "loss",
               "n_iter_no_change": 10, "tol": 1e-7, "max_bins": 255, "max_features": 1.0,
               "random_state": SEED}
SWEEP_TRIALS = 64


def _sweep(out: Path, X_fit, y_fit, X_val, y_val):
    """Random search over HistGradientBoostingClassifier settings; returns the best trial's
    run id, parameters, metrics and fitted model (best = highest validation ROC AUC)."""
    log_experiment(out, "churn-sweep",
                   f"Random search ({SWEEP_TRIALS} trials, seed {SEED}) over "
                   "HistGradientBoostingClassifier hyper-parameters for customer-churn: "
                   "learning rate, depth, leaves, minimum leaf size and L2 regularisation. "
                   f"Each trial trains on {len(y_fit):,} customers with early stopping on a "
                   f"fixed validation set of {len(y_val):,}. Synthetic data generated by "
                   "data/build_sample.py.")
    rng = np.random.default_rng(SEED + 7)
    clock = _t(2026, 9, 1, 9, 0)  # trials run one after another from this (made-up) time
    best = None
    for i in range(1, SWEEP_TRIALS + 1):
        sampled = {
            "learning_rate": round(float(10 ** rng.uniform(np.log10(0.01), np.log10(0.3))), 4),
            "max_depth": int(rng.integers(2, 11)),
            "max_leaf_nodes": int(rng.integers(8, 65)),
            "min_samples_leaf": int(rng.integers(5, 101)),
            "l2_regularization": round(float(rng.uniform(0.0, 1.0)), 3),
        }
        params = {**SWEEP_FIXED, **sampled}
        model = HistGradientBoostingClassifier(**params)
        model.fit(X_fit, y_fit, X_val=X_val, y_val=y_val)
        train_loss = -np.asarray(model.train_score_)
        val_loss = -np.asarray(model.validation_score_)
        steps = np.arange(len(train_loss))
        history = pd.DataFrame({
            "key": ["train_log_loss"] * len(steps) + ["val_log_loss"] * len(steps),
            "step": np.concatenate([steps, steps]),
            "value": np.concatenate([train_loss, val_loss]),
        })
        score = model.predict_proba(X_val)[:, 1]
        metrics = {"val_roc_auc": roc_auc_score(y_val, score),
                   "val_log_loss": log_loss(y_val, score),
                   "val_average_precision": average_precision_score(y_val, score),
                   "train_log_loss": float(train_loss[-1]),
                   "n_iterations": model.n_iter_}
        run_id = f"sweep-{i:03d}"
        # Fixed, not measured, times: a minute of set-up plus a second per iteration.
        end = clock + timedelta(seconds=60 + model.n_iter_)
        log_run(out, "churn-sweep", run_id=run_id, name=run_id, params=params,
                metrics=metrics, tags={"sweep": "random-search", "model": "customer-churn",
                                       "trial": str(i)},
                start_time=clock, end_time=end, history=history)
        clock = end + timedelta(seconds=30)
        if best is None or metrics["val_roc_auc"] > best[2]["val_roc_auc"]:
            best = (run_id, params, metrics, model)
    return best


#: the churn model's card: what the rest of its model.json cannot say (docs/registry-format.md)
CHURN_CARD = {
    "purpose": "Rank customers by their risk of **cancelling within the next 90 days**, so "
               "the retention team can call the riskiest first.",
    "intended_use": "The retention team's call list: customers are sorted by score and those "
                    "above the chosen threshold get a call with a retention offer. The score "
                    "prompts a call; a person decides what to offer.",
    "out_of_scope": "Pricing, credit or contract decisions, and any decision taken without a "
                    "person; customers of markets other than the one the data describe.",
    "limitations": [
        "The customers are synthetic (generated by data/build_sample.py): the numbers show "
        "how the model behaves on this data, not on a real market.",
        "Whether a customer cancelled is known only 90 days later, so the latest month of "
        "production has no labels yet.",
        "A competitor launched in the south region in September 2026, after the champion "
        "(v3) was trained; its ranking is weaker there since.",
    ],
    "caveats": [
        "Every version is measured on the same 5,000 held-out customers, so versions are "
        "compared row by row.",
        "The money figures rest on the business settings below (value of a customer kept, "
        "cost of a call, cost of a customer lost), which are estimates.",
    ],
    "training_data": {"source": "synthetic customers from data/build_sample.py: account "
                                "data, support calls and data usage",
                      "rows": 15_000, "period": "one generated snapshot (no calendar dates)"},
    "evaluation_data": {"source": "5,000 synthetic customers held out from training, the "
                                  "same rows for every version",
                        "period": "the same generated snapshot as the training rows"},
}


def _churn_training(rows: int, columns: str) -> dict:
    return {"source": f"synthetic training customers ({columns})", "rows": int(rows),
            "period": "one generated snapshot (no calendar dates)"}


def _churn(out: Path) -> dict:
    rng = np.random.default_rng(SEED)
    data, y = churn_customers(rng, 20_000)
    X_tr, y_tr = data.iloc[:15_000].reset_index(drop=True), y[:15_000]
    X_te, y_te = data.iloc[15_000:].reset_index(drop=True), y[15_000:]
    segments, features = _churn_columns(X_te)

    log_model(out, "customer-churn", task="binary",
              description="Scores each customer's risk of cancelling within the next 90 days "
                          "so the retention team can call the riskiest first. Synthetic data "
                          "generated by data/build_sample.py (20,000 customers: 15,000 for "
                          "training, 5,000 held out for testing), with a competitor launch in "
                          "the south region from September 2026.",
              owner="retention-analytics", entity="customer", positive_label="1",
              tags={"domain": "telecom", "data": "synthetic"},
              business=BusinessSettings(
                  positive_means="the customer cancels within the next 90 days",
                  value_true_positive=150, cost_false_positive=20, cost_false_negative=50,
                  volume_per_month=40000, currency="EUR"),
              card=CHURN_CARD)

    cv = StratifiedKFold(5, shuffle=True, random_state=SEED)
    scoring = {"cv_roc_auc": "roc_auc", "cv_average_precision": "average_precision"}
    acc_num = [c for c in ACCOUNT_FEATURES if c in NUMERIC]
    acc_cat = [c for c in ACCOUNT_FEATURES if c in CATEGORICAL]
    lr = Pipeline([
        ("encode", ColumnTransformer([("num", StandardScaler(), acc_num),
                                      ("cat", OneHotEncoder(), acc_cat)])),
        ("model", LogisticRegression(C=1.0, max_iter=1000))])
    rf = Pipeline([
        ("encode", ColumnTransformer([("num", "passthrough", acc_num),
                                      ("cat", OrdinalEncoder(), acc_cat)])),
        ("model", RandomForestClassifier(n_estimators=150, min_samples_leaf=20,
                                         max_features="sqrt", random_state=SEED, n_jobs=1))])
    hgb = HistGradientBoostingClassifier(learning_rate=0.1, max_depth=3, max_iter=100,
                                         early_stopping=False, random_state=SEED)
    account = {"features": ", ".join(ACCOUNT_FEATURES)}
    versions = [
        (lr, "LogisticRegression", ["C", "l1_ratio", "solver", "max_iter"],
         {**account, "encoding": "one-hot + StandardScaler"}, _t(2025, 3, 3, 10, 0),
         "Baseline: logistic regression on the account data (tenure, charges, contract, plan, "
         "region, payment method)."),
        (rf, "RandomForestClassifier",
         ["n_estimators", "max_depth", "min_samples_leaf", "max_features"], account,
         _t(2025, 7, 15, 11, 30), "Random forest of 150 trees on the same account data."),
        (hgb, "HistGradientBoostingClassifier",
         ["learning_rate", "max_iter", "max_depth", "max_leaf_nodes", "min_samples_leaf",
          "l2_regularization", "early_stopping"], account, _t(2025, 11, 18, 9, 15),
         "Histogram gradient boosting (100 depth-3 trees, learning rate 0.1) on the same "
         "account data."),
    ]
    roles = [([], "Archived"), ([], "Archived"), (["champion"], "Production")]
    test_auc = {}
    for k, ((est, algo, keys, extra, created, desc), (aliases, stage)) in enumerate(
            zip(versions, roles), start=1):
        metrics = _cv(est, X_tr[ACCOUNT_FEATURES], y_tr, cv, scoring)
        est.fit(X_tr[ACCOUNT_FEATURES], y_tr)
        final = est[-1] if isinstance(est, Pipeline) else est
        score = est.predict_proba(X_te[ACCOUNT_FEATURES])[:, 1]
        test_auc[k] = roc_auc_score(y_te, score)
        log_model_version(out, "customer-churn", y_true=y_te, y_score=score,
                          segments=segments, features=features,
                          params=_params(final, keys, **extra), metrics=metrics,
                          algorithm=algo, aliases=aliases, stage=stage, description=desc,
                          created_at=created,
                          training_data=_churn_training(len(y_tr), "account data"))
    champion = hgb
    # Validation evidence for the champion (v3): the 5 folds of the training rows, and the
    # test customers with 10% of their account values missing (left to the model's own
    # handling of missing values, as in production when a CRM field is empty).
    X_acc = X_tr[ACCOUNT_FEATURES]
    log_folds(out, "customer-churn", 3, _folds(HistGradientBoostingClassifier(
        **hgb.get_params()), X_acc, y_tr, cv))
    X_missing = X_te[ACCOUNT_FEATURES].mask(
        np.random.default_rng(SEED).random((len(X_te), len(ACCOUNT_FEATURES))) < 0.10)
    log_stress(out, "customer-churn", 3, "stress-missing", "with 10% of values missing",
               y_true=y_te, y_score=champion.predict_proba(X_missing)[:, 1])

    # v4: the best trial of the sweep, on all features (support calls and usage joined in).
    n_fit = 12_000
    run_id, params, run_metrics, tuned = _sweep(
        out, X_tr.iloc[:n_fit][ALL_FEATURES], y_tr[:n_fit],
        X_tr.iloc[n_fit:][ALL_FEATURES], y_tr[n_fit:])
    # Cross-validate the winning settings like v1-v3 (fixed at the trial's iteration count).
    cv_params = {**params, "max_iter": int(run_metrics["n_iterations"]),
                 "early_stopping": False}
    metrics = _cv(HistGradientBoostingClassifier(**cv_params), X_tr[ALL_FEATURES], y_tr, cv,
                  scoring)
    metrics.update({k: run_metrics[k] for k in ("val_roc_auc", "val_log_loss")})
    score = tuned.predict_proba(X_te[ALL_FEATURES])[:, 1]
    test_auc[4] = roc_auc_score(y_te, score)
    log_model_version(out, "customer-churn", y_true=y_te, y_score=score, segments=segments,
                      features=features,
                      params={**params, "features": ", ".join(ALL_FEATURES)},
                      metrics=metrics, algorithm="HistGradientBoostingClassifier",
                      aliases=["challenger"], stage="Staging", run_id=run_id,
                      description=f"Best trial of the churn-sweep random search ({run_id}): "
                                  "adds support calls and data usage as features; trained on "
                                  f"{n_fit:,} of the training customers.",
                      created_at=_t(2026, 9, 3, 16, 0),
                      training_data=_churn_training(n_fit, "account data, support calls and "
                                                           "data usage"))
    if not test_auc[4] > test_auc[3]:
        raise AssertionError(f"churn v4 should beat v3 on the test split: {test_auc}")

    # A year of production traffic scored by the champion (v3); a competitor launches in the
    # south in September 2026. Churn is known only 90 days later, so November has no labels.
    mrng = np.random.default_rng(SEED + 1)
    competitor = {(2026, 9): 0.7, (2026, 10): 1.0, (2026, 11): 1.2}
    months = [(2025, 12)] + [(2026, m) for m in range(1, 12)]
    parts = []
    monthly_auc = {}
    for year, month in months:
        n = int(mrng.integers(1900, 2101))
        frame, truth = churn_customers(mrng, n, competitor.get((year, month), 0.0))
        first = _t(year, month, 1)
        nxt = _t(year + month // 12, month % 12 + 1, 1)
        seconds = np.sort(mrng.integers(0, int((nxt - first).total_seconds()), n))
        stamps = pd.Timestamp(first) + pd.to_timedelta(seconds, unit="s")
        score = champion.predict_proba(frame[ACCOUNT_FEATURES])[:, 1]
        labelled = (year, month) != (2026, 11)
        if labelled:
            monthly_auc[f"{year}-{month:02d}"] = roc_auc_score(truth, score)
        parts.append((stamps, truth.astype(float) if labelled else np.full(n, np.nan),
                      score, frame))
    segs, feats = zip(*(_churn_columns(p[3]) for p in parts))
    log_monitoring(out, "customer-churn", version=3,
                   timestamp=np.concatenate([np.asarray(p[0]) for p in parts]),
                   y_true=np.concatenate([p[1] for p in parts]),
                   y_score=np.concatenate([p[2] for p in parts]),
                   segments={k: np.concatenate([s[k] for s in segs]) for k in segs[0]},
                   features={k: np.concatenate([f[k] for f in feats]) for k in feats[0]})
    for m in ("2026-09", "2026-10"):
        if monthly_auc[m] > test_auc[3] - MIN_DRIFT_AUC_DROP:
            raise AssertionError(f"drift too weak in {m}: AUC {monthly_auc[m]:.3f} vs "
                                 f"{test_auc[3]:.3f} on the test split")
    return {"test_auc": test_auc, "monthly_auc": monthly_auc, "best_run": run_id}


# ---------------------------------------------------------------------------- entry points
def build(out_dir: Path) -> None:
    """Write the sample registry into ``out_dir`` (which must not exist yet, or be empty)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    # One thread everywhere: deterministic sums, and modest on a shared machine.
    with threadpool_limits(limits=1):
        _breast_cancer(out_dir)
        _digits(out_dir)
        _diabetes(out_dir)
        _churn(out_dir)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help="registry folder to (re)build (default: %(default)s)")
    args = ap.parse_args(argv)
    out = args.out
    if out.exists():
        if any(out.iterdir()) and not (out / "modeldeck.json").exists():
            sys.exit(f"refusing to delete {out}: it is not empty and not a ModelDeck registry")
        shutil.rmtree(out)
    build(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
