"""What a check reports: findings with a rule id, a severity, a message and a fix hint.

Every check of ``gitopsd validate`` (YAML syntax, schemas, policy, cluster
dry-runs) speaks in these values, so the output formats and the exit code
depend on one shape. Messages name fields, kinds and paths, never values that
could come from a Secret. This module only defines values; it runs no checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How much a finding matters; ``error`` and ``warning`` fail validation, ``note`` does not."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"

    @property
    def fails(self) -> bool:
        return self is not Severity.NOTE


@dataclass(frozen=True)
class Rule:
    """A rule's catalogue entry: id, default severity, one-line summary and fix hint."""

    id: str
    severity: Severity
    summary: str
    hint: str


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at one place: ``file`` is repository-relative, ``line`` 1-based (0 = unknown).

    ``subject`` names the object (``Deployment web/api``) when there is one.
    Findings sort by file, line, rule and message.
    """

    file: str
    line: int
    rule: str
    message: str
    severity: Severity = Severity.ERROR
    hint: str = ""
    subject: str = ""


def finding(rule: Rule, message: str, *, file: str, line: int, subject: str = "",
            severity: Severity | None = None, hint: str | None = None) -> Finding:
    """A finding of RULE with its catalogue severity and hint unless overridden."""
    return Finding(file=file, line=line, rule=rule.id, message=message,
                   severity=severity or rule.severity,
                   hint=rule.hint if hint is None else hint, subject=subject)
