"""The sync planner: task order, hooks, options, dependency fixes, prunes and the prune guard."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gitopsd.config.rules import check_sync_option
from gitopsd.core.plan import (
    APP_OPTION_NAMES,
    CREATED_NAMESPACE_RANK,
    AppOptions,
    DeletePolicy,
    Permission,
    Phase,
    Plan,
    Preconditions,
    PropagationPolicy,
    ResourceOptions,
    SkipReason,
    SyncTask,
    TaskAction,
    app_option_problems,
    generated_name,
    group_waves,
    object_options,
    parse_app_options,
    parse_resource_options,
    plan_sync,
    prune_guard,
)
from gitopsd.errors import ConfigError, ManifestError, PruneRefused, SyncError
from gitopsd.model import Manifest, ResourceKey, SourceLocation, SyncPolicy
from gitopsd.model.syncoptions import APP_OPTIONS

DATA = Path(__file__).parent / "testdata" / "plan"
ERRORS = {"ManifestError": ManifestError, "SyncError": SyncError, "ConfigError": ConfigError}


def manifest(body: Mapping[str, Any], line: int = 0) -> Manifest:
    meta = body.get("metadata") or {}
    key = ResourceKey.of(body)
    if not meta.get("name") and meta.get("generateName"):
        key = ResourceKey(key.group, key.kind, key.namespace, meta["generateName"])
    return Manifest(key, body, SourceLocation("repo", "abc", "app.yaml", line))


def inventory_entry(entry: Mapping[str, Any]) -> tuple[ResourceKey, str, Mapping[str, str]]:
    api_version = entry["apiVersion"]
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    key = ResourceKey(group, entry["kind"], entry.get("namespace", ""), entry["name"])
    return key, api_version, entry.get("annotations", {})


def parse_key(text: str) -> ResourceKey:
    """``Kind ns/name`` or ``Kind name`` for the core group, as cases write keys."""
    kind, _, where = text.partition(" ")
    namespace, _, name = where.rpartition("/")
    return ResourceKey("", kind, namespace, name)


def run_case(case: Mapping[str, Any]) -> Plan:
    inventory = [inventory_entry(e) for e in case.get("inventory") or []]
    out_of_sync = case.get("out_of_sync")
    return plan_sync(
        [manifest(body, 7 + index) for index, body in enumerate(case.get("desired") or [])],
        previous_inventory=[(key, version) for key, version, _ in inventory],
        live_prune_options={key: annotations for key, _, annotations in inventory},
        policy=SyncPolicy(**(case.get("policy") or {})),
        namespace=case.get("namespace", "app"),
        sync_id="sync-1",
        out_of_sync=None if out_of_sync is None else {parse_key(k) for k in out_of_sync},
        prune=case.get("prune", False),
        allow_mass_prune=case.get("allow_mass_prune", False),
    )


def render(task: SyncTask) -> str:
    key = task.key
    where = f"{key.namespace}/{key.name}" if key.namespace else key.name
    untracked = "" if task.tracked else " (untracked)"
    return f"{task.action.value} {key.kind} {where}{untracked}"


def render_waves(plan: Plan) -> list[dict[str, list[str]]]:
    return [{f"{phase.value}/{wave}": [render(t) for t in tasks]}
            for (phase, wave), tasks in plan.waves()]


CASES = sorted(p for p in DATA.glob("*.yaml") if p.name != "errors.yaml")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    """Each fixture's desired state and inventory plan into exactly the waves, skips and verdict it lists."""
    case = yaml.safe_load(path.read_text())
    assert case["description"]
    plan = run_case(case)
    expect = case["expect"]
    assert render_waves(plan) == expect["waves"]
    assert [render(t) for t in plan.sync_fail_hooks] == expect.get("sync_fail", [])
    skipped = [f"{s.key.kind} {(s.key.namespace + '/') if s.key.namespace else ''}{s.key.name} "
               f"{s.reason.value}" for s in plan.skipped]
    assert skipped == expect.get("skipped", [])
    if expect.get("prune_refused"):
        assert plan.prune_refused is not None
        assert expect["prune_refused"] in plan.prune_refused
    else:
        assert plan.prune_refused is None


ERROR_CASES = yaml.safe_load((DATA / "errors.yaml").read_text())


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["description"][:60] for c in ERROR_CASES])
def test_error(case: Mapping[str, Any]) -> None:
    """Invalid annotations, duplicates and unknown options raise the listed error naming the culprit."""
    with pytest.raises(ERRORS[case["error"]]) as caught:
        run_case(case)
    assert case["match"] in str(caught.value)


# -- hooks and generated names -------------------------------------------------------------


def job(name: str = "", *, generate: str = "", annotations: Mapping[str, str] | None = None,
        namespace: str = "app", **spec: Any) -> Manifest:
    meta: dict[str, Any] = {"namespace": namespace, "annotations": dict(annotations or {})}
    if name:
        meta["name"] = name
    if generate:
        meta["generateName"] = generate
    return manifest({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec})


def test_generate_name_hook_gets_a_stable_derived_name() -> None:
    """A generateName hook is named prefix plus five hex digits, the same for the same sync id."""
    hook = job(generate="migrate-", annotations={"argocd.argoproj.io/hook": "PreSync"})
    first = plan_sync([hook], previous_inventory=[], policy=SyncPolicy(), namespace="app",
                      sync_id="s-1")
    again = plan_sync([hook], previous_inventory=[], policy=SyncPolicy(), namespace="app",
                      sync_id="s-1")
    other = plan_sync([hook], previous_inventory=[], policy=SyncPolicy(), namespace="app",
                      sync_id="s-2")
    (task,) = first.tasks
    assert re.fullmatch(r"migrate-[0-9a-f]{5}", task.key.name)
    assert task.manifest is not None
    assert task.manifest.body["metadata"]["name"] == task.key.name
    assert "generateName" not in task.manifest.body["metadata"]
    assert task.hook is not None
    assert task.hook.generate_name == "migrate-"
    assert again.tasks[0].key == task.key
    assert other.tasks[0].key != task.key


def test_generate_name_differs_per_phase_and_body() -> None:
    """One generateName hook in two phases, or two hooks with one prefix, get distinct names."""
    both = job(generate="run-", annotations={"argocd.argoproj.io/hook": "PreSync,PostSync"})
    plan = plan_sync([both, job(generate="run-", parallelism=2,
                                annotations={"argocd.argoproj.io/hook": "PreSync"})],
                     previous_inventory=[], policy=SyncPolicy(), namespace="app", sync_id="s")
    names = [t.key.name for t in plan.tasks]
    assert len(names) == 3
    assert len(set(names)) == 3


def test_generated_name_truncates_long_prefixes() -> None:
    """A long generateName is cut so the derived name fits a 63-character DNS label."""
    name = generated_name("x" * 80, sync_id="s", phase=Phase.SYNC, body={})
    assert len(name) == 63
    assert name.startswith("x" * 58)


def test_named_hook_keeps_its_name_and_default_delete_policy() -> None:
    """A named hook keeps its name; with no delete policy it is deleted before re-creation."""
    plan = plan_sync([job("migrate", annotations={"argocd.argoproj.io/hook": "PreSync"})],
                     previous_inventory=[], policy=SyncPolicy(), namespace="app", sync_id="s")
    (task,) = plan.hooks(Phase.PRE_SYNC)
    assert task.key.name == "migrate"
    assert task.action is TaskAction.HOOK
    assert task.hook is not None
    assert task.hook.delete_policies == {DeletePolicy.BEFORE_HOOK_CREATION}
    assert plan.hooks(Phase.POST_SYNC) == ()


@pytest.mark.parametrize(("annotations", "expected"), [
    ({"argocd.argoproj.io/hook-delete-policy": "HookSucceeded, HookFailed"},
     {DeletePolicy.HOOK_SUCCEEDED, DeletePolicy.HOOK_FAILED}),
    ({"helm.sh/hook-delete-policy": "hook-succeeded,before-hook-creation"},
     {DeletePolicy.HOOK_SUCCEEDED, DeletePolicy.BEFORE_HOOK_CREATION}),
    ({"helm.sh/hook-delete-policy": "hook-failed,whatever"}, {DeletePolicy.HOOK_FAILED}),
    ({"argocd.argoproj.io/hook-delete-policy": "HookFailed",
      "helm.sh/hook-delete-policy": "hook-succeeded"},
     {DeletePolicy.HOOK_FAILED, DeletePolicy.HOOK_SUCCEEDED}),
])
def test_delete_policies(annotations: Mapping[str, str], expected: set[DeletePolicy]) -> None:
    """Argo CD and Helm delete policies are read and combined; unknown Helm ones are ignored."""
    hook = job("h", annotations={"argocd.argoproj.io/hook": "Sync", **annotations})
    plan = plan_sync([hook], previous_inventory=[], policy=SyncPolicy(), namespace="app",
                     sync_id="s")
    (task,) = plan.hooks(Phase.SYNC)
    assert task.hook is not None
    assert task.hook.delete_policies == expected


def test_sync_fail_hooks_are_kept_out_of_the_waves() -> None:
    """SyncFail hooks are reachable through hooks() and sync_fail_hooks but never in waves()."""
    plan = plan_sync([job("fail", annotations={"argocd.argoproj.io/hook": "SyncFail"})],
                     previous_inventory=[], policy=SyncPolicy(), namespace="app", sync_id="s")
    assert plan.tasks == ()
    assert plan.waves() == []
    assert [t.key.name for t in plan.hooks(Phase.SYNC_FAIL)] == ["fail"]
    assert [g for g, _ in group_waves(plan.sync_fail_hooks)] == [(Phase.SYNC_FAIL, 0)]


# -- options -------------------------------------------------------------------------------


def configmap(name: str, namespace: str = "app", **annotations: str) -> Manifest:
    return manifest({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": name, "namespace": namespace,
                                  "annotations": annotations}})


@pytest.mark.parametrize(("text", "expected"), [
    ("", ResourceOptions()),
    ("Prune=false", ResourceOptions(prune=Permission.DENY)),
    ("Prune=confirm,Delete=false", ResourceOptions(prune=Permission.CONFIRM,
                                                   delete=Permission.DENY)),
    (" PruneLast=true , ServerSideApply=false ,", ResourceOptions(prune_last=True,
                                                                 server_side_apply=False)),
    ("Replace=TRUE,Force=true", ResourceOptions(replace=True, force=True)),
    ("Validate=false,SkipDryRunOnMissingResource=true",
     ResourceOptions(validate=False, skip_dry_run_on_missing_resource=True)),
])
def test_parse_resource_options(text: str, expected: ResourceOptions) -> None:
    """Each per-object sync option sets its field; blanks, spaces and value case do not matter."""
    assert parse_resource_options(text) == (expected, [])


@pytest.mark.parametrize(("text", "problem"), [
    ("prune=false", "did you mean 'Prune'?"),
    ("Prune", "sync option Prune must be one of true|false|confirm"),
    ("Validate=no", "sync option Validate must be one of true|false"),
    ("Prune=false,Prune=true", "given twice with different values"),
])
def test_parse_resource_options_problems(text: str, problem: str) -> None:
    """Invalid per-object options are reported, not guessed."""
    _, problems = parse_resource_options(text)
    assert len(problems) == 1
    assert problem in problems[0]


def test_parse_app_options() -> None:
    """App-level options set the app fields and the per-object defaults."""
    options = parse_app_options(["CreateNamespace=true", "ApplyOutOfSyncOnly=true",
                                 "PrunePropagationPolicy=orphan", "FailOnSharedResource=true",
                                 "RespectIgnoreDifferences=true", "PruneLast=true",
                                 "ServerSideApply=false"])
    assert options == AppOptions(
        defaults=ResourceOptions(prune_last=True, server_side_apply=False),
        create_namespace=True, apply_out_of_sync_only=True,
        prune_propagation_policy=PropagationPolicy.ORPHAN, fail_on_shared_resource=True,
        respect_ignore_differences=True)
    assert parse_app_options([]).prune_propagation_policy is PropagationPolicy.FOREGROUND


def test_app_option_problems_name_entries_and_known_options() -> None:
    """Every invalid app option is listed by index together with every known option name."""
    problems = app_option_problems(["CreateNamespace=true", "Bogus=1", "Prune=sometimes"])
    assert [p.split(":")[0] for p in problems] == ["syncOptions[1]", "syncOptions[2]"]
    assert all(name in problems[0] for name in APP_OPTION_NAMES)


def test_options_the_fleet_file_accepts_are_the_options_a_sync_parses() -> None:
    """Every option and value the fleet loader accepts parses without a problem, and back."""
    for name, values in APP_OPTIONS.items():
        for value in values:
            assert check_sync_option(f"{name}={value}") is None
            assert app_option_problems([f"{name}={value}"]) == []
    assert parse_app_options(["ClientSideApplyMigration=false"]) == AppOptions()


def test_object_options_read_the_sync_options_annotation() -> None:
    """An object's annotation is parsed over the defaults; a non-string value is a problem."""
    assert object_options({"argocd.argoproj.io/sync-options": "Replace=true, Force=true"}) == (
        ResourceOptions(replace=True, force=True), [])
    defaults = ResourceOptions(validate=False)
    assert object_options({}, defaults) == (defaults, [])
    assert object_options({"argocd.argoproj.io/sync-options": 3}, defaults) == (
        defaults, ["argocd.argoproj.io/sync-options must be a string"])
    options, problems = object_options({"argocd.argoproj.io/sync-options": "Replace=true,Turbo=on"})
    assert options.replace
    assert len(problems) == 1
    assert "unknown sync option 'Turbo'" in problems[0]


def test_object_options_override_app_defaults() -> None:
    """A task's options are the app's defaults overridden by its own annotation."""
    plan = plan_sync([configmap("a", **{"argocd.argoproj.io/sync-options": "Validate=true"}),
                      configmap("b")],
                     previous_inventory=[], namespace="app", sync_id="s",
                     policy=SyncPolicy(sync_options=("Validate=false", "Replace=true")))
    by_name = {t.key.name: t.options for t in plan.tasks}
    assert by_name["a"] == ResourceOptions(validate=True, replace=True)
    assert by_name["b"] == ResourceOptions(validate=False, replace=True)


def test_plan_exposes_app_options() -> None:
    """The plan carries the propagation policy and the shared-resource switch for the executor."""
    plan = plan_sync([], previous_inventory=[], namespace="app", sync_id="s",
                     policy=SyncPolicy(sync_options=("PrunePropagationPolicy=background",
                                                     "FailOnSharedResource=true")))
    assert plan.propagation_policy is PropagationPolicy.BACKGROUND
    assert plan.fail_on_shared_resource


# -- CreateNamespace and prunes ------------------------------------------------------------


def test_created_namespace_is_first_untracked_and_protected_from_prune() -> None:
    """The CreateNamespace task comes first, is not tracked, and its namespace is never pruned."""
    ns_key = ResourceKey("", "Namespace", "", "app")
    plan = plan_sync([configmap("a")], previous_inventory=[(ns_key, "v1")],
                     namespace="app", sync_id="s", allow_mass_prune=True,
                     policy=SyncPolicy(prune=True, sync_options=("CreateNamespace=true",)))
    first = plan.tasks[0]
    assert first.key == ns_key
    assert not first.tracked
    assert first.kind_rank == CREATED_NAMESPACE_RANK
    assert first.manifest is not None
    assert first.manifest.body == {"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": "app"}}
    assert plan.prune_tasks == ()
    assert plan.skipped == ()


def test_create_namespace_without_destination_adds_nothing() -> None:
    """An instance without a destination namespace gets no Namespace task."""
    plan = plan_sync([configmap("a")], previous_inventory=[], namespace="", sync_id="s",
                     policy=SyncPolicy(sync_options=("CreateNamespace=true",)))
    assert [t.key.kind for t in plan.tasks] == ["ConfigMap"]


def test_prune_task_carries_live_api_version_and_options() -> None:
    """A prune task carries the live apiVersion and options from the live annotations."""
    key = ResourceKey("apps", "Deployment", "app", "old")
    plan = plan_sync([configmap("a")], previous_inventory=[(key, "apps/v1")],
                     live_prune_options={key: {"argocd.argoproj.io/sync-options":
                                               "Delete=false"}},
                     namespace="app", sync_id="s", allow_mass_prune=True,
                     policy=SyncPolicy(prune=True))
    (task,) = plan.prune_tasks
    assert (task.key, task.api_version, task.manifest) == (key, "apps/v1", None)
    assert task.options == ResourceOptions(delete=Permission.DENY)


def test_prune_tasks_carry_preconditions_and_foreign_candidates_are_skipped() -> None:
    """A candidate still the application's is pruned with the identity it was checked on; one that
    is not is skipped with why, and counts neither as a prune nor as owned for the guard."""
    ours, theirs = (ResourceKey("", "ConfigMap", "app", n) for n in ("ours", "theirs"))
    stays = ResourceKey("", "ConfigMap", "app", "a")
    plan = plan_sync([configmap("a")], previous_inventory=[(ours, "v1"), (theirs, "v1"), (stays, "v1")],
                     namespace="app", sync_id="s", policy=SyncPolicy(prune=True, max_prune_share=0.5),
                     prune_preconditions={ours: Preconditions("uid-1", "7")},
                     not_ours={theirs: "it belongs to application other"})
    assert plan.prune_refused is None
    (task,) = plan.prune_tasks
    assert (task.key, task.preconditions) == (ours, Preconditions("uid-1", "7"))
    assert [(s.key, s.reason, s.message) for s in plan.skipped] == [
        (theirs, SkipReason.PRUNE_NOT_OURS, "not pruned: it belongs to application other")]


def test_ensure_prune_allowed_raises_the_guard_message() -> None:
    """A plan whose prunes were refused raises PruneRefused carrying the guard's message."""
    inventory = [(ResourceKey("", "ConfigMap", "app", n), "v1") for n in "abc"]
    plan = plan_sync([configmap("a")], previous_inventory=inventory, namespace="app",
                     sync_id="s", policy=SyncPolicy(prune=True, max_prune_share=0.5))
    with pytest.raises(PruneRefused, match="refusing to prune 2 of 3"):
        plan.ensure_prune_allowed()
    allowed = plan_sync([configmap("a")], previous_inventory=inventory, namespace="app",
                        sync_id="s", policy=SyncPolicy(prune=True, max_prune_share=0.7))
    allowed.ensure_prune_allowed()
    assert len(allowed.prune_tasks) == 2


@pytest.mark.parametrize(("prunes", "inventory", "desired", "share", "refused"), [
    (0, 10, 0, 0.5, False),      # nothing to prune, even an empty desired state is fine
    (1, 1, 1, 0.5, False),       # a one-object inventory never trips the share rule
    (1, 1, 0, 1.0, True),        # ...but emptying the application does
    (2, 4, 2, 0.5, False),       # exactly the share
    (3, 4, 1, 0.5, True),        # above the share
    (3, 4, 1, 0.8, False),
    (1, 2, 1, 0.0, True),        # share 0 refuses every prune of a larger inventory
])
def test_prune_guard(prunes: int, inventory: int, desired: int, share: float,
                     refused: bool) -> None:
    """The guard refuses prunes above the share of an inventory of two or more, and emptying."""
    policy = SyncPolicy(max_prune_share=share)
    verdict = prune_guard(prunes, inventory_size=inventory, desired_resources=desired,
                          policy=policy)
    assert (verdict is not None) is refused
    assert prune_guard(prunes, inventory_size=inventory, desired_resources=desired,
                       policy=policy, allow_mass_prune=True) is None


def test_duplicate_inventory_entries_prune_once() -> None:
    """An inventory that lists a key twice yields one prune task."""
    key = ResourceKey("", "ConfigMap", "app", "old")
    plan = plan_sync([configmap("a")], previous_inventory=[(key, "v1"), (key, "v1")],
                     namespace="app", sync_id="s", policy=SyncPolicy(prune=True))
    assert [t.key for t in plan.prune_tasks] == [key]


# -- properties ----------------------------------------------------------------------------

KINDS: Sequence[tuple[str, str, bool]] = (
    ("v1", "ConfigMap", True),
    ("v1", "Secret", True),
    ("v1", "ServiceAccount", True),
    ("apps/v1", "Deployment", True),
    ("batch/v1", "Job", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", False),
    ("example.com/v1", "Widget", True),
    ("example.com/v1", "Gadget", False),
    ("other.io/v1", "Thing", True),
)
CRDS = {"widgets.example.com": ("example.com", "Widget"),
        "gadgets.example.com": ("example.com", "Gadget"),
        "things.other.io": ("other.io", "Thing")}
NAMESPACES = ("a", "b", "c")
HOOKS = (None, None, None, "PreSync", "Sync", "PostSync", "SyncFail", "Skip", "PreSync,PostSync")
waves = st.one_of(st.none(), st.integers(-3, 3))


@st.composite
def objects(draw: st.DrawFn) -> dict[str, Any]:
    choice = draw(st.integers(0, len(KINDS) + 1))
    annotations: dict[str, str] = {}
    wave = draw(waves)
    if wave is not None:
        annotations["argocd.argoproj.io/sync-wave"] = str(wave)
    if choice == len(KINDS):
        name = draw(st.sampled_from(NAMESPACES))
        return {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "annotations": annotations}}
    if choice == len(KINDS) + 1:
        name = draw(st.sampled_from(sorted(CRDS)))
        group, kind = CRDS[name]
        return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": name, "annotations": annotations},
                "spec": {"group": group, "names": {"kind": kind}}}
    api_version, kind, namespaced = KINDS[choice]
    hook = draw(st.sampled_from(HOOKS))
    if hook:
        annotations["argocd.argoproj.io/hook"] = hook
    meta: dict[str, Any] = {"annotations": annotations}
    if namespaced:
        meta["namespace"] = draw(st.sampled_from(NAMESPACES))
    if hook and hook != "Skip" and draw(st.booleans()):
        meta["generateName"] = draw(st.sampled_from(("x-", "y-")))
    else:
        meta["name"] = draw(st.sampled_from(("x", "y", "z")))
    return {"apiVersion": api_version, "kind": kind, "metadata": meta,
            "spec": {"n": draw(st.integers(0, 3))}}


@st.composite
def live_objects(draw: st.DrawFn) -> tuple[ResourceKey, str, dict[str, str]]:
    body = draw(objects())
    meta = body["metadata"]
    annotations = {k: v for k, v in meta["annotations"].items() if "hook" not in k}
    if draw(st.booleans()):
        annotations["argocd.argoproj.io/sync-options"] = draw(st.sampled_from(
            ("PruneLast=true", "Prune=false", "PruneLast=false")))
    name = meta.get("name") or meta["generateName"] + "live"
    key = ResourceKey(manifest(body).key.group, body["kind"], meta.get("namespace", ""), name)
    return key, body["apiVersion"], annotations


def unique(bodies: list[dict[str, Any]]) -> list[Manifest]:
    seen: dict[ResourceKey, Manifest] = {}
    for body in bodies:
        item = manifest(body)
        seen.setdefault(item.key, item)
    return list(seen.values())


scenarios = st.tuples(
    st.lists(objects(), max_size=14).map(unique),
    st.lists(live_objects(), max_size=10, unique_by=lambda entry: entry[0]),
    st.lists(st.sampled_from(("CreateNamespace=true", "PruneLast=true",
                              "PrunePropagationPolicy=orphan")), unique=True, max_size=3),
    st.randoms(use_true_random=False),
)


def plan_of(desired: list[Manifest], live: list[tuple[ResourceKey, str, dict[str, str]]],
            options: list[str]) -> Plan:
    return plan_sync(desired, previous_inventory=[(k, v) for k, v, _ in live],
                     live_prune_options={k: a for k, _, a in live}, namespace="a",
                     sync_id="prop", allow_mass_prune=True,
                     policy=SyncPolicy(prune=True, sync_options=tuple(options)))


def everything(plan: Plan) -> list[SyncTask]:
    return [*plan.tasks, *plan.sync_fail_hooks]


@settings(deadline=None, max_examples=150)
@given(scenarios)
def test_order_is_total_and_independent_of_input_order(
        scenario: tuple[list[Manifest], list[Any], list[str], random.Random]) -> None:
    """Shuffled inputs give the identical plan, and no two tasks share a place in the order."""
    desired, live, options, rnd = scenario
    plan = plan_of(desired, live, options)
    shuffled_desired, shuffled_live = list(desired), list(live)
    rnd.shuffle(shuffled_desired)
    rnd.shuffle(shuffled_live)
    assert plan_of(shuffled_desired, shuffled_live, options) == plan
    for tasks in (plan.tasks, plan.sync_fail_hooks):
        keys = [t.sort_key for t in tasks]
        assert all(a < b for a, b in itertools.pairwise(keys))


@settings(deadline=None, max_examples=150)
@given(scenarios)
def test_dependencies_come_first(
        scenario: tuple[list[Manifest], list[Any], list[str], random.Random]) -> None:
    """An applied Namespace precedes every task in it and an applied CRD every resource of its kind."""
    desired, live, options, _ = scenario
    tasks = everything(plan_of(desired, live, options))
    runs = [t for t in tasks if t.action is not TaskAction.PRUNE]
    for index, dependency in enumerate(runs):
        if dependency.action is not TaskAction.APPLY:
            continue
        if dependency.key.kind == "Namespace":
            needs = [t for t in runs if t.key.namespace == dependency.key.name]
        elif dependency.key.kind == "CustomResourceDefinition":
            group_kind = CRDS[dependency.key.name]
            needs = [t for t in runs if (t.key.group, t.key.kind) == group_kind]
        else:
            continue
        assert all(runs.index(t) > index for t in needs)


@settings(deadline=None, max_examples=150)
@given(scenarios)
def test_waves_ascend_and_prunes_descend(
        scenario: tuple[list[Manifest], list[Any], list[str], random.Random]) -> None:
    """Within a phase apply and hook waves never decrease, prunes follow them in reverse wave order."""
    desired, live, options, _ = scenario
    plan = plan_of(desired, live, options)
    phases = [t.phase.order for t in plan.tasks]
    assert phases == sorted(phases)
    for phase in Phase:
        tasks = [t for t in everything(plan) if t.phase is phase]
        runs = [t for t in tasks if t.action is not TaskAction.PRUNE]
        prunes = [t for t in tasks if t.action is TaskAction.PRUNE]
        assert tasks == runs + prunes
        assert [t.wave for t in runs] == sorted(t.wave for t in runs)
        ordinary = [t for t in prunes if not t.prune_last]
        assert prunes == ordinary + [t for t in prunes if t.prune_last]
        assert [t.wave for t in ordinary] == sorted((t.wave for t in ordinary), reverse=True)
    for prune in plan.prune_tasks:
        assert prune.phase is Phase.SYNC
        if prune.key.kind == "Namespace":
            inside = [t for t in plan.prune_tasks if t.key.namespace == prune.key.name]
            assert all(plan.tasks.index(t) < plan.tasks.index(prune) for t in inside)


@settings(deadline=None, max_examples=150)
@given(scenarios)
def test_every_object_is_accounted_for(
        scenario: tuple[list[Manifest], list[Any], list[str], random.Random]) -> None:
    """Each desired plain object is applied once or skipped, and each stale one is pruned or skipped."""
    desired, live, options, _ = scenario
    plan = plan_of(desired, live, options)
    applied = [t.key for t in plan.apply_tasks if t.tracked]
    assert len(applied) == len(set(applied))
    skipped = {s.key for s in plan.skipped}
    for item in desired:
        hook = item.annotations.get("argocd.argoproj.io/hook")
        if hook is None:
            assert (item.key in applied) != (item.key in skipped)
    desired_keys = {m.key for m in desired} | {t.key for t in everything(plan)
                                               if t.action is not TaskAction.PRUNE}
    stale = {k for k, _, _ in live} - desired_keys
    assert {t.key for t in plan.prune_tasks} | (skipped & stale) == stale
    assert not {t.key for t in plan.prune_tasks} & skipped
