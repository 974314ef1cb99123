"""Response models whose validators refuse a knowing-doing gap, so that instructor's own re-ask fixes it.

:func:`decision_model` builds a pydantic model with a rationale (first, so the model reasons before it acts), an
optional ``intended_action`` and an ``action`` typed as a ``Literal`` of the legal actions. Its validators raise a
``ValueError`` naming the contradiction ("your rationale recommends 'blue' but action is 'red'; ...") or the legal
actions; instructor turns the resulting ``ValidationError`` into a re-ask message and calls the model again, up to
``max_retries`` times.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, cast

from pydantic import BaseModel, BeforeValidator, Field, create_model, model_validator
from typing_extensions import Self

from guardrail import ActionSpace, Decision, Guard, KnowingDoingGap, read_rationale
from guardrail.exceptions import ConfigurationError
from guardrail.parsing import RawReading, decision_from_reading
from guardrail.rationale import RationaleReader

__all__ = ["DecisionModel", "DecisionSpec", "decision_model", "models_action_space"]

_ACTION_FIELD = "action"
_INTENDED_FIELD = "intended_action"


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionSpec:
    """How a :class:`DecisionModel` reads and checks itself (``Model.guardrail_spec``).

    Attributes:
        actions: the legal actions.
        rationale_field: the name of the rationale field.
        intended_field: the name of the explicit "action my rationale recommends" field, or None.
        check_gap: whether validation refuses an answer whose action contradicts its rationale.
        reader: how the rationale's recommendation is read (default: the lexical reader).
        min_confidence: a lexical reading below this confidence never counts as a contradiction.
    """

    actions: ActionSpace
    rationale_field: str = "rationale"
    intended_field: str | None = None
    check_gap: bool = True
    reader: RationaleReader | None = None
    min_confidence: float = 0.5

    @property
    def legal(self) -> str:
        """The legal actions, as a comma-separated list."""
        return ", ".join(self.actions.names)

    def raw_reading(self, data: Mapping[str, Any]) -> RawReading | None:
        """Read a mapping with this spec's field names (case-insensitive); None when it has no action field."""
        lowered = {str(key).lower(): value for key, value in data.items()}
        if _ACTION_FIELD not in lowered:
            return None
        rationale = lowered.get(self.rationale_field.lower())
        intended = lowered.get(self.intended_field.lower()) if self.intended_field else None
        return RawReading(
            rationale=rationale if isinstance(rationale, str) else "",
            action_text=_as_str(lowered[_ACTION_FIELD]),
            intended_text=_as_str(intended),
        )

    def contradiction(self, rationale: str, action: str, intended: str | None) -> str | None:
        """The re-ask message when ``action`` contradicts the rationale (or ``intended``); None when consistent."""
        if not self.check_gap:
            return None
        if intended is not None:
            if intended == action:
                return None
            recommended, source = intended, f" ({self.intended_field})"
            revise = f"the rationale and {self.intended_field} if they were wrong"
        else:
            reading = read_rationale(rationale, self.actions, self.reader)
            if reading.action is None or reading.action == action or reading.confidence < self.min_confidence:
                return None
            recommended, source = reading.action, f" ({reading.evidence!r})" if reading.evidence else ""
            revise = "the rationale if it was wrong"
        return (
            f"your rationale recommends {recommended!r}{source} but action is {action!r}; act on your rationale: "
            f"set action to {recommended!r}, or revise {revise}. Legal actions: {self.legal}."
        )


class DecisionModel(BaseModel):
    """Base class of the models :func:`decision_model` builds.

    Subclasses carry a :class:`DecisionSpec` in ``guardrail_spec``; this base validates the finished model
    against it (a knowing-doing gap raises ``ValueError``, which instructor sends back to the model).
    """

    guardrail_spec: ClassVar[DecisionSpec]

    if TYPE_CHECKING:  # the field itself is built per action space (a Literal of the legal actions)
        action: str

    @model_validator(mode="after")
    def _refuse_knowing_doing_gap(self) -> Self:
        spec = getattr(type(self), "guardrail_spec", None)
        if not isinstance(spec, DecisionSpec):
            return self
        values = self.__dict__
        rationale = values.get(spec.rationale_field)
        intended = values.get(spec.intended_field) if spec.intended_field else None
        problem = spec.contradiction(
            rationale if isinstance(rationale, str) else "",
            str(values[_ACTION_FIELD]),
            intended if isinstance(intended, str) else None,
        )
        if problem is not None:
            raise ValueError(problem)
        return self

    def rationale_text(self) -> str:
        """The rationale, whatever its field is called."""
        value = self.__dict__.get(type(self).guardrail_spec.rationale_field)
        return value if isinstance(value, str) else ""

    def to_decision(self, reader: RationaleReader | None = None) -> Decision:
        """This answer as a :class:`guardrail.Decision` (the explicit intended action wins over the reader)."""
        spec = type(self).guardrail_spec
        reading = spec.raw_reading(self.model_dump())
        assert reading is not None  # every DecisionModel has an action field
        return decision_from_reading(reading, spec.actions, format="structured", raw=self, reader=reader or spec.reader)


def _as_str(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _legal_action(space: ActionSpace, field: str, *, optional: bool) -> Callable[[object], object]:
    """A before-validator: resolve spelling variants ("Red", "**red**") to the canonical name, or refuse."""

    def resolve(value: object) -> object:
        if value is None and optional:
            return None
        found = space.resolve(value)
        if found is None:
            shown = repr(value) if isinstance(value, str) else f"{type(value).__name__} {value!r}"
            raise ValueError(f"{shown} is not a legal action; {field} must be exactly one of: {', '.join(space.names)}")
        return found

    return resolve


def models_action_space(models: Iterable[type[BaseModel]]) -> ActionSpace:
    """The action space of an agent whose actions are pydantic models (instructor's tool-like response models).

    One action per model, named by its JSON-schema title (its class name unless configured), described by the
    first line of its docstring (or its schema's description), so the rationale reader grounds "I'll look the
    order up" to ``LookupOrder``.

    >>> class LookupOrder(BaseModel):
    ...     "Find an order by its id."
    ...     order_id: str
    >>> models_action_space([LookupOrder]).descriptions
    {'LookupOrder': 'Find an order by its id.'}
    """
    names: list[str] = []
    descriptions: dict[str, str] = {}
    for model in models:
        candidate: object = model  # typed, but users pass anything
        if not (isinstance(candidate, type) and issubclass(candidate, BaseModel)):
            raise ConfigurationError(f"models_action_space takes pydantic model classes; got {model!r}")
        schema = model.model_json_schema()
        name = str(schema.get("title") or model.__name__)
        text = schema.get("description") or model.__doc__ or ""
        names.append(name)
        if isinstance(text, str) and text.strip():
            descriptions[name] = text.strip().splitlines()[0]
    return ActionSpace(names, descriptions=descriptions)


def _guard_settings(guard: Guard) -> tuple[ActionSpace, RationaleReader | None, float | None, bool]:
    gap = next((d for d in guard.detectors if isinstance(d, KnowingDoingGap)), None)
    return guard.actions, guard.reader, gap.min_confidence if gap else None, gap is not None


def decision_model(
    actions: ActionSpace | Iterable[str] | Guard,
    *,
    rationale_field: str = "rationale",
    intended_action: bool = False,
    check_gap: bool | None = None,
    reader: RationaleReader | None = None,
    min_confidence: float | None = None,
    name: str = "GuardedDecision",
) -> type[DecisionModel]:
    """Build a response model for ``client.create(response_model=...)`` that refuses a knowing-doing gap.

    The model has, in this order: ``rationale_field`` (a string), ``intended_action`` (when asked for: the action
    the rationale recommends, or null) and ``action`` (a ``Literal`` of the legal actions; spelling variants such
    as ``"Red"`` resolve to ``"red"``). Validation raises ``ValueError`` when:

    - the action is not legal ("'purple' is not a legal action; action must be exactly one of: red, blue");
    - ``intended_action`` is given and differs from ``action``;
    - otherwise, the rationale read by ``reader`` confidently (>= ``min_confidence``) recommends another action
      ("your rationale recommends 'blue' ('so I choose blue') but action is 'red'; act on your rationale ...").

    instructor catches the ``ValidationError`` and re-asks with its text; ``max_retries`` (an int, or a tenacity
    ``Retrying`` / ``AsyncRetrying``) on ``create`` bounds how often.

    Args:
        actions: the legal actions, or a :class:`~guardrail.Guard` to take the actions, the reader and the
            knowing-doing detector's ``min_confidence`` from (a guard without a ``KnowingDoingGap`` detector
            gives a model that does not check gaps, unless ``check_gap=True``).
        rationale_field: the name of the rationale field (a Python identifier).
        intended_action: add the explicit ``intended_action`` field (checked against ``action`` exactly).
        check_gap: refuse contradictions (default True; for a guard, whether it detects knowing-doing gaps).
        reader: reads the rationale's recommendation (default: :class:`guardrail.LexicalReader`).
        min_confidence: weaker lexical readings never count (default 0.5, or the guard's detector's).
        name: the model's class name (also the JSON schema's title the LLM sees).

    Raises:
        ConfigurationError: an empty action space, a bad field name or a confidence outside [0, 1].

    >>> Answer = decision_model(["red", "blue"])
    >>> Answer.model_validate({"rationale": "Blue has the highest UCB, so I choose blue.", "action": "Blue"}).action
    'blue'
    """
    gap_default = True
    if isinstance(actions, Guard):
        space, guard_reader, guard_confidence, gap_default = _guard_settings(actions)
        reader = reader if reader is not None else guard_reader
        min_confidence = min_confidence if min_confidence is not None else guard_confidence
    else:
        space = ActionSpace.of(actions)
    confidence = 0.5 if min_confidence is None else min_confidence
    checked: object = confidence
    if (
        isinstance(checked, bool)
        or not isinstance(checked, (int, float))
        or math.isnan(confidence)
        or not 0.0 <= confidence <= 1.0
    ):
        raise ConfigurationError(f"min_confidence must be a number in [0, 1], got {min_confidence!r}")
    field_name: object = rationale_field
    if (
        not isinstance(field_name, str)
        or not field_name.isidentifier()
        or keyword.iskeyword(field_name)
        or field_name.startswith(("_", "model_"))
        or field_name in (_ACTION_FIELD, _INTENDED_FIELD, "guardrail_spec")
    ):
        raise ConfigurationError(
            f"rationale_field must be a public Python identifier other than 'action' and 'intended_action', "
            f"got {rationale_field!r}"
        )
    class_name: object = name
    if not isinstance(class_name, str) or not class_name.isidentifier():
        raise ConfigurationError(f"name must be a Python identifier, got {name!r}")
    spec = DecisionSpec(
        actions=space,
        rationale_field=rationale_field,
        intended_field=_INTENDED_FIELD if intended_action else None,
        check_gap=gap_default if check_gap is None else bool(check_gap),
        reader=reader,
        min_confidence=float(confidence),
    )
    literal: Any = cast(Any, Literal)[space.names]
    legal = ", ".join(space.names)
    fields: dict[str, Any] = {
        rationale_field: (
            str,
            Field(
                description=(
                    "Your reasoning, written before anything else: weigh the options, then say which action "
                    "you choose and why."
                )
            ),
        )
    }
    if intended_action:
        fields[_INTENDED_FIELD] = (
            Annotated[literal | None, BeforeValidator(_legal_action(space, _INTENDED_FIELD, optional=True))],
            Field(default=None, description=f"The action your rationale recommends: exactly one of {legal}."),
        )
    fields[_ACTION_FIELD] = (
        Annotated[literal, BeforeValidator(_legal_action(space, _ACTION_FIELD, optional=False))],
        Field(description=f"The action you take: exactly one of {legal}; the one your rationale recommends."),
    )
    model = create_model(name, __base__=DecisionModel, __module__=__name__, **fields)
    model.guardrail_spec = spec
    return model
