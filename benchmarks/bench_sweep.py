"""Sweep benchmark (issue: experiments, section 5).

Prints days per second of a 1,000-day sweep of standard_day on 2 local workers, beside the plain-SimPy yardstick
(the same 1,000 days of patients through one PriorityResource) on the same 2 workers, and the parallel efficiency
against the serial sweep: medians of three alternated rounds, ratios taken within each round (the machine is
shared). Checks that the serial and the parallel sweep give identical summaries, and reports the peak memory of a
worker process.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from benchmarks import cli
from benchmarks.bench_sim import plain_simpy_day
from opdsim.experiments import replicate
from opdsim.sim.population import draw_population
from opdsim.sim.scenario import Scenario
from opdsim.sim.streams import Streams

STANDARD = Path(__file__).resolve().parents[1] / "experiments" / "standard_day.toml"
DAYS = int(os.environ.get("OPDSIM_BENCH_DAYS", "1000"))
WORKERS = 2
SEED = 2026
ROUNDS = 3


def _plain_days(days: range) -> int:
    scenario = Scenario.from_toml(STANDARD)
    served = 0
    for r in days:
        pop = draw_population(scenario, Streams(SEED, r))
        served += plain_simpy_day(pop, scenario.doctors.count, scenario.clinic.day_length)
    return served


def plain_sweep(days: int, workers: int) -> float:
    """Seconds for ``days`` plain-SimPy days split over ``workers`` processes."""
    chunks = [range(i, days, workers) for i in range(workers)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_plain_days, chunks))
    return time.perf_counter() - t0


def _children_memory() -> list[tuple[int, int]]:
    """(RSS, private) bytes of each child process of this one, from /proc (Linux)."""
    me = str(os.getpid())
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[1] != me:
                    continue
            fields = {}
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 2 and parts[1].isdigit():
                        fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
        except (OSError, IndexError):
            continue
        out.append((fields.get("Rss", 0), fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)))
    return out


class _Sampler(threading.Thread):
    """Samples the workers' memory every 50 ms while a sweep runs; keeps the peaks."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.rss = 0
        self.private = 0

    def run(self) -> None:
        while not self.stop.wait(0.05):
            for rss, private in _children_memory():
                self.rss = max(self.rss, rss)
                self.private = max(self.private, private)


def main() -> None:
    scenario = Scenario.from_toml(STANDARD)
    print(f"== sweep: {DAYS:,} standard days on {WORKERS} local workers; medians of {ROUNDS} alternated rounds ==")
    sampler = _Sampler()
    t_par, t_plain, t_ser, same = [], [], [], True
    for k in range(ROUNDS):  # alternated, so that a slow spell of the shared machine falls on all three alike
        if k == 0:
            sampler.start()  # the workers' memory, sampled in the first parallel sweep
        t0 = time.perf_counter()
        parallel = replicate(scenario, DAYS, seed=SEED, workers=WORKERS)
        t_par.append(time.perf_counter() - t0)
        if k == 0:
            sampler.stop.set()
            sampler.join()
        t_plain.append(plain_sweep(DAYS, WORKERS))
        t0 = time.perf_counter()
        serial = replicate(scenario, DAYS, seed=SEED, workers=1)
        t_ser.append(time.perf_counter() - t0)
        same = same and serial.summary.equals(parallel.summary)
        pd.testing.assert_frame_equal(serial.summary, parallel.summary, check_exact=True)
    med = statistics.median
    par, plain, ser = med(t_par), med(t_plain), med(t_ser)
    ratio = med([a / b for a, b in zip(t_par, t_plain, strict=True)])
    efficiency = med([s / p / WORKERS for s, p in zip(t_ser, t_par, strict=True)])
    print(f"  opdsim sweep        {par:7.2f} s = {DAYS / par:7.1f} days/s")
    print(f"  plain SimPy         {plain:7.2f} s = {DAYS / plain:7.1f} days/s")
    print(f"  ratio opdsim / plain time {ratio:.2f}  (target <= 2)")
    print(
        f"  serial run          {ser:7.2f} s = {DAYS / ser:7.1f} days/s; speed-up on {WORKERS} workers {ser / par:.2f}x"
    )
    print(f"  parallel efficiency {efficiency:.0%}  (target >= 95%)")
    print(f"  serial and parallel summaries identical: {same}")
    print(
        f"  worker memory, peak: {sampler.private / 2**20:.0f} MiB private (its own), "
        f"{sampler.rss / 2**20:.0f} MiB RSS (including the pages shared with the parent after fork) "
        "(target: private < 50 MiB)"
    )


if __name__ == "__main__":
    cli(main)
