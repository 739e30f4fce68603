"""Run every benchmark: ``python -m benchmarks`` (``make bench``). They print figures; none asserts a time.

Each module runs in a fresh interpreter, so that one benchmark's heap (the 100,000-patient run, say) neither
slows the next nor inflates the memory of worker processes forked after it. The day benchmark runs once per
engine build: as installed (compiled when built) and, when that is the compiled one, with ``OPDSIM_PURE=1``.
Ctrl-C stops the run with status 130 (the figures printed so far stand); a benchmark that fails stops it with 1.
"""

import os
import signal
import subprocess
import sys

from benchmarks import cli
from opdsim.engine import _build


def _child_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # the benchmark answers Ctrl-C itself (benchmarks.cli)


def _run(module: str, extra: dict[str, str] | None = None) -> None:
    name = f"benchmarks.{module}"
    # Ctrl-C reaches the whole process group: the running benchmark says so in one line and exits 130, and this
    # parent, ignoring it meanwhile, only passes the status on
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        env = {**os.environ, **(extra or {})}
        code = subprocess.run([sys.executable, "-m", name], env=env, preexec_fn=_child_sigint).returncode
    finally:
        signal.signal(signal.SIGINT, before)
    if code == 130:
        sys.exit(130)
    if code != 0:
        print(f"bench: {name} failed with status {code}; the figures above it stand", file=sys.stderr)
        sys.exit(1)


def main() -> None:
    builds: list[dict[str, str]] = [{}]
    if _build.build() == "compiled":
        builds.append({"OPDSIM_PURE": "1"})
    for extra in builds:
        _run("bench_day", extra)
    for module in ("bench_engine", "bench_sim", "bench_sweep", "bench_service"):
        _run(module)


cli(main)
