"""Which engine build is imported: compiled (mypyc) when present and current, else the pure-Python source.

The compiled build is a set of extension modules beside the sources (``opdsim/engine/fold.cpython-*.so`` and
so on, built in place by ``build_engine.py``); Python imports an extension before a source of the same name.
``OPDSIM_PURE=1`` in the environment forces the pure build: a meta-path finder then loads these modules from
their ``.py`` files. So does a compiled module older than its source (a stale build, e.g. after an edit),
with a warning. Both builds behave identically; ``make test`` runs the engine suite under each.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["COMPILED_MODULES", "build", "install"]

#: The engine modules mypyc compiles (``records`` folds a log into the lifecycle records the metrics read); the
#: rest (errors, events, policy, types, rules, queries, engine, the package itself) stay interpreted: exception
#: classes, named tuples, enums, frozen dataclasses, protocols and the public boundary that must raise the
#: engine's own errors for any argument.
COMPILED_MODULES = (
    "_tree",
    "_state",
    "defaults",
    "choice",
    "fold",
    "timers",
    "rebalance",
    "aging",
    "views",
    "decide",
    "checks",
    "records",
)

_HERE = Path(__file__).resolve().parent
_PACKAGE = __name__.rpartition(".")[0]


def _compiled_files() -> dict[str, Path]:
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    found = {}
    for name in COMPILED_MODULES:
        for suffix in suffixes:
            path = _HERE / f"{name}{suffix}"
            if path.exists():
                found[name] = path
                break
    return found


class _SourceOnly(importlib.abc.MetaPathFinder):
    """Finds the compiled engine modules' ``.py`` sources, ignoring their extension modules."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != _PACKAGE or name not in COMPILED_MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, _HERE / f"{name}.py")


def _wants_pure() -> bool:
    if os.environ.get("OPDSIM_PURE", "") not in ("", "0"):
        return True
    compiled = _compiled_files()
    stale = [n for n, p in compiled.items() if p.stat().st_mtime < (_HERE / f"{n}.py").stat().st_mtime]
    if stale:
        warnings.warn(
            f"opdsim.engine: the compiled build is older than {', '.join(stale)}.py; using the pure-Python "
            "engine (run `make setup` to rebuild)",
            RuntimeWarning,
            stacklevel=3,
        )
        return True
    return bool(compiled) and len(compiled) < len(COMPILED_MODULES)  # a partial build is not used


def install() -> None:
    """Put the source-only finder first on ``sys.meta_path`` when the pure build is wanted (idempotent)."""
    if _wants_pure() and not any(isinstance(f, _SourceOnly) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceOnly())


def build() -> str:
    """``"compiled"`` or ``"pure"``: the build of the engine modules imported in this process."""
    fold = sys.modules.get(f"{_PACKAGE}.fold")
    if fold is None:
        import importlib

        fold = importlib.import_module(f"{_PACKAGE}.fold")
    return "pure" if str(fold.__file__).endswith(".py") else "compiled"
