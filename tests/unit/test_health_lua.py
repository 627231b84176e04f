"""The Lua sandbox for Argo CD health scripts: libraries, limits, isolation, Lua 5.1 idioms."""

from __future__ import annotations

import time

import pytest

from gitopsd.scripting import (
    LuaSandbox,
    ScriptFailure,
    ScriptProblem,
    ScriptTimeout,
    lua_syntax_problem,
)

OBJ = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
       "status": {"conditions": [{"type": "Ready", "status": "True"},
                                 {"type": "Synced", "status": "True"}]}}


@pytest.fixture
def sandbox() -> LuaSandbox:
    return LuaSandbox(clock=time.monotonic, limit=0.5)


def run(sandbox: LuaSandbox, source: str, obj: dict | None = None, **kw: bool) -> tuple[str, str]:
    result = sandbox.run(sandbox.compile(source, "test.lua"), OBJ if obj is None else obj, **kw)
    return result.status, result.message


def test_script_reads_obj_and_returns_status_and_message(sandbox: LuaSandbox) -> None:
    """The global obj holds the object; the returned table's status and message come back."""
    src = 'return {status = "Healthy", message = obj.metadata.name .. #obj.status.conditions}'
    assert run(sandbox, src) == ("Healthy", "w2")


def test_os_execute_is_refused(sandbox: LuaSandbox) -> None:
    """os.execute does not exist in the sandbox, while os.time does."""
    with pytest.raises(ScriptFailure, match="execute"):
        run(sandbox, "os.execute('touch /tmp/gitopsd-lua-was-here')")
    assert run(sandbox, "return {status = 'Healthy', message = type(os.time())}") == ("Healthy", "number")


@pytest.mark.parametrize("name", ["io", "debug", "require", "dofile", "loadfile", "python", "package"])
def test_dangerous_globals_are_absent(sandbox: LuaSandbox, name: str) -> None:
    """io, debug, require, dofile, loadfile and lupa's python bridge are nil in the sandbox."""
    assert run(sandbox, f"return {{status = 'Healthy', message = type({name})}}") == ("Healthy", "nil")


def test_open_libs_bring_io_and_require(sandbox: LuaSandbox) -> None:
    """useOpenLibs opens io, the whole os and require, but never debug."""
    src = ("return {status = 'Healthy', "
           "message = type(io) .. type(os.execute) .. type(require) .. type(debug)}")
    assert run(sandbox, src, open_libs=True) == ("Healthy", "tablefunctionfunctionnil")


def test_endless_loop_is_stopped_by_the_time_limit(sandbox: LuaSandbox) -> None:
    """A loop that never ends fails as a timeout soon after the limit."""
    started = time.monotonic()
    with pytest.raises(ScriptTimeout, match="time limit"):
        run(sandbox, "while true do end")
    assert time.monotonic() - started < 2.0


def test_timeout_cannot_be_caught_by_the_script(sandbox: LuaSandbox) -> None:
    """A script that catches the timeout with pcall and loops on is still stopped."""
    started = time.monotonic()
    with pytest.raises(ScriptTimeout):
        run(sandbox, "while true do pcall(function() while true do end end) end")
    assert time.monotonic() - started < 2.0


def test_time_limit_reads_the_injected_clock() -> None:
    """The limit is measured on the clock the sandbox is given, not on a clock of its own."""
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    sandbox = LuaSandbox(clock=clock, limit=5.0, hook_every=100)
    with pytest.raises(ScriptTimeout):
        run(sandbox, "local i = 0 while true do i = i + 1 end")
    assert now[0] < 20


def test_sandbox_works_after_a_timeout(sandbox: LuaSandbox) -> None:
    """After a stopped script the next evaluation runs normally."""
    with pytest.raises(ScriptTimeout):
        run(sandbox, "while true do end")
    assert run(sandbox, "return {status = 'Healthy'}") == ("Healthy", "")


def test_no_state_is_carried_between_evaluations(sandbox: LuaSandbox) -> None:
    """Globals and changes to library tables made by one evaluation are gone in the next."""
    src = """
    counter = (counter or 0) + 1
    local seen = tostring(string.marker)
    string.marker = "set"
    table.insert = nil
    return {status = "Healthy", message = counter .. seen}
    """
    assert run(sandbox, src) == ("Healthy", "1nil")
    assert run(sandbox, src) == ("Healthy", "1nil")
    src = "return {status = 'Healthy', message = type(table.insert)}"
    assert run(sandbox, src) == ("Healthy", "function")


def test_string_metatable_gives_no_way_to_the_shared_library(sandbox: LuaSandbox) -> None:
    """getmetatable on a string is locked, so scripts cannot change the real string library."""
    assert run(sandbox, "return {status = 'Healthy', message = tostring(getmetatable(''))}") == (
        "Healthy", "false")


def test_library_tables_cannot_be_reached_through_their_metatables(sandbox: LuaSandbox) -> None:
    """getmetatable on a library table is locked, so the shared copy behind it stays untouched."""
    src = "return {status = 'Healthy', message = tostring(getmetatable(string)) .. type(string.upper)}"
    assert run(sandbox, src) == ("Healthy", "falsefunction")
    with pytest.raises(ScriptFailure):
        run(sandbox, "getmetatable(table).__index.insert = nil")
    src = "return {status = 'Healthy', message = type(table.insert)}"
    assert run(sandbox, src) == ("Healthy", "function")


def test_load_compiles_text_into_the_sandbox(sandbox: LuaSandbox) -> None:
    """load and loadstring compile text whose globals are the sandbox's, never bytecode."""
    src = "local f = loadstring('return io'); return {status = 'Healthy', message = type(f())}"
    assert run(sandbox, src) == ("Healthy", "nil")
    with pytest.raises(ScriptFailure):
        run(sandbox, "local f = assert(load(string.dump(function() end))) f()")


def test_lua51_style_script_runs_unchanged(sandbox: LuaSandbox) -> None:
    """A script written for Argo CD's Lua 5.1 with table.getn, unpack and math.pow works."""
    src = """
    local hs = {}
    local n = table.getn(obj.status.conditions)
    local first, second = unpack(obj.status.conditions)
    if n == 2 and first.type == "Ready" and second.status == "True" and math.pow(2, 3) == 8 then
      hs.status = "Healthy"
      hs.message = "all " .. n .. " conditions"
      return hs
    end
    hs.status = "Progressing"
    return hs
    """
    assert run(sandbox, src) == ("Healthy", "all 2 conditions")


def test_goto_works(sandbox: LuaSandbox) -> None:
    """goto and labels (which gopher-lua accepts) work."""
    src = """
    local ready = 0
    for _, c in ipairs(obj.status.conditions) do
      if c.type ~= "Ready" then goto continue end
      ready = ready + 1
      ::continue::
    end
    return {status = "Healthy", message = tostring(ready)}
    """
    assert run(sandbox, src) == ("Healthy", "1")


def test_runtime_error_is_a_failure_with_the_line(sandbox: LuaSandbox) -> None:
    """A script error fails the evaluation with the script's name, line and reason."""
    with pytest.raises(ScriptFailure, match=r"test.lua:2: attempt to index a nil value"):
        run(sandbox, "local x = nil\nreturn x.y")


def test_script_without_a_table_fails(sandbox: LuaSandbox) -> None:
    """Returning something other than a table is a failure; returning nothing is no status."""
    with pytest.raises(ScriptFailure, match="not a table"):
        run(sandbox, "return 'Healthy'")
    assert run(sandbox, "local x = 1") == ("", "")


def test_memory_is_bounded() -> None:
    """A script that allocates without end fails instead of exhausting the host."""
    sandbox = LuaSandbox(clock=time.monotonic, limit=5.0, max_memory=16 << 20)
    with pytest.raises(ScriptFailure, match="memory"):
        run(sandbox, "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 4096) .. i end")
    assert run(sandbox, "return {status = 'Healthy'}") == ("Healthy", "")


def test_compiled_chunks_are_cached_per_script(sandbox: LuaSandbox) -> None:
    """Compiling the same script twice returns the same compiled chunk."""
    src = "return {status = 'Healthy'}"
    assert sandbox.compile(src, "a.lua") is sandbox.compile(src, "a.lua")


def test_syntax_error_has_its_line() -> None:
    """A syntax error is a ScriptProblem with the 1-based line inside the script."""
    problem = lua_syntax_problem("local a = 1\nlocal b = 2\nif a then\n", "x.lua")
    assert problem is not None
    assert problem.line == 4
    assert "'end' expected" in problem.message
    assert lua_syntax_problem("return {status = 'Healthy'}") is None
    with pytest.raises(ScriptProblem):
        LuaSandbox(clock=time.monotonic).compile("return {", "y.lua")
