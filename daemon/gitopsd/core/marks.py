"""The names of every label and annotation gitopsd writes or honours.

gitopsd marks the objects it applies (``gitopsd.io/...``) and reads the marks
Argo CD and Helm users already put on their manifests
(``argocd.argoproj.io/...``, ``helm.sh/hook*``). Each name is spelled once,
here, so that a writer and a reader can never disagree about it; every module
of core, the engine and the entry points imports the name from this module.

It holds names only: what a mark means is decided where it is read
(inventory, plan, health, diff). The edges never see these names; they pass
label selectors and bodies they are given.
"""

from __future__ import annotations

from typing import Final

# --- gitopsd's own marks ----------------------------------------------------------------

GITOPSD_PREFIX: Final = "gitopsd.io/"
"""Every label and annotation gitopsd owns starts with this."""

FLEET_LABEL: Final = "gitopsd.io/fleet"
"""On every applied object: the fleet that owns it (watches select on it)."""

TRACKING_ANNOTATION: Final = "gitopsd.io/tracking-id"
"""On every applied object: ``<app>:<group>/<kind>:<namespace>/<name>``."""

HASH_ANNOTATION: Final = "gitopsd.io/desired-hash"
"""On every applied object: a hash of the desired body it was applied from."""

APP_ANNOTATION: Final = "gitopsd.io/app"
"""On the inventory ConfigMap: the full application name (its own name may be hashed)."""

CASCADE_ANNOTATION: Final = "gitopsd.io/cascade-delete"
"""On the inventory ConfigMap: "true" when the application's objects go when it leaves the fleet."""

PROPAGATION_ANNOTATION: Final = "gitopsd.io/delete-propagation"
"""On the inventory ConfigMap: the propagation policy of that deletion."""

PROJECT_ANNOTATION: Final = "gitopsd.io/project"
"""On the inventory ConfigMap: the application's project, which still bounds its removal."""

PREDELETE_DONE_ANNOTATION: Final = "gitopsd.io/predelete-done"
"""On the inventory ConfigMap: "true" once the application's PreDelete hooks succeeded."""

IGNORE_HEALTHCHECK_ANNOTATION: Final = "gitopsd.io/ignore-healthcheck"
"""On any object: "true" makes it Healthy whatever its status says."""

# --- Argo CD's marks ----------------------------------------------------------------------

HOOK_ANNOTATION: Final = "argocd.argoproj.io/hook"
HOOK_DELETE_POLICY_ANNOTATION: Final = "argocd.argoproj.io/hook-delete-policy"
SYNC_WAVE_ANNOTATION: Final = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS_ANNOTATION: Final = "argocd.argoproj.io/sync-options"
ARGOCD_IGNORE_HEALTHCHECK_ANNOTATION: Final = "argocd.argoproj.io/ignore-healthcheck"
IGNORE_RESTART_POLICY_ANNOTATION: Final = "argocd.argoproj.io/ignore-restart-policy"

# --- Helm's marks -------------------------------------------------------------------------

HELM_HOOK_ANNOTATION: Final = "helm.sh/hook"
HELM_WEIGHT_ANNOTATION: Final = "helm.sh/hook-weight"
HELM_DELETE_POLICY_ANNOTATION: Final = "helm.sh/hook-delete-policy"

# --- groups -------------------------------------------------------------------------------

HOOK_ANNOTATIONS: Final = (HOOK_ANNOTATION, HELM_HOOK_ANNOTATION)
"""Annotations that make an object a hook (Argo CD's first, then Helm's)."""

IGNORE_HEALTHCHECK_ANNOTATIONS: Final = (IGNORE_HEALTHCHECK_ANNOTATION,
                                         ARGOCD_IGNORE_HEALTHCHECK_ANNOTATION)
"""Either one set to "true" makes an object Healthy."""


def fleet_selector(fleet: str) -> str:
    """The label selector of the objects ``fleet`` owns (``gitopsd.io/fleet=<fleet>``)."""
    return f"{FLEET_LABEL}={fleet}"
