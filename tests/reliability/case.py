"""One bad-input case of the reliability suite: what is wrong and what the user gets."""

from __future__ import annotations

from dataclasses import dataclass

WARNING = "warning"


@dataclass(frozen=True)
class Case:
    id: str
    input: str  # what is wrong, for the README
    expected: str  # the exact one-line message (without line:col); a trailing '…' = its start
    kind: type | str = WARNING  # the error class, or WARNING for a logged warning
    sql: str = ""  # the statement, for statement and data cases

    def matches(self, message: str) -> bool:
        if self.expected.endswith("…"):
            return message.startswith(self.expected[:-1])
        return message == self.expected

    @property
    def behaviour(self) -> str:
        kind = self.kind if isinstance(self.kind, str) else self.kind.__name__
        code = f"`` {self.expected} ``" if "`" in self.expected else f"`{self.expected}`"
        return f"{kind}: {code}"
