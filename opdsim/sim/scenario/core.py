"""The scenario: its sections put together, checked for consistency, read from and written to TOML, and
changed at dotted paths (``"demand.walk_in.rate_per_hour[3]"``) for sweeps."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import tomli_w

from opdsim.engine.policy import Policy
from opdsim.engine.types import Category
from opdsim.sim.distributions import Distribution
from opdsim.sim.errors import ScenarioError, join_field
from opdsim.sim.fields import text
from opdsim.sim.scenario.policy_io import consultation_mapping, policy_from_dict, policy_to_dict
from opdsim.sim.scenario.sections import Clinic, Demand, Doctors
from opdsim.sim.scenario.tables import Table, distribution, set_field

if TYPE_CHECKING:
    from opdsim.sim.simulate import PlannedDay
    from opdsim.sim.streams import Streams

__all__ = ["Scenario"]

_PATH_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


@dataclass(frozen=True)
class Scenario:
    """A clinic day to simulate (immutable; derive variants with :meth:`replace`).

    Parameters
    ----------
    name : str
        Short name, used in result frames.
    clinic : Clinic
        Day length, overtime limit and starvation limit.
    doctors : Doctors
        Doctors, session, slots, start delays and breaks.
    policy : Policy
        The engine's allocation policy.
    demand : Demand
        Booked, walk-in and emergency demand.
    consultation : Mapping[Category, Distribution]
        Consultation length per category [min]; every category that can arrive needs one.
    description : str
        Free text.
    patience : Distribution or None
        Minutes a checked-in patient waits before leaving unseen [min]; None: everyone waits.
    source : str
        Where the scenario came from (a file name or ``"<dict>"``); used in error messages, not compared.
    """

    name: str
    clinic: Clinic
    doctors: Doctors
    policy: Policy
    demand: Demand
    consultation: Mapping[Category, Distribution]
    description: str = ""
    patience: Distribution | None = None
    source: str = field(default="<dict>", compare=False, repr=False)

    def __post_init__(self) -> None:
        text(self.name, "name")
        text(self.description, "description")
        for name, kind in (("clinic", Clinic), ("doctors", Doctors), ("policy", Policy), ("demand", Demand)):
            if not isinstance(getattr(self, name), kind):
                raise ScenarioError(name, f"{getattr(self, name)!r} is not a {kind.__name__}")
        try:
            set_field(self, "consultation", consultation_mapping(self.consultation))
        except ScenarioError as error:
            raise error.within("consultation") from None
        if self.patience is not None:
            set_field(self, "patience", distribution(self.patience, "patience"))
        self._check_consistency()

    def _check_consistency(self) -> None:
        latest = self.doctors.session_end + self.clinic.overtime_limit
        if self.clinic.day_length < latest:
            raise ScenarioError(
                "clinic.day_length",
                f"{self.clinic.day_length!r} ends before doctors.session_end + clinic.overtime_limit = {latest!r}",
            )
        # walk-in hour h covers [session_start + 60 h, session_start + 60 (h + 1)): one rate for every hour of the
        # session (a missing hour would silently mean no walk-ins), at most one for every hour until the close
        docs, given = self.doctors, len(self.demand.walk_in.rate_per_hour)
        hours = math.ceil((self.clinic.day_length - docs.session_start) / 60)
        if given > hours:
            raise ScenarioError(
                "demand.walk_in.rate_per_hour",
                f"{given} hourly rates, but the day (doctors.session_start = {docs.session_start!r} to "
                f"clinic.day_length = {self.clinic.day_length!r}) has only {hours} hours",
            )
        session_hours = math.ceil((docs.session_end - docs.session_start) / 60)
        if 0 < given < session_hours:
            raise ScenarioError(
                "demand.walk_in.rate_per_hour",
                f"{given} hourly rates, but the session (doctors.session_start = {docs.session_start!r} to "
                f"doctors.session_end = {docs.session_end!r}) has {session_hours} hours: give a rate for each "
                "hour (0 for an hour without walk-ins)",
            )
        for cat in self.demand.categories():
            if cat not in self.consultation:
                raise ScenarioError(f"consultation.{cat.name}", "missing (this category has demand)")

    # ------------------------------------------------------------------------------------------------
    # reading and writing

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> Scenario:
        """Build and validate a scenario from a TOML-like dictionary.

        Parameters
        ----------
        data : Mapping[str, Any]
            The scenario's tables (see the module docstring for the schema).
        source : str
            Name of the origin, for error messages.

        Returns
        -------
        Scenario

        Raises
        ------
        ScenarioError
            ``"<source>: <dotted field>: <detail naming the value>"`` for the first problem found.
        """
        try:
            t = Table(
                data,
                "",
                ("name", "description", "clinic", "doctors", "policy", "demand", "consultation", "patience"),
            )
            return cls(
                name=text(t.get("name"), "name"),
                description=text(t.get("description", ""), "description"),
                clinic=t.section("clinic", Clinic.from_dict),
                doctors=t.section("doctors", Doctors.from_dict),
                policy=t.section("policy", policy_from_dict, {}),
                demand=t.section("demand", Demand.from_dict),
                consultation=t.section("consultation", consultation_mapping),
                patience=t.section("patience", lambda v: None if v is None else distribution(v, ""), None),
                source=source,
            )
        except ScenarioError as error:
            raise error.from_source(source) from None

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Scenario:
        """Load a scenario from a TOML file.

        Raises
        ------
        ScenarioError
            Naming the file: when it cannot be read, is not valid TOML, or holds an invalid scenario.
        """
        source = os.fspath(path)
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except OSError as error:
            raise ScenarioError("", f"cannot read the file: {error.strerror or error}", source) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ScenarioError("", f"not valid TOML: {error}", source) from None
        return cls.from_dict(data, source=source)

    def to_dict(self) -> dict[str, Any]:
        """The TOML-like dictionary this scenario is built from (``from_dict(to_dict())`` gives it back)."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "clinic": self.clinic.to_dict(),
            "doctors": self.doctors.to_dict(),
            "policy": policy_to_dict(self.policy),
            "demand": self.demand.to_dict(),
            "consultation": {cat.name: dist.to_dict() for cat, dist in self.consultation.items()},
        }
        if self.patience is not None:
            out["patience"] = self.patience.to_dict()
        return out

    def to_toml(self) -> str:
        """The scenario as TOML text (``from_toml`` of it gives an equal scenario)."""
        return tomli_w.dumps(self.to_dict())

    # ------------------------------------------------------------------------------------------------
    # variants and helpers

    def replace(self, changes: Mapping[str, object] | None = None, /, **dotted: object) -> Scenario:
        """A new, validated scenario with values changed at dotted paths.

        Example: ``scenario.replace(**{"policy.aging_threshold": 5, "demand.walk_in.rate_per_hour[0]": 30})``.
        A value may be a number, a string, a list, a table (a dict, replacing the whole table) or a
        :class:`Distribution`. All changes are applied before validating, so that related fields can change
        together.

        Raises
        ------
        ScenarioError
            When a path does not exist in this scenario, or the result is invalid.
        """
        source = f"replace() on {self.source}"
        data: dict[str, Any] = self.to_dict()
        for path, value in {**(changes or {}), **dotted}.items():
            _assign(data, path, value.to_dict() if isinstance(value, Distribution) else value, source)
        new = Scenario.from_dict(data, source=source)
        return dataclasses.replace(new, source=self.source)

    @property
    def starvation_limit(self) -> float:
        """Waits longer than this are starved [min] (``clinic.starvation_limit``)."""
        return self.clinic.starvation_limit

    def plan_day(self, streams: Streams) -> PlannedDay:
        """One replication's plan for the day runner (the :class:`~opdsim.sim.simulate.DaySpec` protocol)."""
        from opdsim.sim.simulate import plan_scenario

        return plan_scenario(self, streams)

    def engine_policy(self) -> Policy:
        """The engine's :class:`~opdsim.engine.policy.Policy` for this scenario."""
        return self.policy

    @property
    def expected_patients(self) -> dict[Category, float]:
        """Expected tokens issued per category over the day (before cancellations and no-shows), ``demand.scale``
        included [patients]."""
        slots = self.doctors.count * self.doctors.n_slots
        session_hours = (self.doctors.session_end - self.doctors.session_start) / 60
        scale = self.demand.scale
        out = {cat: booked.per_slot * scale * slots for cat, booked in self.demand.booked.items()}
        out[Category.WALK_IN] = self.demand.walk_in.expected * scale
        out[Category.EMERGENCY] = self.demand.emergency.rate_per_hour * scale * session_hours
        return dict(sorted(out.items()))

    @property
    def expected_work(self) -> float:
        """Expected consultation minutes of the patients who turn up (booked ones times their show
        probability) [min]."""
        minutes = 0.0
        for cat, expected in self.expected_patients.items():
            shows = self.demand.booked[cat].show_probability if cat in self.demand.booked else 1.0
            if expected > 0:
                minutes += expected * shows * self.consultation[cat].mean
        return minutes

    @property
    def offered_load(self) -> float:
        """Expected consultation minutes of the patients who turn up over the doctors' session minutes [-]
        (:func:`opdsim.sim.load.load` also takes late starts and breaks out of the doctors' minutes)."""
        slots = self.doctors.count * self.doctors.n_slots
        return self.expected_work / (slots * self.doctors.slot_length)


def _assign(data: dict[str, Any], path: str, value: object, source: str) -> None:
    """Set ``value`` at a dotted ``path`` such as ``"demand.walk_in.rate_per_hour[3]"`` inside ``data``."""
    steps: list[str | int] = []
    for segment in path.split("."):
        match = _PATH_SEGMENT.fullmatch(segment)
        if match is None:
            raise ScenarioError(path, "not a dotted path (like demand.walk_in.rate_per_hour[3])", source)
        steps.append(match.group(1))
        steps.extend(int(index) for index in re.findall(r"\[(\d+)\]", match.group(2)))
    node: Any = data
    walked = ""
    for k, step in enumerate(steps):
        last = k == len(steps) - 1
        here = join_field(walked, f"[{step}]" if isinstance(step, int) else step)
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                raise ScenarioError(here, "no such element in this scenario", source)
        elif not isinstance(node, dict):
            raise ScenarioError(here, f"unknown field ({walked} is not a table)", source)
        elif step not in node and not last:
            raise ScenarioError(here, "unknown field (not in this scenario)", source)
        if last:
            node[step] = value
        else:
            node = node[step]
        walked = here
