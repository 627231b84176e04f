"""Facts about built-in Kubernetes kinds that several core rules share.

Parsing needs to know which kinds are cluster-scoped (they must carry no
namespace); planning needs Argo CD's kind order so that, within one wave,
objects are applied in the order users of Argo CD expect. Both facts are plain
tables here. This module must not learn about live clusters: kinds a cluster
adds through CRDs or aggregated APIs reach these functions as the ``extra``
argument, discovered elsewhere.

Kinds are identified by (API group without version, kind); the core group is
``""``. A kind from an unexpected group (a custom resource named ``Service``,
say) is treated as unknown rather than mistaken for the built-in one.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

_CORE: Final = ""
_ADMISSION: Final = "admissionregistration.k8s.io"
_APPS: Final = "apps"
_EXTENSIONS: Final = "extensions"
_NETWORKING: Final = "networking.k8s.io"
_POLICY: Final = "policy"
_RBAC: Final = "rbac.authorization.k8s.io"
_STORAGE: Final = "storage.k8s.io"

CLUSTER_SCOPED: Final[frozenset[tuple[str, str]]] = frozenset({
    (_CORE, "ComponentStatus"),
    (_CORE, "Namespace"),
    (_CORE, "Node"),
    (_CORE, "PersistentVolume"),
    (_ADMISSION, "MutatingAdmissionPolicy"),
    (_ADMISSION, "MutatingAdmissionPolicyBinding"),
    (_ADMISSION, "MutatingWebhookConfiguration"),
    (_ADMISSION, "ValidatingAdmissionPolicy"),
    (_ADMISSION, "ValidatingAdmissionPolicyBinding"),
    (_ADMISSION, "ValidatingWebhookConfiguration"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("authentication.k8s.io", "SelfSubjectReview"),
    ("authentication.k8s.io", "TokenReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("internal.apiserver.k8s.io", "StorageVersion"),
    (_NETWORKING, "IngressClass"),
    (_NETWORKING, "IPAddress"),
    (_NETWORKING, "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    (_POLICY, "PodSecurityPolicy"),
    (_EXTENSIONS, "PodSecurityPolicy"),
    (_RBAC, "ClusterRole"),
    (_RBAC, "ClusterRoleBinding"),
    ("resource.k8s.io", "DeviceClass"),
    ("resource.k8s.io", "DeviceTaintRule"),
    ("resource.k8s.io", "ResourceSlice"),
    ("scheduling.k8s.io", "PriorityClass"),
    (_STORAGE, "CSIDriver"),
    (_STORAGE, "CSINode"),
    (_STORAGE, "StorageClass"),
    (_STORAGE, "VolumeAttachment"),
    (_STORAGE, "VolumeAttributesClass"),
    ("storagemigration.k8s.io", "StorageVersionMigration"),
})


def is_cluster_scoped(group: str, kind: str,
                      extra: Collection[tuple[str, str]] = ()) -> bool:
    """True when (group, kind) is a built-in cluster-scoped kind or listed in ``extra``."""
    return (group, kind) in CLUSTER_SCOPED or (group, kind) in extra


# Argo CD's apply order within a wave, with the API groups each kind may come
# from (legacy groups included so old manifests rank the same as new ones).
_KIND_ORDER: Final[tuple[tuple[str, frozenset[str]], ...]] = (
    ("Namespace", frozenset({_CORE})),
    ("NetworkPolicy", frozenset({_NETWORKING, _EXTENSIONS})),
    ("ResourceQuota", frozenset({_CORE})),
    ("LimitRange", frozenset({_CORE})),
    ("PodSecurityPolicy", frozenset({_POLICY, _EXTENSIONS})),
    ("PodDisruptionBudget", frozenset({_POLICY})),
    ("ServiceAccount", frozenset({_CORE})),
    ("Secret", frozenset({_CORE})),
    ("SecretList", frozenset({_CORE})),
    ("ConfigMap", frozenset({_CORE})),
    ("StorageClass", frozenset({_STORAGE})),
    ("PersistentVolume", frozenset({_CORE})),
    ("PersistentVolumeClaim", frozenset({_CORE})),
    ("CustomResourceDefinition", frozenset({"apiextensions.k8s.io"})),
    ("ClusterRole", frozenset({_RBAC})),
    ("ClusterRoleList", frozenset({_RBAC})),
    ("ClusterRoleBinding", frozenset({_RBAC})),
    ("ClusterRoleBindingList", frozenset({_RBAC})),
    ("Role", frozenset({_RBAC})),
    ("RoleList", frozenset({_RBAC})),
    ("RoleBinding", frozenset({_RBAC})),
    ("RoleBindingList", frozenset({_RBAC})),
    ("Service", frozenset({_CORE})),
    ("DaemonSet", frozenset({_APPS, _EXTENSIONS})),
    ("Pod", frozenset({_CORE})),
    ("ReplicationController", frozenset({_CORE})),
    ("ReplicaSet", frozenset({_APPS, _EXTENSIONS})),
    ("Deployment", frozenset({_APPS, _EXTENSIONS})),
    ("HorizontalPodAutoscaler", frozenset({"autoscaling"})),
    ("StatefulSet", frozenset({_APPS})),
    ("Job", frozenset({"batch"})),
    ("CronJob", frozenset({"batch"})),
    ("IngressClass", frozenset({_NETWORKING})),
    ("Ingress", frozenset({_NETWORKING, _EXTENSIONS})),
    ("APIService", frozenset({"apiregistration.k8s.io"})),
)

_RANKS: Final[dict[tuple[str, str], int]] = {
    (group, kind): rank
    for rank, (kind, groups) in enumerate(_KIND_ORDER)
    for group in groups
}

UNKNOWN_KIND_RANK: Final[int] = len(_KIND_ORDER)
"""Rank of every kind not in Argo CD's list (custom resources): after all others."""


def kind_rank(group: str, kind: str) -> int:
    """Position of (group, kind) in Argo CD's apply order; unknown kinds rank last."""
    return _RANKS.get((group, kind), UNKNOWN_KIND_RANK)
