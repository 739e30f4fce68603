"""The shared field validators: what each accepts, returns and refuses, with the one-line message it gives."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from opdsim.experiments.spec import SweepError
from opdsim.sim.errors import ScenarioError
from opdsim.sim.fields import check_fields, choice, number, probability, sequence, show, table, text, whole


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (True, {}, r"^f: True is not a number$"),
        (np.bool_(False), {}, r"^f: False is not a number$"),
        ("3", {}, r"^f: '3' is not a number$"),
        (None, {}, r"^f: None is not a number$"),
        (math.nan, {}, r"^f: nan is not finite$"),
        (-math.inf, {}, r"^f: -inf is not finite$"),
        (-2, {"minimum": 0}, r"^f: -2 is negative$"),
        (0.5, {"minimum": 1}, r"^f: 0\.5 must be >= 1$"),
        (0, {"positive": True}, r"^f: 0 must be > 0$"),
        (-0.1, {"positive": True}, r"^f: -0\.1 is negative$"),
        (1.5, {"maximum": 1}, r"^f: 1\.5 must be <= 1$"),
        (np.int64(-3), {"minimum": 0}, r"^f: -3 is negative$"),  # numpy shown as the number, not np.int64(-3)
    ],
)
def test_number_refuses_with_one_line_naming_field_and_value(
    value: object, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ScenarioError, match=message):
        number(value, "f", **kwargs)


def test_number_returns_the_value_unchanged() -> None:
    assert number(3, "f") == 3 and isinstance(number(3, "f"), int)  # ints stay ints in a file written back
    assert number(0, "f", minimum=0) == 0
    assert number(1.0, "f", positive=True, maximum=1) == 1.0
    assert number(np.float64(2.5), "f") == 2.5


def test_whole_accepts_integral_values_and_refuses_the_rest() -> None:
    assert whole(3.0, "f") == 3 and isinstance(whole(3.0, "f"), int)
    assert whole(np.int64(4), "f", minimum=0) == 4
    with pytest.raises(ScenarioError, match=r"^f: 2\.5 is not a whole number$"):
        whole(2.5, "f")
    with pytest.raises(ScenarioError, match=r"^f: 0 must be a whole number >= 1$"):
        whole(0, "f", minimum=1)
    with pytest.raises(ScenarioError, match=r"^f: 3\.0 must be a whole number >= 0$"):
        whole(3.0, "f", minimum=0, strict=True)
    with pytest.raises(ScenarioError, match=r'^f: True must be a whole number or "auto"$'):
        whole(True, "f", alternative=' or "auto"')


def test_probability_choice_text_sequence_table() -> None:
    assert probability(0, "p") == 0 and probability(1, "p") == 1
    with pytest.raises(ScenarioError, match=r"^p: 1\.01 is not a probability \(must be between 0 and 1\)$"):
        probability(1.01, "p")
    assert choice("wait", "aging", ("bypass", "wait", "none")) == "wait"
    with pytest.raises(ScenarioError, match=r"^aging: 'Wait' is not one of 'bypass', 'wait', 'none'$"):
        choice("Wait", "aging", ("bypass", "wait", "none"))
    with pytest.raises(ScenarioError, match=r"^n: True is not one of 1, 2$"):
        choice(True, "n", (1, 2))  # True == 1 in Python, but a bool is never a number here
    assert text("x", "t") == "x"
    with pytest.raises(ScenarioError, match=r"^t: 3 is not a string$"):
        text(3, "t")
    assert sequence([1, 2], "s") == (1, 2)
    with pytest.raises(ScenarioError, match=r"^s: 'ab' is not a list$"):
        sequence("ab", "s")
    assert table({"a": 1}, "t") == {"a": 1}
    with pytest.raises(ScenarioError, match=r"^t: \[1\] is not a table$"):
        table([1], "t")


def test_check_fields_names_the_dotted_path_and_what_is_allowed() -> None:
    check_fields({"a": 1, "b": 2}, "sec", ("a", "b", "c"))
    with pytest.raises(ScenarioError, match=r"^sec\.colour: unknown field \(expected a, b\)$"):
        check_fields({"a": 1, "colour": 2}, "sec", ("a", "b"))
    with pytest.raises(ScenarioError, match=r"^colour: unknown field"):
        check_fields({"colour": 2}, "", ("a",))


def test_source_and_error_class_are_carried() -> None:
    with pytest.raises(SweepError, match=r"^sweep\.toml: seed: -1 must be a whole number >= 0$"):
        whole(-1, "seed", minimum=0, source="sweep.toml", error=SweepError)


def test_show_renders_numpy_scalars_as_plain_numbers() -> None:
    assert show(np.int64(11)) == "11"
    assert show(np.float64(0.5)) == "0.5"
    assert show("off") == "'off'"
