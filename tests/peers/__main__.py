"""Entry point: ``python -m tests.peers [--only TOOL ...] [--objects N]``."""

from tests.peers.runner import main

raise SystemExit(main())
