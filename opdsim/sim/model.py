"""The SimPy model of an OPD day: patients and doctors as processes, every decision the engine's.

Processes
---------
* ``script``: walks the day's pre-drawn patient actions in time order (book ahead, cancel, arrive); when no
  other event is scheduled before its next action it moves the clock there itself, without a SimPy timeout
  (:meth:`_Clock.skip_to`). An
  arriving booked patient checks in (or, if the token already became a no-show, books again and checks in); a
  walk-in books at the desk and checks in at once (``doctor=None``: the engine picks the doctor); an emergency
  goes through :meth:`Engine.emergency`.
* patience: the deadlines of checked-in patients with finite patience in one heap, and a timeout with a
  callback (not a process) at the earliest deadline of a patient still waiting; at a deadline a patient not yet
  called leaves.
* ``doctor``: one per doctor: late start (announced to the engine with :meth:`Engine.delay`), breaks, then
  ``call_next`` / consult / ``complete`` until the overtime limit; a consultation with no other event
  scheduled before its end moves the clock there itself, as the script does. An idle doctor sleeps until woken,
  and only a change that may have given its own queue a callable token wakes it (read from the engine's new
  events), or until its break or last call: one timeout per such stretch, however often the doctor falls idle in
  it.
* ``ticker``: calls :meth:`Engine.tick` exactly at :meth:`Engine.next_due` (slot starts, no-show deadlines,
  wait-aging thresholds), never by polling; it is woken early when a change brings the next due time forward.

The model holds no queue logic: it only knows who is where in time, and asks the engine.
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator
from collections.abc import Generator
from typing import Any, Final

import numpy as np
import simpy
import simpy.core
import simpy.events

from opdsim.engine import BookingRejected, Category, Engine, Policy, TokenState
from opdsim.engine.events import CheckedIn, Displaced, Promoted, SlotOpened
from opdsim.sim.collector import collector_paused
from opdsim.sim.population import KIND_BOOKED, KIND_EMERGENCY, Population

__all__ = ["DayPlan", "DoctorPlan", "play_day"]

_BOOK: Final = 0
_CANCEL: Final = 1
_ARRIVE: Final = 2
_CATEGORIES: Final = tuple(Category)
_WAITING: Final = (TokenState.CHECKED_IN, TokenState.WAITLISTED)


def _wake_up(ev: simpy.Event) -> Any:
    """A timeout callback that triggers ``ev`` unless something triggered it first (a cheaper ``ev | timeout``)."""

    def fire(_: simpy.Event) -> None:
        if not ev.triggered:
            ev.succeed()

    return fire


# SimPy's event factories, bound to each environment (see _Clock.__init__)
_FACTORIES: Final = tuple(name for name, f in vars(simpy.Environment).items() if type(f) is simpy.core.BoundClass)


class _Clock(simpy.Environment):
    """A SimPy environment whose clock a process may move forward itself when nothing else is due before.

    ``skip_to(t)`` is what ``yield env.timeout(t - env.now)`` would do when no event is scheduled before ``t``
    (and none at ``t``, which would otherwise run first): it sets the clock to ``t`` at once and saves two
    scheduled events. It, :meth:`call_at`, :meth:`discard_pending` and ``now`` (read without a Python call) are
    the one place that touches SimPy's internals.
    """

    # SimPy's ``now`` is a property running a Python function; the model reads it about 2,000 times a day
    now = property(operator.attrgetter("_now"), doc="The current simulation time [min].")

    def __init__(self, initial_time: float = 0.0) -> None:
        super().__init__(initial_time)
        # SimPy binds its event factories (``timeout``, ``event``, ``process``, ...) to each environment once, for
        # speed, but finds them in the instance's own class only: on a subclass every ``env.timeout`` would build
        # a new bound method (2% of a standard day's play). Bound here from SimPy's class.
        # (Each holds the environment: :meth:`discard_pending` lets go of them at the end.)
        for name in _FACTORIES:
            setattr(self, name, getattr(self, name))

    def skip_to(self, t: float) -> bool:
        """Move the clock to ``t`` [min] if no scheduled event comes at or before it; whether it did."""
        queue = self._queue  # what SimPy's peek() reads, without its Python call (twice per patient)
        if (queue[0][0] if queue else math.inf) > t:
            self._now = t
            return True
        return False

    def call_at(self, t: float, callback: Any) -> None:
        """Run ``callback(event)`` at clock time ``t`` [min] exactly: a timeout scheduled at an absolute time,
        where ``timeout(t - now)`` may land an ulp off ``t``."""
        if not t >= self._now:
            raise ValueError(f"call_at: {t!r} is before the current time {self._now!r}")
        event = simpy.Event(self)
        event._ok = True
        event._value = None
        event.callbacks.append(callback)
        heapq.heappush(self._queue, (t, simpy.events.NORMAL, next(self._eid), event))

    def discard_pending(self) -> None:
        """Drop every event still scheduled (the day is over): their callbacks hold the model, which holds this
        environment, so left in place they would keep the day alive until the cyclic collector found them; so
        would the bound factories."""
        self._queue.clear()
        for name in _FACTORIES:
            self.__dict__.pop(name, None)


class DoctorPlan:
    """One doctor's day: slots, late start [min] and breaks ``[(at, duration), ...]`` [min]."""

    __slots__ = ("breaks", "id", "last_call", "late", "slots")

    def __init__(
        self,
        doctor_id: str,
        slots: list[tuple[float, float, int]],
        late: float,
        breaks: list[tuple[float, float]],
        last_call: float,
    ) -> None:
        self.id = doctor_id
        self.slots = slots
        self.late = late
        self.breaks = breaks
        self.last_call = last_call  # no call after this clinic time, before any delay is added [min]


class DayPlan:
    """Everything one run needs: the engine policy, the doctors, the patients and the close of day [min]."""

    __slots__ = ("close", "doctors", "policy", "population", "sample_times", "session_start")

    def __init__(
        self,
        policy: Policy,
        doctors: list[DoctorPlan],
        population: Population,
        session_start: float,
        close: float,
        sample_times: np.ndarray | None = None,
    ) -> None:
        self.policy = policy
        self.doctors = doctors
        self.population = population
        self.session_start = session_start
        self.close = close
        self.sample_times = sample_times  # instants at which the observer reads the engine's queue [min]


class _Day:
    def __init__(self, plan: DayPlan) -> None:
        pop = plan.population
        self.plan = plan
        self.pop = pop
        self.eng = Engine(plan.policy)
        for d in plan.doctors:
            self.eng.add_doctor(d.id, d.slots)
        times = np.concatenate([pop.booked_at, pop.cancel_at, pop.arrival])
        kinds = np.repeat(np.array([_BOOK, _CANCEL, _ARRIVE]), len(pop))
        who = np.tile(np.arange(len(pop)), 3)
        real = ~np.isnan(times)
        # walk-ins and emergencies have no separate booking: they book on arrival
        real[: len(pop)] &= pop.kind == KIND_BOOKED
        times, kinds, who = times[real], kinds[real], who[real]
        order = np.lexsort((who, kinds, times))  # by time, then book < cancel < arrive, then patient order
        self.actions = list(zip(times[order].tolist(), kinds[order].tolist(), who[order].tolist(), strict=True))
        start = min(plan.session_start, self.actions[0][0]) if self.actions else plan.session_start
        self.env = _Clock(initial_time=start)
        self.token_of: dict[int, str] = {}  # patient index -> current token id
        self.doctor_of: dict[str, str] = {}  # token id -> its doctor
        self.seen = self.eng.event_count  # events already looked at for wake-ups
        self.patient_index = {p: i for i, p in enumerate(pop.patient.tolist())}
        self.rebooked = np.zeros(len(pop), dtype=bool)
        self.rejected = np.zeros(len(pop), dtype=bool)
        self.idle: dict[str, simpy.Event | None] = {d.id: None for d in plan.doctors}  # the event it sleeps on
        self.sleeping = 0  # doctors with an idle event
        self.tick_wake: simpy.Event | None = None
        self.tick_at = math.inf
        self.consult = pop.consultation.tolist()
        self.finite_patience = bool(np.isfinite(pop.patience).any())
        self.patience: list[tuple[float, int, str]] = []  # (deadline [min], order, token id) of checked-in patients
        self.run_outs: set[float] = set()  # the deadlines [min] a patience timeout is scheduled for
        self.checked_in = itertools.count()  # ties of deadlines go in check-in order
        self.samples: list[tuple[float, int, int]] = []

    # -- signalling between processes

    def wake(self) -> None:
        """Wake the idle doctors whose queue may have gained a callable token since the last look at the
        engine's log (check-in, slot opened, promotion, displacement), and the ticker if the next due time
        moved earlier."""
        count = self.eng.event_count
        if count == self.seen:
            return  # nothing changed since the last look: no queue grew, the next due time stands
        if self.sleeping:  # nine times in ten every doctor is busy: then no event needs a look
            self.wake_doctors(self.eng.events_since(self.seen))
        self.seen = count
        self.check_ticker()

    def wake_after_own(self) -> None:
        """:meth:`wake` after a doctor's own ``call_next`` that called a token, or its ``complete``. If that logged
        one event alone since the last look, the event is the ``Called`` or ``Completed`` itself: neither gives a
        queue a callable token, and neither sets a timer (the engine sets them on seating, on becoming callable and
        on a slot's opening), so no doctor needs waking and the next due time cannot come earlier."""
        if self.eng.event_count == self.seen + 1:
            self.seen += 1
        else:
            self.wake()

    def wake_doctors(self, events: list[Any]) -> None:
        """Wake each idle doctor whose queue one of ``events`` may have given a callable token."""
        idle = self.idle
        doctor_of = self.doctor_of
        for ev in events:
            kind = ev.__class__
            if kind is CheckedIn or kind is Promoted or kind is Displaced:
                doctor = doctor_of[ev.token]
            elif kind is SlotOpened:
                doctor = ev.doctor
            else:
                continue
            wake = idle[doctor]
            if wake is not None:
                idle[doctor] = None
                self.sleeping -= 1
                if not wake.triggered:  # its timeout may have fired at this very instant
                    wake.succeed()

    def check_ticker(self) -> None:
        """Wake the sleeping ticker if the engine's next due time is now earlier than it planned for."""
        if self.tick_wake is not None:
            due = self.eng.next_due()
            if due is not None and due < self.tick_at:
                ev = self.tick_wake
                self.tick_wake = None
                if not ev.triggered:
                    ev.succeed()

    # -- processes

    def script(self) -> Generator[simpy.Event, Any, None]:
        env, eng, pop = self.env, self.eng, self.pop
        categories = pop.category.tolist()
        kinds_of = pop.kind.tolist()
        names = pop.patient.tolist()
        doctor_of = pop.doctor.tolist()
        slot_of = pop.slot.tolist()
        patience = pop.patience.tolist()
        token_of = self.token_of
        token_doctor = self.doctor_of
        skip_to = env.skip_to
        for t, action, i in self.actions:
            if t > env.now and not skip_to(t):
                yield env.timeout(t - env.now)
            now = env.now
            cat = _CATEGORIES[categories[i]]
            if action == _BOOK:
                try:
                    view = eng.book(names[i], cat, doctor_of[i], now=now, slot=slot_of[i])
                    token_of[i] = view.id
                    token_doctor[view.id] = view.doctor
                except BookingRejected:
                    self.rejected[i] = True
                continue
            if action == _CANCEL:
                tid = token_of.get(i)
                if tid is not None and eng.state(tid) in (
                    TokenState.BOOKED,
                    TokenState.WAITLISTED,
                    TokenState.CHECKED_IN,
                ):
                    eng.cancel(tid, now)
                    self.wake()
                continue
            kind = kinds_of[i]
            if kind == KIND_EMERGENCY:
                view = eng.emergency(names[i], now=now)
                token_of[i] = view.id
                token_doctor[view.id] = view.doctor
                self.wake()
                continue
            tid = token_of.get(i)
            try:
                if kind != KIND_BOOKED:  # a walk-in: booked at the desk and checked in at once
                    view = eng.book(names[i], cat, None, now=now, check_in=True)
                    tid = token_of[i] = view.id
                    token_doctor[tid] = view.doctor
                elif tid is None:
                    continue  # the booking was refused: the patient never had a token
                else:
                    state = eng.state(tid)
                    if state is TokenState.NO_SHOW:  # late past the grace period: booked again as a new token
                        self.rebooked[i] = True
                        view = eng.book(names[i], cat, doctor_of[i], now=now, check_in=True)
                        tid = token_of[i] = view.id
                        token_doctor[tid] = view.doctor
                    elif state is TokenState.BOOKED or state is TokenState.WAITLISTED:
                        eng.check_in(tid, now)
                    else:
                        continue  # cancelled while away: nothing to check in
            except BookingRejected:
                self.rejected[i] = True
                continue
            self.wake()
            if self.finite_patience and patience[i] < math.inf:
                self.expect_leaving(tid, now + patience[i])

    # -- patience

    def expect_leaving(self, token_id: str, deadline: float) -> None:
        """A checked-in patient leaves at ``deadline`` [min] unless called first.

        Most patients are called long before their patience ends, and a SimPy timeout for each cost an eighth of
        a day's play. The deadlines wait in one heap instead, and a timeout comes at the earliest deadline not yet
        known to be moot (:meth:`run_out`); always one at or before the heap's first.
        """
        heapq.heappush(self.patience, (deadline, next(self.checked_in), token_id))
        self.run_out_by(deadline)

    def run_out_by(self, at: float) -> None:
        """Make sure a patience timeout comes at or before ``at`` [min]."""
        run_outs = self.run_outs
        if not run_outs or at < min(run_outs):
            run_outs.add(at)
            self.env.call_at(at, self.run_out)

    def run_out(self, _: simpy.Event) -> None:
        """The timeout at a deadline: every patient whose patience has ended and who is still waiting leaves.
        Then the deadlines of patients no longer waiting (called or gone, for good) are dropped from the front of
        the heap, and the next timeout is set for the first one left."""
        now = self.env.now
        self.run_outs.discard(now)
        eng = self.eng
        if eng.closed:
            return
        patience, state = self.patience, eng.state
        while patience and patience[0][0] <= now:
            token_id = heapq.heappop(patience)[2]
            if state(token_id) in _WAITING:
                eng.leave(token_id, now)
                self.wake()
        while patience and state(patience[0][2]) not in _WAITING:
            heapq.heappop(patience)
        if patience:
            self.run_out_by(patience[0][0])

    def doctor(self, plan: DoctorPlan) -> Generator[simpy.Event, Any, None]:
        env, eng = self.env, self.eng
        doc = plan.id
        start = plan.slots[0][0]
        if env.now < start:
            yield env.timeout(start - env.now)
        last_call = plan.last_call
        if plan.late > 0:
            eng.delay(doc, plan.late, env.now)
            last_call += plan.late
            self.wake()  # a delay moves no token, but its call may have opened slots elsewhere
            yield env.timeout(plan.late)
        breaks = sorted(plan.breaks)
        consult = self.consult
        index = self.patient_index
        call_next, complete = eng.call_next, eng.complete
        skip_to = env.skip_to
        idle = self.idle
        alarm = -math.inf  # the end [min] of the idle stretch a timeout is set for

        def ring(_: simpy.Event) -> None:  # the end of an idle stretch: wake the doctor if still asleep
            ev = idle[doc]
            if ev is not None and not ev.triggered:
                ev.succeed()

        while env.now < last_call:
            if breaks and env.now >= breaks[0][0]:
                yield env.timeout(breaks.pop(0)[1])
                continue
            view = call_next(doc, env.now)
            if view is None:
                self.wake()  # a slot opened by this call may wake a doctor or bring a deadline forward
                until = min(last_call, breaks[0][0]) if breaks else last_call
                ev = env.event()
                idle[doc] = ev
                self.sleeping += 1
                if until != alarm:  # one timeout per idle stretch's end, not one per time the doctor dozes off
                    alarm = until
                    env.call_at(until, ring)
                yield ev
                if idle[doc] is not None:  # woken by the end of the stretch, not by a change of its queue
                    idle[doc] = None
                    self.sleeping -= 1
                continue
            self.wake_after_own()  # as above, unless the call logged nothing but itself
            length = consult[index[view.patient]]
            if not skip_to(env.now + length):  # the end of the consultation, exactly where a timeout would put it
                yield env.timeout(length)
            complete(view.id, env.now)
            self.wake_after_own()

    def ticker(self) -> Generator[simpy.Event, Any, None]:
        env, eng = self.env, self.eng
        while True:
            due = eng.next_due()
            if due is not None and due <= env.now:
                eng.tick(env.now)
                self.wake()
                continue
            ev = env.event()
            self.tick_wake = ev
            if due is None:
                self.tick_at = math.inf
                yield ev
            else:
                self.tick_at = due
                env.timeout(due - env.now).callbacks.append(_wake_up(ev))
                yield ev
            self.tick_wake = None

    def observer(self, times: list[float]) -> Generator[simpy.Event, Any, None]:
        """Read the engine's own queue length and busy doctors at the given instants (an observer hook: the
        timeline's Little's-law check compares these readings with the patients' waits)."""
        env, eng = self.env, self.eng
        doctors = [d.id for d in self.plan.doctors]
        for t in times:
            if t > env.now:
                yield env.timeout(t - env.now)
            queued = sum(eng.queue_length(d) for d in doctors)
            busy = sum(eng.busy_with(d) is not None for d in doctors)
            self.samples.append((t, queued, busy))

    def run(self) -> Engine:
        env = self.env
        processes = [self.script(), *(self.doctor(d) for d in self.plan.doctors), self.ticker()]
        if self.plan.sample_times is not None:
            processes.insert(0, self.observer([t for t in self.plan.sample_times.tolist() if t >= env.now]))
        running = [env.process(process) for process in processes]
        env.run(until=self.plan.close)
        eng = self.eng
        eng.close_day(self.plan.close)
        # The processes still suspended at the close, and the timeouts still scheduled, hold this day in reference
        # cycles with SimPy's environment. Closing them and letting go of the engine frees the engine, its log and
        # its tokens as soon as the caller is done with them, instead of at the cyclic collector's next pass.
        for process in processes:
            process.close()
        for proc in running:  # a suspended process and the event it waits for refer to each other
            if proc.is_alive and proc.target is not None and proc.target.callbacks is not None:
                proc.target.callbacks.clear()
        env.discard_pending()
        del self.eng
        return eng


def play_day(plan: DayPlan) -> tuple[Engine, dict[int, str], np.ndarray, np.ndarray, np.ndarray]:
    """Play one day through a fresh engine.

    Returns
    -------
    engine : Engine
        The engine after ``close_day``; its event log is the day's trace.
    token_of : dict
        Patient index -> the patient's last token id (absent for patients who never got one).
    rebooked : ndarray of bool
        Patients who arrived after their token became a no-show and were booked again.
    rejected : ndarray of bool
        Patients refused a token.
    samples : ndarray, shape (k, 3)
        Observer readings (time [min], callable tokens, busy doctors) at ``plan.sample_times``.
    """
    day = _Day(plan)
    # every token and event of the day stays alive: a cycle search would only rescan them. The result is built
    # inside the pause, so that its end allocates nothing: a collection then would scan the whole live day
    with collector_paused():
        eng = day.run()
        samples = np.array(day.samples, dtype=float).reshape(-1, 3)
        result = eng, day.token_of, day.rebooked, day.rejected, samples
    return result
