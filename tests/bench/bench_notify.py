"""Benchmark 1 (drift), notifications: from an out-of-band edit to its drift-reverted notice at a receiver.

A daemon of its own manages the drift fleet with one webhook service on a
loopback receiver, subscribed to on-drift-reverted. Each of ``notify_drifts``
distinct objects is edited once, as in the drift series; the figure is the
wall-clock time from just before the edit request to the arrival of the
notice naming that object at the receiver (the edit, the revert, the pass
report and the background delivery together). The revert alone is timed on
the benchmark's watch as in the drift series, for comparison.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tests.bench import managed
from tests.bench.context import Context
from tests.bench.observe import Observer, Target, TargetPool, edit_and_time
from tests.bench.report import row, seconds
from tests.bench.stats import summary
from tests.integration.receivers import Receiver

SETTLE = 30.0  # seconds to wait for the last notices after the last edit


def with_webhook(fleet: dict[str, Any], url: str) -> dict[str, Any]:
    """FLEET with one webhook service at URL told of every drift revert."""
    return {**fleet, "notifications": {
        "services": [{"name": "bench-hook", "type": "webhook", "url": url, "queueSize": 1000}],
        "subscriptions": [{"triggers": ["on-drift-reverted"], "services": ["bench-hook"]}]}}


def _subject(t: Target) -> tuple[str, str, str, str]:
    return (t.app, t.cluster, t.kind, f"{t.namespace}/{t.name}")


def _told(body: dict[str, Any]) -> tuple[str, str, str, str]:
    """The object a notice names: its subject is ``Kind[.group] namespace/name``."""
    kind, _, where = body["subject"].partition(" ")
    return (body["app"], body["cluster"], kind.partition(".")[0], where)


async def notify_series(ctx: Context, fleet: dict[str, Any], observer: Observer) -> dict[str, Any]:
    n = ctx.size.notify_drifts
    targets = TargetPool(managed.targets(ctx.size, sorted(ctx.clusters)), seed=7).take(n)
    with Receiver.running() as rx:
        notified = with_webhook(fleet, rx.url + "/hook")
        daemon, _ = await managed.start_daemon(ctx.run_dir / "daemon-notify", notified, timeout=1800,
                                               resync=ctx.size.resync)
        try:
            ctx.log(f"drift: {n} edits, each told to a loopback webhook")
            edited: dict[tuple[str, str, str, str], float] = {}
            reverts: list[float | None] = []
            for i, t in enumerate(targets):
                edited[_subject(t)] = time.time()
                reverts.append(await edit_and_time(observer, ctx.kubes[t.cluster], t, 500_000 + i,
                                                   timeout=ctx.size.edit_timeout))
                await asyncio.sleep(ctx.size.gap)
            deadline = time.monotonic() + SETTLE
            while len(rx.at("/hook")) < n and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
        finally:
            await daemon.stop()
        arrivals: dict[tuple[str, str, str, str], float] = {}
        for req in rx.at("/hook"):
            body = json.loads(req.body)
            key = _told(body)
            if body["trigger"] == "on-drift-reverted" and key in edited:
                arrivals.setdefault(key, req.at)
    latencies = [arrivals[k] - at for k, at in edited.items() if k in arrivals]
    return {"drifts": n, "receiver": summary(latencies, failures=n - len(latencies)),
            "revert": summary([r for r in reverts if r is not None],
                              failures=sum(r is None for r in reverts)),
            "notices_received": len(rx.at("/hook"))}


def rows(ctx: Context, result: dict[str, Any]) -> list[dict[str, Any]]:
    rx, revert = result["receiver"], result["revert"]
    lost = f" ({rx['failures']} never arrived)" if rx["failures"] else ""
    return [row("1 drift", f"edit to drift-reverted notice at a loopback webhook, {q}, "
                f"{result['drifts']} drifts{lost}", seconds(rx[q]), seconds(revert[q]),
                target="revert time in the baseline column")
            for q in ("p50", "p95")]
