"""The service's policy file: the engine's :class:`~opdsim.engine.Policy` as TOML, the one a sweep recommended.

Either the fields at the top level or under a ``[policy]`` table (so a scenario's policy section can be reused)::

    [policy]
    aging = "bypass"
    aging_threshold = 5
    on_full = "waitlist"
    [policy.ranks]   # optional; every category needs a rank when given
    EMERGENCY = 0
    ...
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from opdsim.engine import Category, InvalidPolicy, OpdsimError, Policy

__all__ = ["PolicyFileError", "load_policy", "policy_from_dict"]


class PolicyFileError(OpdsimError, ValueError):
    """The policy file is missing, not TOML, or names an unknown field or value."""


_FIELDS = {f.name for f in dataclasses.fields(Policy)}


def policy_from_dict(data: dict[str, Any], where: str) -> Policy:
    """A :class:`Policy` from its plain form; errors name ``where`` and the field."""
    table = data.get("policy", data)
    if not isinstance(table, dict):
        raise PolicyFileError(f"{where}: policy: expected a table")
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        raise PolicyFileError(f"{where}: policy.{unknown[0]}: unknown field (known: {', '.join(sorted(_FIELDS))})")
    kwargs = dict(table)
    ranks = kwargs.get("ranks")
    if ranks is not None:
        if not isinstance(ranks, dict):
            raise PolicyFileError(f"{where}: policy.ranks: expected a table of category = rank")
        parsed: dict[Category, Any] = {}
        for name, rank in ranks.items():
            try:
                parsed[Category[name]] = rank
            except KeyError:
                known = ", ".join(c.name for c in Category)
                raise PolicyFileError(f"{where}: policy.ranks.{name}: unknown category (known: {known})") from None
        kwargs["ranks"] = parsed
    try:
        return Policy(**kwargs)
    except InvalidPolicy as exc:
        raise PolicyFileError(f"{where}: {exc}") from None


def load_policy(path: Path | None) -> Policy:
    """Read a policy file (None: the default policy)."""
    if path is None:
        return Policy()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyFileError(f"{path}: policy file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(f"{path}: cannot read the policy file: {exc}") from None
    return policy_from_dict(data, str(path))
