"""The fleet file's ``health`` section: user health checks in Lua (Argo CD) and CEL (Flux).

```yaml
health:
  example.com/Widget: {luaFile: checks/widget.lua}
  "*.crossplane.io/*": {lua: "...", useOpenLibs: false}
  example.com/Gadget: {cel: {current: "...", inProgress: "...", failed: "..."}}
  healthCheckExprs: [{apiVersion: example.com/v1, kind: Gadget, current: "..."}]
  argocdConfigMap: argocd-cm.yaml     # resource.customizations.health.* keys
  luaDirectory: resource_customizations   # <group>/<kind>/health.lua, "_" a wildcard
```

A key with a ``/`` (or a capitalised kind name alone, for the core API
group) names the kinds a check is for; ``*`` is a wildcard. Every script is
compiled here so that a syntax error (Lua) or a compile error (CEL) is a
fleet-file error naming the file and line where the script was written. The
specs come out in lookup order: the entries of this section, the Flux
entries, the ConfigMap's, then the directory's (library tier). This module
reads the files the section names; it must not run a script.
"""

from __future__ import annotations

import os
from pathlib import Path

from yaml.nodes import MappingNode, Node

from gitopsd.config.argocdcm import read_argocd_cm
from gitopsd.config.healthscripts import lua_spec, script_line, split_selector
from gitopsd.config.reader import Reader
from gitopsd.config.yamlpos import line_of
from gitopsd.model.healthchecks import CelExprs, CheckTier, HealthCheckSpec, ScriptOrigin
from gitopsd.scripting import cel_problem

__all__ = ["HEALTH_SETTINGS", "read_health"]

HEALTH_SETTINGS = ("argocdConfigMap", "luaDirectory", "healthCheckExprs")
CHECK_FIELDS = ("lua", "luaFile", "useOpenLibs", "cel")
CEL_FIELDS = ("current", "inProgress", "failed")
FLUX_FIELDS = ("apiVersion", "kind", *CEL_FIELDS)


def read_health(r: Reader, node: Node | None, base: Path) -> tuple[HealthCheckSpec, ...]:
    """The checks of the ``health`` section (``base``: the fleet file's directory)."""
    if node is None:
        return ()
    if not isinstance(node, MappingNode):
        r.mapping(node, "health", ())
        return ()
    own: list[HealthCheckSpec] = []
    settings: dict[str, Node] = {}
    for key, value in node.value:
        name = r.string(key, "health")
        if name is None:
            continue
        if name in HEALTH_SETTINGS:
            settings[name] = value
            continue
        selector = split_selector(name)
        path = f"health[{name}]"
        if selector is None:
            r.issue(key, path, "expected group/kind (a core kind alone), or one of "
                    + ", ".join(HEALTH_SETTINGS))
            continue
        spec = _check(r, value, path, selector, base)
        if spec is not None:
            own.append(spec)
    if "healthCheckExprs" in settings:
        own.extend(_flux(r, settings["healthCheckExprs"]))
    if "argocdConfigMap" in settings:
        cm = r.string(settings["argocdConfigMap"], "health.argocdConfigMap")
        if cm:
            own.extend(read_argocd_cm(r, settings["argocdConfigMap"], _resolve(base, cm)))
    if "luaDirectory" in settings:
        directory = r.string(settings["luaDirectory"], "health.luaDirectory")
        if directory:
            own.extend(_directory(r, settings["luaDirectory"], _resolve(base, directory), base))
    return tuple(own)


def _resolve(base: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def _check(r: Reader, node: Node, path: str, selector: tuple[str, str], base: Path
           ) -> HealthCheckSpec | None:
    f = r.mapping(node, path, CHECK_FIELDS)
    if f is None:
        return None
    given = [k for k in ("lua", "luaFile", "cel") if k in f]
    if len(given) != 1:
        r.issue(node, path, "give exactly one of lua, luaFile and cel"
                + (f" (found {', '.join(given)})" if given else ""))
        return None
    open_libs = bool(r.boolean(f["useOpenLibs"], f"{path}.useOpenLibs")) if "useOpenLibs" in f else False
    if "cel" in f:
        if "useOpenLibs" in f:
            r.issue(f["useOpenLibs"], f"{path}.useOpenLibs", "applies to Lua checks only")
        exprs = _cel(r, f["cel"], f"{path}.cel")
        if exprs is None:
            return None
        return HealthCheckSpec(group=selector[0], kind=selector[1], name="cel", cel=exprs,
                               origin=ScriptOrigin(r.file, line_of(f["cel"]), f"{path}.cel"))
    if "lua" in f:
        source = r.string(f["lua"], f"{path}.lua")
        if source is None:
            return None
        origin = ScriptOrigin(r.file, script_line(f["lua"]), f"{path}.lua")
        return lua_spec(r, selector=selector, name=f"lua:{'/'.join(selector)}", source=source,
                        origin=origin, open_libs=open_libs)
    name = r.string(f["luaFile"], f"{path}.luaFile")
    if name is None:
        return None
    file = _resolve(base, name)
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        r.issue(f["luaFile"], f"{path}.luaFile", f"cannot read Lua file '{file}': {reason}")
        return None
    return lua_spec(r, selector=selector, name=f"lua:{name}", source=source,
                    origin=ScriptOrigin(str(file), 1, f"{path}.luaFile"), open_libs=open_libs)


def _expr(r: Reader, node: Node, path: str) -> str:
    """One CEL expression, reported at its line when it does not compile ("" then)."""
    text = r.string(node, path)
    if text is None:
        return ""
    problem = cel_problem(text)
    if problem is not None:
        column = f" (column {problem.column})" if problem.column else ""
        r.issue_at(path, script_line(node) + problem.line - 1, f"CEL: {problem.message}{column}")
        return ""
    return text


def _cel(r: Reader, node: Node, path: str, fields: tuple[str, ...] = CEL_FIELDS,
         f: dict[str, Node] | None = None) -> CelExprs | None:
    f = f if f is not None else r.mapping(node, path, fields, required=("current",))
    if f is None or "current" not in f:
        return None
    exprs = {k: _expr(r, f[k], f"{path}.{k}") if k in f else "" for k in CEL_FIELDS}
    if any(k in f and not exprs[k] for k in CEL_FIELDS):
        return None
    return CelExprs(current=exprs["current"], in_progress=exprs["inProgress"], failed=exprs["failed"])


def _flux(r: Reader, node: Node) -> list[HealthCheckSpec]:
    """Flux Kustomization ``healthCheckExprs`` entries, as written there."""
    out: list[HealthCheckSpec] = []
    for i, item in enumerate(r.sequence(node, "health.healthCheckExprs") or []):
        path = f"health.healthCheckExprs[{i}]"
        f = r.mapping(item, path, FLUX_FIELDS, required=("apiVersion", "kind", "current"))
        if f is None:
            continue
        api_version = r.string(f["apiVersion"], f"{path}.apiVersion") if "apiVersion" in f else None
        kind = r.string(f["kind"], f"{path}.kind") if "kind" in f else None
        exprs = _cel(r, item, path, FLUX_FIELDS, f)
        if api_version and kind and exprs is not None:
            out.append(HealthCheckSpec(group=api_version.rpartition("/")[0], kind=kind, name="cel",
                                       cel=exprs, api_version=api_version,
                                       origin=ScriptOrigin(r.file, line_of(item), path)))
    return out


def _directory(r: Reader, node: Node, root: Path, base: Path) -> list[HealthCheckSpec]:
    """``<group>/<kind>/health.lua`` under ``root``; ``_`` in a segment matches anything."""
    if not root.is_dir():
        r.issue(node, "health.luaDirectory", f"'{root}' is not a directory")
        return []
    out: list[HealthCheckSpec] = []
    for script in sorted(root.glob("*/*/health.lua")):
        group, kind = (part.replace("_", "*") for part in script.relative_to(root).parts[:2])
        shown = os.path.relpath(script, base) if script.is_relative_to(base) else str(script)
        try:
            source = script.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            r.issue(node, "health.luaDirectory", f"cannot read '{script}': {reason}")
            continue
        spec = lua_spec(r, selector=(group, kind), name=f"lua:{shown}", source=source,
                        origin=ScriptOrigin(str(script), 1, "health.luaDirectory"),
                        tier=CheckTier.LIBRARY)
        if spec is not None:
            out.append(spec)
    return out
