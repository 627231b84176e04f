"""Embedded expression languages for user-supplied checks: sandboxed Lua and CEL.

Users bring health checks written for Argo CD (Lua) and Flux (CEL). This
package runs that code and nothing else: it knows no Kubernetes semantics
(what a status means is ``core.health.custom``'s business) and reads no
files. It sits below ``config`` and ``core`` so that both use the same
compilers: ``config`` to report a bad script at its line in the fleet file,
``core`` to evaluate it.

Public API:

- ``LuaSandbox(clock=..., limit=1.0)``: ``compile(source, name)`` (cached per
  source) and ``run(script, obj, open_libs=False)``; ``lua_syntax_problem``.
- ``compile_cel(expression)`` and ``CelProgram.evaluate(obj)`` (``CelInput(obj)``
  converts an object once for several expressions);
  ``cel_problem(expression)``.
- ``ScriptProblem`` (a compile error with its position) and ``ScriptFailure``
  (an evaluation that failed or ran out of time).

Nothing here performs I/O or reads a clock of its own: the time limit reads
the clock it is given.
"""

from gitopsd.scripting.cel import CelInput, CelProgram, cel_problem, compile_cel
from gitopsd.scripting.errors import ScriptFailure, ScriptProblem, ScriptTimeout
from gitopsd.scripting.lua import LuaResult, LuaSandbox, LuaScript, lua_syntax_problem

__all__ = [
    "CelInput",
    "CelProgram",
    "LuaResult",
    "LuaSandbox",
    "LuaScript",
    "ScriptFailure",
    "ScriptProblem",
    "ScriptTimeout",
    "cel_problem",
    "compile_cel",
    "lua_syntax_problem",
]
