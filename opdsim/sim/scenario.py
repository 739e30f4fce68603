"""Scenario configuration: one clinic day, loaded from TOML into frozen, validated dataclasses.

A scenario holds model parameters only (clinic, doctors, engine policy, demand, consultation and patience);
run settings such as seeds and replications belong to the experiment that runs it. All times are minutes since
the clinic opened [min]; rates are per hour where the name says so.

Example::

    scenario = Scenario.from_toml("experiments/standard_day.toml")
    busier = scenario.replace(**{"demand.emergency.rate_per_hour": 2, "policy.aging_threshold": "off"})
    policy = busier.engine_policy()

Every error is a :class:`~opdsim.sim.errors.ScenarioError` whose message names the file, the dotted field and
the bad value, e.g. ``standard_day.toml: demand.walk_in.rate_per_hour[3]: -2 is negative``. Unknown keys are
errors too, so that a misspelt parameter is never silently ignored.

TOML schema (``?`` marks optional keys, with their defaults)::

    name = "standard_day"
    description? = ""
    patience? = { dist = ... }              # minutes a checked-in patient waits before leaving unseen

    [clinic]
    day_length = 300                         # the day closes here [min]; >= session_end + overtime_limit
    overtime_limit? = 60                     # minutes after session_end a doctor may still call patients
    starvation_limit? = 120                  # a wait longer than this counts as starved [min]

    [doctors]
    count = 3                                # or ids = ["D1", "D2", "D3"] (exactly one of the two)
    session_start = 0
    session_end = 240                        # (end - start) must be a whole number of slots
    slot_length = 60
    slot_capacity = 30                       # seats per slot per doctor
    start_delay? = { dist = "deterministic", value = 0 }     # minutes late, >= 0
    [[doctors.breaks]]                       # zero or more, in time order, within the session
    at = 120
    duration = { dist = "triangular", low = 5, mode = 10, high = 15 }

    [policy]                                 # the fields of opdsim.engine.policy.Policy, engine defaults
    aging? = "bypass"                        # "bypass" | "wait" | "none"
    aging_threshold? = 5                     # or "off", shorthand for aging = "none" (it wins over aging)
    aging_target?, overflow_cap?, max_displacements?, on_full?, no_show_grace?, auto_no_show?
    [policy.ranks]?                          # category name -> rank; engine default ranks when absent

    [demand.booked.ONLINE]                   # also PAID_PRIORITY and FOLLOW_UP; each optional
    per_slot = 9                             # expected bookings per slot per doctor
    punctuality = { dist = "normal", mean = -10, sd = 15 }   # arrival minus slot start [min]; may be < 0
    no_show? = 0                             # probability a booking never comes (and is not cancelled)
    cancel? = 0                              # probability a booking is cancelled; no_show + cancel <= 1
    cancel_lead = { dist = ... }             # minutes before slot start; required when cancel > 0

    [demand.walk_in]?                        # Poisson; absent = no walk-ins
    rate_per_hour = [28, 24, 14, 6]          # one rate per clinic hour from minute 0 [1/h]
    [demand.emergency]?                      # Poisson over the doctors' session; absent = none
    rate_per_hour = 1.5                      # [1/h]

    [consultation]                           # a duration distribution per category that can arrive
    WALK_IN = { dist = "lognormal", mean = 2, sd = 1.2 }
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import tomli_w

from opdsim.engine.errors import InvalidPolicy
from opdsim.engine.policy import Policy
from opdsim.engine.types import Category
from opdsim.sim.distributions import Deterministic, Distribution
from opdsim.sim.errors import ScenarioError, as_number, join_field

__all__ = [
    "BOOKED_CATEGORIES",
    "BookedDemand",
    "Break",
    "Clinic",
    "Demand",
    "Doctors",
    "Emergency",
    "Scenario",
    "ScenarioError",
    "WalkIn",
]

BOOKED_CATEGORIES: tuple[Category, ...] = (Category.PAID_PRIORITY, Category.FOLLOW_UP, Category.ONLINE)
"""Categories booked ahead into a slot (walk-ins are booked at the desk, emergencies inserted)."""

_MISSING: Any = object()
_NO_DELAY: Distribution = Deterministic(0)
_T = TypeVar("_T")


# ----------------------------------------------------------------------------------------------------
# value checks (fields relative to the dataclass being checked; callers nest them under the section's path)


def _number(
    value: object, name: str, *, positive: bool = False, nonnegative: bool = True, integer: bool = False
) -> float:
    x = as_number(value, name)
    if integer:
        if float(x) != int(x):
            raise ScenarioError(name, f"{x!r} is not a whole number")
        x = int(x)
    if (positive or nonnegative) and x < 0:
        raise ScenarioError(name, f"{x!r} is negative")
    if positive and x == 0:
        raise ScenarioError(name, f"{x!r} must be > 0")
    return x


def _probability(value: object, name: str) -> float:
    p = as_number(value, name)
    if not 0 <= p <= 1:
        raise ScenarioError(name, f"{p!r} is not a probability (must be between 0 and 1)")
    return p


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ScenarioError(name, f"{value!r} is not a string")
    return value


def _distribution(value: object, name: str, *, nonnegative: bool = True) -> Distribution:
    return Distribution.from_dict(value, name, nonnegative=nonnegative)


def _sequence(value: object, name: str) -> tuple[Any, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ScenarioError(name, f"{value!r} is not a list")
    return tuple(value)


def _set(obj: object, name: str, value: object) -> None:
    """Normalise a field of a frozen dataclass during ``__post_init__``."""
    object.__setattr__(obj, name, value)


def _category(key: object, name: str, allowed: Sequence[Category]) -> Category:
    if isinstance(key, Category) and key in allowed:
        return key
    if isinstance(key, str) and key in Category.__members__ and Category[key] in allowed:
        return Category[key]
    expected = ", ".join(c.name for c in allowed)
    raise ScenarioError(join_field(name, str(getattr(key, "name", key))), f"unknown field (expected {expected})")


# ----------------------------------------------------------------------------------------------------
# reading a TOML table


class _Table:
    """One TOML table being read: rejects unknown keys up front and names every field by its dotted path."""

    def __init__(self, data: object, path: str, allowed: Sequence[str]) -> None:
        if not isinstance(data, Mapping):
            raise ScenarioError(path, f"{data!r} is not a table")
        for key in data:
            if key not in allowed:
                raise ScenarioError(join_field(path, str(key)), "unknown field (expected " + ", ".join(allowed) + ")")
        self.data: Mapping[str, object] = data
        self.path = path

    def get(self, key: str, default: object = _MISSING) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise ScenarioError(join_field(self.path, key), "missing")
        return default

    def section(self, key: str, build: Callable[[object], _T], default: object = _MISSING) -> _T:
        """Build a nested section; its errors are nested under ``path.key``."""
        value = self.get(key, default)
        try:
            return build(value)
        except ScenarioError as error:
            raise error.within(join_field(self.path, key)) from None


# ----------------------------------------------------------------------------------------------------
# sections


@dataclass(frozen=True)
class Clinic:
    """The clinic day.

    Parameters
    ----------
    day_length : float
        Minutes from opening until the day closes and every waiting patient is counted unserved [min].
    overtime_limit : float
        Minutes after the end of the session during which a doctor may still call patients [min].
    starvation_limit : float
        A wait longer than this counts as starved [min]. The default, 120, is the wait that clinical queue
        screens colour red (OpenMRS O3; DESIGN.md §5).
    """

    day_length: float
    overtime_limit: float = 60.0
    starvation_limit: float = 120.0

    def __post_init__(self) -> None:
        _set(self, "day_length", _number(self.day_length, "day_length", positive=True))
        _set(self, "overtime_limit", _number(self.overtime_limit, "overtime_limit"))
        _set(self, "starvation_limit", _number(self.starvation_limit, "starvation_limit", positive=True))

    @classmethod
    def from_dict(cls, data: object) -> Clinic:
        """Build from the ``[clinic]`` table (errors name fields relative to it)."""
        t = _Table(data, "", [f.name for f in dataclasses.fields(cls)])
        optional: dict[str, Any] = {key: t.data[key] for key in ("overtime_limit", "starvation_limit") if key in t.data}
        return cls(day_length=t.get("day_length"), **optional)

    def to_dict(self) -> dict[str, Any]:
        """The ``[clinic]`` table."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Break:
    """A break every doctor takes once the consultation in progress at ``at`` is over.

    Parameters
    ----------
    at : float
        Time the break is due [min].
    duration : Distribution
        Length of the break, drawn per doctor [min]; never negative.
    """

    at: float
    duration: Distribution

    def __post_init__(self) -> None:
        _set(self, "at", _number(self.at, "at"))
        _set(self, "duration", _distribution(self.duration, "duration"))

    @classmethod
    def from_dict(cls, data: object) -> Break:
        """Build from one ``[[doctors.breaks]]`` table."""
        if isinstance(data, Break):
            return data
        t = _Table(data, "", ("at", "duration"))
        return cls(at=t.get("at"), duration=t.get("duration"))

    def to_dict(self) -> dict[str, Any]:
        """The ``[[doctors.breaks]]`` table."""
        return {"at": self.at, "duration": self.duration.to_dict()}


MAX_DOCTORS = 1000  # an OPD with more doctors is a typo (and D1..Dn are made eagerly)


def _default_ids(count: int) -> tuple[str, ...]:
    return tuple(f"D{i}" for i in range(1, count + 1))


@dataclass(frozen=True)
class Doctors:
    """The doctors and their common session.

    Parameters
    ----------
    ids : tuple[str, ...]
        Doctor ids, unique; ``count = n`` in TOML gives ``("D1", ..., "Dn")``.
    session_start : float
        Start of the first slot [min].
    session_end : float
        End of the last slot [min]; ``session_end - session_start`` is a whole number of slots.
    slot_length : float
        Length of one slot [min], > 0.
    slot_capacity : int
        Seats per slot per doctor (bookings, not people present), >= 1.
    start_delay : Distribution
        Minutes each doctor starts late, drawn per doctor [min]; never negative.
    breaks : tuple[Break, ...]
        Breaks in time order, each within the session.
    """

    ids: tuple[str, ...]
    session_start: float
    session_end: float
    slot_length: float
    slot_capacity: int
    start_delay: Distribution = _NO_DELAY
    breaks: tuple[Break, ...] = ()

    def __post_init__(self) -> None:
        ids = _sequence(self.ids, "ids")
        if not ids:
            raise ScenarioError("ids", "[] is empty: give at least one doctor")
        for k, doctor in enumerate(ids):
            if not isinstance(doctor, str) or not doctor:
                raise ScenarioError(f"ids[{k}]", f"{doctor!r} is not a non-empty string")
            if doctor in ids[:k]:
                raise ScenarioError(f"ids[{k}]", f"{doctor!r} is repeated")
        _set(self, "ids", ids)
        _set(self, "session_start", _number(self.session_start, "session_start"))
        _set(self, "session_end", _number(self.session_end, "session_end"))
        if self.session_end <= self.session_start:
            raise ScenarioError("session_end", f"{self.session_end!r} must be > session_start = {self.session_start!r}")
        _set(self, "slot_length", _number(self.slot_length, "slot_length", positive=True))
        slots = (self.session_end - self.session_start) / self.slot_length
        if abs(slots - round(slots)) > 1e-9:
            raise ScenarioError(
                "slot_length",
                f"{self.slot_length!r} does not divide the session "
                f"{self.session_start!r}-{self.session_end!r} into whole slots",
            )
        if self.slot_length > self.session_end - self.session_start:
            raise ScenarioError(
                "slot_length",
                f"{self.slot_length!r} is longer than the session {self.session_start!r}-{self.session_end!r}",
            )
        _set(self, "slot_capacity", _number(self.slot_capacity, "slot_capacity", positive=True, integer=True))
        _set(self, "start_delay", _distribution(self.start_delay, "start_delay"))
        breaks = _sequence(self.breaks, "breaks")
        checked: list[Break] = []
        for k, item in enumerate(breaks):
            try:
                brk = Break.from_dict(item)
            except ScenarioError as error:
                raise error.within(f"breaks[{k}]") from None
            if not self.session_start <= brk.at < self.session_end:
                raise ScenarioError(
                    f"breaks[{k}].at",
                    f"{brk.at!r} is outside the session {self.session_start!r}-{self.session_end!r}",
                )
            if checked and brk.at < checked[-1].at:
                raise ScenarioError(f"breaks[{k}].at", f"{brk.at!r} is before the previous break's {checked[-1].at!r}")
            checked.append(brk)
        _set(self, "breaks", tuple(checked))

    @property
    def count(self) -> int:
        """Number of doctors."""
        return len(self.ids)

    @property
    def n_slots(self) -> int:
        """Slots per doctor."""
        return round((self.session_end - self.session_start) / self.slot_length)

    def slots(self) -> list[tuple[float, float]]:
        """``(start, end)`` of each slot, in order [min]."""
        return [
            (self.session_start + k * self.slot_length, self.session_start + (k + 1) * self.slot_length)
            for k in range(self.n_slots)
        ]

    @classmethod
    def from_dict(cls, data: object) -> Doctors:
        """Build from the ``[doctors]`` table (``count`` or ``ids``, not both)."""
        keys = (
            "count",
            "ids",
            "session_start",
            "session_end",
            "slot_length",
            "slot_capacity",
            "start_delay",
            "breaks",
        )
        t = _Table(data, "", keys)
        if ("count" in t.data) == ("ids" in t.data):
            raise ScenarioError("count", "give either count or ids (exactly one)")
        if "count" in t.data:
            count = int(_number(t.data["count"], "count", positive=True, integer=True))
            if count > MAX_DOCTORS:  # checked before D1..Dn are made: 10**18 of them would never finish
                raise ScenarioError("count", f"{count} is more than {MAX_DOCTORS} doctors")
            ids: object = _default_ids(count)
        else:
            ids = t.data["ids"]
        optional: dict[str, Any] = {key: t.data[key] for key in ("start_delay", "breaks") if key in t.data}
        return cls(
            ids=ids,  # type: ignore[arg-type]  # checked on construction
            session_start=t.get("session_start"),
            session_end=t.get("session_end"),
            slot_length=t.get("slot_length"),
            slot_capacity=t.get("slot_capacity"),
            **optional,
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``[doctors]`` table (``count`` when the ids are the default ``D1..Dn``)."""
        out: dict[str, Any] = {"count": self.count} if self.ids == _default_ids(self.count) else {"ids": list(self.ids)}
        out |= {
            "session_start": self.session_start,
            "session_end": self.session_end,
            "slot_length": self.slot_length,
            "slot_capacity": self.slot_capacity,
            "start_delay": self.start_delay.to_dict(),
        }
        if self.breaks:
            out["breaks"] = [b.to_dict() for b in self.breaks]
        return out


@dataclass(frozen=True)
class BookedDemand:
    """Patients of one category who book a slot ahead.

    Parameters
    ----------
    per_slot : float
        Expected bookings per slot per doctor [patients], >= 0.
    punctuality : Distribution
        Arrival time minus slot start [min]; negative means early.
    no_show : float
        Probability that a booking is neither cancelled nor kept [-].
    cancel : float
        Probability that a booking is cancelled ahead [-]; ``no_show + cancel <= 1``.
    cancel_lead : Distribution or None
        Minutes before the slot start at which a cancellation happens [min]; required when ``cancel > 0``.
    """

    per_slot: float
    punctuality: Distribution
    no_show: float = 0.0
    cancel: float = 0.0
    cancel_lead: Distribution | None = None

    def __post_init__(self) -> None:
        _set(self, "per_slot", _number(self.per_slot, "per_slot"))
        _set(self, "punctuality", _distribution(self.punctuality, "punctuality", nonnegative=False))
        _set(self, "no_show", _probability(self.no_show, "no_show"))
        _set(self, "cancel", _probability(self.cancel, "cancel"))
        if self.no_show + self.cancel > 1:
            raise ScenarioError(
                "cancel",
                f"{self.cancel!r} + no_show {self.no_show!r} is more than 1 (they exclude each other)",
            )
        if self.cancel_lead is None:
            if self.cancel > 0:
                raise ScenarioError("cancel_lead", f"missing (required when cancel = {self.cancel!r} > 0)")
        else:
            _set(self, "cancel_lead", _distribution(self.cancel_lead, "cancel_lead"))

    @property
    def show_probability(self) -> float:
        """Probability that a booking turns up, ``1 - no_show - cancel`` [-]."""
        return 1.0 - self.no_show - self.cancel

    @classmethod
    def from_dict(cls, data: object) -> BookedDemand:
        """Build from a ``[demand.booked.<CATEGORY>]`` table."""
        t = _Table(data, "", [f.name for f in dataclasses.fields(cls)])
        optional: dict[str, Any] = {key: t.data[key] for key in ("no_show", "cancel", "cancel_lead") if key in t.data}
        return cls(per_slot=t.get("per_slot"), punctuality=t.get("punctuality"), **optional)

    def to_dict(self) -> dict[str, Any]:
        """The ``[demand.booked.<CATEGORY>]`` table."""
        out: dict[str, Any] = {
            "per_slot": self.per_slot,
            "punctuality": self.punctuality.to_dict(),
            "no_show": self.no_show,
            "cancel": self.cancel,
        }
        if self.cancel_lead is not None:
            out["cancel_lead"] = self.cancel_lead.to_dict()
        return out


@dataclass(frozen=True)
class WalkIn:
    """Walk-ins: a Poisson process whose rate changes by clinic hour.

    Parameters
    ----------
    rate_per_hour : tuple[float, ...]
        Arrival rate in each clinic hour, hour 0 starting at minute 0 [1/h]; 0 after the last.
    """

    rate_per_hour: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        rates = _sequence(self.rate_per_hour, "rate_per_hour")
        _set(self, "rate_per_hour", tuple(_number(r, f"rate_per_hour[{k}]") for k, r in enumerate(rates)))

    def rate_at(self, minute: float) -> float:
        """Arrival rate at ``minute`` [1/h]."""
        hour = math.floor(minute / 60)
        return float(self.rate_per_hour[hour]) if 0 <= hour < len(self.rate_per_hour) else 0.0

    @property
    def expected(self) -> float:
        """Expected walk-ins over the day [patients]."""
        return math.fsum(self.rate_per_hour)

    @classmethod
    def from_dict(cls, data: object) -> WalkIn:
        """Build from the ``[demand.walk_in]`` table."""
        t = _Table(data, "", ("rate_per_hour",))
        return cls(rate_per_hour=t.get("rate_per_hour"))

    def to_dict(self) -> dict[str, Any]:
        """The ``[demand.walk_in]`` table."""
        return {"rate_per_hour": list(self.rate_per_hour)}


@dataclass(frozen=True)
class Emergency:
    """Emergencies: a Poisson process over the doctors' session.

    Parameters
    ----------
    rate_per_hour : float
        Arrival rate [1/h], >= 0.
    """

    rate_per_hour: float = 0.0

    def __post_init__(self) -> None:
        _set(self, "rate_per_hour", _number(self.rate_per_hour, "rate_per_hour"))

    @classmethod
    def from_dict(cls, data: object) -> Emergency:
        """Build from the ``[demand.emergency]`` table."""
        t = _Table(data, "", ("rate_per_hour",))
        return cls(rate_per_hour=t.get("rate_per_hour"))

    def to_dict(self) -> dict[str, Any]:
        """The ``[demand.emergency]`` table."""
        return {"rate_per_hour": self.rate_per_hour}


def _booked_mapping(value: object) -> Mapping[Category, BookedDemand]:
    if not isinstance(value, Mapping):
        raise ScenarioError("", f"{value!r} is not a table")
    out: dict[Category, BookedDemand] = {}
    for key, item in value.items():
        cat = _category(key, "", BOOKED_CATEGORIES)
        try:
            out[cat] = item if isinstance(item, BookedDemand) else BookedDemand.from_dict(item)
        except ScenarioError as error:
            raise error.within(cat.name) from None
    return MappingProxyType(dict(sorted(out.items())))


@dataclass(frozen=True)
class Demand:
    """Who comes, by category.

    Parameters
    ----------
    booked : Mapping[Category, BookedDemand]
        Booked-ahead demand of PAID_PRIORITY, FOLLOW_UP and ONLINE patients (each optional).
    walk_in : WalkIn
        Walk-in arrivals.
    emergency : Emergency
        Emergency arrivals.
    """

    booked: Mapping[Category, BookedDemand] = field(default_factory=lambda: MappingProxyType({}))
    walk_in: WalkIn = WalkIn()
    emergency: Emergency = Emergency()

    def __post_init__(self) -> None:
        try:
            _set(self, "booked", _booked_mapping(self.booked))
        except ScenarioError as error:
            raise error.within("booked") from None
        for name, kind in (("walk_in", WalkIn), ("emergency", Emergency)):
            if not isinstance(getattr(self, name), kind):
                raise ScenarioError(name, f"{getattr(self, name)!r} is not a {kind.__name__}")

    def categories(self) -> list[Category]:
        """Categories that can arrive (nonzero expected demand), in rank order."""
        used = [cat for cat, booked in self.booked.items() if booked.per_slot > 0]
        if self.walk_in.expected > 0:
            used.append(Category.WALK_IN)
        if self.emergency.rate_per_hour > 0:
            used.append(Category.EMERGENCY)
        return sorted(used)

    @classmethod
    def from_dict(cls, data: object) -> Demand:
        """Build from the ``[demand]`` table."""
        t = _Table(data, "", ("booked", "walk_in", "emergency"))
        return cls(
            booked=t.section("booked", _booked_mapping, {}),
            walk_in=t.section("walk_in", WalkIn.from_dict, {"rate_per_hour": []}),
            emergency=t.section("emergency", Emergency.from_dict, {"rate_per_hour": 0}),
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``[demand]`` table."""
        return {
            "booked": {cat.name: booked.to_dict() for cat, booked in self.booked.items()},
            "walk_in": self.walk_in.to_dict(),
            "emergency": self.emergency.to_dict(),
        }


# ----------------------------------------------------------------------------------------------------
# policy (the engine's own dataclass; read and written field by field so that new engine fields just work)

_POLICY_FIELDS = tuple(f.name for f in dataclasses.fields(Policy))


def _policy_from_dict(data: object) -> Policy:
    t = _Table(data, "", _POLICY_FIELDS)
    values: dict[str, Any] = {key: value for key, value in t.data.items() if key != "ranks"}
    if values.get("aging_threshold") == "off":
        values["aging"] = "none"
        del values["aging_threshold"]
    if "ranks" in t.data:
        ranks = t.data["ranks"]
        if not isinstance(ranks, Mapping):
            raise ScenarioError("ranks", f"{ranks!r} is not a table")
        values["ranks"] = {_category(key, "ranks", tuple(Category)): rank for key, rank in ranks.items()}
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


def _policy_to_dict(policy: Policy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _POLICY_FIELDS:
        value = getattr(policy, name)
        if name == "ranks":
            ranks = {cat.name: int(rank) for cat, rank in sorted(value.items())}
            if ranks != {cat.name: int(cat) for cat in Category}:
                out["ranks"] = ranks
        else:
            out[name] = value
    return out


def _consultation_mapping(value: object) -> Mapping[Category, Distribution]:
    if not isinstance(value, Mapping):
        raise ScenarioError("", f"{value!r} is not a table")
    out: dict[Category, Distribution] = {}
    for key, item in value.items():
        cat = _category(key, "", tuple(Category))
        out[cat] = _distribution(item, cat.name)
    return MappingProxyType(dict(sorted(out.items())))


# ----------------------------------------------------------------------------------------------------
# the scenario

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
        _text(self.name, "name")
        _text(self.description, "description")
        for name, kind in (("clinic", Clinic), ("doctors", Doctors), ("policy", Policy), ("demand", Demand)):
            if not isinstance(getattr(self, name), kind):
                raise ScenarioError(name, f"{getattr(self, name)!r} is not a {kind.__name__}")
        try:
            _set(self, "consultation", _consultation_mapping(self.consultation))
        except ScenarioError as error:
            raise error.within("consultation") from None
        if self.patience is not None:
            _set(self, "patience", _distribution(self.patience, "patience"))
        self._check_consistency()

    def _check_consistency(self) -> None:
        latest = self.doctors.session_end + self.clinic.overtime_limit
        if self.clinic.day_length < latest:
            raise ScenarioError(
                "clinic.day_length",
                f"{self.clinic.day_length!r} ends before doctors.session_end + clinic.overtime_limit = {latest!r}",
            )
        hours = math.ceil(self.clinic.day_length / 60)
        if len(self.demand.walk_in.rate_per_hour) > hours:
            raise ScenarioError(
                "demand.walk_in.rate_per_hour",
                f"{len(self.demand.walk_in.rate_per_hour)} hourly rates, but the day "
                f"(clinic.day_length = {self.clinic.day_length!r}) has only {hours} hours",
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
            t = _Table(
                data,
                "",
                ("name", "description", "clinic", "doctors", "policy", "demand", "consultation", "patience"),
            )
            return cls(
                name=_text(t.get("name"), "name"),
                description=_text(t.get("description", ""), "description"),
                clinic=t.section("clinic", Clinic.from_dict),
                doctors=t.section("doctors", Doctors.from_dict),
                policy=t.section("policy", _policy_from_dict, {}),
                demand=t.section("demand", Demand.from_dict),
                consultation=t.section("consultation", _consultation_mapping),
                patience=t.section("patience", lambda v: None if v is None else _distribution(v, ""), None),
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
            "policy": _policy_to_dict(self.policy),
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

    def engine_policy(self) -> Policy:
        """The engine's :class:`~opdsim.engine.policy.Policy` for this scenario."""
        return self.policy

    @property
    def expected_patients(self) -> dict[Category, float]:
        """Expected tokens issued per category over the day (before cancellations and no-shows) [patients]."""
        slots = self.doctors.count * self.doctors.n_slots
        session_hours = (self.doctors.session_end - self.doctors.session_start) / 60
        out = {cat: booked.per_slot * slots for cat, booked in self.demand.booked.items()}
        out[Category.WALK_IN] = self.demand.walk_in.expected
        out[Category.EMERGENCY] = self.demand.emergency.rate_per_hour * session_hours
        return dict(sorted(out.items()))

    @property
    def offered_load(self) -> float:
        """Expected consultation minutes of the patients who turn up over the doctors' session minutes [-]."""
        slots = self.doctors.count * self.doctors.n_slots
        minutes = 0.0
        for cat, expected in self.expected_patients.items():
            shows = self.demand.booked[cat].show_probability if cat in self.demand.booked else 1.0
            if expected > 0:
                minutes += expected * shows * self.consultation[cat].mean
        return minutes / (slots * self.doctors.slot_length)


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
