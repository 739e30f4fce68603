"""The engine's public queries: plain Python in both builds, reading the native state they hold.

mypyc checks a native function's argument types on entry and raises a bare ``TypeError`` for a wrong one; these
methods are the public boundary, so they stay interpreted and the engine's own typed errors
(:class:`UnknownDoctor`, :class:`UnknownToken`, :class:`InvalidRequest`) hold for any argument. Each reads
``self._core``, the :class:`~opdsim.engine.decide._Decide` holding the state.
"""

from __future__ import annotations

from typing import Any

from opdsim.engine.decide import _Decide
from opdsim.engine.errors import InvalidRequest
from opdsim.engine.events import Event
from opdsim.engine.policy import Policy
from opdsim.engine.types import SlotView, TokenState, TokenView

__all__: list[str] = []


class _Queries:
    __slots__ = ("_core",)

    _core: _Decide

    @property
    def policy(self) -> Policy:
        """The engine's policy."""
        return self._core._policy

    @property
    def events(self) -> tuple[Event, ...]:
        """The event log, oldest first (a copy)."""
        return tuple(self._core._log)

    @property
    def event_count(self) -> int:
        """Number of events logged so far (cheap; use with :meth:`events_since`)."""
        return len(self._core._log)

    @property
    def now(self) -> float:
        """Latest ``now`` of a call that changed the state [min]."""
        return self._core._last

    @property
    def closed(self) -> bool:
        """Whether :meth:`close_day` has been called."""
        return self._core._closed

    def doctors(self) -> list[str]:
        """Doctor ids, in id order."""
        return [d.id for d in self._core._doc_list]

    def next_due(self) -> float | None:
        """Earliest time at which :meth:`tick` would change something, or None [min].

        That is the next slot start, no-show deadline (when ``auto_no_show``) or wait-aging threshold. A value
        below :attr:`now` means something is already due at the next call.
        """
        return self._core.next_due()

    def snapshot(self) -> dict[str, Any]:
        """Plain, comparable structure of everything that decides future behaviour."""
        return self._core.snapshot()

    def events_since(self, index: int) -> list[Event]:
        """Events from position ``index`` of the log on."""
        if isinstance(index, bool) or not isinstance(index, int):
            raise InvalidRequest(f"events_since: {index!r} is not a position in the log")
        return self._core._log[index:]

    def slots(self, doctor: str) -> list[SlotView]:
        """The doctor's slots as they stand now."""
        doc = self._core._doctor(doctor)
        return [SlotView(s.index, s.start, s.end, s.cap, s.regular, s.emerg, s.breaches) for s in doc.slots]

    def busy_with(self, doctor: str) -> str | None:
        """Id of the token the doctor is seeing, or None when free."""
        tok = self._core._doctor(doctor).busy
        return None if tok is None else tok.id

    def token(self, token_id: str) -> TokenView:
        """Read-only view of one token."""
        core = self._core
        return core._view(core._token(token_id))

    def state(self, token_id: str) -> TokenState:
        """The token's state (cheap: no view is built)."""
        return self._core._token(token_id).state

    def queue(self, doctor: str) -> list[TokenView]:
        """The doctor's callable tokens in serving order ``(effective_rank, queue_seq)``."""
        core = self._core
        return [core._view(t) for t in core._queue_tokens(core._doctor(doctor))]

    def queue_length(self, doctor: str) -> int:
        """Number of the doctor's callable tokens (cheap: no views are built)."""
        return sum(tree.cnt[1] for _, tree in self._core._doctor(doctor).trees)

    def waitlist(self, doctor: str) -> list[TokenView]:
        """The doctor's waitlisted tokens in refill order (displaced first, then rank, then arrival on the list)."""
        core = self._core
        return [core._view(t) for t in core._waitlist_tokens(core._doctor(doctor))]

    def estimated_call(self, token_id: str) -> float | None:
        """Estimated call time of a token [min].

        The later of the engine's current time and the token's slot start, plus (callable tokens ahead of it in
        serving order, plus one if the doctor is busy) times the doctor's mean consultation length (before the
        first completion: slot length over capacity). None for waitlisted and ended tokens; the call time for
        tokens already called.
        """
        core = self._core
        return core._estimate(core._token(token_id))
