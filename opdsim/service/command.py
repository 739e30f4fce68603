"""The ``opdsim serve`` command: the booking service on a real port.

Registered on the ``opdsim`` app by :func:`register` (one line in ``opdsim/cli.py``). The service's libraries are
imported only when the command runs, so the rest of the CLI works without the ``service`` extra. Bad input (a
missing keys or policy file, a malformed one, a port in use, an unreachable database) raises a typed error that
``opdsim.cli.main`` prints as one line, exit status 2.
"""

from __future__ import annotations

import errno
import gc
import signal
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from opdsim.engine import OpdsimError

__all__ = ["ServeError", "register", "serve"]


class ServeError(OpdsimError, ValueError):
    """The service cannot start: the extra is missing, the port is taken or the database is unreachable."""


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServeError(f"--port: {port} is already in use on {host}") from None
            raise ServeError(f"--host/--port: cannot listen on {host}:{port}: {exc.strerror}") from None


def serve(
    db: Annotated[str, typer.Option(help="SQLite file, or a postgresql:// URL")] = "opd.sqlite",
    policy: Annotated[Path | None, typer.Option(help="Policy TOML of the days set up from now on")] = None,
    keys: Annotated[
        Path | None, typer.Option(help="API keys TOML (hashed); default: the OPDSIM_API_KEYS variable")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    sqlite_synchronous: Annotated[
        str, typer.Option(help="SQLite commit durability: full (survives power loss) or normal (process crash)")
    ] = "full",
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
) -> None:
    """Run the booking service: the engine as an HTTP API on a durable event log (OpenAPI at /docs)."""
    try:
        import uvicorn
        from sqlalchemy.exc import SQLAlchemyError

        from opdsim.service.api import Settings, create_app
        from opdsim.service.auth import load_keys
        from opdsim.service.policyfile import load_policy
        from opdsim.service.store import Store, database_url
    except ImportError as exc:
        raise ServeError(f"opdsim serve needs the service extra: pip install 'opdsim[service]' ({exc.name})") from None
    if sqlite_synchronous not in ("full", "normal"):
        raise ServeError(f"--sqlite-synchronous: {sqlite_synchronous!r} is not one of full, normal")
    ring = load_keys(keys)
    rules = load_policy(policy)
    url = database_url(db)
    _check_port(host, port)
    store = Store(url, synchronous="full" if sqlite_synchronous == "full" else "normal")
    try:
        store.migrate()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ServeError(f"--db: cannot open or migrate {_shown(url)}: {reason}") from None
    except OSError as exc:
        raise ServeError(f"--db: cannot open {_shown(url)}: {exc}") from None
    finally:
        store.dispose()
    app = create_app(Settings(url, rules, ring, synchronous=sqlite_synchronous))
    ready = f"opdsim serve: {len(ring)} keys, database {_shown(url)}, http://{host}:{port}/docs"
    server = _server_class()(uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False))
    server.ready_line = ready  # printed once the socket listens, so a client that reads it can connect
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the signal that stopped it once it has shut down
        server.stopped_by = signal.SIGINT
    if server.stopped_by == signal.SIGINT:  # Ctrl-C: the CLI's convention is a message and status 130
        from opdsim import cli

        cli._on_interrupt(lambda: "the server stopped after the requests in progress were answered and committed")
        raise typer.Abort  # opdsim.cli.main prints the note and exits with status 130


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, remembering which signal stopped it."""

        stopped_by: int | None = None
        ready_line: str = ""

        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets=sockets)
            # What exists once the app has started (the framework, the models, every replayed day) lives as long
            # as the server: frozen, the cyclic collector stops rescanning it in each full collection, a pause
            # that grows with the days held and lands on whichever request triggers it.
            gc.freeze()
            if self.started and self.ready_line:
                typer.echo(self.ready_line, err=True)

        def handle_exit(self, sig: int, frame: object) -> None:
            self.stopped_by = sig
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

    return Server


def _shown(url: str) -> str:
    """The database URL without its password (for messages and logs)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the ``opdsim`` app."""
    app.command("serve")(serve)
