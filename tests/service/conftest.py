"""Fixtures of the service tests: a REAL `opdsim serve` process on 127.0.0.1 with a real SQLite file.

No test client in process: every request crosses a socket to a uvicorn server started as a separate process, so
durability (SIGKILL), concurrency and the CLI are tested as deployed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from opdsim.service.auth import hash_key
from tests.cli.helpers import default_sigint

pytest.importorskip("fastapi", reason="the service extra is not installed (pip install -e '.[service]')")

# plaintext keys of the test principals (the server only ever sees their hashes, in keys.toml)
KEYS: dict[str, dict[str, str]] = {
    "admin": {"role": "admin"},
    "desk": {"role": "desk"},
    "triage": {"role": "triage"},
    "display": {"role": "display"},
    "doc-a": {"role": "doctor", "doctor": "dr_a"},
    "doc-b": {"role": "doctor", "doctor": "dr_b"},
    "pat-1": {"role": "patient", "patient": "p1"},
    "pat-2": {"role": "patient", "patient": "p2"},
}


def secret(name: str) -> str:
    """The plaintext API key of test principal ``name``."""
    return f"test-key-{name}-0123456789abcdef"


def write_keys(path: Path) -> Path:
    lines = []
    for name, info in KEYS.items():
        lines.append("[[keys]]")
        lines.append(f'id = "{name}"')
        for k, v in info.items():
            lines.append(f'{k} = "{v}"')
        lines.append(f'sha256 = "{hash_key(secret(name))}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One `opdsim serve` process and the means to restart or kill it."""

    db: str
    keys: Path
    policy: Path | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        args = [sys.executable, "-m", "opdsim", "serve", "--db", self.db, "--keys", str(self.keys)]
        args += ["--host", "127.0.0.1", "--port", str(self.port)]
        if self.policy is not None:
            args += ["--policy", str(self.policy)]
        self.log = self.keys.with_name(f"server-{self.port}.log")
        out = self.log.open("ab")
        self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, preexec_fn=default_sigint)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not become ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None


class Api:
    """A tiny HTTP client for the service: picks the key of a test principal, makes up idempotency keys."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def headers(self, who: str | None, key: str | None = None) -> dict[str, str]:
        h = {"Idempotency-Key": key or uuid.uuid4().hex}
        if who is not None:
            h["X-API-Key"] = secret(who)
        return h

    def post(self, path: str, who: str | None, body: Any = None, key: str | None = None) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.headers(who, key))

    def get(self, path: str, who: str | None, **params: Any) -> httpx.Response:
        h = {} if who is None else {"X-API-Key": secret(who)}
        return self.http.get(path, headers=h, params=params)

    def setup_day(self, date: str, doctors: dict[str, list[tuple[str, str, int]]], opens: str = "09:00") -> Any:
        body = {
            "date": date,
            "time_zone": "Asia/Kolkata",
            "opens_at": opens,
            "doctors": [
                {"id": d, "slots": [{"start": s, "end": e, "capacity": c} for s, e, c in slots]}
                for d, slots in doctors.items()
            ],
        }
        r = self.post("/days", "admin", body)
        assert r.status_code == 201, r.text
        return r.json()


def at(date: str, minutes: float) -> str:
    """Wall-clock ISO time (hospital time, no offset) of clinic minute ``minutes`` on a day opening at 09:00."""
    total = int(minutes)
    sec = round((minutes - total) * 60)
    return f"{date}T{9 + total // 60:02d}:{total % 60:02d}:{sec:02d}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("service")
    srv = Server(str(base / "opd.sqlite"), write_keys(base / "keys.toml")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[Api]:
    client = Api(server.url)
    yield client
    client.http.close()
