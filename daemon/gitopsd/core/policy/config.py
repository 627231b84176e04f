"""Policy settings: which rules run, how severe they are and where they apply.

``parse_policy`` turns the plain data of a policy file (already read and
parsed by the caller) into a ``PolicyConfig``, or raises one ``ConfigError``
listing every problem with its file, line and field. Without a file the
defaults hold: ``image-latest`` under ``/prod/`` and ``plaintext-secret``
everywhere, both errors; ``required-labels``, ``host-path`` and
``privileged-container`` run only when a policy file enables them. This
module reads no files: the caller parses the policy file and hands over data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gitopsd.core.policy.findings import Severity
from gitopsd.core.policy.paths import in_scope
from gitopsd.core.policy.subject import FieldPath
from gitopsd.errors import ConfigError, ConfigIssue

IMAGE_LATEST = "image-latest"
PLAINTEXT_SECRET = "plaintext-secret"  # noqa: S105 - a rule id, not a password
REQUIRED_LABELS = "required-labels"
HOST_PATH = "host-path"
PRIVILEGED = "privileged-container"

RULE_IDS = (IMAGE_LATEST, PLAINTEXT_SECRET, REQUIRED_LABELS, HOST_PATH, PRIVILEGED)
_RULE_FIELDS = frozenset({"severity", "paths", "exclude", "kinds", "labels"})
_SEVERITIES = {"error": Severity.ERROR, "warning": Severity.WARNING, "note": Severity.NOTE}


@dataclass(frozen=True)
class RuleSettings:
    """One rule's settings; ``severity`` None means the rule is off.

    ``paths``/``exclude`` are patterns (see ``core.policy.paths``); empty
    ``paths`` means everywhere. ``kinds`` limits the rule to those kinds
    (empty: all). ``labels`` is used by ``required-labels`` only.
    """

    severity: Severity | None
    paths: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    def applies(self, file: str, kind: str) -> bool:
        if self.severity is None:
            return False
        if self.kinds and kind not in self.kinds:
            return False
        return in_scope(file, self.paths, self.exclude)


def _defaults() -> dict[str, RuleSettings]:
    return {
        IMAGE_LATEST: RuleSettings(Severity.ERROR, paths=("/prod/",)),
        PLAINTEXT_SECRET: RuleSettings(Severity.ERROR),
        REQUIRED_LABELS: RuleSettings(None),
        HOST_PATH: RuleSettings(None),
        PRIVILEGED: RuleSettings(None),
    }


@dataclass(frozen=True)
class PolicyConfig:
    """Settings for every policy rule, keyed by rule id."""

    rules: Mapping[str, RuleSettings] = field(default_factory=_defaults)

    def settings(self, rule: str) -> RuleSettings:
        return self.rules.get(rule, RuleSettings(None))


def parse_policy(data: Any, *, file: str,
                 lines: Mapping[FieldPath, int] | None = None) -> PolicyConfig:
    """A ``PolicyConfig`` from a policy file's data; ``ConfigError`` naming every problem.

    The file is a mapping with one key, ``rules``, mapping rule ids to
    settings: ``severity`` (error, warning, note or off), ``paths``,
    ``exclude``, ``kinds`` and, for ``required-labels``, ``labels``. A rule
    listed without ``severity`` is enabled at its default severity (error).
    Rules not listed keep their defaults.
    """
    where = lines or {}
    issues: list[ConfigIssue] = []

    def issue(path: FieldPath, message: str) -> None:
        line = next((where[path[:n]] for n in range(len(path), 0, -1) if path[:n] in where), 0)
        issues.append(ConfigIssue(file, line, ".".join(str(p) for p in path), message))

    rules = _defaults()
    if data is None:
        return PolicyConfig(rules)
    if not isinstance(data, Mapping):
        raise ConfigError([ConfigIssue(file, 1, "", "a policy file is a mapping with a 'rules' key")])
    for key in data:
        if key != "rules":
            issue((str(key),), "unknown field; the only top-level field is 'rules'")
    section = data.get("rules") or {}
    if not isinstance(section, Mapping):
        issue(("rules",), "must be a mapping of rule id to settings")
        section = {}
    for rule_id, raw in section.items():
        path: FieldPath = ("rules", str(rule_id))
        if rule_id not in RULE_IDS:
            issue(path, f"unknown rule; known rules: {', '.join(RULE_IDS)}")
            continue
        parsed = _rule(raw or {}, path, issue, default=rules[rule_id])
        if parsed is not None:
            rules[rule_id] = parsed
    labels = rules[REQUIRED_LABELS]
    if labels.severity is not None and not labels.labels:
        issue(("rules", REQUIRED_LABELS), "needs 'labels', the label keys every object must carry")
    if issues:
        raise ConfigError(issues)
    return PolicyConfig(rules)


def _rule(raw: Any, path: FieldPath, issue: Callable[[FieldPath, str], None], *,
          default: RuleSettings) -> RuleSettings | None:
    if not isinstance(raw, Mapping):
        issue(path, "must be a mapping of settings")
        return None
    settings = replace(default, severity=default.severity or Severity.ERROR)
    for key in raw:
        if key not in _RULE_FIELDS:
            issue((*path, str(key)), f"unknown setting; known settings: {', '.join(sorted(_RULE_FIELDS))}")
    if "severity" in raw:
        value = raw["severity"]
        if value == "off" or value is False:
            settings = replace(settings, severity=None)
        elif isinstance(value, str) and value in _SEVERITIES:
            settings = replace(settings, severity=_SEVERITIES[value])
        else:
            issue((*path, "severity"), "must be one of error, warning, note, off")
    values: dict[str, tuple[str, ...]] = {}
    for name in ("paths", "exclude", "kinds", "labels"):
        if name not in raw:
            continue
        value = raw[name]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            issue((*path, name), "must be a list of non-empty strings")
            continue
        values[name] = tuple(value)
    return replace(settings, paths=values.get("paths", settings.paths),
                   exclude=values.get("exclude", settings.exclude),
                   kinds=values.get("kinds", settings.kinds),
                   labels=values.get("labels", settings.labels))
