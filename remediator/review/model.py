"""Rules and issues of the review."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from remediator.review.context import ReviewContext


class Severity(IntEnum):
    note = 1
    warning = 2
    error = 3

    @property
    def sarif(self) -> str:
        return {1: "note", 2: "warning", 3: "error"}[int(self)]


@dataclass(frozen=True)
class Issue:
    rule: str
    severity: Severity
    message: str
    hint: str
    file: str
    line: int
    subject: str  # "Deployment shop/web container app": what the issue is about

    @property
    def key(self) -> str:
        """Stable identity across runs (for updating rather than repeating review comments)."""
        import hashlib

        return hashlib.sha256(f"{self.rule}|{self.file}|{self.subject}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    summary: str
    check: Callable[[ReviewContext], list[Issue]]
