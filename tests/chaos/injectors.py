"""The faults: each one happens to a running trial and (except a second daemon) undoes itself.

An injector is a function of the trial's ``Env`` and a seeded ``Random`` (for
durations); it blocks for the length of the fault and returns once the world
is back to normal, so that the trial can then wait for convergence. The
catalogue is ``INJECTORS``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from gitopsd.localcluster import LocalCluster
from gitopsd.localcluster.processes import ProcessRecord, alive, argv_of, spawn, stop
from tests.chaos import kube
from tests.chaos.env import Env

Injector = Callable[[Env, random.Random], None]


def _process(cluster: LocalCluster, name: str) -> ProcessRecord:
    return next(p for p in cluster.processes if p.name == name and alive(p))


def kill_daemon(env: Env, rng: random.Random) -> None:
    """SIGKILL the daemon mid-sync, then start it again on the same state directory."""
    daemon = env.daemon
    assert daemon is not None
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(10)
    env.kills += 1
    time.sleep(rng.uniform(0.2, 2.0))
    daemon.start()


def _pause(env: Env, rng: random.Random, name: str) -> None:
    rec = _process(env.cluster, name)
    seconds = rng.uniform(2.0, 8.0)
    os.kill(rec.pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(rec.pid, signal.SIGCONT)
    env.log(f"{name} paused for {seconds:.1f}s")


def pause_apiserver(env: Env, rng: random.Random) -> None:
    """SIGSTOP kube-apiserver for a few seconds, then SIGCONT."""
    _pause(env, rng, "kube-apiserver")


def pause_etcd(env: Env, rng: random.Random) -> None:
    """SIGSTOP etcd for a few seconds, then SIGCONT (the API server stays up but cannot answer)."""
    _pause(env, rng, "etcd")


def restart_apiserver(env: Env, rng: random.Random) -> None:
    """Stop kube-apiserver (SIGTERM), keep it down a while, start it again with the same flags."""
    restart_process(env.cluster, "kube-apiserver", down=rng.uniform(1.0, 5.0))


def restart_process(cluster: LocalCluster, name: str, *, down: float) -> None:
    """Stop NAME of CLUSTER, wait DOWN seconds, start it with the same argv and wait until ready."""
    rec = _process(cluster, name)
    argv = argv_of(rec)
    stop(rec)
    time.sleep(down)
    new = spawn(name, argv, Path(rec.log))
    cluster.processes = [new if p == rec else p for p in cluster.processes]
    cluster.save()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if cluster.request("GET", "/readyz", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not come back within 90s")


def git_down(env: Env, rng: random.Random) -> None:
    """Take the Git repository away for a few seconds (the daemon's fetches fail), then restore it."""
    bare = env.repo.bare
    away = bare.with_name(bare.name + ".down")
    seconds = rng.uniform(2.0, 8.0)
    bare.rename(away)
    try:
        time.sleep(seconds)
    finally:
        away.rename(bare)
    env.log(f"git down for {seconds:.1f}s")


def second_daemon(env: Env, rng: random.Random) -> None:
    """Start a second daemon on the same fleet with its own state directory; it stays for the trial."""
    env.others.append(env.new_daemon(f"second-{len(env.others)}").start())


def delete_inventory(env: Env, rng: random.Random) -> None:
    """Delete one application's inventory ConfigMap in gitopsd-system."""
    app = rng.choice(env.plan.apps)
    status, _ = kube.request(env.cluster, "DELETE",
                             f"/api/v1/namespaces/gitopsd-system/configmaps/gitopsd-inv-{app.name}")
    env.log(f"deleted inventory of {app.name}: {status}")


def readonly_state(env: Env, rng: random.Random) -> None:
    """Make the state directory read-only for a few seconds (as root, where modes do not bind: immutable)."""
    seconds = rng.uniform(3.0, 8.0)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-R", "+i", str(env.state_dir)], check=True, capture_output=True)
        try:
            time.sleep(seconds)
        finally:
            subprocess.run(["chattr", "-R", "-i", str(env.state_dir)], check=True, capture_output=True)
        env.log(f"state directory immutable for {seconds:.1f}s")
        return
    paths = [env.state_dir, *env.state_dir.rglob("*")]
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        p.chmod(modes[p] & ~0o222)
    try:
        time.sleep(seconds)
    finally:
        for p in paths:
            p.chmod(modes[p])


def cut_connections(env: Env, rng: random.Random) -> None:
    """Cut every connection between the daemon and the API server (watches included), twice,
    and edit one managed ConfigMap right after the first cut: self-heal must still see it."""
    app = rng.choice(env.plan.apps)
    stable = sorted(f for f, d in app.first.items() if d["kind"] == "ConfigMap" and app.second.get(f) == d
                    and d["metadata"]["name"] != app.hook)
    for n in range(2):
        env.log(f"cut {env.proxy.cut()} proxied sockets")
        if n == 0 and stable:
            name = app.first[rng.choice(stable)]["metadata"]["name"]
            url = kube.path("ConfigMap", app.namespace, name) + "?fieldManager=kubectl-edit"
            status, _ = kube.request(env.cluster, "PATCH", url, {"data": {"k0": "drifted"}},
                                     content_type="application/merge-patch+json")
            env.log(f"edited {app.namespace}/{name} while cut: {status}")
        time.sleep(rng.uniform(0.2, 1.5))


INJECTORS: dict[str, Injector] = {
    "kill_daemon": kill_daemon,
    "pause_apiserver": pause_apiserver,
    "restart_apiserver": restart_apiserver,
    "pause_etcd": pause_etcd,
    "git_down": git_down,
    "second_daemon": second_daemon,
    "delete_inventory": delete_inventory,
    "readonly_state": readonly_state,
    "cut_connections": cut_connections,
}
