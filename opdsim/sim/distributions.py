"""Named, validated probability distributions of times in a scenario.

Every distribution is a frozen dataclass built from a TOML-like table whose ``dist`` key names the family::

    Distribution.from_dict({"dist": "lognormal", "mean": 6, "sd": 3}, field="consultation.WALK_IN")

and written back by :meth:`Distribution.to_dict`. Times are minutes [min]. :meth:`Distribution.sample` draws
only from the :class:`numpy.random.Generator` it is given, so that each random source of a simulation can have
its own stream.

Families (``dist`` name: keys):

- ``exponential``: ``mean`` > 0.
- ``lognormal``: ``mean`` > 0, ``sd`` >= 0 of the distribution itself (not of the underlying normal).
- ``gamma``: ``mean`` > 0 and ``sd`` > 0, or ``shape`` > 0 and ``scale`` > 0 (written back as mean and sd).
- ``truncated_normal``: ``mean`` and ``sd`` > 0 of a normal distribution truncated at 0 (never negative); the
  truncated distribution's mean (:attr:`Distribution.mean`) is larger than the ``mean`` parameter.
- ``normal``: ``mean``, ``sd`` >= 0; may be negative (arrival minus slot start), so never a duration.
- ``uniform``: ``low`` < ``high``.
- ``triangular``: ``low`` <= ``mode`` <= ``high``, ``low`` < ``high``.
- ``deterministic``: ``value``.
- ``empirical``: ``values``, a non-empty list sampled with replacement.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import special

from opdsim.sim.errors import ScenarioError, join_field
from opdsim.sim.fields import check_fields, number, whole

__all__ = [
    "FAMILIES",
    "Deterministic",
    "Distribution",
    "Empirical",
    "Exponential",
    "Gamma",
    "LogNormal",
    "Normal",
    "Triangular",
    "TruncatedNormal",
    "Uniform",
]

FloatArray = NDArray[np.float64]


class Distribution(ABC):
    """A named distribution of a time [min]; see the module docstring for the families.

    Subclasses are frozen dataclasses whose fields are the parameters (``mean``, ``sd``, ``low``, ...).
    """

    family: ClassVar[str]
    keys: ClassVar[tuple[str, ...]]

    # ------------------------------------------------------------------------------------------------
    # construction and serialisation

    @staticmethod
    def from_dict(data: object, field: str = "distribution", *, nonnegative: bool = False) -> Distribution:
        """Build and validate a distribution from a table such as ``{"dist": "exponential", "mean": 2}``.

        Parameters
        ----------
        data : Mapping[str, object] or Distribution
            The table; a :class:`Distribution` is accepted as it is (and still checked for ``nonnegative``).
        field : str
            Dotted path of the table, used in error messages (``"consultation.WALK_IN"``).
        nonnegative : bool
            Require every value the distribution can take to be >= 0 (a duration).

        Returns
        -------
        Distribution
            An instance of the family's class.

        Raises
        ------
        ScenarioError
            Naming the dotted field and the bad value: an unknown family, a missing, unknown or non-numeric
            key, a parameter out of range, or a possibly negative duration.
        """
        if isinstance(data, Distribution):
            dist = data
        else:
            if not isinstance(data, Mapping):
                raise ScenarioError(field, f"{data!r} is not a table with a 'dist' key")
            if "dist" not in data:
                raise ScenarioError(join_field(field, "dist"), "missing (one of " + _family_names() + ")")
            name = data["dist"]
            family = FAMILIES.get(name) if isinstance(name, str) else None
            if family is None:
                raise ScenarioError(join_field(field, "dist"), f"{name!r} is not one of {_family_names()}")
            try:
                dist = family._parse(data)
            except ScenarioError as error:
                raise error.within(field) from None
        if nonnegative:
            negative = dist._negative()
            if negative is not None:
                raise negative.within(field)
        return dist

    @classmethod
    def _parse(cls, data: Mapping[Any, object]) -> Distribution:
        """Read the family's keys from ``data`` (fields relative to the table) and construct."""
        _check_keys(data, ("dist", *cls.keys))
        values = {key: number(_required(data, key), key) for key in cls.keys}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The table this distribution is built from: ``{"dist": family, **parameters}``."""
        return {"dist": self.family, **{key: getattr(self, key) for key in self.keys}}

    # ------------------------------------------------------------------------------------------------
    # moments and support

    if TYPE_CHECKING:
        # A parameter field in some families (exponential, lognormal, ...) and a computed property in others;
        # declared for type checkers only, since a property here would shadow the dataclass fields.
        @property
        def mean(self) -> float:
            """Expected value [min]."""
            ...

    @property
    @abstractmethod
    def variance(self) -> float:
        """Variance [min^2]."""

    @property
    def minimum(self) -> float:
        """Lower end of the support [min] (``-inf`` when unbounded below)."""
        return 0.0

    def _negative(self) -> ScenarioError | None:
        """The error to raise when this distribution is used as a duration but may be negative."""
        return None

    # ------------------------------------------------------------------------------------------------
    # sampling

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        """Draw ``size`` independent values, using ``rng`` and nothing else.

        Parameters
        ----------
        rng : numpy.random.Generator
            The stream to draw from.
        size : int
            Number of draws, >= 0.

        Returns
        -------
        numpy.ndarray
            Float array of shape ``(size,)`` [min].
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng: {rng!r} is not a numpy.random.Generator")
        return np.asarray(self._draw(rng, whole(size, "size", minimum=0, strict=True)), dtype=np.float64)

    def draw(self, rng: np.random.Generator) -> float:
        """One value [min]; the same as ``float(self.sample(rng, 1)[0])``."""
        return float(self.sample(rng, 1)[0])

    @abstractmethod
    def _draw(self, rng: np.random.Generator, size: int) -> FloatArray: ...


# ----------------------------------------------------------------------------------------------------
# helpers


def _family_names() -> str:
    return ", ".join(repr(name) for name in sorted(FAMILIES))


def _check_keys(data: Mapping[Any, object], allowed: Sequence[str]) -> None:
    check_fields(data, "", allowed)


def _required(data: Mapping[Any, object], key: str) -> object:
    if key not in data:
        raise ScenarioError(key, "missing")
    return data[key]


def _positive(key: str, value: float) -> None:
    number(value, key, positive=True)


def _not_negative(key: str, value: float) -> None:
    number(value, key, minimum=0)


def _finite(key: str, value: float) -> None:
    number(value, key)


# ----------------------------------------------------------------------------------------------------
# families


@dataclass(frozen=True)
class Exponential(Distribution):
    """Exponential distribution.

    Parameters
    ----------
    mean : float
        Mean [min], > 0.
    """

    mean: float

    family: ClassVar[str] = "exponential"
    keys: ClassVar[tuple[str, ...]] = ("mean",)

    def __post_init__(self) -> None:
        _finite("mean", self.mean)
        _positive("mean", self.mean)

    @property
    def variance(self) -> float:
        """Variance ``mean^2`` [min^2]."""
        return float(self.mean) ** 2

    def _draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.exponential(self.mean, size)


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal distribution given by its own mean and standard deviation.

    The underlying normal has ``sigma^2 = ln(1 + sd^2 / mean^2)`` and ``mu = ln(mean) - sigma^2 / 2``.

    Parameters
    ----------
    mean : float
        Mean [min], > 0.
    sd : float
        Standard deviation [min], >= 0.
    """

    mean: float
    sd: float

    family: ClassVar[str] = "lognormal"
    keys: ClassVar[tuple[str, ...]] = ("mean", "sd")

    def __post_init__(self) -> None:
        _finite("mean", self.mean)
        _finite("sd", self.sd)
        _positive("mean", self.mean)
        _not_negative("sd", self.sd)

    @property
    def sigma(self) -> float:
        """Standard deviation of the underlying normal [ln min]."""
        ratio = self.sd / self.mean
        if ratio > 1.0:  # ln(1 + r^2) = 2 ln r + ln(1 + 1/r^2): no overflow of r^2 for a huge sd
            return math.sqrt(2.0 * math.log(ratio) + math.log1p(ratio**-2))
        return math.sqrt(math.log1p(ratio**2))

    @property
    def mu(self) -> float:
        """Mean of the underlying normal [ln min]."""
        return math.log(self.mean) - self.sigma**2 / 2

    @property
    def variance(self) -> float:
        """Variance ``sd^2`` [min^2]."""
        return float(self.sd) ** 2

    def _draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.lognormal(self.mu, self.sigma, size)


@dataclass(frozen=True)
class Gamma(Distribution):
    """Gamma distribution, given by mean and sd (or, in a table, by ``shape`` and ``scale``).

    ``shape = mean^2 / sd^2`` and ``scale = sd^2 / mean``.

    Parameters
    ----------
    mean : float
        Mean [min], > 0.
    sd : float
        Standard deviation [min], > 0.
    """

    mean: float
    sd: float

    family: ClassVar[str] = "gamma"
    keys: ClassVar[tuple[str, ...]] = ("mean", "sd")

    def __post_init__(self) -> None:
        _finite("mean", self.mean)
        _finite("sd", self.sd)
        _positive("mean", self.mean)
        _positive("sd", self.sd)

    @classmethod
    def _parse(cls, data: Mapping[Any, object]) -> Distribution:
        _check_keys(data, ("dist", "mean", "sd", "shape", "scale"))
        if "shape" not in data and "scale" not in data:
            return super()._parse(data)
        if "mean" in data or "sd" in data:
            raise ScenarioError("shape", "give either mean and sd, or shape and scale, not both")
        shape = number(_required(data, "shape"), "shape")
        scale = number(_required(data, "scale"), "scale")
        _positive("shape", shape)
        _positive("scale", scale)
        return cls(mean=shape * scale, sd=math.sqrt(shape) * scale)

    @property
    def shape(self) -> float:
        """Shape parameter ``k`` [-]."""
        return (self.mean / self.sd) ** 2

    @property
    def scale(self) -> float:
        """Scale parameter ``theta`` [min]."""
        return self.sd**2 / self.mean

    @property
    def variance(self) -> float:
        """Variance ``sd^2`` [min^2]."""
        return float(self.sd) ** 2

    def _draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.gamma(self.shape, self.scale, size)


@dataclass(frozen=True)
class TruncatedNormal(Distribution):
    """Normal distribution truncated at 0: never negative.

    With ``beta = loc / scale`` and ``lam = phi(beta) / Phi(beta)`` the mean is ``loc + scale lam`` and the
    variance ``scale^2 (1 - beta lam - lam^2)``. Sampled by inversion of the conditional CDF, so every draw
    costs one uniform from the generator. In a table the keys are ``mean`` and ``sd``.

    Parameters
    ----------
    loc : float
        Mean of the normal before truncation (table key ``mean``) [min].
    scale : float
        Standard deviation of the normal before truncation (table key ``sd``) [min], > 0.
    """

    loc: float
    scale: float

    family: ClassVar[str] = "truncated_normal"
    keys: ClassVar[tuple[str, ...]] = ("mean", "sd")

    def __post_init__(self) -> None:
        _finite("mean", self.loc)
        _finite("sd", self.scale)
        _positive("sd", self.scale)

    @classmethod
    def _parse(cls, data: Mapping[Any, object]) -> Distribution:
        _check_keys(data, ("dist", *cls.keys))
        loc = number(_required(data, "mean"), "mean")
        scale = number(_required(data, "sd"), "sd")
        return cls(loc=loc, scale=scale)

    def to_dict(self) -> dict[str, Any]:
        """The table: ``{"dist": "truncated_normal", "mean": loc, "sd": scale}``."""
        return {"dist": self.family, "mean": self.loc, "sd": self.scale}

    def _ratio(self) -> float:
        beta = self.loc / self.scale
        log_pdf = -0.5 * beta * beta - 0.5 * math.log(2 * math.pi)
        return math.exp(log_pdf - float(special.log_ndtr(beta)))

    @property
    def mean(self) -> float:
        """Mean of the truncated distribution [min]."""
        return self.loc + self.scale * self._ratio()

    @property
    def variance(self) -> float:
        """Variance of the truncated distribution [min^2]."""
        beta = self.loc / self.scale
        lam = self._ratio()
        return self.scale**2 * (1.0 - beta * lam - lam * lam)

    def _draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        # X = loc - scale W, W standard normal conditioned on W < loc/scale: Phi(W) is uniform on (0, q].
        q = float(special.ndtr(self.loc / self.scale))
        v = np.minimum(q * (1.0 - rng.random(size)), np.nextafter(1.0, 0.0))
        w: FloatArray = np.asarray(special.ndtri(v), dtype=np.float64)
        return np.maximum(self.loc - self.scale * w, 0.0)


@dataclass(frozen=True)
class Normal(Distribution):
    """Normal distribution, not truncated: may be negative (arrival minus slot start, say).

    Parameters
    ----------
    mean : float
        Mean [min].
    sd : float
        Standard deviation [min], >= 0.
    """

    mean: float
    sd: float

    family: ClassVar[str] = "normal"
    keys: ClassVar[tuple[str, ...]] = ("mean", "sd")

    def __post_init__(self) -> None:
        _finite("mean", self.mean)
        _finite("sd", self.sd)
        _not_negative("sd", self.sd)

    @property
    def variance(self) -> float:
        """Variance ``sd^2`` [min^2]."""
        return float(self.sd) ** 2

    @property
    def minimum(self) -> float:
        """``-inf`` (``mean`` when ``sd`` is 0) [min]."""
        return float(self.mean) if self.sd == 0 else -math.inf

    def _negative(self) -> ScenarioError | None:
        return ScenarioError("dist", "'normal' can be negative; use 'truncated_normal' for a duration")

    def _draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.normal(self.mean, self.sd, size)


@dataclass(frozen=True)
class Uniform(Distribution):
    """Continuous uniform distribution on ``[low, high)``.

    Parameters
    ----------
    low : float
        Lower end [min].
    high : float
        Upper end [min], > ``low``.
    """

    low: float
    high: float

    family: ClassVar[str] = "uniform"
    keys: ClassVar[tuple[str, ...]] = ("low", "high")

    def __post_init__(self) -> None:
        _finite("low", self.low)
        _finite("high", self.high)
        if self.high <= self.low:
            raise ScenarioError("high", f"{self.high!r} must be > low = {self.low!r}")

    @property
    def mean(self) -> float:
        """``(low + high) / 2`` [min]."""
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        """``(high - low)^2 / 12`` [min^2]."""
        return (self.high - self.low) ** 2 / 12

    @property
    def minimum(self) -> float:
        """``low`` [min]."""
        return float(self.low)

    def _negative(self) -> ScenarioError | None:
        return ScenarioError("low", f"{self.low!r} is negative") if self.low < 0 else None

    def _draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.uniform(self.low, self.high, size)


@dataclass(frozen=True)
class Triangular(Distribution):
    """Triangular distribution.

    Parameters
    ----------
    low : float
        Lower end [min].
    mode : float
        Most likely value [min], ``low <= mode <= high``.
    high : float
        Upper end [min], > ``low``.
    """

    low: float
    mode: float
    high: float

    family: ClassVar[str] = "triangular"
    keys: ClassVar[tuple[str, ...]] = ("low", "mode", "high")

    def __post_init__(self) -> None:
        for key in self.keys:
            _finite(key, getattr(self, key))
        if self.high <= self.low:
            raise ScenarioError("high", f"{self.high!r} must be > low = {self.low!r}")
        if not self.low <= self.mode <= self.high:
            raise ScenarioError("mode", f"{self.mode!r} is not between low = {self.low!r} and high = {self.high!r}")

    @property
    def mean(self) -> float:
        """``(low + mode + high) / 3`` [min]."""
        return (self.low + self.mode + self.high) / 3

    @property
    def variance(self) -> float:
        """``(a^2 + b^2 + c^2 - ab - ac - bc) / 18`` [min^2]."""
        a, b, c = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18

    @property
    def minimum(self) -> float:
        """``low`` [min]."""
        return float(self.low)

    def _negative(self) -> ScenarioError | None:
        return ScenarioError("low", f"{self.low!r} is negative") if self.low < 0 else None

    def _draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.triangular(self.low, self.mode, self.high, size)


@dataclass(frozen=True)
class Deterministic(Distribution):
    """Always the same value; draws nothing from the generator.

    Parameters
    ----------
    value : float
        The value [min].
    """

    value: float

    family: ClassVar[str] = "deterministic"
    keys: ClassVar[tuple[str, ...]] = ("value",)

    def __post_init__(self) -> None:
        _finite("value", self.value)

    @property
    def mean(self) -> float:
        """``value`` [min]."""
        return float(self.value)

    @property
    def variance(self) -> float:
        """0 [min^2]."""
        return 0.0

    @property
    def minimum(self) -> float:
        """``value`` [min]."""
        return float(self.value)

    def _negative(self) -> ScenarioError | None:
        return ScenarioError("value", f"{self.value!r} is negative") if self.value < 0 else None

    def _draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        return np.full(size, float(self.value))


@dataclass(frozen=True)
class Empirical(Distribution):
    """Observed values, drawn uniformly with replacement.

    Parameters
    ----------
    values : tuple[float, ...]
        The observations [min]; at least one.
    """

    values: tuple[float, ...]

    family: ClassVar[str] = "empirical"
    keys: ClassVar[tuple[str, ...]] = ("values",)

    def __post_init__(self) -> None:
        if isinstance(self.values, str | bytes) or not isinstance(self.values, Sequence):
            raise ScenarioError("values", f"{self.values!r} is not a list of numbers")
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ScenarioError("values", "[] is empty: give at least one value")
        for k, value in enumerate(self.values):
            number(value, f"values[{k}]")

    @classmethod
    def _parse(cls, data: Mapping[Any, object]) -> Distribution:
        _check_keys(data, ("dist", "values"))
        values = _required(data, "values")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise ScenarioError("values", f"{values!r} is not a list of numbers")
        return cls(values=tuple(values))

    def to_dict(self) -> dict[str, Any]:
        """The table: ``{"dist": "empirical", "values": [...]}``."""
        return {"dist": self.family, "values": list(self.values)}

    @property
    def mean(self) -> float:
        """Mean of the values [min]."""
        return math.fsum(self.values) / len(self.values)

    @property
    def variance(self) -> float:
        """Population variance of the values [min^2]."""
        m = self.mean
        return math.fsum((v - m) ** 2 for v in self.values) / len(self.values)

    @property
    def minimum(self) -> float:
        """Smallest value [min]."""
        return float(min(self.values))

    def _negative(self) -> ScenarioError | None:
        for k, value in enumerate(self.values):
            if value < 0:
                return ScenarioError(f"values[{k}]", f"{value!r} is negative")
        return None

    def _draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.choice(np.asarray(self.values, dtype=np.float64), size=size, replace=True)


FAMILIES: Mapping[str, type[Distribution]] = {
    cls.family: cls
    for cls in (
        Exponential,
        LogNormal,
        Gamma,
        TruncatedNormal,
        Normal,
        Uniform,
        Triangular,
        Deterministic,
        Empirical,
    )
}
"""Every family by its ``dist`` name."""
