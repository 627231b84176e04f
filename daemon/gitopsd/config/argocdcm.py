"""Health checks from an Argo CD ``argocd-cm`` ConfigMap file, so Argo CD users bring theirs.

Both of Argo CD's spellings are read from ``data``:

* ``resource.customizations.health.<group>_<kind>`` (a core kind: ``<kind>``)
  holding the Lua script, with ``resource.customizations.useOpenLibs.<group>_<kind>:
  "true"`` to open the libraries;
* the older ``resource.customizations`` block, YAML in a string, mapping
  ``<group>/<kind>`` (wildcards allowed, e.g. ``"*.aws.crossplane.io/*"``) to
  ``health.lua`` and ``health.lua.useOpenLibs``.

Every other key (actions, ignoreDifferences, ...) is Argo CD's business and
skipped. Lines in errors are lines of the ConfigMap file, also inside the
block. This module reads that one file; it must not run a script.
"""

from __future__ import annotations

from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode

from gitopsd.config.healthscripts import lua_spec, script_line, split_selector
from gitopsd.config.reader import Reader
from gitopsd.config.yamlpos import compose_documents, is_null
from gitopsd.model.healthchecks import HealthCheckSpec, ScriptOrigin

__all__ = ["read_argocd_cm"]

HEALTH_PREFIX = "resource.customizations.health."
OPEN_LIBS_PREFIX = "resource.customizations.useOpenLibs."
BLOCK = "resource.customizations"


def _entries(node: Node) -> dict[str, Node]:
    if not isinstance(node, MappingNode):
        return {}
    return {str(k.value): v for k, v in node.value if isinstance(k, ScalarNode) and not is_null(v)}


def _configmap(docs: list[Node]) -> Node | None:
    maps = [d for d in docs if _scalar(_entries(d).get("kind")) == "ConfigMap"]
    named = [d for d in maps if _scalar(_entries(_entries(d).get("metadata") or d).get("name"))
             == "argocd-cm"]
    found = named or maps
    return found[0] if found else None


def _scalar(node: Node | None) -> str:
    return str(node.value) if isinstance(node, ScalarNode) else ""


def read_argocd_cm(r: Reader, at: Node, path: Path) -> list[HealthCheckSpec]:
    """The health checks of the ConfigMap file at ``path`` (named by the fleet node ``at``)."""
    field = "health.argocdConfigMap"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        r.issue(at, field, f"cannot read '{path}': {reason}")
        return []
    cm = Reader(str(path), r.log)
    doc = _configmap(compose_documents(text, str(path), r.log))
    if doc is None:
        r.issue(at, field, f"'{path}' holds no ConfigMap")
        return []
    data = _entries(_entries(doc).get("data") or MappingNode("", []))
    out: list[HealthCheckSpec] = []
    for key, value in data.items():
        if key.startswith(HEALTH_PREFIX):
            suffix = key.removeprefix(HEALTH_PREFIX)
            group, _, kind = suffix.rpartition("_")
            source = cm.string(value, f"data[{key}]")
            if source is None:
                continue
            opened = _scalar(data.get(OPEN_LIBS_PREFIX + suffix)).lower() == "true"
            spec = lua_spec(cm, selector=(group, kind), name=f"lua:{key}", source=source,
                            origin=ScriptOrigin(str(path), script_line(value), f"data[{key}]"),
                            open_libs=opened)
            if spec is not None:
                out.append(spec)
        elif key == BLOCK:
            out.extend(_block(cm, value, str(path)))
    return out


def _block(cm: Reader, value: Node, file: str) -> list[HealthCheckSpec]:
    """The ``resource.customizations`` block: YAML inside the string, lines kept."""
    text = cm.string(value, f"data[{BLOCK}]")
    if text is None:
        return []
    docs = compose_documents(text, file, cm.log, line_offset=script_line(value) - 1, field=f"data[{BLOCK}]")
    out: list[HealthCheckSpec] = []
    for doc in docs[:1]:
        if not isinstance(doc, MappingNode):
            cm.issue(doc, f"data[{BLOCK}]", "expected a mapping of group/kind to customizations")
            continue
        for key, entry in doc.value:
            name = _scalar(key)
            settings = _entries(entry)
            if "health.lua" not in settings:
                continue
            path = f"data[{BLOCK}][{name}].health.lua"
            selector = split_selector(name)
            if selector is None:
                cm.issue(key, f"data[{BLOCK}][{name}]", "expected group/kind")
                continue
            source = cm.string(settings["health.lua"], path)
            if source is None:
                continue
            opened = _scalar(settings.get("health.lua.useOpenLibs")).lower() == "true"
            origin = ScriptOrigin(file, script_line(settings["health.lua"]), path)
            spec = lua_spec(cm, selector=selector, name=f"lua:{BLOCK}[{name}]", source=source,
                            origin=origin, open_libs=opened)
            if spec is not None:
                out.append(spec)
    return out
