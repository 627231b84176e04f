"""The label and annotation names gitopsd writes and honours are its contract with users."""

from __future__ import annotations

from gitopsd.core import marks


def test_gitopsd_marks() -> None:
    """gitopsd's own marks keep their spelling, all under the gitopsd.io/ prefix."""
    assert marks.FLEET_LABEL == "gitopsd.io/fleet"
    assert marks.TRACKING_ANNOTATION == "gitopsd.io/tracking-id"
    assert marks.HASH_ANNOTATION == "gitopsd.io/desired-hash"
    assert marks.fleet_selector("prod") == "gitopsd.io/fleet=prod"
    own = [value for name, value in vars(marks).items()
           if name.isupper() and isinstance(value, str) and value.startswith("gitopsd.io")]
    assert all(value.startswith(marks.GITOPSD_PREFIX) for value in own)


def test_argocd_and_helm_marks() -> None:
    """Argo CD's and Helm's annotations are read under their own names."""
    assert marks.SYNC_OPTIONS_ANNOTATION == "argocd.argoproj.io/sync-options"
    assert marks.SYNC_WAVE_ANNOTATION == "argocd.argoproj.io/sync-wave"
    assert marks.HOOK_ANNOTATIONS == ("argocd.argoproj.io/hook", "helm.sh/hook")
    assert marks.IGNORE_HEALTHCHECK_ANNOTATIONS == ("gitopsd.io/ignore-healthcheck",
                                                    "argocd.argoproj.io/ignore-healthcheck")
