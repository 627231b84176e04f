"""``gitopsd validate``: check an environment repository before it merges.

Files are parsed with the daemon's own manifest rules, objects are checked
against the Kubernetes OpenAPI schemas of a chosen version (offline, from the
``kubernetes-validate`` package) and against the CRDs found in the
repository, policy rules from ``core.policy`` run on every object, and with
a fleet file every application is rendered the way the daemon renders it.
``--against-cluster`` adds server-side dry-runs on an ephemeral local control
plane. This package sits beside the CLI at the top of the layers: it may use
engine, edges, core and config, and nothing below imports it.

Public API: ``Options``, ``validate(options) -> Report``, ``Report`` (with
``exit_code``), ``FORMATS`` (``human``, ``json``, ``sarif``: report -> text)
and ``catalogue()`` (every rule id with its severity, summary and hint).
"""

from gitopsd.validation.report import FORMATS, Report
from gitopsd.validation.rules import catalogue
from gitopsd.validation.run import Options, validate

__all__ = ["FORMATS", "Options", "Report", "catalogue", "validate"]
