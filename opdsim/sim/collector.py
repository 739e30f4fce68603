"""Pausing Python's cyclic garbage collector while a day is simulated and measured.

A simulated day keeps every token, record and event it creates alive until its frames are built. The cyclic
collector would rescan that growing heap every few thousand allocations: measured on a 16,000-patient open-access
run, it was 60% of the time of the records fold. Reference counting still frees everything as usual, and a played
day leaves no reference cycles (the engine empties its queues at the close; the model drops SimPy's pending events),
so the search that waits until the end of the run finds nothing of the day.

The pause must also end without allocating: the collector's allocation count keeps growing while it is off, so the
first tracked allocation after ``gc.enable()`` starts a collection over every young object still alive, which at
the end of a ``with`` block is the whole day. A ``contextlib.contextmanager`` ends by raising ``StopIteration``
inside its generator, an allocation, so that collection ran inside the pause's own exit, before the function
could return (3% of a day's play, 4% of a 50,000-patient open-access run).
"""

from __future__ import annotations

import gc

__all__ = ["collector_paused"]


class collector_paused:
    """Disable the cyclic collector for the ``with`` block; re-enable it afterwards, also on error, unless it was
    already disabled on entry (so that pauses nest). Its exit allocates nothing (see the module's notes): build
    the block's result inside it."""

    __slots__ = ("_collecting",)

    def __enter__(self) -> None:
        self._collecting = gc.isenabled()
        gc.disable()

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if self._collecting:
            gc.enable()
