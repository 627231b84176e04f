"""Health of live Kubernetes objects: one small module per kind, one verdict.

``assess(obj)`` maps a live object (as the API server returns it, with its
status) to a ``Health``: a ``HealthStatus`` and, whenever the status is not
Healthy, a one-line message that says why. It dispatches on API group and
kind to a dedicated check (Deployment, StatefulSet, DaemonSet, ReplicaSet,
Pod, Job, CronJob, PersistentVolumeClaim, Service, Ingress,
HorizontalPodAutoscaler, APIService, CustomResourceDefinition, Namespace)
and to one module per common CRD family: Argo Workflows' Workflow and Argo
Rollouts' Rollout, cert-manager, Crossplane (recognised by group or condition
shape), Bitnami SealedSecret, Flux, External Secrets, Cluster API, Gateway
API, KEDA and Knative Serving; every other kind, custom resources included,
is judged by the common status conventions (``generic``). Built-in kinds
follow Argo CD's built-in checks so that users' expectations carry over; CRD
families follow each project's documented status semantics.

Rules for every kind, before the kind's own check:

* ``gitopsd.io/ignore-healthcheck: "true"`` or
  ``argocd.argoproj.io/ignore-healthcheck: "true"`` makes the object Healthy.
* An object with ``metadata.deletionTimestamp`` is Progressing ("Pending
  deletion"), except a Job, Pod or Workflow that already finished (its verdict stands)
  and a Namespace or CustomResourceDefinition, which report their own
  termination.

Hooks: ``hook_state(obj)`` (``hook``) turns health into a hook's result, and
is the only place that does. For a Job, Pod or Workflow, Healthy means the
hook succeeded (Job Complete, Pod or Workflow Succeeded), Degraded means it
failed (Job Failed, Pod Failed, Workflow Failed or Error); anything else
(Progressing, Suspended) means it has not finished yet. Run-to-completion Pods
(``restartPolicy`` Never or OnFailure) are therefore never Healthy while
running and never Degraded for a waiting error such as ImagePullBackOff; on a
hook Pod, as in Argo CD, ``argocd.argoproj.io/ignore-restart-policy`` does
not change that.

The severity order and the worst-of rule live in ``Health.worst``; ``worst``
here is the same function. Nothing in this package performs I/O or reads a
clock.
"""

from gitopsd.core.health.dispatch import (
    CHECKS,
    FAMILIES,
    Check,
    assess,
    builtin_kinds,
    check_for,
    group_kind,
    is_ignored,
)
from gitopsd.core.health.hook import RUN_TO_COMPLETION, HookPhase, HookState, hook_state
from gitopsd.model.health import Health, HealthStatus

worst = Health.worst

__all__ = [
    "CHECKS",
    "FAMILIES",
    "RUN_TO_COMPLETION",
    "Check",
    "Health",
    "HealthStatus",
    "HookPhase",
    "HookState",
    "assess",
    "builtin_kinds",
    "check_for",
    "group_kind",
    "hook_state",
    "is_ignored",
    "worst",
]
