"""No public command prints a traceback for any input in a corpus of bad files.

Bad input exits 2 with one line naming the file; a value that is odd but legal (a patience of 1e300 minutes)
may run (exit 0). Never exit 1 (a replication crashing on input that should have been refused), never a
traceback. The whole-file cases run every file-reading command as a real process; the per-field variants
(generated from the standard day's own fields, see :mod:`tests.cli.corpus`) run through the same entry point
in this process, which keeps the several hundred of them fast.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest

from opdsim.cli import _dispatch
from tests.cli.corpus import dotted, dumps, leaves, replaced, variants, write_variant, wrong_type
from tests.cli.helpers import BASELINE, STANDARD, assert_one_line, lines, opdsim, write

WHOLE_FILE = [(ident, content) for ident, content in variants() if "=" not in ident]
FIELDS = [(ident, content) for ident, content in variants() if "=" in ident]


def _file_commands(path: Path, tmp: Path) -> list[list[object]]:
    return [
        ["run", path, "--replications", 2, "--workers", 1],
        ["sweep", path, "--out", tmp / "o", "--workers", 1],
        ["live", path, "--speed", 0],
        ["regress", "--baseline", BASELINE, path, "--workers", 1],
    ]


@pytest.mark.parametrize(("ident", "content"), WHOLE_FILE, ids=[i for i, _ in WHOLE_FILE])
def test_whole_file_cases_in_every_command(ident: str, content: str | bytes | None, tmp_path: Path) -> None:
    path = write_variant(tmp_path, ident, content)
    for args in _file_commands(path, tmp_path):
        proc = opdsim(*args)
        assert_one_line(proc, 2, "day.toml")
        assert not (tmp_path / "o").exists()


def test_the_corpus_varies_every_field() -> None:
    base = tomllib.loads(STANDARD.read_text(encoding="utf-8"))
    paths = {dotted(p) for p, _ in leaves(base)}
    varied = {ident.split("=")[0] for ident, _ in FIELDS}
    assert paths == varied and len(paths) > 50
    assert sum(ident.endswith("=nan") for ident, _ in FIELDS) > 30  # every number, NaN, negative and huge


def _in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = _dispatch(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("ident", "content"), FIELDS, ids=[i for i, _ in FIELDS])
def test_every_field_wrong_negative_nan_huge(
    ident: str, content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_variant(tmp_path, ident, content)
    code, out, err = _in_process(["run", str(path), "--replications", "2", "--workers", "1"], capsys)
    assert "Traceback" not in out + err and "internal error" not in err, err
    assert code in (0, 2), f"exit {code}: {err}"
    if code == 2:
        said = lines(err)
        assert len(said) == 1 and "day.toml" in said[0], err


def _sweep_variants() -> list[tuple[str, dict[str, Any]]]:
    base: dict[str, Any] = {
        "scenario": str(STANDARD),
        "replications": 2,
        "seed": 1,
        "precision": 0.1,
        "name": "s",
        "grid": {"policy.aging_threshold": [1, 3]},
    }
    out: list[tuple[str, dict[str, Any]]] = [("unknown", {**base, "colour": 1})]
    for path, value in leaves(base):
        where = dotted(path)
        out.append((f"{where}=wrong-type", replaced(base, path, wrong_type(value))))
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append((f"{where}=negative", replaced(base, path, -abs(value) - 1)))
            out.append((f"{where}=nan", replaced(base, path, math.nan)))
            out.append((f"{where}=huge", replaced(base, path, 10**18)))
    return out


SWEEPS = _sweep_variants()


@pytest.mark.parametrize(("ident", "data"), SWEEPS, ids=[i for i, _ in SWEEPS])
def test_every_sweep_field_wrong_negative_nan_huge(
    ident: str, data: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "sweep.toml", dumps(data))
    code, out, err = _in_process(["sweep", str(path), "--out", str(tmp_path / "o"), "--workers", "1"], capsys)
    assert "Traceback" not in out + err and "internal error" not in err, err
    assert code in (0, 2), f"exit {code}: {err}"
    if code == 2:
        said = lines(err)
        assert len(said) == 1 and "sweep.toml" in said[0], err


@pytest.mark.parametrize("case", ["missing", "a-file", "empty-folder", "garbage-manifest", "no-summary"])
def test_bad_results_folders(case: str, tmp_path: Path) -> None:
    folder = tmp_path / "results"
    if case == "a-file":
        write(folder, "x")
    elif case != "missing":
        folder.mkdir()
    if case == "garbage-manifest":
        write(folder / "manifest.json", "{not json")
    if case == "no-summary":
        write(folder / "manifest.json", json.dumps({"state": "complete", "config": {"grid": {}}}))
    for args in (["compare", BASELINE, folder], ["regress", "--baseline", folder]):
        assert_one_line(opdsim(*args), 2, str(folder))
