"""A scripted OPD morning of three doctors, driven through the engine step by step.

Used by ``opdsim demo --scripted``: it shows, with no randomness, what the engine does with bookings, walk-ins,
emergencies past the overflow cap, a no-show, a cancellation refilled from the waitlist, a doctor's delay and
aging, printing each doctor's queue as it changes and a final table per doctor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from opdsim.engine import Category, Engine, OpdsimError, Policy, TokenState
from opdsim.engine.events import Booked, Waitlisted

__all__ = ["DayStep", "clock", "final_table", "run_scripted_day", "scripted_steps"]

DOCTORS = ("dr_anand", "dr_bose", "dr_chandra")
# three one-hour slots from 09:00 (minute 0), four seats each: a small clinic that fills up
SLOTS = [(0.0, 60.0, 4), (60.0, 120.0, 4), (120.0, 180.0, 4)]


@dataclass(frozen=True)
class DayStep:
    """One scripted moment: the clinic time [min], what happens, and the doctors whose queue it touches."""

    now: float
    what: str
    doctors: tuple[str, ...]


def clock(minutes: float) -> str:
    """Wall-clock text of clinic minute ``minutes`` for a clinic that opens at 09:00."""
    total = round(minutes)
    return f"{9 + total // 60:02d}:{total % 60:02d}"


def scripted_steps(eng: Engine) -> Iterator[DayStep]:
    """Drive ``eng`` through the scripted morning, yielding after each step (the engine holds all state)."""
    tokens: dict[str, str] = {}

    def book(patient: str, category: Category, doctor: str | None, now: float, slot: int | None = None) -> str:
        view = eng.book(patient, category, doctor, now=now, slot=slot)
        tokens[patient] = view.id
        return f"{patient} books {category.name} -> {view.id} at {view.doctor} ({view.state.value})"

    def arrive(patient: str, now: float) -> str:
        eng.check_in(tokens[patient], now)
        view = eng.token(tokens[patient])
        return f"{patient} checks in ({view.id}, queue_seq {view.queue_seq})"

    def serve(doctor: str, now: float) -> str:
        busy = eng.busy_with(doctor)
        done = ""
        if busy is not None:
            eng.complete(busy, now)
            done = f"{doctor} finishes {busy}; "
        nxt = eng.call_next(doctor, now)
        return done + (f"{doctor} calls {nxt.id} ({nxt.category.name})" if nxt else f"{doctor} has nobody to call")

    # before opening: advance bookings fill the first slots, then the waitlist
    now = -30.0
    for i, (cat, doc) in enumerate(
        [(Category.FOLLOW_UP, "dr_anand"), (Category.ONLINE, "dr_anand"), (Category.PAID_PRIORITY, "dr_anand")]
        + [(Category.ONLINE, "dr_bose")] * 3
        + [(Category.FOLLOW_UP, "dr_chandra")] * 2
    ):
        yield DayStep(now, book(f"adv{i}", cat, doc, now), (doc,))
    for i in range(4):
        yield DayStep(now, book(f"early{i}", Category.ONLINE, "dr_anand", now), ("dr_anand",))
    for i in range(3):  # the first hour at dr_bose is asked for by name: one seat left, then the waitlist
        yield DayStep(now, book(f"first{i}", Category.ONLINE, "dr_bose", now, slot=0), ("dr_bose",))
    for p in ("adv0", "adv1", "adv2", "adv3", "adv4", "adv6", "adv7", "early0"):
        now += 2
        yield DayStep(now, arrive(p, now), (eng.token(tokens[p]).doctor,))
    for i in range(6):
        now = 1.0 + i
        msg = book(f"walk{i}", Category.WALK_IN, None, now)
        yield DayStep(now, msg + "; " + arrive(f"walk{i}", now), (eng.token(tokens[f"walk{i}"]).doctor,))
    for doc in DOCTORS:
        yield DayStep(8.0, serve(doc, 8.0), (doc,))
    # a run of emergencies at dr_anand: the overflow cap is reached, then a token is displaced
    for i in range(4):
        now = 10.0 + i
        view = eng.emergency(f"emerg{i}", "dr_anand", now=now)
        tokens[f"emerg{i}"] = view.id
        yield DayStep(now, f"emergency emerg{i} -> {view.id} at dr_anand", ("dr_anand",))
    eng.delay("dr_bose", 20, 14.0)
    yield DayStep(14.0, "dr_bose runs 20 minutes late", ("dr_bose",))
    for k, doc in enumerate(DOCTORS * 4):
        now = 16.0 + 3 * k
        yield DayStep(now, serve(doc, now), (doc,))
    eng.cancel(tokens["adv5"], 50.0)
    yield DayStep(50.0, f"adv5 cancels {tokens['adv5']}; its seat is refilled from the waitlist", ("dr_bose",))
    eng.tick(76.0)
    yield DayStep(76.0, "desk tick: bookings not checked in 15 min after their slot start become no-shows", DOCTORS)
    for k, doc in enumerate(DOCTORS * 4):
        now = 80.0 + 5 * k
        yield DayStep(now, serve(doc, now), (doc,))
    eng.close_day(200.0)
    yield DayStep(200.0, "the day closes: whoever still waits is counted unserved", DOCTORS)


def run_scripted_day(emit: Callable[[DayStep, Engine], None] | None = None) -> Engine:
    """Run the scripted morning on a fresh engine; ``emit`` sees the engine after every step."""
    eng = Engine(Policy(aging="bypass", aging_threshold=3, overflow_cap=2, on_full="waitlist", no_show_grace=15))
    for doc in DOCTORS:
        eng.add_doctor(doc, SLOTS)
    try:
        for step in scripted_steps(eng):
            if emit is not None:
                emit(step, eng)
    except OpdsimError as error:  # pragma: no cover - the script is fixed; an error here is a bug
        raise RuntimeError(f"the scripted day broke an engine rule: {error}") from error
    return eng


def final_table(eng: Engine) -> list[dict[str, object]]:
    """Per doctor: tokens by final state, emergencies, upgrades and displacements."""
    rows: list[dict[str, object]] = []
    views = [eng.token(e.token) for e in eng.events if isinstance(e, Booked | Waitlisted)]
    for doc in eng.doctors():
        mine = [v for v in views if v.doctor == doc]
        row: dict[str, object] = {"doctor": doc, "tokens": len(mine)}
        for state in (TokenState.COMPLETED, TokenState.NO_SHOW, TokenState.CANCELLED, TokenState.UNSERVED):
            row[state.value] = sum(v.state is state for v in mine)
        row["emergencies"] = sum(v.category is Category.EMERGENCY for v in mine)
        row["upgraded"] = sum(v.upgrades > 0 for v in mine)
        row["displaced"] = sum(v.displacements > 0 for v in mine)
        rows.append(row)
    return rows
