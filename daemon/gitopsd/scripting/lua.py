"""Sandboxed Lua for Argo CD-style health scripts: Lua 5.4 with the Lua 5.1 idioms they use.

Argo CD runs health scripts in gopher-lua (Lua 5.1 that also accepts
``goto``). Here they run in Lua 5.4 from ``lupa`` (``lupa.lua54``: LuaJIT
would also parse 5.1, but it has no ``goto`` and it aborts the process under
systemd's ``MemoryDenyWriteExecute``), with shims for the 5.1 names such
scripts call: ``unpack``, ``table.getn``, ``table.maxn``, ``math.pow``,
``math.log10``, ``loadstring``.

The sandbox, per evaluation:

* a fresh global table holding ``obj`` and, for each safe library, a fresh
  empty table that reads through to a private copy of it (its metatable is
  locked), so nothing a script stores or changes (globals, ``string.x = ...``,
  ``table.insert = nil``) reaches the next one; the shared string metatable is
  locked too (``getmetatable("")`` is false), so strings give no way to a
  library table; ``pairs(string)`` therefore lists nothing;
* only base (without ``dofile``, ``loadfile``, ``require``, ``collectgarbage``;
  ``load``/``loadstring`` compile text into the sandbox itself; ``print`` does
  nothing), ``table``, ``string``, ``math`` and ``os.time``/``os.date``/
  ``os.clock``/``os.difftime``. ``open_libs`` (Argo CD's ``useOpenLibs``) adds
  ``io``, the whole ``os``, ``package``/``require``, ``coroutine``, ``utf8``,
  ``dofile``, ``loadfile`` and ``print``; ``debug`` is never reachable, since
  the time limit depends on the hook it could remove;
* a time limit enforced by an instruction-count hook that reads the injected
  clock every ``hook_every`` instructions (no thread, no signal); once the
  limit has passed every further instruction fails, so a script cannot catch
  the error and go on. C functions are not interrupted; ``max_memory`` bounds
  what they can allocate.

Each source is compiled once (``compile`` caches per source text). This
module must not interpret results: it hands back the ``status`` and
``message`` fields as strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lupa import lua54

from gitopsd.scripting.errors import ScriptFailure, ScriptProblem, ScriptTimeout

_TIMEOUT = "gitopsd: health check ran past its time limit"

_PRELUDE = r"""
return function(clock, every, timeout_message)
  local G, load, type, pairs, ipairs, error, setmetatable = _G, load, type, pairs, ipairs, error, setmetatable
  local sethook = debug.sethook
  debug = nil
  package.loaded.debug = nil
  getmetatable("").__metatable = false

  local BASE = {"assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
                "rawlen", "rawset", "select", "setmetatable", "getmetatable", "tonumber",
                "tostring", "type", "xpcall", "_VERSION"}
  local OPEN_LIBS = {"io", "os", "package", "coroutine", "utf8"}
  local OPEN_BASE = {"dofile", "loadfile", "require", "print", "collectgarbage"}
  local unpack = table.unpack
  local function copy(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return c
  end
  local function nothing() end

  -- The safe libraries with the Lua 5.1 shims, built once; each evaluation gets empty
  -- tables that read through to them, so what a script writes stays in its own tables.
  local LIBS = {string = copy(string), table = copy(table), math = copy(math),
                os = {time = os.time, date = os.date, clock = os.clock, difftime = os.difftime}}
  LIBS.table.getn = function(t) return #t end
  LIBS.table.maxn = function(t)
    local n = 0
    for k in pairs(t) do if type(k) == "number" and k > n then n = k end end
    return n
  end
  LIBS.math.pow = function(x, y) return x ^ y end
  LIBS.math.log10 = function(x) return math.log(x, 10) end
  local READ_THROUGH = {}
  for name, lib in pairs(LIBS) do READ_THROUGH[name] = {__index = lib, __metatable = false} end

  local function new_env(obj, open)
    local env = {}
    for _, k in ipairs(BASE) do env[k] = G[k] end
    for name, mt in pairs(READ_THROUGH) do env[name] = setmetatable({}, mt) end
    env.print = nothing
    if open then
      for _, k in ipairs(OPEN_LIBS) do env[k] = copy(G[k]) end
      for _, k in ipairs(OPEN_BASE) do env[k] = G[k] end
    end
    env.load = function(chunk, name, mode, e) return load(chunk, name, "t", e or env) end
    env.loadstring = env.load
    env.unpack = unpack
    env._G = env
    env.obj = obj
    return env
  end

  local function syntax(src, name)
    local fn, err = load(src, name, "t", {})
    if fn then return nil end
    return err
  end

  local function compile(src, name)
    local factory, err = load("return function(_ENV, ...) " .. src .. "\nend", name, "t", {})
    if not factory then return nil, err end
    return factory(), nil
  end

  local deadline = 0
  local function expired() error(timeout_message, 0) end
  local function hook()
    if clock() > deadline then
      sethook(expired, "", 1)
      error(timeout_message, 0)
    end
  end
  local function arm(d)
    deadline = d
    sethook(hook, "", every)
  end
  return {new_env = new_env, syntax = syntax, compile = compile, arm = arm, disarm = sethook}
end
"""

_POSITION = re.compile(r"^(?:.*?):(\d+): (.*)$", re.S)


def _first_line(error: BaseException) -> str:
    return str(error).split("\nstack traceback:", 1)[0].strip()


def _problem(message: str) -> ScriptProblem:
    m = _POSITION.match(message)
    if m is None:
        return ScriptProblem(1, message)
    return ScriptProblem(int(m.group(1)), m.group(2).strip())


@dataclass(frozen=True)
class LuaScript:
    """A compiled script of one sandbox; ``name`` appears in its error messages."""

    name: str
    function: Any


@dataclass(frozen=True)
class LuaResult:
    """What a script returned: ``status`` is "" when it returned no status at all."""

    status: str
    message: str


def _runtime(max_memory: int | None) -> Any:
    return lua54.LuaRuntime(register_eval=False, register_builtins=False,
                            unpack_returned_tuples=True, max_memory=max_memory)


_syntax_checker: Any = None


def lua_syntax_problem(source: str, name: str = "script") -> ScriptProblem | None:
    """The first syntax error of ``source`` with its line, or None; nothing is run."""
    global _syntax_checker
    if _syntax_checker is None:
        _syntax_checker = _runtime(None).execute(_PRELUDE)(lambda: 0.0, 1_000_000, _TIMEOUT)
    err = _syntax_checker.syntax(source, "=" + name)
    return None if err is None else _problem(str(err))


class LuaSandbox:
    """One Lua state for many scripts and evaluations; not for concurrent use by threads."""

    def __init__(self, *, clock: Callable[[], float], limit: float = 1.0,
                 max_memory: int = 64 << 20, hook_every: int = 10_000) -> None:
        self.clock = clock
        self.limit = limit
        self._lua = _runtime(max_memory)
        self._env = self._lua.execute(_PRELUDE)(clock, hook_every, _TIMEOUT)
        self._cache: dict[tuple[str, str], LuaScript] = {}

    def compile(self, source: str, name: str) -> LuaScript:
        """``source`` compiled (once per source and name); raises ``ScriptProblem``."""
        key = (source, name)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        err = self._env.syntax(source, "=" + name)
        if err is not None:
            raise _problem(str(err))
        function, err = self._env.compile(source, "=" + name)
        if function is None:
            raise _problem(str(err))
        script = LuaScript(name, function)
        self._cache[key] = script
        return script

    def run(self, script: LuaScript, obj: Mapping[str, Any], *, open_libs: bool = False) -> LuaResult:
        """Evaluate ``script`` with global ``obj``; raises ``ScriptFailure`` or ``ScriptTimeout``."""
        deadline = self.clock() + self.limit
        try:
            env = self._env.new_env(self._lua.table_from(obj, recursive=True), open_libs)
            self._env.arm(deadline)
            try:
                result = script.function(env)
            finally:
                self._env.disarm()
        except lua54.LuaError as exc:
            message = _first_line(exc)
            if message == _TIMEOUT or self.clock() > deadline:
                raise ScriptTimeout(f"{script.name}: health check exceeded its {self.limit:g}s "
                                    "time limit") from None
            if isinstance(exc, lua54.LuaMemoryError):
                message = "not enough memory"
            raise ScriptFailure(message) from None
        return _result(script, result)


def _result(script: LuaScript, result: Any) -> LuaResult:
    if result is None:
        return LuaResult("", "")
    if lua54.lua_type(result) != "table":
        raise ScriptFailure(f"{script.name}: the script returned a {lua54.lua_type(result) or 'value'}"
                            ", not a table")
    status, message = result["status"], result["message"]
    if status is not None and not isinstance(status, str):
        raise ScriptFailure(f"{script.name}: status must be a string")
    return LuaResult(status or "", "" if message is None else str(message))
