"""Scenario configuration: the shipped standard day, round trips, replace, and every error message format."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from opdsim.engine.policy import Policy
from opdsim.engine.types import Category
from opdsim.sim import Scenario, ScenarioError
from opdsim.sim.distributions import Exponential, LogNormal

STANDARD_DAY = Path(__file__).resolve().parents[1] / "experiments" / "standard_day.toml"


@pytest.fixture(scope="module")
def standard() -> Scenario:
    return Scenario.from_toml(STANDARD_DAY)


@pytest.fixture
def raw() -> dict[str, Any]:
    with open(STANDARD_DAY, "rb") as handle:
        return tomllib.load(handle)


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "standard_day.toml") -> Path:
    import tomli_w

    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else tomli_w.dumps(data), encoding="utf-8")
    return path


# -- the standard day ------------------------------------------------------------------------------------------


def test_standard_day_loads(standard: Scenario) -> None:
    assert standard.name == "standard_day"
    assert standard.doctors.ids == ("D1", "D2", "D3")
    assert standard.doctors.slots() == [(0, 60), (60, 120), (120, 180), (180, 240)]
    assert standard.clinic.starvation_limit == 120
    assert standard.consultation[Category.WALK_IN] == LogNormal(mean=2, sd=1.2)
    assert standard.demand.walk_in.rate_at(30) == 90
    assert standard.demand.walk_in.rate_at(299) == 0
    assert standard.patience is not None
    assert isinstance(standard.engine_policy(), Policy)
    assert standard.engine_policy() == Policy()  # the file writes out the engine's defaults


def test_standard_day_is_heavily_loaded_but_feasible(standard: Scenario) -> None:
    # the figures computed in the file's header comment
    assert sum(standard.expected_patients.values()) == pytest.approx(286)
    assert standard.offered_load == pytest.approx(630.8 / 720)
    assert 0.85 <= standard.offered_load <= 0.95
    walk_in_share = standard.expected_patients[Category.WALK_IN] / 286
    assert 0.2 <= walk_in_share <= 0.36  # a third: the calibrated waits need the morning walk-in crowd


def test_to_toml_round_trips(standard: Scenario, tmp_path: Path) -> None:
    text = standard.to_toml()
    again = Scenario.from_toml(write(tmp_path, text, "again.toml"))
    assert again == standard
    assert again.to_toml() == text
    assert Scenario.from_dict(standard.to_dict()) == standard


def test_ids_gamma_ranks_and_optional_parts_round_trip(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    del data["doctors"]["count"]
    data["doctors"]["ids"] = ["dr_rao", "dr_sen"]
    data["doctors"]["start_delay"] = {"dist": "gamma", "shape": 2.0, "scale": 2.5}
    data["policy"]["ranks"] = {"EMERGENCY": 0, "PAID_PRIORITY": 1, "FOLLOW_UP": 3, "ONLINE": 2, "WALK_IN": 4}
    del data["patience"]
    del data["demand"]["booked"]["FOLLOW_UP"]
    scenario = Scenario.from_dict(data)
    assert scenario.doctors.ids == ("dr_rao", "dr_sen")
    assert scenario.patience is None
    assert scenario.policy.rank(Category.ONLINE) == 2
    assert Scenario.from_dict(tomllib.loads(scenario.to_toml())) == scenario


def test_defaults_for_optional_sections(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    for key in ("policy", "patience", "description"):
        del data[key]
    del data["demand"]["walk_in"]
    del data["clinic"]["starvation_limit"]
    scenario = Scenario.from_dict(data)
    assert scenario.policy == Policy()
    assert scenario.demand.walk_in.rate_per_hour == ()
    assert scenario.clinic.starvation_limit == 120
    assert Category.WALK_IN not in scenario.demand.categories()


# -- replace ---------------------------------------------------------------------------------------------------


def test_replace_changes_dotted_paths(standard: Scenario) -> None:
    new = standard.replace(**{"policy.aging_threshold": 3, "demand.emergency.rate_per_hour": 2})
    assert new.policy.aging_threshold == 3
    assert new.demand.emergency.rate_per_hour == 2
    assert standard.policy.aging_threshold == 5  # the original is untouched
    assert new != standard
    assert new.replace(**{"policy.aging_threshold": 5, "demand.emergency.rate_per_hour": 1.5}) == standard


def test_replace_indexes_tables_and_distributions(standard: Scenario) -> None:
    new = standard.replace(
        {
            "demand.walk_in.rate_per_hour[3]": 10,
            "consultation.WALK_IN": Exponential(mean=2.5),
            "demand.booked.ONLINE.punctuality.sd": 7,
            "doctors.breaks[0].at": 150,
        }
    )
    assert new.demand.walk_in.rate_per_hour == (90, 10, 0, 10)
    assert new.consultation[Category.WALK_IN] == Exponential(mean=2.5)
    assert new.demand.booked[Category.ONLINE].punctuality.sd == 7  # type: ignore[attr-defined]
    assert new.doctors.breaks[0].at == 150


def test_aging_threshold_off_means_no_aging(standard: Scenario) -> None:
    new = standard.replace(**{"policy.aging_threshold": "off"})
    assert new.engine_policy().aging == "none"
    assert Scenario.from_dict(new.to_dict()) == new


def test_replace_validates(standard: Scenario) -> None:
    with pytest.raises(ScenarioError, match=r"^replace\(\) on .*standard_day\.toml: policy\.aging_threshold: 0 "):
        standard.replace(**{"policy.aging_threshold": 0})
    with pytest.raises(ScenarioError, match=r"demand\.booked\.ONLINE\.no_show: 1\.5 is not a probability"):
        standard.replace(**{"demand.booked.ONLINE.no_show": 1.5})


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("policy.colour", r"policy\.colour: unknown field"),
        ("doctors.colour.shade", r"doctors\.colour: unknown field"),
        ("colour", r"colour: unknown field"),
        ("demand.walk_in.rate_per_hour[9]", r"demand\.walk_in\.rate_per_hour\[9\]: no such element"),
        ("demand..walk_in", r"demand\.\.walk_in: not a dotted path"),
    ],
)
def test_replace_unknown_path_is_named(standard: Scenario, path: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        standard.replace(**{path: 1})


# -- error messages: file, dotted field, value -----------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ScenarioError, match=r"nowhere\.toml: cannot read the file: No such file or directory"):
        Scenario.from_toml(path)


def test_malformed_toml(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\n[clinic\nday_length = 300\n', "broken.toml")
    with pytest.raises(ScenarioError, match=r"broken\.toml: not valid TOML: .*line 2"):
        Scenario.from_toml(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # unknown fields
        (("doctors", "colour", "blue"), r"standard_day\.toml: doctors\.colour: unknown field"),
        (("", "colour", "blue"), r"standard_day\.toml: colour: unknown field"),
        (("consultation", "DOCTOR", {"dist": "exponential", "mean": 1}), r"consultation\.DOCTOR: unknown field"),
        (("demand.booked", "WALK_IN", {}), r"demand\.booked\.WALK_IN: unknown field"),
        # negative rates and other bad numbers
        (("demand.walk_in", "rate_per_hour", [28, 24, 14, -2]), r"demand\.walk_in\.rate_per_hour\[3\]: -2 is negative"),
        (("demand.emergency", "rate_per_hour", -1.5), r"demand\.emergency\.rate_per_hour: -1\.5 is negative"),
        (("demand.booked.ONLINE", "per_slot", "nine"), r"demand\.booked\.ONLINE\.per_slot: 'nine' is not a number"),
        (("doctors", "slot_capacity", 2.5), r"doctors\.slot_capacity: 2\.5 is not a whole number"),
        (("doctors", "slot_length", 0), r"doctors\.slot_length: 0 must be > 0"),
        (("doctors", "slot_length", 70), r"doctors\.slot_length: 70 does not divide the session 0-240"),
        (("doctors", "session_end", 0), r"doctors\.session_end: 0 must be > session_start = 0"),
        (("clinic", "day_length", 250), r"clinic\.day_length: 250 ends before doctors\.session_end \+ clinic"),
        # bad distributions
        (
            ("consultation", "WALK_IN", {"dist": "weibull", "mean": 2}),
            r"standard_day\.toml: consultation\.WALK_IN\.dist: 'weibull' is not one of",
        ),
        (
            ("consultation", "WALK_IN", {"dist": "lognormal", "mean": 6, "sd": -1}),
            r"standard_day\.toml: consultation\.WALK_IN\.sd: -1 is negative",
        ),
        (
            ("consultation", "WALK_IN", {"dist": "normal", "mean": 2, "sd": 1}),
            r"consultation\.WALK_IN\.dist: 'normal' can be negative",
        ),
        (("doctors.breaks[0]", "at", 300), r"doctors\.breaks\[0\]\.at: 300 is outside the session 0-240"),
        # bad probabilities
        (("demand.booked.ONLINE", "no_show", 1.2), r"demand\.booked\.ONLINE\.no_show: 1\.2 is not a probability"),
        (("demand.booked.ONLINE", "cancel", -0.1), r"demand\.booked\.ONLINE\.cancel: -0\.1 is not a probability"),
        (("demand.booked.ONLINE", "cancel", 0.8), r"demand\.booked\.ONLINE\.cancel: 0\.8 \+ no_show 0\.3 is more"),
        # policy (validated by the engine's Policy)
        (("policy", "on_full", "queue"), r"standard_day\.toml: policy\.on_full: 'queue' is not one of"),
        (("policy", "aging", "sometimes"), r"standard_day\.toml: policy\.aging: 'sometimes' is not one of"),
        (("policy.ranks", "DOCTOR", 3), r"policy\.ranks\.DOCTOR: unknown field"),
        # cross-section
        (("consultation", "WALK_IN", None), r"consultation\.WALK_IN: missing \(this category has demand\)"),
        (("demand.walk_in", "rate_per_hour", [1, 1, 1, 1, 1, 1]), r"demand\.walk_in\.rate_per_hour: 6 hourly"),
        (("doctors", "count", None), r"doctors\.count: give either count or ids"),
        # each refusal of the split sections, named by its dotted path
        (("doctors", "breaks", [{"at": 120}]), r"doctors\.breaks\[0\]\.duration: missing"),
        (
            (
                "doctors",
                "breaks",
                [{"at": 120, "duration": {"dist": "deterministic", "value": 5}}] * 2
                + [{"at": 60, "duration": {"dist": "deterministic", "value": 5}}],
            ),
            r"doctors\.breaks\[2\]\.at: 60 is before the previous break's 120",
        ),
        (("demand.booked.ONLINE", "cancel_lead", None), r"demand\.booked\.ONLINE\.cancel_lead: missing \(required"),
        (("demand", "booked", [1]), r"demand\.booked: \[1\] is not a table"),
        (("", "consultation", [1]), r"consultation: \[1\] is not a table"),
        (("policy", "ranks", [1]), r"policy\.ranks: \[1\] is not a table"),
        (("demand", "scale", "busy"), r"demand\.scale: 'busy' is not a number"),
        (("clinic", "day_length", None), r"standard_day\.toml: clinic\.day_length: missing"),
    ],
)
def test_error_names_file_field_and_value(
    raw: dict[str, Any], tmp_path: Path, change: tuple[str, str, object], message: str
) -> None:
    section, key, value = change
    data = copy.deepcopy(raw)
    node: Any = data
    for step in filter(None, section.replace("[", ".[").split(".")):
        node = node[int(step[1:-1])] if step.startswith("[") else node.setdefault(step, {})
    if value is None:
        del node[key]
    else:
        node[key] = value
    with pytest.raises(ScenarioError, match=message) as info:
        Scenario.from_toml(write(tmp_path, data))
    assert str(info.value).startswith(str(tmp_path / "standard_day.toml") + ": ")
    assert info.value.source == str(tmp_path / "standard_day.toml")


def test_from_dict_names_its_source(raw: dict[str, Any]) -> None:
    raw["doctors"]["colour"] = "blue"
    with pytest.raises(ScenarioError, match=r"^<dict>: doctors\.colour: unknown field"):
        Scenario.from_dict(raw)
    with pytest.raises(ScenarioError, match=r"^sweep\.toml: doctors\.colour: unknown field"):
        Scenario.from_dict(raw, source="sweep.toml")


def test_scenario_error_is_an_opdsim_error() -> None:
    from opdsim.engine.errors import OpdsimError

    assert issubclass(ScenarioError, OpdsimError)
    assert issubclass(ScenarioError, ValueError)


def test_every_name_of_the_former_scenario_module_still_imports() -> None:
    # the module became a package (tables, sections, policy_io, core); code written against it must not break
    import opdsim.sim.scenario as package
    from opdsim.sim import scenario as via_parent
    from opdsim.sim.scenario import (  # noqa: F401
        BOOKED_CATEGORIES,
        BookedDemand,
        Break,
        Clinic,
        Demand,
        Doctors,
        Emergency,
        Scenario,
        ScenarioError,
        WalkIn,
    )

    assert package is via_parent
    assert set(package.__all__) == {
        "BOOKED_CATEGORIES", "BookedDemand", "Break", "Clinic", "Demand", "Doctors", "Emergency", "Scenario",
        "ScenarioError", "WalkIn",
    }  # fmt: skip
    assert Scenario.__module__ == "opdsim.sim.scenario.core" and Doctors.__module__ == "opdsim.sim.scenario.sections"


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([], r"^x\.toml: doctors\.ids: \[\] is empty: give at least one doctor$"),
        (["D1", ""], r"^x\.toml: doctors\.ids\[1\]: '' is not a non-empty string$"),
        (["D1", "D1"], r"^x\.toml: doctors\.ids\[1\]: 'D1' is repeated$"),
        ("D1", r"^x\.toml: doctors\.ids: 'D1' is not a list$"),
    ],
)
def test_doctor_ids_are_checked(standard_day: Scenario, ids: object, message: str) -> None:
    data = standard_day.to_dict()
    del data["doctors"]["count"]
    data["doctors"]["ids"] = ids
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_dict(data, source="x.toml")


def test_named_doctors_are_written_back_by_name(standard_day: Scenario) -> None:
    data = standard_day.to_dict()
    del data["doctors"]["count"]
    data["doctors"]["ids"] = ["Dr Rao", "Dr Iyer", "Dr Das"]
    named = Scenario.from_dict(data)
    assert named.doctors.count == 3 and named.doctors.ids == ("Dr Rao", "Dr Iyer", "Dr Das")
    assert named.to_dict()["doctors"]["ids"] == ["Dr Rao", "Dr Iyer", "Dr Das"]
    assert Scenario.from_dict(named.to_dict()) == named
