"""A self-contained HTML report of a study for administrators.

One page, openable without Python or a network: the scenario in plain sentences, the figures (PNG embedded as
base64 data), a table of the headline metrics with units and 95% intervals, the recommendation when an
objective is given, the assumptions and limits, and the facts a simulation study must report (STRESS-DES:
software and version, code revision, seed, replications, warm-up, run time), taken from the manifest.
Nothing on the page refers to an outside address.
"""

from __future__ import annotations

import base64
import html
import io
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from opdsim.experiments.compare import HEADLINE, canonical, is_policy_path
from opdsim.experiments.recommend import Constraint, Recommendation, recommend
from opdsim.experiments.stats import interval
from opdsim.experiments.study import Results
from opdsim.plots import figures, path_label
from opdsim.registry import metric

__all__ = ["render_report", "write_report"]

_CAPTIONS = {
    "tradeoff": "Trade-off over the swept policy. Top: mean per day. Bottom: the paired difference from the "
    "reference policy with its 95% band (the same patients under both policies); a band clear of zero is a "
    "difference the study detects.",
    "frontier": "Paid-priority patients' mean wait against walk-ins' longest wait, one point per policy. Faded "
    "points are beaten on both by another policy at the same emergency rate.",
    "starvation_heatmap": "Patients starved (waiting beyond the starvation limit) per day, mean over replications.",
    "wait_distributions": "Distribution of waits per category for three policies: the share of patients who "
    "waited at most the time on the horizontal axis.",
    "timeline": "One simulated day: patients waiting and callable, and doctors busy, per 10 minutes; dotted lines "
    "are slot boundaries, shading is outside the session.",
    "per_doctor": "Each doctor's consultation minutes per session minute and overtime, for three policies, with 95% "
    "intervals.",
    "utilisation_overtime": "Utilisation of the doctors and overtime past the session end, with 95% intervals.",
}

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #444; }
table { border-collapse: collapse; font-size: .85em; } td, th { border: 1px solid #ccc; padding: .2em .5em; }
td.num { text-align: right; white-space: nowrap; } .rec { background: #f3f7fb; padding: .8em 1em;
border-left: 4px solid #0072B2; } dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0 0 .4em 1.2em; }
"""


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _scenario_sentences(manifest: Mapping[str, Any]) -> list[str]:
    config = manifest.get("config", {})
    sc = config.get("scenario", {})
    doctors = sc.get("doctors", {})
    demand = sc.get("demand", {})
    clinic = sc.get("clinic", {})
    policy = sc.get("policy", {})
    out = []
    if sc.get("description"):
        out.append(f"{sc.get('name', 'The scenario')}: {sc['description']}.")
    if doctors:
        out.append(
            f"{doctors.get('count')} doctors see patients from minute {doctors.get('session_start')} to "
            f"{doctors.get('session_end')} after opening, in slots of {doctors.get('slot_length')} minutes with "
            f"{doctors.get('slot_capacity')} seats each; a doctor may continue for up to "
            f"{clinic.get('overtime_limit', '?')} minutes of overtime."
        )
    booked = demand.get("booked", {})
    if booked:
        parts = [f"{v.get('per_slot')} {k.lower().replace('_', '-')}" for k, v in booked.items()]
        out.append(
            "Booked ahead per doctor and slot: " + ", ".join(parts) + " tokens, some of which cancel or do not turn up."
        )
    walk = demand.get("walk_in", {}).get("rate_per_hour")
    if walk is not None:
        out.append(
            f"Walk-ins arrive at {walk} patients per hour (per clinic hour) and emergencies at "
            f"{demand.get('emergency', {}).get('rate_per_hour')} per hour."
        )
    if "scale" in demand:
        out.append(f"All demand is scaled by {demand['scale']}.")
    if clinic.get("starvation_limit") is not None:
        out.append(f"A patient who waits more than {clinic['starvation_limit']} minutes counts as starved.")
    if policy:
        out.append(
            "The base policy: aging "
            + (f"after {policy.get('aging_threshold')} bypasses" if policy.get("aging") != "none" else "off")
            + f", overflow cap {policy.get('overflow_cap')} emergency seats per slot, "
            f"{policy.get('on_full')} when a slot is full."
        )
    grid = config.get("grid", {})
    if grid:
        swept = "; ".join(f"{path_label(p)} over {', '.join(canonical(v) for v in vs)}" for p, vs in grid.items())
        out.append(f"The study sweeps {swept}: every combination is simulated.")
    reps = manifest.get("replications", config.get("replications"))
    out.append(
        f"Each combination is simulated for {reps} days (replications); day r sees the same patients under every "
        "policy (common random numbers), so policies are compared pair by pair."
    )
    return out


def _table(results: Results, metrics: Sequence[str]) -> str:
    names = [m for m in metrics if m in results.summary.columns]
    head = "".join(f"<th>{_esc(path_label(p))}</th>" for p in results.grid)
    head += "".join(f"<th>{_esc(metric(m).label_with_unit)}</th>" for m in names)
    rows = []
    frame = results.summary.copy()
    for p in results.grid:
        frame[p] = [canonical(v) for v in frame[p]]
    groups = frame.groupby(results.grid, sort=False) if results.grid else [((), frame)]
    for key, part in groups:
        values = key if isinstance(key, tuple) else (key,)
        cells = "".join(f"<td>{_esc(v)}</td>" for v in values)
        for m in names:
            mean, half, _ = interval(part[m].to_numpy(dtype=float))
            cells += f'<td class="num">{mean:.2f} ± {half:.2f}</td>'
        rows.append(f"<tr>{cells}</tr>")
    return (
        "<table><thead><tr>" + head + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        "<p>Mean over replications ± half-width of the 95% Student t interval.</p>"
    )


def _facts(manifest: Mapping[str, Any]) -> str:
    config = manifest.get("config", {})
    seeds = manifest.get("seeds", {})
    facts = [
        (
            "Software",
            f"opdsim {manifest.get('opdsim_version', '?')} (Python {platform.python_version()} when "
            "this report was written), a discrete-event simulation in SimPy driving the allocation engine",
        ),
        ("Code revision", manifest.get("code_revision") or "unknown (not a git checkout)"),
        ("Seed", f"{config.get('seed', seeds.get('seed'))}; replication r uses the random streams (seed, r)"),
        ("Replications", f"{manifest.get('replications')} per grid point"),
        (
            "Warm-up",
            "none: each replication is one clinic day that opens empty and closes (a terminating "
            "simulation), so there is no initial bias to delete",
        ),
        (
            "Run time",
            f"{manifest.get('duration_s', '?')} s of wall-clock time, from {manifest.get('started', '?')} "
            f"to {manifest.get('ended', '?')}, on {manifest.get('backend', '?')}",
        ),
        ("Study fingerprint", manifest.get("fingerprint", "?")),
    ]
    if manifest.get("added_replications"):
        facts.append(
            ("Added replications", "; ".join(f"{a['from']} to {a['to'] - 1}" for a in manifest["added_replications"]))
        )
    items = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in facts)
    return f'<dl class="facts">{items}</dl>'


_LIMITS = [
    "Demand, no-show, cancellation, punctuality and consultation-time distributions are assumptions taken from "
    "the published figures cited in the scenario file; where marked 'assumed' they are judgement.",
    "Each day is simulated on its own: patients who are not seen do not come back the next day.",
    "Doctors follow the allocation engine's rules exactly; real staff may deviate from them.",
    "Intervals and comparisons describe the simulated hospital. A difference the study cannot detect may still "
    "exist, below the resolution that this many replications give.",
    "Comparisons are paired: policy A and B on day r saw the same patients (common random numbers).",
]


def render_report(
    results: Results,
    objective: str | None = None,
    constraints: Sequence[Constraint | str] = (),
    confidence: float = 0.95,
    reference: Any = None,
    title: str | None = None,
) -> str:
    """The report of ``results`` as one HTML document (see the module docstring).

    Parameters
    ----------
    results : Results
        A study sweeping at least one policy path.
    objective : str, optional
        A registry metric; with it the page carries the recommendation of :func:`~opdsim.experiments.recommend`.
    constraints : sequence of Constraint or str
        Constraints of the recommendation.
    """
    manifest = results.manifest
    name = title or f"opdsim study {manifest.get('name', '')}".strip()
    figs, notes = figures(results.summary, results.grid, results.patients, manifest, reference)
    rec: Recommendation | None = None
    if objective is not None:
        rec = recommend(results, objective, constraints, confidence)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(name)}</h1>",
        "<h2>The scenario</h2>",
        "".join(f"<p>{_esc(s)}</p>" for s in _scenario_sentences(manifest)),
    ]
    if rec is not None:
        parts += ["<h2>Recommendation</h2>", f'<div class="rec" id="recommendation"><p>{_esc(rec.paragraph())}</p>']
        rows = "".join(
            f"<tr><td>{_esc(r['policy'])}</td><td>{_esc(r['status'])}</td>"
            f'<td class="num">{r["objective_mean"]:.2f} ± {r["objective_half_width"]:.2f}</td>'
            f"<td>{'best' if r['best'] else ('as good' if r['in_subset'] else '')}</td></tr>"
            for r in rec.policies.to_dict("records")
        )
        parts.append(
            f"<table><thead><tr><th>policy</th><th>feasibility</th><th>{_esc(metric(rec.objective).label_with_unit)}"
            f"</th><th>choice</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    parts.append("<h2>Figures</h2>")
    for stem, fig in figs.items():
        data = _png(fig)
        caption = _CAPTIONS.get(stem, stem)
        parts.append(
            f'<figure id="fig-{stem}"><img class="figure" alt="{_esc(stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>"
        )
    parts += [f"<p><em>{_esc(n)}</em></p>" for n in notes]
    policy_first = sorted(results.grid, key=lambda p: not is_policy_path(p))
    ordered = Results(results.summary, policy_first, results.patients, manifest)
    parts += ["<h2>Headline metrics</h2>", _table(ordered, HEADLINE)]
    parts += ["<h2>Assumptions and limits</h2>", "<ul>" + "".join(f"<li>{_esc(t)}</li>" for t in _LIMITS) + "</ul>"]
    parts += ["<h2>Facts of the study (STRESS-DES)</h2>", _facts(manifest), "</body></html>"]
    return "\n".join(parts)


def write_report(results: Results, out: str | os.PathLike[str], **options: Any) -> Path:
    """Write :func:`render_report` to ``out`` (UTF-8) and return the path."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(results, **options), encoding="utf-8")
    return path
