"""The OPD token allocation engine: the deciding side.

Pure, deterministic domain logic: no clock (every call takes ``now``, minutes since the clinic day opened), no
I/O, standard library only. The same code runs in the hospital's booking service and in the simulation.

Design
------
Every public operation first validates its arguments (raising a typed :class:`OpdsimError` with the state
untouched), then *decides* what happens and records each change of state as an immutable event. The state is
changed only by applying events, so :meth:`Engine.replay` rebuilds exactly the same engine from the log alone.
The layers, each a module and each a class the next one extends:

* :mod:`~opdsim.engine._state`: the mutable records (slots, doctors, tokens);
* :mod:`~opdsim.engine.fold`: applying events (the ``_on_*`` handlers), the only code that changes state;
* :mod:`~opdsim.engine.timers`: slot openings, wait-aging thresholds and no-show deadlines;
* :mod:`~opdsim.engine.rebalance`: placement, displacement and refilling freed seats;
* :mod:`~opdsim.engine.aging`: bypass aging after a call;
* :mod:`~opdsim.engine.views`: reading the state (views, queues, estimates, snapshot);
* :mod:`~opdsim.engine.decide`: the decisions of every operation (its class is the whole state and logic);
* :mod:`~opdsim.engine.queries`: the public queries (interpreted in the compiled build);
* this module: the public operations, which check their arguments and hand over to the decisions.

:class:`Engine` holds the state as one :class:`~opdsim.engine.decide._Decide` object instead of extending it:
compiled, that object's methods then call each other natively, whereas on an interpreted subclass each of those
calls would go through Python's method lookup (a quarter of a simulated day's time).

The replaceable rules (aging, displacement victim, doctor choice) are in :mod:`~opdsim.engine.rules` and
:mod:`~opdsim.engine.choice`.

Serving order
-------------
Among a doctor's callable tokens the next to call has the smallest key ``(effective_rank, queue_seq)``.
``queue_seq`` is a monotonic counter given at check-in, never a clock reading. Callable tokens live in one
:class:`~opdsim.engine._tree.RankTree` per rank, indexed by the doctor's check-in position, which orders them as
``queue_seq`` does; the same trees count bypasses for aging, so no operation scans a queue.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from opdsim.engine.checks import check_event
from opdsim.engine.decide import _Decide
from opdsim.engine.errors import DayClosedError, InvalidRequest, InvalidSchedule
from opdsim.engine.events import DoctorAdded, EngineStarted, Event, Rejected
from opdsim.engine.policy import Policy
from opdsim.engine.queries import _Queries
from opdsim.engine.rules import Rules
from opdsim.engine.types import Category, TokenView

__all__ = ["Engine"]


class Engine(_Queries):
    """OPD token allocation engine (tests/engine/test_rules.py has one test per rule).

    Parameters
    ----------
    policy : Policy, optional
        The allocation rules; ``Policy()`` (the defaults) when omitted.
    rules : Rules, optional
        Replacements for the aging rule, the displacement victim or the doctor choice
        (:mod:`opdsim.engine.rules`); the policy's defaults when omitted.

    Notes
    -----
    All times are minutes since the clinic day opened [min]. A call with ``now`` earlier than the latest ``now``
    of a call that changed the state raises :class:`TimeWentBackwards`.
    """

    __slots__ = ("__weakref__",)

    def __init__(self, policy: Policy | None = None, *, rules: Rules | None = None) -> None:
        if policy is None:
            policy = Policy()
        if not isinstance(policy, Policy):
            raise InvalidRequest(f"policy: {policy!r} is not a Policy")
        if rules is not None and not isinstance(rules, Rules):
            raise InvalidRequest(f"rules: {rules!r} is not a Rules")
        self._core = _Decide(policy, rules)

    # ------------------------------------------------------------------ setup

    def add_doctor(self, doctor: str, slots: Iterable[Sequence[float]], now: float | None = None) -> None:
        """Add a doctor with consecutive slots.

        Parameters
        ----------
        doctor : str
            Unique doctor id.
        slots : iterable of (start, end, capacity)
            Slot start and end [min] and capacity [patients]; in time order, not overlapping, capacity >= 1.
        now : float, optional
            Clinic time of the call [min]; the engine's current time by default.
        """
        core = self._core
        when = core._last if now is None else core._begin(now)
        if core._closed:
            raise DayClosedError(f"add_doctor {doctor!r}: the day is closed")
        if not isinstance(doctor, str) or not doctor:
            raise InvalidRequest(f"doctor: {doctor!r} is not a non-empty string")
        if doctor in core._docs:
            raise InvalidSchedule(f"doctor {doctor!r}: already added")
        parsed: list[tuple[float, float, int]] = []
        for i, item in enumerate(slots):
            try:
                start, end, cap = item
            except (TypeError, ValueError):
                raise InvalidSchedule(f"doctor {doctor!r} slot {i}: {item!r} is not (start, end, capacity)") from None
            for name, value in (("start", start), ("end", end)):
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise InvalidSchedule(f"doctor {doctor!r} slot {i}: {name} {value!r} is not a finite number")
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
                raise InvalidSchedule(f"doctor {doctor!r} slot {i}: capacity {cap!r} must be a whole number >= 1")
            if end <= start:
                raise InvalidSchedule(f"doctor {doctor!r} slot {i}: end {end!r} is not after start {start!r}")
            if parsed and start < parsed[-1][1]:
                raise InvalidSchedule(
                    f"doctor {doctor!r} slot {i}: start {start!r} is before the end {parsed[-1][1]!r} of slot "
                    f"{i - 1} (slots must be in time order and not overlap)"
                )
            parsed.append((float(start), float(end), cap))
        if not parsed:
            raise InvalidSchedule(f"doctor {doctor!r}: no slots")
        core._emit(DoctorAdded(when, doctor, tuple(parsed)))

    # ------------------------------------------------------------------ operations

    def book(
        self,
        patient: str,
        category: Category,
        doctor: str | None = None,
        *,
        now: float,
        slot: int | None = None,
        request_id: str | None = None,
        check_in: bool = False,
    ) -> TokenView:
        """Issue a token for a non-emergency patient.

        Parameters
        ----------
        patient : str
            Patient id.
        category : Category
            Any category but EMERGENCY (emergencies enter through :meth:`emergency`).
        doctor : str, optional
            Doctor id; None lets the engine pick the doctor with the earliest estimated call time (with no free
            seat anywhere, the shortest waitlist; ties to the lowest id), as the engine's
            :class:`~opdsim.engine.choice.DoctorChoice` says; without a named slot in O(log doctors).
        now : float
            Clinic time [min].
        slot : int, optional
            Slot index; by default the earliest slot that has not ended and has a free seat.
        request_id : str, optional
            Idempotency key: the same id with the same details returns the original token.
        check_in : bool
            The patient is at the desk (a walk-in): check the new token in at once, in the same call.

        Returns
        -------
        TokenView
            The issued token (booked with a seat, or waitlisted).

        Raises
        ------
        BookingRejected
            No room under ``on_full`` "reject" or "next_slot" (logged as a Rejected audit event).
        """
        return self._core._book(patient, category, doctor, now, slot, request_id, check_in)

    def emergency(self, patient: str, doctor: str | None = None, *, now: float) -> TokenView:
        """Seat an emergency at once (never rejected; may exceed capacity by ``overflow_cap``).

        Parameters
        ----------
        patient : str
            Patient id.
        doctor : str, optional
            Doctor id; None picks the doctor at whom the emergency would be called earliest: the later of
            ``now`` and the time the doctor is expected free (now when idle; the call time of the patient being
            seen plus the doctor's mean consultation, never earlier than now), plus the callable emergencies
            ahead times that mean. Ties go to the fewest callable tokens, then the lowest id.
        now : float
            Clinic time [min].

        Returns
        -------
        TokenView
            The emergency token, checked in and callable; or the patient's existing emergency token, or the
            token being seen, at that doctor.
        """
        return self._core._emergency(patient, doctor, now)

    def check_in(self, token_id: str, now: float) -> None:
        """Record the patient's arrival; gives the token its ``queue_seq``."""
        self._core._check_in(token_id, now)

    def call_next(self, doctor: str, now: float) -> TokenView | None:
        """Call the doctor's next patient: the callable token with the smallest ``(effective_rank, queue_seq)``.

        Returns
        -------
        TokenView or None
            The called token, or None when nobody is callable.
        """
        return self._core._call_next(doctor, now)

    def complete(self, token_id: str, now: float) -> None:
        """End the consultation of a called token (updates the doctor's mean consultation length)."""
        self._core._complete(token_id, now)

    def cancel(self, token_id: str, now: float) -> None:
        """Cancel a token not yet called; its seat is refilled from the waitlist at once."""
        self._core._cancel(token_id, now)

    def no_show(self, token_id: str, now: float) -> None:
        """Mark a booked token whose patient did not check in by the deadline (slot start or seat time, plus grace)."""
        self._core._no_show(token_id, now)

    def leave(self, token_id: str, now: float) -> None:
        """Record that a checked-in patient went away unseen; frees and refills the seat like a cancel."""
        self._core._leave(token_id, now)

    def delay(self, doctor: str, minutes: float, now: float) -> None:
        """The doctor runs late: slots not started shift by ``minutes``; the running slot ends later [min]."""
        self._core._delay(doctor, minutes, now)

    def tick(self, now: float) -> None:
        """Let clinic time reach ``now``: open slots, apply wait aging and (with ``auto_no_show``) mark no-shows."""
        self._core._tick(now)

    def close_day(self, now: float) -> None:
        """End the day: the patient being seen is completed, every other active token becomes unserved."""
        self._core._close(now)

    # ------------------------------------------------------------------ replay

    @classmethod
    def replay(cls, events: Iterable[Event], *, rules: Rules | None = None) -> Engine:
        """Rebuild an engine from its event log; it behaves identically from then on.

        Parameters
        ----------
        events : iterable of Event
            A log as :attr:`events` gives it, starting with ``EngineStarted``.
        rules : Rules, optional
            The rules the logging engine was made with (rules are code, not data in the log).

        Raises
        ------
        InvalidRequest
            The log does not start with ``EngineStarted``, or an event does not fit the state it is applied
            to (see :meth:`apply`).
        """
        it = iter(events)
        first = next(it, None)
        if not isinstance(first, EngineStarted):
            raise InvalidRequest(f"replay: the log must start with EngineStarted, not {first!r}")
        eng = cls(first.policy, rules=rules)
        for ev in it:
            eng.apply(ev)
        return eng

    def apply(self, event: Event) -> None:
        """Apply one logged event, as :meth:`replay` does (for stepping through a log, e.g. a live view).

        The event is checked against the state first (:func:`~opdsim.engine.checks.check_event`: a known kind,
        ``now`` not earlier than the last change, the doctor, token and slot it names exist, and the token is in
        a state the event may follow); a misfit raises :class:`InvalidRequest` and changes nothing. ``Rejected``
        audit records are logged and change nothing.
        """
        core = self._core
        if isinstance(event, Rejected):
            core._log.append(event)
            return
        check_event(core, event)
        core._emit(event)
