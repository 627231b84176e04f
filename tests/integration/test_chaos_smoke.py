"""Two fixed-seed chaos trials in the default test run: a daemon SIGKILLed mid-sync, and Git down.

The full fault matrix (``make chaos``) runs on demand; these two seeds use the
injectors whose invariants hold today, so a regression in crash recovery or in
riding out an unreachable Git server fails the ordinary test suite. The trials
share the session's API-only control plane and isolate themselves by namespace.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitopsd.localcluster import LocalCluster
from tests.chaos.report import trials_table
from tests.chaos.runner import run_trials

SMOKE = [(3, ["kill_daemon"]), (6, ["git_down"])]


@pytest.mark.timeout(300)
def test_two_chaos_trials_hold_every_invariant(cluster_a: LocalCluster, tmp_path: Path) -> None:
    """Each trial converges and keeps Git's content, foreign objects, prunes, hooks and secrets right."""
    results = run_trials(cluster_a, [s for s, _ in SMOKE], [i for _, i in SMOKE], tmp_path, timeout=60)
    failed = {r.seed: ({k: v for k, v in r.violations.items() if v}, r.error, r.events) for r in results
              if not r.ok}
    assert not failed, f"{trials_table(results)}\n{failed}"
    assert [r.injectors for r in results] == [i for _, i in SMOKE]
    assert all(r.converged_seconds is not None for r in results)
