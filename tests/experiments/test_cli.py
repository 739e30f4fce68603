"""The ``opdsim`` command, run as a real process: bad input, interrupts and resume, regression, the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from opdsim.experiments import SweepSpec, load_results, sweep
from tests.cli.helpers import default_sigint

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "experiments" / "standard_day.toml"
BASELINE = ROOT / "tests" / "baselines" / "standard"


def opdsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # wide enough that tables are not cut
    return subprocess.run(
        [sys.executable, "-m", "opdsim", *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=300, env=env
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def sweep_file(tmp: Path, reps: int = 3, rates: str = "[1, 4]", extra: str = "") -> Path:
    return write(
        tmp / "study.toml",
        f'scenario = "{STANDARD}"\nreplications = {reps}\nseed = 9\n{extra}[grid]\n'
        f'"policy.aging_threshold" = [1, 3, "off"]\n"demand.emergency.rate_per_hour" = {rates}\n',
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (None, ("missing.toml", "no such file")),
        ('scenario = "x.toml"\n[grid\n', ("bad.toml", "malformed TOML")),
        (f'scenario = "{STANDARD}"\ncolour = 3\n', ("bad.toml", "colour", "unknown field")),
        (f'scenario = "{STANDARD}"\nreplications = -4\n', ("bad.toml", "replications", "-4")),
        (f'scenario = "{STANDARD}"\n[grid]\n"policy.agin_threshold" = [1, 2]\n', ("grid.policy.agin_threshold",)),
        (
            f'scenario = "{STANDARD}"\n[grid]\n"demand.emergency.rate_per_hour" = [1, -2]\n',
            ("grid.demand.emergency.rate_per_hour", "-2"),
        ),
    ],
    ids=["missing-file", "malformed", "unknown-field", "invalid-value", "unknown-grid-path", "invalid-grid-value"],
)
def test_bad_sweep_input_is_one_line_and_exit_2(tmp_path: Path, content: str | None, needles: tuple[str, ...]) -> None:
    path = tmp_path / ("missing.toml" if content is None else "bad.toml")
    if content is not None:
        write(path, content)
    assert_one_line_error(opdsim("sweep", str(path), "--out", str(tmp_path / "out")), *needles)
    assert not (tmp_path / "out" / "summary.parquet").exists()


def test_bad_scenario_value_names_file_and_field(tmp_path: Path) -> None:
    text = STANDARD.read_text().replace("rate_per_hour = [90, 10, 0, 0]", "rate_per_hour = [90, 10, 0, -2]")
    bad = write(tmp_path / "day.toml", text)
    assert_one_line_error(opdsim("run", str(bad)), "day.toml", "demand.walk_in.rate_per_hour[3]", "-2")


def test_run_prints_a_summary_table(tmp_path: Path) -> None:
    proc = opdsim("run", str(STANDARD), "--replications", "3", "--seed", "4", "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert "wait mean [min]" in proc.stdout and "over 3" in proc.stdout
    assert len(load_results(tmp_path / "r").summary) == 3


def _kill_after_first_point(tmp_path: Path, sig: int) -> tuple[subprocess.Popen[str], Path]:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opdsim",
            "sweep",
            str(sweep_file(tmp_path, reps=4)),
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        preexec_fn=default_sigint,
    )
    deadline = time.monotonic() + 120
    while not list((out / "parts").glob("point-*.summary.parquet")):
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return proc, out


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_an_interrupted_sweep_resumes_without_redoing_or_duplicating(tmp_path: Path, sig: int) -> None:
    proc, out = _kill_after_first_point(tmp_path, sig)
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "--resume" in (proc.stderr.read() if proc.stderr else "")
    finished = len(list((out / "parts").glob("point-*.summary.parquet")))
    assert 1 <= finished < 6
    seen: list[int] = []
    spec = SweepSpec.from_toml(tmp_path / "study.toml")
    resumed = sweep(spec, workers=1, out=out, resume=True, progress=lambda done, total: seen.append(total))
    assert seen and seen[-1] == (6 - finished) * 4  # only the unfinished points ran again
    fresh = sweep(spec, workers=2).summary
    pd.testing.assert_frame_equal(resumed.summary, fresh, check_exact=True)  # nothing lost or duplicated


def test_resume_refuses_a_sweep_file_changed_since(tmp_path: Path) -> None:
    _, out = _kill_after_first_point(tmp_path, signal.SIGKILL)
    sweep_file(tmp_path, reps=4, rates="[1, 5]")
    assert_one_line_error(
        opdsim("sweep", str(tmp_path / "study.toml"), "--out", str(out), "--resume"), "study.toml", "changed since"
    )


def test_regress_passes_the_current_code_against_its_baseline() -> None:
    proc = opdsim("regress", "--baseline", str(BASELINE), "--workers", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no regression" in proc.stdout


def test_regress_catches_a_deliberately_worse_policy(tmp_path: Path) -> None:
    # aging off lets walk-ins starve behind emergencies: the longest walk-in waits grow by about half
    worse = write(
        tmp_path / "worse.toml", STANDARD.read_text().replace("aging_threshold = 5", 'aging_threshold = "off"')
    )
    proc = opdsim("regress", "--baseline", str(BASELINE), str(worse), "--workers", "2")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "significantly worse" in proc.stdout
    assert "wait_max" in proc.stdout or "wait_m" in proc.stdout


def test_compare_refuses_two_different_hospitals(tmp_path: Path) -> None:
    # a busier emergency demand is another hospital, not another policy (tests/decisions/ tests compare itself)
    text = STANDARD.read_text()
    calm = write(tmp_path / "calm.toml", text)
    busy = write(tmp_path / "busy.toml", text.replace("rate_per_hour = 1.5", "rate_per_hour = 6"))
    for name, path in (("a", calm), ("b", busy)):
        assert opdsim("run", str(path), "--replications", "3", "--out", str(tmp_path / name)).returncode == 0
    proc = opdsim("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--all")
    assert_one_line_error(proc, "demand.emergency.rate_per_hour: 1.5 in A, 6 in B")


def test_live_dashboard_plays_a_day(tmp_path: Path) -> None:
    proc = opdsim("live", str(STANDARD), "--speed", "0")
    assert proc.returncode == 0, proc.stderr
    for text in ("D1", "D2", "D3", "walk-in", "emergency", "moved up to paid priority", "The day in figures"):
        assert text in proc.stdout


def test_demo_scripted_morning_replays_identically() -> None:
    proc = opdsim("demo", "--scripted")
    assert proc.returncode == 0, proc.stderr
    assert "identical state" in proc.stdout
