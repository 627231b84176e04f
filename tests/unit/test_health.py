"""Health assessment: fixture files named for their expected verdict, plus tables
for the rules that cut across kinds (missing status, stale status, ignore
annotations, deletion, dispatch by API group) and a robustness property."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitopsd.core import health
from gitopsd.core.health import (
    CHECKS,
    FAMILIES,
    Check,
    assess,
    builtin_kinds,
    check_for,
    group_kind,
)
from gitopsd.core.health.fields import one_line
from gitopsd.model.health import Health, HealthStatus

TESTDATA = Path(__file__).parent / "testdata" / "health"
FIXTURES = sorted(TESTDATA.glob("*.yaml"))
STATES = {status.value.lower(): status for status in HealthStatus}
EXPECT_PREFIX = "# expect:"


def _load(path: Path) -> dict[str, Any]:
    obj = yaml.safe_load(path.read_text())
    assert isinstance(obj, dict), f"{path.name} holds no object"
    return obj


def _expected(path: Path) -> tuple[str, HealthStatus]:
    """Lower-case kind and expected status from ``<kind>-<state>[-qualifier].yaml``."""
    kind, _, rest = path.stem.partition("-")
    state = rest.split("-", 1)[0]
    assert state in STATES, f"{path.name}: {state!r} is not one of {sorted(STATES)}"
    return kind, STATES[state]


def _expected_message(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    return first[len(EXPECT_PREFIX):].strip() if first.startswith(EXPECT_PREFIX) else ""


def _assert_explained(result: Health) -> None:
    if result.status is not HealthStatus.HEALTHY:
        assert result.message, f"{result.status.value} without a reason"
    assert "\n" not in result.message


def test_fixture_directory_is_populated() -> None:
    """The fixture directory holds enough objects to cover every kind and state."""
    assert len(FIXTURES) >= 45


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture(path: Path) -> None:
    """Each fixture gets the status its file name announces, with a reason when not Healthy."""
    kind, expected = _expected(path)
    obj = _load(path)
    assert str(obj["kind"]).lower() == kind, f"{path.name} holds a {obj['kind']}"
    result = assess(obj)
    assert result.status is expected, result.message
    _assert_explained(result)
    wanted = _expected_message(path)
    if wanted:
        assert wanted in result.message


def _fixture_statuses() -> dict[Check, set[HealthStatus]]:
    seen: dict[Check, set[HealthStatus]] = {}
    for path in FIXTURES:
        seen.setdefault(check_for(_load(path)), set()).add(_expected(path)[1])
    return seen


def test_every_builtin_check_has_healthy_and_unhealthy_fixtures() -> None:
    """Each dedicated check is covered by a Healthy and a non-Healthy fixture."""
    seen = _fixture_statuses()
    for key, check in [*CHECKS.items(), *((f"family {c.__name__}", c) for _, c in FAMILIES)]:
        statuses = seen.get(check, set())
        assert HealthStatus.HEALTHY in statuses, f"no Healthy fixture for {key}"
        assert statuses - {HealthStatus.HEALTHY}, f"no unhealthy fixture for {key}"


CRD_FAMILIES = {
    "certmanager": ("cert-manager.io", {"Certificate", "CertificateRequest", "Issuer",
                                        "ClusterIssuer"}),
    "rollouts": ("argoproj.io", {"Rollout"}),
    "sealedsecrets": ("bitnami.com", {"SealedSecret"}),
    "flux": (".toolkit.fluxcd.io", {"Kustomization", "HelmRelease", "GitRepository",
                                    "OCIRepository", "HelmRepository"}),
    "externalsecrets": ("external-secrets.io", {"ExternalSecret", "SecretStore",
                                                "ClusterSecretStore"}),
    "clusterapi": ("cluster.x-k8s.io", {"Cluster", "Machine", "MachineDeployment"}),
    "gatewayapi": ("gateway.networking.k8s.io", {"Gateway", "HTTPRoute", "GRPCRoute"}),
    "keda": ("keda.sh", {"ScaledObject"}),
    "knative": ("serving.knative.dev", {"Service"}),
    "crossplane": ("", set()),
}
SUSPENDABLE = {"rollouts", "flux", "clusterapi", "keda", "crossplane"}


@pytest.mark.parametrize("family", sorted(CRD_FAMILIES))
def test_every_crd_family_has_healthy_progressing_and_degraded_fixtures(family: str) -> None:
    """Each CRD family's module is exercised by Healthy, Progressing, Degraded (and Suspended) fixtures."""
    group_suffix, kinds = CRD_FAMILIES[family]
    statuses: set[HealthStatus] = set()
    seen_kinds: set[str] = set()
    for path in FIXTURES:
        obj = _load(path)
        check = check_for(obj)
        if check.__module__.rsplit(".", 1)[-1] != family:
            continue
        assert group_kind(obj)[0].endswith(group_suffix), path.name
        statuses.add(_expected(path)[1])
        seen_kinds.add(group_kind(obj)[1])
    wanted = {HealthStatus.HEALTHY, HealthStatus.PROGRESSING, HealthStatus.DEGRADED}
    if family in SUSPENDABLE:
        wanted.add(HealthStatus.SUSPENDED)
    assert wanted <= statuses, f"{family}: missing {sorted(s.value for s in wanted - statuses)}"
    assert kinds <= seen_kinds, f"{family}: no fixture for {sorted(kinds - seen_kinds)}"


# --- missing status --------------------------------------------------------------


def _bare(api_version: str, kind: str, **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "x", "namespace": "ns", "generation": 1},
    }
    if spec:
        obj["spec"] = spec
    return obj


MISSING_STATUS = [
    (_bare("apps/v1", "Deployment", replicas=2), HealthStatus.PROGRESSING),
    (_bare("apps/v1", "StatefulSet", replicas=1), HealthStatus.PROGRESSING),
    (_bare("apps/v1", "DaemonSet"), HealthStatus.PROGRESSING),
    (_bare("apps/v1", "ReplicaSet", replicas=1), HealthStatus.PROGRESSING),
    (_bare("v1", "Pod", restartPolicy="Always"), HealthStatus.PROGRESSING),
    (_bare("batch/v1", "Job"), HealthStatus.PROGRESSING),
    (_bare("batch/v1", "CronJob", schedule="* * * * *"), HealthStatus.HEALTHY),
    (_bare("v1", "PersistentVolumeClaim"), HealthStatus.PROGRESSING),
    (_bare("v1", "Service", type="ClusterIP"), HealthStatus.HEALTHY),
    (_bare("v1", "Service", type="LoadBalancer"), HealthStatus.PROGRESSING),
    (_bare("networking.k8s.io/v1", "Ingress"), HealthStatus.PROGRESSING),
    (_bare("autoscaling/v2", "HorizontalPodAutoscaler"), HealthStatus.PROGRESSING),
    (_bare("apiregistration.k8s.io/v1", "APIService"), HealthStatus.PROGRESSING),
    (_bare("apiextensions.k8s.io/v1", "CustomResourceDefinition"), HealthStatus.PROGRESSING),
    (_bare("v1", "Namespace"), HealthStatus.HEALTHY),
    (_bare("v1", "ConfigMap"), HealthStatus.HEALTHY),
    (_bare("example.com/v1", "Widget", size=3), HealthStatus.HEALTHY),
]


@pytest.mark.parametrize(
    ("obj", "expected"), MISSING_STATUS, ids=[f"{o['kind']}-{e.value}" for o, e in MISSING_STATUS]
)
def test_missing_status(obj: dict[str, Any], expected: HealthStatus) -> None:
    """An object the controller has not written a status for gets its kind's first verdict."""
    result = assess(obj)
    assert result.status is expected, result.message
    _assert_explained(result)


# --- generic rules for custom resources ------------------------------------------


def _custom(generation: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "ns", "generation": generation},
        "spec": {"size": 1},
        "status": status,
    }


def _cond(type_: str, status: str, reason: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": "m", **extra}


READY_TRUE = [_cond("Ready", "True", "Ok")]

GENERIC = [
    ("observed generation behind", _custom(3, observedGeneration=2, conditions=READY_TRUE),
     HealthStatus.PROGRESSING),
    ("observed generation current", _custom(3, observedGeneration=3, conditions=READY_TRUE),
     HealthStatus.HEALTHY),
    ("observed generation absent", _custom(3, conditions=READY_TRUE), HealthStatus.HEALTHY),
    ("observed generation behind, no conditions", _custom(3, observedGeneration=1),
     HealthStatus.PROGRESSING),
    ("condition generation behind",
     _custom(3, conditions=[_cond("Ready", "True", "Ok", observedGeneration=2)]),
     HealthStatus.PROGRESSING),
    ("condition generation current",
     _custom(3, conditions=[_cond("Ready", "True", "Ok", observedGeneration=3)]),
     HealthStatus.HEALTHY),
    ("empty status", _custom(), HealthStatus.HEALTHY),
    ("unrelated conditions only", _custom(conditions=[_cond("Synced", "False", "Boom")]),
     HealthStatus.HEALTHY),
    ("ready false", _custom(conditions=[_cond("Ready", "False", "InstallFailed")]),
     HealthStatus.DEGRADED),
    ("ready false with an error while progressing",
     _custom(conditions=[_cond("Ready", "False", "ProgressingWithError")]),
     HealthStatus.DEGRADED),
    ("ready false while another condition reports progress",
     _custom(conditions=[_cond("Ready", "False", "DoesNotExist"), _cond("Issuing", "True")]),
     HealthStatus.PROGRESSING),
    ("ready false while progressing",
     _custom(conditions=[_cond("Ready", "False", "Progressing")]), HealthStatus.PROGRESSING),
    ("ready false while reconciling",
     _custom(conditions=[_cond("Ready", "False", "ReconciliationInProgress")]),
     HealthStatus.PROGRESSING),
    ("ready false waiting for dependency",
     _custom(conditions=[_cond("Ready", "False", "DependencyNotReady")]),
     HealthStatus.PROGRESSING),
    ("ready unknown", _custom(conditions=[_cond("Ready", "Unknown", "Failed")]),
     HealthStatus.PROGRESSING),
    ("available true", _custom(conditions=[_cond("Available", "True")]), HealthStatus.HEALTHY),
    ("available false", _custom(conditions=[_cond("Available", "False", "MinimumReplicasUnavailable")]),
     HealthStatus.DEGRADED),
    ("ready wins over available",
     _custom(conditions=[_cond("Available", "False", "Broken"), _cond("Ready", "True")]),
     HealthStatus.HEALTHY),
    ("stalled", _custom(conditions=[_cond("Stalled", "True", "BuildFailed"), *READY_TRUE]),
     HealthStatus.DEGRADED),
    ("stalled false is ignored", _custom(conditions=[_cond("Stalled", "False"), *READY_TRUE]),
     HealthStatus.HEALTHY),
    ("reconciling", _custom(conditions=[_cond("Reconciling", "True", "Progressing"), *READY_TRUE]),
     HealthStatus.PROGRESSING),
    ("failed condition", _custom(conditions=[_cond("Failed", "True", "Crashed"), *READY_TRUE]),
     HealthStatus.DEGRADED),
    ("degraded condition", _custom(conditions=[_cond("Degraded", "True", "Unreachable")]),
     HealthStatus.DEGRADED),
    ("ready false for a known failure while progressing",
     _custom(conditions=[_cond("Ready", "False", "ProgressDeadlineExceeded"),
                         _cond("Progressing", "True", "NewReplicaSetCreated")]),
     HealthStatus.DEGRADED),
    ("phase failed", _custom(phase="Failed"), HealthStatus.DEGRADED),
    ("phase error", _custom(phase="Error", message="backend unreachable"), HealthStatus.DEGRADED),
    ("phase pending", _custom(phase="Pending"), HealthStatus.PROGRESSING),
    ("phase provisioning", _custom(phase="Provisioning"), HealthStatus.PROGRESSING),
    ("phase paused", _custom(phase="Paused"), HealthStatus.SUSPENDED),
    ("phase running", _custom(phase="Running"), HealthStatus.HEALTHY),
    ("phase succeeded", _custom(phase="Succeeded"), HealthStatus.HEALTHY),
    ("phase of its own", _custom(phase="Sharded"), HealthStatus.HEALTHY),
    ("ready wins over phase", _custom(phase="Failed", conditions=READY_TRUE), HealthStatus.HEALTHY),
]


@pytest.mark.parametrize(("obj", "expected"), [g[1:] for g in GENERIC], ids=[g[0] for g in GENERIC])
def test_generic_rules(obj: dict[str, Any], expected: HealthStatus) -> None:
    """Kinds without a dedicated check are judged by observed generation and conditions."""
    result = assess(obj)
    assert result.status is expected, result.message
    _assert_explained(result)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (_custom(), "no health check"),
        (_custom(conditions=[_cond("Synced", "False", "Boom")]), "no health check"),
        (_custom(phase="Error", message="backend unreachable"), "Phase Error: backend unreachable"),
        (_custom(3, observedGeneration=2), "observe generation 3 (observed 2)"),
    ],
    ids=["empty", "unrelated", "phase", "generation"],
)
def test_generic_messages(obj: dict[str, Any], message: str) -> None:
    """The generic rule says why, and says so when it found nothing to judge."""
    assert message in assess(obj).message


# --- ignore annotations --------------------------------------------------------------


def _degraded_deployment() -> dict[str, Any]:
    return _load(TESTDATA / "deployment-degraded-deadline.yaml")


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        ("gitopsd.io/ignore-healthcheck", "true", HealthStatus.HEALTHY),
        ("argocd.argoproj.io/ignore-healthcheck", "true", HealthStatus.HEALTHY),
        ("gitopsd.io/ignore-healthcheck", "false", HealthStatus.DEGRADED),
        ("argocd.argoproj.io/ignore-healthcheck", "yes", HealthStatus.DEGRADED),
        ("example.com/ignore-healthcheck", "true", HealthStatus.DEGRADED),
    ],
)
def test_ignore_annotation(annotation: str, value: str, expected: HealthStatus) -> None:
    """Only the two ignore annotations set to "true" turn an unhealthy object Healthy."""
    obj = _degraded_deployment()
    obj["metadata"].setdefault("annotations", {})[annotation] = value
    assert assess(obj).status is expected


def test_ignore_annotation_wins_over_deletion() -> None:
    """An ignored object stays Healthy while it is being deleted."""
    obj = _degraded_deployment()
    obj["metadata"]["annotations"] = {"gitopsd.io/ignore-healthcheck": "true"}
    obj["metadata"]["deletionTimestamp"] = "2025-03-05T12:00:00Z"
    assert assess(obj).status is HealthStatus.HEALTHY


# --- deletion ------------------------------------------------------------------------


DELETING = [
    ("deployment-healthy.yaml", HealthStatus.PROGRESSING, "Pending deletion"),
    ("certificate-healthy.yaml", HealthStatus.PROGRESSING, "Pending deletion"),
    ("job-progressing.yaml", HealthStatus.PROGRESSING, "Pending deletion"),
    ("job-healthy.yaml", HealthStatus.HEALTHY, "Job completed"),
    ("job-degraded-backofflimit.yaml", HealthStatus.DEGRADED, "BackoffLimitExceeded"),
    ("pod-healthy-running.yaml", HealthStatus.PROGRESSING, "Pending deletion"),
    ("pod-healthy-succeeded.yaml", HealthStatus.HEALTHY, "Pod completed"),
    ("pod-degraded-hook-failed.yaml", HealthStatus.DEGRADED, "exit code 3"),
    ("namespace-healthy.yaml", HealthStatus.PROGRESSING, "Pending deletion"),
    ("namespace-degraded-deletion-failure.yaml", HealthStatus.DEGRADED, "cannot be deleted"),
    ("customresourcedefinition-healthy.yaml", HealthStatus.PROGRESSING, "Pending deletion"),
]


@pytest.mark.parametrize(("name", "expected", "message"), DELETING, ids=[d[0] for d in DELETING])
def test_deletion(name: str, expected: HealthStatus, message: str) -> None:
    """A deleted object is Progressing unless its own check already has the final word."""
    obj = _load(TESTDATA / name)
    obj["metadata"]["deletionTimestamp"] = "2025-03-05T12:00:00Z"
    result = assess(obj)
    assert result.status is expected
    assert message in result.message


# --- dispatch by API group -----------------------------------------------------------


@pytest.mark.parametrize(
    ("api_version", "expected"),
    [
        ("apps/v1", HealthStatus.PROGRESSING),
        ("example.com/v1", HealthStatus.HEALTHY),
    ],
)
def test_dispatch_uses_the_api_group(api_version: str, expected: HealthStatus) -> None:
    """A kind named like a built-in but in another API group gets the generic check."""
    obj = _bare(api_version, "Deployment", replicas=3)
    assert assess(obj).status is expected


def test_group_kind_strips_the_version() -> None:
    """The core API has the empty group and named groups lose their version."""
    assert group_kind({"apiVersion": "v1", "kind": "Pod"}) == ("", "Pod")
    assert group_kind({"apiVersion": "apps/v1", "kind": "Deployment"}) == ("apps", "Deployment")


# --- kind-specific edges -------------------------------------------------------------


def _pod(restart_policy: str, phase: str, waiting: str = "", ready: bool = False,
         annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    if waiting:
        status["containerStatuses"] = [
            {"name": "c", "ready": False, "restartCount": 3,
             "state": {"waiting": {"reason": waiting, "message": "back-off"}}}]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "annotations": dict(annotations or {})},
        "spec": {"restartPolicy": restart_policy, "containers": [{"name": "c", "image": "i"}]},
        "status": status,
    }


POD_EDGES = [
    ("always crashloop", _pod("Always", "Running", "CrashLoopBackOff"), HealthStatus.DEGRADED),
    ("always config error", _pod("Always", "Pending", "CreateContainerConfigError"),
     HealthStatus.DEGRADED),
    ("always errimagepull", _pod("Always", "Pending", "ErrImagePull"), HealthStatus.DEGRADED),
    ("never crashloop", _pod("Never", "Running", "CrashLoopBackOff"), HealthStatus.PROGRESSING),
    ("onfailure imagepull", _pod("OnFailure", "Pending", "ImagePullBackOff"),
     HealthStatus.PROGRESSING),
    ("onfailure running ready", _pod("OnFailure", "Running", ready=True), HealthStatus.PROGRESSING),
    ("never running ignoring restart policy",
     _pod("Never", "Running", ready=True,
          annotations={"argocd.argoproj.io/ignore-restart-policy": "true"}),
     HealthStatus.HEALTHY),
    ("argo hook ignoring restart policy",
     _pod("Never", "Running", ready=True,
          annotations={"argocd.argoproj.io/ignore-restart-policy": "true",
                       "argocd.argoproj.io/hook": "PostSync"}),
     HealthStatus.PROGRESSING),
    ("helm hook ignoring restart policy",
     _pod("Never", "Running", "CrashLoopBackOff",
          annotations={"argocd.argoproj.io/ignore-restart-policy": "true",
                       "helm.sh/hook": "post-install"}),
     HealthStatus.PROGRESSING),
    ("skipped hook ignoring restart policy",
     _pod("Never", "Running", ready=True,
          annotations={"argocd.argoproj.io/ignore-restart-policy": "true",
                       "argocd.argoproj.io/hook": "Skip"}),
     HealthStatus.HEALTHY),
    ("helm crd-install ignoring restart policy",
     _pod("Never", "Running", ready=True,
          annotations={"argocd.argoproj.io/ignore-restart-policy": "true",
                       "helm.sh/hook": "crd-install"}),
     HealthStatus.HEALTHY),
    ("always running ready", _pod("Always", "Running", ready=True), HealthStatus.HEALTHY),
    ("unknown phase", _pod("Always", "Unknown"), HealthStatus.UNKNOWN),
]


@pytest.mark.parametrize(("obj", "expected"), [e[1:] for e in POD_EDGES], ids=[e[0] for e in POD_EDGES])
def test_pod_restart_policy(obj: dict[str, Any], expected: HealthStatus) -> None:
    """Waiting errors degrade long-running Pods only; run-to-completion Pods wait for their end."""
    result = assess(obj)
    assert result.status is expected, result.message
    _assert_explained(result)


def test_hook_results_follow_job_and_pod_health() -> None:
    """Finished hooks map to Healthy (succeeded) or Degraded (failed), running ones to neither."""
    verdicts = {
        name: assess(_load(TESTDATA / name)).status
        for name in ("job-healthy.yaml", "job-degraded-backofflimit.yaml",
                     "job-progressing.yaml", "pod-healthy-succeeded.yaml",
                     "pod-degraded-hook-failed.yaml", "pod-progressing-hook-running.yaml")
    }
    assert verdicts == {
        "job-healthy.yaml": HealthStatus.HEALTHY,
        "job-degraded-backofflimit.yaml": HealthStatus.DEGRADED,
        "job-progressing.yaml": HealthStatus.PROGRESSING,
        "pod-healthy-succeeded.yaml": HealthStatus.HEALTHY,
        "pod-degraded-hook-failed.yaml": HealthStatus.DEGRADED,
        "pod-progressing-hook-running.yaml": HealthStatus.PROGRESSING,
    }


def test_job_suspended_by_spec_before_condition() -> None:
    """A Job whose spec says suspend is Suspended before the controller adds the condition."""
    obj = _load(TESTDATA / "job-progressing.yaml")
    obj["spec"]["suspend"] = True
    assert assess(obj).status is HealthStatus.SUSPENDED


def test_statefulset_partition_above_replicas() -> None:
    """A partition at or above the replica count leaves nothing to update: Healthy."""
    obj = _load(TESTDATA / "statefulset-healthy-partition.yaml")
    obj["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 9
    obj["status"]["updatedReplicas"] = 0
    assert assess(obj).status is HealthStatus.HEALTHY


@pytest.mark.parametrize(
    ("scheduled", "succeeded", "expected"),
    [
        ("2025-03-05T01:00:00", "2025-03-04T01:00:00Z", HealthStatus.DEGRADED),
        ("2025-03-05T01:00:00Z", "2025-03-05T01:03:00", HealthStatus.HEALTHY),
        ("not a time", "2025-03-05T01:03:00Z", HealthStatus.HEALTHY),
    ],
)
def test_cronjob_times_without_zone(scheduled: str, succeeded: str, expected: HealthStatus) -> None:
    """CronJob times without a zone are read as UTC and unreadable ones are skipped."""
    obj = _load(TESTDATA / "cronjob-healthy.yaml")
    obj["status"] = {"lastScheduleTime": scheduled, "lastSuccessfulTime": succeeded}
    assert assess(obj).status is expected


@pytest.mark.parametrize(
    "name",
    ["horizontalpodautoscaler-healthy.yaml",
     "horizontalpodautoscaler-degraded-failedgetresourcemetric.yaml",
     "horizontalpodautoscaler-degraded-failedgetobjectmetric.yaml",
     "horizontalpodautoscaler-degraded-failedgetscale.yaml"],
)
def test_hpa_verdict_ignores_condition_order(name: str) -> None:
    """The autoscaler's verdict does not change when its conditions are listed in reverse."""
    obj = _load(TESTDATA / name)
    reversed_obj = copy.deepcopy(obj)
    reversed_obj["status"]["conditions"].reverse()
    assert assess(reversed_obj) == assess(obj)


def test_hpa_metrics_failure_alone_is_degraded() -> None:
    """A metrics failure with no sign that the scaler can scale is Degraded."""
    obj = _load(TESTDATA / "horizontalpodautoscaler-degraded-failedgetresourcemetric.yaml")
    obj["status"]["conditions"] = [
        c for c in obj["status"]["conditions"] if c["type"] == "ScalingActive"]
    assert assess(obj).status is HealthStatus.DEGRADED


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("FailedGetResourceMetric", HealthStatus.DEGRADED),
        ("FailedGetObjectMetric", HealthStatus.DEGRADED),
        ("FailedGetPodsMetric", HealthStatus.DEGRADED),
        ("FailedGetExternalMetric", HealthStatus.DEGRADED),
        ("InvalidSelector", HealthStatus.DEGRADED),
        ("ValidMetricFound", HealthStatus.HEALTHY),
    ],
)
def test_hpa_metric_failure_wins_over_able_to_scale(reason: str, expected: HealthStatus) -> None:
    """As in Argo CD, a metric failure is Degraded even while AbleToScale is true."""
    obj = _load(TESTDATA / "horizontalpodautoscaler-degraded-failedgetresourcemetric.yaml")
    obj["status"]["conditions"][1]["reason"] = reason
    assert assess(obj).status is expected


@pytest.mark.parametrize(
    "name", ["service-healthy-loadbalancer-empty-entry.yaml", "ingress-healthy-empty-entry.yaml"])
def test_empty_load_balancer_entry_is_healthy_but_no_entry_is_not(name: str) -> None:
    """An empty ``{}`` entry counts as published, as in Argo CD; an empty list does not."""
    obj = _load(TESTDATA / name)
    assert assess(obj).status is HealthStatus.HEALTHY
    obj["status"]["loadBalancer"]["ingress"] = []
    assert assess(obj).status is HealthStatus.PROGRESSING


def test_suspended_job_message_comes_from_its_condition() -> None:
    """A suspended Job says what its Suspended condition says, and falls back without one."""
    obj = _load(TESTDATA / "job-suspended.yaml")
    obj["status"]["conditions"][0]["message"] = "Suspended by the queue controller"
    assert assess(obj) == Health(HealthStatus.SUSPENDED, "Suspended by the queue controller")
    del obj["status"]["conditions"]
    assert assess(obj) == Health(HealthStatus.SUSPENDED, "Job is suspended")


def test_crd_established_false_for_another_reason_is_degraded() -> None:
    """A CRD that is not established for a reason other than installing is Degraded."""
    obj = _load(TESTDATA / "customresourcedefinition-progressing-installing.yaml")
    obj["status"]["conditions"][1]["reason"] = "NotAccepted"
    assert assess(obj).status is HealthStatus.DEGRADED


# --- CRD families ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_version", "reason", "family"),
    [
        ("s3.aws.upbound.io/v1beta1", "ReconcileError", "crossplane_health"),
        ("example.com/v1", "ReconcileSuccess", "crossplane_health"),
        ("apiextensions.crossplane.io/v1", "Boom", "crossplane_health"),
        ("example.com/v1", "Boom", "generic_health"),
    ],
)
def test_crossplane_is_recognised_by_group_or_condition_shape(
        api_version: str, reason: str, family: str) -> None:
    """Crossplane objects are found by a crossplane.io group or the reconciler's Synced reasons."""
    obj = _custom(conditions=[_cond("Synced", "False", reason)])
    obj["apiVersion"] = api_version
    assert check_for(obj).__name__ == family


def test_crossplane_definitions_fall_back_to_the_generic_rule() -> None:
    """A crossplane.io kind without Synced or Ready is judged by the generic rule."""
    obj = _custom(conditions=[_cond("Established", "True", "WatchingCompositeResource")])
    obj["apiVersion"] = "apiextensions.crossplane.io/v1"
    obj["kind"] = "CompositeResourceDefinition"
    assert assess(obj) == Health(HealthStatus.HEALTHY, "no health check")


def test_route_names_the_parent_that_refused_it() -> None:
    """A route accepted by one parent and refused by another is Degraded, naming the second."""
    obj = _load(TESTDATA / "httproute-healthy.yaml")
    refused = copy.deepcopy(obj["status"]["parents"][0])
    refused["parentRef"]["name"] = "internal"
    refused["parentRef"].pop("sectionName")
    refused["conditions"][0].update(status="False", reason="NoMatchingListenerHostname",
                                    message="no matching hostnames")
    obj["status"]["parents"].append(refused)
    result = assess(obj)
    assert result.status is HealthStatus.DEGRADED
    assert result.message.startswith("Gateway gateway-system/internal: not Accepted")


def test_route_waits_for_every_parent() -> None:
    """A route that one parent has not yet accepted is Progressing."""
    obj = _load(TESTDATA / "httproute-healthy.yaml")
    pending = copy.deepcopy(obj["status"]["parents"][0])
    pending["parentRef"]["name"] = "internal"
    pending["conditions"] = []
    obj["status"]["parents"].append(pending)
    assert assess(obj).status is HealthStatus.PROGRESSING


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        ("helmrelease-healthy.yaml", {"spec": {"suspend": False}}, HealthStatus.HEALTHY),
        ("kustomization-degraded-ready-false.yaml",
         {"status": {"conditions": [{"type": "Reconciling", "status": "True",
                                     "reason": "ProgressingWithRetry"}]}},
         HealthStatus.PROGRESSING),
        ("scaledobject-healthy.yaml",
         {"metadata": {"annotations": {"autoscaling.keda.sh/paused": "true"}}},
         HealthStatus.SUSPENDED),
        ("scaledobject-healthy.yaml",
         {"metadata": {"annotations": {"autoscaling.keda.sh/paused": "false"}}},
         HealthStatus.HEALTHY),
        ("rollout-healthy.yaml", {"status": {"phase": "Degraded", "message": "broken"}},
         HealthStatus.DEGRADED),
        ("cluster-healthy.yaml", {"metadata": {"annotations": {"cluster.x-k8s.io/paused": "true"}}},
         HealthStatus.SUSPENDED),
        ("certificate-healthy.yaml",
         {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Expired"},
                                    {"type": "Issuing", "status": "True", "reason": "Renewing"}]}},
         HealthStatus.PROGRESSING),
        ("provider-healthy.yaml",
         {"status": {"conditions": [{"type": "Installed", "status": "False",
                                     "reason": "InactivePackageRevision"}]}},
         HealthStatus.DEGRADED),
    ],
    ids=["flux-suspend-false", "flux-retrying", "keda-paused", "keda-paused-false", "rollout-phase",
         "capi-paused-annotation", "certificate-renewing", "crossplane-package-inactive"],
)
def test_family_rules(name: str, edit: dict[str, Any], expected: HealthStatus) -> None:
    """Family checks follow their projects' documented status semantics on edited fixtures."""
    obj = _load(TESTDATA / name)
    for section, values in edit.items():
        for key, value in values.items():
            current = obj[section].get(key)
            if isinstance(value, dict) and isinstance(current, dict):
                current.update(value)
            else:
                obj[section][key] = value
    result = assess(obj)
    assert result.status is expected, result.message
    _assert_explained(result)


# --- messages and aggregation --------------------------------------------------------


def test_long_messages_are_shortened_to_one_line() -> None:
    """Controller messages with line breaks or great length become one short line."""
    text = "first line\n\tsecond line " + "x" * 1000
    shortened = one_line(text)
    assert "\n" not in shortened
    assert shortened.startswith("first line second line")
    assert len(shortened) <= 400


def test_worst_picks_the_most_severe_assessment() -> None:
    """``worst`` over assessed objects returns the most severe of them."""
    names = ["deployment-healthy.yaml", "deployment-progressing-rollout.yaml",
             "job-degraded-deadline.yaml", "cronjob-suspended.yaml"]
    results = [assess(_load(TESTDATA / name)) for name in names]
    assert health.worst(results) == results[2]
    assert health.worst([]).status is HealthStatus.HEALTHY


# --- robustness ----------------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 5), st.text(max_size=12),
    st.sampled_from(["True", "False", "Unknown", "Running", "Pending", "Bound",
                     "OnDelete", "LoadBalancer", "2025-03-05T01:00:00Z", "CrashLoopBackOff"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["type", "status", "reason", "message", "phase", "replicas",
                             "observedGeneration", "conditions", "state", "waiting",
                             "terminated", "ingress", "loadBalancer", "rollingUpdate",
                             "partition", "active", "lastScheduleTime", "name"]),
            inner, max_size=4),
    ),
    max_leaves=12,
)
_kinds = st.sampled_from([*sorted(builtin_kinds()), ("example.com", "Widget"),
                          ("pkg.crossplane.io", "Provider"), ("s3.aws.upbound.io", "Bucket")])


@settings(max_examples=300, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(kind=_kinds, spec=_values, status=_values, metadata=_values)
def test_assess_never_raises(kind: tuple[str, str], spec: Any, status: Any, metadata: Any) -> None:
    """Malformed objects of any kind get a verdict with a reason instead of an exception."""
    group, name = kind
    obj = {
        "apiVersion": f"{group}/v1" if group else "v1",
        "kind": name,
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }
    _assert_explained(assess(obj))
