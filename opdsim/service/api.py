"""The booking service's HTTP API (FastAPI): :func:`create_app`.

Every mutating request carries an ``Idempotency-Key`` and goes through :meth:`Ledger.command`, which commits its
events and the key before the response is sent. Reads are served from the day's in-memory engine, caught up with
the store first. Who may call what is the :data:`ROLES` table, enforced by FastAPI dependencies; ownership (a
patient's own token, a doctor's own queue) is checked against the engine's state inside the command.
"""

# no `from __future__ import annotations`: FastAPI reads these signatures, whose names are local to create_app

import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException

from opdsim.engine import Category, Engine, OpdsimError, Policy, TokenView
from opdsim.engine.events import Event, event_to_dict
from opdsim.service.auth import KeyRing, Principal, Role
from opdsim.service.codec import to_jsonable
from opdsim.service.ledger import ApiError, Clock, Day, Ledger, Outcome, error_body
from opdsim.service.models import (
    MAX_PAGE,
    AtIn,
    AuditOut,
    BoardOut,
    BookIn,
    CallOut,
    ClinicDate,
    DayOut,
    DaySetup,
    DelayIn,
    Done,
    EmergencyIn,
    ErrorOut,
    HealthOut,
    QueueOut,
    ReadyOut,
    SlotDetailOut,
    TokenOut,
)
from opdsim.service.store import DayRow, Store

__all__ = ["BOOKABLE", "ROLES", "Settings", "create_app"]

P, D, T, DR, DI, A = Role.PATIENT, Role.DESK, Role.TRIAGE, Role.DOCTOR, Role.DISPLAY, Role.ADMIN

# who may call each endpoint (operation id -> roles); the roles test walks this table
ROLES: dict[str, frozenset[Role]] = {
    "setup_day": frozenset({A}),
    "get_day": frozenset({D, T, DR, A}),
    "book_token": frozenset({P, D}),
    "emergency": frozenset({T}),
    "check_in": frozenset({D}),
    "call_next": frozenset({DR}),
    "complete": frozenset({DR}),
    "cancel": frozenset({P, D}),
    "no_show": frozenset({D}),
    "leave": frozenset({D}),
    "delay": frozenset({DR}),
    "tick": frozenset({D, A}),
    "close_day": frozenset({A}),
    "queue": frozenset({D, T, DR, A}),
    "slot": frozenset({D, T, DR, A}),
    "token": frozenset({P, D, T, DR, A}),
    "audit": frozenset({A}),
    "board": frozenset({DI, D, A}),
    "snapshot": frozenset({A}),
}

# categories each role may book through POST /book-token (EMERGENCY only through the triage endpoint)
BOOKABLE: dict[Role, frozenset[Category]] = {
    P: frozenset({Category.ONLINE, Category.FOLLOW_UP}),
    D: frozenset({Category.WALK_IN, Category.PAID_PRIORITY, Category.FOLLOW_UP}),
}

MAX_BODY = 64 * 1024  # [bytes]


@dataclass
class Settings:
    """What the service needs: the database URL, the policy of new days, the API keys and the clock."""

    db_url: str
    policy: Policy
    keys: KeyRing
    synchronous: str = "full"
    clock: Clock | None = None
    max_body: int = MAX_BODY


# ---------------------------------------------------------------------- errors in the OpenAPI description

_ERR = {"model": ErrorOut}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {**_ERR, "description": "No API key, or an unknown one"},
    403: {**_ERR, "description": "The key's role may not do this"},
    404: {**_ERR, "description": "Unknown day, doctor, slot or token"},
    409: {**_ERR, "description": "Invalid transition, full slot (reject policy), key in flight"},
    413: {**_ERR, "description": "Request body too large"},
    422: {**_ERR, "description": "Invalid input (names the field), or an Idempotency-Key reused with another body"},
}
READ_ERRORS: dict[int | str, dict[str, Any]] = {k: v for k, v in ERRORS.items() if k in (401, 403, 404, 422)}


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = JSONResponse(
            {"code": "body_too_large", "message": f"request body over {self.limit} bytes"}, status_code=413
        )
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        seen = 0

        async def limited() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ApiError(413, "body_too_large", f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"] or [str(p) for p in loc]
    return ".".join(parts)


def create_app(settings: Settings) -> FastAPI:
    """The service as an ASGI app (migrates the database and replays every day when it starts)."""
    store = Store(settings.db_url, synchronous="normal" if settings.synchronous == "normal" else "full")
    ledger = Ledger(store, settings.policy, settings.clock)
    clock = ledger.clock

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        store.migrate()
        ledger.load_all()
        yield
        store.dispose()

    app = FastAPI(
        title="opdsim booking service",
        version="1",
        summary="OPD tokens: booking, triage, check-in and the doctors' queues, on a durable event log",
        lifespan=lifespan,
    )
    app.state.ledger = ledger
    app.add_middleware(BodyLimit, limit=settings.max_body)

    # ------------------------------------------------------------------ error handlers

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(OpdsimError)
    async def _engine_error(_request: Request, exc: OpdsimError) -> JSONResponse:
        status, body = error_body(exc)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid request"}
        field = _field(tuple(first.get("loc", ())))
        return JSONResponse(
            {"code": "invalid_input", "message": f"{field}: {first.get('msg')}", "field": field}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return JSONResponse(
            {"code": codes.get(exc.status_code, "http_error"), "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _crash(_request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - a bug
        return JSONResponse({"code": "internal", "message": type(exc).__name__}, status_code=500)

    # ------------------------------------------------------------------ dependencies

    api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="The caller's API key")

    async def authenticate(key: Annotated[str | None, Depends(api_key)]) -> Principal:  # async: no thread hop
        if not key:
            raise ApiError(401, "no_key", "no API key: send it in the X-API-Key header")
        principal = settings.keys.find(key)
        if principal is None:
            raise ApiError(401, "unknown_key", "unknown API key")
        return principal

    def allowed(operation: str) -> Any:
        roles = ROLES[operation]

        async def check(who: Annotated[Principal, Depends(authenticate)]) -> Principal:
            if who.role not in roles:
                names = ", ".join(sorted(r.value for r in roles))
                raise ApiError(403, "forbidden", f"{operation}: role {who.role.value!r} may not do this ({names} may)")
            return who

        return Depends(check)

    IdemKey = Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=128,
            pattern=r"^[\x21-\x7e]+$",
            description="Unique per intended change: a retry with the same key and body returns the first answer",
        ),
    ]
    DayPath = Annotated[ClinicDate, Path(description="The clinic day (YYYY-MM-DD)")]
    DoctorPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]
    TokenPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]
    Offset = Annotated[int, Query(ge=0, le=10_000_000)]
    Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]

    # ------------------------------------------------------------------ JSON views

    def token_json(day: Day, view: TokenView) -> dict[str, Any]:
        def wall(m: float | None) -> str | None:
            w = day.wall(m)
            return None if w is None else w.isoformat()

        return {
            "id": view.id,
            "day": day.row.date,
            "patient": view.patient,
            "category": view.category.name,
            "effective_rank": view.effective_rank,
            "state": view.state.value,
            "doctor": view.doctor,
            "slot": view.slot,
            "requested_slot": view.requested_slot,
            "queue_seq": view.queue_seq,
            "bypasses": view.bypasses,
            "displacements": view.displacements,
            "upgrades": view.upgrades,
            "issued_at": wall(view.issued_at),
            "checked_in_at": wall(view.checked_in_at),
            "called_at": wall(view.called_at),
            "ended_at": wall(view.ended_at),
            "estimated_call": wall(view.estimated_call),
        }

    def request_hash(operation: str, *parts: Any) -> str:
        canon = [operation] + [p.model_dump(mode="json") if hasattr(p, "model_dump") else p for p in parts]
        return hashlib.sha256(json.dumps(canon, sort_keys=True, default=str).encode()).hexdigest()

    def respond(outcome: Outcome) -> JSONResponse:
        return JSONResponse(outcome[1], status_code=outcome[0])

    def at_of(body: AtIn | None) -> dt.datetime | None:
        return None if body is None else body.at

    def own_token(who: Principal, eng: Engine, token: str) -> TokenView:
        view = eng.token(token)
        if who.role is Role.PATIENT and view.patient != who.patient:
            raise ApiError(403, "not_yours", f"token {token}: not a token of patient {who.patient!r}")
        if who.role is Role.DOCTOR and view.doctor != who.doctor:
            raise ApiError(403, "not_yours", f"token {token}: not a token of doctor {who.doctor!r}")
        return view

    def own_doctor(who: Principal, doctor: str) -> None:
        if who.role is Role.DOCTOR and doctor != who.doctor:
            raise ApiError(403, "not_yours", f"doctor {doctor!r}: this key acts for doctor {who.doctor!r}")

    # ------------------------------------------------------------------ health

    @app.get("/health", response_model=HealthOut, tags=["health"], operation_id="health")
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(
        "/ready",
        response_model=ReadyOut,
        tags=["health"],
        operation_id="ready",
        responses={503: {"model": ReadyOut, "description": "The database is unreachable or not migrated"}},
    )
    def ready() -> JSONResponse:
        """Readiness: the database answers and its schema is at the latest migration."""
        kind = "sqlite" if store.sqlite else "postgresql"
        try:
            ok = store.at_head()
            with store.read() as conn:
                count = len(store.day_streams(conn))
        except Exception:
            ok, count = False, 0
        body = {"status": "ready" if ok else "not_ready", "database": kind, "days": count}
        return JSONResponse(body, status_code=200 if ok else 503)

    # ------------------------------------------------------------------ days

    @app.post(
        "/days",
        status_code=201,
        response_model=DayOut,
        responses=ERRORS,
        tags=["days"],
        operation_id="setup_day",
    )
    def setup_day(body: DaySetup, key: IdemKey, who: Annotated[Principal, allowed("setup_day")]) -> JSONResponse:
        """Set up a clinic day: date, time zone, opening time, doctors and their slots (policy: the service's)."""
        stream = body.date.isoformat()
        row = DayRow(stream, stream, body.time_zone, body.opens_at.isoformat(), 0)
        probe = Day(row, Engine(ledger.policy), 0)
        doctors = []
        for doc in body.doctors:
            slots = [
                (
                    probe.minutes(dt.datetime.combine(body.date, s.start)),
                    probe.minutes(dt.datetime.combine(body.date, s.end)),
                    s.capacity,
                )
                for s in doc.slots
            ]
            doctors.append((doc.id, slots))
        return respond(ledger.setup_day(who.id, key, request_hash("setup_day", body), row, doctors))

    @app.get("/days/{day}", response_model=DayOut, responses=READ_ERRORS, tags=["days"], operation_id="get_day")
    def get_day(day: DayPath, who: Annotated[Principal, allowed("get_day")]) -> dict[str, Any]:
        """The day's setup and its doctors' slots as they stand."""
        with ledger.reading(day.isoformat()) as d:
            return ledger.describe(d)

    @app.post("/days/{day}/tick", response_model=Done, responses=ERRORS, tags=["days"], operation_id="tick")
    async def tick(
        day: DayPath, key: IdemKey, who: Annotated[Principal, allowed("tick")], body: AtIn | None = None
    ) -> JSONResponse:
        """Let clinic time pass: open slots, apply wait aging, mark overdue no-shows (with ``auto_no_show``)."""

        def run(d: Day) -> Outcome:
            d.engine.tick(d.now(at_of(body), clock))
            return 200, {"day": d.row.date, "events": d.engine.event_count}

        return respond(
            await ledger.command_async(day.isoformat(), who.id, key, request_hash("tick", str(day), body), run)
        )

    @app.post("/days/{day}/close", response_model=Done, responses=ERRORS, tags=["days"], operation_id="close_day")
    async def close_day(
        day: DayPath, key: IdemKey, who: Annotated[Principal, allowed("close_day")], body: AtIn | None = None
    ) -> JSONResponse:
        """End the day: the patient being seen is completed, every other active token becomes unserved."""

        def run(d: Day) -> Outcome:
            d.engine.close_day(d.now(at_of(body), clock))
            return 200, {"day": d.row.date, "events": d.engine.event_count}

        return respond(
            await ledger.command_async(day.isoformat(), who.id, key, request_hash("close", str(day), body), run)
        )

    # ------------------------------------------------------------------ tokens

    @app.post(
        "/book-token",
        status_code=201,
        response_model=TokenOut,
        responses=ERRORS,
        tags=["tokens"],
        operation_id="book_token",
    )
    async def book_token(body: BookIn, key: IdemKey, who: Annotated[Principal, allowed("book_token")]) -> JSONResponse:
        """Book a token: at a doctor (or the one with the earliest estimated call) and slot (or the earliest free).

        A patient's key books ONLINE or FOLLOW_UP for its own patient; the desk books WALK_IN, PAID_PRIORITY and
        FOLLOW_UP. EMERGENCY is never booked here (``POST /days/{day}/emergencies``, triage only).
        """
        category = Category[body.category]
        if category not in BOOKABLE[who.role]:
            names = ", ".join(sorted(c.name for c in BOOKABLE[who.role]))
            hint = (
                "; emergencies go through POST /days/{day}/emergencies (triage)"
                if category is Category.EMERGENCY
                else ""
            )
            raise ApiError(
                403, "category_forbidden", f"category {category.name}: role {who.role.value!r} may book {names}{hint}"
            )
        if who.role is Role.PATIENT and body.patient != who.patient:
            raise ApiError(403, "not_yours", f"patient {body.patient!r}: this key books for patient {who.patient!r}")

        def run(d: Day) -> Outcome:
            view = d.engine.book(
                body.patient,
                category,
                body.doctor,
                now=d.now(body.at, clock),
                slot=body.slot,
                check_in=body.check_in,
            )
            return 201, token_json(d, view)

        return respond(await ledger.command_async(body.day.isoformat(), who.id, key, request_hash("book", body), run))

    @app.post(
        "/days/{day}/emergencies",
        status_code=201,
        response_model=TokenOut,
        responses=ERRORS,
        tags=["tokens"],
        operation_id="emergency",
    )
    async def emergency(
        day: DayPath, body: EmergencyIn, key: IdemKey, who: Annotated[Principal, allowed("emergency")]
    ) -> JSONResponse:
        """Insert an emergency: seated and checked in at once, callable before everyone else."""

        def run(d: Day) -> Outcome:
            view = d.engine.emergency(body.patient, body.doctor, now=d.now(body.at, clock))
            return 201, token_json(d, view)

        return respond(
            await ledger.command_async(day.isoformat(), who.id, key, request_hash("emergency", str(day), body), run)
        )

    def token_command(operation: str, action: Callable[[Engine, str, float], None], doc: str) -> None:
        async def handler(
            day: DayPath,
            token: TokenPath,
            key: IdemKey,
            who: Annotated[Principal, allowed(operation)],
            body: AtIn | None = None,
        ) -> JSONResponse:
            def run(d: Day) -> Outcome:
                own_token(who, d.engine, token)
                action(d.engine, token, d.now(at_of(body), clock))
                return 200, token_json(d, d.engine.token(token))

            h = request_hash(operation, str(day), token, body)
            return respond(await ledger.command_async(day.isoformat(), who.id, key, h, run))

        handler.__doc__ = doc
        handler.__name__ = operation
        path = "/days/{day}/tokens/{token}/" + operation.replace("_", "-")
        app.post(path, response_model=TokenOut, responses=ERRORS, tags=["tokens"], operation_id=operation)(handler)

    token_command("check_in", lambda e, t, now: e.check_in(t, now), "The patient arrived (desk).")
    token_command("complete", lambda e, t, now: e.complete(t, now), "The consultation ended (the token's doctor).")
    token_command(
        "cancel", lambda e, t, now: e.cancel(t, now), "Cancel a token not yet called (desk; a patient their own)."
    )
    token_command(
        "no_show", lambda e, t, now: e.no_show(t, now), "The patient did not check in by the deadline (desk)."
    )
    token_command("leave", lambda e, t, now: e.leave(t, now), "A checked-in patient went away unseen (desk).")

    @app.post(
        "/days/{day}/doctors/{doctor}/call-next",
        response_model=CallOut,
        responses=ERRORS,
        tags=["doctors"],
        operation_id="call_next",
    )
    async def call_next(
        day: DayPath,
        doctor: DoctorPath,
        key: IdemKey,
        who: Annotated[Principal, allowed("call_next")],
        body: AtIn | None = None,
    ) -> JSONResponse:
        """Call the doctor's next patient (the doctor's own key); ``token`` is null when nobody is callable."""
        own_doctor(who, doctor)

        def run(d: Day) -> Outcome:
            view = d.engine.call_next(doctor, d.now(at_of(body), clock))
            return 200, {"day": d.row.date, "doctor": doctor, "token": None if view is None else token_json(d, view)}

        h = request_hash("call_next", str(day), doctor, body)
        return respond(await ledger.command_async(day.isoformat(), who.id, key, h, run))

    @app.post(
        "/days/{day}/doctors/{doctor}/delay",
        response_model=DayOut,
        responses=ERRORS,
        tags=["doctors"],
        operation_id="delay",
    )
    async def delay(
        day: DayPath, doctor: DoctorPath, body: DelayIn, key: IdemKey, who: Annotated[Principal, allowed("delay")]
    ) -> JSONResponse:
        """The doctor runs late: their slots not started shift later, the running one ends later."""
        own_doctor(who, doctor)

        def run(d: Day) -> Outcome:
            d.engine.delay(doctor, body.minutes, d.now(body.at, clock))
            return 200, ledger.describe(d)

        h = request_hash("delay", str(day), doctor, body)
        return respond(await ledger.command_async(day.isoformat(), who.id, key, h, run))

    # ------------------------------------------------------------------ reads

    @app.get(
        "/days/{day}/doctors/{doctor}/queue",
        response_model=QueueOut,
        responses=READ_ERRORS,
        tags=["reads"],
        operation_id="queue",
    )
    def queue(
        day: DayPath,
        doctor: DoctorPath,
        who: Annotated[Principal, allowed("queue")],
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """The doctor's callable tokens in serving order, with estimated call times."""
        own_doctor(who, doctor)
        with ledger.reading(day.isoformat()) as d:
            views = d.engine.queue(doctor)
            return {
                "day": d.row.date,
                "doctor": doctor,
                "busy_with": d.engine.busy_with(doctor),
                "total": len(views),
                "offset": offset,
                "tokens": [token_json(d, v) for v in views[offset : offset + limit]],
            }

    @app.get(
        "/days/{day}/doctors/{doctor}/slots/{slot}",
        response_model=SlotDetailOut,
        responses=READ_ERRORS,
        tags=["reads"],
        operation_id="slot",
    )
    def slot(
        day: DayPath,
        doctor: DoctorPath,
        slot: Annotated[int, Path(ge=0, le=1000)],
        who: Annotated[Principal, allowed("slot")],
        offset: Offset = 0,
        limit: Limit = 50,
    ) -> dict[str, Any]:
        """A slot's occupancy and the waitlisted tokens that would take a seat freed there, in refill order."""
        own_doctor(who, doctor)
        with ledger.reading(day.isoformat()) as d:
            slots = d.engine.slots(doctor)
            if slot >= len(slots):
                raise ApiError(404, "unknown_slot", f"doctor {doctor!r} has no slot {slot} (0 to {len(slots) - 1})")
            waiting = [v for v in d.engine.waitlist(doctor) if v.requested_slot <= slot]
            return {
                "day": d.row.date,
                "doctor": doctor,
                "slot": ledger.slot_json(d, slots[slot]),
                "waitlist_total": len(waiting),
                "offset": offset,
                "waitlist": [token_json(d, v) for v in waiting[offset : offset + limit]],
            }

    @app.get(
        "/days/{day}/tokens/{token}",
        response_model=TokenOut,
        responses=READ_ERRORS,
        tags=["reads"],
        operation_id="token",
    )
    def token(day: DayPath, token: TokenPath, who: Annotated[Principal, allowed("token")]) -> dict[str, Any]:
        """One token, with its estimated call time (a patient's key: its own tokens only)."""
        with ledger.reading(day.isoformat()) as d:
            return token_json(d, own_token(who, d.engine, token))

    @app.get("/days/{day}/audit", response_model=AuditOut, responses=READ_ERRORS, tags=["reads"], operation_id="audit")
    def audit(
        day: DayPath,
        who: Annotated[Principal, allowed("audit")],
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> dict[str, Any]:
        """The day's event log, oldest first, one page at a time (``version`` numbers the stream)."""
        with ledger.reading(day.isoformat()) as d:
            log: list[Event] = list(d.engine.events_since(offset)[:limit])
            out = []
            for i, ev in enumerate(log):
                data = to_jsonable(event_to_dict(ev))
                kind = data.pop("kind")
                now = getattr(ev, "now", None)
                wall = d.wall(now)
                out.append({"version": offset + i + 1, "kind": kind, "at": wall and wall.isoformat(), "data": data})
            return {"day": d.row.date, "total": d.engine.event_count, "offset": offset, "events": out}

    @app.get("/days/{day}/board", response_model=BoardOut, responses=READ_ERRORS, tags=["reads"], operation_id="board")
    def board(day: DayPath, who: Annotated[Principal, allowed("board")]) -> dict[str, Any]:
        """The waiting hall's display: per doctor, the token being seen and the next three."""
        with ledger.reading(day.isoformat()) as d:
            eng = d.engine
            doctors = []
            for doc in eng.doctors():
                nxt = eng.queue(doc)[:3]
                entries = [
                    {"token": v.id, "estimated_call": (w := d.wall(v.estimated_call)) and w.isoformat()} for v in nxt
                ]
                doctors.append({"doctor": doc, "now_serving": eng.busy_with(doc), "next": entries})
            return {"day": d.row.date, "doctors": doctors}

    @app.get(
        "/days/{day}/snapshot",
        response_model=dict[str, Any],
        responses=READ_ERRORS,
        tags=["reads"],
        operation_id="snapshot",
    )
    def snapshot(day: DayPath, who: Annotated[Principal, allowed("snapshot")]) -> dict[str, Any]:
        """The engine's snapshot of the day (everything that decides its future behaviour), for audits."""
        with ledger.reading(day.isoformat()) as d:
            result: dict[str, Any] = to_jsonable(d.engine.snapshot())
            return result

    return app
