"""The ``gitopsd`` console script: argument parsing and exit codes only.

Exit codes: 0 ok, 1 a finding (diff present, validation failed), 2 usage or
runtime error with a one-line reason on stderr. Each verb group registers its
sub-commands from its own module; the work itself lives in the rooms.
"""

from __future__ import annotations

import argparse
import faulthandler
import sys
from collections.abc import Callable, Sequence

from gitopsd.errors import ConfigError, GitopsdError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    from gitopsd.cli import daemon, desired, health, localcluster, rollback, validate

    parser = argparse.ArgumentParser(prog="gitopsd", description="Pull-based GitOps for fleets of "
                                     "Kubernetes clusters.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for module in (daemon, rollback, desired, health, validate, localcluster):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if not faulthandler.is_enabled():  # a crash in a C extension still names the Python frames
        faulthandler.enable()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    except GitopsdError as e:
        print(f"gitopsd: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
