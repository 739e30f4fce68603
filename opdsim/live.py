"""``opdsim live``: a live dashboard of one simulated day.

The day is simulated first (it takes milliseconds); its event log is then stepped through a fresh engine with
:meth:`Engine.apply`, so the dashboard shows exactly the engine's state after each event, paced at ``speed``
clinic minutes per second of wall time.

By default the bookings made before the clinic opens are applied at once, without pausing (they are most of the
log but nothing to watch), and the playback starts at opening; ``bookings=True`` plays them too. The dashboard
fits an 80 x 24 terminal: each token shows its category as a letter (``E`` emergency, ``P`` paid priority,
``F`` follow-up, ``O`` online, ``W`` walk-in, spelled out in a legend line), not by colour alone. The day ends
with a summary table: per category, tokens issued, seen, and the mean and longest wait.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from opdsim.engine import Category, Engine
from opdsim.engine.events import (
    Booked,
    CapBreached,
    Completed,
    Displaced,
    EngineStarted,
    Event,
    NoShow,
    Rejected,
    Upgraded,
    Waitlisted,
)
from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import simulate

__all__ = ["WORDS", "clock", "day_summary", "render", "run_live"]

STYLE = {
    Category.EMERGENCY: "bold red",
    Category.PAID_PRIORITY: "magenta",
    Category.FOLLOW_UP: "cyan",
    Category.ONLINE: "green",
    Category.WALK_IN: "white",
}
WORDS = {
    Category.EMERGENCY: "emergency",
    Category.PAID_PRIORITY: "paid priority",
    Category.FOLLOW_UP: "follow-up",
    Category.ONLINE: "online",
    Category.WALK_IN: "walk-in",
}
LETTER = {
    Category.EMERGENCY: "E",
    Category.PAID_PRIORITY: "P",
    Category.FOLLOW_UP: "F",
    Category.ONLINE: "O",
    Category.WALK_IN: "W",
}
HEIGHT = 24  # [lines] the dashboard fits a terminal this high
WIDTH = 80  # [columns] and this wide


def clock(minutes: float) -> str:
    """Minutes since opening as ``h:mm`` (``-0:30`` before opening; ``--:--`` before anything happened)."""
    if not math.isfinite(minutes):
        return "--:--"  # before anything happened (doctors are added before the first call)
    m = round(minutes)
    sign = "-" if m < 0 else ""
    return f"{sign}{abs(m) // 60:d}:{abs(m) % 60:02d}"


def _token(cat: Category, token: str, upgraded: bool) -> str:
    return f"[{STYLE[cat]}]{LETTER[cat]}:{token}{'^' if upgraded else ''}[/{STYLE[cat]}]"


def _queue_cell(eng: Engine, doctor: str, width: int) -> str:
    """The queue in serving order, as many tokens as fit ``width`` columns, then ``+N``."""
    queue = eng.queue(doctor)
    cells: list[str] = []
    used = 0
    for k, v in enumerate(queue):
        plain = len(LETTER[v.category]) + 1 + len(v.id) + (1 if v.upgrades else 0) + 1
        rest = len(queue) - k
        if used + plain + (len(f"+{rest}") if rest > 1 else 0) > width:
            cells.append(f"+{rest}")
            break
        cells.append(_token(v.category, v.id, bool(v.upgrades)))
        used += plain
    return " ".join(cells) if cells else "-"


def render(
    eng: Engine,
    now: float,
    issued: Counter[Category],
    done: Counter[Category],
    log: deque[str],
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Group:
    """The dashboard for the engine's current state, within ``width`` x ``height``."""
    doctors = Table(
        title=f"clinic time {clock(now)} (h:mm since opening)", expand=True, pad_edge=False, title_justify="left"
    )
    doctors.add_column("doctor", no_wrap=True)
    doctors.add_column("seeing", no_wrap=True)
    doctors.add_column("wait", justify="right", no_wrap=True)
    doctors.add_column("queue, in serving order (^ upgraded by aging)", ratio=1, no_wrap=True, overflow="crop")
    doctors.add_column("wlist", justify="right", no_wrap=True)
    names = eng.doctors()
    for doc in names:
        busy = eng.busy_with(doc)
        seeing = f"{LETTER[eng.token(busy).category]}:{busy}" if busy is not None else "-"
        doctors.add_row(
            doc, seeing, str(len(eng.queue(doc))), _queue_cell(eng, doc, width - 38), str(len(eng.waitlist(doc)))
        )
    cats = Table(expand=True, pad_edge=False, show_edge=False, box=None)
    cats.add_column("tokens")
    for c in Category:
        cats.add_column(f"[{STYLE[c]}]{LETTER[c]} {WORDS[c]}[/{STYLE[c]}]", justify="right")
    cats.add_row("issued", *(str(issued[c]) for c in Category))
    cats.add_row("seen", *(str(done[c]) for c in Category))
    # what is left of the height goes to the log: doctors' table (title, header, rules, rows), the category
    # table (3 lines), the panel's two borders
    room = max(2, height - (len(names) + 5) - 3 - 2)
    recent = list(log)[-room:]
    panel = Panel("\n".join(recent) or "(nothing yet)", title="upgrades, rejections, displacements, no-shows")
    return Group(doctors, cats, panel)


def day_summary(eng: Engine, tokens: list[str]) -> Table:
    """Per category over ``tokens``: tokens issued, seen, left or unserved, mean and longest wait from check-in
    to call [min]."""
    issued: Counter[Category] = Counter()
    seen: Counter[Category] = Counter()
    unseen: Counter[Category] = Counter()
    waits: dict[Category, list[float]] = {c: [] for c in Category}
    for view in (eng.token(t) for t in tokens):
        issued[view.category] += 1
        if view.called_at is not None:
            seen[view.category] += 1
            if view.checked_in_at is not None:
                waits[view.category].append(view.called_at - view.checked_in_at)
        elif view.state.value in ("left", "unserved"):
            unseen[view.category] += 1
    table = Table(title="The day in figures", title_justify="left")
    for name, justify in (
        ("category", "left"),
        ("issued", "right"),
        ("seen", "right"),
        ("left or unserved", "right"),
        ("mean wait [min]", "right"),
        ("longest wait [min]", "right"),
    ):
        table.add_column(escape(name), justify=justify)  # type: ignore[arg-type]
    for c in Category:
        w = waits[c]
        table.add_row(
            WORDS[c],
            str(issued[c]),
            str(seen[c]),
            str(unseen[c]),
            f"{sum(w) / len(w):.1f}" if w else "-",
            f"{max(w):.1f}" if w else "-",
        )
    return table


def run_live(
    scenario: Scenario,
    speed: float = 20.0,
    seed: int = 0,
    console: Console | None = None,
    bookings: bool = False,
    shown: list[float] | None = None,
) -> Engine:
    """Simulate one day of ``scenario`` and play it back as a live dashboard, then print a summary of the day.

    Parameters
    ----------
    speed : float
        Clinic minutes per second of wall time; 0 plays back without pausing.
    bookings : bool
        Also play the bookings made before opening (by default they are applied at once).
    shown : list, optional
        The clinic time shown last is appended here [min] (for a caller that reports an interrupt).
    """
    events = simulate(scenario, seed=seed).events
    start = events[0]
    assert isinstance(start, EngineStarted)
    eng = Engine(start.policy)
    issued: Counter[Category] = Counter()
    done: Counter[Category] = Counter()
    log: deque[str] = deque(maxlen=HEIGHT)
    console = console or Console()
    width = min(console.width, WIDTH) if console.is_terminal else WIDTH
    height = min(console.height, HEIGHT) if console.is_terminal else HEIGHT
    rest = events[1:]
    if not bookings:  # apply everything before opening at once
        first = next((k for k, ev in enumerate(rest) if getattr(ev, "now", 0.0) >= 0.0), len(rest))
        for ev in rest[:first]:
            eng.apply(ev)
            _note(eng, ev, issued, done, log)
        rest = rest[first:]
    shown_at: float | None = None
    with Live(
        render(eng, 0.0, issued, done, log, width, height),
        console=console,
        refresh_per_second=8,
        transient=False,
        vertical_overflow="crop",
    ) as live:
        for ev in rest:
            now = getattr(ev, "now", 0.0)
            if not math.isfinite(now):
                now = 0.0
            if speed > 0 and shown_at is not None and now > shown_at:
                time.sleep(min(1.0, (now - shown_at) / speed))
            eng.apply(ev)
            _note(eng, ev, issued, done, log)
            if shown_at is None or now != shown_at:
                live.update(render(eng, now, issued, done, log, width, height))
                shown_at = now
                if shown is not None:
                    shown.append(now)
        live.update(render(eng, eng.now, issued, done, log, width, height))
    console.print()
    tokens = [ev.token for ev in events if isinstance(ev, Booked | Waitlisted)]
    console.print(day_summary(eng, list(dict.fromkeys(tokens))))
    return eng


def _note(eng: Engine, ev: Event, issued: Counter[Category], done: Counter[Category], log: deque[str]) -> None:
    t = clock(getattr(ev, "now", 0.0))
    if isinstance(ev, Booked | Waitlisted):
        issued[ev.category] += 1
    elif isinstance(ev, Completed):
        done[eng.token(ev.token).category] += 1
    elif isinstance(ev, Upgraded):
        v = eng.token(ev.token)
        to = WORDS[Category(ev.rank)] if ev.rank in {c.value for c in Category} else f"rank {ev.rank}"
        log.append(f"{t} {ev.token} ({WORDS[v.category]}) moved up to {to} after {v.bypasses} bypasses")
    elif isinstance(ev, Rejected):
        log.append(f"{t} [red]rejected[/red] {ev.patient} ({WORDS[ev.category]}): {ev.reason}")
    elif isinstance(ev, Displaced):
        where = "the waitlist" if ev.to_slot is None else f"slot {ev.to_slot}"
        log.append(f"{t} {ev.token} displaced by an emergency to {where}")
    elif isinstance(ev, CapBreached):
        log.append(f"{t} [red]overflow cap breached[/red] at {ev.doctor} slot {ev.slot}")
    elif isinstance(ev, NoShow):
        log.append(f"{t} {ev.token} ({WORDS[eng.token(ev.token).category]}) no-show")
