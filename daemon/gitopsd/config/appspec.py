"""Application parts shared by fleet files and Argo CD Application manifests.

``syncPolicy``, ``source.helm``, ``source.directory`` and ``ignoreDifferences`` have the same shape
in both (Argo CD's), so one reader serves both. Readers return best-effort
values and record problems in the ``Reader``; the caller decides whether the
result is used. Positions of string leaves that may hold templates are
recorded in ``lines`` (field path relative to the application → reported
field and line).
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node, ScalarNode

from gitopsd.config.reader import Reader
from gitopsd.config.rules import check_sync_option
from gitopsd.config.yamlpos import compose_documents, line_of
from gitopsd.model.fleet import (
    Backoff,
    DirectoryParams,
    HelmParameter,
    HelmParams,
    IgnoreDifference,
    JsonnetParams,
    JsonnetVar,
    Retry,
    SyncPolicy,
)
from gitopsd.model.globs import GlobError, compile_glob
from gitopsd.model.jqpath import JqPathError, parse_jq_path

__all__ = [
    "ARGO_HELM_EXTRA",
    "ARGO_HELM_IGNORED",
    "ARGO_HELM_UNSUPPORTED",
    "AUTOMATED_FIELDS",
    "BACKOFF_FIELDS",
    "DIRECTORY_FIELDS",
    "HELM_FIELDS",
    "HELM_PARAMETER_FIELDS",
    "IGNORE_DIFFERENCE_FIELDS",
    "JSONNET_FIELDS",
    "JSONNET_VAR_FIELDS",
    "RETRY_FIELDS",
    "SYNC_POLICY_FIELDS",
    "Positions",
    "read_directory",
    "read_helm",
    "read_ignore_differences",
    "read_sync_policy",
]

Positions = dict[str, tuple[str, int]]

SYNC_POLICY_FIELDS = ("automated", "syncOptions", "retry", "syncTimeout", "maxPruneShare")
AUTOMATED_FIELDS = ("enabled", "prune", "selfHeal", "allowEmpty")
RETRY_FIELDS = ("limit", "backoff")
BACKOFF_FIELDS = ("duration", "factor", "maxDuration")
HELM_FIELDS = ("releaseName", "valueFiles", "values")
DIRECTORY_FIELDS = ("recurse", "include", "exclude", "jsonnet")
JSONNET_FIELDS = ("tlas", "extVars", "libs")
JSONNET_VAR_FIELDS = ("name", "value", "code")
IGNORE_DIFFERENCE_FIELDS = ("group", "kind", "name", "namespace", "jsonPointers",
                            "managedFieldsManagers", "jqPathExpressions")

HELM_PARAMETER_FIELDS = ("name", "value", "forceString")
ARGO_HELM_EXTRA = ("valuesObject", "parameters")
ARGO_HELM_IGNORED = ("version", "passCredentials")  # Helm 2 and chart-repository credentials
ARGO_HELM_UNSUPPORTED = ("fileParameters", "ignoreMissingValueFiles", "skipCrds",
                         "skipSchemaValidation", "skipTests", "namespace", "kubeVersion",
                         "apiVersions")


def read_sync_policy(r: Reader, node: Node | None, path: str, *, default_timeout: float
                     ) -> SyncPolicy:
    """``syncPolicy`` in Argo CD's shape plus gitopsd's ``syncTimeout`` and ``maxPruneShare``."""
    base = SyncPolicy(sync_timeout=default_timeout)
    if node is None:
        return base
    f = r.mapping(node, path, SYNC_POLICY_FIELDS, unsupported=("managedNamespaceMetadata",))
    if f is None:
        return base
    automated = prune = self_heal = allow_empty = False
    if "automated" in f:
        a = r.mapping(f["automated"], f"{path}.automated", AUTOMATED_FIELDS) or {}
        flags = {k: r.boolean(a[k], f"{path}.automated.{k}") for k in AUTOMATED_FIELDS if k in a}
        automated = flags.get("enabled") is not False
        prune = bool(flags.get("prune"))
        self_heal = bool(flags.get("selfHeal"))
        allow_empty = bool(flags.get("allowEmpty"))
    options: list[str] = []
    for i, item in enumerate(r.sequence(f["syncOptions"], f"{path}.syncOptions") or []
                             if "syncOptions" in f else []):
        option = r.string(item, f"{path}.syncOptions[{i}]")
        if option is None:
            continue
        reason = check_sync_option(option)
        if reason:
            r.issue(item, f"{path}.syncOptions[{i}]", reason)
        else:
            options.append(option)
    retry = _read_retry(r, f.get("retry"), f"{path}.retry")
    timeout = base.sync_timeout
    if "syncTimeout" in f:
        timeout = r.duration(f["syncTimeout"], f"{path}.syncTimeout") or timeout
    share = base.max_prune_share
    if "maxPruneShare" in f:
        got = r.number(f["maxPruneShare"], f"{path}.maxPruneShare", minimum=0, maximum=1)
        share = share if got is None else got
    return SyncPolicy(automated=automated, prune=prune, self_heal=self_heal,
                      allow_empty=allow_empty, sync_options=tuple(options), retry=retry,
                      sync_timeout=timeout, max_prune_share=share)


def _read_retry(r: Reader, node: Node | None, path: str) -> Retry:
    if node is None:
        return Retry()
    f = r.mapping(node, path, RETRY_FIELDS, unsupported=("refresh",)) or {}
    limit = Retry().limit
    if "limit" in f:
        got = r.integer(f["limit"], f"{path}.limit")
        limit = limit if got is None else got
    backoff = Backoff()
    if "backoff" in f:
        b = r.mapping(f["backoff"], f"{path}.backoff", BACKOFF_FIELDS) or {}
        duration, factor, cap = backoff.duration, backoff.factor, backoff.max_duration
        if "duration" in b:
            duration = _or(r.duration(b["duration"], f"{path}.backoff.duration"), duration)
        if "factor" in b:
            factor = _or(r.number(b["factor"], f"{path}.backoff.factor", minimum=1), factor)
        if "maxDuration" in b:
            cap = _or(r.duration(b["maxDuration"], f"{path}.backoff.maxDuration"), cap)
        if cap < duration:
            r.issue(b.get("maxDuration", f["backoff"]), f"{path}.backoff.maxDuration",
                    "must not be shorter than backoff.duration")
        backoff = Backoff(duration, factor, cap)
    return Retry(limit, backoff)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def read_helm(r: Reader, node: Node, path: str, rel: str, lines: Positions, *,
              argocd: bool = False) -> HelmParams:
    """``source.helm``; ``values`` may be a mapping or a string of YAML (Argo CD's form)."""
    fields = HELM_FIELDS + (ARGO_HELM_EXTRA if argocd else ())
    f = r.mapping(node, path, fields, unsupported=ARGO_HELM_UNSUPPORTED if argocd else (),
                  ignored=ARGO_HELM_IGNORED if argocd else ())
    if f is None:
        return HelmParams()
    release = ""
    if "releaseName" in f:
        release = r.string(f["releaseName"], f"{path}.releaseName") or ""
        lines[f"{rel}.releaseName"] = r.where(f["releaseName"], f"{path}.releaseName")
    files: list[str] = []
    for i, item in enumerate(r.sequence(f["valueFiles"], f"{path}.valueFiles") or []
                             if "valueFiles" in f else []):
        name = r.string(item, f"{path}.valueFiles[{i}]")
        if name is not None:
            lines[f"{rel}.valueFiles[{i}]"] = r.where(item, f"{path}.valueFiles[{i}]")
            files.append(name)
    values: dict[str, Any] = {}
    for key in ("values", "valuesObject"):
        if key in f:
            values = _merge(values, _read_values(r, f[key], f"{path}.{key}", f"{rel}.values",
                                                 lines))
    parameters = _read_parameters(r, f["parameters"], f"{path}.parameters") \
        if "parameters" in f else ()
    return HelmParams(release_name=release, value_files=tuple(files), values=values,
                      parameters=parameters)


def _read_parameters(r: Reader, node: Node, path: str) -> tuple[HelmParameter, ...]:
    """Argo CD's ``helm.parameters``: ``--set name=value`` (``--set-string`` with forceString)."""
    out = []
    for i, item in enumerate(r.sequence(node, path) or []):
        p = f"{path}[{i}]"
        f = r.mapping(item, p, HELM_PARAMETER_FIELDS, required=("name",))
        if f is None or "name" not in f:
            continue
        name = r.string(f["name"], f"{p}.name")
        value = ""
        if "value" in f:
            node_value = f["value"]
            if isinstance(node_value, ScalarNode):
                value = str(node_value.value)
            else:
                r.issue(node_value, f"{p}.value", "expected a string")
        force = bool(r.boolean(f["forceString"], f"{p}.forceString")) if "forceString" in f \
            else False
        if name is not None:
            out.append(HelmParameter(name=name, value=value, force_string=force))
    return tuple(out)


def read_directory(r: Reader, node: Node, path: str) -> DirectoryParams:
    """``source.directory``: Argo CD's options of a plain directory (recurse, globs, Jsonnet)."""
    f = r.mapping(node, path, DIRECTORY_FIELDS)
    if f is None:
        return DirectoryParams()
    recurse = bool(r.boolean(f["recurse"], f"{path}.recurse")) if "recurse" in f else False
    globs = {}
    for key in ("include", "exclude"):
        if key not in f:
            continue
        pattern = r.string(f[key], f"{path}.{key}", empty=True) or ""
        try:
            compile_glob(pattern)
        except GlobError as exc:
            r.issue(f[key], f"{path}.{key}", str(exc))
        globs[key] = pattern
    jsonnet = JsonnetParams()
    if "jsonnet" in f:
        j = r.mapping(f["jsonnet"], f"{path}.jsonnet", JSONNET_FIELDS) or {}
        libs = r.string_list(j["libs"], f"{path}.jsonnet.libs") or () if "libs" in j else ()
        jsonnet = JsonnetParams(
            tlas=_jsonnet_vars(r, j.get("tlas"), f"{path}.jsonnet.tlas"),
            ext_vars=_jsonnet_vars(r, j.get("extVars"), f"{path}.jsonnet.extVars"),
            libs=libs)
    return DirectoryParams(recurse=recurse, include=globs.get("include", ""),
                           exclude=globs.get("exclude", ""), jsonnet=jsonnet)


def _jsonnet_vars(r: Reader, node: Node | None, path: str) -> tuple[JsonnetVar, ...]:
    if node is None:
        return ()
    out: list[JsonnetVar] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(r.sequence(node, path) or []):
        p = f"{path}[{i}]"
        f = r.mapping(item, p, JSONNET_VAR_FIELDS, required=("name", "value"))
        if f is None or "name" not in f or "value" not in f:
            continue
        name = r.string(f["name"], f"{p}.name")
        value = r.string(f["value"], f"{p}.value", empty=True)
        code = bool(r.boolean(f["code"], f"{p}.code")) if "code" in f else False
        if name is None or value is None:
            continue
        if name in seen:
            r.issue(f["name"], f"{p}.name", f"'{name}' is already set by {path}[{seen[name]}]")
            continue
        seen[name] = i
        out.append(JsonnetVar(name, value, code))
    return tuple(out)


def _read_values(r: Reader, node: Node, path: str, rel: str, lines: Positions
                 ) -> dict[str, Any]:
    if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:str":
        block = node.style in ("|", ">")
        offset = line_of(node) - (0 if block else 1)
        docs = compose_documents(str(node.value), r.file, r.log, line_offset=offset, field=path)
        if not docs:
            return {}
        node = docs[0]
    found: Positions = {}
    data = r.plain(node, path, found)
    if not isinstance(data, dict):
        r.issue(node, path, "helm values must be a mapping")
        return {}
    for key, where in found.items():
        lines[rel + key[len(path):]] = where
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def read_ignore_differences(r: Reader, node: Node | None, path: str
                            ) -> tuple[IgnoreDifference, ...]:
    """``ignoreDifferences``: which fields of which objects the diff leaves alone."""
    if node is None:
        return ()
    out = []
    for i, item in enumerate(r.sequence(node, path) or []):
        p = f"{path}[{i}]"
        f = r.mapping(item, p, IGNORE_DIFFERENCE_FIELDS, required=("kind",))
        if f is None:
            continue
        text = {k: r.string(f[k], f"{p}.{k}", empty=k == "group") or ""
                for k in ("group", "kind", "name", "namespace") if k in f}
        pointers = r.string_list(f["jsonPointers"], f"{p}.jsonPointers") or () \
            if "jsonPointers" in f else ()
        for j, pointer in enumerate(pointers):
            if not pointer.startswith("/"):
                r.issue(f["jsonPointers"].value[j], f"{p}.jsonPointers[{j}]",
                        f"JSON pointer '{pointer}' must start with '/'")
        managers = r.string_list(f["managedFieldsManagers"], f"{p}.managedFieldsManagers") \
            or () if "managedFieldsManagers" in f else ()
        expressions = r.string_list(f["jqPathExpressions"], f"{p}.jqPathExpressions") \
            or () if "jqPathExpressions" in f else ()
        for j, expression in enumerate(expressions):
            try:
                parse_jq_path(expression)
            except JqPathError as exc:
                r.issue(f["jqPathExpressions"].value[j], f"{p}.jqPathExpressions[{j}]", str(exc))
        out.append(IgnoreDifference(group=text.get("group", ""), kind=text.get("kind", ""),
                                    name=text.get("name", ""),
                                    namespace=text.get("namespace", ""),
                                    json_pointers=pointers, managed_fields_managers=managers,
                                    jq_path_expressions=expressions))
    return tuple(out)
