"""What can go wrong with a user's script, as plain values and exceptions.

A ``ScriptProblem`` is found before anything runs (a syntax or type error)
and carries its position inside the script, so callers can add the offset of
the script in its file. A ``ScriptFailure`` is one evaluation that did not
produce a value; the caller decides what that means (Unknown health).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ScriptProblem(Exception):
    """A script that does not compile: 1-based line (and column when known) inside it."""

    line: int
    message: str
    column: int = 0

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class ScriptFailure(Exception):
    """One evaluation failed: a runtime error, a wrong result type or exhausted memory."""


class ScriptTimeout(ScriptFailure):
    """One evaluation ran past its time limit and was stopped."""
