"""How often an emergency is sent to a busy doctor while another doctor is free, on the standard day.

``python -m benchmarks.routing [days]`` plays ``days`` standard days (seed 1, replications 0..days-1), steps
through each day's event log with :meth:`Engine.apply`, and, just before each emergency's ``Booked`` event,
asks whether the chosen doctor was consulting while some other doctor was not. Prints the share.
"""

from __future__ import annotations

import sys
from pathlib import Path

from opdsim.engine import Category, Engine
from opdsim.engine.events import Booked, EngineStarted
from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import simulate

STANDARD = Path(__file__).resolve().parents[1] / "experiments" / "standard_day.toml"


def busy_while_free(days: int) -> tuple[int, int]:
    """(emergencies sent to a busy doctor while another was free, emergencies) over ``days`` standard days."""
    scenario = Scenario.from_toml(STANDARD)
    bad = total = 0
    for r in range(days):
        events = simulate(scenario, seed=1, replication=r).events
        first = events[0]
        assert isinstance(first, EngineStarted)
        eng = Engine(first.policy)
        for ev in events[1:]:
            if isinstance(ev, Booked) and ev.category is Category.EMERGENCY:
                total += 1
                doctors = eng.doctors()
                if eng.busy_with(ev.doctor) is not None and any(
                    eng.busy_with(d) is None for d in doctors if d != ev.doctor
                ):
                    bad += 1
            eng.apply(ev)
    return bad, total


def main() -> None:
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    bad, total = busy_while_free(days)
    print(f"== routing: {days} standard days, {total} emergencies ==")
    print(f"  sent to a busy doctor while another was free: {bad} ({bad / max(total, 1):.1%})")


if __name__ == "__main__":
    main()
