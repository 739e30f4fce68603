"""Callable intervals read back from a patients frame, for timelines drawn from kept frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opdsim.metrics import frame_intervals, time_integral


def test_each_present_patient_is_callable_for_their_wait_from_callable_at() -> None:
    # A: callable 0-10 then called; B: displaced, callable 0-30 and 60-70 (wait 40), called at 70;
    # C: never present (NaN wait); D: left unseen after 25 minutes from 5.
    patients = pd.DataFrame(
        {
            "callable_at": [0.0, 0.0, np.nan, 5.0],
            "wait": [10.0, 40.0, np.nan, 25.0],
        }
    )
    starts, ends = frame_intervals(patients)
    assert starts.tolist() == [0.0, 0.0, 5.0]
    assert ends.tolist() == [10.0, 40.0, 30.0]
    # The total callable time is every patient's wait: 10 + 40 + 25 = 75 patient-minutes by minute 100.
    assert time_integral(starts, ends, np.array([100.0])).tolist() == [75.0]
