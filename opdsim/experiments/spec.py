"""Sweep files: a base scenario, a grid of dotted parameter paths, replications and a seed.

::

    scenario = "standard_day.toml"          # relative to this file
    replications = 30                       # or "auto" (then precision = 0.05, relative half-width)
    seed = 2026
    [grid]
    "policy.aging_threshold" = [1, 2, 3, 5, 8, 13, "off"]
    "demand.emergency.rate_per_hour" = [0.5, 1, 2, 4]

Grid paths are the scenario's dotted paths (those :meth:`Scenario.replace` takes). A grid value may be of any
TOML type the scenario accepts at that path (a number, text, a list such as an hourly rate profile, a table such
as a distribution). The values of one path must all differ (a repeated value would count its replications
twice). In the results, numbers and text are stored as written (a column that mixes numbers and text, such as
``[1, 3, "off"]``, as text); lists and tables as a readable label in TOML's inline form (``[28, 24, 14, 6]``,
``{dist = "gamma", mean = 5}``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opdsim.sim.errors import ScenarioError
from opdsim.sim.fields import check_fields, number, whole
from opdsim.sim.scenario import Scenario

__all__ = ["SweepError", "SweepSpec", "value_label"]

AUTO_MIN = 5  # replications run before "auto" first looks at the interval
AUTO_MAX = 200  # "auto" never asks for more
MAX_REPLICATIONS = 100_000  # more is a typo: a year of standard days on two cores


class SweepError(ScenarioError):
    """A sweep file or a sweep call is invalid; the message names the file, the field and the value."""


def _err(source: str, name: str, detail: str) -> SweepError:
    return SweepError(name, detail, source=source)


def value_label(value: Any) -> str:
    """A grid value as a short readable label, in TOML's inline form: ``3``, ``"off"`` (quoted only inside a
    list or table), ``[28, 24, 14, 6]``, ``{dist = "gamma", mean = 5}``; numpy scalars read as plain numbers."""
    if isinstance(value, str):
        return value
    return _inline(value)


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else value
        if isinstance(items, list | tuple):
            return "[" + ", ".join(_inline(v) for v in items) + "]"
        return _inline(items)  # a numpy scalar
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:g}" if abs(value) < 1e6 else str(int(value))
    return str(value)


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep.

    Parameters
    ----------
    scenario : Scenario
        The base scenario.
    grid : Mapping[str, tuple]
        Dotted path -> values, in file order. Empty for a single scenario.
    replications : int or "auto"
        Replications per grid point; "auto" picks the number (Hoad, Robinson and Davies 2010).
    seed : int
        Replication r uses streams (seed, r) at every grid point (common random numbers).
    precision : float
        Target relative half-width of the 95% interval for ``replications = "auto"``.
    name : str
        Study name (results folder name by default).
    source : str
        Where the spec came from, for messages.
    """

    scenario: Scenario
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    replications: int | str = 10
    seed: int = 0
    precision: float = 0.05
    name: str = "study"
    source: str = "<sweep>"
    scenario_file: str | None = None

    def __post_init__(self) -> None:
        src = self.source
        reps = self.replications
        if reps != "auto":
            n = whole(
                reps, "replications", minimum=2, strict=True, alternative=' or "auto"', source=src, error=SweepError
            )
            if n > MAX_REPLICATIONS:
                raise _err(src, "replications", f"{_inline(reps)} must be at most {MAX_REPLICATIONS:,} (a typo?)")
        whole(self.seed, "seed", minimum=0, strict=True, source=src, error=SweepError)
        number(self.precision, "precision", positive=True, maximum=1, source=src, error=SweepError)
        grid: dict[str, tuple[Any, ...]] = {}
        for path, values in self.grid.items():
            if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
                raise _err(src, f"grid.{path}", f"{_inline(values)} is not a non-empty list of values")
            for k, value in enumerate(values):
                for earlier in values[:k]:
                    if _same(earlier, value):
                        raise _err(
                            src,
                            f"grid.{path}",
                            f"{_inline(value)} appears more than once; every value must differ (a repeated value "
                            "would count its replications twice)",
                        )
            grid[str(path)] = tuple(values)
        object.__setattr__(self, "grid", grid)
        # every grid point must give a valid scenario; an unknown path fails here, naming it
        for point in self.points():
            try:
                self.scenario_at(point)
            except ScenarioError as error:
                raise _err(src, f"grid.{error.field}", error.detail) from None

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> SweepSpec:
        """Read a sweep file (see the module docstring)."""
        p = Path(path)
        src = str(p)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise _err(src, "file", "no such file") from None
        except OSError as error:
            raise _err(src, "file", f"cannot be read ({error.strerror})") from None
        except UnicodeDecodeError as error:
            raise _err(src, "file", f"is not UTF-8 text (byte {error.start}): not a sweep file") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise _err(src, "file", f"malformed TOML: {error}") from None
        return cls.from_dict(data, base_dir=p.parent, source=src, name=p.stem)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        base_dir: str | os.PathLike[str] = ".",
        source: str = "<sweep>",
        name: str = "study",
    ) -> SweepSpec:
        """Build from the parsed contents of a sweep file; ``scenario`` is resolved against ``base_dir``."""
        allowed = ("grid", "name", "precision", "replications", "scenario", "seed")
        check_fields(data, "", allowed, source=source, error=SweepError)
        if "scenario" not in data:
            raise _err(source, "scenario", "missing")
        scen = data["scenario"]
        if not isinstance(scen, str):
            raise _err(source, "scenario", f"{scen!r} is not a file name")
        scenario_path = Path(base_dir) / scen
        scenario = Scenario.from_toml(scenario_path)
        grid = data.get("grid", {})
        if not isinstance(grid, Mapping):
            raise _err(source, "grid", f"{grid!r} is not a table")
        return cls(
            scenario=scenario,
            grid=dict(grid),
            replications=data.get("replications", 10),
            seed=data.get("seed", 0),
            precision=data.get("precision", 0.05),
            name=str(data.get("name", name)),
            source=source,
            scenario_file=str(scenario_path),
        )

    @classmethod
    def single(cls, scenario: Scenario, replications: int, seed: int, name: str | None = None) -> SweepSpec:
        """A study of one scenario (no grid)."""
        return cls(scenario, {}, replications, seed, name=name or scenario.name, source=scenario.source)

    # ---------------------------------------------------------------- grid

    @property
    def paths(self) -> list[str]:
        """Grid paths in file order."""
        return list(self.grid)

    def points(self) -> list[dict[str, Any]]:
        """Every grid point (the cartesian product, first path varying slowest); [{}] without a grid."""
        keys = self.paths
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.grid.values())]

    def scenario_at(self, point: Mapping[str, Any]) -> Scenario:
        """The scenario at one grid point."""
        return self.scenario.replace(**point) if point else self.scenario

    def column_value(self, path: str, value: Any) -> Any:
        """A grid value as stored in a results column: the label of a list or table (see :func:`value_label`),
        text when the path's values mix numbers and text, else the value as written."""
        values = self.grid[path]
        if any(isinstance(v, Mapping | list | tuple) for v in values):
            return value_label(value)
        mixed = any(isinstance(v, str) for v in values) and not all(isinstance(v, str) for v in values)
        return str(value) if mixed else value

    # ---------------------------------------------------------------- identity

    def to_dict(self) -> dict[str, Any]:
        """Full resolved configuration (the base scenario included), JSON-ready."""
        return {
            "name": self.name,
            "replications": self.replications,
            "seed": self.seed,
            "precision": self.precision,
            "grid": {k: list(v) for k, v in self.grid.items()},
            "scenario": self.scenario.to_dict(),
            "scenario_file": self.scenario_file,
            "source": self.source,
        }

    def fingerprint(self) -> str:
        """SHA-256 of everything that decides the results (not the file names)."""
        ident = {k: v for k, v in self.to_dict().items() if k not in ("source", "scenario_file", "name")}
        text = json.dumps(ident, sort_keys=True, default=_json_default)
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_manifest(cls, config: Mapping[str, Any], source: str) -> SweepSpec:
        """Rebuild the spec recorded in a results manifest (for ``regress``)."""
        scenario = Scenario.from_dict(config["scenario"], source=f"{source} (baseline scenario)")
        return cls(
            scenario=scenario,
            grid={k: tuple(v) for k, v in config["grid"].items()},
            replications=config["replications"],
            seed=config["seed"],
            precision=config["precision"],
            name=config["name"],
            source=source,
            scenario_file=config.get("scenario_file"),
        )


def _same(a: Any, b: Any) -> bool:
    """Whether two grid values name the same scenario (3 and 3.0 do; True and 1 do not)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b) and (isinstance(a, str) == isinstance(b, str))


def _json_default(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return str(value)
