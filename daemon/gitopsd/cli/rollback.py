"""``gitopsd history`` and ``gitopsd rollback``: an instance's past syncs, and going back to one.

Both ask the running daemon's API, found as ``gitopsd status`` finds it.
``rollback APP ID`` asks for a manual sync pinned to the revision of history
entry ID (the daemon refuses while the application syncs automatically);
``rollback APP --revert`` instead prepares a ``git revert`` of the revision
last applied in a fresh local clone and prints the push that would publish it.
Arguments, output and exit codes live here; the work is the daemon's and the
git edge's.
"""

from __future__ import annotations

import argparse
import time
import urllib.error
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from gitopsd.cli.daemon import call_api, daemon_arguments
from gitopsd.cli.endpoint import Target, find_daemon
from gitopsd.errors import GitopsdError

__all__ = ["register"]


def _get(target: Target, path: str) -> Any:
    try:
        return call_api(target, "GET", path)
    except urllib.error.URLError as e:
        raise GitopsdError(f"cannot reach the daemon at {target.server} ({target.found_by}): "
                           f"{e.reason}") from None


def _clusters(target: Target, app: str, cluster: str | None) -> list[str]:
    """The clusters of APP's instances the daemon runs (only CLUSTER when given)."""
    rows = _get(target, "/api/v1/instances?" + urlencode({"app": app})).get("instances", [])
    found = sorted(r["cluster"] for r in rows if cluster is None or r["cluster"] == cluster)
    if not found:
        raise GitopsdError(f"the daemon runs no application {app}"
                           + (f" on cluster {cluster}" if cluster else ""))
    return found


def _one_cluster(target: Target, app: str, cluster: str | None) -> str:
    found = _clusters(target, app, cluster)
    if len(found) > 1:
        raise GitopsdError(f"{app} runs on clusters {', '.join(found)}: pass --cluster")
    return found[0]


def _instance_path(app: str, cluster: str) -> str:
    return f"/api/v1/instances/{quote(app, safe='')}/{quote(cluster, safe='')}"


def _history(args: argparse.Namespace) -> int:
    target = find_daemon(args)
    clusters = _clusters(target, args.app, args.cluster)
    for n, cluster in enumerate(clusters):
        data = _get(target, _instance_path(args.app, cluster) + f"?limit={args.limit}")
        if len(clusters) > 1:
            print(("\n" if n else "") + f"{args.app} on {cluster}:")
        header = ("ID", "REVISION", "SUBJECT", "STARTED (UTC)", "DURATION", "RESULT", "MESSAGE")
        table = [header] + [
            (str(h.get("id", "")), str(h["revision"])[:12] or "-", str(h.get("subject") or "-")[:50],
             time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(h["started"])), f"{h['duration']:.1f}s",
             h["result"], str(h["message"]).splitlines()[0][:80] if h["message"] else "")
            for h in data.get("history", [])]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _rollback(args: argparse.Namespace) -> int:
    if args.revert:
        if args.id is not None:
            raise GitopsdError("--revert reverts the revision last applied; give no ID with it")
        return _revert(args)
    if args.id is None:
        raise GitopsdError("give the history ID to roll back to (see gitopsd history), or --revert")
    target = find_daemon(args)
    cluster = _one_cluster(target, args.app, args.cluster)
    try:
        data = call_api(target, "POST", _instance_path(args.app, cluster) + "/rollback", {"id": args.id})
    except urllib.error.URLError as e:
        raise GitopsdError(f"cannot reach the daemon at {target.server} ({target.found_by}): "
                           f"{e.reason}") from None
    print(f"rollback requested: {', '.join(data.get('enqueued', []))} to {data.get('revision', '')}")
    return 0


def _revert(args: argparse.Namespace) -> int:
    from gitopsd.config import default_config_path, load_fleet
    from gitopsd.core.instances import select_instances
    from gitopsd.edges.git.revert import prepare_revert

    target = find_daemon(args)
    cluster = _one_cluster(target, args.app, args.cluster)
    row = _get(target, _instance_path(args.app, cluster) + "?limit=0")
    revision = str(row.get("revision") or "")
    if not revision:
        raise GitopsdError(f"{args.app} on {cluster} has no applied revision to revert yet")
    config = args.config or default_config_path()
    if not config:
        raise GitopsdError("--revert needs the fleet file (--config or $GITOPSD_CONFIG) for the "
                           "repository's address")
    fleet = load_fleet(str(config), check_files=False)
    [instance] = select_instances(fleet, args.app, cluster)
    repo = fleet.repository(instance.source.repo)
    directory = Path(args.dir) if args.dir else Path.cwd() / f"{args.app}-revert-{revision[:12]}"
    done = prepare_revert(repo.url, instance.source.target_revision, revision, directory,
                          ssh_key_file=repo.ssh_key_file, known_hosts_file=repo.known_hosts_file)
    print(f"prepared in {done.directory}: commit {done.commit[:12]} on {done.branch} reverts "
          f"{revision[:12]}, last applied to {args.app} on {cluster}")
    print(f"push it with:\n  {done.push_command}")
    return 0


def register(sub: Any) -> None:
    history = sub.add_parser("history", help="an instance's recent syncs, as the daemon recorded them")
    history.add_argument("app")
    history.add_argument("--cluster")
    history.add_argument("--limit", type=int, default=20, help="at most this many entries (default 20)")
    daemon_arguments(history)
    history.set_defaults(handler=_history)

    rollback = sub.add_parser("rollback", help="sync an instance to a past revision (manual sync only), "
                              "or prepare a git revert of the one applied")
    rollback.add_argument("app")
    rollback.add_argument("id", nargs="?", type=int, help="the history ID (gitopsd history) to go back to")
    rollback.add_argument("--cluster")
    rollback.add_argument("--revert", action="store_true",
                          help="prepare a git revert commit of the revision last applied, in a new "
                          "local clone, and print the push command; nothing is pushed")
    rollback.add_argument("--dir", help="where --revert clones (default: ./APP-revert-REVISION)")
    daemon_arguments(rollback)
    rollback.set_defaults(handler=_rollback)
