"""Distributions: moments, support, reproducibility, serialisation and error messages.

Tolerance rule: a sample mean of n = 20,000 draws must lie within 4 standard errors (exact sd / sqrt(n)) of the
exact mean. Under the central limit theorem a correct sampler misses that by chance with probability about
6e-5 per check, so a failure points at a wrong formula, not bad luck; seeds are fixed so runs are repeatable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from opdsim.sim import Distribution, ScenarioError
from opdsim.sim.distributions import (
    FAMILIES,
    Deterministic,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
    Normal,
    Triangular,
    TruncatedNormal,
    Uniform,
)

N = 20_000
SE_LIMIT = 4.0

TABLES: dict[str, dict[str, Any]] = {
    "exponential": {"dist": "exponential", "mean": 2.0},
    "lognormal": {"dist": "lognormal", "mean": 6, "sd": 3},
    "gamma": {"dist": "gamma", "mean": 5, "sd": 4},
    "truncated_normal": {"dist": "truncated_normal", "mean": 1.0, "sd": 3.0},
    "normal": {"dist": "normal", "mean": -10, "sd": 15},
    "uniform": {"dist": "uniform", "low": 1, "high": 4},
    "triangular": {"dist": "triangular", "low": 5, "mode": 10, "high": 15},
    "deterministic": {"dist": "deterministic", "value": 2.5},
    "empirical": {"dist": "empirical", "values": [1.0, 2.0, 2.0, 3.5, 12.0]},
}
NONNEGATIVE = [name for name in TABLES if name != "normal"]


def test_every_family_is_covered() -> None:
    assert set(TABLES) == set(FAMILIES)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_sample_mean_within_four_standard_errors(name: str) -> None:
    dist = Distribution.from_dict(TABLES[name], field=f"test.{name}")
    draws = dist.sample(np.random.default_rng(20240611), N)
    assert draws.shape == (N,)
    assert draws.dtype == np.float64
    se = math.sqrt(dist.variance / N)
    assert abs(draws.mean() - dist.mean) <= SE_LIMIT * se + 1e-12, (draws.mean(), dist.mean, se)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_sample_variance_is_close(name: str) -> None:
    # a coarse check of the second moment: 10% (all these families have light enough tails at n = 20,000)
    dist = Distribution.from_dict(TABLES[name])
    draws = dist.sample(np.random.default_rng(7), N)
    assert draws.var() == pytest.approx(dist.variance, rel=0.1, abs=1e-12)


@pytest.mark.parametrize("name", NONNEGATIVE)
def test_durations_are_never_negative(name: str) -> None:
    dist = Distribution.from_dict(TABLES[name], field="d", nonnegative=True)
    assert dist.sample(np.random.default_rng(3), N).min() >= 0
    assert dist.minimum >= 0


def test_truncated_normal_stays_nonnegative_when_mostly_truncated() -> None:
    dist = TruncatedNormal(loc=-20.0, scale=3.0)  # P(normal > 0) is about 1e-11
    draws = dist.sample(np.random.default_rng(11), N)
    assert draws.min() >= 0
    assert np.isfinite(draws).all()
    se = math.sqrt(dist.variance / N)
    assert abs(draws.mean() - dist.mean) <= SE_LIMIT * se


def test_truncated_normal_mean_is_the_truncated_mean() -> None:
    dist = TruncatedNormal(loc=0.0, scale=1.0)  # half-normal: mean sqrt(2/pi), variance 1 - 2/pi
    assert dist.mean == pytest.approx(math.sqrt(2 / math.pi), rel=1e-12)
    assert dist.variance == pytest.approx(1 - 2 / math.pi, rel=1e-12)


def test_normal_can_be_negative() -> None:
    draws = Normal(mean=-10, sd=15).sample(np.random.default_rng(5), 1000)
    assert draws.min() < 0


@pytest.mark.parametrize("name", sorted(TABLES))
def test_same_seed_gives_identical_draws(name: str) -> None:
    dist = Distribution.from_dict(TABLES[name])
    a = dist.sample(np.random.default_rng(42), 500)
    b = dist.sample(np.random.default_rng(42), 500)
    np.testing.assert_array_equal(a, b)


def test_draws_come_only_from_the_generator_passed_in() -> None:
    dist = LogNormal(mean=6, sd=3)
    np.random.seed(0)  # the legacy global state must not matter  # noqa: NPY002
    a = dist.sample(np.random.default_rng(1), 100)
    np.random.seed(99)  # noqa: NPY002
    b = dist.sample(np.random.default_rng(1), 100)
    np.testing.assert_array_equal(a, b)
    # and drawing advances that generator, and nothing else
    rng = np.random.default_rng(1)
    first = dist.sample(rng, 100)
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(dist.sample(rng, 100), a)


def test_draw_returns_one_float() -> None:
    value = Exponential(mean=2.0).draw(np.random.default_rng(0))
    assert isinstance(value, float)
    assert Exponential(mean=2.0).sample(np.random.default_rng(0), 0).shape == (0,)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_to_dict_round_trips(name: str) -> None:
    dist = Distribution.from_dict(TABLES[name])
    assert dist.to_dict() == TABLES[name]
    assert Distribution.from_dict(dist.to_dict()) == dist


def test_gamma_by_shape_and_scale() -> None:
    dist = Distribution.from_dict({"dist": "gamma", "shape": 4.0, "scale": 0.5})
    assert isinstance(dist, Gamma)
    assert dist.mean == pytest.approx(2.0)
    assert dist.shape == pytest.approx(4.0)
    assert dist.scale == pytest.approx(0.5)
    assert Distribution.from_dict(dist.to_dict()) == dist


def test_lognormal_underlying_parameters() -> None:
    dist = LogNormal(mean=6, sd=3)
    assert math.exp(dist.mu + dist.sigma**2 / 2) == pytest.approx(6)
    assert (math.exp(dist.sigma**2) - 1) * 36 == pytest.approx(9)


def test_classes_by_name() -> None:
    assert isinstance(Distribution.from_dict(TABLES["uniform"]), Uniform)
    assert isinstance(Distribution.from_dict(TABLES["triangular"]), Triangular)
    assert isinstance(Distribution.from_dict(TABLES["deterministic"]), Deterministic)
    assert isinstance(Distribution.from_dict(TABLES["empirical"]), Empirical)
    assert Distribution.from_dict(Exponential(mean=1.0)) == Exponential(mean=1.0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"dist": "lognormal", "mean": 6, "sd": -1}, r"^consultation\.WALK_IN\.sd: -1 is negative$"),
        ({"dist": "exponential", "mean": 0}, r"^consultation\.WALK_IN\.mean: 0 must be > 0$"),
        ({"dist": "weibull", "mean": 2}, r"^consultation\.WALK_IN\.dist: 'weibull' is not one of 'deterministic'"),
        ({"mean": 2}, r"^consultation\.WALK_IN\.dist: missing"),
        ({"dist": "lognormal", "mean": 6}, r"^consultation\.WALK_IN\.sd: missing$"),
        ({"dist": "exponential", "mean": "two"}, r"^consultation\.WALK_IN\.mean: 'two' is not a number$"),
        ({"dist": "exponential", "mean": math.inf}, r"^consultation\.WALK_IN\.mean: inf is not finite$"),
        ({"dist": "exponential", "mean": True}, r"^consultation\.WALK_IN\.mean: True is not a number$"),
        ({"dist": "exponential", "mean": 2, "colour": 1}, r"^consultation\.WALK_IN\.colour: unknown field"),
        ({"dist": "uniform", "low": 3, "high": 2}, r"^consultation\.WALK_IN\.high: 2 must be > low = 3$"),
        (
            {"dist": "triangular", "low": 1, "mode": 9, "high": 5},
            r"^consultation\.WALK_IN\.mode: 9 is not between low = 1 and high = 5$",
        ),
        ({"dist": "empirical", "values": []}, r"^consultation\.WALK_IN\.values: \[\] is empty"),
        ({"dist": "empirical", "values": [1, "x"]}, r"^consultation\.WALK_IN\.values\[1\]: 'x' is not a number$"),
        ({"dist": "gamma", "shape": -2, "scale": 1}, r"^consultation\.WALK_IN\.shape: -2 is negative$"),
        ({"dist": "gamma", "mean": 2, "shape": 2}, r"^consultation\.WALK_IN\.shape: give either mean and sd"),
        ({"dist": "truncated_normal", "mean": 2, "sd": 0}, r"^consultation\.WALK_IN\.sd: 0 must be > 0$"),
        ("lognormal", r"^consultation\.WALK_IN: 'lognormal' is not a table"),
    ],
)
def test_bad_parameters_name_field_and_value(table: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        Distribution.from_dict(table, field="consultation.WALK_IN")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"dist": "normal", "mean": 5, "sd": 1}, r"^patience\.dist: 'normal' can be negative"),
        ({"dist": "uniform", "low": -1, "high": 2}, r"^patience\.low: -1 is negative$"),
        ({"dist": "triangular", "low": -1, "mode": 0, "high": 2}, r"^patience\.low: -1 is negative$"),
        ({"dist": "deterministic", "value": -3}, r"^patience\.value: -3 is negative$"),
        ({"dist": "empirical", "values": [1, -2]}, r"^patience\.values\[1\]: -2 is negative$"),
    ],
)
def test_durations_reject_negative_support(table: dict[str, Any], message: str) -> None:
    Distribution.from_dict(table, field="patience")  # fine when negatives are allowed
    with pytest.raises(ScenarioError, match=message):
        Distribution.from_dict(table, field="patience", nonnegative=True)


def test_sample_checks_its_arguments() -> None:
    dist = Exponential(mean=1.0)
    with pytest.raises(TypeError, match=r"not a numpy\.random\.Generator"):
        dist.sample(np.random.RandomState(0), 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"size: -1 must be a whole number >= 0"):
        dist.sample(np.random.default_rng(0), -1)


def test_distribution_errors_are_picklable() -> None:
    import pickle

    error = ScenarioError("demand.walk_in.rate_per_hour[3]", "-2 is negative", "standard_day.toml")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == "standard_day.toml: demand.walk_in.rate_per_hour[3]: -2 is negative"
    assert (copy.field, copy.detail, copy.source) == (error.field, error.detail, error.source)
