"""The production allocation engine: pure domain logic, standard library only, no clock.

Import the public API from here::

    from opdsim.engine import Engine, Policy, Category, OpdsimError
"""

from opdsim.engine import _build

_build.install()  # before any compiled module is imported: OPDSIM_PURE=1 forces the pure-Python build

from opdsim.engine import events  # noqa: E402
from opdsim.engine.engine import Engine  # noqa: E402
from opdsim.engine.errors import (  # noqa: E402
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
from opdsim.engine.events import Event, event_to_dict  # noqa: E402
from opdsim.engine.policy import Policy  # noqa: E402
from opdsim.engine.types import Category, SlotView, TokenState, TokenView  # noqa: E402

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
