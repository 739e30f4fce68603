"""The sections of a scenario: the clinic day, the doctors and their breaks, and the demand by category.

Each section is a frozen dataclass that validates itself on construction (errors name fields relative to the
section; the scenario nests them under the section's dotted path) and reads and writes its TOML table.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from opdsim.engine.types import Category
from opdsim.sim.distributions import Deterministic, Distribution
from opdsim.sim.errors import ScenarioError
from opdsim.sim.fields import number, probability, sequence, whole
from opdsim.sim.scenario.tables import Table, category, distribution, set_field

__all__ = [
    "BOOKED_CATEGORIES",
    "BookedDemand",
    "Break",
    "Clinic",
    "Demand",
    "Doctors",
    "Emergency",
    "WalkIn",
]

BOOKED_CATEGORIES: tuple[Category, ...] = (Category.PAID_PRIORITY, Category.FOLLOW_UP, Category.ONLINE)
"""Categories booked ahead into a slot (walk-ins are booked at the desk, emergencies inserted)."""

_NO_DELAY: Distribution = Deterministic(0)


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
        screens colour red (OpenMRS O3).
    """

    day_length: float
    overtime_limit: float = 60.0
    starvation_limit: float = 120.0

    def __post_init__(self) -> None:
        set_field(self, "day_length", number(self.day_length, "day_length", positive=True))
        set_field(self, "overtime_limit", number(self.overtime_limit, "overtime_limit", minimum=0))
        set_field(self, "starvation_limit", number(self.starvation_limit, "starvation_limit", positive=True))

    @classmethod
    def from_dict(cls, data: object) -> Clinic:
        """Build from the ``[clinic]`` table (errors name fields relative to it)."""
        t = Table(data, "", [f.name for f in dataclasses.fields(cls)])
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
        set_field(self, "at", number(self.at, "at", minimum=0))
        set_field(self, "duration", distribution(self.duration, "duration"))

    @classmethod
    def from_dict(cls, data: object) -> Break:
        """Build from one ``[[doctors.breaks]]`` table."""
        if isinstance(data, Break):
            return data
        t = Table(data, "", ("at", "duration"))
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
        ids = sequence(self.ids, "ids")
        if not ids:
            raise ScenarioError("ids", "[] is empty: give at least one doctor")
        for k, doctor in enumerate(ids):
            if not isinstance(doctor, str) or not doctor:
                raise ScenarioError(f"ids[{k}]", f"{doctor!r} is not a non-empty string")
            if doctor in ids[:k]:
                raise ScenarioError(f"ids[{k}]", f"{doctor!r} is repeated")
        set_field(self, "ids", ids)
        set_field(self, "session_start", number(self.session_start, "session_start", minimum=0))
        set_field(self, "session_end", number(self.session_end, "session_end", minimum=0))
        if self.session_end <= self.session_start:
            raise ScenarioError("session_end", f"{self.session_end!r} must be > session_start = {self.session_start!r}")
        set_field(self, "slot_length", number(self.slot_length, "slot_length", positive=True))
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
        set_field(self, "slot_capacity", whole(self.slot_capacity, "slot_capacity", minimum=1))
        set_field(self, "start_delay", distribution(self.start_delay, "start_delay"))
        breaks = sequence(self.breaks, "breaks")
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
        set_field(self, "breaks", tuple(checked))

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
        t = Table(data, "", keys)
        if ("count" in t.data) == ("ids" in t.data):
            raise ScenarioError("count", "give either count or ids (exactly one)")
        if "count" in t.data:
            count = whole(t.data["count"], "count", minimum=1)
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
        set_field(self, "per_slot", number(self.per_slot, "per_slot", minimum=0))
        set_field(self, "punctuality", distribution(self.punctuality, "punctuality", nonnegative=False))
        set_field(self, "no_show", probability(self.no_show, "no_show"))
        set_field(self, "cancel", probability(self.cancel, "cancel"))
        if self.no_show + self.cancel > 1:
            raise ScenarioError(
                "cancel",
                f"{self.cancel!r} + no_show {self.no_show!r} is more than 1 (they exclude each other)",
            )
        if self.cancel_lead is None:
            if self.cancel > 0:
                raise ScenarioError("cancel_lead", f"missing (required when cancel = {self.cancel!r} > 0)")
        else:
            set_field(self, "cancel_lead", distribution(self.cancel_lead, "cancel_lead"))

    @property
    def show_probability(self) -> float:
        """Probability that a booking turns up, ``1 - no_show - cancel`` [-]."""
        return 1.0 - self.no_show - self.cancel

    @classmethod
    def from_dict(cls, data: object) -> BookedDemand:
        """Build from a ``[demand.booked.<CATEGORY>]`` table."""
        t = Table(data, "", [f.name for f in dataclasses.fields(cls)])
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
        Arrival rate in each hour of the session, hour 0 starting at ``doctors.session_start`` [1/h]. The
        scenario requires a rate for every hour of the session (a shorter list is an error, never zeros) and
        allows more, for walk-ins during overtime, up to the close of the day. Empty: no walk-ins.
    """

    rate_per_hour: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        rates = sequence(self.rate_per_hour, "rate_per_hour")
        set_field(
            self, "rate_per_hour", tuple(number(r, f"rate_per_hour[{k}]", minimum=0) for k, r in enumerate(rates))
        )

    def rate_at(self, minute: float) -> float:
        """Arrival rate ``minute`` minutes after the session start [1/h]; 0 after the last hour given."""
        hour = math.floor(minute / 60)
        return float(self.rate_per_hour[hour]) if 0 <= hour < len(self.rate_per_hour) else 0.0

    @property
    def expected(self) -> float:
        """Expected walk-ins over the day at ``demand.scale = 1`` [patients]."""
        return math.fsum(self.rate_per_hour)

    @classmethod
    def from_dict(cls, data: object) -> WalkIn:
        """Build from the ``[demand.walk_in]`` table."""
        t = Table(data, "", ("rate_per_hour",))
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
        set_field(self, "rate_per_hour", number(self.rate_per_hour, "rate_per_hour", minimum=0))

    @classmethod
    def from_dict(cls, data: object) -> Emergency:
        """Build from the ``[demand.emergency]`` table."""
        t = Table(data, "", ("rate_per_hour",))
        return cls(rate_per_hour=t.get("rate_per_hour"))

    def to_dict(self) -> dict[str, Any]:
        """The ``[demand.emergency]`` table."""
        return {"rate_per_hour": self.rate_per_hour}


def _booked_mapping(value: object) -> Mapping[Category, BookedDemand]:
    if not isinstance(value, Mapping):
        raise ScenarioError("", f"{value!r} is not a table")
    out: dict[Category, BookedDemand] = {}
    for key, item in value.items():
        cat = category(key, "", BOOKED_CATEGORIES)
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
    scale : float
        Factor multiplying every arrival and booking rate [-], > 0: the walk-in rates, the emergency rate and the
        expected bookings per slot. Counts are drawn from the scaled expectation (a Poisson count of mean
        ``scale * per_slot`` bookings per doctor and slot), so nothing is rounded; ``scale = 1`` draws exactly
        the patients of the unscaled day.
    """

    booked: Mapping[Category, BookedDemand] = field(default_factory=lambda: MappingProxyType({}))
    walk_in: WalkIn = WalkIn()
    emergency: Emergency = Emergency()
    scale: float = 1.0

    def __post_init__(self) -> None:
        try:
            set_field(self, "booked", _booked_mapping(self.booked))
        except ScenarioError as error:
            raise error.within("booked") from None
        for name, kind in (("walk_in", WalkIn), ("emergency", Emergency)):
            if not isinstance(getattr(self, name), kind):
                raise ScenarioError(name, f"{getattr(self, name)!r} is not a {kind.__name__}")
        set_field(self, "scale", number(self.scale, "scale", positive=True))

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
        t = Table(data, "", ("scale", "booked", "walk_in", "emergency"))
        return cls(
            booked=t.section("booked", _booked_mapping, {}),
            walk_in=t.section("walk_in", WalkIn.from_dict, {"rate_per_hour": []}),
            emergency=t.section("emergency", Emergency.from_dict, {"rate_per_hour": 0}),
            scale=t.get("scale", 1.0),
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``[demand]`` table (``scale`` only when it is not 1, so that an unscaled day keeps its identity)."""
        out: dict[str, Any] = {"scale": self.scale} if self.scale != 1 else {}
        return out | {
            "booked": {cat.name: booked.to_dict() for cat, booked in self.booked.items()},
            "walk_in": self.walk_in.to_dict(),
            "emergency": self.emergency.to_dict(),
        }
