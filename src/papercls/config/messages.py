"""A pydantic ValidationError of the params schema (:mod:`papercls.config.schema`) as problems:
one ``(dotted key, message)`` per bad key, the message saying what the schema expects and what
was found (``expected an integer >= 1, got 'three' (a string)``; ``got 'bogus' (a string);
allowed values: f1, prior, fixed``; ``unknown key; known keys of thresholds: ...``). The
expectation is read from the field itself (its type, bounds, allowed words, nullability and
description), so it cannot drift from the check. The value of an unknown key is never shown.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

Problem = tuple[str, str]
_MISSING = object()
_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a non-empty string"}


def shown(value: Any) -> str:
    """A value as messages quote it: its repr, cut to 60 characters, with its YAML type."""
    kind = {
        bool: "a boolean",
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "a mapping",
    }
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    what = kind.get(type(value))
    return "null" if value is None else f"{text} ({what})" if what else text


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _alternatives(tp: Any) -> tuple[list[Any], bool]:
    """The non-null alternatives of a field's type (Annotated stripped), and whether null is one."""
    tp = _strip(tp)
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [_strip(a) for a in typing.get_args(tp)]
    else:
        args = [tp]
    return [a for a in args if a is not type(None)], type(None) in args


def _model_of(field: FieldInfo) -> type[BaseModel] | None:
    for alt in _alternatives(field.annotation)[0]:
        if isinstance(alt, type) and issubclass(alt, BaseModel):
            return alt
    return None


def _literal(tp: Any) -> tuple[str, ...] | None:
    """The allowed words of a field (also of the items of a list of words), else None."""
    for alt in _alternatives(tp)[0]:
        if typing.get_origin(alt) is Literal:
            return typing.get_args(alt)
        if typing.get_origin(alt) in (list, tuple):
            found = _literal(typing.get_args(alt)[0])
            if found:
                return found
    return None


def _bounds(metadata: list[Any]) -> str:
    lo = hi = None
    lo_open = hi_open = False
    for m in metadata:  # annotated_types' Ge, Gt, Le, Lt, as pydantic's Field makes them
        for name, is_low, is_open in (("ge", 1, 0), ("gt", 1, 1), ("le", 0, 0), ("lt", 0, 1)):
            value = getattr(m, name, None)
            if value is not None and is_low:
                lo, lo_open = value, bool(is_open)
            elif value is not None:
                hi, hi_open = value, bool(is_open)
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f" {'<' if hi_open else '<='} {hi:g}"
    return ""


def _inner_metadata(tp: Any) -> list[Any]:
    """Bounds given on an Annotated type (``Seed``, ``Probability``) rather than on the field."""
    out: list[Any] = []
    while typing.get_origin(tp) is Annotated:
        args = typing.get_args(tp)
        for extra in args[1:]:
            out += getattr(extra, "metadata", [extra])
        tp = args[0]
    return out


def expected(field: FieldInfo) -> str:
    """What ``field`` takes, as messages say it: ``an integer >= 3 or null (null: ...)``."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    alts, nullable = _alternatives(field.annotation)
    what = str(extra.get("expected", ""))
    if not what:
        tp = alts[0] if alts else None
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            what = f"a mapping with keys {', '.join(tp.model_fields)}"
        elif typing.get_origin(tp) in (list, tuple):
            least = [m.min_length for m in field.metadata if hasattr(m, "min_length")]
            names = ", ".join(_literal(tp) or ())
            what = f"a list of at least {least[0] if least else 0} distinct names from {names}"
        else:
            inner = field.annotation if not nullable else typing.get_args(field.annotation)[0]
            bounds = _bounds([*field.metadata, *_inner_metadata(inner)])
            what = _KINDS.get(tp, "a value") + bounds
    if nullable:
        what += " or null"
    return what + (f" ({field.description})" if field.description else "")


def _field_at(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[str], FieldInfo | None]:
    """The dotted key of the deepest schema field on ``loc``, and that field."""
    keys: list[str] = []
    model: type[BaseModel] | None = root
    field = None
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            break
        field = model.model_fields[part]
        keys.append(part)
        model = _model_of(field)
    return keys, field


def _lookup(params: Any, keys: list[str]) -> Any:
    node = params
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _message(err: dict[str, Any], field: FieldInfo, found: Any, model: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "missing; it is required"
    if kind == "value_error":
        return str(err["ctx"]["error"])
    if model is not None:
        return f"expected {expected(field)}; got {shown(found)}"
    words = _literal(field.annotation)
    if words is not None and kind == "literal_error":
        also = f" ({field.description})" if field.description else ""
        return f"got {shown(found)}; allowed values: {', '.join(words)}{also}"
    return f"expected {expected(field)}, got {shown(found)}"


def _unknown(root: type[BaseModel], loc: tuple[Any, ...], prefix: list[str]) -> Problem:
    keys, field = _field_at(root, loc[:-1])
    model = root if not keys else _model_of(field)
    known = ", ".join(model.model_fields) if model is not None else ""
    key = ".".join([*prefix, *(str(p) for p in loc)])
    if not keys and not prefix:
        return key, f"unknown section; known sections: {known}"
    return key, f"unknown key; known keys of {'.'.join([*prefix, *keys])}: {known}"


def problems(
    root: type[BaseModel], exc: ValidationError, params: Any, section: str = ""
) -> list[Problem]:
    """One problem per bad key of ``params`` (the input of ``root.model_validate``): unknown
    keys first, then the others in the schema's order. ``section``: the name of the section
    ``root`` checks, prefixed to each key ("": ``root`` is the whole file)."""
    prefix = [section] if section else []
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    for err in exc.errors():
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            key, msg = _unknown(root, loc, prefix)
            out.setdefault(key, (_order(root, loc, extra=True), msg))
            continue
        keys, field = _field_at(root, loc)
        key = ".".join([*prefix, *keys])
        if key in out:
            continue
        if field is None:  # the input itself
            what = f"keys {', '.join(root.model_fields)}" if prefix else "sections at the top level"
            out[key] = ((), f"expected a mapping of {what}, got {shown(params)}")
            continue
        item = any(isinstance(p, int) for p in loc[len(keys) :])  # an item of a list
        found = err.get("input") if item else _lookup(params, keys)
        model = _model_of(field) if err["type"] == "model_type" else None
        msg = _message(err, field, found, model)
        if err["type"] == "missing" and len(keys) == 1 and not prefix:
            msg = "missing section; it is required"
        out[key] = (_order(root, loc), msg)
    return [(key, msg) for key, (_, msg) in sorted(out.items(), key=lambda kv: kv[1][0])]


def _order(root: type[BaseModel], loc: tuple[Any, ...], extra: bool = False) -> tuple[int, ...]:
    """Sort key: the schema position of each key on ``loc``; an unknown key comes first in its
    mapping."""
    out: list[int] = []
    model: type[BaseModel] | None = root
    for part in loc:
        names = list(model.model_fields) if model is not None else []
        if part not in names:
            out.append(-1 if extra else len(names))
            break
        out.append(names.index(part))
        model = _model_of(model.model_fields[part])
    return tuple(out)
