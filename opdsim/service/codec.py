"""JSON codec of the engine's events: the form in which the service stores a day's log.

:func:`encode` turns an event into a JSON text (``opdsim.engine.event_to_dict`` plus the ``kind``);
:func:`decode` rebuilds the very same event (same class, same field types: ``Category`` members, ``Policy``
objects, tuples of slots, floats), so that ``Engine.replay`` of decoded events gives the engine that logged them.
The decoder is driven by each event class's type hints, so a field added to an event class is covered without
editing this module; a hint it cannot read fails the round-trip test of every event class.
"""

from __future__ import annotations

import json
import math
import types
import typing
from typing import Any

from opdsim.engine import Category, Event, Policy, event_to_dict, events

__all__ = ["EVENT_CLASSES", "CodecError", "decode", "decode_dict", "encode", "to_jsonable"]

EVENT_CLASSES: dict[str, type] = {name: getattr(events, name) for name in events.__all__ if name not in ("Event",)}
EVENT_CLASSES = {k: v for k, v in EVENT_CLASSES.items() if isinstance(v, type) and hasattr(v, "_fields")}


class CodecError(ValueError):
    """A stored event could not be decoded (unknown kind, missing or malformed field)."""


def _float_out(value: float) -> float | str:
    # JSON has no infinities: an engine with no call yet has now = -inf (add_doctor before any booking)
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    return value


def to_jsonable(value: Any) -> Any:
    """Plain JSON value of an event field (infinities as the strings ``"inf"``/``"-inf"``)."""
    if isinstance(value, float):
        return _float_out(value)
    if isinstance(value, tuple | list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def encode(event: Event) -> str:
    """Compact JSON text of ``event`` (with its ``kind``); :func:`decode` inverts it exactly."""
    return json.dumps(to_jsonable(event_to_dict(event)), separators=(",", ":"), allow_nan=False)


def _policy(value: Any) -> Policy:
    if not isinstance(value, dict):
        raise CodecError(f"policy: {value!r} is not an object")
    data = dict(value)
    ranks = data.pop("ranks", None)
    if ranks is not None:
        data["ranks"] = {Category[name]: rank for name, rank in ranks.items()}
    return Policy(**data)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise CodecError(f"{where}: null where {hint!r} is needed")
        real = [o for o in options if o is not type(None)]
        if len(real) != 1:
            raise CodecError(f"{where}: cannot decode the union {hint!r}")
        return _coerce(real[0], value, where)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list):
            raise CodecError(f"{where}: {value!r} is not a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise CodecError(f"{where}: {value!r} does not have {len(args)} items")
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if hint is float:
        if value in ("inf", "-inf"):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CodecError(f"{where}: {value!r} is not a number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CodecError(f"{where}: {value!r} is not a whole number")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise CodecError(f"{where}: {value!r} is not a string")
        return value
    if hint is Category:
        try:
            return Category[value]
        except (KeyError, TypeError):
            raise CodecError(f"{where}: {value!r} is not a category") from None
    if hint is Policy:
        return _policy(value)
    raise CodecError(f"{where}: no decoder for type {hint!r}")


_HINTS: dict[str, dict[str, Any]] = {name: typing.get_type_hints(cls) for name, cls in EVENT_CLASSES.items()}


def decode_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from its plain form (the output of ``event_to_dict``, as stored)."""
    kind = data.get("kind")
    cls = EVENT_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise CodecError(f"kind: {kind!r} is not an event class")
    hints = _HINTS[kind]  # type: ignore[index]
    fields: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    defaults: dict[str, Any] = cls._field_defaults  # type: ignore[attr-defined]
    args = []
    for name in fields:
        if name in data:
            args.append(_coerce(hints[name], data[name], f"{kind}.{name}"))
        elif name in defaults:
            args.append(defaults[name])
        else:
            raise CodecError(f"{kind}.{name}: missing")
    event: Event = cls(*args)
    return event


def decode(text: str) -> Event:
    """Rebuild an event from the JSON text :func:`encode` made."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CodecError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CodecError(f"{data!r} is not an object")
    return decode_dict(data)
