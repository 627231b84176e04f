"""Orchestration: ports (Protocols for the edges), queue, reconciler, supervisor."""
