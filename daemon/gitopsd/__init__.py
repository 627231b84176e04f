"""gitopsd: a pull-based GitOps reconciler for fleets of Kubernetes clusters."""

__version__ = "0.1.0"
