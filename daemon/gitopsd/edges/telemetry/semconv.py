"""Names of gitopsd's spans and span attributes, in one place.

The engine opens spans through its TracingPort, naming steps and attributes
in its own plain words; ``spans.OtelTracing`` turns those into these names,
so that traces, the Jaeger section of charts/gitopsd-observability/README.md
and dashboards agree. Attribute
names follow the OpenTelemetry semantic conventions where one exists
(``k8s.*``, ``vcs.*``); gitopsd's own live under ``gitopsd.*``.

This module is plain strings and one pure helper; it imports only the
standard library, so any layer may use it without pulling in the SDK.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

# -- span names -------------------------------------------------------------------------------
SPAN_RECONCILE = "reconcile"            # root span: one pass over one application instance
SPAN_SOURCE = "source"                  # resolve the revision and check out the source tree
SPAN_RENDER = "render"                  # plain YAML, Kustomize or Helm
SPAN_DIFF = "diff"                      # server-side apply dry-run against live state
SPAN_PLAN = "plan"                      # phases, waves, kind order, prune set
SPAN_APPLY_WAVE = "apply wave"          # one sync wave: apply, then wait for health
SPAN_PRUNE = "prune"                    # delete what left Git
SPAN_GIT_LS_REMOTE = "git ls-remote"    # poll a repository for new heads (its own trace)
SPAN_GIT_FETCH = "git fetch"            # fetch a revision into the cache
SPAN_HEALTH = "health"                  # wait for a wave's objects to become healthy
SPAN_HOOK = "hook"                      # run one hook (named "hook <phase> <kind>/<name>")

SPAN_NAMES = (SPAN_RECONCILE, SPAN_SOURCE, SPAN_RENDER, SPAN_DIFF, SPAN_PLAN, SPAN_APPLY_WAVE,
              SPAN_PRUNE, SPAN_GIT_LS_REMOTE, SPAN_GIT_FETCH, SPAN_HEALTH, SPAN_HOOK)

# -- attributes: OpenTelemetry semantic conventions ------------------------------------------------
ATTR_CLUSTER = "k8s.cluster.name"
ATTR_NAMESPACE = "k8s.namespace.name"
ATTR_REVISION = "vcs.ref.head.revision"      # full commit SHA
ATTR_REF_NAME = "vcs.ref.head.name"          # branch or tag as written in the fleet file
ATTR_REPOSITORY_URL = "vcs.repository.url.full"  # never with credentials: see repository_url

# -- attributes: gitopsd's own ------------------------------------------------------------------
ATTR_APP = "gitopsd.app"                     # application name from the fleet file
ATTR_OUTCOME = "gitopsd.outcome"             # an OutcomeKind: Synced | OutOfSync | Failed | Stalled
ATTR_WAVE = "gitopsd.wave"                   # sync wave number (int)
ATTR_PHASE = "gitopsd.phase"                 # PreSync | Sync | PostSync | SyncFail
ATTR_TRIGGER = "gitopsd.trigger"             # poll | webhook | api | resync | drift | retry
ATTR_APPLIED = "gitopsd.changes.applied"     # objects created or changed (int)
ATTR_PRUNED = "gitopsd.changes.pruned"       # objects deleted (int)

ATTRIBUTE_NAMES = (ATTR_CLUSTER, ATTR_NAMESPACE, ATTR_REVISION, ATTR_REF_NAME, ATTR_REPOSITORY_URL,
                   ATTR_APP, ATTR_OUTCOME, ATTR_WAVE, ATTR_PHASE, ATTR_TRIGGER, ATTR_APPLIED, ATTR_PRUNED)


def repository_url(url: str) -> str:
    """URL fit for ``vcs.repository.url.full``: user info, query and fragment removed.

    scp-like SSH addresses (``git@host:org/repo.git``) carry no password and are kept.
    """
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
