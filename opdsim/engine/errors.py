"""Typed errors of the allocation engine.

Every invalid call raises a subclass of :class:`OpdsimError` whose message names the doctor, slot or token and
the reason, and leaves the engine's state exactly as it was.
"""

from __future__ import annotations

__all__ = [
    "BookingRejected",
    "DayClosedError",
    "DuplicateBooking",
    "IdempotencyConflict",
    "InvalidPolicy",
    "InvalidRequest",
    "InvalidSchedule",
    "InvalidTransition",
    "OpdsimError",
    "TimeWentBackwards",
    "UnknownDoctor",
    "UnknownSlot",
    "UnknownToken",
]


class OpdsimError(Exception):
    """Base class of every error opdsim raises on purpose."""


class InvalidPolicy(OpdsimError, ValueError):
    """A policy field has a value outside its domain."""


class InvalidRequest(OpdsimError, ValueError):
    """An argument is malformed (a NaN time, a negative delay, an EMERGENCY booking, ...)."""


class InvalidSchedule(OpdsimError, ValueError):
    """A doctor's slots are malformed (capacity < 1, end <= start, out of order or overlapping)."""


class UnknownDoctor(OpdsimError, KeyError):
    """No doctor with that id."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0])


class UnknownSlot(OpdsimError, IndexError):
    """No slot with that index at that doctor."""


class UnknownToken(OpdsimError, KeyError):
    """No token with that id."""

    def __str__(self) -> str:
        return str(self.args[0])


class InvalidTransition(OpdsimError):
    """The token or doctor is not in a state that allows the call (double cancel, call while busy, ...)."""


class TimeWentBackwards(OpdsimError, ValueError):
    """A call's ``now`` is earlier than the latest ``now`` of a call that changed the state."""


class DayClosedError(OpdsimError):
    """The day has been closed; every further call is refused."""


class DuplicateBooking(OpdsimError):
    """The patient already holds an active token at that doctor."""


class IdempotencyConflict(OpdsimError):
    """A request id was reused with different details."""


class BookingRejected(OpdsimError):
    """A booking was refused for lack of room; no token was issued.

    Attributes
    ----------
    doctor : str or None
        The doctor asked for (or chosen).
    slot : int or None
        The slot asked for.
    next_slot : int or None
        The next slot of that doctor with a free seat, or None when there is none.
    """

    def __init__(self, message: str, doctor: str | None, slot: int | None, next_slot: int | None) -> None:
        super().__init__(message)
        self.doctor = doctor
        self.slot = slot
        self.next_slot = next_slot
