"""An in-memory cluster for engine tests: the engine's ``ClusterPort`` kept in a dict.

``FakeCluster`` behaves like an API server wherever engine logic depends on it,
and nowhere else:

* objects are stored by ``ResourceKey``; every returned object is a copy;
* creating gives a uid, ``creationTimestamp``, ``generation`` 1 and, for a
  ``generateName`` body, a name; creating an existing name is a 409;
* ``set_managed_fields`` replaces ``managedFields`` at a matching ``resourceVersion``
  (else 422, as a failed JSON patch test is), and later writes keep them;
* every write gets the next ``resourceVersion``; a write naming another
  ``resourceVersion`` than the object's is a 409; a changed ``spec`` bumps
  ``generation``; writes never change ``status`` (it is a subresource), so a
  test sets it with ``set_status`` or a script;
* ``apply`` creates what is missing (server-side apply); ``dry_run`` stores nothing;
* ``delete`` honours uid and resourceVersion preconditions like ``edges.kube``
  does (False when the object is gone, is another incarnation or has changed
  since) and records the propagation;
* ``select`` filters by kind, namespace and ``k=v[,k2=v2]`` label selectors.

Scripted behaviour, all optional and combinable:

* ``script_status(kind, status, name=..., after_reads=N)``: once a matching
  object has been read (``get``) N times since it was created, its status
  becomes STATUS (a hook Job that completes or fails on its Nth poll);
* ``linger(reads, kind=..., name=...)``: a deleted matching object stays, with a
  ``deletionTimestamp``, for READS more reads and disappears on the next one
  (``reap`` makes every lingering object disappear at once);
* ``before_delete(hook)``: HOOK(key) runs as each delete arrives, before it is
  decided (another writer racing the delete);
* ``fail(verb, error, kind=..., name=..., times=N)``: the next N calls of VERB
  (get, apply, create, replace, delete, select) on matching objects raise ERROR
  (``times=None``: every call).

Every write, delete and disappearance is recorded in ``log`` as an ``Event``
stamped with the clock's time (0 without a clock); reads are counted in
``reads``. Kinds are served unless named in ``unserved`` (then ``namespaced``
says None and writes raise ``UnknownKind``). Every Namespace exists for ``get``
(an API server's namespaces that a test does not care about) unless
``implicit_namespaces`` is False; writes never check namespaces.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from gitopsd.engine.clock import Clock
from gitopsd.errors import ApiError, UnknownKind
from gitopsd.model import ResourceKey

Obj = dict[str, Any]

CLUSTER_SCOPED = frozenset({"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                            "PersistentVolume", "StorageClass", "PriorityClass", "APIService"})
SERVER_FIELDS = ("uid", "creationTimestamp", "resourceVersion", "generation", "deletionTimestamp", "name")


class Event(NamedTuple):
    """One thing that happened to the cluster's objects."""

    at: float
    verb: str  # create, apply, replace, delete, gone
    key: ResourceKey
    detail: str = ""  # delete: the propagation policy


@dataclass
class _Match:
    kind: str | None
    name: str | None

    def __call__(self, key: ResourceKey) -> bool:
        return (self.kind is None or key.kind == self.kind) and (self.name is None or key.name == self.name)


@dataclass
class _StatusScript:
    match: _Match
    status: Obj
    after_reads: int


@dataclass
class _Failure:
    verb: str
    match: _Match
    error: Exception
    times: int | None


def _key(api_version: str, kind: str, name: str, namespace: str) -> ResourceKey:
    return ResourceKey(api_version.rpartition("/")[0], kind, namespace, name)


class FakeCluster:
    """An in-memory ``ClusterPort``; see the module docstring for what it models."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock
        self.objects: dict[ResourceKey, Obj] = {}
        self.log: list[Event] = []
        self.reads: Counter[ResourceKey] = Counter()
        self.unserved: set[str] = set()
        self.implicit_namespaces = True
        self.invalidated: list[str | None] = []
        self._version = 0
        self._uids = 0
        self._obj_reads: Counter[str] = Counter()  # by uid: reads since creation
        self._lingering: dict[str, int] = {}  # by uid: reads left before a deleted object goes
        self._linger: list[tuple[_Match, int]] = []
        self._scripts: list[_StatusScript] = []
        self._failures: list[_Failure] = []
        self._before_delete: list[Callable[[ResourceKey], None]] = []

    # -- scripting ------------------------------------------------------------

    def script_status(self, kind: str, status: Mapping[str, Any], *, name: str | None = None,
                      after_reads: int = 0) -> None:
        """Give matching objects STATUS once they have been read AFTER_READS times."""
        self._scripts.append(_StatusScript(_Match(kind, name), dict(status), after_reads))

    def linger(self, reads: int, *, kind: str | None = None, name: str | None = None) -> None:
        """Keep deleted matching objects for READS more reads before they disappear."""
        self._linger.append((_Match(kind, name), reads))

    def fail(self, verb: str, error: Exception | None = None, *, kind: str | None = None,
             name: str | None = None, times: int | None = 1) -> None:
        """Make the next TIMES calls of VERB on matching objects raise ERROR (a 500 by default)."""
        self._failures.append(_Failure(verb, _Match(kind, name),
                                       error or ApiError(f"injected {verb} failure", status=500), times))

    def before_delete(self, hook: Callable[[ResourceKey], None]) -> None:
        """Run HOOK(key) as each delete arrives, before the fake decides it."""
        self._before_delete.append(hook)

    def put(self, body: Mapping[str, Any]) -> Obj:
        """Store BODY as it is (status included) with server fields filled in, without logging."""
        obj = copy.deepcopy(dict(body))
        meta = obj.setdefault("metadata", {})
        self._uids += 1
        meta.setdefault("uid", f"uid-{self._uids}")
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = self._next_version()
        self.objects[ResourceKey.of(obj)] = obj
        return copy.deepcopy(obj)

    def set_status(self, key: ResourceKey, status: Mapping[str, Any]) -> None:
        """Replace the status of the object at KEY (as its controller would)."""
        self.objects[key]["status"] = copy.deepcopy(dict(status))
        self.objects[key]["metadata"]["resourceVersion"] = self._next_version()

    def reap(self) -> None:
        """Every object that is being deleted disappears now."""
        for key, obj in list(self.objects.items()):
            if obj["metadata"].get("deletionTimestamp"):
                self._gone(key)

    def events(self, verb: str | None = None) -> list[tuple[str, str]]:
        """(verb, name) of the logged events, in order, optionally of one verb only."""
        return [(e.verb, e.key.name) for e in self.log if verb is None or e.verb == verb]

    # -- ClusterPort ----------------------------------------------------------

    async def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Obj | None:
        key = _key(api_version, kind, name, namespace)
        self._maybe_fail("get", key)
        self.reads[key] += 1
        obj = self.objects.get(key)
        if obj is None:
            if kind == "Namespace" and self.implicit_namespaces:
                return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            return None
        uid = obj["metadata"]["uid"]
        if uid in self._lingering:
            if self._lingering[uid] <= 0:
                self._gone(key)
                return None
            self._lingering[uid] -= 1
        self._obj_reads[uid] += 1
        for script in self._scripts:
            if script.match(key) and self._obj_reads[uid] > script.after_reads:
                obj["status"] = copy.deepcopy(script.status)
        return copy.deepcopy(obj)

    async def apply(self, body: Mapping[str, Any], *, dry_run: bool = False, force: bool = True) -> Obj:
        key = ResourceKey.of(body)
        self._maybe_fail("apply", key)
        self._check_served(key)
        current = self.objects.get(key)
        if current is None:
            return self._create(body, dry_run=dry_run, verb="apply")
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise ApiError(f"{key} has been modified", status=409, reason="Conflict")
        return self._write(key, body, current, dry_run=dry_run, verb="apply")

    async def create(self, body: Mapping[str, Any], *, dry_run: bool = False) -> Obj:
        meta = body.get("metadata") or {}
        key = ResourceKey.of(body)
        self._maybe_fail("create", key)
        self._check_served(key)
        if meta.get("name") and key in self.objects:
            raise ApiError(f"{key} already exists", status=409, reason="AlreadyExists")
        return self._create(body, dry_run=dry_run, verb="create")

    async def set_managed_fields(self, live: Mapping[str, Any], entries: Any) -> Obj:
        key = ResourceKey.of(live)
        current = self.objects.get(key)
        if current is None or current["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"]:
            raise ApiError(f"{key} has been modified", status=422, reason="Invalid")
        current["metadata"]["managedFields"] = copy.deepcopy(list(entries))
        current["metadata"]["resourceVersion"] = self._next_version()
        self.log.append(Event(self._now(), "patch", key))
        return copy.deepcopy(current)

    async def replace(self, body: Mapping[str, Any]) -> Obj:
        key = ResourceKey.of(body)
        self._maybe_fail("replace", key)
        self._check_served(key)
        current = self.objects.get(key)
        if current is None:
            raise ApiError(f"{key} not found", status=404, reason="NotFound")
        return self._write(key, body, current, dry_run=False, verb="replace")

    async def select(self, api_version: str, kind: str, *, namespace: str = "",
                     label_selector: str = "") -> list[Obj]:
        self._maybe_fail("select", _key(api_version, kind, "", namespace))
        wanted = [part.partition("=") for part in label_selector.split(",") if part]
        found = []
        for key, obj in sorted(self.objects.items()):
            labels = obj["metadata"].get("labels") or {}
            if key.kind == kind and (not namespace or key.namespace == namespace) and all(
                    (labels.get(k) == v) if sep else (k in labels) for k, sep, v in wanted):
                found.append(copy.deepcopy(obj))
        return found

    async def delete(self, api_version: str, kind: str, name: str, namespace: str = "", *,
                     propagation: str = "Foreground", uid: str | None = None,
                     resource_version: str | None = None) -> bool:
        key = _key(api_version, kind, name, namespace)
        self._maybe_fail("delete", key)
        for hook in self._before_delete:
            hook(key)
        obj = self.objects.get(key)
        if obj is None or (uid and obj["metadata"]["uid"] != uid) or (
                resource_version and obj["metadata"]["resourceVersion"] != resource_version):
            return False
        self.log.append(Event(self._now(), "delete", key, propagation))
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return True
        reads = next((n for match, n in reversed(self._linger) if match(key)), 0)
        if reads <= 0:
            self._gone(key)
        else:
            meta["deletionTimestamp"] = f"t={self._now()}"
            meta["resourceVersion"] = self._next_version()
            self._lingering[meta["uid"]] = reads
        return True

    async def namespaced(self, api_version: str, kind: str) -> bool | None:
        if kind in self.unserved:
            return None
        return kind not in CLUSTER_SCOPED

    def invalidate(self, group: str | None = None) -> None:
        self.invalidated.append(group)

    # -- internals --------------------------------------------------------------

    def _now(self) -> float:
        return self.clock.now() if self.clock is not None else 0.0

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def _maybe_fail(self, verb: str, key: ResourceKey) -> None:
        for failure in self._failures:
            if failure.verb == verb and failure.match(key) and failure.times != 0:
                if failure.times is not None:
                    failure.times -= 1
                raise failure.error

    def _check_served(self, key: ResourceKey) -> None:
        if key.kind in self.unserved:
            raise UnknownKind(f"no resource is served for {key.group_kind}", status=404)

    def _create(self, body: Mapping[str, Any], *, dry_run: bool, verb: str) -> Obj:
        obj = copy.deepcopy(dict(body))
        obj.pop("status", None)
        meta = obj.setdefault("metadata", {})
        for name in SERVER_FIELDS[:-1]:
            meta.pop(name, None)
        if not meta.get("name"):
            self._uids += 1
            meta["name"] = f"{meta.get('generateName', '')}{self._uids:05d}"[-253:]
        self._uids += 1
        meta.update(uid=f"uid-{self._uids}", creationTimestamp=f"t={self._now()}", generation=1)
        if dry_run:
            return obj
        meta["resourceVersion"] = self._next_version()
        key = ResourceKey.of(obj)
        self.objects[key] = obj
        self.log.append(Event(self._now(), verb, key))
        return copy.deepcopy(obj)

    def _write(self, key: ResourceKey, body: Mapping[str, Any], current: Obj, *, dry_run: bool,
               verb: str) -> Obj:
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise ApiError(f"{key} changed since resourceVersion {wanted}", status=409, reason="Conflict")
        obj = copy.deepcopy(dict(body))
        obj.pop("status", None)
        if "status" in current:
            obj["status"] = copy.deepcopy(current["status"])
        meta = obj.setdefault("metadata", {})
        old = current["metadata"]
        for name in (*SERVER_FIELDS, "managedFields"):
            if name in old:
                meta[name] = old[name]
        if obj.get("spec") != current.get("spec"):
            meta["generation"] = int(old.get("generation", 1)) + 1
        if dry_run:
            return obj
        meta["resourceVersion"] = self._next_version()
        self.objects[key] = obj
        self.log.append(Event(self._now(), verb, key))
        return copy.deepcopy(obj)

    def _gone(self, key: ResourceKey) -> None:
        obj = self.objects.pop(key)
        self._lingering.pop(obj["metadata"]["uid"], None)
        self.log.append(Event(self._now(), "gone", key))
