"""Build the optional compiled engine in place with mypyc: ``python build_engine.py`` (``make setup`` runs it).

The engine's source stays the pure-Python fallback; this compiles the modules listed in
``opdsim.engine._build.COMPILED_MODULES`` to C extensions placed beside their sources (one shared library,
``opdsim/engine/_native__mypyc.*.so``, holds the code; one small extension per module loads it). Python then
imports the extensions first.

* ``OPDSIM_PURE=1`` skips the build and removes a previous one (and, at import, forces the pure engine);
* without a C compiler or mypyc the build is skipped with a message and the pure engine is used;
* ``python build_engine.py --clean`` removes the compiled files.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ENGINE = ROOT / "opdsim" / "engine"


def _compiled_modules() -> tuple[str, ...]:
    """``opdsim.engine._build.COMPILED_MODULES``, from that file alone: importing the package would load the
    stale compiled modules this build replaces (``_build`` itself imports only the standard library)."""
    spec = importlib.util.spec_from_file_location("_opdsim_engine_build", ENGINE / "_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.COMPILED_MODULES)


MODULES = _compiled_modules()


def clean() -> int:
    removed = 0
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        for path in ENGINE.glob(f"*{suffix}"):
            path.unlink()
            removed += 1
    shutil.rmtree(ROOT / "build" / "mypyc", ignore_errors=True)
    return removed


def main(argv: list[str]) -> int:
    if "--clean" in argv or os.environ.get("OPDSIM_PURE", "") not in ("", "0"):
        n = clean()
        print(f"build_engine: pure-Python engine ({n} compiled files removed)")
        return 0
    compiler = sysconfig.get_config_var("CC") or "cc"
    if shutil.which(compiler.split()[0]) is None:
        print(f"build_engine: no C compiler ({compiler}); using the pure-Python engine")
        return 0
    try:
        from mypyc.build import mypycify
        from setuptools import Distribution
    except ImportError:
        print("build_engine: mypyc is not installed (pip install mypy); using the pure-Python engine")
        return 0
    clean()
    t0 = time.perf_counter()
    cwd = os.getcwd()
    os.chdir(ROOT)  # mypyc names modules by their paths relative to the working directory
    try:
        paths = [f"opdsim/engine/{m}.py" for m in MODULES]
        ext = mypycify(paths, opt_level="3", group_name="opdsim.engine._native", target_dir="build/mypyc")
        dist = Distribution({"name": "opdsim-engine-native", "ext_modules": ext})
        cmd = dist.get_command_obj("build_ext")
        cmd.inplace = True
        cmd.parallel = os.cpu_count() or 1
        dist.run_command("build_ext")
    finally:
        os.chdir(cwd)
    print(f"build_engine: compiled {len(MODULES)} engine modules with mypyc in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
