"""The registry's metadata files as typed models: the one schema of the format.

Every metadata document (``model.json``, ``version.json``, ``experiment.json``, one line of
``runs.jsonl``) is parsed here, once, at the moment it is read. The schema's error locations
become a ``Problem`` that names the file and the field; everything past this edge trusts its
types. The same models check what ``registry.writer`` writes, and publish the format as JSON
Schema (``python -m registry.schema docs/schema`` writes ``docs/schema/*.schema.json``).

Rules (docs/registry-format.md, "Limits and normalisation"):

* A field whose value is unusable is either *fatal* (the document is left out: a model's
  ``task``, a version's ``version``) or *ignorable* (that field, or that one entry of an
  object such as ``metrics.auc``, is dropped with a warning and the rest is used).
* Text, numbers, times and the other values are checked and cleaned by their types
  (``registry.schema_types``): control characters removed, long text cut, numbers finite.
* A document nested deeper than ``MAX_DEPTH`` levels is refused before it is validated.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator,
)

from .model import SPLIT_KINDS, TASKS, Problem, RegistryError
from .schema_types import (
    Label, Metrics, Names, Number, OptionalId, Params, Tags, Text, TextList, Time, as_object,
    invalid, optional_id, shown,
)

MAX_DEPTH = 32  # nesting of objects and lists in one JSON document


class _Doc(BaseModel):
    # Unknown keys are accepted and ignored, so that newer writers stay readable.
    model_config = ConfigDict(extra="ignore", frozen=True)

    #: top-level fields whose bad value (or bad entry) is dropped with a warning
    IGNORABLE: ClassVar[frozenset[str]] = frozenset()


# ------------------------------------------------------------------ documents
class BusinessDoc(_Doc):
    """``business`` in model.json: what predictions are worth (money per event)."""

    positive_means: Text = ""
    value_true_positive: Number | None = None
    cost_false_positive: Number | None = None
    cost_false_negative: Number | None = None
    volume_per_month: Number | None = Field(default=None, ge=0)
    currency: Text = "EUR"
    cost_per_unit_error: Number | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        return v.strip()[:12] or "EUR"



class DataDoc(_Doc):
    """Where a model's data came from: ``card.training_data`` / ``card.evaluation_data`` in
    model.json and ``training_data`` in version.json."""

    source: Text = ""  # where the rows came from ("CRM export, all active contracts")
    rows: int | None = Field(default=None, ge=0, le=2**53)
    period: Text = ""  # the time the rows cover ("Jan 2024 - Dec 2024")

    @field_validator("rows", mode="before")
    @classmethod
    def _whole(cls, v):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise invalid("must be a whole number >= 0, got {got}", got=shown(v))
        return v


class CardDoc(_Doc):
    """``card`` in model.json: what a model card needs that the rest of the registry does not
    hold. Every field is optional; a missing one reads "not documented yet" on the card."""

    purpose: Text = ""  # what the model is for, in a sentence or two (Markdown allowed)
    intended_use: Text = ""  # who uses its output, and how
    out_of_scope: Text = ""  # uses it was not built or checked for
    limitations: TextList = Field(default_factory=list)  # known limitations, one per entry
    caveats: TextList = Field(default_factory=list)  # what a reader of its numbers must know
    training_data: DataDoc | None = None
    evaluation_data: DataDoc | None = None


class TableDoc(_Doc):
    """Prediction rows kept in an external engine: ``production_table`` in model.json,
    ``evaluation_table`` in version.json (registry/rows.py). ``connection`` names a connection
    the person running ModelDeck set up; the registry never holds its address or secrets."""

    connection: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    table: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_.`-]+$")


class ModelSettingsDoc(_Doc):
    """What a model says about itself besides its task and business numbers: these fields of
    model.json, and the same settings as a registered model's ``modeldeck.*`` tags and
    description in MLflow (``registry.mlflow_registered``)."""

    IGNORABLE: ClassVar[frozenset[str]] = frozenset({"description", "owner", "tags", "entity",
                                                     "target_unit"})

    description: Text = ""
    owner: Text = ""
    tags: Tags = Field(default_factory=dict)
    entity: Text = ""
    target_unit: Text = ""
    positive_label: Label = None


class ModelDoc(ModelSettingsDoc):
    """``models/<model>/model.json``."""

    IGNORABLE: ClassVar[frozenset[str]] = ModelSettingsDoc.IGNORABLE | {"business", "card"}

    task: Literal["binary", "multiclass", "regression"]
    name: OptionalId = None
    business: BusinessDoc | None = None
    card: CardDoc | None = None
    production_table: TableDoc | None = None  # production rows in an external engine

    @field_validator("task", mode="before")
    @classmethod
    def _task(cls, v):
        if v not in TASKS:
            raise invalid("unknown task {got}; expected one of " + ", ".join(TASKS),
                        got=shown(v))
        return v


class SplitDoc(_Doc):
    """One entry of ``splits`` in version.json: what an evaluation split is."""

    kind: Literal[SPLIT_KINDS] = "other"  # type: ignore[valid-type]
    description: Text = ""  # a stress set's change in words: "with 10% of values missing"

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v):
        if v not in SPLIT_KINDS:
            raise invalid("unknown split kind {got}; expected one of " + ", ".join(SPLIT_KINDS),
                        got=shown(v))
        return v


class VersionDoc(_Doc):
    """``models/<model>/versions/<folder>/version.json``."""

    IGNORABLE: ClassVar[frozenset[str]] = frozenset({"stage", "created_at", "run_id", "algorithm", "params", "metrics",
                           "description", "training_data", "splits"})

    version: int = Field(ge=0, le=2**53)
    aliases: Names = Field(default_factory=list)
    stage: OptionalId = None
    created_at: Time = None
    run_id: OptionalId = None
    algorithm: Text = ""
    params: Params = Field(default_factory=dict)
    metrics: Metrics = Field(default_factory=dict)
    description: Text = ""
    training_data: DataDoc | None = None  # the rows this version was trained on
    #: split name -> what that split is; a bad entry is dropped with a warning naming it
    splits: Annotated[dict[str, SplitDoc], BeforeValidator(as_object)] = Field(
        default_factory=dict)
    evaluation_table: TableDoc | None = None  # the "test" rows in an external engine

    @field_validator("version", mode="before")
    @classmethod
    def _whole(cls, v):
        if isinstance(v, bool) or not isinstance(v, int):
            raise invalid("must be a whole number >= 0, got {got}", got=shown(v))
        return v


class ExperimentDoc(_Doc):
    """``experiments/<experiment>/experiment.json``."""

    IGNORABLE: ClassVar[frozenset[str]] = frozenset({"name", "description"})

    name: Text = ""
    description: Text = ""


class RunDoc(_Doc):
    """One line of ``experiments/<experiment>/runs.jsonl``."""

    IGNORABLE: ClassVar[frozenset[str]] = frozenset({"name", "status", "start_time", "end_time", "params", "metrics",
                           "tags"})

    run_id: Annotated[str, BeforeValidator(optional_id)]
    name: Text = ""
    status: Text = "FINISHED"
    start_time: Time = None
    end_time: Time = None
    params: Params = Field(default_factory=dict)
    metrics: Metrics = Field(default_factory=dict)
    tags: Tags = Field(default_factory=dict)

    @field_validator("status")
    @classmethod
    def _status(cls, v: str) -> str:
        return v[:40] or "FINISHED"


DOCUMENTS: dict[str, type[_Doc]] = {"model": ModelDoc, "version": VersionDoc,
                                    "experiment": ExperimentDoc, "run": RunDoc}


# ------------------------------------------------------------------ parsing
def json_depth_ok(doc: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``doc`` nests at most ``limit`` objects/lists deep (checked without recursion)."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return False
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return True


def loads(data: bytes | str, rel: str, model: str | None = None, where: str = "") -> Any:
    """JSON text as Python values; RegistryError naming ``rel`` (and ``where``, e.g. a line)
    for text that is not UTF-8, not JSON, or nested too deeply."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as e:
        raise RegistryError(Problem(rel, where, f"is not UTF-8 text (byte {e.start})",
                                    model=model)) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise RegistryError(Problem(rel, where, f"is not valid JSON: {e.msg} at line "
                                    f"{e.lineno}, column {e.colno}", model=model)) from None
    except RecursionError:
        doc = None
        deep = True
    else:
        deep = not json_depth_ok(doc)
    if deep:
        raise RegistryError(Problem(rel, where, f"is nested more than {MAX_DEPTH} levels deep",
                                    model=model))
    return doc


def _field_name(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def _message(err: dict) -> str:
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "modeldeck":
        return err["msg"]
    msg = err["msg"]
    if err["type"].startswith(("greater_than", "less_than")):
        return msg.replace("Input should be", "must be") + f" (got {shown(err.get('input'))})"
    return msg[0].lower() + msg[1:] + f" (got {shown(err.get('input'))})"


def parse(cls: type[_Doc], doc: Any, rel: str, model: str | None = None,
          field_prefix: str = "") -> tuple[_Doc, list[Problem]]:
    """Validate one document: the typed model and the warnings for ignored fields.

    Raises RegistryError naming the first fatal field. An ignorable field's bad value (or
    the one bad entry of an ignorable object, like ``metrics.auc``) is dropped with a
    warning, and the rest is validated again.
    """
    if not isinstance(doc, dict):
        raise RegistryError(Problem(rel, field_prefix.rstrip(": "),
                                    "must hold a JSON object", model=model))
    doc = dict(doc)
    warnings: list[Problem] = []
    for _ in range(64):  # each round drops at least one bad field
        try:
            return cls.model_validate(doc), warnings
        except ValidationError as e:
            errors = e.errors(include_url=False)
        for err in errors:
            loc = tuple(err["loc"])
            # a BeforeValidator on a dict value reports the key as the last location part
            if not loc or loc[0] not in cls.IGNORABLE:
                raise RegistryError(Problem(rel, field_prefix + _field_name(loc),
                                            _message(err), model=model))
        for err in errors:
            loc = tuple(err["loc"])
            top = loc[0]
            if len(loc) >= 2 and isinstance(doc.get(top), dict) and loc[1] in doc[top] \
                    and top not in ("business",):
                inner = dict(doc[top])
                inner.pop(loc[1], None)
                doc[top] = inner
            else:
                doc.pop(top, None)
            warnings.append(Problem(rel, field_prefix + _field_name(loc),
                                    f"{_message(err)}; ignored", model=model,
                                    severity="warning"))
    raise RegistryError(Problem(rel, field_prefix.rstrip(": "), "has too many bad fields",
                                model=model))


def check(cls: type[_Doc], doc: dict, what: str) -> _Doc:
    """For writers: validate ``doc`` strictly (warnings are errors); ValueError naming the
    field otherwise."""
    try:
        parsed, warnings = parse(cls, doc, what)
    except RegistryError as e:
        raise ValueError(str(e.problem)) from None
    if warnings:
        raise ValueError(str(warnings[0]).removesuffix("; ignored"))
    return parsed


def json_schemas() -> dict[str, dict]:
    """The published JSON Schema of each metadata document."""
    out = {}
    for name, cls in DOCUMENTS.items():
        schema = cls.model_json_schema(mode="validation")
        schema["$id"] = f"https://modeldeck.invalid/schema/{name}.schema.json"
        schema["description"] = (cls.__doc__ or "").strip()
        out[name] = schema
    return out


def main(argv: list[str] | None = None) -> None:
    import sys
    from pathlib import Path

    target = Path((argv if argv is not None else sys.argv[1:] or ["docs/schema"])[0])
    target.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        (target / f"{name}.schema.json").write_text(json.dumps(schema, indent=2) + "\n")


def card_info(doc: CardDoc | None):
    """The validated ``card`` section as the domain's CardInfo (None when absent)."""
    from .model import CardInfo
    if doc is None:
        return None
    return CardInfo(purpose=doc.purpose, intended_use=doc.intended_use,
                    out_of_scope=doc.out_of_scope, limitations=tuple(doc.limitations),
                    caveats=tuple(doc.caveats), training_data=data_info(doc.training_data),
                    evaluation_data=data_info(doc.evaluation_data))


def split_infos(splits: dict[str, SplitDoc]):
    from .model import SplitInfo
    return {name: SplitInfo(d.kind, d.description) for name, d in splits.items()}


def data_info(doc: DataDoc | None):
    from .model import DataInfo
    return None if doc is None else DataInfo(doc.source, doc.rows, doc.period)


if __name__ == "__main__":
    main()
