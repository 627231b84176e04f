"""The status pages in the browser, served by the daemon's HTTP server under ``/ui``.

Rendered on the server as escaped HTML with inline style and a few lines of
script for live updates; no build step and nothing fetched from elsewhere.
Like the api edge, this package must not import the engine: it sees the daemon
through ``ApiBackend`` only.
"""

from .routes import UiRoutes

__all__ = ["UiRoutes"]
