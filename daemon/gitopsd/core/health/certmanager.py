"""Health of cert-manager's Certificate, CertificateRequest, Issuer and ClusterIssuer.

cert-manager summarises each of them in a ``Ready`` condition. A Certificate
with a true ``Issuing`` condition is being (re)issued: Progressing, whatever
Ready says meanwhile. A CertificateRequest that was denied by an approver or
is invalid (``Denied`` or ``InvalidRequest`` true, or Ready False with reason
Failed or Denied) is Degraded, since it will never be retried; Ready False
with reason Pending is Progressing. An Issuer that is not Ready is Degraded
(its reason says why: a missing secret, an unreachable ACME server). The
kstatus conditions (Stalled, Reconciling), which cert-manager does not write
but policy engines and wrappers sometimes add, are honoured first. This
module reads one object and must not look at Secrets, Orders or Challenges.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import conditions
from gitopsd.model.health import Health, HealthStatus


def certificate_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Certificate from its Ready and Issuing conditions."""
    found = conditions.by_type(obj)
    ready = found.get("Ready")
    settled = conditions.kstatus(found)
    if settled is not None:
        return settled
    if ready is not None and conditions.stale(obj, ready):
        return conditions.judge(obj, ready, waiting="")
    issuing = conditions.true(found, "Issuing")
    if issuing is not None:
        return Health(HealthStatus.PROGRESSING,
                      f"Issuing certificate: {issuing.explain() or 'no reason given'}")
    return conditions.judge(obj, ready, waiting="Waiting for cert-manager to check the certificate")


def certificaterequest_health(obj: Mapping[str, Any]) -> Health:
    """Health of a CertificateRequest from its Denied, InvalidRequest and Ready conditions."""
    found = conditions.by_type(obj)
    settled = conditions.kstatus(found)
    if settled is not None:
        return settled
    for final in ("Denied", "InvalidRequest"):
        cond = conditions.true(found, final)
        if cond is not None:
            return Health(HealthStatus.DEGRADED,
                          f"Request {final}: {cond.explain() or 'no reason given'}")
    ready = found.get("Ready")
    if ready is not None and ready.is_false and ready.reason == "Pending":
        return Health(HealthStatus.PROGRESSING,
                      f"Request is pending: {ready.explain()}")
    return conditions.judge(obj, ready, waiting="Waiting for an issuer to pick up the request")


def issuer_health(obj: Mapping[str, Any]) -> Health:
    """Health of an Issuer or ClusterIssuer from its Ready condition."""
    found = conditions.by_type(obj)
    return conditions.kstatus(found) or conditions.judge(
        obj, found.get("Ready"), waiting="Waiting for cert-manager to check the issuer")
