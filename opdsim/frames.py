"""Frames from numpy columns, shared by the simulation and the metrics (neither imports the other)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from numpy.typing import NDArray

__all__ = ["as_frame"]


def as_frame(columns: Mapping[str, NDArray[Any]]) -> pd.DataFrame:
    """A frame of equal-length numpy columns; text columns stay plain object columns (converting them to pandas'
    string dtype costs more than building the rest of the frame)."""
    return pd.DataFrame({k: pd.Series(v, dtype=object) if v.dtype == object else v for k, v in columns.items()})
