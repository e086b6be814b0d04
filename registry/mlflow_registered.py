"""The registry side of the MLflow source: registered models and their versions as
``registry.model`` objects — ModelDeck's ``modeldeck.*`` tags checked by the same schema as the
folder format's model.json (``registry.schema``), the task read from the tag or inferred from
the versions' runs (``registry.mlflow_models``), each version's run, params, metrics, datasets
and chart images, MLflow 3 logged models included.

Used as a base of ``registry.mlflow_source.MlflowSource``; it relies on that class's client,
``_reading``, ``data_version`` and paging helpers, and on ``registry.mlflow_artifacts`` for a
run's artifacts.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import ClassVar, Sequence

from .base import Listing
from .mlflow_client import (
    BUSINESS_PREFIX, EVALUATION_TABLE_TAG, PREFIX, STAGES, _not_found, evaluation_table_of,
    version_where,
)
from .mlflow_models import (
    SPLIT_PREFIX, TRAINING_DATA_PREFIX, TaskAnswer, card_doc_from_tags, data_doc_from_tags,
    images_of, infer_task, logged_model_id, logged_model_metrics, read_mlmodel, run_datasets,
    split_docs_from_tags,
)
from .mlflow_run_frames import _finite, param_value
from .mlflow_runs import _quote
from .model import BusinessSettings, Model, ModelVersion, Problem, RegistryError
from .rows import table_tag
from .schema import (
    BusinessDoc, CardDoc, DataDoc, ModelSettingsDoc, SplitDoc, _Doc, card_info, data_info,
    parse, split_infos,
)


class MlflowRegistered:
    """Registered models and versions of an MLflow registry (a part of ``MlflowSource``)."""

    # ---------------------------------------------------------------- models
    def list_models(self) -> Listing[tuple[Model, ...]]:
        models, problems = [], []
        with self._reading("listing registered models"):
            registered = self._all(self.client.search_registered_models)
        for rm in sorted(registered, key=lambda m: m.name):
            if getattr(rm, "_is_prompt", lambda: False)():
                continue
            try:
                models.append(self._to_model(rm, problems))
            except RegistryError as e:
                problems.append(e.problem)
        return Listing(tuple(models), tuple(problems))

    def get_model(self, name: str) -> Model:
        with self._reading(f"reading model {name!r}"):
            try:
                rm = self.client.get_registered_model(name)
            except Exception as e:
                if _not_found(e):
                    raise KeyError(name) from None
                raise
        return self._to_model(rm)

    def _to_model(self, rm, problems: list[Problem] | None = None) -> Model:
        """The registered model as a Model; warnings (a bad card tag) go to ``problems``."""
        name, tags = rm.name, dict(rm.tags or {})
        where = f"registered model '{name}'"
        if "/" in name:
            raise RegistryError(Problem(where, "name", "a name with '/' cannot be shown at a "
                                        "ModelDeck address; rename the registered model",
                                        model=name))
        answer = self._task(rm)
        task = answer.task
        business = None
        if any(k.startswith(BUSINESS_PREFIX) for k in tags):
            # the same schema as model.json's "business" (registry/schema.py); tags are text
            doc = {key: _number_or_text(tags[BUSINESS_PREFIX + key])
                   for key in BusinessDoc.model_fields if BUSINESS_PREFIX + key in tags
                   and tags[BUSINESS_PREFIX + key] != ""}
            b, _ = parse(BusinessDoc, doc, where, name, field_prefix=f"tag {BUSINESS_PREFIX}")
            business = BusinessSettings(**b.model_dump())
        # owner, entity, unit, positive class, description and other tags: the same schema as
        # model.json's fields (text cleaned and capped; a bad value dropped with a warning)
        settings = {key: tags[PREFIX + key] for key in ("owner", "entity", "target_unit",
                                                         "positive_label") if PREFIX + key in tags}
        settings["description"] = rm.description or ""
        settings["tags"] = {k: v for k, v in tags.items() if not k.startswith((PREFIX, "mlflow."))}
        about, warnings = parse(ModelSettingsDoc, settings, where, name,
                                field_prefix=f"tag {PREFIX}")
        if problems is not None:
            problems += warnings
        card = None
        card_doc = card_doc_from_tags(tags)
        if card_doc is not None:
            # the same schema as model.json's "card"; a bad field is left out with a warning
            wrapped, warnings = parse(_CardHolder, {"card": card_doc}, where, name,
                                      field_prefix=f"tag {PREFIX}")
            card = card_info(wrapped.card)
            if problems is not None:
                problems += warnings
        production_table = None
        if tags.get(PREFIX + "production_table"):  # "<connection>:<table>" (registry/rows.py)
            try:
                production_table = table_tag(tags[PREFIX + "production_table"])
            except ValueError as e:
                if problems is not None:
                    problems.append(Problem(where, f"tag {PREFIX}production_table", str(e),
                                            model=name, severity="warning"))
        return Model(
            name=name,
            task=task,
            **about.model_dump(),  # description, owner, tags, entity, unit, positive class
            business=business,
            updated_at=_time(rm.last_updated_timestamp),
            task_source=answer.source,
            card=card,
            production_table=production_table,
        )

    def _task(self, rm) -> TaskAnswer:
        """What the model predicts and where that came from (registry.mlflow_models): its
        tag when set, else read from its versions' runs, kept until the model changes."""
        tagged = infer_task(rm.tags or {}, [])
        if tagged.source.startswith("set by the registered model's tag"):
            return tagged
        version = self.data_version(rm.name)
        hit = self._tasks.get(rm.name)
        if hit is not None and hit[0] == version:
            return hit[1]
        with self._reading(f"reading the versions of {rm.name!r}"):
            raw = self._model_versions(rm.name)
            champion = {int(n) for a, n in (rm.aliases or {}).items() if a == "champion"}
            raw.sort(key=lambda v: (int(v.version) not in champion, -int(v.version)))
            raw = raw[:5]
            runs = self._runs_by_id([v.run_id for v in raw if v.run_id])
            evidence = []
            for v in raw:
                run = runs.get(v.run_id)
                if run is not None and run.info.lifecycle_stage == "deleted":
                    run = None
                mid = logged_model_id(v.source, getattr(v, "model_id", None))
                metrics = dict(run.data.metrics) if run is not None else {}
                if mid:  # metrics logged on the logged model, e.g. from another run
                    for key, value in self._logged_model_metrics(mid).items():
                        metrics.setdefault(key, value)
                names = tuple(f.path for f in self._artifacts(v.run_id, None)) \
                    if run is not None else ()
                evidence.append((f"v{v.version}", run.data.tags if run is not None else {},
                                 metrics, names,
                                 lambda v=v, mid=mid: read_mlmodel(self.client, v.run_id, mid,
                                                                   v.source)))
            answer = infer_task(rm.tags or {}, evidence)
        self._tasks[rm.name] = (version, answer)
        return answer

    def _logged_model_metrics(self, model_id: str) -> dict[str, float]:
        try:
            return logged_model_metrics(self.client.get_logged_model(model_id))
        except Exception as e:
            if _not_found(e) or isinstance(e, AttributeError):
                return {}
            raise

    def _logged_model_run(self, model_id: str) -> str | None:
        try:
            return self.client.get_logged_model(model_id).source_run_id or None
        except Exception as e:
            if _not_found(e) or isinstance(e, AttributeError):
                return None
            raise

    def list_versions(self, model: str) -> Listing[tuple[ModelVersion, ...]]:
        problems: list[Problem] = []
        with self._reading(f"reading the versions of {model!r}"):
            try:
                rm = self.client.get_registered_model(model)
            except Exception as e:
                if _not_found(e):
                    raise KeyError(model) from None
                raise
            raw = self._model_versions(model)
            # MLflow 3: a version registered from a logged model (models:/m-…) belongs to
            # the run that logged it; metrics may be logged on the logged model itself.
            model_ids = {v.version: logged_model_id(v.source, getattr(v, "model_id", None))
                         for v in raw}
            logged = dict(zip(
                [k for k, mid in model_ids.items() if mid],
                self._map(lambda mid: self._logged_model(mid),
                          [mid for mid in model_ids.values() if mid])))
            run_of = {v.version: v.run_id or getattr(logged.get(v.version), "source_run_id",
                                                     None) for v in raw}
            runs = self._runs_by_id([r for r in run_of.values() if r])
            deleted = {rid for rid, r in runs.items() if r.info.lifecycle_stage == "deleted"}
            runs = {rid: r for rid, r in runs.items() if rid not in deleted}
            splits = self._map(lambda v: self._splits(run_of[v.version])
                               if run_of[v.version] in runs else (), raw)
            tables = {}  # version -> its tag modeldeck.evaluation_table, when well formed
            for v in raw:
                try:
                    tables[v.version] = evaluation_table_of(v.tags)
                except ValueError as e:  # costs the tag, not the version
                    problems.append(Problem(version_where(model, v.version),
                                            f"tag {EVALUATION_TABLE_TAG}", f"{e}; ignored",
                                            model=model, severity="warning"))
            # Stored chart images stand in for ModelDeck's own charts: listed only for the
            # versions without prediction rows (artifacts or a table in an engine).
            images = self._map(lambda vs: images_of(self._artifacts(run_of[vs[0].version], None))
                               if run_of[vs[0].version] in runs and not vs[1]
                               and not tables.get(vs[0].version) else (),
                               list(zip(raw, splits)))
        # MLflow 3 may leave ``aliases`` empty on searched versions; the model has the map.
        aliases: dict[int, set[str]] = {}
        for alias, number in (rm.aliases or {}).items():
            aliases.setdefault(int(number), set()).add(alias)
        out = []
        for v, split_names, image_list in zip(raw, splits, images):
            number = int(v.version)
            run_id = run_of[v.version]
            run = runs.get(run_id)
            if run_id and run is None:
                why = "was deleted" if run_id in deleted else "cannot be found (deleted?)"
                problems.append(Problem(version_where(model, number), "run_id",
                                        f"run {run_id} {why}; its params and metrics are not "
                                        "shown", model=model, severity="warning"))
            run_tags = run.data.tags if run is not None else {}
            metrics = _finite(run.data.metrics) if run is not None else {}
            lm = logged.get(v.version)
            for key, value in _finite(logged_model_metrics(lm) if lm is not None else {}
                                      ).items():
                metrics.setdefault(key, value)
            stage = STAGES.get((v.current_stage or "").lower())
            training = data_doc_from_tags(run_tags, TRAINING_DATA_PREFIX)
            if training is not None:
                where = version_where(model, number)
                try:
                    doc, _ = parse(DataDoc, training, where, model,
                                   field_prefix=f"run tag {TRAINING_DATA_PREFIX}")
                    training = data_info(doc)
                except RegistryError as e:  # costs the training-data line, not the version
                    problems.append(replace(e.problem, severity="warning",
                                            message=e.problem.message + "; ignored"))
                    training = None
            described = {}
            for split, doc in split_docs_from_tags(run_tags).items():
                try:
                    described[split], _ = parse(
                        SplitDoc, doc, version_where(model, number), model,
                        field_prefix=f"run tag {SPLIT_PREFIX}{split}")
                except RegistryError as e:  # costs the split's description, not the version
                    problems.append(replace(e.problem, severity="warning",
                                            message=e.problem.message + "; ignored"))
            out.append(ModelVersion(
                model=model,
                version=number,
                aliases=tuple(sorted(aliases.get(number, set()) | set(v.aliases or ()))),
                stage=stage,
                created_at=_time(v.creation_timestamp),
                run_id=run_id or None,
                algorithm=(v.tags.get(PREFIX + "algorithm") or run_tags.get(PREFIX + "algorithm")
                           or run_tags.get("estimator_name") or ""),
                params=({k: param_value(x) for k, x in run.data.params.items()}
                        if run is not None else {}),
                metrics=metrics,
                description=v.description or "",
                splits=split_names,
                tags={k: x for k, x in run_tags.items() if not k.startswith("mlflow.")},
                datasets=run_datasets(run) if run is not None else (),
                images=image_list,
                model_id=model_ids.get(v.version),
                training_data=training,
                split_info=split_infos(described),
            ))
        out.sort(key=lambda v: v.version, reverse=True)
        return Listing(tuple(out), tuple(problems))

    def _logged_model(self, model_id: str):
        try:
            return self.client.get_logged_model(model_id)
        except Exception as e:
            if _not_found(e) or isinstance(e, AttributeError):
                return None
            raise

    def _model_versions(self, model: str) -> list:
        return self._all(lambda **kw: self.client.search_model_versions(
            filter_string=f"name = {_quote(model)}", **kw))

    def _version(self, model: str, version: int):
        try:
            return self.client.get_model_version(model, str(int(version)))
        except Exception as e:
            if _not_found(e):
                raise KeyError(f"{model} v{version}") from None
            raise

    def _runs_by_id(self, run_ids: Sequence[str]) -> dict:
        def get(rid):
            try:
                return self.client.get_run(rid)
            except Exception as e:
                if _not_found(e):
                    return None
                raise
        return {r.info.run_id: r for r in self._map(get, list(dict.fromkeys(run_ids)))
                if r is not None}


def _time(ms) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


class _CardHolder(_Doc):
    """A registered model's card tags, validated as model.json's ``card`` (whose bad fields
    are left out with a warning naming the tag)."""

    IGNORABLE: ClassVar[frozenset[str]] = frozenset({"card"})
    card: CardDoc | None = None


def _number_or_text(raw: str):
    """A business tag as the number it spells (for the schema's checks), else the text."""
    try:
        return float(raw) if raw.strip().lower() not in ("nan", "inf", "-inf", "infinity") \
            else raw
    except ValueError:
        return raw
