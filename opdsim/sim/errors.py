"""The one error type of scenario configuration and distributions."""

from __future__ import annotations

from opdsim.engine.errors import OpdsimError

__all__ = ["ScenarioError", "join_field"]


def join_field(prefix: str, field: str) -> str:
    """Join a dotted field path: ``join_field("demand.walk_in", "rate_per_hour[3]")``.

    An index (``"[3]"``) attaches without a dot; an empty part is left out.
    """
    if not prefix:
        return field
    if not field:
        return prefix
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}"


class ScenarioError(OpdsimError, ValueError):
    """A scenario or distribution is malformed.

    The message reads ``"<source>: <dotted field>: <detail>"``, for example
    ``"standard_day.toml: demand.walk_in.rate_per_hour[3]: -2 is negative"``; parts that are unknown are left
    out.

    Parameters
    ----------
    field : str
        Dotted path of the offending field (``""`` when the whole input is at fault).
    detail : str
        What is wrong, naming the value.
    source : str or None
        The file (or ``"<dict>"``) the configuration came from.
    """

    def __init__(self, field: str, detail: str, source: str | None = None) -> None:
        self.field = field
        self.detail = detail
        self.source = source
        super().__init__(": ".join(part for part in (source, field, detail) if part))

    def __reduce__(self) -> tuple[type[ScenarioError], tuple[str, str, str | None]]:
        # keep the error picklable across worker processes despite the custom signature
        return (ScenarioError, (self.field, self.detail, self.source))

    def within(self, prefix: str) -> ScenarioError:
        """The same error with its field nested under ``prefix``."""
        return ScenarioError(join_field(prefix, self.field), self.detail, self.source)

    def from_source(self, source: str) -> ScenarioError:
        """The same error attributed to ``source`` (kept if one is set already)."""
        return ScenarioError(self.field, self.detail, self.source or source)
