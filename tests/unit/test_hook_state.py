"""Hook completion: fixture files named ``<kind>-<state>[-qualifier].yaml`` for their expected
hook phase, plus the rules that cut across kinds (a vanished hook, Suspended by kind)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd.core.health import RUN_TO_COMPLETION, HookPhase, assess, group_kind, hook_state

TESTDATA = Path(__file__).parent / "testdata" / "hooks"
FIXTURES = sorted(TESTDATA.glob("*.yaml"))
PHASES = {phase.value.lower(): phase for phase in HookPhase}
EXPECT_PREFIX = "# expect:"


def _load(path: Path) -> dict[str, Any]:
    obj = yaml.safe_load(path.read_text())
    assert isinstance(obj, dict), f"{path.name} holds no object"
    return obj


def _expected(path: Path) -> tuple[str, HookPhase]:
    kind, _, rest = path.stem.partition("-")
    phase = rest.split("-", 1)[0]
    assert phase in PHASES, f"{path.name}: {phase!r} is not one of {sorted(PHASES)}"
    return kind, PHASES[phase]


def _expected_message(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    return first[len(EXPECT_PREFIX):].strip() if first.startswith(EXPECT_PREFIX) else ""


def test_every_run_to_completion_kind_has_every_phase() -> None:
    """Job, Pod and Workflow each have a Running, a Succeeded and a Failed fixture."""
    seen: dict[tuple[str, str], set[HookPhase]] = {}
    for path in FIXTURES:
        seen.setdefault(group_kind(_load(path)), set()).add(_expected(path)[1])
    for kind in RUN_TO_COMPLETION:
        assert seen.get(kind) == set(HookPhase), f"{kind} lacks fixtures: {seen.get(kind)}"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture(path: Path) -> None:
    """Each fixture gets the hook phase its file name announces, explained as its file says."""
    kind, expected = _expected(path)
    obj = _load(path)
    assert str(obj["kind"]).lower() == kind, f"{path.name} holds a {obj['kind']}"
    state = hook_state(obj)
    assert state.phase is expected, state.message
    assert state.done is (expected is not HookPhase.RUNNING)
    wanted = _expected_message(path)
    if wanted:
        assert wanted in state.message
    if expected is HookPhase.FAILED:
        assert state.message


def test_a_vanished_hook_has_failed() -> None:
    """A hook object that is gone before it finished counts as a failed hook."""
    state = hook_state(None)
    assert state.phase is HookPhase.FAILED
    assert "disappeared" in state.message


@pytest.mark.parametrize("name", ["job-running-suspended.yaml", "deployment-succeeded-paused.yaml"])
def test_suspended_ends_only_hooks_that_do_not_run_to_completion(name: str) -> None:
    """Suspended is done for a kind without a final phase and still running for a Job, Pod or Workflow."""
    obj = _load(TESTDATA / name)
    assert assess(obj).status.value == "Suspended"
    state = hook_state(obj)
    assert (state.phase is HookPhase.RUNNING) is (group_kind(obj) in RUN_TO_COMPLETION)


@pytest.mark.parametrize("name", ["job-running.yaml", "pod-running.yaml", "workflow-running.yaml"])
def test_a_running_hook_being_deleted_keeps_running(name: str) -> None:
    """An unfinished hook object with a deletionTimestamp has not finished."""
    obj = copy.deepcopy(_load(TESTDATA / name))
    obj["metadata"]["deletionTimestamp"] = "2025-03-05T10:13:00Z"
    assert hook_state(obj).phase is HookPhase.RUNNING


@pytest.mark.parametrize("name", ["job-failed.yaml", "pod-failed.yaml", "workflow-failed.yaml"])
def test_a_failed_hook_being_deleted_stays_failed(name: str) -> None:
    """A finished hook keeps its verdict while its object is being deleted."""
    obj = copy.deepcopy(_load(TESTDATA / name))
    before = hook_state(obj)
    obj["metadata"]["deletionTimestamp"] = "2025-03-05T10:13:00Z"
    assert hook_state(obj) == before
