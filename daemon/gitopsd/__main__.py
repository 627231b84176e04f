"""``python -m gitopsd`` runs the console script."""

import sys

from gitopsd.cli import main

sys.exit(main())
