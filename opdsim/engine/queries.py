"""The public queries that take an argument, kept interpreted in the compiled build.

mypyc checks a native function's argument types on entry and raises a bare ``TypeError`` for a wrong one; these
methods are the public boundary, so they stay plain Python in both builds and the engine's own typed errors
(:class:`UnknownDoctor`, :class:`UnknownToken`, :class:`InvalidRequest`) hold for any argument.
"""

from __future__ import annotations

from opdsim.engine.decide import _Decide
from opdsim.engine.errors import InvalidRequest
from opdsim.engine.events import Event
from opdsim.engine.types import SlotView, TokenState, TokenView

__all__: list[str] = []


class _Queries(_Decide):
    def events_since(self, index: int) -> list[Event]:
        """Events from position ``index`` of the log on."""
        if isinstance(index, bool) or not isinstance(index, int):
            raise InvalidRequest(f"events_since: {index!r} is not a position in the log")
        return self._log[index:]

    def slots(self, doctor: str) -> list[SlotView]:
        """The doctor's slots as they stand now."""
        doc = self._doctor(doctor)
        return [SlotView(s.index, s.start, s.end, s.cap, s.regular, s.emerg, s.breaches) for s in doc.slots]

    def busy_with(self, doctor: str) -> str | None:
        """Id of the token the doctor is seeing, or None when free."""
        tok = self._doctor(doctor).busy
        return None if tok is None else tok.id

    def token(self, token_id: str) -> TokenView:
        """Read-only view of one token."""
        return self._view(self._token(token_id))

    def state(self, token_id: str) -> TokenState:
        """The token's state (cheap: no view is built)."""
        return self._token(token_id).state

    def queue(self, doctor: str) -> list[TokenView]:
        """The doctor's callable tokens in serving order ``(effective_rank, queue_seq)``."""
        return [self._view(t) for t in self._queue_tokens(self._doctor(doctor))]

    def queue_length(self, doctor: str) -> int:
        """Number of the doctor's callable tokens (cheap: no views are built)."""
        return sum(tree.cnt[1] for _, tree in self._doctor(doctor).trees)

    def waitlist(self, doctor: str) -> list[TokenView]:
        """The doctor's waitlisted tokens in refill order (displaced first, then rank, then arrival on the list)."""
        return [self._view(t) for t in self._waitlist_tokens(self._doctor(doctor))]

    def estimated_call(self, token_id: str) -> float | None:
        """Estimated call time of a token [min].

        The later of the engine's current time and the token's slot start, plus (callable tokens ahead of it in
        serving order, plus one if the doctor is busy) times the doctor's mean consultation length (before the
        first completion: slot length over capacity). None for waitlisted and ended tokens; the call time for
        tokens already called.
        """
        return self._estimate(self._token(token_id))
