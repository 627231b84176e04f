"""``gitopsd run | status | sync | demo``: the daemon and talking to it.

``status`` and ``sync`` find the daemon as ``gitopsd.cli.endpoint`` says
(``--server``, else the address it published in its state directory).
``sync`` asks the daemon's API; when no daemon answers, it syncs from this
process and finds the application exactly as ``render`` and ``diff`` do
(``gitopsd.app.with_application``, ``gitopsd.core.instances``). Arguments,
output and exit codes live here; the work is the rooms'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from gitopsd.cli.endpoint import Target, find_daemon, token_file_option
from gitopsd.errors import GitopsdError


def _config(args: argparse.Namespace) -> str:
    from gitopsd.config import default_config_path

    path = args.config or default_config_path()
    if not path:
        raise GitopsdError("no fleet file: pass --config or set GITOPSD_CONFIG")
    return str(path)


def _run(args: argparse.Namespace) -> int:
    from gitopsd.app import default_state_dir
    from gitopsd.config import load_fleet
    from gitopsd.runtime import RunOptions, run

    config = _config(args)
    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir(load_fleet(config))
    state_dir.mkdir(parents=True, exist_ok=True)
    return run(RunOptions(
        config=config, state_dir=state_dir, listen=args.listen or "",
        api_token_file=token_file_option(args),
        webhook_secret_file=args.webhook_secret_file or os.environ.get("GITOPSD_WEBHOOK_SECRET_FILE"),
        log_level=args.log_level or os.environ.get("GITOPSD_LOG_LEVEL", "info"),
        resync=args.resync, loopback_reads=not args.api_reads_need_token))


def call_api(target: Target, method: str, path: str, body: Any = None) -> Any:
    """One API call (BODY sent as JSON when given); a call the daemon refuses for want of a
    token says where to get one."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(target.server.rstrip("/") + path, data=data,  # noqa: S310
                                 method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    token = target.token()
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        try:
            message = str(json.loads(body)["error"])
        except (ValueError, KeyError, TypeError):
            message = body[:300]
        hint = f"; {target.missing_token()}" if e.code == 401 and not token else ""
        raise GitopsdError(f"{target.server}{path}: HTTP {e.code}: {message}{hint}") from None


def _status(args: argparse.Namespace) -> int:
    target = find_daemon(args)
    try:
        data = call_api(target, "GET", "/api/v1/instances")
    except urllib.error.URLError as e:
        raise GitopsdError(f"cannot reach the daemon at {target.server} ({target.found_by}): "
                           f"{e.reason}") from None
    rows = data.get("instances", [])
    header = ("APP", "CLUSTER", "SYNC", "HEALTH", "REVISION", "FAILED REVISION", "LAST RESULT",
              "CONDITIONS", "WINDOWS", "MESSAGE")
    table = [header] + [(r["app"], r["cluster"], r["sync_status"], r["health"], r["revision"][:12] or "-",
                         r.get("failed_revision", "")[:12] or "-", r["last_sync"]["result"] or "-",
                         ",".join(c["type"] for c in r.get("conditions", [])) or "-",
                         _windows(r.get("sync_windows")), r["last_sync"]["message"][:60]) for r in rows]
    if any(r.get("owner") for r in rows):  # a fleet shared by several daemons: who acts on each
        table = [(*row[:2], "OWNER" if n == 0 else rows[n - 1].get("owner") or "-", *row[2:])
                 for n, row in enumerate(table)]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _windows(windows: dict[str, Any] | None) -> str:
    """The WINDOWS cell (no spaces): the kinds of the active sync windows, then whether syncs may run:
    ``deny:closed``, ``none:closed`` (outside every allow window), ``allow:open``, ``deny:manual-only``."""
    if not windows:
        return "-"
    kinds = "+".join(sorted({w["kind"] for w in windows.get("active", [])})) or "none"
    state = "open" if windows.get("automated", True) else "manual-only" if windows.get("manual") else "closed"
    return f"{kinds}:{state}"


def _print_changes(rows: list[tuple[str, str, str, str, str]]) -> None:
    table = [("KIND", "NAMESPACE", "NAME", "RESULT", "MESSAGE"), *rows]
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    for r in table:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _sync(args: argparse.Namespace) -> int:
    if args.dry_run:
        return asyncio.run(_sync_here(args))
    path = f"/api/v1/instances/{args.app}/{args.cluster}/sync" if args.cluster \
        else f"/api/v1/applications/{args.app}/sync"
    target = find_daemon(args)
    try:
        data = call_api(target, "POST", path)
        print("sync requested: " + ", ".join(data.get("enqueued", [])))
        return 0
    except urllib.error.URLError:
        pass
    return asyncio.run(_sync_here(args))


async def _sync_here(args: argparse.Namespace) -> int:
    """No daemon answers: sync the application from this process, once.

    The application is found as ``render`` and ``diff`` find it, Argo CD
    Application files included.
    """
    from gitopsd.app import (
        Sources,
        compare_instance,
        default_state_dir,
        sync_instance,
        with_application,
    )
    from gitopsd.config import load_fleet
    from gitopsd.core.instances import select_instances
    from gitopsd.model import OutcomeKind

    fleet = load_fleet(_config(args))
    sources = Sources.build(fleet, Path(args.state_dir) if args.state_dir
                            else default_state_dir(fleet))
    worst = 0
    try:
        fleet = await with_application(fleet, args.app, sources)
        instances = select_instances(fleet, args.app, args.cluster)
        app = fleet.application(args.app)
        for inst in instances:
            if args.dry_run:
                cmp = await compare_instance(fleet, app, inst, sources)
                print(f"{inst.key}: dry run at {cmp.revision.sha[:12]}: {cmp.summary() or 'in sync'}")
                rows = [(k.kind, k.namespace, k.name,
                         "would create" if cmp.live.get(k) is None else "would configure",
                         d.state.value) for k, d in sorted(cmp.diffs.items()) if not d.in_sync]
                rows += [(k.kind, k.namespace, k.name, "would prune", "left Git")
                         for k in cmp.extraneous]
                rows += [(k.kind, k.namespace, k.name, "conflict", o.reason)
                         for k, o in sorted(cmp.conflicts.items())]
                _print_changes(rows)
                worst = max(worst, 1 if rows else 0)
                continue
            outcome = await sync_instance(fleet, app, inst, sources, prune=args.prune)
            print(f"{inst.key}: {outcome.kind.value} at {outcome.revision[:12]}: {outcome.message}")
            _print_changes([(c.key.kind, c.key.namespace, c.key.name, c.action.value, c.message[:80])
                            for c in outcome.changes])
            if outcome.kind is not OutcomeKind.SYNCED:
                worst = 2
    finally:
        await sources.close()
    return worst


def _demo(args: argparse.Namespace) -> int:
    from gitopsd.demo import run_demo

    return run_demo(Path(args.dir) if args.dir else None, listen=args.listen,
                    exit_after=args.exit_after)


def daemon_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default=os.environ.get("GITOPSD_SERVER"),
                        help="the daemon's URL (default: $GITOPSD_SERVER, else the address it "
                        "published in its state directory)")
    parser.add_argument("--api-token-file", help="(default: $GITOPSD_API_TOKEN_FILE, the systemd "
                        "credential api-token, else the file the daemon published)")
    parser.add_argument("--config", help="fleet file, for its settings.stateDir and listen "
                        "(default: $GITOPSD_CONFIG)")
    parser.add_argument("--state-dir", help="the daemon's state directory (default: as gitopsd run "
                        "chooses it)")


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", help="fleet file (default: $GITOPSD_CONFIG)")
    run.add_argument("--listen", help="HTTP host:port (default: the fleet's settings.listen, 127.0.0.1:8088)")
    run.add_argument("--state-dir", help="state directory (default: $GITOPSD_STATE_DIR, "
                     "$STATE_DIRECTORY, ~/.local/state/gitopsd)")
    run.add_argument("--api-token-file", help="bearer token for /api/v1 "
                     "(default: $GITOPSD_API_TOKEN_FILE or the systemd credential api-token)")
    run.add_argument("--webhook-secret-file", help="HMAC secret for /webhooks/*")
    run.add_argument("--log-level", help="debug, info, warning, error (default: $GITOPSD_LOG_LEVEL or info)")
    run.add_argument("--resync", type=float, default=180.0, help="seconds between full resyncs")
    run.add_argument("--api-reads-need-token", action="store_true",
                     help="refuse GET /api/v1 from this host without the token too")
    run.set_defaults(handler=_run)

    status = sub.add_parser("status", help="print the daemon's instance table")
    daemon_arguments(status)
    status.set_defaults(handler=_status)

    sync = sub.add_parser("sync", help="sync an application now (through the daemon when one runs)")
    sync.add_argument("app")
    sync.add_argument("--cluster")
    sync.add_argument("--prune", action="store_true", help="prune even without automated prune")
    sync.add_argument("--dry-run", action="store_true",
                      help="show what a sync would change, write nothing (exit 1 when it would)")
    daemon_arguments(sync)
    sync.set_defaults(handler=_sync)

    demo = sub.add_parser("demo", help="two local clusters, a demo Git repo and the daemon")
    demo.add_argument("--dir", help="where to keep the demo (default: a temporary directory)")
    demo.add_argument("--listen", default="127.0.0.1:8088")
    demo.add_argument("--exit-after", type=float, default=None,
                      help="stop by itself this many seconds after the drift demonstration")
    demo.set_defaults(handler=_demo)


__all__ = ["register", "sys"]
