"""Entry point: ``python -m tests.bench [--quick] [--only NAME ...] [--out DIR]``."""

from tests.bench.runner import main

raise SystemExit(main())
