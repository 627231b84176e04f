"""User health checks in front of the built-in ones: lookup order, Lua results, Flux CEL rules."""

from __future__ import annotations

import time

import pytest

from gitopsd.core.health.custom import BUILT_IN, HealthChecks
from gitopsd.errors import ConfigError
from gitopsd.model import HealthStatus
from gitopsd.model.healthchecks import CelExprs, CheckTier, HealthCheckSpec, ScriptOrigin
from gitopsd.scripting import cel_problem, compile_cel

ORIGIN = ScriptOrigin("fleet.yaml", 10, "health[x]")


def lua(group: str, kind: str, status: str, *, name: str = "", tier: CheckTier = CheckTier.CONFIGURED,
        message: str = "") -> HealthCheckSpec:
    src = f'return {{status = "{status}", message = "{message or name}"}}'
    return HealthCheckSpec(group, kind, f"lua:{name or group + '/' + kind}", ORIGIN, lua=src, tier=tier)


def cel(group: str, kind: str, current: str, in_progress: str = "", failed: str = "",
        api_version: str = "") -> HealthCheckSpec:
    return HealthCheckSpec(group, kind, "cel", ORIGIN, cel=CelExprs(current, in_progress, failed),
                           api_version=api_version)


def obj(api_version: str = "example.com/v1", kind: str = "Widget", **status: object) -> dict:
    body: dict = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w", "namespace": "n"}}
    if status:
        body["status"] = dict(status)
    return body


def checks(*specs: HealthCheckSpec) -> HealthChecks:
    return HealthChecks(specs, clock=time.monotonic)


def test_exact_beats_wildcard_beats_library_beats_builtin() -> None:
    """Configured exact wins over configured wildcard, which wins over library checks and built-in."""
    hc = checks(lua("*", "*", "Suspended", name="wild"),
                lua("example.com", "Widget", "Degraded", name="lib-exact", tier=CheckTier.LIBRARY),
                lua("example.com", "Widget", "Progressing", name="exact"))
    assert hc.decide(obj()).by == "lua:exact"
    assert hc.decide(obj(kind="Gadget")).by == "lua:wild"
    hc = checks(lua("example.com", "Widget", "Degraded", name="lib-exact", tier=CheckTier.LIBRARY),
                lua("*.example.com", "*", "Degraded", name="lib-wild", tier=CheckTier.LIBRARY))
    assert hc.decide(obj()).by == "lua:lib-exact"
    assert hc.decide(obj("a.example.com/v1", "Thing")).by == "lua:lib-wild"
    assert hc.decide(obj("other.io/v1", "Thing")).by == BUILT_IN


def test_first_matching_wildcard_in_declaration_order_wins() -> None:
    """Among wildcards the first one declared that matches decides."""
    hc = checks(lua("*.crossplane.io", "*", "Healthy", name="first"),
                lua("*", "*", "Degraded", name="second"))
    assert hc.decide(obj("aws.crossplane.io/v1", "Bucket")).by == "lua:first"
    assert hc.decide(obj("crossplane.io/v1", "Bucket")).by == "lua:second"


def test_core_kinds_match_the_empty_group() -> None:
    """A check for group "" and kind ConfigMap judges core ConfigMaps only."""
    hc = checks(lua("", "ConfigMap", "Degraded", message="nope"))
    assert hc.assess(obj("v1", "ConfigMap")).status is HealthStatus.DEGRADED
    assert hc.decide(obj("example.com/v1", "ConfigMap")).by == BUILT_IN


def test_lua_result_becomes_health_with_message() -> None:
    """A Lua check's status and message become the object's health."""
    health = checks(lua("example.com", "Widget", "Degraded", message="disk full")).assess(obj())
    assert (health.status, health.message) == (HealthStatus.DEGRADED, "disk full")


def test_lua_errors_and_bad_statuses_are_unknown() -> None:
    """A failing script or an unknown status is Unknown with the reason, never an exception."""
    failing = HealthCheckSpec("example.com", "Widget", "lua:f.lua", ORIGIN, lua="return obj.x.y")
    health = checks(failing).assess(obj())
    assert health.status is HealthStatus.UNKNOWN
    assert "f.lua:1: attempt to index a nil value" in health.message
    health = checks(lua("example.com", "Widget", "Fine")).assess(obj())
    assert health.status is HealthStatus.UNKNOWN
    assert "unknown status 'Fine'" in health.message


def test_lua_timeout_is_unknown() -> None:
    """A script that runs past the limit makes the object Unknown quickly."""
    spec = HealthCheckSpec("example.com", "Widget", "lua:loop.lua", ORIGIN, lua="while true do end")
    started = time.monotonic()
    health = HealthChecks([spec], clock=time.monotonic, limit=0.2).assess(obj())
    assert health.status is HealthStatus.UNKNOWN
    assert "time limit" in health.message
    assert time.monotonic() - started < 2.0


def test_lua_without_status_leaves_it_to_the_builtin_check() -> None:
    """A script that returns an empty table has no opinion: the built-in check decides."""
    spec = HealthCheckSpec("example.com", "Widget", "lua:empty.lua", ORIGIN, lua="return {}")
    verdict = checks(spec).decide(obj(conditions=[{"type": "Ready", "status": "False",
                                                   "reason": "Broken", "message": "bad"}]))
    assert verdict.by == BUILT_IN
    assert verdict.health.status is HealthStatus.DEGRADED


def test_rules_for_every_kind_come_before_user_checks() -> None:
    """The ignore annotation and pending deletion hold for kinds with a user check too."""
    hc = checks(lua("example.com", "Widget", "Degraded"))
    ignored = obj()
    ignored["metadata"]["annotations"] = {"argocd.argoproj.io/ignore-healthcheck": "true"}
    assert hc.assess(ignored).status is HealthStatus.HEALTHY
    deleting = obj()
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert hc.assess(deleting).status is HealthStatus.PROGRESSING


@pytest.mark.parametrize(("phase", "expected"), [
    ("Ready", HealthStatus.HEALTHY),
    ("Failed", HealthStatus.DEGRADED),
    ("Pending", HealthStatus.PROGRESSING),
    ("Other", HealthStatus.PROGRESSING),
])
def test_cel_rule_maps_phase_to_health(phase: str, expected: HealthStatus) -> None:
    """current, failed and inProgress map to Healthy, Degraded, Progressing; none true is Progressing."""
    hc = checks(cel("example.com", "Widget", current="status.phase == 'Ready'",
                    failed="status.phase == 'Failed'", in_progress="status.phase == 'Pending'"))
    assert hc.assess(obj(phase=phase)).status is expected


def test_cel_order_is_in_progress_then_failed_then_current() -> None:
    """When several expressions are true, inProgress wins over failed, and failed over current."""
    hc = checks(cel("example.com", "Widget", current="true", failed="true", in_progress="true"))
    assert hc.assess(obj(x=1)).status is HealthStatus.PROGRESSING
    hc = checks(cel("example.com", "Widget", current="true", failed="true"))
    assert hc.assess(obj(x=1)).status is HealthStatus.DEGRADED
    hc = checks(cel("example.com", "Widget", current="true"))
    assert hc.assess(obj(x=1)).status is HealthStatus.HEALTHY


def test_cel_evaluation_error_is_unknown() -> None:
    """An expression reading a field the object lacks makes it Unknown, as Flux reports an error."""
    hc = checks(cel("example.com", "Widget", current="status.phase == 'Ready'"))
    health = hc.assess(obj(other="x"))
    assert health.status is HealthStatus.UNKNOWN
    assert health.message.startswith("cel: ")


def test_cel_flux_entries_match_the_api_version() -> None:
    """A Flux entry with apiVersion judges only objects of that apiVersion."""
    hc = checks(cel("example.com", "Widget", current="true", api_version="example.com/v2"))
    assert hc.decide(obj("example.com/v2")).by == "cel"
    assert hc.decide(obj("example.com/v1")).by == BUILT_IN


def test_cel_optional_syntax_and_guards() -> None:
    """Flux users' optional-field syntax and has() guards work, also before any status exists."""
    hc = checks(cel("example.com", "Widget",
                    current="status.?conditions.orValue([]).exists(c, c.type == 'Ready')",
                    failed="has(status.error)"))
    assert hc.assess(obj(conditions=[{"type": "Ready"}])).status is HealthStatus.HEALTHY
    assert hc.assess(obj(error="x")).status is HealthStatus.DEGRADED
    assert hc.assess(obj()).status is HealthStatus.PROGRESSING  # no status written yet


def test_cel_compile_errors_have_positions() -> None:
    """Syntax errors, unknown names and non-bool results are compile problems with line and column."""
    problem = cel_problem("status.phase ==\n  ('Ready'")
    assert problem is not None
    assert problem.line == 2
    assert problem.column > 0
    problem = cel_problem("nosuch.phase == 'x'")
    assert problem is not None
    assert "undeclared reference to 'nosuch" in problem.message
    problem = cel_problem("1 + 2")
    assert problem is not None
    assert "must give a bool" in problem.message
    assert compile_cel("status.phase == 'x'").evaluate({"status": {"phase": "x"}}) is True


def test_bad_scripts_are_config_errors_at_their_origin() -> None:
    """Building checks from a spec whose script does not compile raises ConfigError at its line."""
    bad = HealthCheckSpec("example.com", "Widget", "lua:w.lua", ScriptOrigin("w.lua", 1, "health[x].luaFile"),
                          lua="local a = 1\nif a then")
    with pytest.raises(ConfigError) as err:
        checks(bad)
    assert str(err.value).startswith("w.lua:2: health[x].luaFile:")
    with pytest.raises(ConfigError, match=r"fleet.yaml:10: health\[x\].current"):
        checks(cel("example.com", "Widget", current="status.phase =="))


def test_without_checks_every_object_gets_the_builtin_verdict() -> None:
    """HealthChecks with nothing configured needs no clock and decides by built-in checks."""
    verdict = HealthChecks().decide(obj(conditions=[{"type": "Ready", "status": "True"}]))
    assert (verdict.health.status, verdict.by) == (HealthStatus.HEALTHY, BUILT_IN)
