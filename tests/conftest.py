"""Shared pytest configuration: fixture plugins for real control planes and Git."""

pytest_plugins = [
    "tests.testenv.kube_fixtures",
    "tests.testenv.git_fixtures",
]
