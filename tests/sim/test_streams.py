"""Random streams: one generator per source, fixed by (seed, replication, source) alone."""

from __future__ import annotations

import numpy as np
import pytest

from opdsim.sim.errors import ScenarioError, join_field
from opdsim.sim.streams import SOURCES, Streams


def test_a_stream_depends_on_seed_replication_and_source_only() -> None:
    a, b = Streams(5, 2), Streams(5, 2)
    b["consultation.WALK_IN"].random(1000)  # drawing from one source leaves the others as they were
    assert a["punctuality"].random(3).tolist() == b["punctuality"].random(3).tolist()
    assert a["punctuality"] is a["punctuality"]  # one generator per source, drawn on in turn
    draws = {Streams(5, r)["punctuality"].random() for r in range(3)} | {Streams(6, 2)["punctuality"].random()}
    assert len(draws) == 4
    expected = np.random.Generator(np.random.PCG64(np.random.SeedSequence(5, spawn_key=(2, SOURCES.index("breaks")))))
    assert Streams(5, 2)["breaks"].random() == expected.random()


@pytest.mark.parametrize(
    ("seed", "replication", "message"),
    [
        (-1, 0, r"^seed: -1 must be a whole number >= 0$"),
        (True, 0, r"^seed: True must be a whole number >= 0$"),
        (3.0, 0, r"^seed: 3\.0 must be a whole number >= 0$"),
        (0, "1", r"^replication: '1' must be a whole number >= 0$"),
    ],
)
def test_seed_and_replication_are_whole_numbers(seed: object, replication: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        Streams(seed, replication)  # type: ignore[arg-type]


def test_numpy_integers_are_accepted_as_seeds() -> None:
    seeded = Streams(np.int64(5), np.int64(2))  # type: ignore[arg-type]  # numpy integers, as grids may hold
    assert seeded["punctuality"].random() == Streams(5, 2)["punctuality"].random()


def test_an_unknown_source_is_refused_by_name() -> None:
    with pytest.raises(KeyError, match=r"unknown random source 'arrivals\.DOCTOR'"):
        Streams(0, 0)["arrivals.DOCTOR"]


def test_join_field() -> None:
    assert join_field("demand.walk_in", "rate_per_hour[3]") == "demand.walk_in.rate_per_hour[3]"
    assert join_field("rate_per_hour", "[3]") == "rate_per_hour[3]"
    assert join_field("", "x") == "x" and join_field("x", "") == "x"
