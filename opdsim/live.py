"""``opdsim live``: a live dashboard of one simulated day.

The day is simulated first (it takes milliseconds); its event log is then stepped through a fresh engine with
:meth:`Engine.apply`, so the dashboard shows exactly the engine's state after each event, paced at ``speed``
clinic minutes per second of wall time.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque

from rich.console import Console, Group
from rich.live import Live
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

__all__ = ["render", "run_live"]

STYLE = {
    Category.EMERGENCY: "bold red",
    Category.PAID_PRIORITY: "magenta",
    Category.FOLLOW_UP: "cyan",
    Category.ONLINE: "green",
    Category.WALK_IN: "white",
}
SHOWN = 14  # tokens shown per queue


def _clock(minutes: float) -> str:
    if not math.isfinite(minutes):
        return "--:--"  # before anything happened (doctors are added before the first call)
    m = round(minutes)
    sign = "-" if m < 0 else ""
    return f"{sign}{abs(m) // 60:d}:{abs(m) % 60:02d}"


def render(eng: Engine, now: float, issued: Counter[Category], done: Counter[Category], log: deque[str]) -> Group:
    """The dashboard for the engine's current state."""
    doctors = Table(title=f"clinic time {_clock(now)} (h:mm since opening)", expand=True)
    doctors.add_column("doctor")
    doctors.add_column("seeing", justify="center")
    doctors.add_column("waiting", justify="right")
    doctors.add_column("queue, in serving order (^ upgraded)", ratio=1)
    doctors.add_column("waitlist", justify="right")
    for doc in eng.doctors():
        queue = eng.queue(doc)
        cells = [f"[{STYLE[v.category]}]{v.id}{'^' if v.upgrades else ''}[/{STYLE[v.category]}]" for v in queue[:SHOWN]]
        if len(queue) > SHOWN:
            cells.append(f"... +{len(queue) - SHOWN}")
        doctors.add_row(doc, eng.busy_with(doc) or "-", str(len(queue)), " ".join(cells), str(len(eng.waitlist(doc))))
    cats = Table(title="tokens by category", expand=False)
    cats.add_column("category")
    cats.add_column("issued", justify="right")
    cats.add_column("seen", justify="right")
    for c in Category:
        cats.add_row(f"[{STYLE[c]}]{c.name}[/{STYLE[c]}]", str(issued[c]), str(done[c]))
    recent = Panel("\n".join(log) or "(nothing yet)", title="upgrades, rejections, displacements, no-shows")
    return Group(doctors, cats, recent)


def run_live(scenario: Scenario, speed: float = 20.0, seed: int = 0, console: Console | None = None) -> Engine:
    """Simulate one day of ``scenario`` and play it back as a live dashboard.

    Parameters
    ----------
    speed : float
        Clinic minutes per second of wall time; 0 plays back without pausing.
    """
    events = simulate(scenario, seed=seed).events
    start = events[0]
    assert isinstance(start, EngineStarted)
    eng = Engine(start.policy)
    issued: Counter[Category] = Counter()
    done: Counter[Category] = Counter()
    log: deque[str] = deque(maxlen=8)
    console = console or Console()
    shown_at = None
    with Live(render(eng, 0.0, issued, done, log), console=console, refresh_per_second=8, transient=False) as live:
        for ev in events[1:]:
            now = getattr(ev, "now", 0.0)
            if not math.isfinite(now):
                now = 0.0
            if speed > 0 and shown_at is not None and now > shown_at:
                time.sleep(min(1.0, (now - shown_at) / speed))
            eng.apply(ev)
            _note(eng, ev, issued, done, log)
            if shown_at is None or now != shown_at:
                live.update(render(eng, now, issued, done, log))
                shown_at = now
        live.update(render(eng, eng.now, issued, done, log))
    return eng


def _note(eng: Engine, ev: Event, issued: Counter[Category], done: Counter[Category], log: deque[str]) -> None:
    t = _clock(getattr(ev, "now", 0.0))
    if isinstance(ev, Booked | Waitlisted):
        issued[ev.category] += 1
    elif isinstance(ev, Completed):
        done[eng.token(ev.token).category] += 1
    elif isinstance(ev, Upgraded):
        v = eng.token(ev.token)
        log.append(f"{t} {ev.token} ({v.category.name}) upgraded to rank {ev.rank} after {v.bypasses} bypasses")
    elif isinstance(ev, Rejected):
        log.append(f"{t} [red]rejected[/red] {ev.patient} ({ev.category.name}): {ev.reason}")
    elif isinstance(ev, Displaced):
        where = "the waitlist" if ev.to_slot is None else f"slot {ev.to_slot}"
        log.append(f"{t} {ev.token} displaced by an emergency to {where}")
    elif isinstance(ev, CapBreached):
        log.append(f"{t} [red]overflow cap breached[/red] at {ev.doctor} slot {ev.slot}")
    elif isinstance(ev, NoShow):
        log.append(f"{t} {ev.token} no-show")
