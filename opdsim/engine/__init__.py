"""The production allocation engine: pure domain logic, standard library only, no clock.

Import the public API from here::

    from opdsim.engine import Engine, Policy, Category, OpdsimError
"""

from opdsim.engine import events
from opdsim.engine.engine import Engine
from opdsim.engine.errors import (
    BookingRejected,
    DayClosedError,
    DuplicateBooking,
    IdempotencyConflict,
    InvalidPolicy,
    InvalidRequest,
    InvalidSchedule,
    InvalidTransition,
    OpdsimError,
    TimeWentBackwards,
    UnknownDoctor,
    UnknownSlot,
    UnknownToken,
)
from opdsim.engine.events import Event, event_to_dict
from opdsim.engine.policy import Policy
from opdsim.engine.types import Category, SlotView, TokenState, TokenView

__all__ = [
    "BookingRejected",
    "Category",
    "DayClosedError",
    "DuplicateBooking",
    "Engine",
    "Event",
    "IdempotencyConflict",
    "InvalidPolicy",
    "InvalidRequest",
    "InvalidSchedule",
    "InvalidTransition",
    "OpdsimError",
    "Policy",
    "SlotView",
    "TimeWentBackwards",
    "TokenState",
    "TokenView",
    "UnknownDoctor",
    "UnknownSlot",
    "UnknownToken",
    "event_to_dict",
    "events",
]
