"""A model card: what a model is for, what it was built and measured on, how good it is and
where it is weak, what it is worth and how it got here — one object that the card page, the
HTML/PDF report and the Markdown export all render (so every sentence is written here once).

Fields the registry does not hold come from the model's ``card`` section (model.json) or its
``modeldeck.card.*`` tags (MLflow), see ``registry.model.CardInfo``; a field nobody documented
reads ``NOT_DOCUMENTED`` instead of disappearing. Every number comes from the cached analyses
the model page uses (``version_evaluation``, ``version_table``, ``model_value_curve``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import re

import numpy as np
import pandas as pd

from registry.cached import CachedSource
from registry.model import (COL_TIME, COL_TRUE, DataInfo, Model, ModelVersion, RegistryError,
                            champion_of)

from . import queries as q
from .business import is_complete, model_value_curve, money, version_regression_cost
from .evaluation import TASK_METRICS, version_evaluation
from .language import GLOSSARY, format_value, interval_text, metric_sentence, plural
from .metrics import METRICS, headline_metric
from .reads import evaluation_frame
from .versions import version_table

NOT_DOCUMENTED = "not documented yet"
TASK_WORDS = {"binary": "a yes/no answer (a score between 0 and 1)",
              "multiclass": "one of several classes", "regression": "a number",
              "unknown": "not known (the registry does not say)"}


@dataclass(frozen=True)
class CardField:
    """One labelled entry of the card. ``markdown``: the text is the registry's own (shown
    as Markdown, safely); otherwise ModelDeck wrote it."""

    label: str
    text: str
    documented: bool = True
    markdown: bool = False
    how: str = ""  # where to document it, when it is not

    @classmethod
    def of(cls, label: str, text: str | None, how: str, markdown: bool = True) -> "CardField":
        text = (text or "").strip()
        if not text:
            return cls(label, NOT_DOCUMENTED, False, False, how)
        return cls(label, text, True, markdown)


@dataclass(frozen=True)
class CardMetric:
    key: str
    name: str
    value: str  # formatted
    interval: str  # "95% CI 0.861 to 0.887"
    meaning: str  # one sentence for this model (analysis.language.metric_sentence)
    definition: str = ""  # the glossary's definition


@dataclass(frozen=True)
class ModelCard:
    model: str
    champion: int | None
    champion_how: str
    about: tuple[CardField, ...]
    training: tuple[CardField, ...]
    evaluation: tuple[CardField, ...]
    metrics: tuple[CardMetric, ...]
    metrics_note: str
    segments: tuple[str, ...]  # sentences naming the weakest group of each segment
    limitations: tuple[CardField, ...]
    caveats: tuple[CardField, ...]
    business: tuple[CardField, ...]
    versions: pd.DataFrame  # version, role, created, algorithm, value, description
    metric_name: str = ""
    segment_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: tuple[str, ...] = ()  # what the registry could not give (file and field)
    #: False for the outline (``card_outline``): everything but the measured parts
    measured: bool = True

    @property
    def subtitle(self) -> str:
        return (f"Describes v{self.champion}, the version in production "
                f"({self.champion_how})." if self.champion is not None
                else "No version is registered yet.")

    @property
    def undocumented(self) -> tuple[str, ...]:
        """Labels of the fields that still read "not documented yet"."""
        return tuple(f.label for group in (self.about, self.training, self.evaluation,
                                           self.limitations, self.caveats, self.business)
                     for f in group if not f.documented)


_SAFE_SCHEMES = ("http", "https", "mailto")
# a destination's scheme; one that starts with an entity (``&#106;avascript:``) counts as unsafe
_SCHEME = r"\s*<?\s*(?:([A-Za-z][A-Za-z0-9+.\-]*)\s*:|&)"
_INLINE = re.compile(r"\]\((?=" + _SCHEME + ")")
_AUTO = re.compile(r"<(?=([A-Za-z][A-Za-z0-9+.\-]*):)")
_REFDEF = re.compile(r"^(\s{0,3})\[(?=[^\]]*\]:" + _SCHEME + ")", re.MULTILINE)


def unlink_unsafe(text: str) -> str:
    """Registry Markdown with every link whose scheme is not http(s) or mailto turned into
    plain text (``javascript:``, ``data:``, ``vbscript:`` … never become a link): inline links
    ``[a](x:…)``, autolinks ``<x:…>`` and reference definitions ``[a]: x:…``."""
    def safe(scheme):
        return scheme is not None and scheme.lower() in _SAFE_SCHEMES

    def inline(m):
        return m.group(0) if safe(m.group(1)) else "\\]("

    def auto(m):
        return m.group(0) if safe(m.group(1)) else "\\<"

    def ref(m):
        return m.group(0) if safe(m.group(2)) else m.group(1) + "\\["
    return _REFDEF.sub(ref, _AUTO.sub(auto, _INLINE.sub(inline, text)))


def model_card(deck: CachedSource, name: str) -> ModelCard:
    """The card of model ``name``, cached until its files change."""
    return deck.memo(("model_card", name), name, lambda: build_card(deck, name))


def card_outline(deck: CachedSource, name: str) -> ModelCard:
    """The card without what must be measured (metrics with intervals, segments, evaluation
    rows): what the page shows at once while ``model_card`` is worked out."""
    return deck.memo(("model_card_outline", name), name,
                     lambda: build_card(deck, name, measure=False))


#: what the outline says where a measurement will be
MEASURING = "being worked out…"


def build_card(deck: CachedSource, name: str, measure: bool = True) -> ModelCard:
    model = deck.model(name)
    versions = deck.versions(name).items
    champ, how = champion_of(versions)
    card = model.card

    ev, ev_problem = None, ""
    if measure and champ is not None and model.task_known:
        try:
            ev = version_evaluation(deck, name, champ.version)
        except KeyError:
            ev_problem = f"v{champ.version} has no evaluation rows in the registry"
        except RegistryError as e:
            ev_problem = str(e.problem)

    about = (
        CardField.of("Purpose", (card.purpose if card else "") or model.description,
                     _how("card.purpose") + " (or give the model a description)"),
        CardField.of("Intended use", card.intended_use if card else "", _how("card.intended_use")),
        CardField.of("Not intended for", card.out_of_scope if card else "",
                     _how("card.out_of_scope")),
        CardField.of("Owner", model.owner, "set the model's owner", markdown=False),
        CardField.of("What one row is", f"one {model.entity}" if model.entity else "",
                     "set the model's entity (e.g. customer)", markdown=False),
        CardField("What it predicts", _predicts(model)),
    )
    training = _data_fields(
        "Training data", champ.training_data if champ is not None else None,
        card.training_data if card else None, "card.training_data", None)
    eval_rows = ev.rows if ev is not None else None
    evaluation = _data_fields(
        "Evaluation data", None, card.evaluation_data if card else None,
        "card.evaluation_data", eval_rows, _period_of_rows(deck, name, champ, ev))

    metrics, note = _metrics(model, champ, ev, ev_problem)
    seg_sentences, seg_table = _segments(model, ev)
    if not measure and champ is not None and model.task_known:
        evaluation = tuple(CardField(f.label, MEASURING)
                           if f.label.endswith((": rows", ": period")) and not f.documented
                           else f for f in evaluation)
        metrics, note = (), ("Working out the headline metrics and their 95% intervals on "
                             f"v{champ.version}'s evaluation rows…")
        seg_sentences, seg_table = ("Working out how each group of rows does…",), \
            pd.DataFrame()
    metric = METRICS.get(headline_metric(model.task)) if model.task_known else None

    limitations = tuple(CardField(f"Limitation {i}", t, markdown=True)
                        for i, t in enumerate(card.limitations if card else (), start=1)) or (
        CardField.of("Limitations", "", _how("card.limitations")),)
    caveat_texts = list(card.caveats if card else ())
    if ev is not None:
        caveat_texts += list(ev.notes)
    caveats = tuple(CardField(f"Caveat {i}", t, markdown=True)
                    for i, t in enumerate(caveat_texts, start=1)) or (
        CardField.of("Caveats", "", _how("card.caveats")),)

    return ModelCard(
        model=name, champion=champ.version if champ else None, champion_how=how,
        about=about, training=training, evaluation=evaluation, metrics=metrics,
        metrics_note=note, segments=seg_sentences, limitations=limitations, caveats=caveats,
        business=_business(deck, model, champ),
        versions=_history(deck, model), metric_name=metric.name if metric else "",
        segment_table=seg_table,
        problems=tuple(str(p) for p in deck.problems(name)), measured=measure)


def _how(path: str) -> str:
    """Where to document a missing field, in both registry kinds."""
    return f"document it as {path} in model.json, or the tag modeldeck.{path} in MLflow"


def _predicts(model: Model) -> str:
    text = TASK_WORDS.get(model.task, TASK_WORDS["unknown"])
    b = model.business
    if model.task == "binary" and b is not None and b.positive_means:
        text += f"; a positive means {b.positive_means}"
    if model.task == "regression" and model.target_unit:
        text += f", in {model.target_unit}"
    return text[0].upper() + text[1:] + "."


def _data_fields(title: str, version_data: DataInfo | None, card_data: DataInfo | None,
                 how: str, rows: int | None, period: str = "") -> tuple[CardField, ...]:
    """Source, rows and period: the version's own record first, then the card's."""
    def pick(attr):
        for d in (version_data, card_data):
            v = getattr(d, attr) if d is not None else None
            if v not in (None, ""):
                return v
        return None
    n = rows if rows is not None else pick("rows")
    return (
        CardField.of(f"{title}: source", pick("source"), _how(f"{how}.source")),
        CardField.of(f"{title}: rows", f"{n:,}" if n is not None else "", _how(f"{how}.rows"),
                     markdown=False),
        CardField.of(f"{title}: period", pick("period") or period, _how(f"{how}.period")),
    )


def _period_of_rows(deck, name, champ: ModelVersion | None, ev) -> str:
    """'3 Jan 2026 to 28 Feb 2026' when the evaluation rows carry timestamps."""
    if champ is None or ev is None:
        return ""
    try:
        rows = q.kept_rows_of(deck, name, champ.version)
        if rows is not None:  # an engine keeps them: their first and last time, queried
            return _period_text(q.time_range(rows)) if rows.has(COL_TIME) else ""
        frame = evaluation_frame(deck, name, champ.version)
    except (KeyError, RegistryError):
        return ""
    if COL_TIME not in frame.columns:
        return ""
    t = pd.to_datetime(frame.loc[frame[COL_TRUE].notna(), COL_TIME], errors="coerce",
                       utc=True).dropna()
    return _period_text((t.min(), t.max()) if len(t) else None)


def _period_text(span) -> str:
    if span is None:
        return ""
    first, last = span
    return f"{first:%d %b %Y} to {last:%d %b %Y} (the rows' timestamps)".lstrip("0")


def _metrics(model: Model, champ, ev, problem: str) -> tuple[tuple[CardMetric, ...], str]:
    if champ is None:
        return (), "No versions are registered yet."
    if not model.task_known:
        return (), f"The task is {model.task_source}, so no metric can be computed."
    if ev is None or ev.rows == 0:
        return (), f"No headline metrics: {problem or 'no labelled evaluation rows'}."
    unit_of = lambda k: model.target_unit if METRICS[k].kind == "unit" else ""  # noqa: E731
    out = []
    for k in TASK_METRICS.get(model.task, ()):
        ci = ev.metrics.get(k)
        if ci is None or not np.isfinite(ci.value):
            continue
        u = unit_of(k)
        meaning, definition = metric_sentence(k, ci.value, model), GLOSSARY.get(k, "")
        out.append(CardMetric(k, METRICS[k].name, format_value(k, ci.value, u),
                              interval_text(k, ci.low, ci.high, u), meaning,
                              "" if definition == meaning else definition))
    note = (f"Measured by ModelDeck on the {ev.rows:,} labelled evaluation "
            f"{plural(model.entity or 'row', ev.rows)} of v{champ.version} (the version in "
            "production). Each range is a 95% bootstrap confidence interval.")
    return tuple(out), note


def weakest_sentences(model: Model, seg: pd.DataFrame) -> tuple[str, ...]:
    """'Weakest region: south, with ROC AUC 0.801 (95% CI …, 1,204 rows).' per segment."""
    if seg.empty:
        return ()
    metric = METRICS[seg["metric"].iloc[0]]
    unit = model.target_unit if metric.kind == "unit" else ""
    return tuple(f"Weakest {r.segment}: {r.value}, with {metric.name} "
                 f"{format_value(metric.key, r.estimate, unit)} "
                 f"({interval_text(metric.key, r.low, r.high, unit)}, {r.rows:,} rows)."
                 for r in seg.loc[seg["weakest"]].itertuples())


def _segments(model: Model, ev) -> tuple[tuple[str, ...], pd.DataFrame]:
    if ev is None or ev.segments.empty:
        return ("The evaluation rows have no segment columns, so performance by group is "
                "not known.",), pd.DataFrame()
    sentences = weakest_sentences(model, ev.segments)
    return sentences or ("No group is clearly weaker than the others (or the groups are too "
                         "small to judge).",), ev.segments


def _business(deck, model: Model, champ) -> tuple[CardField, ...]:
    b = model.business
    how = "set the model's business settings (docs/registry-format.md)"
    if b is None:
        return (CardField.of("Business settings", "", how),)
    cur = b.currency

    def amount(label, v, per=""):
        return CardField.of(label, f"{v:,.2f} {cur}{per}" if v is not None else "",
                            f"{how}", markdown=False)
    out = [CardField.of("A positive means", b.positive_means, how, markdown=False)] \
        if model.task == "binary" else []
    if model.task == "regression":
        out.append(amount("Cost of one unit of error", b.cost_per_unit_error))
    else:
        out += [amount("Value of a positive caught", b.value_true_positive),
                amount("Cost of a false alarm", b.cost_false_positive),
                amount("Cost of a missed positive", b.cost_false_negative)]
    out.append(CardField.of("Predictions per month", f"{b.volume_per_month:,.0f}"
                            if b.volume_per_month is not None else "", how, markdown=False))
    worth = _worth(deck, model, champ)
    if worth:
        out.append(CardField("What it is worth", worth))
    return tuple(out)


def _worth(deck, model: Model, champ) -> str:
    if champ is None:
        return ""
    b = model.business
    try:
        if model.task == "binary" and is_complete(b):
            c = model_value_curve(deck, model.name, champ.version, b)
            return (f"At its best threshold ({c.best_threshold:.2f}), v{champ.version} is "
                    f"worth about {money(c.best_value, c.currency)} a month (90% band "
                    f"{money(c.low[c.best_index], c.currency)} to "
                    f"{money(c.high[c.best_index], c.currency)}).")
        if model.task == "regression":
            cost = version_regression_cost(deck, model.name, champ.version)
            if cost is not None:
                return (f"v{champ.version}'s errors cost about {money(cost, b.currency)} a "
                        "month.")
    except (KeyError, RegistryError, ValueError):
        return ""
    return ""


def _history(deck, model: Model) -> pd.DataFrame:
    table = version_table(deck, model.name)
    metric = headline_metric(model.task) if model.task_known else ""
    unit = model.target_unit if metric and METRICS[metric].kind == "unit" else ""
    rows = []
    for r in table.itertuples():
        rows.append({
            "version": f"v{r.version}",
            "role": r.aliases or r.stage or "—",
            "created": r.created_at.strftime("%d %b %Y") if pd.notna(r.created_at) else "—",
            "algorithm": r.algorithm or "—",
            "value": format_value(metric, r.value, unit) if metric and not r.problem
            else (r.problem or "—"),
            "description": r.description or "—",
        })
    return pd.DataFrame(rows, columns=["version", "role", "created", "algorithm", "value",
                                       "description"])
