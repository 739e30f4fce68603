"""Scenario configuration: one clinic day, loaded from TOML into frozen, validated dataclasses.

The package is split along its parts: ``tables`` (reading a TOML table, field by dotted path), ``sections``
(clinic, doctors, demand), ``policy_io`` (the engine policy and the consultation table) and ``core`` (the
scenario, its consistency checks and its dotted paths). The field checks themselves are
:mod:`opdsim.sim.fields`, shared with sweep files and the command line. ``docs/scenarios.md`` is the reference
for every field.

A scenario holds model parameters only (clinic, doctors, engine policy, demand, consultation and patience);
run settings such as seeds and replications belong to the experiment that runs it. All times are minutes since
the clinic opened [min]; rates are per hour where the name says so.

Example::

    scenario = Scenario.from_toml("experiments/standard_day.toml")
    busier = scenario.replace(**{"demand.emergency.rate_per_hour": 2, "policy.aging_threshold": "off"})
    policy = busier.engine_policy()

Every error is a :class:`~opdsim.sim.errors.ScenarioError` whose message names the file, the dotted field and
the bad value, e.g. ``standard_day.toml: demand.walk_in.rate_per_hour[3]: -2 is negative``. Unknown keys are
errors too, so that a misspelt parameter is never silently ignored.

TOML schema (``?`` marks optional keys, with their defaults)::

    name = "standard_day"
    description? = ""
    patience? = { dist = ... }              # minutes a checked-in patient waits before leaving unseen

    [clinic]
    day_length = 300                         # the day closes here [min]; >= session_end + overtime_limit
    overtime_limit? = 60                     # minutes after session_end a doctor may still call patients
    starvation_limit? = 120                  # a wait longer than this counts as starved [min]

    [doctors]
    count = 3                                # or ids = ["D1", "D2", "D3"] (exactly one of the two)
    session_start = 0
    session_end = 240                        # (end - start) must be a whole number of slots
    slot_length = 60
    slot_capacity = 30                       # seats per slot per doctor
    start_delay? = { dist = "deterministic", value = 0 }     # minutes late, >= 0
    [[doctors.breaks]]                       # zero or more, in time order, within the session
    at = 120
    duration = { dist = "triangular", low = 5, mode = 10, high = 15 }

    [policy]                                 # the fields of opdsim.engine.policy.Policy, engine defaults
    aging? = "bypass"                        # "bypass" | "wait" | "none"
    aging_threshold? = 5                     # or "off", shorthand for aging = "none" (it wins over aging)
    aging_target?, overflow_cap?, max_displacements?, on_full?, no_show_grace?, auto_no_show?
    [policy.ranks]?                          # category name -> rank; engine default ranks when absent

    [demand]
    scale? = 1                               # multiplies every arrival and booking rate below; > 0

    [demand.booked.ONLINE]                   # also PAID_PRIORITY and FOLLOW_UP; each optional
    per_slot = 9                             # expected bookings per slot per doctor
    punctuality = { dist = "normal", mean = -10, sd = 15 }   # arrival minus slot start [min]; may be < 0
    no_show? = 0                             # probability a booking never comes (and is not cancelled)
    cancel? = 0                              # probability a booking is cancelled; no_show + cancel <= 1
    cancel_lead = { dist = ... }             # minutes before slot start; required when cancel > 0

    [demand.walk_in]?                        # Poisson; absent = no walk-ins
    rate_per_hour = [28, 24, 14, 6]          # one rate per hour from session_start, each hour of the session [1/h]
    [demand.emergency]?                      # Poisson over the doctors' session; absent = none
    rate_per_hour = 1.5                      # [1/h]

    [consultation]                           # a duration distribution per category that can arrive
    WALK_IN = { dist = "lognormal", mean = 2, sd = 1.2 }
"""

from __future__ import annotations

from opdsim.sim.errors import ScenarioError
from opdsim.sim.scenario.core import Scenario
from opdsim.sim.scenario.sections import (
    BOOKED_CATEGORIES,
    BookedDemand,
    Break,
    Clinic,
    Demand,
    Doctors,
    Emergency,
    WalkIn,
)

__all__ = [
    "BOOKED_CATEGORIES",
    "BookedDemand",
    "Break",
    "Clinic",
    "Demand",
    "Doctors",
    "Emergency",
    "Scenario",
    "ScenarioError",
    "WalkIn",
]
