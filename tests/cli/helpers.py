"""Running the real installed ``opdsim`` command in a subprocess, and reading what it said."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "experiments" / "standard_day.toml"
BASELINE = ROOT / "tests" / "baselines" / "standard"
OPDSIM = Path(sys.executable).with_name("opdsim")  # the console script that `make setup` installed


def env(columns: int = 200) -> dict[str, str]:
    return {**os.environ, "COLUMNS": str(columns), "LINES": "24", "TERM": "dumb"}


def opdsim(
    *args: object, cwd: Path | None = None, columns: int = 200, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OPDSIM), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
        env=env(columns),
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def assert_one_line(proc: subprocess.CompletedProcess[str], code: int = 2, *needles: str) -> str:
    """Exit ``code`` with exactly one non-blank line on stderr, no traceback, containing every needle."""
    said = lines(proc.stderr)
    assert proc.returncode == code, f"exit {proc.returncode}, expected {code}:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert len(said) == 1, f"expected one line, got {len(said)}:\n{proc.stderr}"
    for needle in needles:
        assert needle in said[0], f"{needle!r} not in {said[0]!r}"
    return said[0]


def default_sigint() -> None:
    """In the child, before ``exec``: Ctrl-C as a terminal delivers it. A test run started in the background
    without job control (as CI may be) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt
    handler, so the interrupt tests would test nothing but that inheritance."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Running:
    """A real ``opdsim`` process whose stderr is read line by line as it comes."""

    def __init__(self, *args: object, cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            [str(OPDSIM), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd or ROOT,
            env=env(),
            preexec_fn=default_sigint,
        )
        self.err: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._out: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        # stdout too is read by a thread, so that `finish` can give up: a descendant that outlives the process
        # keeps the pipe open, and a plain read() would then block the test run for ever
        self._out_reader = threading.Thread(target=self._read_out, daemon=True)
        self._out_reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        self._out.append(self.proc.stdout.read())

    def wait_for(self, needle: str, limit: float = 120.0) -> None:
        """Block until a line of stderr contains ``needle`` (fail if the process ends first)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"ended (exit {self.proc.wait()}) before saying {needle!r}:\n{''.join(self.err)}")
            self.err.append(line)
            if needle in line:
                return
        raise AssertionError(f"never said {needle!r}:\n{''.join(self.err)}")

    def interrupt(self) -> tuple[int, str, str]:
        """Ctrl-C: send SIGINT, wait for the end; (exit status, stdout, all of stderr)."""
        self.proc.send_signal(signal.SIGINT)
        return self.finish()

    def finish(self, limit: float = 120.0) -> tuple[int, str, str]:
        """Wait at most ``limit`` seconds for the process to end and close its output; (exit, stdout, stderr)."""
        deadline = time.monotonic() + limit
        try:
            self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {limit:g} s:\n{''.join(self.err)}") from None
        self._out_reader.join(timeout=max(deadline - time.monotonic(), 5.0))
        if self._out_reader.is_alive():
            raise AssertionError(f"exited {self.proc.returncode}, but something it started still holds its stdout")
        while True:
            try:
                line = self._lines.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.err.append(line)
        return self.proc.returncode, "".join(self._out), "".join(self.err)

    def kill(self) -> None:
        """Kill the process and its direct children (a sweep's workers), if they are still there."""
        if self.proc.poll() is not None:
            return
        for pid in children(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.kill()
        self.proc.wait()


def children(pid: int) -> list[int]:
    """Process ids of the direct children of ``pid`` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has finished: only its exit status is left
