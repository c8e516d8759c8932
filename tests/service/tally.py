"""What a schemathesis run did, kept on the pytest config so the terminal summary can print it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest


@dataclass
class Tally:
    """What the run did: cases per operation, statuses seen, and each distinct failure."""

    operations: int
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: dict[str, set[str]] = field(default_factory=dict)

    def record(self, operation: str, status: int) -> None:
        self.statuses.setdefault(operation, Counter())[status] += 1

    @property
    def cases(self) -> int:
        return sum(sum(seen.values()) for seen in self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for seen in self.statuses.values() for status, n in seen.items() if status >= 500)

    def without_success(self) -> list[str]:
        """Return the operations that never answered 2xx: their requests never got through."""
        return [op for op, seen in self.statuses.items() if not any(200 <= s < 300 for s in seen)]

    def summary(self) -> list[str]:
        failed = sum(len(titles) for titles in self.failures.values())
        lines = [
            f"{len(self.statuses)} of {self.operations} operations, {self.cases} cases, "
            f"{self.server_errors} server errors, {failed} check failures"
        ]
        for operation, seen in sorted(self.statuses.items(), key=lambda item: item[0].split()[::-1]):
            statuses = ", ".join(f"{status}: {n}" for status, n in sorted(seen.items()))
            lines.append(f"  {operation}: {sum(seen.values())} cases ({statuses})")
        return lines


TALLY = pytest.StashKey[Tally]()
