"""The decision figures: axes labelled with units, the series and legends drawn, files written."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from opdsim import plots
from opdsim.experiments import Results, SweepSpec, sweep
from opdsim.metrics import frame_intervals, timeline_frame
from tests.decisions.conftest import sweep_file
from tests.decisions.test_compare import opdsim

X, S = "policy.aging_threshold", "demand.emergency.rate_per_hour"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, Path]:
    tmp = tmp_path_factory.mktemp("plots")
    grid = f'"{X}" = [1, 5, "off"]\n"{S}" = [1, 4]\n'
    spec = SweepSpec.from_toml(sweep_file(tmp / "s.toml", grid, reps=4, seed=2))
    return sweep(spec, workers=1, out=tmp / "s", keep_patients=True), tmp / "s"


def labels(fig: Figure) -> list[tuple[str, str]]:
    return [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes if ax.get_xlabel() or ax.get_ylabel()]


def legend_texts(fig: Figure) -> list[str]:
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes)]
    return [t.get_text() for lg in legends if lg is not None for t in lg.get_texts()]


def test_tradeoff_has_paired_bands_units_and_one_line_per_emergency_rate(study: tuple[Results, Path]) -> None:
    res, _ = study
    fig = plots.tradeoff(res.summary, X, S, reference=5)
    assert len(fig.axes) == 8
    top, bottom = fig.axes[0], fig.axes[4]
    assert top.get_ylabel() == "mean walk-in wait p95 [min]"
    assert bottom.get_ylabel() == "difference from 5 [min]"
    assert bottom.get_xlabel() == "aging threshold [bypasses]"
    assert [t.get_text() for t in bottom.get_xticklabels()] == ["1", "5", "off"]
    assert legend_texts(fig) == ["emergency rate 1 patients/h", "emergency rate 4 patients/h"]
    # two lines per panel, told apart by marker and line style as well as colour
    lines = top.get_lines()
    assert len(lines) == 2
    assert lines[0].get_marker() != lines[1].get_marker() and lines[0].get_linestyle() != lines[1].get_linestyle()
    # the bottom row is the paired difference: zero at the reference, equal to the mean per-replication gap
    s = res.summary.assign(**{X: res.summary[X].astype(str)})
    at4 = s[s[S] == 4]
    a = at4[at4[X] == "5"].sort_values("replication")["wait_p95_WALK_IN"].to_numpy()
    b = at4[at4[X] == "off"].sort_values("replication")["wait_p95_WALK_IN"].to_numpy()
    ydata = np.asarray(bottom.get_lines()[1].get_ydata(), dtype=float)
    assert ydata[1] == 0
    assert ydata[2] == pytest.approx(float((b - a).mean()))
    assert len(bottom.collections) == 2  # one band per line
    with pytest.raises(ValueError, match="reference 7"):
        plots.tradeoff(res.summary, X, S, reference=7)
    plt.close("all")


def test_wait_distributions_keep_category_colours(study: tuple[Results, Path]) -> None:
    res, _ = study
    assert res.patients is not None
    fig = plots.wait_distributions(res.patients, X, [1, "off"], {S: 4})
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["aging threshold 1 bypasses", "aging threshold off"]
    assert fig.axes[0].get_xlabel() == "wait [min]" and "[fraction]" in fig.axes[0].get_ylabel()
    colours = {line.get_label(): to_hex(line.get_color()) for line in fig.axes[1].get_lines()}
    assert colours["walk-in"] == plots.CATEGORY_COLOURS["WALK_IN"].lower()
    assert colours["emergency"] == plots.CATEGORY_COLOURS["EMERGENCY"].lower()
    assert legend_texts(fig) == ["emergency", "paid-priority", "follow-up", "online", "walk-in"]
    for line in fig.axes[0].get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        assert y.min() > 0 and y.max() == pytest.approx(1.0)  # an empirical distribution function
    plt.close("all")


def test_heatmap_frontier_utilisation_and_timeline(study: tuple[Results, Path]) -> None:
    res, _ = study
    heat = plots.starvation_heatmap(res.summary, X, S)
    assert labels(heat)[0] == ("aging threshold [bypasses]", "emergency rate [patients/h]")
    assert heat.axes[1].get_ylabel() == "mean starved [patients] per day"
    texts = [t.get_text() for t in heat.axes[0].texts]
    assert len(texts) == 6
    s = res.summary.assign(**{X: res.summary[X].astype(str)})
    off4 = s[(s[X] == "off") & (s[S] == 4)]["starved"].mean()
    assert f"{off4:.2f}" in texts

    front = plots.frontier(res.summary, X, S)
    ax = front.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("paid-priority wait mean [min]", "walk-in wait max [min]")
    assert len(ax.collections) == 6  # one point per policy and rate
    alphas = [c.get_alpha() for c in ax.collections]
    assert set(alphas) <= {0.25, 1.0} and 1.0 in alphas
    assert legend_texts(front) == ["emergency rate 1 patients/h", "emergency rate 4 patients/h"]

    util = plots.utilisation_overtime(res.summary, X, S)
    assert [a.get_ylabel() for a in util.axes] == [
        "utilisation [fraction]",
        "overtime mean [min]",
        "overtime max [min]",
    ]
    for a in util.axes:
        assert a.get_ylim()[0] == 0
        for band in a.collections:  # bands never below zero
            assert min(float(np.asarray(path.vertices, dtype=float)[:, 1].min()) for path in band.get_paths()) >= 0

    assert res.patients is not None
    day = res.patients[res.patients["replication"] == 0]
    day = day[(day[X].astype(str) == "5") & (day[S] == 4)]
    line = plots.timeline(timeline_frame(day, frame_intervals(day), 0, 300, 10), 60, (0, 240))
    assert (line.axes[0].get_xlabel(), line.axes[0].get_ylabel()) == (
        "time since opening [min]",
        "waiting and callable [patients]",
    )
    assert line.axes[1].get_ylabel() == "busy doctors [doctors]"
    dotted = [ln for ln in line.axes[0].get_lines() if ln.get_linestyle() == ":"]
    assert len(dotted) == 5  # slot boundaries at 0, 60, 120, 180, 240
    plt.close("all")


def test_a_dominated_policy_is_faded() -> None:
    points = np.array([[1.0, 5.0], [2.0, 2.0], [3.0, 3.0], [4.0, 1.0]])
    assert plots._dominated(points).tolist() == [False, False, True, False]


def test_plot_command_writes_png_and_svg(study: tuple[Results, Path], tmp_path: Path) -> None:
    _, folder = study
    proc = opdsim("plot", str(folder), "--out", str(tmp_path / "fig"), "--reference", "5")
    assert proc.returncode == 0, proc.stderr
    stems = ["frontier", "per_doctor", "starvation_heatmap", "timeline", "tradeoff", "utilisation_overtime"]
    stems.append("wait_distributions")
    for stem in stems:
        png, svg = tmp_path / "fig" / f"{stem}.png", tmp_path / "fig" / f"{stem}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert "<svg" in svg.read_text(encoding="utf-8")[:2000]
    bad = opdsim("plot", str(folder), "--out", str(tmp_path / "fig"), "--reference", "7")
    assert bad.returncode == 2 and "reference" in bad.stderr and "Traceback" not in bad.stderr


def test_per_doctor_load_and_overtime(study: tuple[Results, Path]) -> None:
    res, _ = study
    assert res.patients is not None
    fig = plots.per_doctor(res.patients, X, (0, 240), [1, "off"], {S: 4})
    load, over = fig.axes
    assert load.get_ylabel() == "consulting per session minute [fraction]"
    assert over.get_ylabel() == "overtime past the session end [min]"
    assert [t.get_text() for t in load.get_xticklabels()] == ["D1", "D2", "D3"]
    assert legend_texts(fig) == ["aging threshold 1 bypasses", "aging threshold off"]
    # hand-computed: doctor D1's consultation minutes over the 240-minute session, mean over replications
    p = res.patients
    d1 = p[(p[X].astype(str) == "1") & (p[S] == 4) & (p["doctor"] == "D1") & p["called"].notna()]
    expected = ((d1["completed"] - d1["called"]).groupby(d1["replication"]).sum() / 240).mean()
    heights = [bar.get_height() for bar in load.patches if isinstance(bar, Rectangle)]
    assert heights[0] == pytest.approx(expected)
    assert all(bar.get_height() >= 0 for bar in over.patches if isinstance(bar, Rectangle))
    plt.close("all")
