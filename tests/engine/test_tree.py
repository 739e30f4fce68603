"""The per-rank index of callable tokens (``RankTree``) against a plain dictionary of positions and values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opdsim.engine._tree import RankTree

#: An operation: (kind, position, value). Positions run past the initial size of 64, so the tree also grows; a
#: reset (applied when the tree is empty, as the engine does when a doctor's queue empties) shrinks it again.
OPS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "remove", "add", "add", "reset"]),
        st.integers(0, 140),
        st.integers(-3, 12),
    ),
    max_size=120,
)


def _check(tree: RankTree, model: dict[int, int]) -> None:
    assert len(tree) == len(model)
    for pos, value in model.items():
        assert tree.value(pos) == value, pos
    if model:
        assert tree.first() == min(model)
    due = [p for p, v in sorted(model.items()) if v <= 0]
    assert tree.due() == (due[0] if due else None)
    for pos in (0, 1, 63, 64, 65, 127, 128, 200):
        assert tree.count_before(pos) == sum(p < pos for p in model), pos


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_the_tree_agrees_with_a_dictionary_of_positions(ops: list[tuple[str, int, int]]) -> None:
    tree = RankTree()
    model: dict[int, int] = {}
    for kind, pos, value in ops:
        if kind == "insert" and pos not in model:
            tree.insert(pos, value)
            model[pos] = value
        elif kind == "remove" and pos in model:
            assert tree.remove(pos) == model.pop(pos)
        elif kind == "add":
            delta = -1 if value % 2 else 1
            tree.add_prefix(pos, delta)
            for p in model:
                if p < pos:
                    model[p] += delta
        elif kind == "reset" and not model:
            tree.reset()
            assert tree.size == 64
        _check(tree, model)


def test_an_add_over_free_positions_only_does_not_reach_a_later_insert() -> None:
    # the add is skipped when nothing is occupied below the bound; a token inserted there later has its own value
    tree = RankTree()
    tree.insert(10, 5)
    tree.add_prefix(10, -1)  # position 10 is not below 10: unchanged
    tree.add_prefix(4, -1)  # nothing occupied below 4
    tree.insert(2, 3)
    assert (tree.value(2), tree.value(10)) == (3, 5)
    tree.add_prefix(11, -1)  # both below 11
    assert (tree.value(2), tree.value(10)) == (2, 4)
    tree.add_prefix(3, -3)  # only position 2
    assert (tree.value(2), tree.value(10)) == (-1, 4)
    assert tree.due() == 2


def test_a_reset_makes_a_grown_tree_small_and_refuses_a_tree_that_holds_a_token() -> None:
    tree = RankTree()
    tree.insert(300, 4)
    assert tree.size == 512
    with pytest.raises(AssertionError, match="still holds a token"):
        tree.reset()
    tree.add_prefix(301, -2)  # leaves a pending add on the path of 300
    assert tree.remove(300) == 2
    tree.reset()
    assert (tree.size, len(tree), tree.due()) == (64, 0, None)
    tree.insert(5, 1)  # positions start again from 0, in a tree of the first size
    assert (tree.value(5), tree.first(), tree.count_before(6)) == (1, 5, 1)
