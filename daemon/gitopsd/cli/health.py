"""``gitopsd health FILE...``: the health gitopsd assigns to objects saved as YAML, offline.

For each object in the files (``kind: List`` items too), one line: the
status, the check that decided (``built-in``, ``lua:<file or key>``,
``cel``), the object and the message. With ``--config`` the fleet file's
``health`` section is used, so users can test their Lua and CEL checks
against saved objects (``kubectl get -o yaml``) the way
``argocd admin settings resource-overrides health`` does for Argo CD. Exit
codes: 0 done, 2 a file or the fleet file could not be read. This module
parses arguments and prints; judging is ``core.health``'s work and it never
contacts a cluster.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from gitopsd import config
from gitopsd.app import health_checks
from gitopsd.core.health.custom import HealthChecks, Verdict
from gitopsd.core.manifests.yaml12 import YamlError, load_documents
from gitopsd.errors import GitopsdError


def _objects(path: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line, object) for each object in the YAML file at PATH ("-": standard input)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise GitopsdError(f"cannot read {path}: {reason}") from None
    try:
        for doc in load_documents(text):
            value = doc.value
            if not isinstance(value, Mapping):
                continue
            if value.get("kind") == "List" or (str(value.get("kind", "")).endswith("List")
                                               and isinstance(value.get("items"), list)):
                lines = doc.item_lines or (doc.line,) * len(value.get("items") or [])
                for line, item in zip(lines, value.get("items") or [], strict=False):
                    if isinstance(item, Mapping):
                        yield line, item
            elif value.get("kind"):
                yield doc.line, value
    except YamlError as exc:
        raise GitopsdError(f"{path}: {exc}") from None


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    kind = f"{obj.get('kind', '')}.{group}" if group else str(obj.get("kind", ""))
    ns = meta.get("namespace") if isinstance(meta, Mapping) else None
    name = meta.get("name", "") if isinstance(meta, Mapping) else ""
    return f"{kind} {ns}/{name}" if ns else f"{kind} {name}"


def report(checks: HealthChecks, paths: list[str], out: TextIO, *, as_json: bool = False) -> int:
    """Print the verdict for every object in PATHS; returns the number of objects."""
    rows: list[tuple[str, int, Mapping[str, Any], Verdict]] = []
    for path in paths:
        rows.extend((path, line, obj, checks.decide(obj)) for line, obj in _objects(path))
    if as_json:
        json.dump([{"file": path, "line": line, "object": _name(obj),
                    "status": v.health.status.value, "message": v.health.message, "check": v.by}
                   for path, line, obj, v in rows], out, indent=2)
        out.write("\n")
        return len(rows)
    width = max((len(v.health.status.value) for *_, v in rows), default=0)
    check_width = max((len(v.by) for *_, v in rows), default=0)
    for _, _, obj, v in rows:
        message = f"  {v.health.message}" if v.health.message else ""
        out.write(f"{v.health.status.value:<{width}}  {v.by:<{check_width}}  {_name(obj)}{message}\n")
    return len(rows)


def _health(args: argparse.Namespace) -> int:
    path = args.config or config.default_config_path()
    checks = health_checks(config.load_fleet(path, check_files=False)) if path else HealthChecks()
    report(checks, args.files, sys.stdout, as_json=args.output == "json")
    return 0


def register(sub: Any) -> None:
    text = "print the health gitopsd assigns to objects in YAML files, and which check decided"
    p = sub.add_parser("health", help=text, description=text + ". The fleet file's health "
                       "section (--config, default $GITOPSD_CONFIG) supplies Lua and CEL checks.")
    p.add_argument("files", nargs="+", metavar="FILE", help="YAML files of live objects ('-': stdin)")
    p.add_argument("--config", help="fleet file whose health section to use")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")
    p.set_defaults(handler=_health)
