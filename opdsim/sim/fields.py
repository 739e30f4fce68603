"""The field validators shared by scenarios, distributions, sweep files and the command line.

Each check takes the value and the dotted path of the field it came from, returns the value (unchanged, so that a
configuration written back looks like the one read) and otherwise raises a :class:`~opdsim.sim.errors.ScenarioError`
(or the subclass given as ``error``) whose one-line message names the field and the value::

    number(-2, "demand.walk_in.rate_per_hour[3]", minimum=0)
    # ScenarioError: demand.walk_in.rate_per_hour[3]: -2 is negative

Callers that know the file pass ``source`` (or nest the error later with ``ScenarioError.within`` and
``ScenarioError.from_source``), so that the message reads ``"<file>: <field>: <detail>"``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from opdsim.sim.errors import ScenarioError, join_field

__all__ = [
    "check_fields",
    "choice",
    "number",
    "probability",
    "sequence",
    "show",
    "table",
    "text",
    "whole",
]


def show(value: object) -> str:
    """``repr`` of a value as the user wrote it: numpy scalars shown as plain Python numbers (``11``, not
    ``np.int64(11)``)."""
    item = getattr(value, "item", None)
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0 and callable(item):
        return repr(item())
    return repr(value)


def _real(value: object) -> bool:
    """A real number (numpy's included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and type(value).__name__ != "bool_"


def number(
    value: object,
    field: str,
    *,
    minimum: float | None = None,
    positive: bool = False,
    maximum: float | None = None,
    source: str | None = None,
    error: type[ScenarioError] = ScenarioError,
) -> float:
    """A finite int or float, not a bool, optionally bounded; returned unchanged (ints stay ints).

    Parameters
    ----------
    value : object
        The value read.
    field : str
        Its dotted path, for the message.
    minimum : float, optional
        Smallest allowed value (``0``: "is negative" below it).
    positive : bool
        Require ``value > 0``.
    maximum : float, optional
        Largest allowed value.
    source : str, optional
        The file the value came from.
    error : type of ScenarioError
        The error class to raise (a subclass such as ``SweepError``).

    Returns
    -------
    float
        ``value`` itself.
    """
    if not _real(value):
        raise error(field, f"{show(value)} is not a number", source)
    x: float = value  # type: ignore[assignment]  # a real number, checked above
    if not math.isfinite(x):
        raise error(field, f"{show(x)} is not finite", source)
    if minimum is not None and x < minimum:
        raise error(field, f"{show(x)} is negative" if minimum == 0 else f"{show(x)} must be >= {minimum!r}", source)
    if positive and x <= 0:
        raise error(field, f"{show(x)} is negative" if x < 0 else f"{show(x)} must be > 0", source)
    if maximum is not None and x > maximum:
        raise error(field, f"{show(x)} must be <= {maximum!r}", source)
    return x


def whole(
    value: object,
    field: str,
    *,
    minimum: int | None = None,
    strict: bool = False,
    alternative: str = "",
    source: str | None = None,
    error: type[ScenarioError] = ScenarioError,
) -> int:
    """A whole number, not a bool, returned as an int.

    Raises ``"<value> must be a whole number >= <minimum><alternative>"`` when it is not a number, fractional or
    too small. A float with no fraction (``3.0``) is accepted unless ``strict`` (for seeds and counts of runs,
    which are identities rather than measurements). ``alternative`` names another accepted value
    (``' or "auto"'``).
    """
    at_least = ("" if minimum is None else f" >= {minimum}") + alternative
    if strict and isinstance(value, float):
        raise error(field, f"{show(value)} must be a whole number{at_least}", source)
    if not _real(value) or not math.isfinite(value):  # type: ignore[arg-type]  # a real number once _real holds
        raise error(field, f"{show(value)} must be a whole number{at_least}", source)
    x: float = value  # type: ignore[assignment]
    if x != int(x):
        raise error(field, f"{show(x)} is not a whole number", source)
    if minimum is not None and x < minimum:
        raise error(field, f"{show(x)} must be a whole number{at_least}", source)
    return int(x)


def probability(
    value: object, field: str, *, source: str | None = None, error: type[ScenarioError] = ScenarioError
) -> float:
    """A finite number between 0 and 1 inclusive [-]."""
    p = number(value, field, source=source, error=error)
    if not 0 <= p <= 1:
        raise error(field, f"{show(p)} is not a probability (must be between 0 and 1)", source)
    return p


def choice(
    value: object,
    field: str,
    options: Collection[object],
    *,
    source: str | None = None,
    error: type[ScenarioError] = ScenarioError,
) -> Any:
    """One of ``options`` (compared with ``==``, bools never standing in for numbers)."""
    if any(value == option and isinstance(value, bool) == isinstance(option, bool) for option in options):
        return value
    allowed = ", ".join(repr(option) for option in options)
    raise error(field, f"{show(value)} is not one of {allowed}", source)


def text(value: object, field: str, *, source: str | None = None, error: type[ScenarioError] = ScenarioError) -> str:
    """A string."""
    if not isinstance(value, str):
        raise error(field, f"{value!r} is not a string", source)
    return value


def sequence(
    value: object, field: str, *, source: str | None = None, error: type[ScenarioError] = ScenarioError
) -> tuple[Any, ...]:
    """A list or tuple (not a string), as a tuple."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise error(field, f"{value!r} is not a list", source)
    return tuple(value)


def table(
    value: object, field: str, *, source: str | None = None, error: type[ScenarioError] = ScenarioError
) -> Mapping[Any, Any]:
    """A TOML table (any mapping)."""
    if not isinstance(value, Mapping):
        raise error(field, f"{value!r} is not a table", source)
    return value


def check_fields(
    data: Mapping[Any, object],
    field: str,
    allowed: Sequence[str],
    *,
    source: str | None = None,
    error: type[ScenarioError] = ScenarioError,
) -> None:
    """Refuse a key of ``data`` that is not in ``allowed``: ``"<field>.<key>: unknown field (expected ...)"``.

    A misspelt parameter is an error, never silently ignored.
    """
    for key in data:
        if key not in allowed:
            raise error(join_field(field, str(key)), "unknown field (expected " + ", ".join(allowed) + ")", source)
