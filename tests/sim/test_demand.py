"""demand.scale, the "busier day" knob, and the walk-in rate list that must cover the session."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from opdsim.engine.types import Category
from opdsim.experiments.spec import SweepSpec
from opdsim.sim.errors import ScenarioError
from opdsim.sim.population import Population, draw_population
from opdsim.sim.scenario import Scenario
from opdsim.sim.streams import Streams


def _fingerprint(pop: Population) -> str:
    cols = pop.columns()
    h = hashlib.sha256()
    for name in ("arrival", "booked_at", "cancel_at", "consultation", "patience"):
        h.update(np.ascontiguousarray(cols[name], dtype=np.float64).tobytes())
    h.update("|".join(map(str, cols["patient"])).encode())
    return h.hexdigest()


# The standard day as it was then: the recalibration of issue 8 changed its demand, not what scale 1 means.
BEFORE = Path(__file__).parent / "data" / "standard_day_before_scale.toml"


@pytest.fixture
def standard_day() -> Scenario:
    return Scenario.from_toml(BEFORE)


# Drawn from that standard day with seed 7 by the code before demand.scale existed (commit bab1d7f).
BEFORE_SCALE = {
    0: (301, "9435a6e141668c5c20c5dee982a2767a910c5b2ed76465a5fd5060b7651fa601"),
    1: (304, "c2f048600e23861d161ae52dcfda426d344d6db3dd40666b91285c26f9048b86"),
}


@pytest.mark.parametrize("replication", sorted(BEFORE_SCALE))
def test_scale_one_draws_exactly_the_patients_of_before(standard_day: Scenario, replication: int) -> None:
    explicit = standard_day.replace(**{"demand.scale": 1.0})
    for scenario in (standard_day, explicit):
        pop = draw_population(scenario, Streams(7, replication))
        assert (len(pop), _fingerprint(pop)) == BEFORE_SCALE[replication]


def test_scale_multiplies_the_expected_patients_of_every_category(standard_day: Scenario) -> None:
    busier = standard_day.replace(**{"demand.scale": 1.2})
    # standard day, 3 doctors x 4 slots: PAID 4/slot, FOLLOW_UP 5, ONLINE 9; walk-ins 28+24+14+6 = 72;
    # emergencies 1.5/h x 4 h = 6; each times 1.2
    expected = {
        Category.EMERGENCY: 7.2,
        Category.PAID_PRIORITY: 57.6,
        Category.FOLLOW_UP: 72.0,
        Category.ONLINE: 129.6,
        Category.WALK_IN: 86.4,
    }
    assert busier.expected_patients == pytest.approx(expected)
    assert sum(busier.expected_patients.values()) == pytest.approx(352.8)
    assert busier.offered_load == pytest.approx(1.2 * standard_day.offered_load)


def test_scale_multiplies_the_patients_actually_drawn(standard_day: Scenario) -> None:
    # The day's count is a sum of Poisson counts: mean 294 s, variance 294 s. Over 300 days the mean count has a
    # standard deviation of sqrt(294 s / 300), about 1.1 at s = 1.2; 5 of them is the tolerance.
    for scale in (0.5, 1.2):
        scenario = standard_day.replace(**{"demand.scale": scale})
        days = [draw_population(scenario, Streams(11, r)) for r in range(300)]
        mean = float(np.mean([len(pop) for pop in days]))
        assert mean == pytest.approx(294 * scale, abs=5 * np.sqrt(294 * scale / 300))
        walk_ins = float(np.mean([(pop.category == int(Category.WALK_IN)).sum() for pop in days]))
        assert walk_ins == pytest.approx(72 * scale, abs=5 * np.sqrt(72 * scale / 300))


@pytest.mark.parametrize(
    ("value", "detail"),
    [(0, "0 must be > 0"), (-1.5, "-1.5 is negative"), (float("nan"), "nan is not finite"), (True, "True is not")],
)
def test_scale_is_validated(standard_day: Scenario, value: object, detail: str) -> None:
    data = standard_day.to_dict()
    data["demand"]["scale"] = value
    with pytest.raises(ScenarioError, match=rf"^day\.toml: demand\.scale: {detail}"):
        Scenario.from_dict(data, source="day.toml")


def test_scale_is_a_sweepable_dotted_path_and_kept_out_of_an_unscaled_identity(standard_day: Scenario) -> None:
    spec = SweepSpec(standard_day, {"demand.scale": (0.8, 1.0, 1.2)}, 2, 0)
    scales = [spec.scenario_at(point).demand.scale for point in spec.points()]
    assert scales == [0.8, 1.0, 1.2]
    assert "scale" not in standard_day.to_dict()["demand"]  # results of unscaled days keep their fingerprint
    busier = standard_day.replace(**{"demand.scale": 1.2})
    assert Scenario.from_dict(busier.to_dict()) == busier


def test_a_walk_in_list_shorter_than_the_session_is_refused(standard_day: Scenario) -> None:
    with pytest.raises(ScenarioError) as caught:
        standard_day.replace(**{"demand.walk_in.rate_per_hour": [28, 24, 14]})
    message = str(caught.value)
    assert "demand.walk_in.rate_per_hour" in message and "3 hourly rates" in message and "4 hours" in message
    assert "\n" not in message
    # zeros say "no walk-ins in that hour" explicitly; no list at all means no walk-ins
    quiet = standard_day.replace(**{"demand.walk_in.rate_per_hour": [28, 24, 14, 0]})
    assert quiet.expected_patients[Category.WALK_IN] == 66
    assert standard_day.replace(**{"demand.walk_in.rate_per_hour": []}).expected_patients[Category.WALK_IN] == 0
    # the overtime hour may have walk-ins too (the day closes at minute 300), but not beyond the close
    assert standard_day.replace(**{"demand.walk_in.rate_per_hour": [28, 24, 14, 6, 2]}).demand.walk_in.expected == 74
    with pytest.raises(ScenarioError, match=r"demand\.walk_in\.rate_per_hour: 6 hourly rates.*only 5 hours"):
        standard_day.replace(**{"demand.walk_in.rate_per_hour": [1] * 6})


def test_patient_ids_are_the_same_from_the_cache_past_it_and_across_its_growth(monkeypatch: pytest.MonkeyPatch) -> None:
    from opdsim.sim import population

    monkeypatch.setattr(population, "_ID_CACHE", {})
    monkeypatch.setattr(population, "_ID_CACHE_MAX", 10)
    want = [f"WA{i:05d}" for i in range(14)]
    assert population._patient_ids("WA", 0, 3) == want[:3]  # fills the cache to 3
    assert population._patient_ids("WA", 2, 5) == want[2:7]  # grows it to 7, across the old end
    assert population._patient_ids("WA", 6, 8) == want[6:14]  # past the most it keeps: formatted, not cached
    assert population._ID_CACHE["WA"] == want[:7]
    assert population._patient_ids("EM", 0, 0) == []
