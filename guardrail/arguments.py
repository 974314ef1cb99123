"""Checking a tool call's arguments against the tool's JSON schema, so that no correction emits a call that fails.

The check covers the JSON Schema a tool-calling framework writes for a tool's arguments (LangChain's
``tool_call_schema``, pydantic's ``model_json_schema``, OpenAI function ``parameters``): ``type`` (one or a list),
``enum``, ``const``, ``required``, ``properties``, ``additionalProperties``, ``items``, ``anyOf`` / ``oneOf`` /
``allOf`` and local ``$ref`` (``#/$defs/...``, ``#/definitions/...``). A keyword it does not know is not checked
(it never rejects what it cannot read). Time is linear in the size of the arguments times the schema's depth.

>>> schema = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
>>> argument_errors({}, schema)
("missing required argument 'query'",)
>>> argument_errors({"query": "install"}, schema)
()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["argument_errors", "carried_arguments", "missing_arguments"]

_MAX_REF_DEPTH = 32  # a recursive schema ($ref to itself) is followed this deep, then accepted

_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, (list, tuple)),
    "object": lambda v: isinstance(v, Mapping),
}


def argument_errors(arguments: Mapping[str, Any] | None, schema: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Why ``arguments`` do not fit ``schema`` (a tool's argument JSON schema), one line per problem; ``()`` if they do.

    ``None`` arguments count as ``{}``; a ``None`` or empty schema accepts anything.
    """
    if not schema:
        return ()
    errors: list[str] = []
    _check({} if arguments is None else arguments, schema, schema, "", errors, 0)
    return tuple(errors)


def missing_arguments(arguments: Mapping[str, Any] | None, schema: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The required top-level arguments of ``schema`` that ``arguments`` lack, in the schema's order."""
    required = (schema or {}).get("required")
    if not isinstance(required, Sequence) or isinstance(required, str):
        return ()
    given = arguments or {}
    return tuple(name for name in required if isinstance(name, str) and name not in given)


def carried_arguments(arguments: Mapping[str, Any] | None, schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The arguments a call renamed to the schema's tool keeps: those the schema declares (all, if it declares none).

    >>> carried_arguments({"query": "x", "to": "a"}, {"properties": {"query": {"type": "string"}}})
    {'query': 'x'}
    """
    given = dict(arguments or {})
    properties = (schema or {}).get("properties")
    if not isinstance(properties, Mapping):
        return given
    return {name: value for name, value in given.items() if name in properties}


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    if not ref.startswith("#/"):
        return None  # a remote reference: not checked
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part) if isinstance(target, Mapping) else None
    return target if isinstance(target, Mapping) else None


def _check(value: Any, schema: Any, root: Mapping[str, Any], where: str, errors: list[str], depth: int) -> None:
    if not isinstance(schema, Mapping) or depth > _MAX_REF_DEPTH:
        return
    resolved = _resolve(schema, root)
    if resolved is None:
        return
    if resolved is not schema:
        _check(value, resolved, root, where, errors, depth + 1)
        # keywords beside a $ref (JSON Schema 2019+) are checked too
        schema = {k: v for k, v in schema.items() if k != "$ref"}
    label = f"argument {where!r}" if where else "the arguments"
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, Sequence) and options:
            if not any(_fits(value, option, root, depth + 1) for option in options):
                errors.append(f"{label} match none of the allowed forms")
            return
    for option in schema.get("allOf", ()) if isinstance(schema.get("allOf"), Sequence) else ():
        _check(value, option, root, where, errors, depth + 1)
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected) if isinstance(expected, Sequence) else []
        known = [name for name in names if name in _TYPES]
        if known and not any(_TYPES[name](value) for name in known):
            errors.append(f"{label} should be {' or '.join(known)}, got {type(value).__name__}")
            return
    if "enum" in schema and isinstance(schema["enum"], Sequence) and value not in schema["enum"]:
        errors.append(f"{label} should be one of {list(schema['enum'])!r}, got {value!r}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{label} should be {schema['const']!r}, got {value!r}")
    if isinstance(value, Mapping):
        _check_object(value, schema, root, where, errors, depth)
    elif isinstance(value, (list, tuple)) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            _check(item, schema["items"], root, f"{where}[{i}]", errors, depth + 1)


def _check_object(
    value: Mapping[str, Any],
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    where: str,
    errors: list[str],
    depth: int,
) -> None:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    prefix = f"{where}." if where else ""
    for name in missing_arguments(value, schema):
        errors.append(f"missing required argument {prefix + name!r}")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            _check(item, properties[name], root, prefix + str(name), errors, depth + 1)
        elif extra is False:
            errors.append(f"unknown argument {prefix + str(name)!r}")
        elif isinstance(extra, Mapping):
            _check(item, extra, root, prefix + str(name), errors, depth + 1)


def _fits(value: Any, schema: Any, root: Mapping[str, Any], depth: int) -> bool:
    found: list[str] = []
    _check(value, schema, root, "", found, depth)
    return not found
