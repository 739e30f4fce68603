"""Random sequences of every engine operation, checking the engine's invariants after each step.

Each machine draws a policy (with a fixed aging mode and target, one machine per combination) and a clinic,
then performs bookings under every ``on_full`` rule, emergencies, check-ins, calls, completions, cancellations,
no-shows, departures, delays, ticks and the close of day, with ``now`` advancing by random non-negative steps.
Invalid calls are welcome: they must raise an :class:`OpdsimError` and change nothing.

Every call is recorded with its outcome, the snapshot after it and the length of the log after it, so that the
``replay_from_prefix`` rule can rebuild an engine from any prefix of the log, continue it with the same calls and
demand the same results.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from opdsim.engine import Engine
from opdsim.engine.errors import OpdsimError
from opdsim.engine.events import Rejected, Upgraded
from opdsim.engine.types import ACTIVE_STATES, TERMINAL_STATES, TokenState, TokenView
from tests.engine.invariants import check_closed, check_invariants, issued_tokens
from tests.engine.strategies import PATIENTS, REQUEST_IDS, categories, clinics, policies, time_steps

Op = tuple[str, tuple[Any, ...], dict[str, Any]]
Outcome = tuple[str, Any]  # ("ok", return value) or ("err", error class name)

#: The state a token call leaves its token in (check_in: checked in, or still waitlisted).
_RESULT_STATE = {
    "complete": TokenState.COMPLETED,
    "cancel": TokenState.CANCELLED,
    "no_show": TokenState.NO_SHOW,
    "leave": TokenState.LEFT,
}


def apply(eng: Engine, op: Op) -> Outcome:
    """Perform ``op`` on ``eng``; typed errors become outcomes, anything else propagates (a bug)."""
    name, args, kwargs = op
    try:
        return ("ok", getattr(eng, name)(*args, **kwargs))
    except OpdsimError as err:
        return ("err", type(err).__name__)


class EngineMachine(RuleBasedStateMachine):
    AGING: ClassVar[str] = "bypass"
    TARGET: ClassVar[str] = "paid_priority"

    def __init__(self) -> None:
        super().__init__()
        self._eng: Engine | None = None
        self.now = 0.0
        self.last_change = 0.0  # latest now of a call that appended events (Rejected aside)
        self.closed = False
        self.ops: list[Op] = []
        self.outcomes: list[Outcome] = []
        self.snaps: list[dict[str, Any]] = []
        self.counts: list[int] = []
        self.terminal: dict[str, TokenView] = {}

    @property
    def eng(self) -> Engine:
        assert self._eng is not None
        return self._eng

    # ------------------------------------------------------------------ plumbing

    @initialize(data=st.data())
    def setup(self, data: st.DataObject) -> None:
        policy = data.draw(policies(self.AGING, self.TARGET), label="policy")
        clinic = data.draw(clinics(), label="clinic")
        eng = Engine(policy)
        for doctor, slots in clinic.items():
            eng.add_doctor(doctor, slots, now=0.0)
        self._eng = eng
        self.doctors = list(clinic)
        self.snaps.append(eng.snapshot())
        self.counts.append(len(eng.events))
        # a morning's advance bookings, some of them checked in already, so that every run has a crowd
        morning = st.lists(st.tuples(st.sampled_from(PATIENTS), categories(with_emergency=False), st.booleans()))
        for patient, category, arrives in data.draw(morning, label="morning"):
            doctor = data.draw(st.sampled_from(self.doctors), label="doctor")
            out = self.run(("book", (patient, category, doctor), {"now": 0.0}), 0.0)
            if arrives and out[0] == "ok":
                self.run(("check_in", (out[1].id,), {"now": 0.0}), 0.0)

    def run(self, op: Op, now: float) -> Outcome:
        """Perform and record ``op`` (made at clinic time ``now``), checking that errors change nothing."""
        eng = self.eng
        before = eng.snapshot()
        n_events = len(eng.events)
        outcome = apply(eng, op)
        event(
            f"{op[0]}: {outcome[1] if outcome[0] == 'err' else 'ok'}"
        )  # coverage, shown by --hypothesis-show-statistics
        if outcome[0] == "err":
            assert eng.snapshot() == before, f"{op} raised {outcome[1]} but changed the snapshot"
            if outcome[1] == "BookingRejected":
                assert len(eng.events) == n_events + 1 and isinstance(eng.events[-1], Rejected)
            else:
                assert len(eng.events) == n_events, f"{op} raised {outcome[1]} but logged events"
            if self.closed:
                assert outcome[1] == "DayClosedError", f"{op} after close_day raised {outcome[1]}"
        else:
            assert not self.closed, f"{op} succeeded after close_day"
            assert now >= self.last_change, f"{op} at {now} succeeded after a change at {self.last_change}"
            self.now = max(self.now, now)
            if len(eng.events) > n_events:
                self.last_change = max(self.last_change, now)
        if now < self.last_change:
            assert outcome[0] == "err", f"{op} went back in time and succeeded"
        self.ops.append(op)
        self.outcomes.append(outcome)
        self.snaps.append(eng.snapshot())
        self.counts.append(len(eng.events))
        return outcome

    def pick_token(self, data: st.DataObject, *states: TokenState) -> str:
        """A token id: mostly one in ``states`` (any active state when none given), sometimes any, rarely unknown."""
        issued = issued_tokens(self.eng.events)
        if not issued:
            return "nope"
        wanted = frozenset(states) if states else ACTIVE_STATES
        fitting = [t for t in issued if self.eng.token(t).state in wanted]
        pool = fitting * 6 + issued + ["nope"]
        return data.draw(st.sampled_from(pool), label="token")

    def pick_doctor(self, data: st.DataObject, *, none: bool = False, unknown: bool = True) -> str | None:
        pool: list[str | None] = [*self.doctors] * 4
        if none:
            pool.append(None)
        if unknown:
            pool.append("nobody")
        return data.draw(st.sampled_from(pool), label="doctor")

    # ------------------------------------------------------------------ operations

    @rule(
        data=st.data(),
        patient=st.sampled_from(PATIENTS),
        category=categories(with_emergency=False) | categories(),
        slot=st.sampled_from([None, None, None, None, 0, 1, 2, 5, -1]),
        request_id=st.sampled_from([None, None, None, None, None, *REQUEST_IDS]),
        step=time_steps,
    )
    def book(
        self, data: st.DataObject, patient: str, category: Any, slot: int | None, request_id: str | None, step: float
    ) -> None:
        doctor = self.pick_doctor(data, none=True)
        now = self.now + step
        self.run(("book", (patient, category, doctor), {"now": now, "slot": slot, "request_id": request_id}), now)

    @rule(data=st.data(), patient=st.sampled_from(PATIENTS), category=categories(with_emergency=False), step=time_steps)
    def book_plainly(self, data: st.DataObject, patient: str, category: Any, step: float) -> None:
        """A well-formed booking: a known doctor, a regular category, no slot named."""
        doctor = self.pick_doctor(data, unknown=False)
        now = self.now + step
        self.run(("book", (patient, category, doctor), {"now": now}), now)

    @rule(data=st.data(), patient=st.sampled_from(PATIENTS), step=time_steps)
    def emergency(self, data: st.DataObject, patient: str, step: float) -> None:
        doctor = self.pick_doctor(data, none=True, unknown=False)
        now = self.now + step
        out = self.run(("emergency", (patient, doctor), {"now": now}), now)
        if out[0] == "ok":
            view: TokenView = out[1]
            assert view.patient == patient and view.state.value in ("checked_in", "called")

    def has(self, *states: TokenState) -> bool:
        return self._eng is not None and any(self.eng.token(t).state in states for t in issued_tokens(self.eng.events))

    @precondition(lambda self: self.has(TokenState.BOOKED, TokenState.WAITLISTED))
    @rule(data=st.data(), step=time_steps)
    def check_in(self, data: st.DataObject, step: float) -> None:
        self.token_call("check_in", self.pick_token(data, TokenState.BOOKED, TokenState.WAITLISTED), step)

    @precondition(lambda self: self.has(TokenState.CALLED))
    @rule(data=st.data(), step=time_steps)
    def complete(self, data: st.DataObject, step: float) -> None:
        self.token_call("complete", self.pick_token(data, TokenState.CALLED), step)

    @precondition(lambda self: self.has(*ACTIVE_STATES))
    @rule(data=st.data(), step=time_steps)
    def cancel(self, data: st.DataObject, step: float) -> None:
        self.token_call("cancel", self.pick_token(data), step)

    @precondition(lambda self: self.has(TokenState.BOOKED))
    @rule(data=st.data(), step=time_steps)
    def no_show(self, data: st.DataObject, step: float) -> None:
        self.token_call("no_show", self.pick_token(data, TokenState.BOOKED), step)

    @precondition(lambda self: self.has(TokenState.CHECKED_IN, TokenState.WAITLISTED))
    @rule(data=st.data(), step=time_steps)
    def leave(self, data: st.DataObject, step: float) -> None:
        self.token_call("leave", self.pick_token(data, TokenState.CHECKED_IN, TokenState.WAITLISTED), step)

    @rule(data=st.data(), method=st.sampled_from([*sorted(_RESULT_STATE), "check_in"]), step=time_steps)
    def any_token_call(self, data: st.DataObject, method: str, step: float) -> None:
        """Any token method on any token, terminal or unknown ones included (mostly invalid calls)."""
        issued = issued_tokens(self.eng.events)
        self.token_call(method, data.draw(st.sampled_from([*issued, "nope"]), label="token"), step)

    def token_call(self, method: str, token: str, step: float) -> None:
        now = self.now + step
        out = self.run((method, (token,), {"now": now}), now)
        if out[0] == "ok":  # the return value is checked by the unit tests; here, the token's new state
            state = self.eng.token(token).state
            assert state is _RESULT_STATE.get(method, state), f"{method} {token} left it {state}"
            if method == "check_in":
                assert state in (TokenState.CHECKED_IN, TokenState.WAITLISTED)

    @rule(data=st.data(), step=time_steps)
    def call_next(self, data: st.DataObject, step: float) -> None:
        doctor = self.pick_doctor(data)
        assert doctor is not None
        now = self.now + step
        self.run(("tick", (now,), {}), now)  # apply everything due at `now`, then read the serving order
        known = doctor in self.doctors and not self.closed
        head = self.eng.queue(doctor)[:1] if known else []
        busy = self.eng.busy_with(doctor) if known else None
        out = self.run(("call_next", (doctor,), {"now": now}), now)
        if not known:
            return
        if busy is not None:
            assert out == ("err", "InvalidTransition")
        elif head:
            assert out[0] == "ok" and out[1] is not None and out[1].id == head[0].id, "not (rank, queue_seq) order"
            assert out[1] == self.eng.token(head[0].id), "the called token's view differs from token()"
        else:
            assert out == ("ok", None)

    @rule(data=st.data(), minutes=st.sampled_from([-5.0, 0.0, 5.0, 5.0, 12.5, 12.5]), step=time_steps)
    def delay(self, data: st.DataObject, minutes: float, step: float) -> None:
        doctor = self.pick_doctor(data)
        now = self.now + step
        self.run(("delay", (doctor, minutes), {"now": now}), now)

    @rule(step=time_steps)
    def tick(self, step: float) -> None:
        now = self.now + step
        out = self.run(("tick", (now,), {}), now)
        if out[0] == "ok":  # evaluating aging again at the same now changes nothing
            n_events = len(self.eng.events)
            self.run(("tick", (now,), {}), now)
            again = self.eng.events[n_events:]
            assert not [e for e in again if isinstance(e, Upgraded)], f"aging not idempotent at {now}: {again}"

    @rule(back=st.sampled_from([0.5, 5.0]))
    def go_backwards(self, back: float) -> None:
        now = self.last_change - back
        out = self.run(("tick", (now,), {}), now)
        assert out[0] == "err" and out[1] in ("TimeWentBackwards", "InvalidRequest", "DayClosedError")

    @precondition(lambda self: len(self.ops) >= 45 and not self.closed)
    @rule(step=time_steps)
    def close_day(self, step: float) -> None:
        now = self.now + step
        out = self.run(("close_day", (now,), {}), now)
        assert out[0] == "ok"
        self.closed = True
        check_closed(self.eng)

    # ------------------------------------------------------------------ replay from a prefix

    @rule(data=st.data())
    def replay_from_prefix(self, data: st.DataObject) -> None:
        k = data.draw(st.integers(0, len(self.ops)), label="prefix")
        events = self.eng.events
        replayed = Engine.replay(events[: self.counts[k]])
        assert replayed.snapshot() == self.snaps[k], f"replay of the log after call {k} differs"
        base = len(replayed.events)
        for i in range(k, len(self.ops)):
            out = apply(replayed, self.ops[i])
            assert out == self.outcomes[i], f"call {i} {self.ops[i]}: {out} after replay, {self.outcomes[i]} before"
            assert replayed.snapshot() == self.snaps[i + 1], f"snapshot after call {i} {self.ops[i]} differs"
        assert list(replayed.events[base:]) == list(events[self.counts[k] :])

    # ------------------------------------------------------------------ invariants

    @invariant()
    def engine_invariants(self) -> None:
        if self._eng is None:
            return
        eng = self.eng
        check_invariants(eng)
        for tid in issued_tokens(eng.events):
            view = eng.token(tid)
            if tid in self.terminal:
                assert view == self.terminal[tid], f"terminal token {tid} changed"
            elif view.state in TERMINAL_STATES:
                self.terminal[tid] = view
        if self.closed:
            check_closed(eng)

    @invariant()
    def replay_gives_the_same_snapshot(self) -> None:
        if self._eng is None:
            return
        assert Engine.replay(self.eng.events).snapshot() == self.eng.snapshot()

    def teardown(self) -> None:
        if self._eng is not None:
            event(f"calls: {len(self.ops) // 20 * 20}+")
            event(f"tokens: {len(issued_tokens(self.eng.events)) // 5 * 5}+")
        if self._eng is None or self.closed:
            return
        self.eng.close_day(self.now + 1)
        check_closed(self.eng)
        assert Engine.replay(self.eng.events).snapshot() == self.eng.snapshot()


STATEFUL_SETTINGS = settings(
    max_examples=100,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _machine(aging: str, target: str) -> type[EngineMachine]:
    name = f"EngineMachine_{aging}_{target}"
    return type(name, (EngineMachine,), {"AGING": aging, "TARGET": target})


BypassToPaid = _machine("bypass", "paid_priority")
BypassStep = _machine("bypass", "step")
WaitToPaid = _machine("wait", "paid_priority")
WaitStep = _machine("wait", "step")
NoAging = _machine("none", "paid_priority")

TestBypassToPaid = BypassToPaid.TestCase
TestBypassStep = BypassStep.TestCase
TestWaitToPaid = WaitToPaid.TestCase
TestWaitStep = WaitStep.TestCase
TestNoAging = NoAging.TestCase
TestBypassToPaid.settings = STATEFUL_SETTINGS
TestBypassStep.settings = STATEFUL_SETTINGS
TestWaitToPaid.settings = STATEFUL_SETTINGS
TestWaitStep.settings = STATEFUL_SETTINGS
TestNoAging.settings = STATEFUL_SETTINGS
