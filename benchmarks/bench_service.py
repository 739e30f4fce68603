"""The booking service under load, beside the stack's floor (``python -m benchmarks.bench_service``).

Every server runs in its own process on 127.0.0.1; the load comes from separate processes, 64 concurrent
connections on loopback. Printed per scenario: requests per second, p50 and p99 latency [ms], the time per request
against the floor's, and the server's CPU time per request, all measured in the same run on the same machine:

- ``floor``: a minimal FastAPI app whose one endpoint commits one row to SQLite (the same SQLAlchemy engine
  settings as the service: WAL, synchronous=FULL) and does nothing else;
- ``book, empty slot``: ``POST /book-token`` into one doctor's slot that starts empty;
- ``book, 20,000 in slot``: the same into a slot that already holds 20,000 tokens (the original service fell
  from 977 to 341 requests per second as one slot filled);
- ``mix``: 48 connections booking walk-ins who check in at once (the engine chooses the doctor) while 16
  doctors call their next patient and complete them; a row for each side and one for all 64 together (its p50
  and p99 the worse of the two sides').

The load generator is wrk (``.ci/ensure-deb.sh wrk`` installs Debian's package; ``make bench`` runs it) for
``OPDSIM_BENCH_SECONDS`` (default 10) per scenario: ``book.lua`` posts one body per request, one wrk thread holding
the connections; ``doctor.lua`` runs one thread per doctor, each on its own connection, so that each remembers the
token it called and completes it. Without wrk an asyncio client in Python (httpx) drives every scenario
(``OPDSIM_BENCH_REQUESTS`` requests each, default 3000); it tops out near 250 requests per second on one core, so
its figures measure the client more than the servers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import httpx

from benchmarks import cli
from opdsim.engine import Category, Engine
from opdsim.service.auth import hash_key
from opdsim.service.store import DayRow, Store, database_url

CLIENTS = 64
KINDS: Counter[str] = Counter()  # what the failures were
REQUESTS = int(os.environ.get("OPDSIM_BENCH_REQUESTS", "3000"))
SECONDS = int(os.environ.get("OPDSIM_BENCH_SECONDS", "10"))
LUA = Path(__file__).with_name("book.lua")
DOCTOR_LUA = Path(__file__).with_name("doctor.lua")
Run = tuple[float, int, float, float, int]  # one scenario: elapsed [s], requests, p50 [ms], p99 [ms], failures
DAY = dt.datetime.now(dt.UTC).date().isoformat()  # today, open from midnight UTC: the clock is inside slot 0
FULL = 20_000
DOCTORS = [f"dr{i:02d}" for i in range(16)]
SYNC: Literal["full", "normal"] = "normal" if os.environ.get("OPDSIM_BENCH_SYNC") == "normal" else "full"


# ---------------------------------------------------------------------- the floor app (runs in its own process)


def floor_app() -> Any:
    """A FastAPI app that commits one row per request to SQLite and does nothing else."""
    import sqlalchemy as sa
    from fastapi import FastAPI

    store = Store(database_url(os.environ["OPDSIM_FLOOR_DB"]), synchronous=SYNC)
    table = sa.Table("hits", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.Text))
    table.metadata.create_all(store.engine)
    app = FastAPI()

    @app.post("/commit", status_code=201)
    def commit(body: dict[str, Any]) -> dict[str, Any]:
        with store.write() as conn:
            row = conn.execute(table.insert().values(body=str(body))).inserted_primary_key
        return {"id": row[0] if row else None}

    return app


# ---------------------------------------------------------------------- helpers


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _keys(path: Path) -> Path:
    lines = []
    for name, role, extra in [("desk", "desk", ""), ("admin", "admin", "")] + [
        (f"doc-{d}", "doctor", f'doctor = "{d}"\n') for d in DOCTORS
    ]:
        lines.append(f'[[keys]]\nid = "{name}"\nrole = "{role}"\n{extra}sha256 = "{hash_key("bench-" + name)}"\n')
    path.write_text("".join(lines))
    return path


def _prefill(db: str, in_slot: int) -> None:
    """Store a day whose dr00 slot 0 already holds ``in_slot`` tokens (built in process, replayed by the server)."""
    eng = Engine()
    for d in DOCTORS:
        eng.add_doctor(d, [(0.0, 1440.0, 100_000)])
    for i in range(in_slot):
        eng.book(f"pre{i}", Category.WALK_IN, "dr00", now=0.0, slot=0)
    store = Store(database_url(db))
    store.migrate()
    with store.write() as conn:
        store.create_day(conn, DayRow(DAY, DAY, "UTC", "00:00:00", 0), eng.events)
    store.dispose()


Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def _load(url: str, make: Callable[[int], Request], n: int) -> tuple[float, list[float], int]:
    """Send ``n`` requests from CLIENTS concurrent clients; returns (elapsed [s], latencies [s], failures)."""
    latencies: list[float] = []
    failures = 0
    counter = iter(range(n))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=CLIENTS)) as client:

        async def worker(w: int) -> None:
            nonlocal failures
            send = make(w)
            for i in counter:
                t0 = time.perf_counter()
                try:
                    r = await send(client, i)
                except httpx.HTTPError as exc:
                    failures += 1
                    KINDS[type(exc).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                if r.status_code >= 500 or r.status_code in (401, 403, 422):
                    failures += 1
                    KINDS[f"{r.status_code} {r.text[:60]}"] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(CLIENTS)))
        return time.perf_counter() - t0, latencies, failures


def _headers(who: str) -> dict[str, str]:
    return {"X-API-Key": "bench-" + who, "Idempotency-Key": uuid.uuid4().hex}


def _booker(prefix: str, check_in: bool = False) -> Callable[[int], Request]:
    def make(_w: int) -> Request:
        async def send(client: httpx.AsyncClient, i: int) -> httpx.Response:
            body = {"day": DAY, "patient": f"{prefix}{i}", "category": "WALK_IN", "doctor": "dr00", "slot": 0}
            if check_in:
                body.update(doctor=DOCTORS[i % len(DOCTORS)], check_in=True)
                body.pop("slot")
            return await client.post("/book-token", json=body, headers=_headers("desk"))

        return send

    return make


def _mixed(prefix: str) -> Callable[[int], Request]:
    book = _booker(prefix, check_in=True)

    def make(w: int) -> Request:
        if w >= 16:
            return book(w)
        doctor = DOCTORS[w]
        state = {"busy": None}

        async def send(client: httpx.AsyncClient, i: int) -> httpx.Response:
            who = f"doc-{doctor}"
            if state["busy"] is not None:
                r = await client.post(f"/days/{DAY}/tokens/{state['busy']}/complete", json={}, headers=_headers(who))
                state["busy"] = None
                return r
            r = await client.post(f"/days/{DAY}/doctors/{doctor}/call-next", json={}, headers=_headers(who))
            if r.status_code == 200 and r.json()["token"] is not None:
                state["busy"] = r.json()["token"]["id"]
            return r

        return send

    return make


def _wrk_command(url: str, script: Path, connections: int, threads: int, args: list[str]) -> list[str]:
    """The wrk command line of one run of SECONDS against ``url`` (script arguments after ``--``)."""
    return ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{SECONDS}s", "--timeout", "30s",
            "-s", str(script), url, "--", *args]  # fmt: skip


def _wrk_result(out: str, prefix: str) -> Run:
    """(elapsed [s], requests, p50 [ms], p99 [ms], failures) from the RESULT line the scripts print."""
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    n, elapsed, p50, p99, bad, socket_errors = line.split()[1:]
    if int(bad) or int(socket_errors):
        KINDS[f"wrk {prefix}: {bad} 4xx/5xx, {socket_errors} socket errors"] += 1
    return float(elapsed), int(n), float(p50), float(p99), int(bad) + int(socket_errors)


def _wrk(url: str, path: str, who: str, template: str, prefix: str) -> Run:
    """One wrk run posting ``template`` bodies to ``url + path``, one thread holding the CLIENTS connections."""
    args = _wrk_command(url + path, LUA, CLIENTS, 1, [path, "bench-" + who, template, prefix])
    return _wrk_result(subprocess.run(args, capture_output=True, text=True, check=True).stdout, prefix)


def _wrk_mixed(url: str, prefix: str) -> tuple[Run, Run]:
    """Walk-ins booked and checked in at the desk (48 connections, the engine choosing the doctor) while 16 doctors
    call and complete (one wrk thread and connection each, so that each remembers the token it called): the two
    wrk runs side by side, (bookings, doctors)."""
    doctors = len(DOCTORS)
    desk = _wrk_command(url + "/book-token", LUA, CLIENTS - doctors, 1,
                        ["/book-token", "bench-desk", WALK_IN_BODY, prefix + "b"])  # fmt: skip
    calls = _wrk_command(url, DOCTOR_LUA, doctors, doctors, [DAY, prefix + "d"])
    running = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for cmd in (desk, calls)]
    outs = [proc.communicate()[0] for proc in running]
    for proc, cmd in zip(running, (desk, calls), strict=True):
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, cmd)
    return _wrk_result(outs[0], prefix + " desk"), _wrk_result(outs[1], prefix + " doctors")


def _row(name: str, run: Run, floor: float | None, cpu: float) -> str:
    """One line of the table; ``floor`` is the floor's time per request [s], ``cpu`` the server's CPU time [s]."""
    elapsed, n, p50, p99, failures = run
    ratio = "" if floor is None else f"{elapsed / n / floor:6.2f}x"
    return f"{name:<24} {n / elapsed:9.0f} {p50:9.1f} {p99:9.1f} {ratio:>9} {1000 * cpu / n:10.2f} {failures:>6}"


# the body wrk sends: book.lua puts each request's own id where %s is
BOOK_BODY = '{"day": "' + DAY + '", "patient": "%s", "category": "WALK_IN", "doctor": "dr00", "slot": 0}'
WALK_IN_BODY = '{"day": "' + DAY + '", "patient": "%s", "category": "WALK_IN", "check_in": true}'


def _cpu(pid: int) -> float:
    """CPU time (user + system) the process has used so far [s] (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client_run(elapsed: float, lat: list[float], failures: int) -> Run:
    """The figures of one run of the Python client, from its latencies [s]."""
    lat = sorted(lat)
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    return elapsed, len(lat), statistics.median(lat) * 1000, p99 * 1000, failures


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="opdsim-bench-service-"))
    keys = _keys(tmp / "keys.toml")
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> str:
        port = _port()
        proc = subprocess.Popen(
            [*args, "--port", str(port)],
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        _wait(url + "/docs", proc)
        return url

    def serve(db: str) -> str:
        return start(
            [
                sys.executable,
                "-m",
                "opdsim",
                "serve",
                "--db",
                db,
                "--keys",
                str(keys),
                "--host",
                "127.0.0.1",
                "--sqlite-synchronous",
                SYNC,
            ]
        )

    header = (
        f"{'scenario':<24} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'vs floor':>9} {'server cpu':>10} {'errors':>6}"
    )
    units = f"{'':<24} {'':>9} {'':>9} {'':>9} {'':>9} {'ms/req':>10}"
    use_wrk = shutil.which("wrk") is not None
    try:
        print(f"booking service vs floor: {CLIENTS} concurrent connections on loopback, one run")
        floor_url = start(
            [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.bench_service:floor_app", "--log-level",
             "warning", "--no-access-log", "--host", "127.0.0.1"],
            {"OPDSIM_FLOOR_DB": str(tmp / "floor.sqlite")},
        )  # fmt: skip

        def floor_make(_w: int) -> Request:
            async def send(client: httpx.AsyncClient, i: int) -> httpx.Response:
                return await client.post("/commit", json={"i": i}, headers=_headers("desk"))

            return send

        def book_server(prefill: int) -> str:
            db = str(tmp / f"service-{prefill}.sqlite")
            _prefill(db, prefill)
            url = serve(db)
            asyncio.run(_load(url, _booker(f"warm{prefill}-"), 300))  # warm-up
            return url

        def mixed_server() -> str:
            db = str(tmp / "service-mixed.sqlite")
            _prefill(db, 0)
            return serve(db)

        def client_floor() -> Run:
            return _client_run(*asyncio.run(_load(floor_url, floor_make, REQUESTS)))

        def client_booking(url: str, prefill: int) -> Run:
            return _client_run(*asyncio.run(_load(url, _booker(f"b{prefill}-"), REQUESTS)))

        def wrk_floor() -> Run:
            return _wrk(floor_url, "/commit", "desk", '{"i": "%s"}', "floor")

        def wrk_booking(url: str, prefill: int) -> Run:
            return _wrk(url, "/book-token", "desk", BOOK_BODY, f"b{prefill}")

        if use_wrk:
            print(f"-- load from wrk, {SECONDS} s per scenario")
            load_floor, load_booking = wrk_floor, wrk_booking
        else:
            print(f"-- no wrk: load from an asyncio client in Python (httpx), {REQUESTS} requests per scenario")
            print("   (it tops out near 250 requests/s on one core: these figures measure the client)")
            load_floor, load_booking = client_floor, client_booking
        print(header + "\n" + units)
        asyncio.run(_load(floor_url, floor_make, 300))  # warm-up
        c0 = _cpu(procs[0].pid)
        run = load_floor()
        floor = run[0] / run[1]
        print(_row("floor (commit only)", run, None, _cpu(procs[0].pid) - c0))
        results: dict[str, float] = {}
        for name, prefill in (("book, empty slot", 0), (f"book, {FULL:,} in slot", FULL)):
            url = book_server(prefill)
            c0 = _cpu(procs[-1].pid)
            run = load_booking(url, prefill)
            results[name] = run[1] / run[0]
            print(_row(name, run, floor, _cpu(procs[-1].pid) - c0))
        url = mixed_server()
        c0 = _cpu(procs[-1].pid)
        if use_wrk:
            desk, doctors = _wrk_mixed(url, "m")
            cpu = (_cpu(procs[-1].pid) - c0) / (desk[1] + doctors[1])  # the server's, per request of either kind
            print(_row("mix: walk-ins (48 conn)", desk, None, cpu * desk[1]))
            print(_row("mix: doctors (16 conn)", doctors, None, cpu * doctors[1]))
            n = desk[1] + doctors[1]
            both = max(desk[0], doctors[0]), n, max(desk[2], doctors[2]), max(desk[3], doctors[3]), desk[4] + doctors[4]
            print(_row("mix: all 64 (worse p's)", both, floor, cpu * n))
        else:
            run = _client_run(*asyncio.run(_load(url, _mixed("m"), REQUESTS)))
            print(_row("book + call-next", run, floor, _cpu(procs[-1].pid) - c0))
        empty, full = results.values()
        print(f"slot holding {FULL:,} tokens vs empty: {full / empty:.2f}x the throughput")
        if KINDS:
            print("errors:", dict(KINDS))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


if __name__ == "__main__":
    cli(main)
