"""The daemon's HTTP server (probes, metrics, JSON API, webhooks) behind the ``ApiBackend`` Protocol.

This package must not import the engine; the composition root passes it a backend.
"""

from .backend import ApiBackend, Row
from .server import ApiServer

__all__ = ["ApiBackend", "ApiServer", "Row"]
