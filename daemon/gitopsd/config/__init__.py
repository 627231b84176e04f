"""The fleet file: YAML in, validated ``gitopsd.model.Fleet`` out, or every problem at once.

Public API (everything else in this package is an implementation detail):

- ``load_fleet(path, *, check_files=True) -> Fleet`` and
  ``parse_fleet(text, filename, *, check_files=True) -> Fleet``; both raise
  ``gitopsd.errors.ConfigError`` whose ``issues`` name file, line and field.
- ``applications_from_argocd(files, fleet, origin) -> tuple[Application, ...]``
  for the Argo CD ``Application`` manifests an ``argocd`` entry points at, and
  ``projects_from_argocd(files, origin) -> tuple[Project, ...]`` for the
  ``AppProject`` manifests beside them.
- ``expand_instances(fleet, applications=None) -> tuple[AppInstance, ...]``.
- ``parse_duration(text) -> float`` (seconds), ``format_duration(seconds) -> str``.
- ``parse_size(text) -> int`` (bytes, ``4Mi``), ``format_size(bytes) -> str``.
- ``summary(fleet) -> str`` for ``gitopsd check-config``.
- ``default_config_path() -> str | None`` (``$GITOPSD_CONFIG``).

This package reads the fleet file and the files it names, never Git or a
cluster, and sits beside core and edges: it imports only model and errors.
"""

from gitopsd.config.argocd import applications_from_argocd, projects_from_argocd
from gitopsd.config.durations import format_duration, parse_duration
from gitopsd.config.loader import default_config_path, load_fleet, parse_fleet
from gitopsd.config.sizes import format_size, parse_size
from gitopsd.config.summary import summary
from gitopsd.config.templating import TEMPLATE_VARIABLES, expand_instances

__all__ = [
    "TEMPLATE_VARIABLES",
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
    "summary",
]
