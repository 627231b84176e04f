"""What must be true after every trial, whatever was injected, once the daemon converged.

Each check returns a list of violations (empty when it holds), phrased so that
a reader can find the object and the fault: ``git_content``, ``foreign_untouched``,
``pruned``, ``hook_once``, ``no_secret_leak`` and ``single_writer``.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tests.chaos import kube
from tests.chaos.env import TOKEN, WEBHOOK_SECRET, Env
from tests.chaos.generate import TRACKING
from tests.integration.daemonproc import DaemonProc

Check = Callable[[Env, dict[str, Any]], list[str]]


def converge(env: Env, revision: str, timeout: float) -> tuple[float | None, str]:
    """Seconds until every instance is Synced and Healthy at REVISION (None: never), as told by
    the daemon that holds the Lease: the first one, or a second one that took over after the
    first's Lease lapsed (the first then only says LeaseHeldElsewhere)."""
    daemon = env.daemon
    assert daemon is not None
    t0 = time.monotonic()
    last = ""
    while time.monotonic() - t0 < timeout:
        if daemon.proc is not None and daemon.proc.poll() is not None:
            tail = daemon.logs().strip().splitlines()[-1:] or [""]
            return None, f"the daemon exited with {daemon.proc.returncode}: {tail[0][:300]}"
        for d in env.all_daemons():
            data = d.get("/api/v1/instances")
            rows = (data or {}).get("instances", []) if isinstance(data, dict) else []
            if any(c.get("type") == "LeaseHeldElsewhere" for r in rows for c in r.get("conditions") or []):
                continue
            if len(rows) == len(env.plan.apps) and all(
                    r["sync_status"] == "Synced" and r["health"] == "Healthy" and r["revision"] == revision
                    for r in rows):
                return time.monotonic() - t0, ""
            if d is daemon or rows:
                last = f"{d.root.name}: " + "; ".join(
                    f"{r['app']}: {r['sync_status']} {r['health']} {str(r.get('revision'))[:8]} "
                    f"{str(r.get('last_sync', {}).get('message'))[:160]}" for r in rows)
        time.sleep(0.5)
    metrics = daemon.get("/metrics", auth=False)
    git = [ln for ln in str(metrics).splitlines() if ln.startswith("gitopsd_git_requests_total")]
    return None, f"{last or 'no instance rows'}; {' '.join(git)}"


def _subset(want: dict[str, str] | None, have: dict[str, str] | None) -> bool:
    return all((have or {}).get(k) == v for k, v in (want or {}).items())


def _differs(doc: dict[str, Any], live: dict[str, Any], app: str, namespace: str) -> str:
    meta, lmeta = doc["metadata"], live["metadata"]
    kind, name = doc["kind"], meta["name"]
    if lmeta.get("annotations", {}).get(TRACKING) != f"{app}:/{kind}:{namespace}/{name}":
        return f"tracking id {lmeta.get('annotations', {}).get(TRACKING)!r}"
    if not _subset(meta.get("labels"), lmeta.get("labels")):
        return f"labels {lmeta.get('labels')}"
    if not _subset(meta.get("annotations"), lmeta.get("annotations")):
        return f"annotations {lmeta.get('annotations')}"
    if kind == "ConfigMap" and live.get("data") != doc["data"]:
        return f"data {live.get('data')} != {doc['data']}"
    if kind == "Secret":
        want = {k: base64.b64encode(v.encode()).decode() for k, v in doc["stringData"].items()}
        if live.get("data") != want:
            return "secret data differs from the decrypted file"
    if kind == "Service":
        spec, lspec = doc["spec"], live.get("spec", {})
        ports = [{k: p.get(k) for k in ("name", "port", "targetPort")} for p in lspec.get("ports", [])]
        if lspec.get("selector") != spec["selector"] or ports != spec["ports"]:
            return f"spec selector/ports {lspec.get('selector')} {ports}"
    return ""


def git_content(env: Env, _: dict[str, Any]) -> list[str]:
    """Every object of the last commit exists with Git's content and this application's tracking id."""
    out = []
    for app in env.plan.apps:
        for doc in app.second.values():
            if doc["metadata"]["name"] == app.hook:
                continue
            live = kube.get(env.cluster, doc["kind"], app.namespace, doc["metadata"]["name"])
            where = f"{app.name}: {doc['kind']} {app.namespace}/{doc['metadata']['name']}"
            if live is None:
                out.append(f"{where} missing")
            elif why := _differs(doc, live, app.name, app.namespace):
                out.append(f"{where}: {why}")
    return out


def foreign_untouched(env: Env, recorded: dict[str, Any]) -> list[str]:
    """Every foreign object keeps the uid and resourceVersion recorded before the trial."""
    out = []
    for key, (uid, version) in recorded["foreign"].items():
        namespace, name = key.split("/")
        live = kube.get(env.cluster, "ConfigMap", namespace, name)
        if live is None:
            out.append(f"foreign ConfigMap {key} deleted")
        elif live["metadata"]["uid"] != uid:
            out.append(f"foreign ConfigMap {key} replaced (uid {uid} -> {live['metadata']['uid']})")
        elif live["metadata"]["resourceVersion"] != version:
            meta = live["metadata"]
            out.append(f"foreign ConfigMap {key} modified (resourceVersion {version} -> "
                       f"{meta['resourceVersion']}; annotations {meta.get('annotations')})")
    return out


def pruned(env: Env, _: dict[str, Any]) -> list[str]:
    """Nothing that left Git with the second commit is still in the cluster."""
    out = []
    for app in env.plan.apps:
        for f in set(app.first) - set(app.second):
            doc = app.first[f]
            live = kube.get(env.cluster, doc["kind"], app.namespace, doc["metadata"]["name"])
            if live is not None and not live["metadata"].get("deletionTimestamp"):
                out.append(f"{app.name}: {doc['kind']} {app.namespace}/{doc['metadata']['name']} left Git "
                           f"but is still present")
    return out


def history(daemon: DaemonProc, app: str, cluster: str) -> list[dict[str, Any]]:
    data = daemon.get(f"/api/v1/instances/{app}/{cluster}?limit=200")
    return list(data.get("history", [])) if isinstance(data, dict) else []


def hook_once(env: Env, recorded: dict[str, Any]) -> list[str]:
    """The PreSync hook was created at most once per sync operation.

    Sync operations are the entries of the daemons' histories that got past the
    hook phase (those that applied anything or reported Synced; a second daemon
    has some only after a takeover), plus one per
    daemon kill (an operation cut short leaves no history entry, and running
    its hook again in the next operation is what Argo CD does after a restart
    without a persisted operation). Hook creations are the distinct uids a
    watch saw; a missed creation can only under-count. Not judged when the
    daemon is dead (its history is out of reach; ``converged`` says so).
    """
    assert env.daemon is not None
    if env.daemon.proc is None or env.daemon.proc.poll() is not None:
        return []
    out = []
    for app in env.plan.apps:
        entries = [h for d in env.all_daemons() for h in history(d, app.name, env.cluster.name)]
        operations = sum(1 for h in entries if h.get("result") in ("Synced", "Failed", "Error")
                         or h.get("applied"))
        uids = recorded["hook_uids"].get(app.name, [])
        if len(uids) > operations + env.kills:
            out.append(f"{app.name}: PreSync hook created {len(uids)} times for {operations} sync "
                       f"operations and {env.kills} daemon kills")
    return out


def _needles(env: Env) -> dict[str, bytes]:
    plain = env.plan.plaintext
    return {"SOPS plaintext": plain.encode(), "SOPS plaintext (base64)": base64.b64encode(plain.encode()),
            "API token": TOKEN.encode(), "webhook secret": WEBHOOK_SECRET.encode()}


def _files(roots: Iterable[Path]) -> Iterable[Path]:
    for root in roots:
        if root.is_file():
            yield root
        elif root.is_dir():
            yield from (p for p in root.rglob("*") if p.is_file())


def no_secret_leak(env: Env, _: dict[str, Any]) -> list[str]:
    """No secret value in any daemon's log, state directory or API answers."""
    out = []
    needles = _needles(env)
    daemons = env.all_daemons()
    for f in _files([d.log_file for d in daemons] + [d.root / "state" for d in daemons]):
        try:
            data = f.read_bytes()
        except OSError:
            continue
        out += [f"{what} in {f.relative_to(env.root)}" for what, n in needles.items() if n in data]
    for d in daemons:
        answers = [d.get("/api/v1/instances")]
        answers += [d.get(f"/api/v1/instances/{a.name}/{env.cluster.name}?limit=200") for a in env.plan.apps]
        answers.append(d.get("/metrics", auth=False))
        blob = json.dumps(answers).encode()
        out += [f"{what} in an API answer of {d.root.name}" for what, n in needles.items() if n in blob]
    return out


def _log_events(d: DaemonProc) -> list[tuple[float, dict[str, Any]]]:
    """A daemon's JSON log lines with their time as epoch seconds."""
    out = []
    for line in d.logs().splitlines():
        try:
            event = json.loads(line)
            at = datetime.datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            continue
        out.append((at.timestamp(), event))
    return out


def single_writer(env: Env, _: dict[str, Any]) -> list[str]:
    """Every sync pass was started by the daemon that last acquired the Lease: a second daemon
    syncs nothing while the first holds it, and only after a takeover once the first's Lease
    lapsed (its API server away past the Lease's duration)."""
    daemons = env.all_daemons()
    logs = {d.root.name: _log_events(d) for d in daemons}
    acquired = sorted((at, name) for name, events in logs.items() for at, e in events
                      if e.get("event") == "lease.acquired")
    out = []
    for name, events in logs.items():
        for at, e in events:
            if e.get("event") != "reconcile.done" or e.get("outcome") != "Synced":
                continue
            start = at - float(e.get("seconds") or 0.0)
            holders = [holder for when, holder in acquired if when <= start]
            if not holders or holders[-1] != name:
                out.append(f"{name} started a sync of {e.get('app')} while "
                           f"{holders[-1] if holders else 'nobody'} held the Lease: {json.dumps(e)[:300]}")
    return out


CHECKS: dict[str, Check] = {
    "git_content": git_content,
    "foreign_untouched": foreign_untouched,
    "pruned": pruned,
    "hook_once": hook_once,
    "no_secret_leak": no_secret_leak,
    "single_writer": single_writer,
}
