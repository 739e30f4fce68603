"""Run every benchmark: ``python -m benchmarks`` (``make bench``). They print figures; none asserts a time.

Each module runs in a fresh interpreter, so that one benchmark's heap (the 100,000-patient run, say) neither
slows the next nor inflates the memory of worker processes forked after it. The day benchmark runs once per
engine build: as installed (compiled when built) and, when that is the compiled one, with ``OPDSIM_PURE=1``.
"""

import os
import subprocess
import sys

from opdsim.engine import _build

builds: list[dict[str, str]] = [{}]
if _build.build() == "compiled":
    builds.append({"OPDSIM_PURE": "1"})
for extra in builds:
    subprocess.run([sys.executable, "-m", "benchmarks.bench_day"], check=True, env={**os.environ, **extra})
for module in ("bench_engine", "bench_sim", "bench_sweep", "bench_service"):
    subprocess.run([sys.executable, "-m", f"benchmarks.{module}"], check=True)
