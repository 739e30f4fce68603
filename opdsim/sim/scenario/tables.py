"""Reading one TOML table of a scenario: unknown keys refused, every field named by its dotted path.

Fields are relative to the section being read; :meth:`Table.section` nests the errors of a sub-table under its
key, and :meth:`~opdsim.sim.scenario.Scenario.from_dict` finally prefixes the file name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from opdsim.engine.types import Category
from opdsim.sim.distributions import Distribution
from opdsim.sim.errors import ScenarioError, join_field
from opdsim.sim.fields import check_fields, table

__all__ = ["MISSING", "Table", "category", "distribution", "set_field"]

MISSING: Any = object()
"""Marks a required key (no default)."""

_T = TypeVar("_T")


def set_field(obj: object, name: str, value: object) -> None:
    """Normalise a field of a frozen dataclass during ``__post_init__``."""
    object.__setattr__(obj, name, value)


def distribution(value: object, name: str, *, nonnegative: bool = True) -> Distribution:
    """A distribution table (or a :class:`Distribution`); a duration (never negative) unless told otherwise."""
    return Distribution.from_dict(value, name, nonnegative=nonnegative)


def category(key: object, name: str, allowed: Sequence[Category]) -> Category:
    """A category given by its name (``"WALK_IN"``) as a table key, one of ``allowed``."""
    if isinstance(key, Category) and key in allowed:
        return key
    if isinstance(key, str) and key in Category.__members__ and Category[key] in allowed:
        return Category[key]
    expected = ", ".join(c.name for c in allowed)
    raise ScenarioError(join_field(name, str(getattr(key, "name", key))), f"unknown field (expected {expected})")


class Table:
    """One TOML table being read: rejects unknown keys up front and names every field by its dotted path."""

    def __init__(self, data: object, path: str, allowed: Sequence[str]) -> None:
        self.data: Mapping[str, object] = table(data, path)
        check_fields(self.data, path, allowed)
        self.path = path

    def get(self, key: str, default: object = MISSING) -> Any:
        """The value at ``key``, or ``default``; a missing required key is an error."""
        if key in self.data:
            return self.data[key]
        if default is MISSING:
            raise ScenarioError(join_field(self.path, key), "missing")
        return default

    def section(self, key: str, build: Callable[[object], _T], default: object = MISSING) -> _T:
        """Build a nested section; its errors are nested under ``path.key``."""
        value = self.get(key, default)
        try:
            return build(value)
        except ScenarioError as error:
            raise error.within(join_field(self.path, key)) from None
