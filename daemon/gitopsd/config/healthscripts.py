"""Shared by the readers of health checks: where a script starts, selectors, Lua specs.

A script's syntax is checked where it is read, so that its error names the
file and line where the user wrote it. This module must not run a script.
"""

from __future__ import annotations

from yaml.nodes import Node, ScalarNode

from gitopsd.config.reader import Reader
from gitopsd.config.yamlpos import line_of
from gitopsd.errors import ConfigIssue
from gitopsd.model.healthchecks import CheckTier, HealthCheckSpec, ScriptOrigin
from gitopsd.scripting import lua_syntax_problem

__all__ = ["lua_spec", "script_line", "split_selector"]


def script_line(node: Node) -> int:
    """1-based line of the first line of a script written as the scalar ``node``."""
    block = isinstance(node, ScalarNode) and node.style in ("|", ">")
    return line_of(node) + (1 if block else 0)


def split_selector(text: str) -> tuple[str, str] | None:
    """``group/kind`` (or a core kind alone) as (group, kind) globs; None when malformed."""
    group, slash, kind = text.rpartition("/")
    if not kind or (not slash and not kind[:1].isupper() and kind[:1] not in "*?["):
        return None
    return group, kind


def lua_spec(r: Reader, *, selector: tuple[str, str], name: str, source: str, origin: ScriptOrigin,
             open_libs: bool = False, tier: CheckTier = CheckTier.CONFIGURED) -> HealthCheckSpec | None:
    """A Lua check, or None after reporting its syntax error where the script was written."""
    problem = lua_syntax_problem(source, name.removeprefix("lua:"))
    if problem is not None:
        r.log.add(ConfigIssue(origin.file, origin.line + problem.line - 1, origin.field,
                              f"Lua syntax error: {problem.message}"))
        return None
    return HealthCheckSpec(group=selector[0], kind=selector[1], name=name, origin=origin,
                           lua=source, use_open_libs=open_libs, tier=tier)
