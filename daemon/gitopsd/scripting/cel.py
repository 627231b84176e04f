"""CEL expressions over a Kubernetes object, as Flux's ``healthCheckExprs`` evaluate them.

The library is ``cel-expr-python``: the CEL team's Python binding of the C++
reference implementation (cel-cpp). Chosen over ``cel-python`` (pure Python,
about 80 times slower per evaluation here, and its parser lacks the
optional-field syntax ``status.?conditions.orValue([])`` that Flux users
write) and ``common-expression-language`` (Rust bindings, fast, but no
optional syntax either and it pulls a CLI stack: typer, rich,
prompt-toolkit). It type-checks at compile time, so an unknown variable or
a misspelt function is a compile error with line and column, and it has no
runtime dependencies.

As in Flux, the object's top-level fields are the variables (``metadata``,
``spec``, ``status``, ...); an expression must yield a bool. Extensions:
strings, math, encoders, optional types and ``cel.bind``. A top-level map the
object lacks (a new custom resource without ``status``) is bound to an empty
map, so ``has(status.phase)`` and ``status.?phase`` work before the
controller writes a status; any other missing field is an evaluation error
(``ScriptFailure``), which the caller turns into Unknown health, as Flux
reports an error. CEL always terminates, so there is no time limit.
This module must not decide health: it answers true or false.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_encoders, ext_math, ext_optional, ext_strings

from gitopsd.scripting.errors import ScriptFailure, ScriptProblem

VARIABLES = ("apiVersion", "kind", "metadata", "spec", "status", "data")
"""Top-level fields of an object that expressions may name."""

_MAPS = ("metadata", "spec", "status", "data")

_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): ([^\n]*)")
_CODE = re.compile(r"^[A-Z_]+: ")

_environment: Any = None


def _env() -> Any:
    global _environment
    if _environment is None:
        _environment = cel.NewEnv(
            variables=dict.fromkeys(VARIABLES, cel.Type.DYN),
            extensions=[ext_strings.ExtStrings(), ext_math.ExtMath(), ext_encoders.ExtEncoders(),
                        ext_optional.ExtOptional(), ext_bindings.ExtBindings()])
    return _environment


def _problem(message: str) -> ScriptProblem:
    m = _ERROR.search(message)
    if m is None:
        return ScriptProblem(1, message.split("\n", 1)[0])
    return ScriptProblem(int(m.group(1)), m.group(3).strip(), int(m.group(2)))


class CelInput:
    """An object converted once for several expressions (Flux evaluates up to three)."""

    def __init__(self, obj: Mapping[str, Any]) -> None:
        data = {name: obj[name] for name in VARIABLES if name in obj}
        for name in _MAPS:
            data.setdefault(name, {})
        try:
            self.activation = _env().Activation(data=data)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise ScriptFailure(f"cannot pass the object to CEL: {str(exc).splitlines()[0]}") from None


@dataclass(frozen=True)
class CelProgram:
    """One compiled expression; ``evaluate`` may be called from one thread at a time."""

    expression: str
    program: Any

    def evaluate(self, obj: Mapping[str, Any] | CelInput) -> bool:
        """The expression's value for ``obj``; raises ``ScriptFailure`` when it has none."""
        given = obj if isinstance(obj, CelInput) else CelInput(obj)
        try:
            value = self.program.eval(given.activation)
            kind = value.type().name()
            result = value.plain_value()
        except (RuntimeError, ValueError, TypeError) as exc:
            raise ScriptFailure(str(exc).split("\n", 1)[0]) from None
        if kind == "ERROR":
            raise ScriptFailure(_CODE.sub("", str(result).split("\n", 1)[0]))
        if not isinstance(result, bool):
            raise ScriptFailure(f"the expression gave {kind.lower()}, not a bool")
        return result


def compile_cel(expression: str) -> CelProgram:
    """``expression`` compiled and type-checked; raises ``ScriptProblem`` with line and column."""
    try:
        program = _env().compile(expression)
    except (RuntimeError, ValueError) as exc:
        raise _problem(str(exc)) from None
    kind = program.return_type().name()
    if kind not in ("BOOL", "DYN"):
        raise ScriptProblem(1, f"the expression gives {kind.lower()}; it must give a bool", 1)
    return CelProgram(expression, program)


def cel_problem(expression: str) -> ScriptProblem | None:
    """Why ``expression`` does not compile, or None."""
    try:
        compile_cel(expression)
    except ScriptProblem as problem:
        return problem
    return None
