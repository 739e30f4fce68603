"""``python -m benchmarks`` (``make bench``) as a command: names select benchmarks, a wrong one is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_an_unknown_benchmark_is_refused_before_anything_runs() -> None:
    run = _bench("day", "sweeps")
    assert run.returncode == 2
    assert "no benchmark named 'sweeps' (choose from day, engine, sim, sweep, service)" in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""  # nothing measured, not even the day


def test_help_names_the_benchmarks_and_runs_none() -> None:
    run = _bench("-h")
    assert run.returncode == 0
    assert " ".join(run.stdout.split()).count("day, engine, sim, sweep, service") == 1  # help wraps lines
    assert "==" not in run.stdout
