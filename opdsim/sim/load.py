"""The offered load of a scenario: how much consultation work a day brings against the doctors' time.

``offered load = expected consultation minutes of the patients who turn up / available doctor minutes``

- expected consultation minutes: for every category, the expected tokens issued (``Scenario.expected_patients``,
  before cancellations and no-shows) times the probability of turning up (booked categories; walk-ins and
  emergencies are there) times the mean consultation time [min];
- available doctor minutes: for every doctor, the session (``session_end - session_start``) less the mean late
  start and the mean length of the breaks [min].

A load below 1 can be served within the session; between 1 and about 1.3 the overtime allowed on a typical
day absorbs the excess. :data:`MAX_LOAD` is the refusal threshold of the command line: at 3 times capacity at
least two thirds of the work cannot be done even if every doctor worked the whole day, so what such a run
measures is the closing time and the patients' patience, not the token policy, and the figure is almost
always a typo in a rate (an emergency rate of 1e6 per hour is a load of tens of thousands).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opdsim.sim.scenario import Scenario

__all__ = ["MAX_LOAD", "Load", "load", "offered_load"]

MAX_LOAD = 3.0  # [-] the command line refuses a scenario above this load unless given --force


@dataclass(frozen=True)
class Load:
    """The two sides of the offered load.

    Attributes
    ----------
    work : float
        Expected consultation minutes of the patients who turn up [min].
    available : float
        Doctor minutes available in the session, late starts and breaks taken out [min].
    """

    work: float
    available: float

    @property
    def ratio(self) -> float:
        """``work / available`` [-] (infinite when no time is available)."""
        return self.work / self.available if self.available > 0 else float("inf")


def load(scenario: Scenario) -> Load:
    """The expected work and the available doctor time of ``scenario`` (see the module docstring)."""
    doctors = scenario.doctors
    per_doctor = (doctors.session_end - doctors.session_start) - doctors.start_delay.mean
    per_doctor -= sum(b.duration.mean for b in doctors.breaks)
    return Load(work=float(scenario.expected_work), available=float(max(0.0, per_doctor) * doctors.count))


def offered_load(scenario: Scenario) -> float:
    """Expected consultation minutes over available doctor minutes [-] (see the module docstring)."""
    return load(scenario).ratio
