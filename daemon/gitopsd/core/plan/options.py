"""Sync options as typed values: per object and per application.

Argo CD users write sync options as ``Name=value`` strings, either in an
application's ``syncPolicy.syncOptions`` or, comma-separated, in an object's
``argocd.argoproj.io/sync-options`` annotation. This module is the one parser
of both: it turns them into frozen values (the names and accepted values come
from ``gitopsd.model.syncoptions``), so no other module reads an option
string itself. It rejects every option or value it does not know, listing the
known ones, so that a typo never silently changes what a sync does. Options
that apply to single objects may also be set on the application, where they
become the defaults an object's annotation overrides.

It must not decide what to do with the options: the planner and the executor
read the values.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from gitopsd.core.marks import SYNC_OPTIONS_ANNOTATION
from gitopsd.errors import ConfigError, ConfigIssue
from gitopsd.model.syncoptions import APP_OPTIONS, RESOURCE_OPTIONS


class Permission(enum.Enum):
    """Whether gitopsd may delete an object: always, never, or after a person asks."""

    ALLOW = "true"
    DENY = "false"
    CONFIRM = "confirm"


class PropagationPolicy(enum.Enum):
    """How Kubernetes deletes a pruned object's dependents (``propagationPolicy``)."""

    FOREGROUND = "Foreground"
    BACKGROUND = "Background"
    ORPHAN = "Orphan"


@dataclass(frozen=True)
class ResourceOptions:
    """Options that apply to one object; the executor reads them per task.

    ``prune`` and ``delete`` are ``Prune=``/``Delete=`` (``true``, ``false`` or
    ``confirm``); the others are the booleans of the same names. Server-side
    apply is gitopsd's way of applying, so ``server_side_apply`` defaults to
    True and ``ServerSideApply=false`` asks for a client-side apply.
    """

    prune: Permission = Permission.ALLOW
    delete: Permission = Permission.ALLOW
    prune_last: bool = False
    server_side_apply: bool = True
    replace: bool = False
    force: bool = False
    validate: bool = True
    skip_dry_run_on_missing_resource: bool = False


@dataclass(frozen=True)
class AppOptions:
    """An application's sync options; ``defaults`` are the per-object ones it sets."""

    defaults: ResourceOptions = field(default_factory=ResourceOptions)
    create_namespace: bool = False
    apply_out_of_sync_only: bool = False
    prune_propagation_policy: PropagationPolicy = PropagationPolicy.FOREGROUND
    fail_on_shared_resource: bool = False
    respect_ignore_differences: bool = False


RESOURCE_OPTION_NAMES: Final = tuple(sorted(RESOURCE_OPTIONS))
"""Options an object's ``argocd.argoproj.io/sync-options`` annotation may carry."""

APP_OPTION_NAMES: Final = tuple(sorted(APP_OPTIONS))
"""Options an application's ``syncPolicy.syncOptions`` may carry."""


def _read(items: Iterable[str], known: Mapping[str, tuple[str, ...]],
          ) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Option values (lower-cased) by name, and (item index, problem) per bad item."""
    values: dict[str, str] = {}
    problems: list[tuple[int, str]] = []
    for index, raw in enumerate(items):
        item = raw.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip().lower()
        if name not in known:
            hint = next((k for k in known if k.lower() == name.lower()), None)
            near = f" (did you mean {hint!r}?)" if hint else ""
            problems.append((index, f"unknown sync option {name!r}{near}; known options: "
                                    f"{', '.join(sorted(known))}"))
        elif not sep or value not in known[name]:
            problems.append((index, f"sync option {name} must be one of "
                                    f"{'|'.join(known[name])}, got {item!r}"))
        elif values.get(name, value) != value:
            problems.append((index, f"sync option {name} is given twice with different values"))
        else:
            values[name] = value
    return values, problems


def _resource_options(values: Mapping[str, str], defaults: ResourceOptions) -> ResourceOptions:
    def flag(name: str, current: bool) -> bool:
        value = values.get(name)
        return current if value is None else value == "true"

    def permission(name: str, current: Permission) -> Permission:
        value = values.get(name)
        return current if value is None else Permission(value)

    return ResourceOptions(
        prune=permission("Prune", defaults.prune),
        delete=permission("Delete", defaults.delete),
        prune_last=flag("PruneLast", defaults.prune_last),
        server_side_apply=flag("ServerSideApply", defaults.server_side_apply),
        replace=flag("Replace", defaults.replace),
        force=flag("Force", defaults.force),
        validate=flag("Validate", defaults.validate),
        skip_dry_run_on_missing_resource=flag("SkipDryRunOnMissingResource",
                                              defaults.skip_dry_run_on_missing_resource),
    )


def parse_resource_options(text: str, defaults: ResourceOptions | None = None,
                           ) -> tuple[ResourceOptions, list[str]]:
    """Options from an ``argocd.argoproj.io/sync-options`` value over ``defaults``.

    Returns the options and the problems found (empty when the text is valid);
    the caller names the object in the error it raises.
    """
    values, problems = _read(text.split(","), RESOURCE_OPTIONS)
    return _resource_options(values, defaults or ResourceOptions()), [p for _, p in problems]


def object_options(annotations: Mapping[str, object], defaults: ResourceOptions | None = None,
                   ) -> tuple[ResourceOptions, list[str]]:
    """An object's options from its annotations (``argocd.argoproj.io/sync-options``).

    Like ``parse_resource_options``: the options over ``defaults`` and the
    problems found; an annotation value that is not a string is a problem and
    leaves the defaults in place.
    """
    text = annotations.get(SYNC_OPTIONS_ANNOTATION, "")
    if not isinstance(text, str):
        return defaults or ResourceOptions(), [f"{SYNC_OPTIONS_ANNOTATION} must be a string"]
    return parse_resource_options(text, defaults)


def app_option_problems(options: Sequence[str]) -> list[str]:
    """One line per invalid entry of ``syncPolicy.syncOptions`` (empty when all are valid).

    Lines start with the entry's index (``syncOptions[2]: ...``) so that the
    fleet loader can point at the line it came from.
    """
    _, problems = _read(options, APP_OPTIONS)
    return [f"syncOptions[{index}]: {problem}" for index, problem in problems]


def parse_app_options(options: Sequence[str]) -> AppOptions:
    """An application's ``syncPolicy.syncOptions`` as values.

    Raises ``ConfigError`` listing every invalid entry together with the known
    option names.
    """
    values, problems = _read(options, APP_OPTIONS)
    if problems:
        raise ConfigError([ConfigIssue("syncPolicy", 0, f"syncOptions[{index}]", problem)
                           for index, problem in problems])
    return AppOptions(
        defaults=_resource_options(values, ResourceOptions()),
        create_namespace=values.get("CreateNamespace") == "true",
        apply_out_of_sync_only=values.get("ApplyOutOfSyncOnly") == "true",
        prune_propagation_policy=PropagationPolicy(
            values.get("PrunePropagationPolicy", "foreground").capitalize()),
        fail_on_shared_resource=values.get("FailOnSharedResource") == "true",
        respect_ignore_differences=values.get("RespectIgnoreDifferences") == "true",
    )
