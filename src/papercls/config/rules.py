"""Building blocks of the params check (``papercls.config.check``).

A *check* is a function of one value that returns None when the value is fine, else a message
saying what was expected and what was found (the caller adds the file and the key). A
:class:`Group` describes a mapping: its known keys, which of them are required, and a check or
a nested group for each; :func:`check_group` returns every problem as ``(dotted key, message)``.
Messages quote a bad value (cut to a few dozen characters), never the value of an unknown key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Check = Callable[[Any], "str | None"]
Problem = tuple[str, str]


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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    """An int, or a float with an integral value (``5.0``): the code applies ``int()``."""
    return _is_number(value) and math.isfinite(value) and float(value).is_integer()


def _bounds(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f" {'<' if hi_open else '<='} {hi:g}"
    return ""


def _within(v: float, lo, hi, lo_open: bool, hi_open: bool) -> bool:
    if lo is not None and (v <= lo if lo_open else v < lo):
        return False
    return not (hi is not None and (v >= hi if hi_open else v > hi))


def _expect(what: str, nullable: bool, note: str = "") -> Callable[[Any], str]:
    what = (f"{what} or null" if nullable else what) + note
    return lambda value: f"expected {what}, got {shown(value)}"


def integer(
    lo: int | None = None, hi: int | None = None, nullable: bool = False, note: str = ""
) -> Check:
    """An integer in [lo, hi] (either bound optional)."""
    fail = _expect(f"an integer{_bounds(lo, hi, False, False)}", nullable, note)

    def check(value: Any) -> str | None:
        if value is None and nullable:
            return None
        if not _is_integer(value) or not _within(value, lo, hi, False, False):
            return fail(value)
        return None

    return check


def number(
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    nullable: bool = False,
) -> Check:
    """A finite int or float within the bounds (open or closed ends)."""
    fail = _expect(f"a number{_bounds(lo, hi, lo_open, hi_open)}", nullable)

    def check(value: Any) -> str | None:
        if value is None and nullable:
            return None
        if not _is_number(value) or not math.isfinite(value):
            return fail(value)
        return None if _within(value, lo, hi, lo_open, hi_open) else fail(value)

    return check


def boolean(nullable: bool = False) -> Check:
    fail = _expect("true or false", nullable)
    return lambda v: None if isinstance(v, bool) or (v is None and nullable) else fail(v)


def text(nullable: bool = False) -> Check:
    """A non-empty string."""
    fail = _expect("a non-empty string", nullable)

    def check(value: Any) -> str | None:
        if value is None and nullable:
            return None
        return None if isinstance(value, str) and value.strip() else fail(value)

    return check


def choice(values: Iterable[str], also: Check | None = None, also_text: str = "") -> Check:
    """One of ``values`` (case and surrounding blanks ignored, as the code reads them), or a
    value that ``also`` accepts (described by ``also_text``)."""
    values = tuple(values)
    allowed = ", ".join(values) + (f" ({also_text})" if also_text else "")

    def check(value: Any) -> str | None:
        if isinstance(value, str) and value.strip().lower() in values:
            return None
        if also is not None and also(value) is None:
            return None
        return f"got {shown(value)}; allowed values: {allowed}"

    return check


def names(values: Iterable[str]) -> Check:
    """A non-empty list of distinct names, each one of ``values``."""
    values = tuple(values)
    allowed = ", ".join(values)

    def check(value: Any) -> str | None:
        if not isinstance(value, list) or not value:
            return f"expected a non-empty list of names from {allowed}, got {shown(value)}"
        bad = [v for v in value if not isinstance(v, str) or v not in values]
        if bad:
            return f"got {shown(bad[0])}; allowed values: {allowed}"
        dupes = sorted({v for v in value if value.count(v) > 1})
        return f"names {dupes} appear more than once" if dupes else None

    return check


@dataclass(frozen=True)
class Field:
    check: Check
    required: bool = False


@dataclass(frozen=True)
class Group:
    """A mapping of known keys. ``nullable``: null stands for an empty mapping."""

    fields: dict[str, Field | Group] = field(default_factory=dict)
    required: bool = False
    nullable: bool = False


def check_group(value: Any, group: Group, key: str) -> list[Problem]:
    """Every problem of ``value`` (the mapping found at dotted ``key``) against ``group``:
    not a mapping, unknown keys (with the list of known ones), missing required keys, bad
    values."""
    known = ", ".join(group.fields)
    if value is None and group.nullable:
        return []
    if not isinstance(value, dict):
        return [(key, f"expected a mapping with keys {known}; got {shown(value)}")]
    problems: list[Problem] = []
    for name in value:
        if name not in group.fields:
            problems.append((f"{key}.{name}", f"unknown key; known keys of {key}: {known}"))
    for name, spec in group.fields.items():
        where = f"{key}.{name}"
        if name not in value:
            if spec.required:
                problems.append((where, "missing; it is required"))
            continue
        if isinstance(spec, Group):
            problems += check_group(value[name], spec, where)
        else:
            msg = spec.check(value[name])
            if msg:
                problems.append((where, msg))
    return problems
