"""Choose the health check for an object by API group and kind, and apply the
rules that hold for every kind: the ignore annotations and pending deletion.

This module knows which check belongs to which kind; it must not judge any
kind itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.core.health.apiservice import apiservice_health
from gitopsd.core.health.crd import crd_health
from gitopsd.core.health.crd import is_terminating as crd_is_terminating
from gitopsd.core.health.cronjob import cronjob_health
from gitopsd.core.health.daemonset import daemonset_health
from gitopsd.core.health.deployment import deployment_health
from gitopsd.core.health.generic import generic_health
from gitopsd.core.health.hpa import hpa_health
from gitopsd.core.health.ingress import ingress_health
from gitopsd.core.health.job import is_finished as job_is_finished
from gitopsd.core.health.job import job_health
from gitopsd.core.health.namespace import is_terminating as namespace_is_terminating
from gitopsd.core.health.namespace import namespace_health
from gitopsd.core.health.pod import is_finished as pod_is_finished
from gitopsd.core.health.pod import pod_health
from gitopsd.core.health.pvc import pvc_health
from gitopsd.core.health.replicaset import replicaset_health
from gitopsd.core.health.service import service_health
from gitopsd.core.health.statefulset import statefulset_health
from gitopsd.core.health.workflow import is_finished as workflow_is_finished
from gitopsd.core.health.workflow import workflow_health
from gitopsd.core.marks import IGNORE_HEALTHCHECK_ANNOTATIONS
from gitopsd.model.health import Health, HealthStatus

Check = Callable[[Mapping[str, Any]], Health]

CHECKS: Mapping[tuple[str, str], Check] = {
    ("apps", "Deployment"): deployment_health,
    ("apps", "StatefulSet"): statefulset_health,
    ("apps", "DaemonSet"): daemonset_health,
    ("apps", "ReplicaSet"): replicaset_health,
    ("", "Pod"): pod_health,
    ("batch", "Job"): job_health,
    ("batch", "CronJob"): cronjob_health,
    ("", "PersistentVolumeClaim"): pvc_health,
    ("", "Service"): service_health,
    ("networking.k8s.io", "Ingress"): ingress_health,
    ("extensions", "Ingress"): ingress_health,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa_health,
    ("apiregistration.k8s.io", "APIService"): apiservice_health,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd_health,
    ("", "Namespace"): namespace_health,
    ("argoproj.io", "Workflow"): workflow_health,
}

# Kinds whose own check stays right while the object is being deleted: a
# finished hook keeps its verdict; a Namespace or a CRD reports its own
# termination.
_SURVIVES_DELETION: Mapping[tuple[str, str], Callable[[Mapping[str, Any]], bool]] = {
    ("batch", "Job"): job_is_finished,
    ("", "Pod"): pod_is_finished,
    ("argoproj.io", "Workflow"): workflow_is_finished,
    ("", "Namespace"): namespace_is_terminating,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd_is_terminating,
}


def group_kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    """API group (without version; "" for the core API) and kind of ``obj``."""
    api_version = fields.string(obj, "apiVersion")
    group = api_version.rpartition("/")[0]
    return group, fields.string(obj, "kind")


def builtin_kinds() -> frozenset[tuple[str, str]]:
    """The (group, kind) pairs that have a dedicated check."""
    return frozenset(CHECKS)


def is_ignored(obj: Mapping[str, Any]) -> bool:
    """True when an annotation asks for the object's health to be ignored."""
    return any(fields.annotation(obj, name) == "true" for name in IGNORE_HEALTHCHECK_ANNOTATIONS)


def assess(obj: Mapping[str, Any], check: Check | None = None) -> Health:
    """Health of one live object as the API server returned it.

    ``check`` replaces the built-in check of the object's kind (a user's
    check, from ``custom``); the rules for every kind still come first.
    """
    if is_ignored(obj):
        return Health(HealthStatus.HEALTHY, "Health check ignored by annotation")
    key = group_kind(obj)
    check = check or CHECKS.get(key, generic_health)
    if fields.string(obj, "metadata", "deletionTimestamp"):
        survives = _SURVIVES_DELETION.get(key)
        if survives is None or not survives(obj):
            return Health(HealthStatus.PROGRESSING, "Pending deletion")
    health = check(obj)
    message = fields.one_line(health.message)
    if health.status is not HealthStatus.HEALTHY and not message:
        message = f"{key[1] or 'Object'} is {health.status.value}"
    return health if message == health.message else Health(health.status, message)
