"""Unit tests for core.diff: pointers, field sets, normalisation, object diff, drift, masking."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from gitopsd.core.diff import (
    MASK,
    DiffState,
    diff_objects,
    drifted,
    masked,
    normalize,
    render,
    rules_for,
)
from gitopsd.core.diff.fieldsv1 import remove_fields
from gitopsd.core.diff.pointer import PointerError, parse_pointer, remove_pointer
from gitopsd.model import IgnoreDifference, ResourceKey

DATA = Path(__file__).parent / "testdata" / "diff"
CASES = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) if path.exists() else None


def ignore_rules(raw: list[dict[str, Any]]) -> tuple[IgnoreDifference, ...]:
    return tuple(IgnoreDifference(
        group=r.get("group", ""), kind=r.get("kind", ""), name=r.get("name", ""),
        namespace=r.get("namespace", ""), json_pointers=tuple(r.get("jsonPointers", ())),
        managed_fields_managers=tuple(r.get("managedFieldsManagers", ())),
    ) for r in raw)


# --- fixture cases ---------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_diff_fixture(name: str) -> None:
    """Each testdata/diff case yields its state, its golden diff text and no secret value."""
    case_dir = DATA / name
    case = load(case_dir / "case.yaml")
    desired, live = load(case_dir / "desired.yaml"), load(case_dir / "live.yaml")
    before = copy.deepcopy((desired, live))
    result = diff_objects(desired, live, ignore=ignore_rules(case.get("ignore", [])))
    assert result.state is DiffState(case["state"])
    assert result.key == ResourceKey.of(desired or live)
    golden = case_dir / "expected.diff"
    assert result.text == (golden.read_text() if golden.exists() else "")
    for secret in case.get("secrets", []):
        assert secret not in result.text
    assert (desired, live) == before


def test_in_sync_diff_has_no_text() -> None:
    """An in-sync object reports no diff text and in_sync is true."""
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    result = diff_objects(obj, obj)
    assert result.in_sync
    assert result.text == ""


def test_diff_needs_an_object() -> None:
    """Comparing nothing with nothing is a caller error."""
    with pytest.raises(ValueError, match="desired or a live"):
        diff_objects(None, None)


def test_diff_bad_pointer() -> None:
    """A malformed JSON pointer in an ignore rule is reported as ValueError."""
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    with pytest.raises(ValueError, match="must start with '/'"):
        diff_objects(obj, obj, ignore=(IgnoreDifference(kind="ConfigMap",
                                                        json_pointers=("data",)),))


def test_secret_masks_distinguish_values() -> None:
    """Equal Secret values share a mask, different values get different masks, per value name."""
    def secret(**data: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}

    result = diff_objects(secret(a="one", b="two"), secret(a="uno", b="two"))
    assert f"-  a: {MASK}\n" in result.text
    assert f"+  a: {MASK}+\n" in result.text
    assert f"   b: {MASK}\n" in result.text


@given(st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True),
                       st.from_regex(r"[A-Za-z0-9]{16,24}", fullmatch=True), max_size=5),
       st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True),
                       st.from_regex(r"[A-Za-z0-9]{16,24}", fullmatch=True), max_size=5))
def test_secret_values_never_in_diff(live_data: dict[str, str], desired_data: dict[str, str]) -> None:
    """Whatever the values, neither they nor their base64 appear in a Secret's diff."""
    def secret(values: dict[str, str], field: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, field: values}

    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in live_data.items()}
    result = diff_objects(secret(desired_data, "stringData"), secret(encoded, "data"))
    for value in [*live_data.values(), *desired_data.values(), *encoded.values()]:
        assert value not in result.text


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_tree = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=15,
)
k8s_objects = st.fixed_dictionaries({
    "apiVersion": st.sampled_from(["v1", "apps/v1", "example.com/v1"]),
    "kind": st.sampled_from(["ConfigMap", "Deployment", "Secret", "Widget"]),
    "metadata": st.fixed_dictionaries(
        {"name": st.from_regex(r"[a-z]{1,8}", fullmatch=True)},
        optional={"labels": st.dictionaries(st.text(max_size=5), st.text(max_size=5),
                                            max_size=2),
                  "resourceVersion": st.text(max_size=4)}),
}, optional={"spec": json_tree, "status": json_tree,
             "data": st.dictionaries(st.text(max_size=5), st.text(max_size=8), max_size=3)})


@given(k8s_objects)
def test_object_in_sync_with_itself(obj: dict[str, Any]) -> None:
    """Any object compared with itself is in sync, and drifted says no drift."""
    assert diff_objects(obj, obj).state is DiffState.IN_SYNC
    assert not drifted(obj, obj)


@given(k8s_objects)
def test_normalize_idempotent(obj: dict[str, Any]) -> None:
    """Normalising twice gives what normalising once gives, and the input is untouched."""
    before = copy.deepcopy(obj)
    once = normalize(obj)
    assert normalize(once) == once
    assert obj == before


def test_render_stable() -> None:
    """Rendering sorts keys, so key order in the input does not matter."""
    assert render({"b": 1, "a": {"d": 2, "c": 3}}) == render({"a": {"c": 3, "d": 2}, "b": 1})
    assert render({}) == ""


# --- normalisation ---------------------------------------------------------

def test_normalize_strips_server_fields() -> None:
    """Status, server metadata and last-applied-configuration are dropped; user fields stay."""
    obj = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "uid": "u", "resourceVersion": "1", "generation": 2,
                     "creationTimestamp": "t", "managedFields": [], "selfLink": "/x",
                     "deletionTimestamp": "t", "deletionGracePeriodSeconds": 30,
                     "labels": {"x": "y"},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "status": {"phase": "Active"},
        "data": {"k": "v"},
    }
    assert normalize(obj) == {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "a", "labels": {"x": "y"}},
                              "data": {"k": "v"}}


def test_normalize_folds_string_data() -> None:
    """stringData is folded into data as base64, and wins over data for the same key."""
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
           "data": {"a": "b2xk", "b": "Yg=="}, "stringData": {"a": "new"}}
    assert normalize(obj)["data"] == {"a": "bmV3", "b": "Yg=="}
    assert "stringData" not in normalize(obj)


def test_normalize_leaves_other_string_data() -> None:
    """Only core Secrets fold stringData; other kinds keep it as written."""
    obj = {"apiVersion": "example.com/v1", "kind": "Secret", "metadata": {"name": "s"},
           "stringData": {"a": "x"}}
    assert normalize(obj)["stringData"] == {"a": "x"}


@pytest.mark.parametrize(("rule", "applies"), [
    (IgnoreDifference(group="apps", kind="Deployment"), True),
    (IgnoreDifference(group="apps", kind="Deployment", name="web", namespace="shop"), True),
    (IgnoreDifference(group="*", kind="*"), True),
    (IgnoreDifference(group="apps"), True),
    (IgnoreDifference(group="", kind="Deployment"), False),
    (IgnoreDifference(group="apps", kind="StatefulSet"), False),
    (IgnoreDifference(group="apps", kind="Deployment", name="api"), False),
    (IgnoreDifference(group="apps", kind="Deployment", namespace="other"), False),
])
def test_rules_for(rule: IgnoreDifference, applies: bool) -> None:
    """Ignore rules match on exact group and on kind, name and namespace unless empty or '*'."""
    key = ResourceKey("apps", "Deployment", "shop", "web")
    assert rules_for(key, [rule]) == ((rule,) if applies else ())


def test_masked() -> None:
    """masked() hides every Secret value and last-applied copy, and leaves its input alone."""
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "s", "annotations": {
                  "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"a":"c2VjcmV0"}}',
                  "note": "kept"}},
              "data": {"a": "c2VjcmV0", "b": "b3RoZXI="}, "stringData": {"c": "plain"}}
    before = copy.deepcopy(secret)
    result = masked(secret)
    assert result["data"] == {"a": MASK, "b": MASK}
    assert result["stringData"] == {"c": MASK}
    assert result["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": MASK, "note": "kept"}
    assert secret == before


def test_masked_other_kinds_unchanged() -> None:
    """masked() returns an equal copy of objects that are not Secrets."""
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}
    result = masked(cm)
    assert result == cm
    assert result is not cm


# --- JSON pointers ---------------------------------------------------------

@pytest.mark.parametrize(("pointer", "tokens"), [
    ("", ()),
    ("/", ("",)),
    ("/spec/replicas", ("spec", "replicas")),
    ("/metadata/annotations/example.com~1note", ("metadata", "annotations", "example.com/note")),
    ("/a~0b", ("a~b",)),
    ("/a~01", ("a~1",)),
    ("/spec/containers/0/image", ("spec", "containers", "0", "image")),
])
def test_parse_pointer(pointer: str, tokens: tuple[str, ...]) -> None:
    """Pointers split into tokens with ~1 and ~0 unescaped in that order."""
    assert parse_pointer(pointer) == tokens


@pytest.mark.parametrize("pointer", ["spec", "/a~2", "/a~"])
def test_parse_pointer_invalid(pointer: str) -> None:
    """Pointers without a leading slash or with bad escapes are rejected."""
    with pytest.raises(PointerError):
        parse_pointer(pointer)


@given(st.lists(st.text(max_size=6), max_size=5))
def test_pointer_round_trip(tokens: list[str]) -> None:
    """Escaping tokens into a pointer and parsing it gives the tokens back."""
    pointer = "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)
    assert parse_pointer(pointer) == tuple(tokens)


@pytest.mark.parametrize(("pointer", "expected"), [
    ("/spec/replicas", {"spec": {"list": [1, {"x": 2}]}}),
    ("/spec/list/1/x", {"spec": {"replicas": 3, "list": [1, {}]}}),
    ("/spec/list/0", {"spec": {"replicas": 3, "list": [{"x": 2}]}}),
    ("/spec/list/01", {"spec": {"replicas": 3, "list": [1, {"x": 2}]}}),
    ("/spec/list/9", {"spec": {"replicas": 3, "list": [1, {"x": 2}]}}),
    ("/spec/absent/deeper", {"spec": {"replicas": 3, "list": [1, {"x": 2}]}}),
    ("/spec/replicas/deeper", {"spec": {"replicas": 3, "list": [1, {"x": 2}]}}),
])
def test_remove_pointer(pointer: str, expected: dict[str, Any]) -> None:
    """Removing a pointer drops exactly what it names and ignores what is not there."""
    doc = {"spec": {"replicas": 3, "list": [1, {"x": 2}]}}
    assert remove_pointer(doc, parse_pointer(pointer)) == expected


# --- field sets ------------------------------------------------------------

FIELDS_CASES = [
    ("leaf", {"f:spec": {"f:replicas": {}}},
     {"spec": {"replicas": 3, "paused": False}}, {"spec": {"paused": False}}),
    ("keyed element field", {"f:spec": {"f:containers": {'k:{"name":"app"}': {"f:image": {}}}}},
     {"spec": {"containers": [{"name": "app", "image": "a"}, {"name": "b", "image": "b"}]}},
     {"spec": {"containers": [{"name": "app"}, {"name": "b", "image": "b"}]}}),
    ("keyed element owned whole",
     {"f:spec": {"f:containers": {'k:{"name":"sidecar"}': {".": {}, "f:name": {}}}}},
     {"spec": {"containers": [{"name": "app"}, {"name": "sidecar", "image": "s"}]}},
     {"spec": {"containers": [{"name": "app"}]}}),
    ("multi-field key",
     {"f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}}}},
     {"ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 80, "protocol": "UDP"}]},
     {"ports": [{"containerPort": 80, "protocol": "UDP"}]}),
    ("set value", {"f:metadata": {"f:finalizers": {'v:"a"': {}}}},
     {"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"finalizers": ["b"]}}),
    ("index", {"f:args": {"i:1": {}}}, {"args": ["x", "y", "z"]}, {"args": ["x", "z"]}),
    ("owned map emptied", {"f:metadata": {"f:annotations": {".": {}, "f:a": {}}}},
     {"metadata": {"name": "n", "annotations": {"a": "1"}}}, {"metadata": {"name": "n"}}),
    ("shared map kept", {"f:metadata": {"f:annotations": {".": {}, "f:a": {}}}},
     {"metadata": {"annotations": {"a": "1", "b": "2"}}},
     {"metadata": {"annotations": {"b": "2"}}}),
    ("absent fields", {"f:spec": {"f:missing": {}, "f:list": {'k:{"name":"x"}': {}}}},
     {"spec": {"list": []}}, {"spec": {"list": []}}),
    ("malformed key", {"f:list": {"k:{not json": {}}}, {"list": [{"a": 1}]}, {"list": [{"a": 1}]}),
]


@pytest.mark.parametrize(("fields", "before", "after"),
                         [c[1:] for c in FIELDS_CASES], ids=[c[0] for c in FIELDS_CASES])
def test_remove_fields(fields: dict[str, Any], before: dict[str, Any],
                       after: dict[str, Any]) -> None:
    """A fieldsV1 set removes its leaves, whole owned elements and maps it emptied."""
    remove_fields(before, fields)
    assert before == after


# --- drift -----------------------------------------------------------------

def deployment(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "replicas": 2,
        "template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        ]}},
    }
    base.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "spec": base}


def with_live_defaults(obj: dict[str, Any]) -> dict[str, Any]:
    live = copy.deepcopy(obj)
    live["metadata"].update(uid="u", resourceVersion="9", generation=3)
    live["metadata"]["labels"]["added-by-someone"] = "x"
    live["status"] = {"replicas": 2}
    container = live["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicy"] = "IfNotPresent"
    container["ports"][0]["protocol"] = "TCP"
    container["env"].reverse()
    live["spec"]["template"]["spec"]["containers"].append({"name": "injected", "image": "i"})
    live["spec"]["strategy"] = {"type": "RollingUpdate"}
    return live


def mutate(obj: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    target: Any = result
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return result


CONTAINER: list[str | int] = ["spec", "template", "spec", "containers", 0]

DRIFT_CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("live adds defaults, other fields and reorders named lists",
     deployment(), with_live_defaults(deployment()), False),
    ("replicas changed", deployment(),
     mutate(with_live_defaults(deployment()), ["spec", "replicas"], 5), True),
    ("image changed", deployment(),
     mutate(with_live_defaults(deployment()), [*CONTAINER, "image"], "app:2"), True),
    ("env value changed", deployment(),
     mutate(with_live_defaults(deployment()), [*CONTAINER, "env", 0, "value"], "9"), True),
    ("named container removed", deployment(),
     mutate(with_live_defaults(deployment()), ["spec", "template", "spec", "containers"],
            [{"name": "injected"}]), True),
    ("label removed", deployment(),
     mutate(with_live_defaults(deployment()), ["metadata", "labels"], {}), True),
    ("unnamed list length differs", deployment(),
     mutate(with_live_defaults(deployment()), [*CONTAINER, "ports"],
            [{"containerPort": 80}, {"containerPort": 81}]), True),
    ("number written as string", deployment(replicas="2"),
     with_live_defaults(deployment()), False),
    ("quantities are not canonicalised",
     deployment(resources={"cpu": "0.5"}), with_live_defaults(deployment(resources={"cpu": "500m"})),
     True),
    ("zero values match absent fields",
     deployment(paused=False, minReadySeconds=0, selector={}, args=[]),
     with_live_defaults(deployment()), False),
    ("true does not match absent", deployment(paused=True), with_live_defaults(deployment()), True),
    ("bool is not the string true", deployment(paused=True),
     with_live_defaults(deployment(paused="true")), True),
    ("server metadata and status in desired are ignored",
     mutate(mutate(deployment(), ["status"], {"replicas": 9}), ["metadata", "uid"], "other"),
     with_live_defaults(deployment()), False),
]


@pytest.mark.parametrize(("desired", "live", "expected"),
                         [c[1:] for c in DRIFT_CASES], ids=[c[0] for c in DRIFT_CASES])
def test_drifted(desired: dict[str, Any], live: dict[str, Any], expected: bool) -> None:
    """drifted() flags only fields desired sets that live no longer carries."""
    assert drifted(desired, live) is expected


def test_drifted_honours_ignore() -> None:
    """Fields named by ignore rules (pointers or other managers) never count as drift."""
    desired = deployment()
    live = mutate(with_live_defaults(deployment()), ["spec", "replicas"], 7)
    assert drifted(desired, live)
    pointer = IgnoreDifference(group="apps", kind="Deployment", json_pointers=("/spec/replicas",))
    assert not drifted(desired, live, [pointer])
    live["metadata"]["managedFields"] = [{"manager": "hpa", "operation": "Update",
                                          "fieldsType": "FieldsV1",
                                          "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    manager = IgnoreDifference(group="apps", kind="Deployment", managed_fields_managers=("hpa",))
    assert not drifted(desired, live, [manager])


def test_drifted_secret_string_data() -> None:
    """A Secret written with stringData does not drift from its stored base64 data."""
    desired = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
               "stringData": {"token": "abc"}}
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "type": "Opaque", "data": {"token": "YWJj"}}
    assert not drifted(desired, live)
    assert drifted(desired, mutate(live, ["data", "token"], "eHl6"))
