"""The sync of one application instance: compare, plan, execute, record."""

from gitopsd.engine.sync.compare import Comparison, compare
from gitopsd.engine.sync.reconciler import Pass, Reconciler, SyncRequest

__all__ = ["Comparison", "Pass", "Reconciler", "SyncRequest", "compare"]
