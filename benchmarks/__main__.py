"""Run every benchmark: ``python -m benchmarks`` (``make bench``). They print figures; none asserts a time.

Each module runs in a fresh interpreter, so that one benchmark's heap (the 100,000-patient run, say) neither
slows the next nor inflates the memory of worker processes forked after it. The day benchmark runs once per
engine build: as installed (compiled when built) and, when that is the compiled one, with ``OPDSIM_PURE=1``.
Ctrl-C stops the run with status 130 (the figures printed so far stand); a benchmark that fails stops it with 1.
"""

import argparse
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


_MODULES = {
    "day": "bench_day",
    "engine": "bench_engine",
    "sim": "bench_sim",
    "sweep": "bench_sweep",
    "service": "bench_service",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Print opdsim's benchmark figures beside their yardsticks (make bench runs them all, ~5 min).",
    )
    parser.add_argument(
        "only",
        nargs="*",
        metavar="NAME",
        help=f"run only these benchmarks, in the usual order: {', '.join(_MODULES)} (default: all)",
    )
    chosen = set(parser.parse_args().only)
    unknown = sorted(chosen - set(_MODULES))
    if unknown:
        parser.error(f"no benchmark named {', '.join(map(repr, unknown))} (choose from {', '.join(_MODULES)})")
    chosen = chosen or set(_MODULES)
    if "day" in chosen:
        builds: list[dict[str, str]] = [{}]
        if _build.build() == "compiled":
            builds.append({"OPDSIM_PURE": "1"})
        for extra in builds:
            _run("bench_day", extra)
    for name, module in _MODULES.items():
        if name != "day" and name in chosen:
            _run(module)


cli(main)
