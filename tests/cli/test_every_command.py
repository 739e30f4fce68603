"""Every subcommand of the app, taken from the app itself, against the command-line conventions.

For each command: ``-h`` and ``--help`` exit 0; an unknown option, a missing argument and an extra argument
exit 2 with one line and no traceback; Ctrl-C (SIGINT sent to the real process in the middle of its work) exits
130 with one line saying what was kept. A command added to the app without an entry in ``COMMANDS`` fails
``test_every_command_has_an_entry`` with the name to add, so no command escapes these checks.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from opdsim.cli import app
from tests.cli.helpers import BASELINE, STANDARD, Running, assert_one_line, lines, opdsim, write

Args = Callable[[Path], list[object]]


def _big_sweep(tmp: Path) -> Path:
    return write(
        tmp / "big.toml",
        f'scenario = "{STANDARD}"\nreplications = 400\nseed = 3\n[grid]\n"policy.aging_threshold" = [1, 3, 5, 8]\n',
    )


def _keys(tmp: Path) -> Path:
    """A keys file with one admin key (its SHA-256 only, as the service stores them)."""
    digest = hashlib.sha256(b"every-command-test-key-0123456789").hexdigest()
    return write(tmp / "keys.toml", f'[[keys]]\nid = "admin"\nrole = "admin"\nsha256 = "{digest}"\n')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Case:
    """How to call one command.

    valid : arguments that parse (an unknown option or an extra argument is added to them)
    work : arguments that keep the command busy for tens of seconds (None: it does no long work)
    ready : a line the command writes to stderr once its work is under way (SIGINT is sent after it)
    kept : text the interrupt message must contain (what was kept / how to continue)
    """

    valid: Args
    work: Args | None = None
    ready: str = " replications, "
    kept: str = ""


COMMANDS: dict[str, Case] = {
    "run": Case(
        valid=lambda tmp: [STANDARD, "--replications", 2],
        work=lambda tmp: [STANDARD, "--replications", 3000, "--workers", 1, "--out", tmp / "r"],
        kept="--resume",
    ),
    "sweep": Case(
        valid=lambda tmp: [_big_sweep(tmp), "--out", tmp / "s"],
        work=lambda tmp: [_big_sweep(tmp), "--out", tmp / "s", "--workers", 2],
        kept="--resume",
    ),
    "compare": Case(valid=lambda tmp: [BASELINE, BASELINE]),  # reads two folders: nothing long to interrupt
    "regress": Case(
        valid=lambda tmp: ["--baseline", BASELINE, STANDARD],  # the candidate argument is optional
        work=lambda tmp: ["--baseline", BASELINE, "--workers", 1],
        kept="run the same command again",
    ),
    "live": Case(
        valid=lambda tmp: [STANDARD],
        work=lambda tmp: [STANDARD, "--speed", 5],
        ready="live: playing",
        kept="stopped at clinic time",
    ),
    "validate": Case(
        valid=lambda tmp: ["--replications", 2],
        work=lambda tmp: ["--replications", 50],
        ready="validate: 1/",
        kept="validation tables",
    ),
    "demo": Case(valid=lambda tmp: [], work=lambda tmp: [], kept="run: opdsim demo"),
    "new": Case(valid=lambda tmp: [tmp / "day.toml"]),  # writes one file
    "metrics": Case(valid=lambda tmp: []),  # prints the registry
    "recommend": Case(valid=lambda tmp: [BASELINE, "--objective", "wait_p95_WALK_IN"]),  # reads one folder
    "plot": Case(valid=lambda tmp: [BASELINE, "--out", tmp / "figures"]),  # a few seconds of drawing
    "report": Case(valid=lambda tmp: [BASELINE, "--out", tmp / "report.html"]),
    "serve": Case(
        valid=lambda tmp: ["--db", tmp / "opd.sqlite", "--keys", _keys(tmp)],
        work=lambda tmp: ["--db", tmp / "opd.sqlite", "--keys", _keys(tmp), "--port", _free_port()],
        ready="opdsim serve: ",
        kept="stopped after the requests in progress were answered",
    ),
}

NAMES = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def _required(name: str) -> bool:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    return any(param.required for param in command.params)


def test_every_command_has_an_entry() -> None:
    missing = [name for name in NAMES if name not in COMMANDS]
    assert not missing, f"add an entry to COMMANDS in {__file__} for: {', '.join(missing)}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_exits_0(name: str, flag: str) -> None:
    proc = opdsim(name, flag)
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout and f"opdsim {name}" in proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_option_is_one_line_and_exit_2(name: str, tmp_path: Path) -> None:
    args = COMMANDS[name].valid(tmp_path) if name in COMMANDS else []
    line = assert_one_line(opdsim(name, *args, "--frobnicate"), 2, "--frobnicate", f"opdsim {name}")
    assert "No such option" in line


@pytest.mark.parametrize("name", NAMES)
def test_an_extra_argument_is_one_line_and_exit_2(name: str, tmp_path: Path) -> None:
    args = COMMANDS[name].valid(tmp_path) if name in COMMANDS else []
    assert_one_line(opdsim(name, *args, "surplus-argument"), 2, "surplus-argument", f"opdsim {name}")


@pytest.mark.parametrize("name", [n for n in NAMES if _required(n)])
def test_a_missing_argument_is_one_line_and_exit_2(name: str) -> None:
    line = assert_one_line(opdsim(name), 2, f"opdsim {name}")
    assert "Missing" in line


@pytest.mark.parametrize("name", [n for n in NAMES if COMMANDS.get(n, Case(valid=lambda tmp: [])).work])
def test_ctrl_c_in_the_middle_of_the_work_exits_130_saying_what_was_kept(name: str, tmp_path: Path) -> None:
    case = COMMANDS[name]
    assert case.work is not None
    running = Running(name, *case.work(tmp_path), cwd=tmp_path)
    try:
        running.wait_for(case.ready)
        code, out, err = running.interrupt()
    finally:
        running.kill()
    assert code == 130, f"exit {code}:\n{err}"
    assert "Traceback" not in err + out
    said = [line for line in lines(err) if "interrupted" in line]
    assert len(said) == 1, err
    assert case.kept in said[0], said[0]


def test_the_group_itself() -> None:
    for flag in ("-h", "--help"):
        proc = opdsim(flag)
        assert proc.returncode == 0 and "Usage" in proc.stdout and proc.stderr == ""
    version = opdsim("--version")
    from opdsim import __version__

    assert version.returncode == 0 and version.stdout.strip() == f"opdsim {__version__}"
    assert_one_line(opdsim("frobnicate"), 2, "No such command", "frobnicate")
