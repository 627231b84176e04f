"""``gitopsd check-config``, ``render`` and ``diff``: the desired-state verbs.

``check-config`` validates the fleet file and touches neither Git nor a
cluster. ``render`` prints what gitopsd would apply for an application, as a
YAML stream in sync order (with the source's warnings as comments and on
stderr), and never contacts a cluster. ``diff`` compares
that with the live cluster, read-only, with SOPS files decrypted as a sync
decrypts them and Secret values masked. Both report what the application's
project forbids (the daemon would refuse that sync) and exit 1. Arguments, output and exit codes live
here; resolving, rendering, ordering and comparing are the rooms' work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml

from gitopsd import config
from gitopsd.app import (
    Sources,
    compare_instance,
    default_state_dir,
    oneshot_sources,
    with_application,
)
from gitopsd.core.instances import select_instances
from gitopsd.core.plan import Listed, SyncUse, sync_order
from gitopsd.core.policy.projects import render_violations, scope_of
from gitopsd.edges.telemetry.logging import configure_logging
from gitopsd.engine.sync.compare import prepare
from gitopsd.errors import ConfigError, GitopsdError, ProjectViolation
from gitopsd.model import AppInstance, Application, Fleet, ResourceKey, Revision

RENDER_TIMEOUT_ENV = "GITOPSD_RENDER_TIMEOUT"

# -- shared ---------------------------------------------------------------------


def _duration(text: str) -> float:
    try:
        return config.parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _load(args: argparse.Namespace, *, check_files: bool) -> Fleet:
    path = args.config or config.default_config_path()
    if not path:
        raise GitopsdError("no fleet file: pass --config or set GITOPSD_CONFIG")
    return config.load_fleet(path, check_files=check_files)


def _render_timeout(args: argparse.Namespace) -> float | None:
    if args.render_timeout is not None:
        return float(args.render_timeout)
    text = os.environ.get(RENDER_TIMEOUT_ENV, "").strip()
    if not text:
        return None
    try:
        return config.parse_duration(text)
    except ValueError as exc:
        raise GitopsdError(f"${RENDER_TIMEOUT_ENV}: {exc}") from None


def _sources(args: argparse.Namespace, fleet: Fleet, *, decrypt: bool = False) -> Sources:
    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir()
    return oneshot_sources(fleet, state_dir, render_timeout=_render_timeout(args),
                           git_timeout=args.git_timeout, decrypt=decrypt)


def _where(instance: AppInstance, revision: Revision | None) -> str:
    rev = revision.sha if revision else instance.source.target_revision
    return (f"app={instance.app} cluster={instance.cluster} repo={instance.source.repo} "
            f"revision={rev} path={instance.source.path}")


def _report(verb: str, instance: AppInstance, revision: Revision | None, exc: Exception,
            out: TextIO) -> None:
    """One line naming the instance and the first line of the cause; further lines indented."""
    first, *rest = str(exc).splitlines() or [type(exc).__name__]
    out.write(f"gitopsd: {verb} {_where(instance, revision)}: {first}\n")
    for line in rest:
        out.write(f"  {line}\n")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="fleet file (default: $GITOPSD_CONFIG)")


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("app", metavar="APP", help="application name")
    p.add_argument("--cluster", help="only the instance on this cluster")
    _common(p)
    p.add_argument("--state-dir", help="git caches (default: $GITOPSD_STATE_DIR, "
                   "$STATE_DIRECTORY or ~/.local/state/gitopsd)")
    p.add_argument("--render-timeout", type=_duration, default=None, metavar="DURATION",
                   help=f"limit of one kustomize or helm run (default: ${RENDER_TIMEOUT_ENV}, "
                   "else 60s)")
    p.add_argument("--git-timeout", type=_duration, default=30.0, metavar="DURATION",
                   help="connect and read timeout of Git transfers (default: 30s)")


# -- check-config ------------------------------------------------------------------


def _check_config(args: argparse.Namespace) -> int:
    try:
        fleet = _load(args, check_files=True)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        n = len(exc.issues)
        print(f"gitopsd: {n} problem{'s' if n != 1 else ''} in the fleet file", file=sys.stderr)
        return 2
    print(config.summary(fleet))
    return 0


# -- render ------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, literal blocks for multi-line strings, keys in their written order."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(body: Mapping[str, Any]) -> str:
    return yaml.dump(dict(body), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1 << 16)


_NOTES = {
    SyncUse.APPLIED: "",
    SyncUse.SYNC_FAIL_HOOK: "SyncFail hook: runs only when a sync fails",
    SyncUse.CREATED: "not in Git: created by syncOptions CreateNamespace=true",
}


def _note(item: Listed) -> str:
    """The comment printed above ITEM: how a sync uses it, empty when applied as written."""
    if item.use is SyncUse.NOT_APPLIED:
        return f"not applied: {item.reason}"
    return _NOTES[item.use]


def _write_stream(out: TextIO, header: str, items: Sequence[Listed],
                  refused: Mapping[ResourceKey, str], warnings: Sequence[str] = ()) -> None:
    out.write(f"# gitopsd render: {header}\n")
    for warning in warnings:
        out.write(f"# warning: {warning}\n")
    for item in items:
        out.write("---\n")
        note = _note(item)
        if note:
            out.write(f"# {note}\n")
        if item.manifest.key in refused:
            out.write(f"# refused by the project: {refused[item.manifest.key]}\n")
        out.write(to_yaml(item.manifest.body))


async def _render_all(args: argparse.Namespace, fleet: Fleet) -> int:
    sources = _sources(args, fleet)
    failed = violated = False
    try:
        fleet = await with_application(fleet, args.app, sources)
        instances = select_instances(fleet, args.app, args.cluster)
        app = fleet.application(args.app)
        for instance in instances:
            revision: Revision | None = None
            try:
                revision = await sources.desired.resolve(instance)
                manifests = await sources.desired.manifests(instance, revision)
                if args.stamped:
                    manifests = tuple(prepare(m, fleet=fleet.name, app=app.name)
                                      for m in manifests)
                items = sync_order(manifests, policy=app.sync_policy,
                                   namespace=instance.namespace, sync_id=revision.sha)
            except GitopsdError as exc:
                _report("render", instance, revision, exc, sys.stderr)
                failed = True
                continue
            found = scope_of(fleet, instance, app).violations(manifests)
            refused = {v.key: f"{v.message} ({v.rule})" for v in found if v.key is not None}
            warnings = sources.desired.warnings(instance, revision)
            for warning in warnings:
                sys.stderr.write(f"gitopsd: render {_where(instance, revision)}: warning: {warning}\n")
            _write_stream(sys.stdout, _where(instance, revision), items, refused, warnings)
            sys.stdout.flush()
            if found:
                violated = True
                _report("render", instance, revision,
                        ProjectViolation(render_violations(app.project, found)), sys.stderr)
    finally:
        await sources.close()
    return 2 if failed else 1 if violated else 0


def _render(args: argparse.Namespace) -> int:
    fleet = _load(args, check_files=False)
    return asyncio.run(_render_all(args, fleet))


# -- diff --------------------------------------------------------------------------


async def _diff_one(fleet: Fleet, app: Application, instance: AppInstance, sources: Sources,
                    out: TextIO) -> int:
    """Print INSTANCE's differences; 0 in sync, 1 when something differs."""
    cmp = await compare_instance(fleet, app, instance, sources, with_diff=True)
    out.write(f"# gitopsd diff: {_where(instance, cmp.revision)}\n")
    found = 0
    for key in sorted(cmp.out_of_sync):
        found += 1
        diff = cmp.diffs[key]
        out.write(f"{diff.state.value}: {key}\n")
        out.write(diff.text if diff.text.endswith("\n") or not diff.text else diff.text + "\n")
    for key in sorted(cmp.extraneous):
        found += 1
        out.write(f"would prune: {key}\n")
    for key, owner in sorted(cmp.conflicts.items()):
        found += 1
        out.write(f"conflict: {key}: {owner.reason or 'owned by ' + owner.owner}\n")
    for key, reason in sorted(cmp.unreadable.items()):
        found += 1
        out.write(f"unreadable: {key}: {reason}\n")
    if not found:
        out.write(f"in sync: {len(cmp.desired)} objects\n")
    return 1 if found else 0


async def _diff_all(args: argparse.Namespace, fleet: Fleet) -> int:
    sources = _sources(args, fleet, decrypt=True)
    status = 0
    try:
        fleet = await with_application(fleet, args.app, sources)
        instances = select_instances(fleet, args.app, args.cluster)
        app = fleet.application(args.app)
        for instance in instances:
            try:
                status = max(status, await _diff_one(fleet, app, instance, sources, sys.stdout))
            except ProjectViolation as exc:  # a finding: the daemon would refuse this sync
                _report("diff", instance, None, exc, sys.stderr)
                status = max(status, 1)
            except GitopsdError as exc:
                _report("diff", instance, None, exc, sys.stderr)
                status = 2
            sys.stdout.flush()
    finally:
        await sources.close()
    return status


def _diff(args: argparse.Namespace) -> int:
    fleet = _load(args, check_files=True)
    configure_logging("warning")  # stdout is the diff; a warning (an unusable age key) is stderr's
    return asyncio.run(_diff_all(args, fleet))


# -- registration ------------------------------------------------------------------


def register(sub: Any) -> None:
    verbs: list[tuple[str, str, Callable[[argparse.Namespace], int]]] = [
        ("check-config", "validate the fleet file and list application instances",
         _check_config),
        ("render", "print the manifests gitopsd would apply for an application", _render),
        ("diff", "show how the live clusters differ from an application's desired state",
         _diff),
    ]
    for name, text, handler in verbs:
        p = sub.add_parser(name, help=text, description=text)
        if name == "check-config":
            _common(p)
        else:
            _source_args(p)
        if name == "render":
            p.add_argument("--stamped", action="store_true",
                           help="add gitopsd's ownership label and annotations as a sync would")
        p.set_defaults(handler=handler)
