"""Simulation benchmarks (issue: SimPy model, section 4).

Prints:
* one standard_day replication through the engine, beside a minimal plain-SimPy model of the same day (the same
  patients, one PriorityResource for the three doctors, no engine) run in the same process: both times and ratio;
* the five-category open-access model per 100,000 patients, beside Ciw on the same model when Ciw is installed;
* peak memory (tracemalloc) of one standard-day run and of the 100,000-patient open-access run.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from benchmarks import cli
from opdsim.engine import Category, Policy
from opdsim.scenarios import open_access
from opdsim.sim.population import Population, draw_population
from opdsim.sim.scenario import Scenario
from opdsim.sim.simulate import simulate
from opdsim.sim.streams import Streams
from opdsim.validation import REFERENCE_MIX

STANDARD = Path(__file__).resolve().parents[1] / "experiments" / "standard_day.toml"
MIX = REFERENCE_MIX
RHO = 0.8


def plain_simpy_day(pop: Population, doctors: int, close: float) -> int:
    """The yardstick: every patient who turns up requests one PriorityResource (priority = category rank) and
    holds it for the drawn consultation. Returns the number served."""
    env = simpy.Environment(initial_time=min(0.0, float(np.nanmin(pop.arrival))) if len(pop) else 0.0)
    desk = simpy.PriorityResource(env, capacity=doctors)
    served = [0]

    def patient(arrival: float, rank: int, consult: float) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(arrival - env.now)
        with desk.request(priority=rank) as req:
            yield req
            yield env.timeout(consult)
            served[0] += 1

    for arrival, rank, consult in zip(
        pop.arrival.tolist(), pop.category.tolist(), pop.consultation.tolist(), strict=True
    ):
        if arrival == arrival:  # not NaN: the patient comes
            env.process(patient(arrival, rank, consult))
    env.run(until=close)
    return served[0]


def _best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def standard_day(repeats: int = 15) -> tuple[float, float]:
    """Seconds per standard_day replication: (opdsim, plain SimPy), best of ``repeats``."""
    scenario = Scenario.from_toml(STANDARD)
    opd = _best(lambda: simulate(scenario, seed=1, replication=0), repeats)
    pop = draw_population(scenario, Streams(1, 0))
    plain = _best(lambda: plain_simpy_day(pop, scenario.doctors.count, scenario.clinic.day_length), repeats)
    return opd, plain


#: The policy under which the open-access clinic is Ciw's model: strict non-preemptive priority, no aging (aging
#: upgrades tokens, which Ciw's priority classes never do; the Cobham validation runs the same policy)
SAME_AS_CIW = Policy(aging="none")


def open_access_rate(patients: int = 100_000, policy: Policy = SAME_AS_CIW) -> tuple[float, int]:
    """Seconds and patients for a five-category open-access run of about ``patients`` patients at rho 0.8."""
    rates = {c: m * RHO * 60.0 for c, m in zip(Category, MIX, strict=True)}
    horizon = patients / RHO  # one doctor, mu = 1/min: RHO arrivals per minute
    spec = open_access(1, rates, 1.0, horizon, 0.0, policy)
    gc.collect()
    t0 = time.perf_counter()
    result = simulate(spec, seed=2)
    return time.perf_counter() - t0, len(result.patients)


def ciw_rate(patients: int = 100_000) -> tuple[float, int] | None:
    """The same five-category M/M/1 non-preemptive priority model in Ciw, if installed."""
    try:
        import ciw
    except ImportError:
        return None
    lam = [m * RHO for m in MIX]
    network = ciw.create_network(
        arrival_distributions={f"C{k}": [ciw.dists.Exponential(rate=x)] for k, x in enumerate(lam)},
        service_distributions={f"C{k}": [ciw.dists.Exponential(rate=1.0)] for k in range(len(lam))},
        number_of_servers=[1],
        priority_classes={f"C{k}": k for k in range(len(lam))},
    )
    ciw.seed(2)
    sim = ciw.Simulation(network)
    gc.collect()
    t0 = time.perf_counter()
    sim.simulate_until_max_time(patients / RHO)
    elapsed = time.perf_counter() - t0
    return elapsed, len(sim.get_all_records())


def peak_mib(fn: Callable[[], object]) -> float:
    """Peak traced Python memory while ``fn`` runs [MiB]."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    print("== simulation: one standard_day replication (best of 15), same process ==")
    opd, plain = standard_day()
    print(f"  opdsim (engine + SimPy + frames) {opd * 1e3:8.1f} ms")
    print(f"  plain SimPy yardstick            {plain * 1e3:8.1f} ms")
    print(f"  ratio opdsim / plain             {opd / plain:8.2f}  (target <= 2, stretch <= 1)")
    print("== simulation: five-category open-access model, one doctor, rho 0.8, strict priority (no aging, as Ciw) ==")
    secs, n = open_access_rate()
    print(
        f"  opdsim  {n:>7,} patients in {secs:6.2f} s = {n / secs:>9,.0f} patients/s "
        f"({secs / n * 1e5:.2f} s per 100,000)"
    )
    ciw = ciw_rate()
    if ciw is None:
        print("  ciw     not installed (pip install ciw) - no comparison")
    else:
        csecs, cn = ciw
        print(
            f"  ciw     {cn:>7,} patients in {csecs:6.2f} s = {cn / csecs:>9,.0f} patients/s "
            f"({csecs / cn * 1e5:.2f} s per 100,000)"
        )
        print(f"  ratio opdsim / ciw time per patient: {(secs / n) / (csecs / cn):.2f}")
    scenario = Scenario.from_toml(STANDARD)
    day_mem = peak_mib(lambda: simulate(scenario, seed=1))
    rates = {c: m * RHO * 60.0 for c, m in zip(Category, MIX, strict=True)}
    big = open_access(1, rates, 1.0, 100_000 / RHO, 0.0, Policy())
    oa_mem = peak_mib(lambda: simulate(big, seed=2))
    print("== simulation: peak traced memory per run ==")
    print(f"  standard_day replication          {day_mem:7.1f} MiB  (target < 50 MiB)")
    print(f"  open access, 100,000 patients     {oa_mem:7.1f} MiB  (no target: every token and event is kept)")


if __name__ == "__main__":
    cli(main)
