"""The commands for decisions: ``compare``, ``regress``, ``recommend``, ``plot`` and ``report``.

They follow the conventions of :mod:`opdsim.cli`: bad input raises the project's typed errors (one line, exit 2,
printed by ``cli.main``), a failed check exits 1, Ctrl-C exits 130. Registered on the app by :func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

__all__ = ["register"]


def _cli() -> ModuleType:
    """The cli module, imported late (it imports this one)."""
    from opdsim import cli

    return cli


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
    with cli._progress("regress") as progress:
        if exact:
            done = regress_exact(baseline, candidate, workers=workers, progress=progress)
        else:
            report = run_regress(baseline, candidate, alpha=alpha, workers=workers, progress=progress)
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
    for r in worse.itertuples():
        lines.append(f"  {r.b} vs {r.a} at {r.where}")
        lines.append(
            f"    {r.metric}: {r.label}: {r.mean_a:.2f} -> {r.mean_b:.2f}, "
            f"{r.diff:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}]"
        )
    _print("\n".join(lines))
    raise cli._Exit(1)


def register(app: typer.Typer) -> None:
    """Add the decision commands to ``app``."""
    app.command()(compare)
    app.command()(regress)
