"""The ``opdsim`` command.

Every subcommand turns bad input (a missing file, malformed TOML, an unknown field, an invalid value) into a
one-line message that names the file and the field, and exits with status 2 without a traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from opdsim.engine import Category, Engine, OpdsimError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="opdsim: tune how an outpatient department hands out tokens.",
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """opdsim: tune how an outpatient department hands out tokens."""


def _queue_line(eng: Engine, doctor: str) -> str:
    parts = []
    busy = eng.busy_with(doctor)
    if busy is not None:
        parts.append(f"[bold]seeing {busy}[/bold] |")
    for view in eng.queue(doctor):
        style = "red" if view.category is Category.EMERGENCY else ("yellow" if view.upgrades else "white")
        parts.append(f"[{style}]{view.id}:{view.category.name[:4]}{'^' if view.upgrades else ''}[/{style}]")
    waiting = eng.waitlist(doctor)
    if waiting:
        parts.append("| waitlist " + " ".join(v.id for v in waiting))
    return " ".join(parts) if parts else "(empty)"


@app.command()
def demo(
    scripted: Annotated[
        bool, typer.Option("--scripted", help="Replay the scripted morning of three doctors through the engine.")
    ] = True,
) -> None:
    """Run the main job on the embedded defaults: a scripted OPD morning of three doctors."""
    from opdsim.scripted_day import clock, final_table, run_scripted_day

    def show(step: object, eng: Engine) -> None:
        from opdsim.scripted_day import DayStep

        assert isinstance(step, DayStep)
        when = clock(step.now) if step.now >= 0 else f"{-step.now:g} min before opening"
        console.print(f"[cyan]{when:>8}[/cyan] {step.what}")
        for doc in step.doctors:
            console.print(f"{'':>10}{doc:<11} {_queue_line(eng, doc)}")

    console.rule("A scripted OPD morning through the allocation engine")
    console.print("queues show callable tokens in serving order: id:CATEGORY, ^ = upgraded by aging, red = emergency\n")
    eng = run_scripted_day(show)
    table = Table(title="End of the morning, per doctor")
    rows = final_table(eng)
    for col in rows[0]:
        table.add_column(col, justify="left" if col == "doctor" else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    replayed = Engine.replay(eng.events)
    same = "identical" if replayed.snapshot() == eng.snapshot() else "DIFFERENT"
    console.print(f"{len(eng.events)} events logged; an engine replayed from the log has an {same} state.")


def main() -> None:
    """Console entry point: typed opdsim errors become one line on stderr and exit status 2."""
    try:
        app()
    except OpdsimError as error:
        err_console.print(f"opdsim: error: {error}", markup=False, highlight=False)
        sys.exit(2)
