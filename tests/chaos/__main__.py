"""``python -m tests.chaos``: run seeded fault trials against a local control plane.

Replay one trial with ``python -m tests.chaos --seed N --trials 1`` (the
injectors follow from the seed, or name them with ``--injectors``).
"""

from tests.chaos.runner import main

raise SystemExit(main())
