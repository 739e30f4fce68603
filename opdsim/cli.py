"""The ``opdsim`` command.

Exit status, for every subcommand:

- 0: done (``-h``/``--help`` and ``--version`` included);
- 1: a check failed (``regress`` found a regression, ``validate`` a check outside its tolerance, a sweep had
  replications that could not be run; the rest is written);
- 2: bad input or usage (a mistyped option, a missing or extra argument, a missing file, malformed TOML, an
  unknown field, an invalid value): ONE line on stderr naming the file, field and value, never a traceback;
- 130: interrupted (Ctrl-C): one line saying what was kept and how to continue.

Commands do not call ``sys.exit``: they raise the project's typed errors (:class:`opdsim.engine.OpdsimError`)
or :class:`_Exit`, and :func:`main` turns those, and the usage errors of the click that typer really uses,
into the statuses above.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from opdsim.commands.decisions import register as register_decisions
from opdsim.engine import Category, Engine, OpdsimError
from opdsim.service.command import register as _register_serve

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
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


# Recent typer releases bundle their own copy of click (``typer._click``), older ones use the ``click`` package:
# take the exception classes from the module that defines the ones typer really raises.
_CLICK_EXCEPTIONS: Any = importlib.import_module(typer.BadParameter.__module__)
UsageError: type[Exception] = _CLICK_EXCEPTIONS.UsageError
ClickException: type[Exception] = _CLICK_EXCEPTIONS.ClickException
NoArgsIsHelpError: type[Exception] | None = getattr(_CLICK_EXCEPTIONS, "NoArgsIsHelpError", None)


class _Exit(Exception):
    """Leave with ``code`` (after the command printed why)."""

    def __init__(self, code: int) -> None:
        self.code = code


# What an interrupted command kept and how to continue; a command sets it once it knows (see _on_interrupt).
_INTERRUPT_NOTE: list[Callable[[], str]] = []


def _on_interrupt(note: Callable[[], str]) -> None:
    """Say ``note()`` if the command is interrupted (the last one set wins)."""
    _INTERRUPT_NOTE.append(note)


def _version_callback(value: bool) -> None:
    if value:
        from opdsim import __version__

        console.print(f"opdsim {__version__}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_version_callback, help="Print the version and exit."),
    ] = False,
) -> None:
    """opdsim: tune how an outpatient department hands out tokens."""


class _Bar:
    """Progress of a study: a rich bar on a terminal; elsewhere (a log, a pipe) a plain line when the first
    replication is done and at every tenth of the work, so that a log shows the work going on."""

    def __init__(self, label: str, bar: Progress | None) -> None:
        self.label = label
        self.bar = bar
        self.task = bar.add_task(label, total=None, rate=0.0) if bar is not None else None
        self.start = time.perf_counter()
        self.note = ""
        self.finished = 0
        self._said = -1  # the tenth of the work said last; the first replication done is said at once

    def __call__(self, done: int, total: int) -> None:
        self.finished += 1  # one call per replication, across the rounds of "auto" too (done restarts there)
        rate = self.finished / max(1e-9, time.perf_counter() - self.start)
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=done, total=total, rate=rate)
            return
        tenth = (10 * done) // max(1, total)
        if tenth != self._said:
            self._said = tenth
            _say(f"{self.label}: {done}/{total} replications, {rate:.1f} days/s {self.note}".rstrip())

    def round(self, n: int, worst: float, reached: bool, target: float) -> None:
        """A round of ``replications = "auto"``: say how far the precision is."""
        state = "reached" if reached else "not yet"
        self.note = f"round at n = {n} per point: worst ±{worst:.1%}, target ±{target:.0%} ({state})"
        if self.bar is not None:  # a line above the bar (the bar itself counts the current round)
            self.bar.console.print(f"{self.label}: {self.note}", markup=False, highlight=False)
        else:
            _say(f"{self.label}: {self.note}")


@contextmanager
def _progress(label: str) -> Iterator[_Bar]:
    """Replications done, rate and time left (see :class:`_Bar`)."""
    if not err_console.is_terminal:
        yield _Bar(label, None)
        return
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>6.1f} days/s"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        yield _Bar(label, bar)


def _header(name: str) -> str:
    """A column header that wraps: a metric's label with its unit from the registry, else the name spaced."""
    from opdsim.registry import REGISTRY

    known = REGISTRY.get(name)
    if known is not None:
        return known.label_with_unit
    return name.replace("_", " ")


def _table(
    frame: Any,
    title: str,
    highlight: Callable[[dict[str, Any]], str | None] | None = None,
    headers_as_given: bool = False,
) -> Table:
    """A table that fits the terminal (80 columns included): headers and cells wrap at spaces, and a long word
    is folded onto the next line rather than cut."""
    table = Table(title=title, show_lines=False, title_justify="left")
    for col in frame.columns:
        justify: Any = "left" if frame[col].dtype == object else "right"
        head = str(col) if headers_as_given else _header(str(col))
        table.add_column(escape(head), justify=justify, overflow="fold")
    for row in frame.to_dict("records"):
        style = highlight(row) if highlight else None
        table.add_row(*(escape(_fmt(v)) for v in row.values()), style=style)
    return table


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}"
    if hasattr(v, "item") and not isinstance(v, str):  # a numpy scalar reads as a plain number
        return _fmt(v.item())
    return str(v)


# words shortened in table headers (a legend under the table spells them out), so that a table fits 80 columns
_SHORT = {"emergency": "emerg.", "threshold": "thresh.", "priority": "prio.", "upgraded": "upgr."}


def _short(text: str) -> str:
    return " ".join(_SHORT.get(word, word) for word in text.split())


def _grid_label(path: str) -> str:
    """``demand.emergency.rate_per_hour`` -> ``emerg. rate per hour``: short, and it wraps at spaces."""
    parts = path.split(".")
    return _short(" ".join(parts[-2:] if len(parts) > 2 else parts[-1:]).replace("_", " "))


def _headline(results: Any) -> Any:
    """Mean ±half-width of the headline metrics, one row per grid point; headers carry units (see _legend)."""
    from opdsim.registry import REGISTRY

    table = results.table(HEADLINE)
    if not len(table):
        return table
    table["value"] = [f"{m:,.1f} ±{h:,.1f}" for m, h in zip(table["mean"], table["half_width"], strict=True)]
    if results.grid:
        wide = table.pivot_table(index=results.grid, columns="metric", values="value", aggfunc="first", sort=False)
        wide = wide.reset_index()[[*results.grid, *[m for m in HEADLINE if m in wide.columns]]]
        heads = {m: _short(REGISTRY[m].label) + (" [min]" if REGISTRY[m].unit == "min" else "") for m in HEADLINE}
        return wide.rename(columns={**heads, **{p: _grid_label(p) for p in results.grid}})
    table["metric"] = [REGISTRY[m].label_with_unit if m in REGISTRY else m for m in table["metric"]]
    return table[["metric", "value"]]


def _legend(results: Any) -> str:
    """What the short headers of :func:`_headline` stand for, and the units not in the headers."""
    from opdsim.registry import REGISTRY

    if not results.grid:
        return ""
    labels = [REGISTRY[m].label for m in HEADLINE] + [_grid_label(p) for p in results.grid]
    words = {word for label in labels for word in label.split()}
    parts = [f"{short} = {full}" for full, short in _SHORT.items() if full in words or short in words]
    by_unit: dict[str, list[str]] = {}
    for m in HEADLINE:
        if REGISTRY[m].unit != "min":
            by_unit.setdefault(REGISTRY[m].unit, []).append(_short(REGISTRY[m].label))
    units = "; ".join(f"{', '.join(names)} in [{unit}]" for unit, names in by_unit.items())
    grid = ", ".join(f"{_grid_label(p)} = {p}" for p in results.grid)
    return f"{', '.join(parts)}; {units}; grid: {grid}"


def _print_study(results: Any, name: str, out: Path) -> None:
    """The headline table of a finished sweep and where its results folder is."""
    reps = results.manifest.get("replications")
    _print_headline(results, f"{name}: mean ± 95% half-width over {reps} replications per point")
    console.print(f"results in {out}/ (summary.parquet, table.csv, manifest.json)")


def _print_headline(results: Any, title: str) -> None:
    console.print(_table(_headline(results), title, headers_as_given=True))
    legend = _legend(results)
    if legend:
        console.print(legend, markup=False, highlight=False)


def _check_load(spec: Any, force: bool) -> None:
    """Refuse a scenario (or any grid point) whose offered load is beyond :data:`MAX_LOAD` unless forced."""
    from opdsim.sim.load import MAX_LOAD, offered_load

    worst = max(((offered_load(spec.scenario_at(p)), p) for p in spec.points()), key=lambda lp: lp[0])
    load, point = worst
    if load > MAX_LOAD and not force:
        from opdsim.experiments.spec import value_label

        where = ", ".join(f"{k} = {value_label(v)}" for k, v in point.items())
        raise _LoadError(
            f"{spec.source}: offered load {load:,.1f} times the doctors' capacity"
            + (f" at grid point {where}" if where else "")
            + f" (refused above {MAX_LOAD:g}: queues would only grow all day); check the rates or pass --force"
        )


class _LoadError(OpdsimError):
    """The offered load is beyond what a clinic day can serve."""


def _prepare_out(spec: Any, out: Path | None, resume: bool, force: bool) -> None:
    """Check (or, with ``force``, clear after saying what goes) the results folder before any work."""
    from opdsim.experiments.study import check_output, describe_output, remove_output

    if out is None:
        return
    if force and resume:
        raise typer.BadParameter("give --resume or --force, not both")
    if force:
        what = describe_output(out)
        if what is not None:
            _say(f"--force: {what}")
        remove_output(out)
    check_output(spec, out, resume)


def _kept_note(out: Path | None, total_points: int, command: str) -> Callable[[], str]:
    """What an interrupted study kept, counted when the interrupt comes."""

    def note() -> str:
        if out is None:
            return f"nothing was kept (results stay in memory without --out); run again: {command}"
        parts = out / "parts"
        done = len(list(parts.glob("point-*.summary.parquet"))) if parts.is_dir() else 0
        if (out / "manifest.json").exists() and not parts.is_dir():
            return f"the study had finished; its results are in {out}/"
        again = command if command.endswith("demo") else f"{command} --resume"
        return (
            f"{done} of {total_points} grid point(s) had finished and are kept in {out}/; to complete it, run: {again}"
        )

    return note


def _describe_work(spec: Any, workers: int | None, scheduler: str | None, out: Path | None) -> str:
    from opdsim.experiments.runner import default_workers

    points = len(spec.points())
    reps = spec.replications
    where = f"Dask at {scheduler}" if scheduler else f"{workers or default_workers()} local process(es)"
    target = f" -> {out}/" if out is not None else ""
    return f"{spec.name}: {points} grid point(s) x {reps} replications on {where}{target}"


def _study(
    spec: Any,
    out: Path | None,
    workers: int | None,
    scheduler: str | None,
    resume: bool,
    keep_patients: bool,
    command: str,
) -> Any:
    """Run a study with progress; Ctrl-C says what was kept; failed replications exit 1 after the rest."""
    from opdsim.experiments import ReplicationFailed
    from opdsim.experiments import sweep as run_sweep

    _on_interrupt(_kept_note(out, len(spec.points()), command))
    _say(_describe_work(spec, workers, scheduler, out))
    try:
        with _progress(spec.name) as progress:
            return run_sweep(
                spec,
                workers=workers,
                scheduler=scheduler,
                out=out,
                resume=resume,
                keep_patients=keep_patients,
                progress=progress,
                on_round=lambda n, worst, reached: progress.round(n, worst, reached, spec.precision),
            )
    except ReplicationFailed as failed:
        err_console.print(str(failed), markup=False, highlight=False)
        if out is not None:
            err_console.print(
                f"the finished grid points are kept in {out}/parts/; run again with --resume to retry the others",
                markup=False,
                highlight=False,
            )
        raise _Exit(1) from None


def _command_line(*parts: object) -> str:
    return " ".join(str(p) for p in parts if p is not None and p != "")


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    replications: Annotated[int, typer.Option(min=2, max=100_000, help="Independent replications.")] = 10,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the random streams.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write the results folder here.")] = None,
    keep_patients: Annotated[bool, typer.Option("--keep-patients", help="Also keep the per-patient frame.")] = False,
    workers: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: all cores).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Complete an interrupted run in OUT.")] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the results already in OUT (saying what goes); run an absurd load."),
    ] = False,
) -> None:
    """Run one scenario: replications, then a summary table with 95% intervals."""
    from opdsim.experiments import SweepSpec
    from opdsim.sim.scenario import Scenario

    if resume and out is None:
        raise typer.BadParameter("--resume needs --out (the folder to complete)")
    spec = SweepSpec.single(Scenario.from_toml(scenario), replications, seed)
    _check_load(spec, force)
    _prepare_out(spec, out, resume, force)
    command = _command_line("opdsim run", scenario, f"--replications {replications}", f"--seed {seed}")
    command = _command_line(command, f"--out {out}" if out is not None else None)
    results = _study(spec, out, workers, None, resume, keep_patients, command)
    _print_headline(results, f"{spec.name}: mean ± 95% half-width over {replications} replications")
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
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the results already in OUT (saying what goes); run an absurd load."),
    ] = False,
) -> None:
    """Run a parameter sweep with progress, writing grid points as they finish."""
    from opdsim.experiments import SweepSpec
    from opdsim.experiments.runner import check_scheduler

    if workers is not None and scheduler is not None:
        raise typer.BadParameter("give --workers or --scheduler, not both")
    if scheduler is not None:
        check_scheduler(scheduler)  # a malformed address fails before the sweep file is even read
    spec = SweepSpec.from_toml(sweep_file)
    _check_load(spec, force)
    if scheduler is not None and force:
        from opdsim.experiments.runner import Backend

        Backend(scheduler=scheduler).close()  # the cluster must answer before --force removes anything
    _prepare_out(spec, out, resume, force)
    command = _command_line("opdsim sweep", sweep_file, f"--out {out}")
    if scheduler is not None:
        command += f" --scheduler {scheduler}"
    results = _study(spec, out, workers, scheduler, resume, keep_patients, command)
    _print_study(results, spec.name, out)


@app.command()
def live(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    speed: Annotated[float, typer.Option(min=0.0, help="Clinic minutes per second (0: as fast as possible).")] = 20.0,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    bookings: Annotated[
        bool, typer.Option("--bookings", help="Also play the bookings made before the clinic opens.")
    ] = False,
) -> None:
    """A live dashboard of one simulated day: each doctor's queue, tokens by category, upgrades and rejections;
    a summary of the day at the end."""
    from opdsim.live import run_live
    from opdsim.sim.scenario import Scenario

    spec = Scenario.from_toml(scenario)
    shown: list[float] = []
    _on_interrupt(
        lambda: (
            f"stopped at clinic time {_clock_text(shown[-1]) if shown else 'before opening'}; live keeps nothing "
            f"(it only shows a day); run again: opdsim live {scenario} --speed 0 to see the whole day at once"
        )
    )
    pace = "as fast as possible" if speed == 0 else f"at {speed:g} clinic minutes per second"
    start = "with the bookings before opening" if bookings else "from opening"
    _say(f"live: playing one day of {spec.name} {start}, {pace}")
    run_live(spec, speed=speed, seed=seed, console=console, bookings=bookings, shown=shown)


def _clock_text(minutes: float) -> str:
    from opdsim.live import clock

    return clock(minutes)


@app.command()
def validate(
    replications: Annotated[int, typer.Option(min=2, help="Replications of every check.")] = 10,
    horizon: Annotated[float, typer.Option(min=1.0, help="Simulated minutes per replication [min].")] = 20_000.0,
    warmup: Annotated[float, typer.Option(min=0.0, help="Minutes left out at the start [min].")] = 1_000.0,
) -> None:
    """Print the validation tables: the model against Erlang C, Cobham and Kleinrock on one doctor, and the
    distance of per-doctor queues to the pooled M/M/c figures. Exits 1 when a check is outside its tolerance."""
    from opdsim.validation_report import TABLES, report

    if warmup >= horizon / 2:
        raise typer.BadParameter(
            f"--warmup {warmup:g} must be shorter than half of --horizon {horizon:g} "
            "(the three-doctor check runs half as long)"
        )
    printed: list[str] = []
    _on_interrupt(
        lambda: (
            f"{len(printed)} of {TABLES} validation tables were complete and printed above; nothing else is "
            "kept; run again: opdsim validate"
        )
    )
    failed: list[str] = []
    for title, frame in report(replications, horizon, warmup, announce=_announce_step):
        console.print(_table(frame, title))
        printed.append(title)
        if "ok" in frame.columns:
            failed.extend(f"{title}: {row}" for row in frame.loc[~frame["ok"].astype(bool), frame.columns[0]])
    if failed:
        _say(f"validate: {len(failed)} check(s) outside their tolerance:")
        for line in failed:
            _say(f"  {line}")
        raise _Exit(1)
    _say(f"validate: every check within its tolerance ({replications} replications of {horizon:g} min)")


def _announce_step(k: int, total: int, what: str) -> None:
    _say(f"validate: {k}/{total} {what} ...")


@app.command()
def demo(
    scripted: Annotated[
        bool, typer.Option("--scripted", help="Instead, replay a scripted morning of three doctors step by step.")
    ] = False,
    workers: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: all cores).")] = None,
) -> None:
    """The main job on the embedded defaults: the standard aging sweep into results/aging_sweep/ (run again
    when the code or the sweep file changed since those results were written)."""
    from opdsim.experiments import SweepSpec
    from opdsim.experiments.study import remove_output, stale_reason

    if scripted:
        _scripted_demo()
        return
    out = Path("results") / "aging_sweep"
    console.rule("opdsim: aging thresholds against emergency rates on the standard day")
    spec = SweepSpec.from_toml(EXPERIMENTS / "aging_sweep.toml")
    reason = stale_reason(spec, out)
    if reason is not None:
        _say(f"demo: {reason}; running it again")
        remove_output(out)
    results = _study(spec, out, workers, None, True, False, "opdsim demo")
    _print_study(results, spec.name, out)


@app.command()
def new(
    path: Annotated[Path, typer.Argument(help="Scenario file to write, e.g. my_day.toml.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
) -> None:
    """Write a fully commented scenario (the standard day) to PATH, to start from."""
    from opdsim.sim.errors import ScenarioError

    if path.exists() and not path.is_file():
        raise ScenarioError("", "is a folder, not a scenario file; choose a file name", source=str(path))
    if path.exists() and not force:
        raise ScenarioError("", "already exists; pass --force to overwrite it", source=str(path))
    if not path.parent.is_dir():
        raise ScenarioError("", f"its folder {path.parent}/ does not exist", source=str(path))
    text = (EXPERIMENTS / "standard_day.toml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    console.print(f"wrote {path}: the standard day, every field commented; try: opdsim run {path}")


@app.command()
def metrics(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the glossary as Markdown instead.")] = False,
) -> None:
    """List the summary metrics: name, unit, direction (lower or higher is better) and definition."""
    from opdsim.registry import REGISTRY, glossary_markdown

    if markdown:
        console.print(glossary_markdown(), markup=False, highlight=False, soft_wrap=True)
        return
    table = Table(title=f"{len(REGISTRY)} summary metrics", title_justify="left")
    for name in ("name", "unit", "better", "definition"):
        table.add_column(name, overflow="fold")
    for m in REGISTRY.values():
        better = {"lower": "lower", "higher": "higher"}.get(m.direction, "-")
        table.add_row(escape(m.name), escape(m.unit), better, escape(m.definition))
    console.print(table)


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


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _say(text: str) -> None:
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


def _usage_line(error: Exception) -> str:
    """``opdsim run: error: No such option: --resum (Did you mean --resume?); see 'opdsim run -h'``."""
    ctx = getattr(error, "ctx", None)
    where = ctx.command_path if ctx is not None else "opdsim"
    message = _one_line(error.format_message()) if hasattr(error, "format_message") else _one_line(str(error))
    return f"{where}: error: {message} (see '{where} -h')"


def _interrupted() -> int:
    # a second Ctrl-C while the process exits (joining the pool's threads) would end in a traceback from threading
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    note = _INTERRUPT_NOTE[-1]() if _INTERRUPT_NOTE else "nothing was kept; run the same command again"
    _say(f"opdsim: interrupted: {_one_line(note)}")
    return 130


def _dispatch(args: list[str] | None) -> int:
    """Run the app on ``args``; return the exit status (see the module docstring)."""
    _INTERRUPT_NOTE.clear()
    try:
        code = app(args=args, prog_name="opdsim", standalone_mode=False)
    except KeyboardInterrupt:  # before typer's own handler (while parsing) or after it
        return _interrupted()
    except OpdsimError as error:
        _say(f"opdsim: error: {_one_line(str(error))}")
        return 2
    except _Exit as done:
        return done.code
    except typer.Exit as done:
        return int(done.exit_code)
    except typer.Abort:
        return _interrupted()
    except Exception as error:
        if NoArgsIsHelpError is not None and isinstance(error, NoArgsIsHelpError):
            _say(error.format_message())  # type: ignore[attr-defined]  # the help of the group
            return 2
        if isinstance(error, UsageError):
            _say(_usage_line(error))
            return 2
        if isinstance(error, ClickException):
            _say(f"opdsim: error: {_one_line(error.format_message())}")  # type: ignore[attr-defined]
            return int(getattr(error, "exit_code", 1))
        if isinstance(error, OSError) and error.filename is not None:
            _say(f"opdsim: error: {error.filename}: {error.strerror or error}")
            return 2
        if os.environ.get("OPDSIM_TRACEBACK"):
            raise
        _say(
            f"opdsim: internal error: {type(error).__name__}: {_one_line(str(error))} "
            "(a bug: please report it; OPDSIM_TRACEBACK=1 shows the traceback)"
        )
        return 1
    # typer turns a KeyboardInterrupt inside a command into a returned 130 when not standalone
    if code == 130:
        return _interrupted()
    return int(code) if isinstance(code, int) else 0


def main(args: list[str] | None = None) -> None:
    """Console entry point: run ``opdsim`` on ``args`` (the command line by default) and exit with its status."""
    sys.exit(_dispatch(args))
