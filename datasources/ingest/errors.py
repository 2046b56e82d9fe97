"""What a rejected write says: every problem of the batch at once, each naming the record and the field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_LISTED = 50  # problems listed in the message; all of them stay in ``IngestError.problems``


@dataclass(frozen=True)
class Problem:
    """One bad value: ``record`` is the 0-based position in the batch (or a key such as a code)."""

    record: int | str
    field: str | None
    value: Any
    reason: str

    def __str__(self) -> str:
        where = f"record {self.record}" + (f", field '{self.field}'" if self.field else "")
        shown = "" if self.value is None else f" (value {self.value!r})"
        return f"{where}: {self.reason}{shown}"


class IngestError(ValueError):
    """A batch was rejected before anything was written. ``kind`` names the entry (events, values…)."""

    def __init__(self, kind: str, problems: list[Problem]):
        self.kind = kind
        self.problems = problems
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"{self.kind}: {len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}, nothing written"
        lines = [str(p) for p in self.problems[:MAX_LISTED]]
        if len(self.problems) > MAX_LISTED:
            lines.append(f"… and {len(self.problems) - MAX_LISTED} more")
        return head + "\n  " + "\n  ".join(lines)

    def as_dicts(self) -> list[dict]:
        """The problems as plain dicts (for the API's error response)."""
        return [{"record": p.record, "field": p.field, "value": _jsonable(p.value), "reason": p.reason} for p in self.problems]


def _jsonable(v: Any) -> Any:
    return v if v is None or isinstance(v, (str, int, float, bool)) else str(v)
