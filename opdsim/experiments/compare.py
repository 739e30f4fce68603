"""Paired comparison of two studies, and the statistical regression test of a policy or code change."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from opdsim.experiments.spec import SweepError, SweepSpec
from opdsim.experiments.stats import holm, lower_is_better, metric_columns, paired_table
from opdsim.experiments.study import ProgressFn, Results, load_results, sweep
from opdsim.sim.scenario import Scenario

__all__ = ["RegressionReport", "compare_results", "regress"]


def compare_results(a: Results, b: Results, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Paired differences ``b - a`` with 95% intervals per grid point and metric.

    Pairs are (grid point, replication); both studies must share the grid paths and the seed, so that
    replication r of each saw the same patients (common random numbers).
    """
    names = f"{a.folder or 'A'} and {b.folder or 'B'}"
    if a.grid != b.grid:
        raise SweepError("grid", f"{names} sweep different paths ({a.grid} and {b.grid}); nothing to pair")
    seeds_a = sorted(int(s) for s in a.summary["seed"].unique())  # plain ints in the message, not np.int64
    seeds_b = sorted(int(s) for s in b.summary["seed"].unique())
    if seeds_a != seeds_b:
        raise SweepError(
            "seed",
            f"{names} use different seeds ({', '.join(map(str, seeds_a))} and {', '.join(map(str, seeds_b))}); "
            "a paired comparison needs common random numbers",
        )
    return paired_table(a.summary, b.summary, a.grid, metrics)


@dataclass(frozen=True)
class RegressionReport:
    """Outcome of :func:`regress`.

    Attributes
    ----------
    tests : DataFrame
        Every one-sided test (grid point x guarded metric) with its Holm decision in ``worse``.
    alpha : float
        Family-wise error rate.
    """

    tests: pd.DataFrame
    alpha: float

    @property
    def worse(self) -> pd.DataFrame:
        """The metrics that got significantly worse (after Holm's correction)."""
        return self.tests[self.tests["worse"]].reset_index(drop=True)

    @property
    def passed(self) -> bool:
        """True when nothing got significantly worse."""
        return not bool(self.tests["worse"].any())


def _candidate_scenario(path: Path) -> Scenario:
    """The base scenario of a candidate file: a scenario file, or a sweep file's base scenario."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError("file", "no such file", source=str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise SweepError("file", f"malformed TOML: {error}", source=str(path)) from None
    except UnicodeDecodeError as error:
        raise SweepError("file", f"is not UTF-8 text (byte {error.start})", source=str(path)) from None
    except OSError as error:
        raise SweepError("file", f"cannot be read ({error.strerror})", source=str(path)) from None
    if "grid" in data or isinstance(data.get("scenario"), str):
        return SweepSpec.from_toml(path).scenario
    return Scenario.from_toml(path)


def regress(
    baseline: str | os.PathLike[str],
    candidate: str | os.PathLike[str] | None = None,
    alpha: float = 0.05,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: ProgressFn | None = None,
) -> RegressionReport:
    """Rerun a baseline study with the current code (and the candidate's scenario when given) and test, at
    every grid point, every lower-is-better metric with a one-sided paired t-test at ``alpha``, Holm-corrected
    over all the tests.

    Parameters
    ----------
    baseline : path
        A results folder (same grid, seed and replications are rerun).
    candidate : path, optional
        A scenario or sweep file whose base scenario replaces the baseline's (a changed policy).
    """
    base = load_results(baseline)
    spec = SweepSpec.from_manifest(base.manifest["config"], source=str(baseline))
    if candidate is not None:
        scenario = _candidate_scenario(Path(candidate))
        spec = SweepSpec(
            scenario,
            spec.grid,
            spec.replications if spec.replications != "auto" else int(base.manifest["replications"]),
            spec.seed,
            spec.precision,
            spec.name,
            str(candidate),
        )
    elif spec.replications == "auto":
        spec = SweepSpec(
            spec.scenario,
            spec.grid,
            int(base.manifest["replications"]),
            spec.seed,
            spec.precision,
            spec.name,
            spec.source,
        )
    new = sweep(spec, workers=workers, scheduler=scheduler, progress=progress)
    metrics = lower_is_better([m for m in metric_columns(base.summary, base.grid) if m in new.summary.columns])
    tests = paired_table(base.summary, new.summary, base.grid, metrics)
    rejected = holm(tests["p_worse"].to_numpy(), alpha)
    tests["worse"] = rejected & (tests["diff"].to_numpy() > 0)
    return RegressionReport(tests, alpha)
