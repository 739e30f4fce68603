"""The day against plain SimPy, per-patient scaling, open access against Ciw (issue 10, section 4).

Prints, as medians of alternated rounds measured in one process (the machine is shared, so absolute figures are
noisy; the ratios, taken within each round, are the figures to read):

* the day's play alone (``play_day`` on a pre-built plan) and ``simulate_summary`` (the sweep's task) against
  the plain-SimPy day of the same pre-drawn patients; targets <= 1.5x and <= 2.0x;
* the cost per present patient of the day's play at 3, 30 and 100 doctors, with the walk-in and emergency rates
  as they are (per clinic) and scaled with the doctors (the same day per doctor); target: 100 within 1.5x of 3;
* the five-category open-access model against Ciw on the same M/M/1 priority model (no aging, as in Ciw);
  target: at least as fast; and, for reference, the same clinic under the default policy's bypass aging;
* the engine build in use (pure Python or compiled).
"""

from __future__ import annotations

import functools
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import cli
from benchmarks.bench_sim import MIX, RHO, SAME_AS_CIW, ciw_rate, plain_simpy_day
from opdsim.day import simulate, simulate_summary
from opdsim.engine import Category, Policy
from opdsim.scenarios import open_access
from opdsim.sim.model import DayPlan, play_day
from opdsim.sim.scenario import Scenario
from opdsim.sim.streams import Streams

STANDARD = Path(__file__).resolve().parents[1] / "experiments" / "standard_day.toml"
ROUNDS = 9


def _time(fn: Callable[[], object], n: int = 1) -> float:
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def _play_all(plans: list[DayPlan]) -> None:
    for p in plans:
        play_day(p)


def engine_build() -> str:
    from opdsim.engine import _build

    return _build.build()


def day_against_plain(scenario: Scenario, days: int = 8) -> tuple[float, float, float, list[float], list[float]]:
    """Seconds per day (median over rounds) of play, simulate_summary and plain SimPy; and the two ratio lists."""
    plans = []
    for r in range(days):
        plan = scenario.plan_day(Streams(1, r)).plan
        plans.append(plan)
    pops = [p.population for p in plans]
    close = scenario.clinic.day_length
    count = scenario.doctors.count
    play_t, summ_t, plain_t, r_play, r_summ = [], [], [], [], []
    for _ in range(ROUNDS):
        fresh = [scenario.plan_day(Streams(1, r)).plan for r in range(days)]  # a plan is played once
        a = _time(functools.partial(_play_all, fresh)) / days
        b = _time(lambda: [simulate_summary(scenario, seed=1, replication=r) for r in range(days)]) / days
        c = _time(lambda: [plain_simpy_day(pop, count, close) for pop in pops]) / days
        play_t.append(a)
        summ_t.append(b)
        plain_t.append(c)
        r_play.append(a / c)
        r_summ.append(b / c)
    med = statistics.median
    return med(play_t), med(summ_t), med(plain_t), r_play, r_summ


def per_patient(scenario: Scenario, counts: tuple[int, ...] = (3, 30, 100), same_mix: bool = False) -> dict[int, float]:
    """Microseconds of play per present patient, median over alternated rounds, at each doctor count.

    Bookings are per doctor and slot, so they grow with the doctors; the walk-in and emergency rates are per
    clinic, so without ``same_mix`` a 100-doctor day is mostly booked patients (a third of the standard day's
    tokens are walk-ins, 2% at 100 doctors). ``same_mix`` scales those rates with the doctors too, so each
    doctor count plays the same day per doctor and only the engine's scaling differs.
    """

    def at(n: int) -> Scenario:
        changes: dict[str, Any] = {"doctors.count": n}
        if same_mix:
            f = n / scenario.doctors.count
            changes["demand.walk_in.rate_per_hour"] = [r * f for r in scenario.demand.walk_in.rate_per_hour]
            changes["demand.emergency.rate_per_hour"] = scenario.demand.emergency.rate_per_hour * f
        return scenario.replace(changes)

    specs = {n: at(n) for n in counts}
    present = {}
    for n, spec in specs.items():
        plan = spec.plan_day(Streams(1, 0)).plan
        present[n] = int(np.count_nonzero(~np.isnan(plan.population.arrival)))
    samples: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(5):
        for n, spec in specs.items():
            plan = spec.plan_day(Streams(1, 0)).plan
            samples[n].append(_time(functools.partial(play_day, plan)) / present[n] * 1e6)
    return {n: statistics.median(v) for n, v in samples.items()}


def open_access_against_ciw(patients: int = 50_000) -> tuple[float, float, float] | None:
    """Seconds per patient, median of 3 alternated rounds: opdsim on Ciw's model (no aging), Ciw, and opdsim
    under the default policy (bypass aging, which Ciw's model does not have), for reference."""
    rates = {c: m * RHO * 60.0 for c, m in zip(Category, MIX, strict=True)}
    same = open_access(1, rates, 1.0, patients / RHO, 0.0, SAME_AS_CIW)
    aging = open_access(1, rates, 1.0, patients / RHO, 0.0, Policy())
    ours: list[float] = []
    theirs: list[float] = []
    ours_aging: list[float] = []
    for _ in range(3):
        for spec, out in ((same, ours), (aging, ours_aging)):
            gc.collect()
            t0 = time.perf_counter()
            n = len(simulate(spec, seed=2).patients)
            out.append((time.perf_counter() - t0) / n)
        ciw = ciw_rate(patients)
        if ciw is None:
            return None
        theirs.append(ciw[0] / ciw[1])
    med = statistics.median
    return med(ours), med(theirs), med(ours_aging)


def main() -> None:
    scenario = Scenario.from_toml(STANDARD)
    print(f"== day: engine build {engine_build()}, Python {sys.version.split()[0]}; medians of {ROUNDS} rounds ==")
    play, summ, plain, r_play, r_summ = day_against_plain(scenario)
    print(f"  play_day alone         {play * 1e3:7.2f} ms/day")
    print(f"  simulate_summary       {summ * 1e3:7.2f} ms/day")
    print(f"  plain SimPy day        {plain * 1e3:7.2f} ms/day")
    print(f"  ratio play / plain             {statistics.median(r_play):5.2f}  (target <= 1.5)")
    print(f"  ratio simulate_summary / plain {statistics.median(r_summ):5.2f}  (target <= 2.0)")
    print("== day: microseconds of play per present patient ==")
    pp = per_patient(scenario)
    for n, us in pp.items():
        print(f"  {n:>4} doctors  {us:7.1f} us/patient")
    print(f"  ratio 100 / 3 doctors {pp[100] / pp[3]:5.2f}  (target <= 1.5)")
    print("== day: the same, walk-in and emergency rates scaled with the doctors (the same day per doctor) ==")
    pp = per_patient(scenario, same_mix=True)
    for n, us in pp.items():
        print(f"  {n:>4} doctors  {us:7.1f} us/patient")
    print(f"  ratio 100 / 3 doctors {pp[100] / pp[3]:5.2f}  (target <= 1.5)")
    print("== open access (5 categories, one doctor, rho 0.8) against Ciw, 50,000 patients ==")
    oa = open_access_against_ciw()
    if oa is None:
        print("  ciw not installed - no comparison")
    else:
        print("  strict priority, no aging (Ciw's model):")
        print(f"  opdsim {oa[0] * 1e6:6.1f} us/patient   ciw {oa[1] * 1e6:6.1f} us/patient")
        print(f"  ratio opdsim / ciw time per patient {oa[0] / oa[1]:5.2f}  (target <= 1.0)")
        aged = oa[2] / oa[1]
        print(f"  opdsim under the default bypass aging {oa[2] * 1e6:6.1f} us/patient, {aged:5.2f} x ciw (no target)")


if __name__ == "__main__":
    cli(main)
