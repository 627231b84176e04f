"""Unit tests for core.kinds and core.manifests: kind facts, YAML scalars, parsing rules."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitopsd.core import kinds
from gitopsd.core.manifests import parse_files, parse_stream, yaml12
from gitopsd.core.manifests.yaml12 import YamlError, load_documents
from gitopsd.errors import ManifestError
from gitopsd.model import ResourceKey, SourceLocation

DATA = Path(__file__).parent / "testdata" / "manifests"
ORIGIN = SourceLocation(repo="config-repo", revision="0123456789abcdef0123456789abcdef01234567")


def fixture(name: str) -> str:
    return (DATA / name).read_text()


def plain_dir() -> dict[str, str]:
    root = DATA / "plain-dir"
    return {p.relative_to(root).as_posix(): p.read_text()
            for p in root.rglob("*") if p.is_file()}


# --- kinds -----------------------------------------------------------------

@pytest.mark.parametrize(("group", "kind", "scoped"), [
    ("", "Namespace", True),
    ("", "Node", True),
    ("", "PersistentVolume", True),
    ("storage.k8s.io", "StorageClass", True),
    ("apiextensions.k8s.io", "CustomResourceDefinition", True),
    ("rbac.authorization.k8s.io", "ClusterRole", True),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", True),
    ("apiregistration.k8s.io", "APIService", True),
    ("networking.k8s.io", "IngressClass", True),
    ("scheduling.k8s.io", "PriorityClass", True),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", True),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration", True),
    ("storage.k8s.io", "CSIDriver", True),
    ("node.k8s.io", "RuntimeClass", True),
    ("", "ConfigMap", False),
    ("", "PersistentVolumeClaim", False),
    ("rbac.authorization.k8s.io", "Role", False),
    ("apps", "Deployment", False),
    ("example.com", "Namespace", False),
    ("example.com", "ClusterWidget", False),
])
def test_is_cluster_scoped_builtin(group: str, kind: str, scoped: bool) -> None:
    """Built-in cluster-scoped kinds are recognised by group and kind together."""
    assert kinds.is_cluster_scoped(group, kind) is scoped


def test_is_cluster_scoped_extra() -> None:
    """Kinds passed as extra (from discovery or CRDs) count as cluster-scoped."""
    assert kinds.is_cluster_scoped("example.com", "ClusterWidget",
                                   extra={("example.com", "ClusterWidget")})
    assert not kinds.is_cluster_scoped("example.com", "Widget",
                                       extra={("example.com", "ClusterWidget")})


ARGO_ORDER = [
    ("", "Namespace"), ("networking.k8s.io", "NetworkPolicy"), ("", "ResourceQuota"),
    ("", "LimitRange"), ("policy", "PodSecurityPolicy"), ("policy", "PodDisruptionBudget"),
    ("", "ServiceAccount"), ("", "Secret"), ("", "SecretList"), ("", "ConfigMap"),
    ("storage.k8s.io", "StorageClass"), ("", "PersistentVolume"),
    ("", "PersistentVolumeClaim"), ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleList"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRoleBindingList"),
    ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "RoleList"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "RoleBindingList"), ("", "Service"),
    ("apps", "DaemonSet"), ("", "Pod"), ("", "ReplicationController"), ("apps", "ReplicaSet"),
    ("apps", "Deployment"), ("autoscaling", "HorizontalPodAutoscaler"),
    ("apps", "StatefulSet"), ("batch", "Job"), ("batch", "CronJob"),
    ("networking.k8s.io", "IngressClass"), ("networking.k8s.io", "Ingress"),
    ("apiregistration.k8s.io", "APIService"),
]


def test_kind_rank_follows_argo_order() -> None:
    """Ranks increase strictly along Argo CD's documented kind order."""
    ranks = [kinds.kind_rank(g, k) for g, k in ARGO_ORDER]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)


@pytest.mark.parametrize(("group", "kind"), [
    ("example.com", "Widget"),
    ("serving.knative.dev", "Service"),
    ("", "Deployment"),
])
def test_kind_rank_unknown_last(group: str, kind: str) -> None:
    """Custom resources, and built-in kind names from a foreign group, sort after every known kind."""
    rank = kinds.kind_rank(group, kind)
    assert rank == kinds.UNKNOWN_KIND_RANK
    assert all(rank > kinds.kind_rank(g, k) for g, k in ARGO_ORDER)


def test_kind_rank_legacy_groups() -> None:
    """Legacy API groups rank like their current ones."""
    assert kinds.kind_rank("extensions", "Deployment") == kinds.kind_rank("apps", "Deployment")
    assert kinds.kind_rank("extensions", "Ingress") == kinds.kind_rank("networking.k8s.io",
                                                                        "Ingress")


# --- YAML scalars ----------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("on", "on"), ("off", "off"), ("yes", "yes"), ("no", "no"), ("y", "y"), ("N", "N"),
    ("true", True), ("False", False), ("TRUE", True),
    ("2024-01-01", "2024-01-01"), ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    ("1:30", "1:30"), ("1_000", "1_000"), ("=", "="), ("<<", "<<"),
    ("0644", 0o644), ("0o17", 15), ("0x1F", 31), ("-0x10", -16), ("0b101", 5),
    ("42", 42), ("-7", -7), ("+3", 3), ("0", 0),
    ("1.5", 1.5), ("1e3", 1000.0), ("-.5", -0.5), (".inf", math.inf), ("-.Inf", -math.inf),
    ("~", None), ("null", None), ("", None),
    ("'0644'", "0644"), ('"on"', "on"), ("1.2.3", "1.2.3"),
])
@pytest.mark.parametrize("loader", ["libyaml", "python"])
def test_yaml_scalars_follow_core_schema(text: str, expected: Any, loader: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain scalars resolve by the YAML 1.2 core schema, with kubectl's leading-zero octal."""
    if loader == "python":
        monkeypatch.setattr(yaml12, "_Loader", yaml12._PyLoader)
    (doc,) = yaml12.load_documents(f"v: {text}\n")
    assert doc.value == {"v": expected}
    assert type(doc.value["v"]) is type(expected)


def test_yaml_nan() -> None:
    """.nan resolves to a float NaN."""
    (doc,) = load_documents("v: .nan\n")
    assert math.isnan(doc.value["v"])


def test_yaml_merge_keys() -> None:
    """Merge keys still merge, and explicit keys win over merged ones."""
    (doc,) = load_documents("base: &b {x: 1, y: 1}\nv:\n  <<: *b\n  y: 2\n")
    assert doc.value["v"] == {"x": 1, "y": 2}


@pytest.mark.parametrize(("text", "problem", "line"), [
    ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' (first on line 1)", 3),
    ("a: !!binary aGVsbG8=\n", "unsupported tag 'tag:yaml.org,2002:binary'", 1),
    ("a: !!timestamp 2024-01-01\n", "unsupported tag 'tag:yaml.org,2002:timestamp'", 1),
    ("a: 1\n b: [sekrit\n", "mapping values are not allowed in this context", 2),
    ('a: "x\\qsekrit"\n', "found unknown escape character", 1),
    ("a: 1\nb: \x80sekrit\n", "character U+0080 is not allowed in YAML",
     2),
    ('a: 1\nb: "sekrit\nc: 3\nd: 4\n',
     "a quoted scalar that starts here is never closed "
     "(found unexpected end of stream on line 5)", 2),
    ("a: 1\nb: [sekrit, 2\nc: 3\n",
     "did not find expected ',' or ']' (in a flow sequence that starts on line 2)", 3),
])
def test_yaml_errors(text: str, problem: str, line: int) -> None:
    """Invalid YAML raises YamlError with the line and a problem that never quotes the input."""
    with pytest.raises(YamlError) as info:
        list(load_documents(text))
    assert info.value.problem == problem
    assert info.value.line == line
    assert "sekrit" not in str(info.value)


def test_an_unterminated_quote_is_reported_at_its_line_in_a_file() -> None:
    """A quote left open is blamed on the line where it opens, not on the end of the file."""
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 'cm\ndata:\n  a: b\n  c: d\n"
    with pytest.raises(ManifestError) as info:
        parse_files({"app/cm.yaml": text}, origin=ORIGIN)
    assert str(info.value) == (
        "config-repo@0123456789ab:app/cm.yaml:4: invalid YAML: a quoted scalar that starts "
        "here is never closed (found unexpected end of stream on line 8)")


def json_values(characters: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    text = st.text(characters, max_size=12)
    return st.recursive(
        st.none() | st.booleans() | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False) | text,
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(text, children, max_size=4),
        max_leaves=20,
    )


# YAML forbids raw control characters and reads raw NEL, LS and PS as line breaks;
# JSON leaves them raw, and escapes astral characters as surrogate pairs YAML rejects.
RAW_SAFE = st.characters(blacklist_categories=["Cs", "Cc"],
                         blacklist_characters="\u2028\u2029\ufffe\uffff")
BMP = st.characters(blacklist_categories=["Cs"], max_codepoint=0xFFFF)


@given(json_values(RAW_SAFE))
def test_yaml_reads_json_unchanged(value: Any) -> None:
    """Any JSON document written as UTF-8 loads to the same value."""
    (doc,) = load_documents(json.dumps(value, ensure_ascii=False))
    assert doc.value == value


@given(json_values(BMP))
def test_yaml_reads_escaped_json_unchanged(value: Any) -> None:
    """Indented JSON with every non-ASCII character escaped loads to the same value."""
    (doc,) = load_documents(json.dumps({"root": value}, indent=2))
    assert doc.value == {"root": value}


# --- parse_stream ----------------------------------------------------------

def test_parse_stream_basic() -> None:
    """Empty documents are skipped, Lists expanded, namespaces defaulted or stripped."""
    origin = SourceLocation("config-repo", "abc", "out.yaml")
    result = parse_stream(fixture("stream-basic.yaml"), origin=origin, default_namespace="apps")
    assert [m.key for m in result] == [
        ResourceKey("", "ConfigMap", "apps", "settings"),
        ResourceKey("", "ServiceAccount", "apps", "runner"),
        ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "reader"),
        ResourceKey("", "Namespace", "", "team-a"),
        ResourceKey("apps", "Deployment", "explicit", "web"),
    ]
    assert [m.source.line for m in result] == [4, 19, 23, 30, 35]
    assert all(m.source.path == "out.yaml" and m.source.repo == "config-repo" for m in result)
    assert result[0].body["metadata"]["namespace"] == "apps"
    assert "namespace" not in result[2].body["metadata"]
    assert "namespace" not in result[3].body["metadata"]


def test_parse_stream_keeps_scalars_as_written() -> None:
    """Values that YAML 1.1 would turn into booleans or dates stay strings; 0644 stays octal."""
    result = parse_stream(fixture("stream-basic.yaml"), origin=ORIGIN)
    assert result[0].body["data"] == {"enabled": "on", "answer": "yes",
                                      "released": "2024-01-01", "mode": "0644"}
    volume = result[-1].body["spec"]["template"]["spec"]["volumes"][0]
    assert volume["configMap"]["defaultMode"] == 420


def test_parse_stream_without_default_namespace() -> None:
    """Without a default namespace, namespaced objects keep no namespace at all."""
    result = parse_stream(fixture("stream-basic.yaml"), origin=ORIGIN)
    assert result[0].key.namespace == ""
    assert "namespace" not in result[0].body["metadata"]


def test_parse_stream_helm_sources() -> None:
    """Helm's Source comments name the template inside the chart directory, for each object."""
    origin = SourceLocation("config-repo", "abc", "charts/shop")
    result = parse_stream(fixture("helm-rendered.yaml"), origin=origin, default_namespace="shop")
    assert [(m.key.kind, m.source.path, m.source.line) for m in result] == [
        ("ServiceAccount", "charts/shop/templates/serviceaccount.yaml", 0),
        ("Service", "charts/shop/charts/redis/templates/service.yaml", 0),
        ("Pod", "charts/shop/templates/tests/test-connection.yaml", 0),
    ]


def test_parse_stream_helm_source_without_origin_path() -> None:
    """Without an origin path, the template is named as Helm wrote it."""
    result = parse_stream(fixture("helm-rendered.yaml"), origin=ORIGIN)
    assert result[0].source.path == "shop/templates/serviceaccount.yaml"


def test_parse_stream_hook_generate_name() -> None:
    """A hook named by generateName is accepted and keyed by that prefix."""
    result = parse_stream(fixture("helm-rendered.yaml"), origin=ORIGIN, default_namespace="shop")
    assert result[-1].key == ResourceKey("", "Pod", "shop", "shop-test-")
    assert "name" not in result[-1].body["metadata"]


def test_parse_stream_hooks_with_same_generate_name_are_not_duplicates() -> None:
    """Two hooks sharing a generateName are distinct objects at apply time."""
    hook = ("apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n"
            "  annotations: {argocd.argoproj.io/hook: PreSync}\n")
    assert len(parse_stream(hook + "---\n" + hook, origin=ORIGIN)) == 2


def test_parse_stream_crd_scope() -> None:
    """Kinds defined with scope Cluster by a CRD in the stream lose their namespace."""
    result = parse_stream(fixture("crd-cluster-scoped.yaml"), origin=ORIGIN,
                          default_namespace="apps")
    keys = {m.key.kind: m.key for m in result}
    assert keys["ClusterWidget"] == ResourceKey("example.com", "ClusterWidget", "", "big")
    assert keys["Widget"] == ResourceKey("example.com", "Widget", "apps", "small")


def test_parse_stream_extra_cluster_scoped() -> None:
    """Kinds passed in cluster_scoped are treated as cluster-scoped."""
    text = "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g, namespace: x}\n"
    (plain,) = parse_stream(text, origin=ORIGIN)
    (scoped,) = parse_stream(text, origin=ORIGIN, cluster_scoped={("example.com", "Gadget")})
    assert plain.key.namespace == "x"
    assert scoped.key.namespace == ""


def test_parse_stream_json() -> None:
    """A JSON object is a valid stream."""
    text = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}})
    (m,) = parse_stream(text, origin=ORIGIN, default_namespace="d")
    assert m.key == ResourceKey("", "ConfigMap", "d", "j")


def test_parse_stream_empty() -> None:
    """A stream of only empty documents and comments yields nothing."""
    assert parse_stream("---\n# nothing\n---\n", origin=ORIGIN) == ()


ERROR_FIXTURES = sorted(p.name for p in (DATA / "errors").glob("*.yaml"))


@pytest.mark.parametrize("name", ERROR_FIXTURES)
def test_parse_stream_errors(name: str) -> None:
    """Each error fixture raises ManifestError containing every line its '# expect:' comments list."""
    text = fixture(f"errors/{name}")
    expected = re.findall(r"^# expect: (.+)$", text, flags=re.MULTILINE)
    assert expected
    origin = SourceLocation(ORIGIN.repo, ORIGIN.revision, f"errors/{name}")
    with pytest.raises(ManifestError) as info:
        parse_stream(text, origin=origin, default_namespace="apps")
    message = str(info.value)
    for line in expected:
        assert line in message
    for secret in ("hunter2", "s3cr3t"):
        assert secret not in message


# --- parse_files -----------------------------------------------------------

def test_parse_files_plain_directory() -> None:
    """Only manifest files are read, in path order, skipping non-objects and Kustomize config."""
    result = parse_files(plain_dir(), origin=ORIGIN, default_namespace="apps")
    assert [(m.source.path, m.source.line, m.key) for m in result] == [
        ("a-config.yml", 1, ResourceKey("", "ConfigMap", "apps", "api-config")),
        ("b-deploy.yaml", 1, ResourceKey("apps", "Deployment", "apps", "api")),
        ("b-deploy.yaml", 8, ResourceKey("", "Service", "apps", "api")),
        ("sub/ns.json", 1, ResourceKey("", "Namespace", "", "api")),
    ]
    assert result[0].body["data"] == {"flag": "off"}
    assert all(m.source.repo == "config-repo" for m in result)


@pytest.mark.parametrize(("files", "expected"), [
    ({"x.yaml": "kind: ConfigMap\nmetadata: {name: a}\n"},
     "config-repo@0123456789ab:x.yaml:1: ConfigMap/a: apiVersion is missing"),
    ({"bad.json": '{\n  "apiVersion": "v1",\n  "kind": \n}'},
     "config-repo@0123456789ab:bad.json:4: invalid JSON: Expecting value"),
    ({"dup.json": '{"kind": "A", "kind": "B"}'},
     "config-repo@0123456789ab:dup.json: invalid JSON: duplicate key 'kind'"),
    ({"a.yaml": "a: [\n", "b.yaml": "apiVersion: v1\nkind: X\n"},
     "2 problems in manifests:\n  config-repo@0123456789ab:a.yaml:2: invalid YAML"),
])
def test_parse_files_errors(files: dict[str, str], expected: str) -> None:
    """Errors in plain directories name the file and line; all files are checked in one pass."""
    with pytest.raises(ManifestError) as info:
        parse_files(files, origin=ORIGIN)
    assert expected in str(info.value)


def test_parse_files_duplicates_across_files() -> None:
    """The same object in two files is an error naming both."""
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
    with pytest.raises(ManifestError, match=r"two\.yaml:1: ConfigMap x/a is defined twice: "
                                            r"here and at config-repo@0123456789ab:one\.yaml:1"):
        parse_files({"two.yaml": text, "one.yaml": text}, origin=ORIGIN, default_namespace="x")
