"""The registry of summary metrics: it matches the summary frame's columns exactly, its glossary is the
committed docs/metrics.md, and the comparison tables read their directions from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from opdsim.day import simulate_summary
from opdsim.experiments.stats import direction, higher_is_better, lower_is_better, metric_columns
from opdsim.registry import REGISTRY, UnknownMetricError, glossary_markdown, metric, metrics
from opdsim.sim.scenario import Scenario

DOCS = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def test_the_registry_is_exactly_the_summary_columns(standard_day: Scenario) -> None:
    row = simulate_summary(standard_day, seed=2)
    assert [k for k in row if k not in ("scenario", "seed", "replication")] == list(REGISTRY)


def test_the_glossary_is_generated_from_the_registry() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert text == glossary_markdown(), "regenerate it: python -m opdsim.registry > docs/metrics.md"
    for m in REGISTRY.values():
        assert f"| `{m.name}` | {m.label} | {m.unit} |" in text


def test_every_entry_is_complete() -> None:
    for m in REGISTRY.values():
        assert m.label and m.unit and m.definition.endswith("."), m.name
        assert (m.grain == "category") == (m.category is not None), m.name
        assert m.direction in ("lower", "higher", "neither")
    assert metric("wait_p95_WALK_IN").label_with_unit == "walk-in wait p95 [min]"
    assert metric("wait_from_arrival_mean").unit == "min"
    with pytest.raises(UnknownMetricError, match="wait_mean"):
        metric("wait_maen")


def test_directions_come_from_the_registry() -> None:
    cols = ["wait_mean", "throughput", "patients", "starved_from_arrival_WALK_IN", "demand.x", "seed"]
    assert lower_is_better(cols) == ["wait_mean", "starved_from_arrival_WALK_IN"]
    assert higher_is_better(cols) == ["throughput"]
    assert [direction(c) for c in cols[:4]] == ["lower", "higher", "neither", "lower"]
    assert {m.name for m in metrics(direction="lower")} == set(lower_is_better(list(REGISTRY)))
    assert {m.name for m in metrics(direction="higher")} == {"completed", "throughput"}
    with pytest.raises(UnknownMetricError):
        direction("seed")


def test_metric_columns_are_the_registry_ones_in_its_order() -> None:
    import pandas as pd

    frame = pd.DataFrame({"seed": [1], "throughput": [2.0], "policy.aging": ["wait"], "wait_mean": [3.0], "x": [1]})
    assert metric_columns(frame, ["policy.aging"]) == ["wait_mean", "throughput"]
