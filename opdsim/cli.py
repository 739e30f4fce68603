"""The ``opdsim`` command.

Every subcommand turns bad input (a missing file, malformed TOML, an unknown field, an invalid value, an unknown
grid path) into a one-line message that names the file and the field, and exits with status 2 without a
traceback. ``regress`` exits 1 when a metric got significantly worse; a sweep whose replications failed exits 1
after writing the rest.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from opdsim.commands.decisions import register as register_decisions
from opdsim.engine import Category, Engine, OpdsimError
from opdsim.service.command import register as _register_serve

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="opdsim: tune how an outpatient department hands out tokens.",
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
HEADLINE = ("wait_mean", "wait_p95_WALK_IN", "wait_max_WALK_IN", "wait_mean_EMERGENCY", "starved", "upgraded")


LABELS = {
    "wait_mean": "mean wait",
    "wait_p95_WALK_IN": "walk-in p95",
    "wait_max_WALK_IN": "walk-in max",
    "wait_mean_EMERGENCY": "emergency mean",
    "starved": "starved",
    "upgraded": "upgraded",
}


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@app.callback()
def _root() -> None:
    """opdsim: tune how an outpatient department hands out tokens."""


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar: replications done, rate and time left."""
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>7.1f} days/s"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task(label, total=None, rate=0.0)
        start = time.perf_counter()

        def update(done: int, total: int) -> None:
            rate = done / max(1e-9, time.perf_counter() - start)
            bar.update(task, completed=done, total=total, rate=rate)

        yield update


def _table(frame: Any, title: str, highlight: Callable[[dict[str, Any]], str | None] | None = None) -> Table:
    table = Table(title=title, show_lines=False)
    for col in frame.columns:
        table.add_column(str(col), justify="left" if frame[col].dtype == object else "right")
    for row in frame.to_dict("records"):
        style = highlight(row) if highlight else None
        table.add_row(*(_fmt(v) for v in row.values()), style=style)
    return table


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}"
    return str(v)


def _headline(results: Any) -> Any:
    """Mean [low, high] of the headline metrics, one row per grid point."""
    table = results.table(HEADLINE)
    if not len(table):
        return table
    table["value"] = [f"{m:,.1f} ±{h:,.1f}" for m, h in zip(table["mean"], table["half_width"], strict=True)]
    if results.grid:
        wide = table.pivot_table(index=results.grid, columns="metric", values="value", aggfunc="first", sort=False)
        wide = wide.reset_index()[[*results.grid, *[m for m in HEADLINE if m in wide.columns]]]
        return wide.rename(columns={**LABELS, **{p: p.rsplit(".", 1)[-1] for p in results.grid}})
    table["metric"] = [LABELS.get(m, m) for m in table["metric"]]
    return table[["metric", "value"]]


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    replications: Annotated[int, typer.Option(min=2, help="Independent replications.")] = 10,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the random streams.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write the results folder here.")] = None,
    keep_patients: Annotated[bool, typer.Option("--keep-patients", help="Also keep the per-patient frame.")] = False,
    workers: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: all cores).")] = None,
) -> None:
    """Run one scenario: replications, then a summary table with 95% intervals."""
    from opdsim.experiments import SweepSpec, replicate
    from opdsim.experiments.study import check_output
    from opdsim.sim.scenario import Scenario

    spec = Scenario.from_toml(scenario)
    if out is not None:
        check_output(SweepSpec.single(spec, replications, seed), out, resume=False)
    with _progress(spec.name) as progress:
        results = replicate(
            spec, replications, seed, workers=workers, out=out, keep_patients=keep_patients, progress=progress
        )
    console.print(_table(_headline(results), f"{spec.name}: mean ± 95% half-width over {replications} replications"))
    if out is not None:
        console.print(f"results written to {out}/")


@app.command()
def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep TOML file.")],
    out: Annotated[Path, typer.Option(help="Results folder (results/<name>/ by convention).")],
    workers: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: all cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://127.0.0.1:8786.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Complete an interrupted sweep in OUT.")] = False,
    keep_patients: Annotated[bool, typer.Option("--keep-patients", help="Also keep the per-patient frames.")] = False,
) -> None:
    """Run a parameter sweep with progress, writing grid points as they finish."""
    from opdsim.experiments import ReplicationFailed, SweepSpec
    from opdsim.experiments import sweep as run_sweep
    from opdsim.experiments.study import check_output

    if workers is not None and scheduler is not None:
        raise typer.BadParameter("give --workers or --scheduler, not both")
    spec = SweepSpec.from_toml(sweep_file)
    check_output(spec, out, resume)
    try:
        with _progress(spec.name) as progress:
            results = run_sweep(
                spec,
                workers=workers,
                scheduler=scheduler,
                out=out,
                resume=resume,
                keep_patients=keep_patients,
                progress=progress,
            )
    except KeyboardInterrupt:
        err_console.print(f"interrupted: finished grid points are kept in {out}/; run again with --resume")
        raise _Exit(130) from None
    except ReplicationFailed as failed:
        err_console.print(str(failed), markup=False)
        raise _Exit(1) from None
    reps = results.manifest.get("replications")
    console.print(_table(_headline(results), f"{spec.name}: mean ± 95% half-width over {reps} replications per point"))
    console.print(f"results in {out}/ (summary.parquet, table.csv, manifest.json)")


@app.command()
def live(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    speed: Annotated[float, typer.Option(min=0.0, help="Clinic minutes per second (0: as fast as possible).")] = 20.0,
    seed: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """A live dashboard of one simulated day: each doctor's queue, tokens by category, upgrades and rejections."""
    from opdsim.live import run_live
    from opdsim.sim.scenario import Scenario

    run_live(Scenario.from_toml(scenario), speed=speed, seed=seed, console=console)


@app.command()
def validate(
    replications: Annotated[int, typer.Option(min=2)] = 10,
) -> None:
    """Print the validation tables: the model against Erlang C, Cobham and Kleinrock on one doctor, and the
    distance of per-doctor queues to the pooled M/M/c figures."""
    from opdsim.validation_report import report

    for title, frame in report(replications):
        console.print(_table(frame, title))


@app.command()
def demo(
    scripted: Annotated[
        bool, typer.Option("--scripted", help="Instead, replay a scripted morning of three doctors step by step.")
    ] = False,
    workers: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: all cores).")] = None,
) -> None:
    """The main job on the embedded defaults: the standard aging sweep into results/aging_sweep/."""
    if scripted:
        _scripted_demo()
        return
    out = Path("results") / "aging_sweep"
    console.rule("opdsim: aging thresholds against emergency rates on the standard day")
    sweep(EXPERIMENTS / "aging_sweep.toml", out=out, workers=workers, scheduler=None, resume=True, keep_patients=False)


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


def _scripted_demo() -> None:
    from opdsim.scripted_day import DayStep, clock, final_table, run_scripted_day

    def show(step: DayStep, eng: Engine) -> None:
        when = clock(step.now) if step.now >= 0 else f"{-step.now:g} min before opening"
        console.print(f"[cyan]{when:>8}[/cyan] {step.what}")
        for doc in step.doctors:
            console.print(f"{'':>10}{doc:<11} {_queue_line(eng, doc)}")

    console.rule("A scripted OPD morning through the allocation engine")
    console.print("queues show callable tokens in serving order: id:CATEGORY, ^ = upgraded by aging, red = emergency\n")
    eng = run_scripted_day(show)
    rows = final_table(eng)
    table = Table(title="End of the morning, per doctor")
    for col in rows[0]:
        table.add_column(col, justify="left" if col == "doctor" else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    same = "identical" if Engine.replay(eng.events).snapshot() == eng.snapshot() else "DIFFERENT"
    console.print(f"{len(eng.events)} events logged; an engine replayed from the log has an {same} state.")


_register_serve(app)  # the booking service's `serve` command (opdsim/service/command.py)
register_decisions(app)  # compare, regress, recommend, plot, report


def main() -> None:
    """Console entry point: typed opdsim errors become one line on stderr and exit status 2."""
    try:
        app(standalone_mode=False)
    except OpdsimError as error:
        err_console.print(f"opdsim: error: {error}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except _Exit as done:
        sys.exit(done.code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except (typer.BadParameter, typer.Exit) as error:
        if isinstance(error, typer.Exit):
            sys.exit(error.exit_code)
        err_console.print(f"opdsim: error: {error.format_message()}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as error:
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        raise
