"""``gitopsd health``: offline verdicts for saved objects, with the fleet file's checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitopsd.cli import main

OBJECTS = """\
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: apps}
status: {disk: full}
---
apiVersion: v1
kind: List
items:
  - apiVersion: a.example.com/v1
    kind: Gadget
    metadata: {name: g1, namespace: apps}
    status: {phase: Ready}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: c1, namespace: apps}
"""

FLEET = """\
fleet: f
health:
  example.com/Widget:
    luaFile: widget.lua
  "*.example.com/*":
    cel:
      current: "status.phase == 'Ready'"
"""

WIDGET = """\
if obj.status.disk == "full" then
  return {status = "Degraded", message = "disk is full"}
end
return {status = "Healthy"}
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "objects.yaml").write_text(OBJECTS)
    (tmp_path / "fleet.yaml").write_text(FLEET)
    (tmp_path / "widget.lua").write_text(WIDGET)
    return tmp_path


def test_prints_status_check_object_and_message(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each object gets one line with status, deciding check, object and message."""
    assert main(["health", "--config", str(files / "fleet.yaml"), str(files / "objects.yaml")]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        ["Degraded", "lua:widget.lua", "Widget.example.com", "apps/w1", "disk", "is", "full"],
        ["Healthy", "cel", "Gadget.a.example.com", "apps/g1"],
        ["Healthy", "built-in", "ConfigMap", "apps/c1", "no", "health", "check"],
    ]


def test_without_a_fleet_file_only_builtin_checks_decide(files: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --config (and no $GITOPSD_CONFIG) every verdict is the built-in one."""
    monkeypatch.delenv("GITOPSD_CONFIG", raising=False)
    assert main(["health", str(files / "objects.yaml")]) == 0
    assert {line.split()[1] for line in capsys.readouterr().out.splitlines()} == {"built-in"}


def test_json_output_names_file_and_line(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-o json gives file, line, object, status, message and check for every object."""
    assert main(["health", "--config", str(files / "fleet.yaml"), "-o", "json",
                 str(files / "objects.yaml")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {"file": str(files / "objects.yaml"), "line": 1, "object": "Widget.example.com apps/w1",
                       "status": "Degraded", "message": "disk is full", "check": "lua:widget.lua"}
    assert [r["line"] for r in rows] == [1, 9, 13]


def test_bad_check_is_a_config_error(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A syntax error in a check is reported with file and line and exit code 2."""
    (files / "widget.lua").write_text("if then\n")
    assert main(["health", "--config", str(files / "fleet.yaml"), str(files / "objects.yaml")]) == 2
    assert f"{files / 'widget.lua'}:1: health[example.com/Widget].luaFile: Lua syntax error" \
        in capsys.readouterr().err


def test_unreadable_object_file_is_a_usage_error(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing YAML file gives exit code 2 and a one-line reason."""
    assert main(["health", str(files / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
