"""The HTML report: it parses, holds every figure and the recommendation, fetches nothing, and a real headless
Chromium draws every figure with a non-zero size."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from opdsim.experiments import Results, SweepSpec, sweep
from opdsim.report import render_report, write_report
from tests.decisions.conftest import sweep_file
from tests.decisions.test_compare import opdsim

FIGURES = {
    "tradeoff",
    "frontier",
    "utilisation_overtime",
    "starvation_heatmap",
    "wait_distributions",
    "timeline",
    "per_doctor",
}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, Path]:
    tmp = tmp_path_factory.mktemp("report")
    grid = '"policy.aging_threshold" = [1, 5, "off"]\n"demand.emergency.rate_per_hour" = [1, 4]\n'
    spec = SweepSpec.from_toml(sweep_file(tmp / "s.toml", grid, reps=4, seed=2))
    return sweep(spec, workers=1, out=tmp / "s", keep_patients=True), tmp / "s"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        for key in ("src", "href"):
            if a.get(key):
                self.links.append(str(a[key]))
        if tag not in ("img", "meta", "br"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_report_parses_holds_figures_and_recommendation_and_no_url(study: tuple[Results, Path]) -> None:
    res, _ = study
    page = render_report(res, objective="wait_max_WALK_IN", constraints=["wait_mean_EMERGENCY<=5"], reference=5)
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.open == []  # every element closed in order
    assert {f"fig-{s}" for s in FIGURES} <= parser.ids
    assert len(parser.images) == len(FIGURES)
    assert all(str(img["src"]).startswith("data:image/png;base64,") for img in parser.images)
    assert all(link.startswith("data:") for link in parser.links)
    assert not re.search(r"(https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}", page)  # no outside address anywhere
    text = " ".join(parser.text)
    assert "recommendation" in parser.ids and "Choose aging_threshold=" in text
    for fact in ("opdsim 0.1.0", "Code revision", "Seed", "4 per grid point", "Warm-up", "Run time"):
        assert fact in text, fact
    assert "walk-in wait p95 [min]" in text and "±" in text  # the table: units and intervals
    assert "3 doctors see patients" in text


def test_report_without_patient_frames_says_what_it_skipped(study: tuple[Results, Path]) -> None:
    res, _ = study
    page = render_report(Results(res.summary, res.grid, None, res.manifest))
    assert "fig-timeline" not in page and "kept no patient frames" in page
    assert "Recommendation" not in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium missing: bash .ci/ensure-deb.sh chromium")
def test_chromium_draws_every_figure(study: tuple[Results, Path], tmp_path: Path) -> None:
    _, folder = study
    out = tmp_path / "report.html"
    proc = opdsim(
        "report", str(folder), "--out", str(out), "--objective", "wait_max_WALK_IN", "--constraint", "starved<=2"
    )
    assert proc.returncode == 0, proc.stderr
    # a copy with a probe that writes each figure's decoded and laid-out size into the DOM
    probe = (
        '<script>window.addEventListener("load", function () { var out = [];'
        'document.querySelectorAll("img.figure").forEach(function (img) { var r = img.getBoundingClientRect();'
        "out.push([img.alt, img.naturalWidth, img.naturalHeight, Math.round(r.width), Math.round(r.height)]"
        '.join(",")); }); var p = document.createElement("pre"); p.id = "probe"; p.textContent = out.join(";");'
        "document.body.appendChild(p); });</script></body>"
    )
    probed = tmp_path / "probed.html"
    probed.write_text(out.read_text(encoding="utf-8").replace("</body>", probe), encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'prof'}",
    ]
    dom = subprocess.run(
        ["chromium", *flags, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = re.search(r'<pre id="probe">([^<]*)</pre>', dom)
    assert found, dom[-500:]
    sizes = {row.split(",")[0]: [int(v) for v in row.split(",")[1:]] for row in found.group(1).split(";")}
    assert set(sizes) == FIGURES
    for name, (nw, nh, w, h) in sizes.items():
        assert nw > 100 and nh > 100 and w > 100 and h > 50, (name, nw, nh, w, h)
    shot = tmp_path / "shot.png"
    subprocess.run(
        ["chromium", *flags, "--window-size=1200,2400", f"--screenshot={shot}", out.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    pixels = np.asarray(image.imread(shot))[..., :3]
    assert pixels.shape[:2] == (2400, 1200)
    # not blank: many distinct colours (text and the figures' Okabe-Ito lines), not a white page
    distinct = len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert distinct > 200
    assert float(pixels.mean()) < 0.99


def test_report_command_refuses_constraints_without_objective(study: tuple[Results, Path], tmp_path: Path) -> None:
    _, folder = study
    proc = opdsim("report", str(folder), "--out", str(tmp_path / "r.html"), "--constraint", "starved<=1")
    assert proc.returncode == 2 and "--objective" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r.html").exists()


def test_write_report_writes_the_page(study: tuple[Results, Path], tmp_path: Path) -> None:
    res, _ = study
    written = write_report(Results(res.summary, res.grid, None, res.manifest), tmp_path / "sub" / "x.html")
    assert written.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
