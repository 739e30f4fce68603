"""Request and response models of the booking service (pydantic); every string, list and page is bounded."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = [
    "MAX_PAGE",
    "AtIn",
    "AuditEvent",
    "AuditOut",
    "BoardDoctor",
    "BoardEntry",
    "BoardOut",
    "BookIn",
    "CallOut",
    "ClinicDate",
    "DayOut",
    "DaySetup",
    "DelayIn",
    "DoctorIn",
    "DoctorOut",
    "Done",
    "EmergencyIn",
    "ErrorOut",
    "HealthOut",
    "Ident",
    "QueueOut",
    "ReadyOut",
    "SlotDetailOut",
    "SlotIn",
    "SlotOut",
    "TokenOut",
]

MAX_PAGE = 500
MIN_YEAR, MAX_YEAR = 2000, 2200

# ids of patients, doctors and tokens: short, printable, no spaces
Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]
BookCategory = Literal["EMERGENCY", "PAID_PRIORITY", "FOLLOW_UP", "ONLINE", "WALK_IN"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _in_range(value: dt.date) -> dt.date:
    # beyond these years a time zone's offset could overflow datetime; no clinic books that far out
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"{value.isoformat()} is outside the years {MIN_YEAR} to {MAX_YEAR}")
    return value


def _date_in_range(value: dt.date) -> dt.date:
    return _in_range(value)


def _time_in_range(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None:
        _in_range(value.date())
    return value


ClinicDate = Annotated[dt.date, AfterValidator(_date_in_range)]


class AtIn(_In):
    """When the event happened (optional; the server's clock by default). ISO 8601; no offset = hospital time."""

    at: Annotated[dt.datetime | None, AfterValidator(_time_in_range)] = None


class SlotIn(_In):
    """One slot of a doctor: wall-clock start and end on the day, and its capacity [patients]."""

    start: dt.time
    end: dt.time
    capacity: int = Field(ge=1, le=10_000)


class DoctorIn(_In):
    """A doctor and their consecutive slots."""

    id: Ident
    slots: list[SlotIn] = Field(min_length=1, max_length=48)


class DaySetup(_In):
    """A clinic day: its date, the hospital's IANA time zone, the opening time and the doctors."""

    date: ClinicDate
    time_zone: str = Field(min_length=1, max_length=64, examples=["Asia/Kolkata"])
    opens_at: dt.time = Field(examples=["09:00"])
    doctors: list[DoctorIn] = Field(min_length=1, max_length=200)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Kolkata)") from None
        return value


class BookIn(AtIn):
    """``POST /book-token``: a token for a patient on a day, at a doctor (or any) and slot (or the earliest)."""

    day: ClinicDate
    patient: Ident
    category: BookCategory
    doctor: Ident | None = None
    slot: int | None = Field(default=None, ge=0, le=1000)
    check_in: bool = False  # the patient is at the desk: check the token in at once


class EmergencyIn(AtIn):
    """An emergency: seated at once at the doctor named, or at the one who would call them earliest."""

    patient: Ident
    doctor: Ident | None = None


class DelayIn(AtIn):
    """The doctor runs late by ``minutes`` [min]."""

    minutes: float = Field(ge=0, le=720)


class ErrorOut(BaseModel):
    """Every error: a stable ``code`` and a message naming the field, doctor, slot or token."""

    code: str
    message: str
    field: str | None = None
    next_slot: int | None = None


class TokenOut(BaseModel):
    """A token as the patient and the desk see it; times in the hospital's time zone."""

    id: str
    day: dt.date
    patient: str
    category: str
    effective_rank: int
    state: str
    doctor: str
    slot: int | None
    requested_slot: int
    queue_seq: int | None
    bypasses: int
    displacements: int
    upgrades: int
    issued_at: dt.datetime | None
    checked_in_at: dt.datetime | None
    called_at: dt.datetime | None
    ended_at: dt.datetime | None
    estimated_call: dt.datetime | None


class CallOut(BaseModel):
    """The token a doctor called, or null when nobody was callable."""

    day: dt.date
    doctor: str
    token: TokenOut | None


class SlotOut(BaseModel):
    """One slot: wall-clock times, capacity and occupancy."""

    index: int
    start: dt.datetime
    end: dt.datetime
    capacity: int
    regular: int
    emergencies: int
    free: int


class DoctorOut(BaseModel):
    """A doctor on the day: who they are seeing and their slots."""

    id: str
    busy_with: str | None
    slots: list[SlotOut]


class DayOut(BaseModel):
    """A clinic day's setup and its doctors' slots as they stand."""

    date: dt.date
    time_zone: str
    opens_at: dt.datetime
    closed: bool
    policy: dict[str, Any]
    doctors: list[DoctorOut]


class QueueOut(BaseModel):
    """A doctor's callable tokens in serving order, with estimated call times (one page)."""

    day: dt.date
    doctor: str
    busy_with: str | None
    total: int
    offset: int
    tokens: list[TokenOut]


class SlotDetailOut(BaseModel):
    """A slot's occupancy and the waitlisted tokens that would take a seat freed in it, in refill order."""

    day: dt.date
    doctor: str
    slot: SlotOut
    waitlist_total: int
    offset: int
    waitlist: list[TokenOut]


class AuditEvent(BaseModel):
    """One event of the day's log: its version in the stream, kind, time and fields."""

    version: int
    kind: str
    at: dt.datetime | None
    data: dict[str, Any]


class AuditOut(BaseModel):
    """One page of the day's event log, oldest first."""

    day: dt.date
    total: int
    offset: int
    events: list[AuditEvent]


class BoardEntry(BaseModel):
    """A token on the display board (no patient names on a public screen)."""

    token: str
    estimated_call: dt.datetime | None


class BoardDoctor(BaseModel):
    """Now serving and next, for one doctor."""

    doctor: str
    now_serving: str | None
    next: list[BoardEntry]


class BoardOut(BaseModel):
    """The waiting hall's display."""

    day: dt.date
    doctors: list[BoardDoctor]


class Done(BaseModel):
    """A day-wide command was applied; ``events`` is the stream's length after it."""

    day: dt.date
    events: int


class HealthOut(BaseModel):
    """The process is up."""

    status: Literal["ok"]


class ReadyOut(BaseModel):
    """The database answers and its schema is current."""

    status: Literal["ready", "not_ready"]
    database: str
    days: int
