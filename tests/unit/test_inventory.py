"""Unit tests for core.inventory and core.ownership: tracking ids, stamping, ownership, inventory
ConfigMaps, rebuilding and pruning."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitopsd.core.inventory import (
    INVENTORY_KEY,
    Inventory,
    InventoryEntry,
    inventory_name,
    parse_tracking_id,
    prune_candidates,
    stamp,
    tracking_id,
)
from gitopsd.core.marks import APP_ANNOTATION, FLEET_LABEL, TRACKING_ANNOTATION
from gitopsd.core.ownership import Ownership, OwnershipState, ownership, recover
from gitopsd.errors import InventoryError
from gitopsd.model import Manifest, ResourceKey

DEPLOY = ResourceKey("apps", "Deployment", "shop", "web")
NAMESPACE = ResourceKey("", "Namespace", "", "shop")
ROLE = ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "system:controller:x")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# --- tracking ids ----------------------------------------------------------

@pytest.mark.parametrize(("app", "key", "text"), [
    ("shop", DEPLOY, "shop:apps/Deployment:shop/web"),
    ("shop", NAMESPACE, "shop:/Namespace:/shop"),
    ("rbac", ROLE, "rbac:rbac.authorization.k8s.io/ClusterRole:/system:controller:x"),
    ("a", ResourceKey("", "ConfigMap", "ns", "cm"), "a:/ConfigMap:ns/cm"),
])
def test_tracking_id(app: str, key: ResourceKey, text: str) -> None:
    """Tracking ids follow Argo CD's format and parse back to the same app and key."""
    assert tracking_id(app, key) == text
    assert parse_tracking_id(text) == (app, key)


@pytest.mark.parametrize(("app", "key", "problem"), [
    ("", DEPLOY, "non-empty app"),
    ("shop", ResourceKey("apps", "", "shop", "web"), "non-empty kind"),
    ("shop", ResourceKey("apps", "Deployment", "shop", ""), "non-empty name"),
    ("a:b", DEPLOY, "app 'a:b' must not contain ':'"),
    ("shop", ResourceKey("apps", "Deployment", "sh:op", "web"), "namespace 'sh:op'"),
    ("shop", ResourceKey("a/b", "Deployment", "shop", "web"), "group 'a/b' must not contain '/'"),
    ("shop", ResourceKey("apps", "Deployment", "shop", "w/b"), "name 'w/b'"),
])
def test_tracking_id_rejects_ambiguous_parts(app: str, key: ResourceKey, problem: str) -> None:
    """Parts that would make the id ambiguous are refused."""
    with pytest.raises(ValueError, match=re.escape(problem)):
        tracking_id(app, key)


@pytest.mark.parametrize("text", [
    "", "shop", "shop:apps/Deployment", "shop:apps/Deployment:web", ":apps/Deployment:shop/web",
    "shop:apps:shop/web", "shop:apps/:shop/web", "shop:apps/Deployment:shop/",
    "shop:apps/Deployment:shop/a/b", "shop:apps/Deploy/ment:shop/web", "shop:a/K:n:s/x",
])
def test_parse_tracking_id_rejects(text: str) -> None:
    """Strings that are not complete, unambiguous tracking ids parse to None."""
    assert parse_tracking_id(text) is None


no_colon_slash = st.from_regex(r"[A-Za-z0-9.\-_]{1,12}", fullmatch=True)
keys = st.builds(ResourceKey,
                 group=st.from_regex(r"([a-z0-9.\-]{1,12})?", fullmatch=True),
                 kind=no_colon_slash,
                 namespace=st.from_regex(r"([a-z0-9\-]{1,12})?", fullmatch=True),
                 name=st.from_regex(r"[a-z0-9.:\-]{1,20}", fullmatch=True))


@given(no_colon_slash, keys)
def test_tracking_id_round_trip(app: str, key: ResourceKey) -> None:
    """Every valid (app, key) survives tracking_id then parse_tracking_id."""
    assert parse_tracking_id(tracking_id(app, key)) == (app, key)


@given(st.text(alphabet=st.sampled_from("ab:/.-"), max_size=14))
def test_parse_tracking_id_is_canonical(text: str) -> None:
    """Whatever parses is exactly what tracking_id would write for it."""
    parsed = parse_tracking_id(text)
    if parsed is not None:
        assert tracking_id(*parsed) == text


# --- stamping --------------------------------------------------------------

def test_stamp_keeps_user_metadata() -> None:
    """stamp() adds the fleet label and tracking id, keeps everything else, copies deeply."""
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop",
                         "labels": {"app": "web", FLEET_LABEL: "stale"},
                         "annotations": {"note": "kept", TRACKING_ANNOTATION: "x:/A:/b"}},
            "spec": {"replicas": 1}}
    before = copy.deepcopy(body)
    result = stamp(body, fleet="prod", app="shop", key=DEPLOY)
    assert result["metadata"]["labels"] == {"app": "web", FLEET_LABEL: "prod"}
    assert result["metadata"]["annotations"] == {
        "note": "kept", TRACKING_ANNOTATION: "shop:apps/Deployment:shop/web"}
    assert result["spec"] == {"replicas": 1}
    assert result["spec"] is not body["spec"]
    assert body == before


def test_stamp_without_metadata_maps() -> None:
    """stamp() creates labels and annotations when the body has none."""
    result = stamp({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
                   fleet="prod", app="shop", key=NAMESPACE)
    assert result["metadata"] == {"name": "shop", "labels": {FLEET_LABEL: "prod"},
                                  "annotations": {TRACKING_ANNOTATION: "shop:/Namespace:/shop"}}


@pytest.mark.parametrize("fleet", ["", "has space", "-leading", "x" * 64])
def test_stamp_rejects_invalid_fleet(fleet: str) -> None:
    """A fleet name that cannot be a label value is refused."""
    with pytest.raises(ValueError, match="not a valid label value"):
        stamp({"metadata": {"name": "web"}}, fleet=fleet, app="shop", key=DEPLOY)


# --- ownership -------------------------------------------------------------

def live(tracking: str | None = None, fleet: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web", "namespace": "shop"}
    if tracking is not None:
        meta["annotations"] = {TRACKING_ANNOTATION: tracking}
    if fleet is not None:
        meta["labels"] = {FLEET_LABEL: fleet}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta}


@pytest.mark.parametrize(("obj", "state", "owner"), [
    (None, OwnershipState.ABSENT, ""),
    (live("shop:apps/Deployment:shop/web", "prod"), OwnershipState.OURS, "shop"),
    (live("shop:apps/Deployment:shop/web"), OwnershipState.OURS, "shop"),
    (live("billing:apps/Deployment:shop/web", "prod"), OwnershipState.FOREIGN, "billing"),
    (live("shop:apps/Deployment:shop/web", "staging"), OwnershipState.FOREIGN,
     "shop (fleet staging)"),
    (live(), OwnershipState.UNTRACKED, ""),
    (live(fleet="prod"), OwnershipState.UNTRACKED, ""),
    (live("garbage"), OwnershipState.UNTRACKED, ""),
    (live("shop:apps/Deployment:other-ns/web", "prod"), OwnershipState.UNTRACKED, ""),
    (live("billing:apps/StatefulSet:shop/web", "prod"), OwnershipState.UNTRACKED, ""),
])
def test_ownership(obj: dict[str, Any] | None, state: OwnershipState, owner: str) -> None:
    """Ownership follows the tracking id for this exact object and the fleet label."""
    result = ownership(obj, fleet="prod", app="shop", key=DEPLOY)
    assert result.state is state
    assert result.owner == owner
    if state is OwnershipState.FOREIGN:
        assert owner in result.reason
        assert str(DEPLOY) in result.reason


@pytest.mark.parametrize(("state", "fail_on_shared", "writable"), [
    (OwnershipState.ABSENT, True, True),
    (OwnershipState.OURS, True, True),
    (OwnershipState.FOREIGN, False, False),
    (OwnershipState.FOREIGN, True, False),
    (OwnershipState.UNTRACKED, False, True),
    (OwnershipState.UNTRACKED, True, False),
])
def test_ownership_writable(state: OwnershipState, fail_on_shared: bool, writable: bool) -> None:
    """Untracked objects are adoptable only without FailOnSharedResource; foreign ones never."""
    assert Ownership(state).writable(fail_on_shared_resource=fail_on_shared) is writable


# --- inventory -------------------------------------------------------------

E_DEPLOY = InventoryEntry("apps/v1", "Deployment", "shop", "web")
E_NS = InventoryEntry("v1", "Namespace", "", "shop")
E_CM = InventoryEntry("v1", "ConfigMap", "shop", "settings")
E_ROLE = InventoryEntry("rbac.authorization.k8s.io/v1", "ClusterRole", "", "system:controller:x")


def test_entry_key() -> None:
    """An entry's key drops the version from its apiVersion."""
    assert E_DEPLOY.key == DEPLOY
    assert E_NS.key == NAMESPACE
    assert E_ROLE.key == ROLE


def test_inventory_sorted_and_unique() -> None:
    """Inventories sort by key and keep one entry per key, the last one given."""
    newer = InventoryEntry("apps/v2", "Deployment", "shop", "web")
    inv = Inventory.of([E_DEPLOY, E_NS, E_ROLE, E_CM, newer])
    assert list(inv) == [E_CM, E_NS, newer, E_ROLE]
    assert len(inv) == 4
    assert DEPLOY in inv
    assert ResourceKey("", "ConfigMap", "shop", "other") not in inv
    assert inv.pairs()[2] == (DEPLOY, "apps/v2")


@pytest.mark.parametrize(("entry", "problem"), [
    (InventoryEntry("", "ConfigMap", "a", "b"), "lacks apiVersion"),
    (InventoryEntry("v1", "ConfigMap", "a", ""), "lacks apiVersion, kind or name"),
    (InventoryEntry("v1", "Config Map", "a", "b"), "whitespace"),
    (InventoryEntry("v1", "ConfigMap", "a/b", "c"), "misplaced '/'"),
    (InventoryEntry("a/b/v1", "ConfigMap", "a", "c"), "misplaced '/'"),
])
def test_inventory_rejects_unwritable_entries(entry: InventoryEntry, problem: str) -> None:
    """Entries that could not be written as one line are refused."""
    with pytest.raises(ValueError, match=problem):
        Inventory.of([entry])


def test_inventory_from_manifests_skips_hooks() -> None:
    """Hooks and generateName objects never enter the inventory."""
    def manifest(body: dict[str, Any]) -> Manifest:
        return Manifest(ResourceKey.of(body), body)

    inv = Inventory.from_manifests([
        manifest({"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "web", "namespace": "shop"}}),
        manifest({"apiVersion": "batch/v1", "kind": "Job",
                  "metadata": {"name": "migrate", "namespace": "shop",
                               "annotations": {"argocd.argoproj.io/hook": "PreSync"}}}),
        manifest({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "test", "annotations": {"helm.sh/hook": "test"}}}),
        manifest({"apiVersion": "batch/v1", "kind": "Job",
                  "metadata": {"generateName": "x-", "namespace": "shop"}}),
    ])
    assert list(inv) == [E_DEPLOY]


def test_inventory_union_and_without() -> None:
    """union adds entries, without removes keys; both keep the order."""
    inv = Inventory.of([E_DEPLOY]).union([E_CM, E_NS])
    assert list(inv) == [E_CM, E_NS, E_DEPLOY]
    assert list(inv.without({E_NS.key})) == [E_CM, E_DEPLOY]


def test_inventory_configmap() -> None:
    """The ConfigMap body names the app, carries the fleet label and one line per entry."""
    body = Inventory.of([E_DEPLOY, E_NS, E_ROLE]).to_configmap(
        app="shop", fleet="prod", namespace="gitopsd-system")
    assert body == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "gitopsd-inv-shop", "namespace": "gitopsd-system",
                     "labels": {FLEET_LABEL: "prod"}, "annotations": {APP_ANNOTATION: "shop"}},
        "data": {INVENTORY_KEY: "v1 Namespace /shop\n"
                                "apps/v1 Deployment shop/web\n"
                                "rbac.authorization.k8s.io/v1 ClusterRole /system:controller:x\n"},
    }


def test_inventory_empty_configmap() -> None:
    """An empty inventory writes empty text and reads back empty, also without data."""
    body = Inventory().to_configmap(app="shop", fleet="prod", namespace="ns")
    assert body["data"] == {INVENTORY_KEY: ""}
    assert len(Inventory.from_configmap(body, app="shop")) == 0
    assert len(Inventory.from_configmap({"metadata": {"name": "x"}})) == 0


@pytest.mark.parametrize(("body", "problem"), [
    ({"metadata": {"name": "gitopsd-inv-shop", "annotations": {APP_ANNOTATION: "other"}},
      "data": {}}, "records application 'other', not 'shop'"),
    ({"metadata": {"name": "gitopsd-inv-shop"}, "data": {}}, "records application None"),
    ({"metadata": {"name": "gitopsd-inv-shop", "annotations": {APP_ANNOTATION: "shop"}},
      "data": {INVENTORY_KEY: "v1 ConfigMap a/b\n\nbroken line here extra\n"}},
     "gitopsd-inv-shop: inventory line 3: expected"),
    ({"metadata": {"name": "gitopsd-inv-shop", "annotations": {APP_ANNOTATION: "shop"}},
      "data": {INVENTORY_KEY: "v1 ConfigMap noslash\n"}}, "inventory line 1"),
    ({"metadata": {"name": "gitopsd-inv-shop", "annotations": {APP_ANNOTATION: "shop"}},
      "data": {INVENTORY_KEY: 7}}, "is not text"),
])
def test_inventory_from_configmap_errors(body: dict[str, Any], problem: str) -> None:
    """A ConfigMap of another app or with unreadable lines raises InventoryError."""
    with pytest.raises(InventoryError, match=re.escape(problem)):
        Inventory.from_configmap(body, app="shop")


entries = st.builds(
    InventoryEntry,
    api_version=st.from_regex(r"([a-z0-9.\-]{1,10}/)?v[0-9](beta[0-9])?", fullmatch=True),
    kind=st.from_regex(r"[A-Z][A-Za-z0-9]{0,12}", fullmatch=True),
    namespace=st.from_regex(r"([a-z0-9\-]{1,10})?", fullmatch=True),
    name=st.from_regex(r"[a-z0-9.:\-]{1,20}", fullmatch=True),
)


@given(st.lists(entries, max_size=20), st.text(min_size=1, max_size=80))
def test_inventory_configmap_round_trip(items: list[InventoryEntry], app: str) -> None:
    """Any inventory survives to_configmap then from_configmap for the same app."""
    inv = Inventory.of(items)
    body = inv.to_configmap(app=app, fleet="prod", namespace="gitopsd-system")
    assert Inventory.from_configmap(body, app=app) == inv


@given(st.lists(entries, max_size=20))
def test_inventory_text_is_sorted_and_unique(items: list[InventoryEntry]) -> None:
    """The written text lists each key once, in key order."""
    inv = Inventory.of(items)
    assert [e.key for e in inv] == sorted({e.key for e in items})
    assert inv.to_text().count("\n") == len({e.key for e in items})


# --- ConfigMap names -------------------------------------------------------

@pytest.mark.parametrize(("app", "expected"), [
    ("shop", "gitopsd-inv-shop"),
    ("team-a-frontend", "gitopsd-inv-team-a-frontend"),
    ("x" * 51, "gitopsd-inv-" + "x" * 51),
])
def test_inventory_name_plain(app: str, expected: str) -> None:
    """Short DNS-label app names are used as they are."""
    assert inventory_name(app) == expected


@pytest.mark.parametrize("app", ["x" * 52, "Shop", "team_a", "a.b", "x-", "", "ü" * 10])
def test_inventory_name_hashed(app: str) -> None:
    """Long or non-DNS app names are shortened and hashed into a valid, distinct label."""
    name = inventory_name(app)
    assert DNS_LABEL.match(name)
    assert len(name) <= 63
    assert name.startswith("gitopsd-inv-")
    assert name != "gitopsd-inv-" + app


@given(st.text(max_size=120), st.text(max_size=120))
def test_inventory_name_valid_and_distinct(app: str, other: str) -> None:
    """Every app name maps to a valid DNS label; different apps map to different names."""
    name = inventory_name(app)
    assert DNS_LABEL.match(name)
    assert len(name) <= 63
    assert inventory_name(app) == name
    if app != other:
        assert inventory_name(other) != name


# --- pruning ---------------------------------------------------------------

@pytest.mark.parametrize(("desired", "candidates"), [
    ({E_DEPLOY.key, E_NS.key, E_CM.key}, []),
    ({E_DEPLOY.key, E_NS.key}, [E_CM]),
    ({E_NS.key, ResourceKey("", "Secret", "shop", "new")}, [E_CM, E_DEPLOY]),
    (set(), [E_CM, E_NS, E_DEPLOY]),
])
def test_prune_candidates(desired: set[ResourceKey], candidates: list[InventoryEntry]) -> None:
    """Candidates are inventory entries no longer desired."""
    inv = Inventory.of([E_DEPLOY, E_NS, E_CM])
    assert prune_candidates(inv, desired) == tuple(candidates)


def test_recover_takes_only_the_apps_own_objects_and_no_hooks() -> None:
    """A lost inventory is rebuilt from the objects whose tracking id names this application and
    the object itself; copies, other applications' objects, other fleets' and hooks stay out."""
    def obj(name: str, app: str = "web", fleet: str = "f", **annotations: str) -> dict[str, Any]:
        body = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": "ns", "annotations": annotations}}
        return stamp(body, fleet=fleet, app=app, key=ResourceKey("apps", "Deployment", "ns", name))
    copied = obj("copy")
    copied["metadata"]["annotations"][TRACKING_ANNOTATION] = "web:apps/Deployment:ns/original"
    live = [obj("mine"), obj("theirs", app="other"), obj("elsewhere", fleet="g"), copied,
            obj("hook", **{"argocd.argoproj.io/hook": "PreSync"}),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "unmarked", "namespace": "ns"}}]
    assert recover(live, fleet="f", app="web") == Inventory.of(
        [InventoryEntry("apps/v1", "Deployment", "ns", "mine")])


def test_prune_candidates_of_empty_inventory() -> None:
    """An empty inventory has nothing to prune."""
    assert prune_candidates(Inventory(), set()) == ()
