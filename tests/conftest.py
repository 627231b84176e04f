"""Shared pytest configuration: fixture plugins for real control planes and Git.

Property tests carry no time limit: speed is measured by the benchmarks, and a
loaded machine must not turn a slow example into a failure.
"""

from hypothesis import HealthCheck, settings

settings.register_profile("gitopsd", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("gitopsd")

pytest_plugins = [
    "tests.testenv.kube_fixtures",
    "tests.testenv.git_fixtures",
]
