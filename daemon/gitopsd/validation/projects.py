"""``--config``: what each application's project forbids, as findings at the object's own line.

The daemon refuses a sync whose repository, destination or rendered objects
its project forbids (``gitopsd.core.policy.projects``); this module reports
the same violations before merge, each object at the file and line it was
traced to, and the repository or destination at the fleet file. It renders
nothing and decides nothing itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gitopsd.core.policy import Finding, finding
from gitopsd.core.policy.projects import scope_of
from gitopsd.model import AppInstance, Application, Fleet, Manifest, ResourceKey
from gitopsd.validation import rules
from gitopsd.validation.documents import Item

__all__ = ["project_findings"]


def project_findings(fleet: Fleet, app: Application, instance: AppInstance,
                     manifests: Sequence[Manifest], items: Mapping[ResourceKey, Item],
                     fleet_file: str) -> list[Finding]:
    """Findings for every violation of APP's project by INSTANCE and its rendered MANIFESTS;
    ITEMS locate each rendered object in the working tree."""
    where = f"application {instance.app} on cluster {instance.cluster}"
    found: list[Finding] = []
    for violation in scope_of(fleet, instance, app).violations(manifests):
        message = f"project {app.project}: {violation.message} ({violation.rule})"
        item = items.get(violation.key) if violation.key is not None else None
        if item is None:
            found.append(finding(rules.PROJECT_VIOLATION, message, file=fleet_file, line=0,
                                 subject=where))
            continue
        found.append(finding(rules.PROJECT_VIOLATION, f"{violation.key}: {message}",
                             file=item.subject.file, line=item.subject.line, subject=item.label))
    return found
