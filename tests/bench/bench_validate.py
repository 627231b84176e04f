"""Benchmark: `gitopsd validate` over 1,000 manifest files, offline (target: under 10 s).

The generated repository has the GitOps-guide layout (clusters/<env>/apps/<app>/)
with Deployments, Services, ConfigMaps, HorizontalPodAutoscalers, a CRD and its
custom resources, one object per file. Each run is a fresh `python -m gitopsd
validate` process, as a pre-commit hook or a CI job starts it, so interpreter
start-up and schema loading are included. Results go to stdout and, as JSON and
a Markdown table, to $GITOPSD_BENCH_OUT (default: <tmp>/gitopsd-bench).

Run: `.venv/bin/python -m tests.bench.bench_validate` or
`.venv/bin/pytest tests/bench/bench_validate.py`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FILES = 1000
RUNS = 3
TARGET_SECONDS = 10.0

CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {type: integer, minimum: 1}
                color: {type: string, enum: [red, green, blue]}
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels: {{app.kubernetes.io/name: {name}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app.kubernetes.io/name: {name}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: {name}}}
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/{name}:1.{n}.0
          ports: [{{name: http, containerPort: 8080}}]
          env:
            - {{name: MODE, value: production}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 256Mi}}
          readinessProbe:
            httpGet: {{path: /healthz, port: http}}
"""

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
spec:
  selector: {{app.kubernetes.io/name: {name}}}
  ports:
    - {{name: http, port: 80, targetPort: http}}
"""

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: {ns}
data:
  LOG_LEVEL: info
  SETTING_{n}: "value-{n}"
"""

HPA = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
  namespace: {ns}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
"""

WIDGET = """apiVersion: example.com/v1
kind: Widget
metadata:
  name: {name}
  namespace: {ns}
spec:
  size: {size}
  color: green
"""

TEMPLATES = (("deployment.yaml", DEPLOYMENT), ("service.yaml", SERVICE), ("configmap.yaml", CONFIGMAP),
             ("hpa.yaml", HPA), ("widget.yaml", WIDGET))


def generate(root: Path, files: int = FILES) -> int:
    """Write FILES manifest files (one CRD, the rest spread over apps and kinds); the count."""
    (root / "base" / "crds").mkdir(parents=True)
    (root / "base" / "crds" / "widgets.yaml").write_text(CRD)
    written = 1
    n = 0
    while written < files:
        env = "prod" if n % 2 == 0 else "staging"
        app = f"app-{n // len(TEMPLATES):03d}"
        directory = root / "clusters" / env / "apps" / app
        directory.mkdir(parents=True, exist_ok=True)
        filename, template = TEMPLATES[n % len(TEMPLATES)]
        (directory / filename).write_text(template.format(name=app, ns=app, n=n, size=1 + n % 9))
        written += 1
        n += 1
    return written


def run_once(root: Path, *paths: Path) -> tuple[float, dict[str, Any]]:
    """One cold `gitopsd validate` process over ROOT (or only PATHS); (seconds, JSON report)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gitopsd", "validate", "--root", str(root),
                           "--format", "json", *map(str, paths)],
                          capture_output=True, text=True, timeout=300, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"validate exited {proc.returncode}: {proc.stderr or proc.stdout[:2000]}")
    return elapsed, json.loads(proc.stdout)


def measure(files: int = FILES, runs: int = RUNS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gitopsd-bench-validate-") as tmp:
        root = Path(tmp) / "repo"
        count = generate(root, files)
        times = []
        report: dict[str, Any] = {}
        for _ in range(runs):
            elapsed, report = run_once(root)
            times.append(elapsed)
        staged = sorted((root / "clusters" / "prod" / "apps").rglob("*.yaml"))[:10]
        hook_s, _ = run_once(root, *staged)
    summary = report["summary"]
    if summary["files"] != count:
        raise RuntimeError(f"validate read {summary['files']} files, expected {count}")
    return {"benchmark": "validate", "files": count, "objects": summary["objects"], "runs": times,
            "best_s": min(times), "median_s": statistics.median(times), "target_s": TARGET_SECONDS,
            "met": max(times) < TARGET_SECONDS, "cpus": os.cpu_count(),
            "ten_named_files_s": hook_s}


def write_results(result: dict[str, Any]) -> Path:
    out = Path(os.environ.get("GITOPSD_BENCH_OUT") or Path(tempfile.gettempdir()) / "gitopsd-bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "validate.json").write_text(json.dumps(result, indent=2) + "\n")
    table = [
        "| benchmark | files | objects | best | median | worst | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| gitopsd validate (cold process) | {result['files']} | {result['objects']} | "
        f"{result['best_s']:.2f} s | {result['median_s']:.2f} s | {max(result['runs']):.2f} s | "
        f"< {result['target_s']:.0f} s | {'yes' if result['met'] else 'no'} |",
        f"| gitopsd validate FILE x10 (pre-commit) | 10 | 10 | {result['ten_named_files_s']:.2f} s | | | | |",
    ]
    (out / "validate.md").write_text("\n".join(table) + "\n")
    return out


def test_validate_1000_files_under_10_seconds() -> None:
    """Every cold run over 1,000 manifest files finishes in under 10 s, all files checked."""
    result = measure()
    out = write_results(result)
    print(f"\nvalidate: {result['files']} files, {result['objects']} objects, runs "
          f"{', '.join(f'{t:.2f}s' for t in result['runs'])}; results in {out}")
    assert result["met"], result


def main() -> int:
    result = measure()
    out = write_results(result)
    print((out / "validate.md").read_text(), end="")
    print(f"results: {out / 'validate.json'}")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
