"""One test (or more) per numbered defect of issue 7, each run against the real installed ``opdsim``.

The number in each test's name is the defect's number in the issue.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from opdsim.experiments import SweepSpec, load_results, sweep
from tests.cli.helpers import STANDARD, Running, alive, assert_one_line, children, lines, opdsim, write


def _sweep(tmp: Path, grid: str, reps: int | str = 2, name: str = "study.toml") -> Path:
    reps_text = f'"{reps}"' if isinstance(reps, str) else str(reps)
    return write(tmp / name, f'scenario = "{STANDARD}"\nreplications = {reps_text}\nseed = 5\n[grid]\n{grid}\n')


# ------------------------------------------------------------------------------------------------ 1


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["-h"], 0, "Usage"),
        (["--version"], 0, "opdsim 0."),
        (["frobnicate"], 2, "No such command"),
        (["run", "a.toml", "b.toml"], 2, "unexpected extra argument"),
        (["run", "x.toml", "--resum"], 2, "No such option: --resum"),
    ],
)
def test_1_usage_errors_are_one_line_and_exit_2(args: list[str], code: int, needle: str) -> None:
    proc = opdsim(*args)
    if code == 0:
        assert proc.returncode == 0 and needle in proc.stdout and proc.stderr == ""
    else:
        assert_one_line(proc, code, needle)


# ------------------------------------------------------------------------------------------------ 3


def test_3_run_resume_and_force(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert opdsim("run", STANDARD, "--replications", 2, "--out", out).returncode == 0
    refused = assert_one_line(opdsim("run", STANDARD, "--replications", 2, "--out", out), 2, str(out))
    assert "--resume" in refused and "--force" in refused
    again = opdsim("run", STANDARD, "--replications", 2, "--out", out, "--resume")
    assert again.returncode == 0, again.stderr
    assert "wait mean [min]" in again.stdout
    forced = opdsim("run", STANDARD, "--replications", 3, "--out", out, "--force")
    assert forced.returncode == 0, forced.stderr
    said = next(line for line in lines(forced.stderr) if line.startswith("--force"))
    assert "summary.parquet" in said and "manifest.json" in said and "complete" in said
    assert len(load_results(out).summary) == 3  # the old 2 replications are gone


def test_3_force_does_not_remove_a_folder_that_holds_no_results(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    write(mine / "thesis.txt", "precious")
    assert_one_line(opdsim("run", STANDARD, "--out", mine, "--force"), 2, "not a results folder")
    assert (mine / "thesis.txt").exists()


# ------------------------------------------------------------------------------------------------ 4, 7, 14


def test_4_list_valued_grid_runs_end_to_end_with_readable_labels(tmp_path: Path) -> None:
    grid = '"demand.walk_in.rate_per_hour" = [[28, 24, 14, 6], [40, 30, 20, 10]]\n'
    grid += '"doctors.start_delay" = [{ dist = "deterministic", value = 0 }, { dist = "gamma", mean = 5, sd = 4 }]'
    out = tmp_path / "out"
    proc = opdsim("sweep", _sweep(tmp_path, grid), "--out", out, "--workers", 1)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "table.csv")
    assert set(table["demand.walk_in.rate_per_hour"]) == {"[28, 24, 14, 6]", "[40, 30, 20, 10]"}
    assert '{dist = "gamma", mean = 5, sd = 4}' in set(table["doctors.start_delay"])
    assert "[40, 30, 20, 10]" in proc.stdout
    # busier walk-in hours give more walk-ins: the grid values did reach the scenario
    summary = load_results(out).summary
    busy = summary[summary["demand.walk_in.rate_per_hour"] == "[40, 30, 20, 10]"]["n_WALK_IN"].mean()
    calm = summary[summary["demand.walk_in.rate_per_hour"] == "[28, 24, 14, 6]"]["n_WALK_IN"].mean()
    assert busy > calm


def test_7_repeated_grid_values_are_refused_naming_the_path(tmp_path: Path) -> None:
    line = assert_one_line(
        opdsim("sweep", _sweep(tmp_path, '"policy.aging_threshold" = [3, 3.0]'), "--out", tmp_path / "o"),
        2,
        "grid.policy.aging_threshold",
        "more than once",
    )
    assert "study.toml" in line
    assert not (tmp_path / "o").exists()


def test_14_messages_show_plain_numbers_and_name_the_folders(tmp_path: Path) -> None:
    for name, seed in (("a", 1), ("b", 2)):
        assert opdsim("run", STANDARD, "--replications", 2, "--seed", seed, "--out", tmp_path / name).returncode == 0
    line = assert_one_line(opdsim("compare", tmp_path / "a", tmp_path / "b"), 2, "seed")
    assert "np." not in line and "int64" not in line
    assert str(tmp_path / "a") in line and str(tmp_path / "b") in line


# ------------------------------------------------------------------------------------------------ 5, 6


def test_5_out_naming_an_existing_file(tmp_path: Path) -> None:
    existing = write(tmp_path / "notes.txt", "x")
    assert_one_line(opdsim("run", STANDARD, "--out", existing), 2, str(existing), "is a file")
    assert_one_line(
        opdsim("sweep", _sweep(tmp_path, '"policy.aging_threshold" = [1, 2]'), "--out", existing), 2, "is a file"
    )
    assert existing.read_text() == "x"


@pytest.mark.parametrize("address", ["nonsense", "tcp://127.0.0.1:1", "tcp://127.0.0.1:99999"])
def test_6_a_bad_scheduler_fails_in_one_line_and_creates_nothing(tmp_path: Path, address: str) -> None:
    out = tmp_path / "out"
    proc = opdsim("sweep", _sweep(tmp_path, '"policy.aging_threshold" = [1, 2]'), "--out", out, "--scheduler", address)
    said = [line for line in lines(proc.stderr) if "error" in line]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(said) == 1 and "--scheduler" in said[0] and address in said[0], proc.stderr
    assert not out.exists()  # nothing half-made blocks a rerun


# ------------------------------------------------------------------------------------------------ 8


def _interrupted_folder(tmp: Path) -> tuple[Path, Path]:
    """A sweep folder with some points finished (the process killed after the first one)."""
    path = _sweep(tmp, '"policy.aging_threshold" = [1, 2, 3, 5, 8, 13]', reps=40)
    out = tmp / "out"
    running = Running("sweep", path, "--out", out, "--workers", 1)
    try:
        deadline = time.monotonic() + 120
        while not list((out / "parts").glob("point-*.summary.parquet")):
            assert running.proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        running.kill()
    return path, out


def test_8_resume_refuses_a_folder_made_by_other_code(tmp_path: Path) -> None:
    path, out = _interrupted_folder(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source_hash"] and "code_revision" in manifest and manifest["opdsim_version"]
    manifest.update(source_hash="0" * 64, code_revision="feedc0ffee" * 4)  # as older code would have written
    (out / "manifest.json").write_text(json.dumps(manifest))
    line = assert_one_line(opdsim("sweep", path, "--out", out, "--resume"), 2, "revision feedc0ffeefe", "--force")
    assert "refusing to mix" in line


@pytest.mark.slow
def test_8_demo_reruns_when_its_results_are_from_other_code(tmp_path: Path) -> None:
    first = opdsim("demo", "--workers", 2, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    manifest_path = tmp_path / "results" / "aging_sweep" / "manifest.json"
    again = opdsim("demo", "--workers", 2, cwd=tmp_path)
    assert again.returncode == 0 and "running it again" not in again.stderr
    manifest = json.loads(manifest_path.read_text())
    manifest["source_hash"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    stale = opdsim("demo", "--workers", 2, cwd=tmp_path)
    assert stale.returncode == 0, stale.stderr
    assert "running it again" in stale.stderr
    assert json.loads(manifest_path.read_text())["source_hash"] != "0" * 64


# ------------------------------------------------------------------------------------------------ 9, 11, 12


def test_9_auto_replications_show_their_rounds(tmp_path: Path) -> None:
    path = write(
        tmp_path / "auto.toml",
        f'scenario = "{STANDARD}"\nreplications = "auto"\nprecision = 0.2\nseed = 1\n'
        '[grid]\n"policy.aging_threshold" = [3, 5]\n',
    )
    proc = opdsim("sweep", path, "--out", tmp_path / "o", "--workers", 1)
    assert proc.returncode == 0, proc.stderr
    rounds = [line for line in lines(proc.stderr) if "round at n =" in line]
    assert len(rounds) >= 2, proc.stderr  # the first round of 5, then one more per round at least
    assert "target ±20%" in rounds[-1] and "(reached)" in rounds[-1]
    ns = [int(re.search(r"n = (\d+)", line).group(1)) for line in rounds]  # type: ignore[union-attr]
    assert ns == sorted(ns) and ns[0] == 5
    assert load_results(tmp_path / "o").manifest["replications"] == ns[-1]


def test_11_validate_shows_progress_and_exits_1_when_a_check_fails() -> None:
    # 40 simulated minutes from an empty clinic are far from the steady state: the M/M/1 check fails
    proc = opdsim("validate", "--replications", 2, "--horizon", 40, "--warmup", 0)
    assert proc.returncode == 1, proc.stderr
    assert "validate: 1/4" in proc.stderr and "validate: 4/4" in proc.stderr
    assert "outside their tolerance" in proc.stderr and "M/M/1 Wq" in proc.stderr
    passing = opdsim("validate", "--replications", 2, "--horizon", 300, "--warmup", 10)
    assert passing.returncode == 0, passing.stderr
    assert "every check within its tolerance" in passing.stderr


def test_12_tables_fit_80_columns_with_units(tmp_path: Path) -> None:
    grid = '"policy.aging_threshold" = [1, "off"]\n"demand.emergency.rate_per_hour" = [0.5, 4]'
    proc = opdsim("sweep", _sweep(tmp_path, grid), "--out", tmp_path / "o", "--workers", 1, columns=80)
    assert proc.returncode == 0, proc.stderr
    for text in (proc.stdout, opdsim("metrics", columns=80).stdout):
        assert max(len(line) for line in text.splitlines()) <= 80
        assert "…" not in text  # nothing cut
    for unit in ("[min]", "[patients]"):
        assert unit in proc.stdout
    for words in ("aging", "threshold", "emergency", "walk-in", "p95"):
        assert words in proc.stdout


# ------------------------------------------------------------------------------------------------ 10


def test_10_an_absurd_load_is_refused_with_the_figure_unless_forced(tmp_path: Path) -> None:
    text = STANDARD.read_text()
    absurd = write(tmp_path / "absurd.toml", text.replace("rate_per_hour = 1.5", "rate_per_hour = 1e6"))
    line = assert_one_line(opdsim("run", absurd, "--replications", 2), 2, "absurd.toml", "offered load")
    assert "29,63" in line  # (641.4 - 30 + 4e6 * 5) / 675 = 29,630.5 times capacity
    # 80 emergencies an hour: (611.4 + 320 * 5) / 675 = 3.28 times capacity, refused, then run with --force
    heavy = write(tmp_path / "heavy.toml", text.replace("rate_per_hour = 1.5", "rate_per_hour = 80"))
    assert "3.3 times" in assert_one_line(opdsim("run", heavy, "--replications", 2), 2)
    forced = opdsim("run", heavy, "--replications", 2, "--workers", 1, "--force")
    assert forced.returncode == 0, forced.stderr


def test_10_offered_load_by_hand(tmp_path: Path) -> None:
    from opdsim.sim.load import MAX_LOAD, load, offered_load
    from opdsim.sim.scenario import Scenario

    day = Scenario.from_toml(STANDARD)
    # standard_day.toml's header: 51.0 + 225.0 + 124.8 + 200.0 + 30.0 = 630.8 consultation minutes;
    # 3 doctors x (240 - 5 late start - 10 break) = 675 doctor minutes
    assert load(day).work == pytest.approx(630.8)
    assert load(day).available == pytest.approx(675.0)
    assert offered_load(day) == pytest.approx(630.8 / 675)
    busy = day.replace(**{"demand.emergency.rate_per_hour": 80})
    assert offered_load(busy) == pytest.approx((630.8 - 30 + 80 * 4 * 5) / 675) and offered_load(busy) > MAX_LOAD


# ------------------------------------------------------------------------------------------------ 13


def test_13_live_starts_at_opening_fits_80x24_and_ends_with_a_summary(tmp_path: Path) -> None:
    from collections import Counter, deque

    from rich.console import Console

    from opdsim.live import render, run_live
    from opdsim.sim.scenario import Scenario

    day = Scenario.from_toml(STANDARD)
    quiet = Console(file=open(tmp_path / "out.txt", "w"), width=80, height=24)  # noqa: SIM115
    shown: list[float] = []
    eng = run_live(day, speed=0, console=quiet, shown=shown)
    assert min(shown) >= 0  # the playback starts at opening
    with_bookings: list[float] = []
    run_live(day, speed=0, console=quiet, bookings=True, shown=with_bookings)
    assert min(with_bookings) < 0  # the option shows the bookings made before opening
    screen = Console(width=80, height=24, record=True, file=open(tmp_path / "screen.txt", "w"))  # noqa: SIM115
    log: deque[str] = deque(f"0:{k:02d} T{k} (walk-in) moved up to paid priority after 5 bypasses" for k in range(30))
    screen.print(render(eng, 120.0, Counter(), Counter(), log, 80, 24))
    text = screen.export_text()
    assert len(text.splitlines()) <= 24 and max(len(line) for line in text.splitlines()) <= 80
    proc = opdsim("live", STANDARD, "--speed", 0)
    assert proc.returncode == 0, proc.stderr
    for words in ("emergency", "paid priority", "follow-up", "online", "walk-in", "The day in figures"):
        assert words in proc.stdout
    assert "rank 1" not in proc.stdout


# ------------------------------------------------------------------------------------------------ 15, 16


def _wait_for_two_workers(running: Running) -> None:
    """Block until the sweep has said it started and both of its worker processes exist."""
    running.wait_for(" replications, ")
    deadline = time.monotonic() + 60
    while len(children(running.proc.pid)) < 2:
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.05)


def test_15_a_worker_killed_mid_sweep_is_replaced_and_nothing_is_lost(tmp_path: Path) -> None:
    path = _sweep(tmp_path, '"policy.aging_threshold" = [1, 3, 5, 8]', reps=60)
    out = tmp_path / "out"
    running = Running("sweep", path, "--out", out, "--workers", 2)
    try:
        _wait_for_two_workers(running)
        victim = children(running.proc.pid)[0]
        os.kill(victim, signal.SIGKILL)  # as the out-of-memory killer does
        code, _, err = running.finish(limit=300)
    finally:
        running.kill()
    assert code == 0, err
    assert "Traceback" not in err
    fresh = sweep(SweepSpec.from_toml(path), workers=2).summary
    pd.testing.assert_frame_equal(load_results(out).summary, fresh, check_exact=True)


def test_16_workers_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    path = _sweep(tmp_path, '"policy.aging_threshold" = [1, 3, 5, 8]', reps=400)
    running = Running("sweep", path, "--out", tmp_path / "out", "--workers", 2)
    try:
        _wait_for_two_workers(running)
        workers = children(running.proc.pid)
        running.proc.send_signal(signal.SIGKILL)
        running.proc.wait()
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), "workers still computing after their parent died"
    finally:
        running.kill()


def test_6_force_removes_nothing_until_the_cluster_answers(tmp_path: Path) -> None:
    path = _sweep(tmp_path, '"policy.aging_threshold" = [1, 2]')
    out = tmp_path / "out"
    assert opdsim("sweep", path, "--out", out, "--workers", 1).returncode == 0
    proc = opdsim("sweep", path, "--out", out, "--scheduler", "tcp://127.0.0.1:1", "--force")
    assert proc.returncode == 2 and "no Dask scheduler answered" in proc.stderr, proc.stderr
    assert load_results(out).manifest["state"] == "complete"  # the old results are still there
