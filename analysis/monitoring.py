"""Production monitoring: performance per time window against evaluation, and data drift.

Windows are calendar months, or ISO weeks (starting Monday) when the data spans under four
months. Performance uses the same metric functions as evaluation (scikit-learn), on the
labelled rows of each window; windows without labels show drift only and say so.

Confidence intervals are 95% bootstraps from ``analysis.uncertainty`` (in very large windows
resampled on a subsample, their spread scaled to the window's size); KS tests use at most
``ks_max_rows`` rows per window.
"""
from __future__ import annotations

from dataclasses import replace

import pandas as pd

from registry.model import Model, champion_of

from .drift import PSI_LARGE, psi_word
from .metrics import METRICS
from .monitoring_rows import report_from_rows
from .monitoring_types import MonitoringReport, MonitoringSettings



# ------------------------------------------------------------------ the report
def monitoring_report(model: Model, reference: pd.DataFrame | None, production: pd.DataFrame,
                      version: int | None, metric: str,
                      settings: MonitoringSettings = MonitoringSettings(),
                      intervals: bool = True) -> MonitoringReport:
    """Performance per window with CIs, against the reference (evaluation rows), and the
    drift of every feature, segment and the model's score in every window.

    ``intervals=False``: the performance's point values only — no intervals (``low`` and
    ``high`` are NaN) and no drift. The portfolio's health needs no more, and skipping the
    bootstrap and the drift tests makes it several times quicker."""
    from registry.row_checks import with_positive
    from registry.rows import Rows


    def rows(frame, evaluation):
        r = Rows.from_frame(frame, model.name, "evaluation rows" if evaluation else
                            "production rows", evaluation)
        return with_positive(r, model.positive_label) if model.task == "binary" else r
    ref = rows(reference, True) if reference is not None and len(reference) else None
    return report_from_rows(model, ref, rows(production, False), version, metric, settings,
                            intervals)


def model_monitoring(deck, name: str, version: int | None = None, intervals: bool = True):
    """(model, version, report) for ``version`` of a model (default: the champion), the
    report cached until the model's files change; report is None without production data.
    ``intervals=False``: point values only, no drift (see ``monitoring_report``)."""
    from .metrics import headline_metric

    model = deck.model(name)
    if version is None:
        champ, _ = champion_of(deck.versions(name).items)
        version = champ.version if champ else None

    def compute():  # through the query layer: the rows stay in their engine
        from .queries import rows_of
        production = rows_of(deck, name)
        if production is None:
            return None
        try:
            reference = rows_of(deck, name, version, production=False) \
                if version is not None else None
        except KeyError:
            reference = None
        # the whole report starts from the points (the page's outline, usually cached by
        # then): only the intervals and the drift are left to work out
        points = model_monitoring(deck, name, version, intervals=False)[2] \
            if intervals and not production.in_memory else None
        report = report_from_rows(model, reference, production, version,
                                  headline_metric(model.task), MonitoringSettings(),
                                  intervals=intervals, points=points)
        return replace(report, notes=tuple(production.notes) + report.notes)
    key = ("monitoring", name, version) if intervals else ("monitoring-points", name, version)
    return model, version, deck.memo(key, name, compute)


# ------------------------------------------------------------------ words
def monitoring_sentences(report: MonitoringReport, unit: str = "",
                         estimated: tuple[str, ...] = (), pending: bool = False) -> list[str]:
    """The report in a few short sentences; ``estimated``: the windows whose performance is
    estimated without labels (``analysis.estimation``); ``pending``: the page's outline,
    whose estimate and drift are still being worked out."""
    from .language import format_value

    out = []
    name = METRICS[report.metric].name
    p = report.performance
    labelled = p.loc[p["labelled"] > 0]
    if not labelled.empty and report.reference is not None:
        last = labelled.iloc[-1]
        if last["note"]:
            out.append(f"{name} in {last['label']} is not judged ({last['note']}).")
        else:
            out.append(f"{name} in {last['label']}: "
                       f"{format_value(report.metric, last['value'], unit)}"
                       f" on {int(last['labelled']):,} labelled rows, against "
                       f"{format_value(report.metric, report.reference, unit)} at evaluation.")
    missing = report.unlabelled_windows
    if missing:
        rest = "performance there is estimated from the scores, and drift is checked." \
            if set(missing) & set(estimated) else \
            "their drift and any estimate from the scores are being worked out." \
            if pending else "only drift can be checked there."
        out.append(f"No labels yet for {', '.join(missing)}: {rest}")
    top = report.top_drift(3)
    if not top.empty:
        big = top.loc[top["psi"] >= PSI_LARGE]
        window = top["label"].iloc[0]
        if big.empty:
            out.append(f"No feature shifted much in {window} (largest PSI "
                       f"{top['psi'].iloc[0]:.2f}, {top['name'].iloc[0]}).")
        else:
            parts = [f"{r.name} (PSI {r.psi:.2f})" for r in big.itertuples()]
            out.append(f"Largest shifts in {window}: {', '.join(parts)} — "
                       f"{psi_word(big['psi'].iloc[0])}.")
    return out


def window_text(row, metric: str, unit: str = "") -> str:
    """One window's number in words: 'Nov 2026: 0.812 on 1,234 labelled rows', or why it is
    not judged ('Nov 2026: not judged (12 rows: too few rows to judge)')."""
    from .language import format_value
    if row.note:
        return f"{row.label}: not judged ({row.note})"
    return f"{row.label}: {format_value(metric, row.value, unit)} on {int(row.labelled):,} " \
           "labelled rows"


def performance_caption(metric_name: str, window_kind: str, estimate: bool = False,
                        intervals: bool = True) -> str:
    """The caption of the performance-over-time chart (page and reports); ``estimate``: the
    chart also draws the estimate without labels; ``intervals=False``: the page's outline,
    drawn before the intervals are worked out."""
    from .language import estimate_caption, not_judged_caption
    if not intervals:
        return (f"Each point is the {metric_name} of one {window_kind} computed on its "
                "labelled rows; the 95% intervals are being worked out. The dashed line is "
                f"the level measured at evaluation. {not_judged_caption()}")
    return (f"Each point is the {metric_name} of one {window_kind} computed on its labelled "
            "rows, with its 95% bootstrap interval. The dashed line and band are the level "
            f"measured at evaluation. {not_judged_caption()}"
            + (f" {estimate_caption()}" if estimate else ""))
