"""The commands for decisions: ``compare``, ``regress``, ``recommend``, ``plot`` and ``report``.

They follow the conventions of :mod:`opdsim.cli`: bad input raises the project's typed errors (one line, exit 2,
printed by ``cli.main``), a failed check exits 1, Ctrl-C exits 130. Registered on the app by :func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from opdsim.experiments.recommend import Recommendation

__all__ = ["register"]


def _cli() -> ModuleType:
    """The cli module, imported late (it imports this one)."""
    from opdsim import cli

    return cli


def _agg() -> None:
    """Draw into files only (Agg needs no display); called before pyplot is first imported."""
    import matplotlib

    matplotlib.use("Agg")


def _print(text: str) -> None:
    _cli().console.print(text, markup=False, highlight=False, soft_wrap=True)


def compare(
    dir_a: Annotated[Path, typer.Argument(help="Results folder (A, the reference).")],
    dir_b: Annotated[Path | None, typer.Argument(help="A second results folder (B), same hospital.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Within one study: the swept policy path to compare.")] = None,
    reference: Annotated[str | None, typer.Option(help="With --by: the value compared against.")] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", help="A registry metric (repeatable).")] = None,
    all_metrics: Annotated[bool, typer.Option("--all", help="Every metric of the registry in the summary.")] = False,
    width: Annotated[int, typer.Option(min=60, help="Width of the output [characters].")] = 80,
) -> None:
    """Paired differences under common random numbers, with 95% intervals and Holm-corrected verdicts.

    Within one study (RESULTS --by PATH [--reference V]): each value of PATH against the reference at every
    point of the other grid paths. Across two studies (A B): allowed only when they differ in [policy] alone.
    """
    from opdsim.experiments import load_results
    from opdsim.experiments.compare import compare_studies, compare_within, summary_metrics

    a = load_results(dir_a)
    if dir_b is not None and by is not None:
        raise typer.BadParameter("give a second results folder or --by, not both")
    if dir_b is None and by is None:
        raise typer.BadParameter("give a second results folder, or --by PATH to compare within one study")
    if reference is not None and by is None:
        raise typer.BadParameter("--reference needs --by")
    metrics = summary_metrics(a.summary) if all_metrics else (metric or None)
    if by is not None:
        result = compare_within(a, by, reference, metrics)
    else:
        assert dir_b is not None
        result = compare_studies(a, load_results(dir_b), metrics)
    _print(result.render(width))


def regress(
    baseline: Annotated[Path, typer.Option("--baseline", help="Results folder of the baseline study.")],
    candidate: Annotated[Path | None, typer.Argument(help="Scenario or sweep file with a changed policy.")] = None,
    alpha: Annotated[float, typer.Option(min=0.0, max=1.0, help="Family-wise error rate.")] = 0.05,
    exact: Annotated[
        bool, typer.Option("--exact", help="Require a bit-identical summary (for refactors); exit 1 otherwise.")
    ] = False,
    workers: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: all cores).")] = None,
) -> None:
    """Rerun the baseline's hospital (its non-policy grid points, seed, replications) under the candidate's
    policy and exit 1 if a metric got significantly worse (one-sided paired tests, Holm-corrected at ALPHA).

    The candidate may change [policy] only (policy paths it sweeps are swept; a policy path swept in the baseline
    takes the candidate's value); anything else it sets differently is refused with the field named.
    """
    from opdsim.experiments.compare import regress as run_regress
    from opdsim.experiments.compare import regress_exact

    cli = _cli()
    try:
        with cli._progress("regress") as progress:
            if exact:
                done = regress_exact(baseline, candidate, workers=workers, progress=progress)
            else:
                report = run_regress(baseline, candidate, alpha=alpha, workers=workers, progress=progress)
    except KeyboardInterrupt:
        cli.err_console.print(
            "interrupted: nothing was written; the regression test did not finish: run the same command again"
        )
        raise cli._Exit(130) from None
    if exact:
        if done.passed:
            _print(f"identical: all {done.rows} summary rows are bit-identical to the baseline")
            return
        _print(f"not identical; first difference at {done.first_difference}")
        raise cli._Exit(1)
    n = len(report.tests)
    if report.passed:
        _print(f"no regression: none of {n} one-sided tests is significant at {alpha:g} (Holm)")
        return
    worse = report.worse
    lines = [f"{len(worse)} of {n} metrics got significantly worse (one-sided, Holm, alpha {alpha:g}):"]
    for (a, b, where), rows in worse.groupby(["a", "b", "where"], sort=False):
        lines.append(f"  {b} against {a}, at {where}:")
        lines += [
            f"    {r.label} ({r.metric}): {r.mean_a:.2f} -> {r.mean_b:.2f}, {r.diff:+.2f} "
            f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]"
            for r in rows.itertuples()
        ]
    _print("\n".join(lines))
    raise cli._Exit(1)


def _policy_lines(rec: Recommendation, width: int) -> list[str]:
    from opdsim.registry import metric

    m = metric(rec.objective)
    head = f"{'policy':<28} {'status':<13} {m.label_with_unit[:24]:>24}  choice"
    lines = [_clip(head, width)]
    for row in rec.policies.to_dict("records"):
        value = f"{row['objective_mean']:.1f} ±{row['objective_half_width']:.1f}"
        mark = "best" if row["best"] else ("as good" if row["in_subset"] else "")
        lines.append(_clip(f"{str(row['policy'])[:28]:<28} {row['status']:<13} {value:>24}  {mark}", width))
    return lines


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _show_recommendation(rec: Recommendation, width: int) -> None:
    import textwrap

    _print("\n".join([*_policy_lines(rec, width), "", textwrap.fill(rec.paragraph(), width)]))


def _parse_at(items: list[str] | None) -> dict[str, str]:
    from opdsim.experiments import SweepError

    out = {}
    for item in items or []:
        path, sep, value = item.partition("=")
        if not sep or not path.strip() or not value.strip():
            raise SweepError("--at", f"{item!r} is not of the form PATH=VALUE")
        out[path.strip()] = value.strip()
    return out


def recommend(
    results: Annotated[Path, typer.Argument(help="Results folder of a study sweeping policy paths.")],
    objective: Annotated[str, typer.Option(help="Registry metric to optimise, e.g. wait_p95_WALK_IN.")],
    constraint: Annotated[
        list[str] | None, typer.Option("--constraint", help='E.g. "wait_mean_EMERGENCY<=5" (repeatable).')
    ] = None,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="Promised overall confidence.")] = 0.95,
    at: Annotated[list[str] | None, typer.Option("--at", help="Only this hospital point, PATH=VALUE.")] = None,
    add_replications: Annotated[
        bool, typer.Option("--add-replications", help="Run the replications that would settle open cases.")
    ] = False,
    workers: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: all cores).")] = None,
    width: Annotated[int, typer.Option(min=60, help="Width of the output [characters].")] = 80,
) -> None:
    """Which swept policy to run: feasibility against the constraints (one-sided bounds, Bonferroni), the best on
    the objective and those paired comparisons cannot separate from it, in plain language."""
    from opdsim.experiments import load_results
    from opdsim.experiments.recommend import add_replications as run_more
    from opdsim.experiments.recommend import recommend as run_recommend

    where = _parse_at(at)
    rec = run_recommend(load_results(results), objective, constraint or [], confidence, where)
    _show_recommendation(rec, width)
    if not add_replications:
        return
    need = rec.more_replications
    if need is None or need <= rec.replications:
        _print("\nnothing left that more replications would settle")
        return
    _print(f"\nadding replications {rec.replications}..{need - 1} to every grid point of {results}/ (same seeds)")
    cli = _cli()
    try:
        with cli._progress("replications") as progress:
            more = run_more(results, need, workers=workers, progress=progress)
    except KeyboardInterrupt:
        cli.err_console.print(f"interrupted: {results}/ is unchanged (replications are added all at once)")
        raise cli._Exit(130) from None
    _print("")
    _show_recommendation(run_recommend(more, objective, constraint or [], confidence, where), width)


def plot(
    results: Annotated[Path, typer.Argument(help="Results folder of a study sweeping a policy path.")],
    out: Annotated[Path, typer.Option(help="Folder for the figures (PNG and SVG).")],
    reference: Annotated[str | None, typer.Option(help="Policy value the paired differences start from.")] = None,
) -> None:
    """Draw the decision figures of a study: trade-off curves with paired bands, the frontier, utilisation and
    overtime, the starvation heatmap, and (with kept patient frames) wait distributions and a day's timeline."""
    from opdsim.experiments import SweepError, load_results

    res = load_results(results)
    _agg()
    from opdsim.plots import save_all

    try:
        files, notes = save_all(res.summary, res.grid, out, res.patients, res.manifest, reference)
    except ValueError as error:
        raise SweepError("grid", str(error), source=str(results)) from None
    stems = sorted({f.stem for f in files})
    _print(f"{len(stems)} figures written to {out}/ as PNG and SVG: {', '.join(stems)}")
    for note in notes:
        _print(f"note: {note}")


def report(
    results: Annotated[Path, typer.Argument(help="Results folder of a study sweeping a policy path.")],
    out: Annotated[Path, typer.Option(help="The HTML file to write, e.g. report.html.")],
    objective: Annotated[str | None, typer.Option(help="Registry metric to recommend on.")] = None,
    constraint: Annotated[
        list[str] | None, typer.Option("--constraint", help='E.g. "wait_mean_EMERGENCY<=5" (repeatable).')
    ] = None,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="Confidence of the recommendation.")] = 0.95,
    reference: Annotated[str | None, typer.Option(help="Policy value the paired differences start from.")] = None,
) -> None:
    """Write one self-contained HTML page for administrators: scenario, figures, table with intervals, the
    recommendation (with --objective), assumptions, and the study's facts (STRESS-DES)."""
    from opdsim.experiments import SweepError, load_results

    _agg()
    from opdsim.report import write_report

    if constraint and objective is None:
        raise typer.BadParameter("--constraint needs --objective")
    res = load_results(results)
    try:
        path = write_report(
            res, out, objective=objective, constraints=constraint or [], confidence=confidence, reference=reference
        )
    except ValueError as error:
        if isinstance(error, SweepError):
            raise
        raise SweepError("grid", str(error), source=str(results)) from None
    _print(f"report written to {path} ({path.stat().st_size // 1024} KiB, self-contained)")


def register(app: typer.Typer) -> None:
    """Add the decision commands to ``app`` (each also answers ``-h``)."""
    settings = {"help_option_names": ["-h", "--help"]}
    for command in (compare, regress, recommend, plot, report):
        app.command(context_settings=settings)(command)
