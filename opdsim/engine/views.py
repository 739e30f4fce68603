"""Reading the state: token views, queues, waitlists, estimates and the snapshot (nothing here changes it)."""

from __future__ import annotations

from typing import Any

from opdsim.engine._state import CALLED, COMPLETED, WAITLISTED, _Doctor, _new, _Slot, _Token
from opdsim.engine.aging import _Aging
from opdsim.engine.errors import UnknownDoctor, UnknownSlot, UnknownToken
from opdsim.engine.types import TERMINAL_STATES, TokenView

__all__: list[str] = []


def _serving_key(tok: _Token) -> tuple[int, int]:
    """The serving order: effective rank, then check-in position (equivalently queue_seq)."""
    return (tok.rank, tok.pos)


class _Views(_Aging):
    def _waitlist_tokens(self, doc: _Doctor) -> list[_Token]:
        """The doctor's waitlisted tokens in refill order (displaced first, then rank, then arrival on the list)."""
        entries = [(k, t) for heap in doc.wl for k, t in heap if t.state is WAITLISTED and t.wl_key == k]
        entries.sort(key=lambda e: e[0])
        return [t for _, t in entries]

    def _queue_tokens(self, doc: _Doctor) -> list[_Token]:
        """The doctor's callable tokens in serving order."""
        return sorted((t for t in doc.by_pos if t.in_tree), key=_serving_key)

    def snapshot(self) -> dict[str, Any]:
        """Plain, comparable structure of everything that decides future behaviour."""
        doctors: dict[str, Any] = {}
        for doc in self._doc_list:
            doctors[doc.id] = {
                "slots": [(s.start, s.end, s.cap, s.regular, s.emerg, s.breaches) for s in doc.slots],
                "next_open": doc.next_open,
                "busy": None if doc.busy is None else doc.busy.id,
                "consult": (doc.consult_sum, doc.consult_n),
            }
        tokens: dict[str, Any] = {}
        for tok in self._tokens.values():
            entry = self._view(tok)._asdict()
            entry.update(
                seated_at=tok.seated_at,
                pos=tok.pos,
                in_tree=tok.in_tree,
                callable_since=tok.callable_since,
                wait_acc=tok.wait_acc,
                thr=tok.thr,
                wl_key=tok.wl_key,
                request=tok.request,
            )
            tokens[tok.id] = entry
        return {
            "policy": self._policy.as_dict(),
            "now": self._last,
            "closed": self._closed,
            "counters": {
                "tokens": self._ntok,
                "queue_seq": self._seq,
                "waitlist": self._wl_order,
                "displaced": self._disp_order,
            },
            "doctors": doctors,
            "waitlists": {d.id: [t.id for t in self._waitlist_tokens(d)] for d in self._doc_list},
            "tokens": tokens,
        }

    def _doctor(self, doctor: object) -> _Doctor:
        """The doctor of that id, or :class:`UnknownDoctor` (also for an id that is not a string)."""
        doc = self._docs.get(doctor) if isinstance(doctor, str) else None
        if doc is None:
            raise UnknownDoctor(f"unknown doctor {doctor!r}")
        return doc

    def _token(self, token_id: object) -> _Token:
        """The token of that id, or :class:`UnknownToken` (also for an id that is not a string)."""
        tok = self._tokens.get(token_id) if isinstance(token_id, str) else None
        if tok is None:
            raise UnknownToken(f"unknown token {token_id!r}")
        return tok

    def _estimate(self, tok: _Token) -> float | None:
        state = tok.state
        if state is CALLED or state is COMPLETED:
            return tok.called_at
        if tok.slot is None or state in TERMINAL_STATES:
            return None
        doc = tok.doctor
        s = doc.slots[tok.slot]
        ahead = 0
        for r, tree in doc.trees:
            if r < tok.rank:
                ahead += tree.cnt[1]
            elif r == tok.rank:
                ahead += tree.count_before(tok.pos) if tok.pos >= 0 else tree.cnt[1]
            else:
                break
        if doc.busy is not None:
            ahead += 1
        return (self._last if self._last > s.start else s.start) + ahead * doc.mean_consult(s)

    def _view(self, tok: _Token) -> TokenView:
        bypasses = tok.bypass_acc
        if tok.in_tree:
            bypasses = tok.thr - tok.doctor.tree_of[tok.rank].value(tok.pos)
        return _new(
            TokenView,
            (
                tok.id,
                tok.patient,
                tok.category,
                tok.rank,
                tok.state,
                tok.doctor.id,
                tok.slot if tok.state is not WAITLISTED else None,
                tok.req_slot,
                tok.seq,
                bypasses,
                tok.displacements,
                tok.upgrades,
                tok.issued_at,
                tok.checked_in_at,
                tok.called_at,
                tok.ended_at,
                self._estimate(tok),
            ),
        )

    def _slot(self, doc: _Doctor, index: object) -> _Slot:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(doc.slots):
            raise UnknownSlot(f"doctor {doc.id!r} has no slot {index!r} (slots 0..{len(doc.slots) - 1})")
        return doc.slots[index]
