"""``gitopsd validate``: check manifests before they merge (pre-commit, CI, by hand).

Exit codes: 0 clean, 1 findings (an error or a warning), 2 usage or I/O
error. With PATHs only those files and directories are checked (what a
pre-commit hook passes); without PATHs and without a fleet, the whole
repository. ``--config`` (default ``$GITOPSD_CONFIG`` when no PATH is given)
adds every application's rendered output, read from the working tree. This
module only parses arguments and picks the output format; the work is
``gitopsd.validation``'s.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from gitopsd.edges.binaries import K8S_VERSION


def _repo_dir(text: str) -> tuple[str, Path]:
    name, sep, directory = text.partition("=")
    if not sep or not name or not directory:
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    return name, Path(directory)


def _validate(args: argparse.Namespace) -> int:
    from gitopsd.validation import FORMATS, Options, validate

    config = args.config
    if config is None and not args.paths:
        config = os.environ.get("GITOPSD_CONFIG") or None
    options = Options(
        paths=tuple(Path(p) for p in args.paths),
        root=Path(args.root) if args.root else None,
        config=Path(config) if config else None,
        repo_dirs=dict(args.repo_dir or ()),
        kube_version=args.kube_version,
        policy=Path(args.policy) if args.policy else None,
        ignore_missing_schemas=args.ignore_missing_schemas,
        against_cluster=args.against_cluster,
        cluster_timeout=args.cluster_timeout,
    )
    try:
        report = validate(options)
    except OSError as exc:
        print(f"gitopsd: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(FORMATS[args.format](report))
    return report.exit_code


def register(sub: Any) -> None:
    p = sub.add_parser(
        "validate", help="validate manifests: YAML, schemas, policy, optionally a cluster dry-run",
        description="Validate Kubernetes manifests offline: YAML syntax, the Kubernetes schema "
                    "of a version, CRD schemas from the repository, policy rules, duplicates. "
                    "Exit 0 clean, 1 findings, 2 usage or I/O error.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="files or directories to check (default: the whole repository)")
    p.add_argument("--config", metavar="FLEET",
                   help="also render every application of this fleet file from the working tree "
                        "(default: $GITOPSD_CONFIG when no PATH is given)")
    p.add_argument("--root", metavar="DIR",
                   help="repository root: reported paths, policy paths and CRD search are relative "
                        "to it (default: the Git top level above the first PATH or the current "
                        "directory)")
    p.add_argument("--repo-dir", action="append", type=_repo_dir, metavar="NAME=DIR",
                   help="working tree of fleet repository NAME (repeatable; a fleet with one "
                        "repository defaults to --root)")
    p.add_argument("--kube-version", default=K8S_VERSION, metavar="V",
                   help=f"Kubernetes version whose schemas to use (default {K8S_VERSION})")
    p.add_argument("--policy", metavar="FILE",
                   help="policy file (default: .gitopsd-policy.yaml at the root, if present)")
    p.add_argument("--format", choices=("human", "json", "sarif"), default="human")
    p.add_argument("--ignore-missing-schemas", action="store_true",
                   help="skip objects whose kind has no known schema instead of reporting them")
    p.add_argument("--against-cluster", action="store_true",
                   help="also server-side dry-run every object on an ephemeral local control plane")
    p.add_argument("--cluster-timeout", type=float, default=120.0, metavar="SECONDS",
                   help="start-up budget of the --against-cluster control plane")
    p.set_defaults(handler=_validate)
