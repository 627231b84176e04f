"""The outcome of a validation run and its three renderings: human, JSON and SARIF 2.1.0.

Findings are deduplicated (the same problem found for two clusters is one
problem) and sorted by file and line. The exit code is 1 when any finding is
an error or a warning, else 0. SARIF output names every rule once under
``tool.driver.rules`` and locates results relative to the repository root
(``%SRCROOT%``), which is what code-scanning uploads expect. Nothing here
looks at manifests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitopsd import __version__
from gitopsd.core.policy import Finding, Rule, Severity
from gitopsd.validation.rules import catalogue

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


@dataclass
class Report:
    """Findings plus what was looked at."""

    findings: list[Finding]
    files: int = 0
    objects: int = 0
    instances: int = 0
    schemas: str = ""
    dry_run: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if any(f.severity.fails for f in self.findings) else 0


def unique(findings: Iterable[Finding]) -> list[Finding]:
    """FINDINGS without repeats (same file, line, rule and message), sorted."""
    seen: dict[tuple[str, int, str, str], Finding] = {}
    for item in findings:
        seen.setdefault((item.file, item.line, item.rule, item.message), item)
    return sorted(seen.values())


def human(report: Report) -> str:
    lines = []
    for f in report.findings:
        where = f"{f.file}:{f.line}" if f.line else (f.file or "<input>")
        lines.append(f"{where}: {f.severity.value} [{f.rule}] {f.message}")
        if f.subject:
            lines.append(f"    in {f.subject}")
        if f.hint:
            lines.append(f"    fix: {f.hint}")
    counts = {s: sum(1 for f in report.findings if f.severity is s) for s in Severity}
    sources = []
    if report.files or not report.instances:
        sources.append(f"{report.files} files")
    if report.instances:
        sources.append(f"{report.instances} rendered application instances")
    checked = f"{report.objects} objects in {' and '.join(sources)}"
    if report.schemas:
        checked += f" against {report.schemas} schemas"
    if report.dry_run:
        checked += f", {report.dry_run} dry-run on a local control plane"
    if report.findings:
        parts = [f"{counts[s]} {s.value}{'s' if counts[s] != 1 else ''}" for s in Severity if counts[s]]
        lines.append(f"{len(report.findings)} finding{'s' if len(report.findings) != 1 else ''} "
                     f"({', '.join(parts)}); checked {checked}")
    else:
        lines.append(f"ok: checked {checked}, no findings")
    lines.extend(report.notes)
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    data = {
        "findings": [
            {"rule": f.rule, "severity": f.severity.value, "message": f.message, "hint": f.hint,
             "file": f.file, "line": f.line, "object": f.subject}
            for f in report.findings
        ],
        "summary": {"files": report.files, "instances": report.instances, "objects": report.objects,
                    "schemas": report.schemas,
                    "dry_run": report.dry_run, "findings": len(report.findings),
                    "failed": report.exit_code != 0},
    }
    return json.dumps(data, indent=2) + "\n"


def _level(severity: Severity) -> str:
    return {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}[severity]


def _rule_entry(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.summary},
        "help": {"text": rule.hint},
        "defaultConfiguration": {"level": _level(rule.severity)},
    }


def as_sarif(report: Report, rules: Mapping[str, Rule] | None = None) -> str:
    known = dict(rules or catalogue())
    ids = sorted(known)
    results = []
    for f in report.findings:
        location: dict[str, Any] = {"artifactLocation": {"uri": f.file or ".", "uriBaseId": "%SRCROOT%"}}
        if f.line > 0:
            location["region"] = {"startLine": f.line}
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "level": _level(f.severity),
            "message": {"text": f"{f.message}. Fix: {f.hint}" if f.hint else f.message},
            "locations": [{"physicalLocation": location}],
        }
        if f.rule in known:
            result["ruleIndex"] = ids.index(f.rule)
        if f.subject:
            result["locations"][0]["logicalLocations"] = [{"name": f.subject, "kind": "object"}]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "gitopsd validate", "version": __version__,
                                "rules": [_rule_entry(known[i]) for i in ids]}},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "repository root"}}},
            "results": results,
            "invocations": [{"executionSuccessful": True}],
        }],
    }
    return json.dumps(log, indent=2) + "\n"


FORMATS = {"human": human, "json": as_json, "sarif": as_sarif}
