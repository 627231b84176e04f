"""Local control planes from real binaries, for tests, the demo and users."""

from gitopsd.localcluster.cluster import LocalCluster, down, up
from gitopsd.localcluster.pki import ADMIN_USER, RESTRICTED_USERS

__all__ = ["ADMIN_USER", "RESTRICTED_USERS", "LocalCluster", "down", "up"]
