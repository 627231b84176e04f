"""gitopsd's alert rules through promtool: the rule file is valid, and its unit tests pass and bite.

The rules live in one plain file, ``charts/gitopsd-observability/rules/gitopsd.rules.yaml``
(the chart wraps the same file); their unit tests, with input series for
every alert, live in ``testdata/prometheus/gitopsd.rules.test.yaml``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.integration.promserver import tool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "charts" / "gitopsd-observability" / "rules" / "gitopsd.rules.yaml"
RULE_TESTS = Path(__file__).parent / "testdata" / "prometheus" / "gitopsd.rules.test.yaml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, timeout=120,
                          check=False)


def alerts(path: Path) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]}


def test_the_rule_file_passes_promtool_check() -> None:
    """``promtool check rules`` accepts the rule file and counts every rule in it."""
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts(RULES))} rules found" in result.stdout


def test_the_rule_unit_tests_pass() -> None:
    """``promtool test rules`` runs the unit tests of every alert against the rule file and passes."""
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_test_that_fires_it() -> None:
    """Each alert of the rule file is expected to fire in at least one unit test."""
    doc = yaml.safe_load(RULE_TESTS.read_text())
    fired = {case["alertname"] for test in doc["tests"] for case in test["alert_rule_test"]
             if case["exp_alerts"]}
    assert fired == set(alerts(RULES))


def test_a_broken_or_changed_rule_fails(tmp_path: Path) -> None:
    """A rule whose PromQL does not parse fails the check, and a changed threshold fails the unit tests."""
    tests = tmp_path / RULE_TESTS.parent.relative_to(ROOT)  # the same layout: rule_files are relative
    tests.mkdir(parents=True)
    rules = tmp_path / RULES.relative_to(ROOT)
    rules.parent.mkdir(parents=True)
    text = RULES.read_text()
    rules.write_text(text.replace("gitopsd_queue_depth > 50", "gitopsd_queue_depth >"))
    broken = promtool("check", "rules", str(rules))
    assert broken.returncode != 0
    assert "GitopsdQueueBacklog" in broken.stdout + broken.stderr

    shutil.copy(RULE_TESTS, tests / RULE_TESTS.name)
    rules.write_text(text)
    assert promtool("test", "rules", str(tests / RULE_TESTS.name)).returncode == 0
    rules.write_text(text.replace("for: 1h", "for: 2h"))
    changed = promtool("test", "rules", str(tests / RULE_TESTS.name))
    assert changed.returncode != 0
    assert "alertname: GitopsdAppOutOfSync, time: 1h1m" in changed.stdout + changed.stderr
