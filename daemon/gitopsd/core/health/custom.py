"""User-supplied health checks (Argo CD Lua, Flux CEL) in front of the built-in ones.

``HealthChecks`` is built once from the fleet's ``HealthCheckSpec`` values
at the composition root and handed to every place that judges health (sync
waves, comparisons, watch events, hooks) as its ``assess``. Lookup follows
Argo CD: a configured check for the exact group and kind, then the first
configured wildcard that matches, then the same two steps for library checks
(a ``luaDirectory``), then gitopsd's built-in check (``dispatch``). The rules
for every kind (ignore annotations, pending deletion) hold before any check.

Results, as in Argo CD and Flux:

* Lua: the returned ``status`` must be a health status name; ``message`` is
  kept. A script that returns no status has no opinion and the built-in
  check decides. Errors, a wrong result and the time limit give Unknown
  with the reason; they never raise.
* CEL: ``inProgress``, then ``failed``, then ``current``; the first true one
  decides (Progressing, Degraded, Healthy); none true is Progressing. An
  evaluation error is Unknown.

This module decides what a script's answer means; it must not read files
(the specs carry the code) or a clock of its own (the Lua time limit reads
the clock it is given).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from gitopsd.core.health import fields
from gitopsd.core.health.dispatch import assess as builtin_assess
from gitopsd.core.health.dispatch import is_ignored
from gitopsd.errors import ConfigError, ConfigIssue
from gitopsd.model.health import Health, HealthStatus
from gitopsd.model.healthchecks import CheckTier, HealthCheckSpec
from gitopsd.scripting import (
    CelInput,
    CelProgram,
    LuaSandbox,
    LuaScript,
    ScriptFailure,
    ScriptProblem,
    compile_cel,
)

Assess = Callable[[Mapping[str, Any]], Health]

BUILT_IN = "built-in"
_STATUSES = {s.value: s for s in HealthStatus}


@dataclass(frozen=True)
class Verdict:
    """An object's health and the check that decided it (``built-in``, ``lua:...``, ``cel``)."""

    health: Health
    by: str


@dataclass(frozen=True)
class _Check:
    spec: HealthCheckSpec
    lua: LuaScript | None = None
    cel: tuple[tuple[HealthStatus, CelProgram], ...] = ()

    def matches(self, group: str, kind: str, api_version: str) -> bool:
        if self.spec.api_version and self.spec.api_version != api_version:
            return False
        return fnmatchcase(group, self.spec.group) and fnmatchcase(kind, self.spec.kind)


class HealthChecks:
    """The health of live objects through the configured checks, else the built-in ones.

    Not for concurrent use by threads (one Lua state is shared).
    """

    def __init__(self, specs: Sequence[HealthCheckSpec] = (), *,
                 clock: Callable[[], float] | None = None, limit: float = 1.0) -> None:
        self._sandbox: LuaSandbox | None = None
        if any(s.lua for s in specs):
            if clock is None:
                raise ValueError("Lua health checks need a clock for their time limit")
            self._sandbox = LuaSandbox(clock=clock, limit=limit)
        checks: list[_Check] = []
        issues: list[ConfigIssue] = []
        for spec in specs:
            try:
                checks.append(self._compile(spec))
            except _Problem as p:
                issues.append(ConfigIssue(spec.origin.file, spec.origin.line + p.problem.line - 1,
                                          p.field or spec.origin.field, p.problem.message))
        if issues:
            raise ConfigError(issues)
        self._ordered = _lookup_order(checks)
        self._found: dict[tuple[str, str], _Check | None] = {}

    def _compile(self, spec: HealthCheckSpec) -> _Check:
        if spec.cel is not None:
            programs: list[tuple[HealthStatus, CelProgram]] = []
            for status, field, expr in ((HealthStatus.PROGRESSING, "inProgress", spec.cel.in_progress),
                                        (HealthStatus.DEGRADED, "failed", spec.cel.failed),
                                        (HealthStatus.HEALTHY, "current", spec.cel.current)):
                if expr:
                    try:
                        programs.append((status, compile_cel(expr)))
                    except ScriptProblem as problem:
                        raise _Problem(problem, f"{spec.origin.field}.{field}") from None
            return _Check(spec, cel=tuple(programs))
        assert self._sandbox is not None
        try:
            return _Check(spec, lua=self._sandbox.compile(spec.lua, spec.name.removeprefix("lua:")))
        except ScriptProblem as problem:
            raise _Problem(problem, "") from None

    @property
    def empty(self) -> bool:
        return not self._ordered

    def check_for(self, api_version: str, kind: str) -> HealthCheckSpec | None:
        """The user's check that judges objects of this apiVersion and kind, if any."""
        found = self._find(api_version, kind)
        return None if found is None else found.spec

    def _find(self, api_version: str, kind: str) -> _Check | None:
        key = (api_version, kind)
        if key not in self._found:
            group = api_version.rpartition("/")[0]
            self._found[key] = next((c for c in self._ordered if c.matches(group, kind, api_version)),
                                    None)
        return self._found[key]

    def decide(self, obj: Mapping[str, Any]) -> Verdict:
        """Health of ``obj`` and which check decided it."""
        if not self._ordered or is_ignored(obj):
            return Verdict(builtin_assess(obj), BUILT_IN)
        found = self._find(fields.string(obj, "apiVersion"), fields.string(obj, "kind"))
        if found is None:
            return Verdict(builtin_assess(obj), BUILT_IN)
        opinion: list[bool] = []

        def check(o: Mapping[str, Any]) -> Health:
            h = self._run(found, o)
            if h is None:
                return builtin_assess(o)
            opinion.append(True)
            return h

        health = builtin_assess(obj, check)
        return Verdict(health, found.spec.name if opinion else BUILT_IN)

    def assess(self, obj: Mapping[str, Any]) -> Health:
        """Health of ``obj`` (the engine's ``assess``)."""
        return self.decide(obj).health

    def _run(self, check: _Check, obj: Mapping[str, Any]) -> Health | None:
        if check.lua is not None:
            assert self._sandbox is not None
            try:
                result = self._sandbox.run(check.lua, obj, open_libs=check.spec.use_open_libs)
            except ScriptFailure as exc:
                return Health(HealthStatus.UNKNOWN, str(exc))
            if not result.status:
                return None
            status = _STATUSES.get(result.status)
            if status is None:
                return Health(HealthStatus.UNKNOWN, f"{check.spec.name} returned the unknown "
                              f"status '{result.status[:40]}'")
            return Health(status, result.message)
        try:
            given = CelInput(obj)
            for status, program in check.cel:
                if program.evaluate(given):
                    return Health(status, _reason(obj) if status is not HealthStatus.HEALTHY else "")
        except ScriptFailure as exc:
            return Health(HealthStatus.UNKNOWN, f"cel: {exc}")
        return Health(HealthStatus.PROGRESSING, _reason(obj) or "no health expression is true yet")


class _Problem(Exception):
    def __init__(self, problem: ScriptProblem, field: str) -> None:
        self.problem = problem
        self.field = field


def _lookup_order(checks: Sequence[_Check]) -> tuple[_Check, ...]:
    """Configured exact, configured wildcard, library exact, library wildcard (stable)."""
    rank = {(CheckTier.CONFIGURED, False): 0, (CheckTier.CONFIGURED, True): 1,
            (CheckTier.LIBRARY, False): 2, (CheckTier.LIBRARY, True): 3}
    return tuple(sorted(checks, key=lambda c: rank[(c.spec.tier, c.spec.is_wildcard)]))


def _reason(obj: Mapping[str, Any]) -> str:
    """The Ready condition's reason and message, which a CEL check cannot state itself."""
    ready = fields.condition(obj, "Ready")
    return ready.explain() if ready is not None else ""


def builtin_checks() -> HealthChecks:
    """Checks with nothing configured: every object gets its built-in check."""
    return HealthChecks()
