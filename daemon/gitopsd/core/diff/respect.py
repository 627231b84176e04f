"""``RespectIgnoreDifferences=true``: a sync leaves ignored fields as the cluster has them.

Without the option, ``ignoreDifferences`` only changes what counts as a
difference; a sync that applies an object for another reason writes the whole
desired body, ignored fields included (Argo CD's default). With it, the body
to apply takes the live value of every ignored field the live object has, so
server-side apply keeps that value (a replica count an autoscaler set, a CA
bundle a webhook injected). A field the live object lacks keeps its desired
value. Elements of lists of named maps (containers, ports) are matched by
name, other list elements by position. gitopsd's own marks (``gitopsd.io/``
labels and annotations) and server-set metadata are never taken from the live
object. Nothing here talks to a cluster.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from gitopsd.core.diff.pointer import PointerError, parse_pointer
from gitopsd.core.marks import GITOPSD_PREFIX
from gitopsd.model import objects
from gitopsd.model.fleet import IgnoreDifference
from gitopsd.model.jqpath import Path, parse_jq_path

SERVER_METADATA = ("resourceVersion", "uid", "managedFields", "creationTimestamp", "generation",
                   "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences")


def _pointer_path(doc: Any, pointer: str) -> Path | None:
    """The path POINTER names in DOC, or None when DOC has nothing there."""
    try:
        tokens = parse_pointer(pointer)
    except PointerError:
        return None
    path: list[str | int] = []
    node = doc
    for token in tokens:
        if isinstance(node, Mapping) and token in node:
            path.append(token)
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            path.append(int(token))
            node = node[int(token)]
        else:
            return None
    return tuple(path)


def _ignored_paths(doc: Any, rules: Sequence[IgnoreDifference]) -> list[Path]:
    paths: list[Path] = []
    for rule in rules:
        for pointer in rule.json_pointers:
            found = _pointer_path(doc, pointer)
            if found:
                paths.append(found)
        for expression in rule.jq_path_expressions:
            paths.extend(p for p in parse_jq_path(expression).paths(doc) if p)
    return paths


def _counterpart(live: Any, desired: Any, path: Path) -> Path | None:
    """PATH (a path in LIVE) translated to DESIRED's layout, when DESIRED has its parents."""
    out: list[str | int] = []
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(part, int):
            if not isinstance(live, list) or not isinstance(desired, list):
                return None
            item = live[part]
            name = item.get("name") if isinstance(item, Mapping) else None
            if name is not None:
                matches = [j for j, d in enumerate(desired)
                           if isinstance(d, Mapping) and d.get("name") == name]
                if not matches:
                    return None
                index = matches[0]
            elif part < len(desired):
                index = part
            else:
                return None
            out.append(index)
            live, desired = item, desired[index]
        else:
            if not isinstance(live, Mapping) or not isinstance(desired, Mapping):
                return None
            out.append(part)
            if last:
                break
            if part not in desired:
                return None
            live, desired = live[part], desired[part]
    return tuple(out)


def _get(doc: Any, path: Path) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def respect_ignored(desired: Mapping[str, Any], live: Mapping[str, Any],
                    rules: Sequence[IgnoreDifference]) -> dict[str, Any]:
    """DESIRED with each field RULES ignore set to its value in LIVE, where LIVE has one."""
    out = copy.deepcopy(dict(desired))
    for path in _ignored_paths(live, rules):
        if path[:1] == ("metadata",) and (len(path) < 2 or path[1] in SERVER_METADATA):
            continue
        target = _counterpart(live, out, path)
        if target is None:
            continue
        _get(out, target[:-1])[target[-1]] = copy.deepcopy(_get(live, path))
    _keep_marks(out, desired)
    return out


def _keep_marks(out: dict[str, Any], desired: Mapping[str, Any]) -> None:
    """gitopsd's own labels and annotations (``gitopsd.io/...``) always come from DESIRED."""
    meta = out.setdefault("metadata", {})
    wanted = {"labels": objects.labels(desired), "annotations": objects.annotations(desired)}
    for field in ("labels", "annotations"):
        own = {k: v for k, v in wanted[field].items() if k.startswith(GITOPSD_PREFIX)}
        current = meta.get(field)
        if not isinstance(current, dict):
            current = {}
        current = {k: v for k, v in current.items() if not k.startswith(GITOPSD_PREFIX)} | own
        if current:
            meta[field] = current
        else:
            meta.pop(field, None)
