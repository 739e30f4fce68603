"""A corpus of bad scenario files, generated from the standard day's own fields.

Every leaf of ``experiments/standard_day.toml`` (a number, text, a list or a table, wherever it is nested)
gets, one at a time, a value of the wrong type, a negative value, NaN and a huge value; plus the whole-file
cases (missing, empty, binary, malformed TOML, an unknown field at the top and in a section).
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.cli.helpers import STANDARD

Path_ = tuple[str | int, ...]


def inline(value: Any) -> str:
    """``value`` as an inline TOML value (tables and arrays nested inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    raise TypeError(type(value))


def dumps(data: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(str(k))} = {inline(v)}\n" for k, v in data.items())


def leaves(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every value of the file with its path; tables and lists are visited too, then their members."""
    if path:
        yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for k, value in enumerate(node):
            yield from leaves(value, (*path, k))


def replaced(data: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {k: (replaced(v, rest, value) if k == head else v) for k, v in data.items()}
    return [replaced(v, rest, value) if k == head else v for k, v in enumerate(data)]


def wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return "twelve"
    if isinstance(value, str):
        return 7
    if isinstance(value, list):
        return {"not": "a list"}
    return [1, 2]  # a table


def dotted(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path))


def variants() -> Iterator[tuple[str, str | bytes | None]]:
    """(id, content) pairs; content None means the file does not exist."""
    base = tomllib.loads(STANDARD.read_text(encoding="utf-8"))
    yield "missing", None
    yield "empty", ""
    yield "binary", bytes(range(256)) * 4
    yield "malformed", "[doctors\ncount = 3\n"
    yield "unknown-top", dumps({**base, "colour": "blue"})
    yield "unknown-nested", dumps(replaced(base, ("clinic",), {**base["clinic"], "colour": 1}))
    for path, value in leaves(base):
        where = dotted(path)
        yield f"{where}=wrong-type", dumps(replaced(base, path, wrong_type(value)))
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield f"{where}=negative", dumps(replaced(base, path, -abs(value) - 1))
            yield f"{where}=nan", dumps(replaced(base, path, math.nan))
            huge: int | float = 10**18 if isinstance(value, int) else 1e300
            yield f"{where}=huge", dumps(replaced(base, path, huge))


def write_variant(folder: Path, ident: str, content: str | bytes | None) -> Path:
    path = folder / "day.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    return path
