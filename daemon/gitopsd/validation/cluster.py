"""``--against-cluster``: server-side dry-runs on an ephemeral local control plane.

The OpenAPI schemas describe shapes; the API server also checks values and
cross-field rules (port ranges, selectors matching template labels, immutable
names). This module starts a throwaway control plane with
``gitopsd.localcluster`` in a temporary directory, installs the CRDs and
Namespaces found among the objects for real (others depend on them), then
server-side applies every other object with ``dryRun=All``, and always tears
the control plane down again. Kustomize patches and SOPS-encrypted objects
(which cannot be sent before decryption) are skipped, as are kinds the
cluster does not serve (the schema check reports those). Messages about
Secrets have echoed values removed. It never talks to any cluster but the
one it started.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitopsd import localcluster
from gitopsd.core.policy import FieldPath, Finding, finding, is_sops_encrypted
from gitopsd.edges.kube import KubeClient, Objects
from gitopsd.errors import ApiError, GitopsdError, UnknownKind
from gitopsd.model import Cluster
from gitopsd.model.objects import meta as object_meta
from gitopsd.model.objects import name as object_name
from gitopsd.validation import rules
from gitopsd.validation.documents import Item

CLUSTER_NAME = "gitopsd-validate"
_CAUSES = ("Invalid value", "Required value", "Unsupported value", "Forbidden", "Duplicate value",
           "Too many", "Too long", "Not found", "Internal error")
_FIELD = re.compile(r"(?:^|[\[\s,:])([A-Za-z][\w.\-]*(?:\[[^\]]+\][\w.\-]*)*): (?:" + "|".join(_CAUSES) + ")")
_TYPED = re.compile(r"\s\.([A-Za-z][\w.\-]*(?:\[[^\]]+\][\w.\-]*)*): ")
_VALUE = re.compile(r"(Invalid value|Unsupported value|Duplicate value): (\"(?:[^\"\\]|\\.)*\"|[^:,\]]*)")


def field_path(text: str) -> FieldPath:
    """The first field the API server names in TEXT (``spec.ports[0].port``) as a field path.

    Field errors (``spec.x: Invalid value: ...``) and server-side apply's typed
    patch errors (``.spec.x: field not declared in schema``) are understood.
    """
    match = _FIELD.search(text) or _TYPED.search(text)
    if match is None:
        return ()
    path: list[str | int] = []
    for part in re.finditer(r"([^.\[\]]+)|\[(\d+)\]|\[([^\]]+)\]", match.group(1)):
        if part.group(1) is not None:
            path.append(part.group(1))
        elif part.group(2) is not None:
            path.append(int(part.group(2)))
        else:
            path.append(part.group(3))
    return tuple(path)


def api_message(exc: ApiError, *, secret: bool) -> str:
    """The API server's message without the request line; values removed for Secrets."""
    text = str(exc)
    marker = f": {exc.status} "
    if marker in text:
        text = text.split(marker, 1)[1]
        if exc.reason and text.startswith(exc.reason + " "):
            text = text[len(exc.reason) + 1:]
    if secret:
        text = _VALUE.sub(lambda m: f"{m.group(1)}: (value hidden)", text)
    return text.strip()


def candidates(items: Sequence[Item]) -> list[Item]:
    """Objects worth sending: full, unencrypted, each distinct body once."""
    chosen: dict[str, Item] = {}
    for item in items:
        if item.patch or is_sops_encrypted(item.subject.body):
            continue
        digest = json.dumps([str(item.key), item.subject.body], sort_keys=True, default=str)
        chosen.setdefault(digest, item)
    return list(chosen.values())


def against_cluster(items: Sequence[Item], *, crds: Sequence[Mapping[str, Any]] = (),
                    timeout: float = 120.0) -> tuple[list[Finding], int]:
    """Dry-run ITEMS on a fresh local control plane; (findings, objects sent).

    CRDS are further CustomResourceDefinitions from the repository (outside
    the files being checked) that are installed first; problems with them are
    not reported. The control plane is always stopped; its directory is
    removed unless it failed to start (its logs are then kept and named in
    the error).
    """
    work = Path(tempfile.mkdtemp(prefix="gitopsd-validate-"))
    cluster_dir = work / "cluster"
    try:
        lc = localcluster.up(CLUSTER_NAME, cluster_dir, ready_timeout=timeout)
    except GitopsdError as exc:
        raise GitopsdError(f"--against-cluster could not start a local control plane: {exc}") from None
    try:
        return asyncio.run(_dry_run(candidates(items), crds, lc.kubeconfig))
    finally:
        localcluster.down(cluster_dir)
        shutil.rmtree(work, ignore_errors=True)


async def _dry_run(items: Sequence[Item], extra_crds: Sequence[Mapping[str, Any]],
                   kubeconfig: Path) -> tuple[list[Finding], int]:
    client = await KubeClient.connect(Cluster(name=CLUSTER_NAME, kubeconfig=str(kubeconfig)))
    objects = Objects(client)
    found: list[Finding] = []
    try:
        crds = [i for i in items if i.key.kind == "CustomResourceDefinition"]
        namespaces = [i for i in items if i.key.group == "" and i.key.kind == "Namespace"]
        first = {id(i) for i in crds + namespaces}
        rest = [i for i in items if id(i) not in first]
        for item in crds + namespaces:
            found.extend(await _send(objects, item, dry_run=False))
        named = {i.key.name for i in crds}
        installed = [i.subject.body for i in crds]
        for body in extra_crds:
            name = object_name(body)
            if name and name not in named:
                named.add(name)
                try:
                    await objects.apply(body)
                    installed.append(body)
                except ApiError:
                    continue
        await _wait_served(client, installed)
        objects.invalidate()
        declared = {i.key.name for i in namespaces}
        for namespace in sorted({i.key.namespace for i in rest if i.key.namespace} - declared - {"default"}):
            await objects.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        limit = asyncio.Semaphore(8)

        async def one(item: Item) -> list[Finding]:
            async with limit:
                return await _send(objects, item, dry_run=True)

        for result in await asyncio.gather(*(one(i) for i in rest)):
            found.extend(result)
    finally:
        await client.close()
    return found, len(items)


async def _send(objects: Objects, item: Item, *, dry_run: bool) -> list[Finding]:
    body: dict[str, Any] = dict(item.subject.body)
    meta = dict(object_meta(body))
    try:
        if not meta.get("namespace") and await objects.namespaced(str(body.get("apiVersion")),
                                                                   item.key.kind):
            body["metadata"] = meta = {**meta, "namespace": "default"}
        if meta.get("name"):
            await objects.apply(body, dry_run=dry_run)
        else:
            await objects.create(body, dry_run=dry_run)
    except UnknownKind:
        return []
    except ApiError as exc:
        secret = item.key.group == "" and item.key.kind == "Secret"
        message = api_message(exc, secret=secret)
        subject = item.subject
        return [finding(rules.CLUSTER_REJECTED, message, file=subject.file,
                        line=subject.line_of(field_path(message)), subject=item.label)]
    return []


def _served_paths(crd: Mapping[str, Any]) -> list[str]:
    """The list URL of every served version of a CRD (``/apis/example.com/v1/widgets``)."""
    spec = crd.get("spec") or {}
    group, plural = spec.get("group"), (spec.get("names") or {}).get("plural")
    versions = [v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("served")]
    if not isinstance(group, str) or not isinstance(plural, str):
        return []
    return [f"/apis/{group}/{version}/{plural}" for version in versions if isinstance(version, str)]


async def _wait_served(client: KubeClient, crds: Sequence[Mapping[str, Any]], budget: float = 30.0) -> None:
    """Wait until the API server lists each CRD's custom resources (Established alone can
    precede the handler by a moment); give up quietly after BUDGET seconds."""
    deadline = time.monotonic() + budget
    for path in (p for crd in crds for p in _served_paths(crd)):
        while time.monotonic() < deadline:
            try:
                status, _ = await client.request("GET", path, query=[("limit", "1")], ok=(404,))
            except ApiError:
                status = 0
            if status == 200:
                break
            await asyncio.sleep(0.2)
