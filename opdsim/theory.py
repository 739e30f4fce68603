"""Closed-form queueing results that the simulation must reproduce.

Notation: ``c`` doctors, consultations exponential with rate ``mu`` [1/min or any
consistent time unit], ``lam`` (lambda) the arrival rate, ``a = lam / mu`` the offered load [Erlang] and
``rho = a / c`` the utilisation. Category 1 is the highest priority. Every function checks its inputs and
raises :class:`ValueError` with a message that names the argument and its value.

The M/M/c formulas assume one pooled queue every doctor calls from; opdsim's engine gives each doctor their
own queue, so with several doctors they are a bound, and with one doctor they are exact.

References
----------
.. [1] A. K. Erlang (1917); see D. Gross, J. F. Shortle, J. M. Thompson and C. M. Harris, *Fundamentals of
   Queueing Theory*, 4th ed., Wiley, 2008, section 2.3 (M/M/c).
.. [2] A. Cobham, "Priority assignment in waiting line problems", *Journal of the Operations Research Society
   of America* 2(1), 70-76, 1954.
.. [3] L. Kleinrock, "A conservation law for a wide class of queueing disciplines", *Naval Research Logistics
   Quarterly* 12(2), 181-192, 1965.
.. [4] L. Kleinrock, "A delay-dependent queue discipline", *Naval Research Logistics Quarterly* 11(4),
   329-341, 1964.
.. [5] J. D. C. Little, "A proof for the queuing formula L = lambda W", *Operations Research* 9(3), 383-387,
   1961.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "accumulating_priority_waits_1server",
    "cobham_waits",
    "conservation_wait",
    "erlang_c",
    "littles_law_l",
    "mmc_wait",
    "pk_wait",
]


# ----------------------------------------------------------------------------------------------------
# input checks


def _check_servers(c: int) -> None:
    if isinstance(c, bool) or not isinstance(c, int) or c < 1:
        raise ValueError(f"c = {c!r}: the number of servers must be a whole number >= 1")


def _check_number(name: str, value: float, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} = {value!r} is not a finite number")
    if positive and value <= 0:
        raise ValueError(f"{name} = {value!r} must be > 0")
    if value < 0:
        raise ValueError(f"{name} = {value!r} is negative")


def _check_rates(name: str, values: Sequence[float]) -> None:
    if isinstance(values, str) or len(values) == 0:
        raise ValueError(f"{name} = {values!r} must be a non-empty sequence of rates")
    for k, value in enumerate(values):
        _check_number(f"{name}[{k}]", value)


def _check_stable(rho: float, detail: str) -> None:
    if rho >= 1:
        raise ValueError(f"rho = {rho:.6g} >= 1: the queue is unstable ({detail})")


# ----------------------------------------------------------------------------------------------------
# M/M/c, first come first served


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival has to wait in an M/M/c queue (Erlang C).

    ``C(c, a) = [a^c / (c! (1 - rho))] / [sum_{n=0}^{c-1} a^n / n! + a^c / (c! (1 - rho))]`` with
    ``rho = a / c`` [1]_. Evaluated stably through the Erlang B recursion ``B(0) = 1``,
    ``B(n) = a B(n-1) / (n + a B(n-1))``, then ``C = c B / (c - a (1 - B))``, so that hundreds of servers
    work without overflowing factorials.

    Parameters
    ----------
    c : int
        Number of servers (doctors), >= 1.
    a : float
        Offered load ``lambda / mu`` [Erlang]; ``0 <= a < c``.

    Returns
    -------
    float
        Probability of waiting, in [0, 1).

    Raises
    ------
    ValueError
        If ``c`` is not a whole number >= 1, ``a`` is negative or not finite, or ``a >= c`` (unstable).
    """
    _check_servers(c)
    _check_number("a", a)
    if a >= c:
        raise ValueError(f"rho = a / c = {a!r} / {c} = {a / c:.6g} >= 1: the queue is unstable (a = {a!r} >= c = {c})")
    if a == 0:
        return 0.0
    b = 1.0
    for n in range(1, c + 1):
        b = a * b / (n + a * b)
    return c * b / (c - a * (1.0 - b))


def mmc_wait(c: int, lam: float, mu: float) -> float:
    """Mean wait in queue ``Wq`` of an M/M/c queue served first come first served.

    ``Wq = C(c, a) / (c mu - lambda)`` with ``a = lambda / mu`` [1]_.

    Parameters
    ----------
    c : int
        Number of servers (doctors), >= 1.
    lam : float
        Arrival rate [1/time], >= 0.
    mu : float
        Service rate of one server [1/time], > 0.

    Returns
    -------
    float
        Mean time from arrival to the start of service [time, in the unit of ``1 / mu``].

    Raises
    ------
    ValueError
        On a bad argument or when ``rho = lambda / (c mu) >= 1``.
    """
    _check_servers(c)
    _check_number("lam", lam)
    _check_number("mu", mu, positive=True)
    _check_stable(lam / (c * mu), f"lam = {lam!r}, mu = {mu!r}, c = {c}")
    return erlang_c(c, lam / mu) / (c * mu - lam)


# ----------------------------------------------------------------------------------------------------
# priorities


def cobham_waits(c: int, lams: Sequence[float], mu: float) -> list[float]:
    """Mean waits of a non-preemptive priority M/M/c queue with a common service rate (Cobham 1954).

    ``Wq_k = C(c, a) / (c mu (1 - s_{k-1}) (1 - s_k))`` with ``s_k = sum_{i<=k} lambda_i / (c mu)``,
    ``s_0 = 0`` and ``a = sum_k lambda_k / mu`` [2]_. Within a class, service is first come first served.

    Parameters
    ----------
    c : int
        Number of servers (doctors), >= 1.
    lams : Sequence[float]
        Arrival rate of each class [1/time], highest priority first; each >= 0.
    mu : float
        Service rate of one server, the same for every class [1/time], > 0.

    Returns
    -------
    list[float]
        Mean wait in queue of each class, in the order of ``lams`` [time].

    Raises
    ------
    ValueError
        On a bad argument or when the total utilisation ``rho >= 1``.
    """
    _check_servers(c)
    _check_rates("lams", lams)
    _check_number("mu", mu, positive=True)
    lam = math.fsum(lams)
    _check_stable(lam / (c * mu), f"lams = {list(lams)!r}, mu = {mu!r}, c = {c}")
    p_wait = erlang_c(c, lam / mu)
    waits: list[float] = []
    cumulative = 0.0
    for lam_k in lams:
        before = cumulative / (c * mu)
        cumulative += lam_k
        after = cumulative / (c * mu)
        waits.append(p_wait / (c * mu * (1.0 - before) * (1.0 - after)))
    return waits


def conservation_wait(c: int, lams: Sequence[float], mu: float) -> float:
    """The arrival-weighted mean wait fixed by Kleinrock's conservation law.

    With a common exponential service rate, every non-preemptive, work-conserving discipline that does not
    look at service times has ``sum_k lambda_k Wq_k / lambda`` equal to the first-come-first-served M/M/c wait
    ``C(c, a) / (c mu - lambda)`` [3]_. Every aging rule of opdsim is such a discipline, so this is the one
    number that no policy can improve.

    Parameters
    ----------
    c : int
        Number of servers (doctors), >= 1.
    lams : Sequence[float]
        Arrival rate of each class [1/time]; each >= 0.
    mu : float
        Common service rate of one server [1/time], > 0.

    Returns
    -------
    float
        Arrival-weighted mean wait in queue [time].

    Raises
    ------
    ValueError
        On a bad argument or when the total utilisation ``rho >= 1``.
    """
    _check_rates("lams", lams)
    return mmc_wait(c, math.fsum(lams), mu)


def accumulating_priority_waits_1server(lams: Sequence[float], mu: float, b: Sequence[float]) -> list[float]:
    """Mean waits under Kleinrock's delay-dependent (accumulating) priority, one exponential server.

    A customer of class ``p`` who has waited ``t`` has priority ``b_p t``; when the server frees, the waiting
    customer with the highest priority is served (non-preemptive). With classes ordered so that
    ``b_1 <= b_2 <= ... <= b_P`` [4]_::

        W_p = [W0 / (1 - rho) - sum_{i<p} rho_i W_i (1 - b_i / b_p)] / [1 - sum_{i>p} rho_i (1 - b_p / b_i)]

    where ``rho_i = lambda_i / mu`` and ``W0 = sum_i lambda_i E[S^2] / 2 = lambda / mu^2`` for exponential
    service. Equal ``b`` gives first come first served; a ratio tending to infinity gives strict priority.

    Parameters
    ----------
    lams : Sequence[float]
        Arrival rate of each class [1/time]; each >= 0.
    mu : float
        Service rate, the same for every class [1/time], > 0.
    b : Sequence[float]
        Priority accumulation rate of each class (only ratios matter) [1/time]; each > 0, same length as
        ``lams``.

    Returns
    -------
    list[float]
        Mean wait in queue of each class, in the order of ``lams`` [time].

    Raises
    ------
    ValueError
        On a bad argument, different lengths, or when ``rho >= 1``.
    """
    _check_rates("lams", lams)
    _check_number("mu", mu, positive=True)
    if isinstance(b, str) or len(b) != len(lams):
        raise ValueError(f"b = {b!r} must have one rate per class, like lams = {list(lams)!r}")
    for k, b_k in enumerate(b):
        _check_number(f"b[{k}]", b_k, positive=True)
    rhos = [lam_k / mu for lam_k in lams]
    rho = math.fsum(rhos)
    _check_stable(rho, f"lams = {list(lams)!r}, mu = {mu!r}")
    w0 = math.fsum(lams) / mu**2
    base = w0 / (1.0 - rho)
    order = sorted(range(len(lams)), key=lambda k: b[k])
    waits = [0.0] * len(lams)
    for pos, p in enumerate(order):
        lower = math.fsum(rhos[i] * waits[i] * (1.0 - b[i] / b[p]) for i in order[:pos])
        higher = math.fsum(rhos[i] * (1.0 - b[p] / b[i]) for i in order[pos + 1 :])
        waits[p] = (base - lower) / (1.0 - higher)
    return waits


# ----------------------------------------------------------------------------------------------------
# one server, general service; Little's law


def pk_wait(lam: float, es: float, es2: float) -> float:
    """Mean wait in queue of an M/G/1 queue (Pollaczek-Khinchine).

    ``Wq = lambda E[S^2] / (2 (1 - rho))`` with ``rho = lambda E[S]`` [1]_.

    Parameters
    ----------
    lam : float
        Arrival rate [1/time], >= 0.
    es : float
        Mean service time ``E[S]`` [time], > 0.
    es2 : float
        Second moment of the service time ``E[S^2]`` [time^2], >= ``es**2``.

    Returns
    -------
    float
        Mean time from arrival to the start of service [time].

    Raises
    ------
    ValueError
        On a bad argument, ``es2 < es**2`` or ``rho >= 1``.
    """
    _check_number("lam", lam)
    _check_number("es", es, positive=True)
    _check_number("es2", es2)
    if es2 < es * es * (1.0 - 1e-12):
        raise ValueError(f"es2 = {es2!r} < es**2 = {es * es!r}: E[S^2] cannot be below E[S]^2")
    rho = lam * es
    _check_stable(rho, f"lam = {lam!r}, es = {es!r}")
    return lam * es2 / (2.0 * (1.0 - rho))


def littles_law_l(lam: float, w: float) -> float:
    """Mean number in a system by Little's law, ``L = lambda W`` [5]_.

    Applied to the queue alone it gives the mean number waiting, ``Lq = lambda Wq``.

    Parameters
    ----------
    lam : float
        Arrival rate [1/time], >= 0.
    w : float
        Mean time spent in the system (or queue) [time], >= 0.

    Returns
    -------
    float
        Mean number in the system (or queue) [patients].

    Raises
    ------
    ValueError
        If an argument is negative or not finite.
    """
    _check_number("lam", lam)
    _check_number("w", w)
    return lam * w
