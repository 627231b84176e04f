"""jqPathExpressions: the supported jq subset deletes what real jq's ``del(EXPR)`` deletes."""

from __future__ import annotations

import copy
from typing import Any

import jq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitopsd.core.diff.compare import DiffState, diff_objects, drifted
from gitopsd.model import IgnoreDifference
from gitopsd.model.jqpath import JqPathError, parse_jq_path, remove_paths

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop",
                 "annotations": {"example.com/rollout": "3", "keep": "yes"}},
    "spec": {"replicas": 3, "template": {"spec": {
        "containers": [
            {"name": "web", "image": "web:1.2", "ports": [{"containerPort": 80}]},
            {"name": "istio-proxy", "image": "proxy:9", "args": ["a", "b"]},
            {"name": "log", "image": "log:1", "env": [{"name": "LEVEL", "value": "info"}]},
        ],
        "initContainers": [{"name": "init", "image": "init:1"}],
    }}},
    "webhooks": [{"clientConfig": {"caBundle": "AAA"}}, {"clientConfig": {"caBundle": "BBB"}}],
    "flags": {"on": True, "count": 1},
}

EXPRESSIONS = [
    ".spec.replicas",
    '.metadata.annotations."example.com/rollout"',
    '.metadata.annotations["example.com/rollout"]',
    ".spec.template.spec.containers[] | select(.name == \"istio-proxy\")",
    ".spec.template.spec.containers[] | select(.name == \"istio-proxy\") | .image",
    ".spec.template.spec.containers[] | select(.name != \"web\") | .image",
    ".spec.template.spec.containers[].image",
    ".spec.template.spec.containers[]?.ports",
    ".spec.template.spec.containers[0].image",
    ".spec.template.spec.containers[-1]",
    ".spec.template.spec.containers[] | select(.name == \"web\" or .name == \"log\") | .image",
    ".spec.template.spec.containers[] | select(.name == \"web\" and .image == \"web:1.2\")",
    ".spec.template.spec.containers[] | select((.name == \"log\") or (.name == \"none\")) | .env",
    ".spec.template.spec.containers[] | select(.missing == null) | .name",
    ".webhooks[]?.clientConfig.caBundle",
    ".webhooks[1]",
    ".flags | select(.on == true) | .count",
    ".flags | select(.count == 1.0)",
    ".flags | select(.count == true)",
    ".spec.template.spec.initContainers",
    ".spec.nothere",
    ".spec.template.spec.containers[7]",
    ".metadata[]",
    ".[\"spec\"].replicas",
]


def reference(expression: str, doc: Any) -> Any:
    return jq.compile(f"del({expression})").input_value(doc).first()


def ours(expression: str, doc: Any) -> Any:
    target = copy.deepcopy(doc)
    return remove_paths(target, parse_jq_path(expression).paths(target))


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_deletes_what_jq_deletes(expression: str) -> None:
    """Each supported form removes exactly what jq's del() removes from a Deployment."""
    assert ours(expression, DEPLOYMENT) == reference(expression, DEPLOYMENT)


@pytest.mark.parametrize(("expression", "where"), [
    ("", "at its end"),
    (".", "names the whole object"),
    ("..", "expected a field name"),
    (".spec | length", "position 9 ('length')"),
    (".spec.containers[] | select(.name | test(\"x\"))", "position 35"),
    (".a[] | select(.b[] == 1)", "position 18"),
    ("del(.a)", "position 1"),
    (".a | select(.b == x)", "expected a JSON literal"),
    (".a | select(.b = 1)", "expected '==' or '!='"),
    (".a[\"unterminated]", "expected a quoted string"),
])
def test_unsupported_syntax_is_named_with_its_position(expression: str, where: str) -> None:
    """Syntax outside the subset is rejected, saying where and what is supported."""
    with pytest.raises(JqPathError) as err:
        parse_jq_path(expression)
    assert where in str(err.value)
    assert "supported" in str(err.value) or "whole object" in str(err.value)


names = st.sampled_from(["a", "b", "name", "image"])
scalars = st.one_of(st.sampled_from(["a", "b", "x"]), st.integers(-2, 2), st.booleans(), st.none())
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(names, inner, max_size=4)), max_leaves=20)
steps = st.sampled_from([".a", ".b", ".name", "[]", "[0]", "[-1]", "[1]", '["image"]'])
conditions = st.sampled_from(['.name == "a"', ".a != 1", ".b == null", '.name == "x" or .a == true',
                              '.a == 0 and .b != "b"'])


@st.composite
def expressions(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        path = "".join(draw(st.lists(steps, min_size=1, max_size=3)))
        parts.append(path if path.startswith(".") else "." + path)
        if draw(st.booleans()):
            parts.append(f"select({draw(conditions)})")
    return " | ".join(parts)


@settings(max_examples=300, deadline=None)
@given(doc=st.dictionaries(names, documents, max_size=4), expression=expressions())
def test_random_documents_agree_with_jq(doc: dict[str, Any], expression: str) -> None:
    """On random documents, wherever jq's del() succeeds, the result is the same."""
    try:
        expected = reference(expression, doc)
    except ValueError:
        return  # jq raises on a step that does not apply (e.g. .a of a list); ours yields nothing
    assert ours(expression, doc) == expected


def test_ignored_sidecar_image_keeps_the_rest_compared() -> None:
    """A rule's jq path hides a sidecar's image from the diff and from drift, and nothing else."""
    rule = IgnoreDifference(group="apps", kind="Deployment", jq_path_expressions=(
        '.spec.template.spec.containers[] | select(.name == "istio-proxy") | .image',))
    live = copy.deepcopy(DEPLOYMENT)
    live["spec"]["template"]["spec"]["containers"][1]["image"] = "proxy:10"
    assert diff_objects(DEPLOYMENT, live, ignore=[rule]).state is DiffState.IN_SYNC
    assert not drifted(DEPLOYMENT, live, [rule])
    assert diff_objects(DEPLOYMENT, live).state is DiffState.OUT_OF_SYNC
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "web:9"
    result = diff_objects(DEPLOYMENT, live, ignore=[rule])
    assert result.state is DiffState.OUT_OF_SYNC
    assert "web:9" in result.text
    assert "proxy:10" not in result.text
    assert drifted(DEPLOYMENT, live, [rule])
