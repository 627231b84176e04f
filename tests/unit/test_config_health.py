"""The fleet file's health section: inline and file Lua, CEL, Flux entries, argocd-cm, directories."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gitopsd.config import load_fleet, summary
from gitopsd.core.health.custom import HealthChecks
from gitopsd.errors import ConfigError
from gitopsd.model import HealthStatus
from gitopsd.model.healthchecks import CheckTier

HEALTHY = 'return {status = "Healthy", message = "ok"}\n'


def fleet(tmp_path: Path, health: str, files: dict[str, str] | None = None) -> Path:
    for name, text in (files or {}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    path = tmp_path / "fleet.yaml"
    path.write_text("fleet: f\nhealth:\n" + health)
    return path


def issues(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_fleet(path)
    return [str(i) for i in err.value.issues]


def test_inline_lua_file_lua_and_cel_entries(tmp_path: Path) -> None:
    """Each entry becomes a spec with its selector, code and the name gitopsd health prints."""
    path = fleet(tmp_path, """\
  example.com/Widget:
    luaFile: checks/widget.lua
  "*.crossplane.io/*":
    lua: |
      return {status = "Suspended"}
    useOpenLibs: true
  example.com/Gadget:
    cel: {current: "status.phase == 'Ready'", failed: "status.phase == 'Failed'"}
  ConfigMap:
    lua: return {status = "Healthy"}
""", {"checks/widget.lua": HEALTHY})
    specs = load_fleet(path).health_checks
    assert [(s.group, s.kind, s.name) for s in specs] == [
        ("example.com", "Widget", "lua:checks/widget.lua"),
        ("*.crossplane.io", "*", "lua:*.crossplane.io/*"),
        ("example.com", "Gadget", "cel"),
        ("", "ConfigMap", "lua:/ConfigMap")]
    assert specs[0].lua == HEALTHY
    assert specs[1].use_open_libs
    assert not specs[0].use_open_libs
    assert specs[2].cel is not None
    assert specs[2].cel.failed == "status.phase == 'Failed'"
    assert summary(load_fleet(path)).endswith("health checks: 3 Lua, 1 CEL")


def test_inline_lua_syntax_error_names_the_fleet_file_line(tmp_path: Path) -> None:
    """A syntax error in an inline script is reported at its line in the fleet file."""
    path = fleet(tmp_path, """\
  example.com/Widget:
    lua: |
      local hs = {}
      if obj.status then
      return hs
""")
    [issue] = issues(path)
    assert issue.startswith(f"{path}:8: health[example.com/Widget].lua: Lua syntax error: 'end' expected")


def test_lua_file_syntax_error_names_the_lua_file_and_line(tmp_path: Path) -> None:
    """A syntax error in a luaFile is reported in that file at the script's line."""
    path = fleet(tmp_path, "  example.com/Widget: {luaFile: w.lua}\n",
                 {"w.lua": "local a = 1\nlocal b = = 2\n"})
    [issue] = issues(path)
    assert issue.startswith(f"{tmp_path / 'w.lua'}:2: health[example.com/Widget].luaFile: Lua syntax error")


def test_cel_compile_error_names_the_field_line_and_column(tmp_path: Path) -> None:
    """A CEL expression that does not compile is a fleet-file error with its line and column."""
    path = fleet(tmp_path, """\
  example.com/Gadget:
    cel:
      current: "status.phase == 'Ready'"
      failed: "status.phase =="
""")
    [issue] = issues(path)
    assert issue.startswith(f"{path}:6: health[example.com/Gadget].cel.failed: CEL: Syntax error")
    assert "(column " in issue


@pytest.mark.parametrize(("entry", "message"), [
    ("  example.com/Widget: {lua: 'return {}', cel: {current: 'true'}}\n",
     "give exactly one of lua, luaFile and cel (found lua, cel)"),
    ("  example.com/Widget: {luaFile: missing.lua}\n", "cannot read Lua file"),
    ("  example.com/Widget: {cel: {failed: 'true'}}\n", "missing required field 'current'"),
    ("  example.com/Widget: {lua: 'return {}', timeout: 3}\n", "unknown field 'timeout'"),
    ("  notakind: {lua: 'return {}'}\n", "expected group/kind"),
    ("  luaDirectory: nowhere\n", "is not a directory"),
])
def test_malformed_entries_are_reported(tmp_path: Path, entry: str, message: str) -> None:
    """Wrong shapes, unreadable files and unknown fields are fleet-file errors."""
    assert any(message in issue for issue in issues(fleet(tmp_path, entry)))


def test_flux_health_check_exprs_are_read_unchanged(tmp_path: Path) -> None:
    """Flux's healthCheckExprs entries keep their apiVersion and expressions."""
    path = fleet(tmp_path, """\
  healthCheckExprs:
    - apiVersion: example.com/v1
      kind: Gadget
      inProgress: "status.phase == 'Pending'"
      current: "status.phase == 'Ready'"
""")
    [spec] = load_fleet(path).health_checks
    assert (spec.group, spec.kind, spec.api_version, spec.name) == ("example.com", "Gadget",
                                                                    "example.com/v1", "cel")
    assert spec.cel is not None
    assert spec.cel.in_progress == "status.phase == 'Pending'"


ARGOCD_CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
data:
  url: https://argocd.example.com
  resource.customizations.health.cert-manager.io_Certificate: |
    hs = {}
    hs.status = "Healthy"
    return hs
  resource.customizations.useOpenLibs.cert-manager.io_Certificate: "true"
  resource.customizations: |
    "*.aws.crossplane.io/*":
      health.lua: |
        return {status = "Progressing"}
    apps/Deployment:
      ignoreDifferences: |
        jsonPointers: [/spec/replicas]
    example.com/Widget:
      health.lua.useOpenLibs: true
      health.lua: |
        return {status = "Degraded", message = "from the block"}
"""


def test_argocd_configmap_keys_and_block_become_checks(tmp_path: Path) -> None:
    """Both argocd-cm spellings are read; keys without health.lua are skipped."""
    path = fleet(tmp_path, "  argocdConfigMap: argocd-cm.yaml\n", {"argocd-cm.yaml": ARGOCD_CM})
    specs = load_fleet(path).health_checks
    assert [(s.group, s.kind, s.use_open_libs, s.name) for s in specs] == [
        ("cert-manager.io", "Certificate", True,
         "lua:resource.customizations.health.cert-manager.io_Certificate"),
        ("*.aws.crossplane.io", "*", False, "lua:resource.customizations[*.aws.crossplane.io/*]"),
        ("example.com", "Widget", True, "lua:resource.customizations[example.com/Widget]")]
    assert [s.origin.line for s in specs] == [8, 15, 22]
    health = HealthChecks(specs, clock=time.monotonic).assess(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert (health.status, health.message) == (HealthStatus.DEGRADED, "from the block")


def test_argocd_configmap_syntax_errors_name_the_configmap_line(tmp_path: Path) -> None:
    """A bad script inside the ConfigMap, even inside the block, is reported at its line there."""
    broken = ARGOCD_CM.replace('return {status = "Progressing"}', "return {status = ")
    path = fleet(tmp_path, "  argocdConfigMap: argocd-cm.yaml\n", {"argocd-cm.yaml": broken})
    [issue] = issues(path)
    field = "data[resource.customizations][*.aws.crossplane.io/*].health.lua"
    assert issue.startswith(f"{tmp_path / 'argocd-cm.yaml'}:16: {field}: Lua syntax error")


def test_lua_directory_layout_with_underscore_wildcards(tmp_path: Path) -> None:
    """<group>/<kind>/health.lua files are library checks; '_' in a segment matches anything."""
    path = fleet(tmp_path, "  luaDirectory: lib\n", {
        "lib/example.com/Widget/health.lua": 'return {status = "Degraded"}',
        "lib/_.crossplane.io/_/health.lua": 'return {status = "Suspended"}',
        "lib/example.com/Widget/health_test.yaml": "tests: []",
    })
    specs = load_fleet(path).health_checks
    assert sorted((s.group, s.kind, s.tier, s.name) for s in specs) == [
        ("*.crossplane.io", "*", CheckTier.LIBRARY, "lua:lib/_.crossplane.io/_/health.lua"),
        ("example.com", "Widget", CheckTier.LIBRARY, "lua:lib/example.com/Widget/health.lua")]
    hc = HealthChecks(specs, clock=time.monotonic)
    assert hc.assess({"apiVersion": "s3.aws.crossplane.io/v1", "kind": "Bucket"}).status \
        is HealthStatus.SUSPENDED


def test_configured_checks_come_before_the_directory(tmp_path: Path) -> None:
    """An entry of the fleet file beats the directory's script for the same kind."""
    entry = "  example.com/Widget: {lua: 'return {status = \"Healthy\"}'}\n"
    library = {"lib/example.com/Widget/health.lua": 'return {status = "Degraded"}'}
    path = fleet(tmp_path, "  luaDirectory: lib\n" + entry, library)
    hc = HealthChecks(load_fleet(path).health_checks, clock=time.monotonic)
    verdict = hc.decide({"apiVersion": "example.com/v1", "kind": "Widget"})
    assert (verdict.health.status, verdict.by) == (HealthStatus.HEALTHY, "lua:example.com/Widget")
