"""Run every benchmark: ``python -m benchmarks`` (``make bench``). They print figures; none asserts a time.

Each module runs in a fresh interpreter, so that one benchmark's heap (the 100,000-patient run, say) neither
slows the next nor inflates the memory of worker processes forked after it.
"""

import subprocess
import sys

for module in ("bench_engine", "bench_sim", "bench_sweep", "bench_service"):
    subprocess.run([sys.executable, "-m", f"benchmarks.{module}"], check=True)
