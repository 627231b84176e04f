"""Choose the health check for an object by API group and kind, and apply the
rules that hold for every kind: the ignore annotations and pending deletion.

Kinds are looked up in ``CHECKS`` by (group, kind); families whose kinds
cannot be listed (Crossplane's) are recognised by ``FAMILIES`` next; every
other object gets the generic rule. This module knows which check belongs to
which kind; it must not judge any kind itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gitopsd.core.health import fields
from gitopsd.core.health.apiservice import apiservice_health
from gitopsd.core.health.certmanager import (
    certificate_health,
    certificaterequest_health,
    issuer_health,
)
from gitopsd.core.health.clusterapi import (
    cluster_health,
    machine_health,
    machinedeployment_health,
)
from gitopsd.core.health.crd import crd_health
from gitopsd.core.health.crd import is_terminating as crd_is_terminating
from gitopsd.core.health.cronjob import cronjob_health
from gitopsd.core.health.crossplane import crossplane_health, is_crossplane
from gitopsd.core.health.daemonset import daemonset_health
from gitopsd.core.health.deployment import deployment_health
from gitopsd.core.health.externalsecrets import externalsecrets_health
from gitopsd.core.health.flux import flux_health
from gitopsd.core.health.gatewayapi import gateway_health, route_health
from gitopsd.core.health.generic import generic_health
from gitopsd.core.health.hpa import hpa_health
from gitopsd.core.health.ingress import ingress_health
from gitopsd.core.health.job import is_finished as job_is_finished
from gitopsd.core.health.job import job_health
from gitopsd.core.health.keda import keda_health
from gitopsd.core.health.knative import knative_health
from gitopsd.core.health.namespace import is_terminating as namespace_is_terminating
from gitopsd.core.health.namespace import namespace_health
from gitopsd.core.health.pod import is_finished as pod_is_finished
from gitopsd.core.health.pod import pod_health
from gitopsd.core.health.pvc import pvc_health
from gitopsd.core.health.replicaset import replicaset_health
from gitopsd.core.health.rollouts import rollout_health
from gitopsd.core.health.sealedsecrets import sealedsecret_health
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
    ("argoproj.io", "Rollout"): rollout_health,
    ("cert-manager.io", "Certificate"): certificate_health,
    ("cert-manager.io", "CertificateRequest"): certificaterequest_health,
    ("cert-manager.io", "Issuer"): issuer_health,
    ("cert-manager.io", "ClusterIssuer"): issuer_health,
    ("bitnami.com", "SealedSecret"): sealedsecret_health,
    ("kustomize.toolkit.fluxcd.io", "Kustomization"): flux_health,
    ("helm.toolkit.fluxcd.io", "HelmRelease"): flux_health,
    ("source.toolkit.fluxcd.io", "GitRepository"): flux_health,
    ("source.toolkit.fluxcd.io", "OCIRepository"): flux_health,
    ("source.toolkit.fluxcd.io", "HelmRepository"): flux_health,
    ("source.toolkit.fluxcd.io", "HelmChart"): flux_health,
    ("source.toolkit.fluxcd.io", "Bucket"): flux_health,
    ("external-secrets.io", "ExternalSecret"): externalsecrets_health,
    ("external-secrets.io", "ClusterExternalSecret"): externalsecrets_health,
    ("external-secrets.io", "PushSecret"): externalsecrets_health,
    ("external-secrets.io", "SecretStore"): externalsecrets_health,
    ("external-secrets.io", "ClusterSecretStore"): externalsecrets_health,
    ("cluster.x-k8s.io", "Cluster"): cluster_health,
    ("cluster.x-k8s.io", "Machine"): machine_health,
    ("cluster.x-k8s.io", "MachineDeployment"): machinedeployment_health,
    ("gateway.networking.k8s.io", "Gateway"): gateway_health,
    ("gateway.networking.k8s.io", "HTTPRoute"): route_health,
    ("gateway.networking.k8s.io", "GRPCRoute"): route_health,
    ("gateway.networking.k8s.io", "TLSRoute"): route_health,
    ("gateway.networking.k8s.io", "TCPRoute"): route_health,
    ("gateway.networking.k8s.io", "UDPRoute"): route_health,
    ("keda.sh", "ScaledObject"): keda_health,
    ("keda.sh", "ScaledJob"): keda_health,
    ("serving.knative.dev", "Service"): knative_health,
    ("serving.knative.dev", "Configuration"): knative_health,
    ("serving.knative.dev", "Route"): knative_health,
    ("serving.knative.dev", "Revision"): knative_health,
}

FAMILIES: Sequence[tuple[Callable[[Mapping[str, Any]], bool], Check]] = (
    (is_crossplane, crossplane_health),
)
"""Families recognised by a predicate, tried in order after ``CHECKS``."""

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


def check_for(obj: Mapping[str, Any]) -> Check:
    """The check that judges ``obj``: its kind's, its family's, else the generic rule."""
    check = CHECKS.get(group_kind(obj))
    if check is not None:
        return check
    return next((family for matches, family in FAMILIES if matches(obj)), generic_health)


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
    check = check or check_for(obj)
    if fields.string(obj, "metadata", "deletionTimestamp"):
        survives = _SURVIVES_DELETION.get(key)
        if survives is None or not survives(obj):
            return Health(HealthStatus.PROGRESSING, "Pending deletion")
    health = check(obj)
    message = fields.one_line(health.message)
    if health.status is not HealthStatus.HEALTHY and not message:
        message = f"{key[1] or 'Object'} is {health.status.value}"
    return health if message == health.message else Health(health.status, message)
