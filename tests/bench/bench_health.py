"""Benchmark: health of 10,000 live objects with user Lua (and CEL) checks configured, in process.

What the engine pays per object each time it judges health (a watch event, a
wave gate read, a comparison): ``HealthChecks.assess`` with checks written
the way Argo CD users write them (a condition loop over ``status.conditions``
for an exact kind, a wildcard script for a whole API group family) and a
Flux-style CEL rule. Series of 10,000 objects each: Lua exact, Lua
wildcard, CEL, and built-in Deployments judged with those checks configured
and with nothing configured (the difference is the lookup cost for kinds
without a user check). Each series
is timed RUNS times; the median is reported in microseconds per object.
Results go to stdout and, as JSON and a Markdown table, to
$GITOPSD_BENCH_OUT (default: <tmp>/gitopsd-bench).

Run: `.venv/bin/python -m tests.bench.bench_health` or
`.venv/bin/pytest tests/bench/bench_health.py`. No cluster is needed.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gitopsd.core.health.custom import HealthChecks
from gitopsd.model import HealthStatus
from gitopsd.model.healthchecks import CelExprs, HealthCheckSpec, ScriptOrigin

OBJECTS = 10_000
RUNS = 3

CERTIFICATE_LUA = """\
local hs = {}
if obj.status ~= nil then
  if obj.status.conditions ~= nil then
    for i, condition in ipairs(obj.status.conditions) do
      if condition.type == "Ready" and condition.status == "False" then
        hs.status = "Degraded"
        hs.message = condition.message
        return hs
      end
      if condition.type == "Ready" and condition.status == "True" then
        hs.status = "Healthy"
        hs.message = condition.message
        return hs
      end
    end
  end
end
hs.status = "Progressing"
hs.message = "Waiting for certificate"
return hs
"""

CROSSPLANE_LUA = """\
local health_status = {}
if obj.status == nil or obj.status.conditions == nil then
  health_status.status = "Progressing"
  health_status.message = "Waiting for resource to be reconciled"
  return health_status
end
local ready, synced = false, false
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Synced" and condition.status == "False" then
    health_status.status = "Degraded"
    health_status.message = condition.message
    return health_status
  end
  if condition.type == "Ready" then ready = condition.status == "True" end
  if condition.type == "Synced" then synced = condition.status == "True" end
end
if ready and synced then
  health_status.status = "Healthy"
  health_status.message = "Resource is up-to-date."
  return health_status
end
health_status.status = "Progressing"
health_status.message = "Waiting for resource to become ready"
return health_status
"""

ORIGIN = ScriptOrigin("bench", 1, "health")
SPECS = (
    HealthCheckSpec("cert-manager.io", "Certificate", "lua:certificate.lua", ORIGIN, lua=CERTIFICATE_LUA),
    HealthCheckSpec("*.crossplane.io", "*", "lua:crossplane.lua", ORIGIN, lua=CROSSPLANE_LUA),
    HealthCheckSpec("example.com", "Widget", "cel", ORIGIN, cel=CelExprs(
        current="status.?conditions.orValue([]).exists(c, c.type == 'Ready' && c.status == 'True')",
        failed="status.?conditions.orValue([]).exists(c, c.type == 'Ready' && c.status == 'False')",
        in_progress="status.?observedGeneration.orValue(0) < metadata.?generation.orValue(0)")),
)


def _meta(name: str, n: int) -> dict[str, Any]:
    return {"name": name, "namespace": f"team-{n % 20}", "uid": f"00000000-0000-0000-0000-{n:012d}",
            "resourceVersion": str(100000 + n), "generation": 2,
            "labels": {"app.kubernetes.io/name": name, "gitopsd.io/fleet": "bench"},
            "annotations": {"gitopsd.io/tracking-id": f"app-{n % 50}:x/Kind:team/{name}"}}


def _conditions(n: int) -> list[dict[str, Any]]:
    ready = "False" if n % 10 == 0 else "True"
    return [{"type": "Synced", "status": "True", "reason": "ReconcileSuccess",
             "lastTransitionTime": "2026-11-30T10:00:00Z"},
            {"type": "Ready", "status": ready, "reason": "Available" if ready == "True" else "Failing",
             "message": f"object {n} is {'ready' if ready == 'True' else 'failing'}",
             "lastTransitionTime": "2026-11-30T10:00:00Z"}]


def certificate(n: int) -> dict[str, Any]:
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": _meta(f"cert-{n}", n),
            "spec": {"secretName": f"tls-{n}", "dnsNames": [f"svc-{n}.example.com"],
                     "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}},
            "status": {"conditions": _conditions(n), "notAfter": "2027-01-01T00:00:00Z"}}


def bucket(n: int) -> dict[str, Any]:
    return {"apiVersion": "s3.aws.crossplane.io/v1beta1", "kind": "Bucket", "metadata": _meta(f"b-{n}", n),
            "spec": {"forProvider": {"region": "eu-west-1", "acl": "private"},
                     "providerConfigRef": {"name": "default"}},
            "status": {"atProvider": {"arn": f"arn:aws:s3:::b-{n}"}, "conditions": _conditions(n)}}


def widget(n: int) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": _meta(f"w-{n}", n),
            "spec": {"size": n % 9 + 1},
            "status": {"observedGeneration": 2, "conditions": _conditions(n)}}


def deployment(n: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(f"d-{n}", n),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": f"d-{n}"}},
                     "template": {"metadata": {"labels": {"app": f"d-{n}"}},
                                  "spec": {"containers": [{"name": "c", "image": "x:1"}]}}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2,
                       "availableReplicas": 2,
                       "conditions": [{"type": "Available", "status": "True"},
                                      {"type": "Progressing", "status": "True",
                                       "reason": "NewReplicaSetAvailable"}]}}


SERIES: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "lua_exact": ("Lua, exact kind (cert-manager Certificate)", certificate),
    "lua_wildcard": ("Lua, wildcard *.crossplane.io/*", bucket),
    "cel": ("CEL rule (Flux healthCheckExprs)", widget),
    "builtin": ("built-in Deployment check, Lua/CEL configured", deployment),
}


def time_series(checks: HealthChecks, objects: Sequence[dict[str, Any]], runs: int) -> list[float]:
    """Seconds for RUNS passes of ``assess`` over OBJECTS."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for obj in objects:
            checks.assess(obj)
        out.append(time.perf_counter() - t0)
    return out


def measure(objects: int = OBJECTS, runs: int = RUNS) -> dict[str, Any]:
    checks = HealthChecks(SPECS, clock=time.monotonic)
    series: dict[str, Any] = {}
    for key, (label, make) in SERIES.items():
        batch = [make(n) for n in range(objects)]
        verdicts = [checks.decide(o) for o in batch[:100]]
        statuses = {v.health.status for v in verdicts}
        if key != "builtin" and (HealthStatus.UNKNOWN in statuses or statuses == {HealthStatus.PROGRESSING}):
            raise RuntimeError(f"{key}: the checks did not judge the objects: {verdicts[:2]}")
        times = time_series(checks, batch, runs)
        median = statistics.median(times)
        series[key] = {"label": label, "objects": objects, "runs_s": times,
                       "us_per_object": round(median / objects * 1e6, 2),
                       "decided_by": sorted({v.by for v in verdicts})}
    plain = [deployment(n) for n in range(objects)]
    times = time_series(HealthChecks(), plain, runs)
    series["builtin_alone"] = {"label": "built-in Deployment check, nothing configured", "objects": objects,
                               "runs_s": times,
                               "us_per_object": round(statistics.median(times) / objects * 1e6, 2),
                               "decided_by": ["built-in"]}
    return {"benchmark": "health", "objects": objects, "runs": runs, "cpus": os.cpu_count(),
            "series": series}


def write_results(result: dict[str, Any]) -> Path:
    out = Path(os.environ.get("GITOPSD_BENCH_OUT") or Path(tempfile.gettempdir()) / "gitopsd-bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "health.json").write_text(json.dumps(result, indent=2) + "\n")
    table = ["| health check | objects | µs per object (median of runs) | decided by |",
             "| --- | --- | --- | --- |"]
    for s in result["series"].values():
        table.append(f"| {s['label']} | {s['objects']} | {s['us_per_object']:.1f} | "
                     f"{', '.join(s['decided_by'])} |")
    (out / "health.md").write_text("\n".join(table) + "\n")
    return out


def test_health_of_10000_objects_with_lua_checks() -> None:
    """Every series judges its objects through the intended check and finishes."""
    result = measure()
    out = write_results(result)
    print("\n" + (out / "health.md").read_text())
    assert result["series"]["lua_exact"]["decided_by"] == ["lua:certificate.lua"]
    assert result["series"]["cel"]["decided_by"] == ["cel"]


def main() -> int:
    result = measure()
    out = write_results(result)
    print((out / "health.md").read_text(), end="")
    print(f"results: {out / 'health.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
