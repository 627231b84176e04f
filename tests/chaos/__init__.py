"""A fault matrix for gitopsd: seeded randomized trials against real local control planes.

Each trial generates a few applications (waves, a PreSync hook, a SOPS secret,
prunes in a second commit) beside foreign objects, runs the real daemon, injects
one or two faults while it syncs, lets it converge and then checks invariants
that must hold whatever happened. Run on demand with ``python -m tests.chaos``
(``make chaos``); ``tests/integration/test_chaos_smoke.py`` runs two fixed
seeds in the default test run.
"""
