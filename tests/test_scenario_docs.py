"""docs/scenarios.md documents every field a scenario or sweep file can hold, each in its section's table."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

from opdsim.engine.policy import Policy
from opdsim.experiments.spec import SweepSpec
from opdsim.sim.distributions import FAMILIES
from opdsim.sim.scenario import BookedDemand, Break, Clinic, Demand, Doctors, Emergency, Scenario, WalkIn

DOC = (Path(__file__).resolve().parents[1] / "docs" / "scenarios.md").read_text(encoding="utf-8")

# the heading of the section whose tables document each dataclass's fields
SECTION = {
    Scenario: "### Top level",
    Clinic: "### `[clinic]`",
    Doctors: "### `[doctors]`",
    Break: "### `[doctors]`",
    Policy: "### `[policy]`",
    Demand: "### `[demand]`",
    BookedDemand: "### `[demand]`",
    WalkIn: "### `[demand]`",
    Emergency: "### `[demand]`",
    SweepSpec: "## Sweep file",
}
# attributes that are not fields of a file: where the configuration came from, recorded for messages and manifests
NOT_IN_FILES = {(Scenario, "source"), (SweepSpec, "source"), (SweepSpec, "scenario_file")}


def _section(heading: str) -> str:
    start = DOC.index(heading + "\n")
    level = heading.split(" ")[0]
    ends = [m.start() for m in re.finditer(r"^#{2,3} ", DOC[start + len(heading) :], re.MULTILINE)]
    rest = DOC[start + len(heading) :]
    for end in ends:  # the section ends at the next heading of the same or a higher level
        if len(rest[end:].split(" ")[0]) <= len(level):
            return rest[:end]
    return rest


def _dataclasses_reached(root: type) -> list[type]:
    """``root`` and every dataclass its fields hold, however nested (tuples, mappings, unions)."""
    seen: list[type] = []

    def visit(tp: object) -> None:
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            if tp in seen:
                return
            seen.append(tp)
            hints = typing.get_type_hints(tp)
            for f in dataclasses.fields(tp):
                visit(hints[f.name])
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root)
    return seen


def test_every_dataclass_of_a_scenario_has_a_section() -> None:
    reached = _dataclasses_reached(Scenario)
    assert {Clinic, Doctors, Break, Policy, Demand, BookedDemand, WalkIn, Emergency} <= set(reached)
    missing = [tp.__name__ for tp in reached if tp not in SECTION]
    assert not missing, f"add a section of docs/scenarios.md for {missing}"


def test_every_field_is_a_row_of_its_section() -> None:
    undocumented = [
        f"{tp.__name__}.{f.name}"
        for tp in [*_dataclasses_reached(Scenario), SweepSpec]
        for f in dataclasses.fields(tp)
        if (tp, f.name) not in NOT_IN_FILES and f"| `{f.name}` |" not in _section(SECTION[tp])
    ]
    assert not undocumented, f"fields missing from docs/scenarios.md: {undocumented}"
    assert "| `count` |" in _section(SECTION[Doctors])  # the TOML shorthand for ids
    assert "| `aging` |" not in _section(SECTION[Doctors])  # a section stops at the next heading


def test_every_distribution_family_and_key_is_documented() -> None:
    text = _section("### Distributions")
    for name, family in FAMILIES.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"distribution {name!r} missing"
        for key in family.keys:
            assert f"`{key}`" in row, f"{name}: key {key!r} missing"


def test_the_doc_says_what_wait_measures_and_that_per_slot_is_per_doctor() -> None:
    assert "could be called" in DOC
    assert "per slot per doctor" in DOC
    assert "docs/scenarios.md" in (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
