"""``gitopsd localcluster up|down|wipe|status``: local control planes from real binaries."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _localcluster_up(args: argparse.Namespace) -> int:
    from gitopsd import localcluster

    c = localcluster.up(args.name, args.dir, workloads=args.workloads, port=args.port,
                        nodes=args.nodes, ready_timeout=args.timeout)
    print(f"local cluster {c.name} is ready at {c.server} after {c.start_seconds:.1f}s")
    print(f"  admin kubeconfig:  {c.kubeconfig}")
    for user in localcluster.RESTRICTED_USERS:
        print(f"  {user + ' kubeconfig:':<18} {c.user_kubeconfig(user)}")
    print(f"  logs:              {c.log_dir}")
    print(f"  stop it with:      gitopsd localcluster down --dir {c.dir}")
    return 0


def _localcluster_down(args: argparse.Namespace) -> int:
    from gitopsd import localcluster

    localcluster.down(args.dir, keep_dir=args.keep_dir)
    print(f"local cluster in {args.dir} stopped")
    return 0


def _localcluster_wipe(args: argparse.Namespace) -> int:
    from gitopsd.localcluster.wipe import wipe

    c = wipe(args.dir, ready_timeout=args.timeout)
    print(f"local cluster {c.name} restarted empty at {c.server} (etcd data deleted; "
          f"PKI, tokens and kubeconfigs kept)")
    return 0


def _localcluster_status(args: argparse.Namespace) -> int:
    from gitopsd.localcluster import LocalCluster

    c = LocalCluster.load(Path(args.dir).absolute())
    running = {p.pid for p in c.running()}
    print(f"{c.name} {c.server}")
    for p in c.processes:
        print(f"  {p.name:<24} pid {p.pid:<8} {'running' if p.pid in running else 'stopped'}")
    return 0 if len(running) == len(c.processes) else 1


def register(sub: Any) -> None:
    lc = sub.add_parser("localcluster", help="start and stop local control planes")
    lc_sub = lc.add_subparsers(dest="action", required=True, metavar="ACTION")
    lc_up = lc_sub.add_parser("up", help="start a local control plane and return")
    lc_up.add_argument("--name", default="local")
    lc_up.add_argument("--dir", required=True)
    lc_up.add_argument("--workloads", action="store_true",
                       help="add controller-manager, scheduler and kwok fake nodes")
    lc_up.add_argument("--port", type=int, default=None, help="API server port (default: free)")
    lc_up.add_argument("--nodes", type=int, default=2, help="fake nodes with --workloads")
    lc_up.add_argument("--timeout", type=float, default=90.0, help="readiness budget in seconds")
    lc_up.set_defaults(handler=_localcluster_up)
    lc_down = lc_sub.add_parser("down", help="stop a local control plane")
    lc_down.add_argument("--dir", required=True)
    lc_down.add_argument("--keep-dir", action="store_true", help="keep data, logs and kubeconfigs")
    lc_down.set_defaults(handler=_localcluster_down)
    lc_wipe = lc_sub.add_parser("wipe", help="delete the etcd data and restart empty at the same address "
                                             "(a disaster-recovery rehearsal)")
    lc_wipe.add_argument("--dir", required=True)
    lc_wipe.add_argument("--timeout", type=float, default=120.0, help="readiness budget in seconds")
    lc_wipe.set_defaults(handler=_localcluster_wipe)
    lc_st = lc_sub.add_parser("status", help="show the processes of a local control plane")
    lc_st.add_argument("--dir", required=True)
    lc_st.set_defaults(handler=_localcluster_status)
