"""The fleet file: YAML in, validated ``gitopsd.model.Fleet`` out, or every problem at once.

Public API (everything else in this package is an implementation detail):

- ``load_fleet(path, *, check_files=True) -> Fleet`` and
  ``parse_fleet(text, filename, *, check_files=True) -> Fleet``; both raise
  ``gitopsd.errors.ConfigError`` whose ``issues`` name file, line and field.
- ``read_argocd_applications(files, fleet, origin, *, entry="") -> ArgoApplications``
  for the Argo CD ``Application`` manifests an ``argocd`` entry points at: the
  ones gitopsd honours and the ones it rejects, each with its reasons;
  ``applications_from_argocd`` is its strict form (``ConfigError`` on any problem).
- ``projects_from_argocd(files, origin) -> tuple[Project, ...]`` for the
  ``AppProject`` manifests beside them.
- ``expand_instances(fleet, applications=None) -> tuple[AppInstance, ...]``.
- ``parse_duration(text) -> float`` (seconds), ``format_duration(seconds) -> str``.
- ``parse_size(text) -> int`` (bytes, ``4Mi``), ``format_size(bytes) -> str``.
- ``summary(fleet) -> str`` for ``gitopsd check-config``.
- ``default_config_path() -> str | None`` (``$GITOPSD_CONFIG``).

This package reads the fleet file and the files it names, never Git or a
cluster, and sits beside core and edges: it imports only model and errors.
"""

from gitopsd.config.argocd import (
    ArgoApplications,
    applications_from_argocd,
    projects_from_argocd,
    read_argocd_applications,
)
from gitopsd.config.durations import format_duration, parse_duration
from gitopsd.config.loader import default_config_path, load_fleet, parse_fleet
from gitopsd.config.sizes import format_size, parse_size
from gitopsd.config.summary import summary
from gitopsd.config.templating import TEMPLATE_VARIABLES, expand_instances

__all__ = [
    "TEMPLATE_VARIABLES",
    "ArgoApplications",
    "applications_from_argocd",
    "default_config_path",
    "expand_instances",
    "format_duration",
    "format_size",
    "load_fleet",
    "parse_duration",
    "parse_fleet",
    "parse_size",
    "projects_from_argocd",
    "read_argocd_applications",
    "summary",
]
