"""Policy input and output: the engine's own :class:`~opdsim.engine.policy.Policy`, read and written field by
field so that a new engine field just works, and the per-category consultation table."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from opdsim.engine.errors import InvalidPolicy
from opdsim.engine.policy import Policy
from opdsim.engine.types import Category
from opdsim.sim.distributions import Distribution
from opdsim.sim.errors import ScenarioError
from opdsim.sim.scenario.tables import Table, category, distribution

__all__ = ["POLICY_FIELDS", "consultation_mapping", "policy_from_dict", "policy_to_dict"]

POLICY_FIELDS = tuple(f.name for f in dataclasses.fields(Policy))


def policy_from_dict(data: object) -> Policy:
    t = Table(data, "", POLICY_FIELDS)
    values: dict[str, Any] = {key: value for key, value in t.data.items() if key != "ranks"}
    if values.get("aging_threshold") == "off":
        values["aging"] = "none"
        del values["aging_threshold"]
    if "ranks" in t.data:
        ranks = t.data["ranks"]
        if not isinstance(ranks, Mapping):
            raise ScenarioError("ranks", f"{ranks!r} is not a table")
        values["ranks"] = {category(key, "ranks", tuple(Category)): rank for key, rank in ranks.items()}
    return _policy(values)


def _policy(values: Mapping[str, Any]) -> Policy:
    try:
        return Policy(**values)
    except InvalidPolicy as error:
        # the engine's messages read "policy.<field>: <detail>"; keep the field relative to [policy]
        where, _, detail = str(error).partition(": ")
        if not detail:
            raise ScenarioError("", where) from None
        raise ScenarioError(where.removeprefix("policy").removeprefix("."), detail) from None
    except TypeError as error:
        raise ScenarioError("", str(error)) from None


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in POLICY_FIELDS:
        value = getattr(policy, name)
        if name == "ranks":
            ranks = {cat.name: int(rank) for cat, rank in sorted(value.items())}
            if ranks != {cat.name: int(cat) for cat in Category}:
                out["ranks"] = ranks
        else:
            out[name] = value
    return out


def consultation_mapping(value: object) -> Mapping[Category, Distribution]:
    if not isinstance(value, Mapping):
        raise ScenarioError("", f"{value!r} is not a table")
    out: dict[Category, Distribution] = {}
    for key, item in value.items():
        cat = category(key, "", tuple(Category))
        out[cat] = distribution(item, cat.name)
    return MappingProxyType(dict(sorted(out.items())))
