"""Argo CD directory sources: glob matching, file selection, Jsonnet output shapes, configuration."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from gitopsd.config import applications_from_argocd, load_fleet, parse_fleet
from gitopsd.core.buildenv import build_env, envsubst, substituted
from gitopsd.core.directory import select_files
from gitopsd.core.manifests import parse_files
from gitopsd.core.manifests.jsonnet import jsonnet_objects
from gitopsd.errors import ConfigError, ManifestError
from gitopsd.model import DirectoryParams, JsonnetParams, JsonnetVar, SourceLocation
from gitopsd.model.globs import GlobError, compile_glob, glob_match
from tests.unit.test_config import ARGO, BASE

CM: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("*.yaml", "a.yaml", True),
    ("*.yaml", "sub/deeper/a.yaml", True),  # no separators: '*' crosses '/'
    ("**.yaml", "sub/a.yaml", True),
    ("*.yaml", "a.yml", False),
    ("{config.json,env-usw2/*}", "config.json", True),
    ("{config.json,env-usw2/*}", "env-usw2/deploy.yaml", True),
    ("{config.json,env-usw2/*}", "env-use1/deploy.yaml", False),
    ("{a,{b,c}}.yaml", "c.yaml", True),
    ("file?.yml", "file1.yml", True),
    ("file?.yml", "file10.yml", False),
    ("[a-c]*.json", "b.json", True),
    ("[!a-c]*.json", "b.json", False),
    ("[!a-c]*.json", "x.json", True),
    (r"a\*b.yaml", "a*b.yaml", True),
    (r"a\*b.yaml", "axb.yaml", False),
    ("a.yaml", "xa.yaml", False),  # the whole path must match
    ("a,b.yaml", "a,b.yaml", True),  # ',' is literal outside braces
    ("(x|y).yaml", "(x|y).yaml", True),  # regex characters are literal
])
def test_glob_follows_argo_cd_semantics(pattern: str, text: str, matches: bool) -> None:
    """Argo CD's glob syntax matches whole paths with '*' crossing directories."""
    assert glob_match(pattern, text) is matches


@pytest.mark.parametrize(("pattern", "problem"), [
    ("{a,b", "'{' is never closed"),
    ("[ab", "'[' is never closed"),
    ("x\\", "ends with an unescaped"),
    ("[z-a]", "reversed"),
])
def test_invalid_globs_are_errors(pattern: str, problem: str) -> None:
    """A pattern that cannot compile raises GlobError saying why."""
    with pytest.raises(GlobError, match=re.escape(problem)):
        compile_glob(pattern)


def _files(*names: str, text: bytes = b"kind: ConfigMap\n") -> dict[str, bytes]:
    return {name: text for name in names}


def test_only_the_top_directory_is_read_by_default() -> None:
    """Without recurse, subdirectories are left out and each one is named in a warning."""
    files = _files("app/a.yaml", "app/b.json", "app/c.jsonnet", "app/lib.libsonnet",
                   "app/sub/d.yaml", "app/sub/e.yaml", "app/other/f.yml", "app/docs/readme.md")
    chosen = select_files(files, "app/", DirectoryParams(), "env@abc:app")
    assert chosen.manifests == ("app/a.yaml", "app/b.json")
    assert chosen.jsonnet == ("app/c.jsonnet",)
    assert chosen.warnings == (
        "env@abc:app: app/other/ holds 1 manifest file that is not read: subdirectories are "
        "read only with directory.recurse: true",
        "env@abc:app: app/sub/ holds 2 manifest files that are not read: subdirectories are "
        "read only with directory.recurse: true")


def test_a_source_path_naming_one_file_reads_that_file() -> None:
    """A source path that is a file (read_tree returns just it) reads that file."""
    chosen = select_files(_files("apps/one/cm.yaml"), "apps/one/cm.yaml/", DirectoryParams())
    assert chosen.manifests == ("apps/one/cm.yaml",)


def test_recurse_reads_subdirectories_but_not_hidden_ones() -> None:
    """With recurse, every manifest file below is read, hidden files and directories aside."""
    files = _files("a.yaml", "sub/d.yaml", "sub/deeper/e.json", ".github/ci.yaml", "sub/.x.yaml")
    chosen = select_files(files, "", DirectoryParams(recurse=True))
    assert chosen.manifests == ("a.yaml", "sub/d.yaml", "sub/deeper/e.json")
    assert chosen.warnings == ()


def test_include_and_exclude_match_paths_relative_to_the_source() -> None:
    """Exclude wins over include; both see the path below the source path."""
    files = _files("app/a.yaml", "app/b.yaml", "app/prod/c.yaml", "app/dev/d.yaml", "app/x.json")
    params = DirectoryParams(recurse=True, include="{*.yaml,prod/*}", exclude="b.yaml")
    assert select_files(files, "app/", params).manifests == (
        "app/a.yaml", "app/dev/d.yaml", "app/prod/c.yaml")
    params = DirectoryParams(recurse=True, include="prod/*")
    assert select_files(files, "app/", params).manifests == ("app/prod/c.yaml",)


def test_skip_marker_and_invalid_patterns_leave_files_out() -> None:
    """Argo CD's skip-rendering marker skips a file; a pattern that does not compile matches nothing."""
    files = {"a.yaml": b"# +argocd:skip-file-rendering\nkind: X\n", "b.yaml": b"kind: X\n"}
    assert select_files(files, "", DirectoryParams()).manifests == ("b.yaml",)
    assert select_files(files, "", DirectoryParams(include="{b")).manifests == ()


def test_manifest_looking_files_that_are_not_read_are_warnings() -> None:
    """Templated YAML, JSON5 and the like are named in warnings; READMEs and scripts are not."""
    files = _files("deploy.yaml.j2", "svc.yml.tmpl", "values.json5", "config.cue",
                   "README.md", "run.sh", "values.yaml.bak", "chart.tgz")
    chosen = select_files(files, "", DirectoryParams())
    assert chosen.manifests == ()
    assert [w.split(" ", 1)[0] for w in chosen.warnings] == [
        "config.cue", "deploy.yaml.j2", "svc.yml.tmpl", "values.json5"]
    assert "gitopsd reads .yaml, .yml, .json and .jsonnet files" in chosen.warnings[0]


@pytest.mark.parametrize(("value", "objects", "problem"), [
    ([CM, None, {**CM, "metadata": {"name": "b"}}], 2, ""),
    (CM, 1, ""),
    (None, 0, ""),
    ([], 0, ""),
    ({"a": CM, "b": CM}, 0, "object of objects (keyed by a, b); return an array"),
    ({"data": 1}, 0, "object without 'kind'"),
    ([CM, "x"], 1, "element 1 of the output array is a string"),
    ([[CM]], 0, "element 0 of the output array is an array"),
    ("text", 0, "the output is a string"),
    (3, 0, "the output is a number"),
])
def test_jsonnet_output_shapes(value: Any, objects: int, problem: str) -> None:
    """Arrays give their elements, an object with kind gives itself, other shapes are problems."""
    found, problems = jsonnet_objects(value)
    assert len(found) == objects
    assert (problem in problems[0]) if problem else problems == []


def test_jsonnet_output_is_parsed_with_its_file_named() -> None:
    """Evaluated Jsonnet text becomes manifests, and its problems name the file."""
    origin = SourceLocation("env", "a" * 40)
    output = json.dumps([{"apiVersion": "v1", "kind": "List", "items": [CM]}])
    manifests = parse_files({"app/main.jsonnet": output}, origin=origin, default_namespace="ns")
    assert [(m.key.kind, m.key.name, m.source.path) for m in manifests] == [
        ("ConfigMap", "a", "app/main.jsonnet")]
    with pytest.raises(ManifestError, match=r"env@aaaaaaaaaaaa:app/bad.jsonnet: the output is an "
                                            r"object without 'kind'"):
        parse_files({"app/bad.jsonnet": '{"spec": {}}'}, origin=origin)


FLEET_DIRECTORY = BASE + """\
applications:
  - name: web
    source:
      repo: env
      path: apps/web
      directory:
        recurse: true
        include: "{*.yaml,*.jsonnet}"
        exclude: "test-*"
        jsonnet:
          tlas: [{name: env, value: prod}, {name: replicas, value: "3", code: true}]
          extVars: [{name: region, value: eu}]
          libs: [vendor, lib/k8s]
    destination: {clusters: {names: [staging]}, namespace: web}
"""


def test_fleet_file_reads_directory_options() -> None:
    """source.directory takes Argo CD's recurse, include, exclude and jsonnet fields."""
    fleet = parse_fleet(FLEET_DIRECTORY, "fleet.yaml", check_files=False)
    directory = fleet.application("web").source.directory
    assert directory == DirectoryParams(
        recurse=True, include="{*.yaml,*.jsonnet}", exclude="test-*",
        jsonnet=JsonnetParams(tlas=(JsonnetVar("env", "prod"), JsonnetVar("replicas", "3", True)),
                              ext_vars=(JsonnetVar("region", "eu"),), libs=("vendor", "lib/k8s")))
    assert fleet.instances[0].source.directory == directory
    plain = parse_fleet(FLEET_DIRECTORY.replace("        recurse: true\n", ""), "fleet.yaml",
                        check_files=False)
    assert plain.application("web").source.directory.recurse is False


def test_fleet_file_directory_errors_name_line_and_field() -> None:
    """A bad glob, a repeated variable and a wrong type are each reported at their line."""
    text = (FLEET_DIRECTORY.replace('"{*.yaml,*.jsonnet}"', '"{*.yaml"')
            .replace("{name: replicas,", "{name: env,").replace("recurse: true", "recurse: yes please"))
    with pytest.raises(ConfigError) as info:
        parse_fleet(text, "fleet.yaml", check_files=False)
    got = [(i.line, i.field, i.message) for i in info.value.issues]
    assert [(line, field) for line, field, _ in got] == [
        (14, "applications[0].source.directory.recurse"),
        (15, "applications[0].source.directory.include"),
        (18, "applications[0].source.directory.jsonnet.tlas[1].name")]
    assert "'{' is never closed" in got[1][2]
    assert "'env' is already set by applications[0].source.directory.jsonnet.tlas[0]" in got[2][2]


ARGO_DIRECTORY = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: jsonnet-app
spec:
  source:
    repoURL: git@git.example.com:org/gitops-env.git
    path: apps/jsonnet
    directory:
      recurse: true
      exclude: '{vendor/*,*.libsonnet}'
      jsonnet:
        tlas: [{name: tier, value: gold}]
        extVars: [{name: debug, value: "false", code: true}]
        libs: [vendor]
  destination: {name: prod-eu, namespace: jsonnet}
"""


def test_argocd_application_directory_is_honoured() -> None:
    """An Application's spec.source.directory becomes the application's directory options."""
    fleet = load_fleet(ARGO / "fleet.yaml")
    (app,) = applications_from_argocd({"app.yaml": ARGO_DIRECTORY}, fleet, "")
    assert app.source.directory == DirectoryParams(
        recurse=True, exclude="{vendor/*,*.libsonnet}",
        jsonnet=JsonnetParams(tlas=(JsonnetVar("tier", "gold"),),
                              ext_vars=(JsonnetVar("debug", "false", True),), libs=("vendor",)))
    with pytest.raises(ConfigError) as info:
        applications_from_argocd({"app.yaml": ARGO_DIRECTORY.replace("recurse: true",
                                                                     "recurse: 1")}, fleet, "")
    assert [(i.line, i.field) for i in info.value.issues] == [
        (10, "spec.source.directory.recurse")]


def test_build_environment_is_substituted_in_jsonnet_values() -> None:
    """$NAME and ${NAME} take Argo CD's build variables, $$ is a '$', an unknown name is empty."""
    env = build_env(app="web", namespace="prod", revision="0123456789abcdef", repo_url="u",
                    path="apps/web", target_revision="main")
    assert envsubst("$ARGOCD_APP_NAME-${ARGOCD_APP_REVISION_SHORT_8}", env) == "web-01234567"
    assert envsubst("$$ARGOCD_APP_NAME $UNKNOWN${ARGOCD_APP_NAMESPACE} 5$", env) == \
        "$ARGOCD_APP_NAME prod 5$"
    params = JsonnetParams(tlas=(JsonnetVar("rev", "$ARGOCD_APP_REVISION_SHORT"),),
                           ext_vars=(JsonnetVar("path", "'${ARGOCD_APP_SOURCE_PATH}'", True),),
                           libs=("$ARGOCD_APP_NAME",))
    assert substituted(params, env) == JsonnetParams(
        tlas=(JsonnetVar("rev", "0123456"),),
        ext_vars=(JsonnetVar("path", "'apps/web'", True),), libs=("$ARGOCD_APP_NAME",))
