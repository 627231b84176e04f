"""The sync options gitopsd knows, with the values each accepts.

Argo CD users write sync options as ``Name=value`` strings, in an
application's ``syncPolicy.syncOptions`` or, comma-separated, in an object's
``argocd.argoproj.io/sync-options`` annotation. This table is the one list of
those names: the fleet loader (config) checks a fleet file's entries against
it and the planner (core) parses entries and annotations with it, so the two
can never disagree about which options exist. Both of those sit above model,
and neither may import the other, which is why the table lives here.

It holds names and accepted values only; turning them into typed options is
``gitopsd.core.plan.options``' job, and deciding what they do is the planner's
and the executor's.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

_BOOL: Final = ("true", "false")
_PERMISSION: Final = ("true", "false", "confirm")
_PROPAGATION: Final = ("foreground", "background", "orphan")

RESOURCE_OPTIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "Prune": _PERMISSION,
    "Delete": _PERMISSION,
    "PruneLast": _BOOL,
    "ServerSideApply": _BOOL,
    "Replace": _BOOL,
    "Force": _BOOL,
    "Validate": _BOOL,
    "SkipDryRunOnMissingResource": _BOOL,
})
"""Options that apply to one object: an annotation may set them, an application sets their defaults."""

APP_ONLY_OPTIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "CreateNamespace": _BOOL,
    "ApplyOutOfSyncOnly": _BOOL,
    "PrunePropagationPolicy": _PROPAGATION,
    "FailOnSharedResource": _BOOL,
    "RespectIgnoreDifferences": _BOOL,
    # Accepted for Argo CD manifests; gitopsd applies server-side from the start.
    "ClientSideApplyMigration": _BOOL,
})
"""Options only an application's ``syncPolicy.syncOptions`` may set."""

APP_OPTIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {**RESOURCE_OPTIONS, **APP_ONLY_OPTIONS})
"""Every option an application's ``syncPolicy.syncOptions`` may carry, with its values."""
