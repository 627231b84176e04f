"""Secrets kept encrypted in Git reach the cluster decrypted, and nowhere else in clear.

Every encrypted file is made by the real sops binary for a test-only age key;
syncs run against the real API server, from real Git repositories. After each
sync, every file under the state directory, the captured logs and the API's
answers are searched for the clear values (and their base64 forms).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd.edges.telemetry.logging import clear_secrets, configure_logging, unconfigure_logging
from gitopsd.localcluster import LocalCluster
from gitopsd.model import OutcomeKind, SyncPolicy
from tests.integration.daemonproc import DaemonProc, fleet_doc, poll_until
from tests.integration.synckit import cm, kit
from tests.integration.test_render_cli import run_cli
from tests.unit.test_sops import AgeKey, SopsKit

TESTDATA = Path(__file__).parent / "testdata" / "sops"
AUTO = SyncPolicy(automated=True, prune=True, self_heal=True)


@pytest.fixture(scope="module")
def sops(tmp_path_factory: pytest.TempPathFactory) -> SopsKit:
    """The real sops and age-keygen binaries in a scratch directory."""
    return SopsKit(tmp_path_factory.mktemp("sops-integration"))


@pytest.fixture(scope="module")
def age_key(sops: SopsKit) -> AgeKey:
    """The management host's age key for these tests."""
    return sops.key()


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """gitopsd's JSON logs at debug level, captured for the test."""
    stream = io.StringIO()
    level = logging.getLogger().level
    configure_logging("debug", stream)
    try:
        yield stream
    finally:
        unconfigure_logging()
        logging.getLogger().setLevel(level)
        clear_secrets()


def _clear_values() -> dict[str, str]:
    token = uuid.uuid4().hex
    return {"password": f"pw-{token}", "api-key": f"key-{token[::-1]}"}


def _secret(name: str, values: dict[str, str]) -> str:
    """A Secret with one value in stringData and one in data (base64), as users write them."""
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque",
        "stringData": {"password": values["password"]},
        "data": {"api-key": base64.b64encode(values["api-key"].encode()).decode()},
    }, sort_keys=False)


def _forms(values: dict[str, str]) -> list[bytes]:
    """Every way a clear value could be written down: as is and base64-encoded."""
    out = []
    for value in values.values():
        out += [value.encode(), base64.b64encode(value.encode())]
    return out


def _leaks(root: Path, forms: list[bytes]) -> list[str]:
    """Files under ROOT that contain any of FORMS."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [str(path) for form in forms if form in data]
    return found


def _live_secret(cluster: LocalCluster, ns: str, name: str) -> dict[str, str] | None:
    status, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets/{name}")
    if status != 200:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (body.get("data") or {}).items()}


def _install_sealed_secret_crd(cluster: LocalCluster) -> None:
    crd = yaml.safe_load((TESTDATA / "sealedsecret-crd.yaml").read_text())
    status, body = cluster.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert status in (201, 409), body
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body = cluster.request(
            "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/sealedsecrets.bitnami.com")
        # A definition just created reports ``conditions: null`` until the server names it.
        raw = (body.get("status") or {}).get("conditions") or []
        conditions = {c["type"]: c["status"] for c in raw}
        if conditions.get("Established") == "True":
            return
        time.sleep(0.2)
    raise AssertionError("SealedSecret CRD never became established")


@pytest.mark.asyncio
async def test_sops_secret_synced_and_sealed_secret_passes_through(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path, sops: SopsKit,
        age_key: AgeKey, captured_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SOPS Secret lands decrypted, a SealedSecret unchanged, and no clear value is stored or logged."""
    _install_sealed_secret_crd(cluster_a)
    ns = make_namespace(cluster_a)
    values = _clear_values()
    sealed_text = (TESTDATA / "sealedsecret.yaml").read_text()
    repo = git_repos.new()
    repo.commit({"app/db.enc.yaml": sops.encrypt(_secret("db", values), [age_key.recipient]),
                 "app/sealed.yaml": sealed_text,
                 "app/settings.yaml": cm("settings", {"mode": "fast"})})
    monkeypatch.setenv("GITOPSD_AGE_KEY_FILE", str(age_key.file))
    state = tmp_path / "state"
    async with kit(cluster_a, repo, state, app="sops", path="app", namespace=ns, policy=AUTO) as k:
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.SYNCED, outcome.message
        assert _live_secret(cluster_a, ns, "db") == values
        status, live = cluster_a.request(
            "GET", f"/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets/db")
        assert status == 200, live
        assert live["spec"] == yaml.safe_load(sealed_text)["spec"]
        k.writes.clear()
        again = await k.sync()
        assert again.kind is OutcomeKind.SYNCED, again.message
        assert k.writes == []
        shown = repr(outcome) + repr(again)
    logs = captured_logs.getvalue()
    for form in _forms(values):
        assert form.decode() not in shown
        assert form.decode() not in logs
    assert age_key.identity not in logs
    assert _leaks(state, _forms(values)) == []
    assert _leaks(state, [age_key.identity.encode()]) == []


@pytest.mark.asyncio
async def test_deletion_hook_from_a_sops_file_is_never_recorded_in_the_inventory(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path, sops: SopsKit,
        age_key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> None:
    """With cascadeDelete, deletion hooks are kept in the inventory ConfigMap, except when the
    render decrypted SOPS content: then no hook (and no clear value) is written there."""
    ns = make_namespace(cluster_a)
    values = _clear_values()
    hook = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "farewell", "annotations": {"argocd.argoproj.io/hook": "PostDelete"}},
            "data": dict(values)}
    plain = git_repos.new()
    plain.commit({"app/hook.yaml": yaml.safe_dump(hook), "app/settings.yaml": cm("settings", {"a": "b"})})
    encrypted = git_repos.new()
    encrypted.commit({"app/hook.enc.yaml": sops.encrypt(yaml.safe_dump(hook), [age_key.recipient]),
                      "app/settings.yaml": cm("settings2", {"a": "b"})})
    monkeypatch.setenv("GITOPSD_AGE_KEY_FILE", str(age_key.file))
    recorded = {}
    for name, repo in (("plainhooks", plain), ("sopshooks", encrypted)):
        async with kit(cluster_a, repo, tmp_path / name, app=name, path="app", namespace=ns,
                       policy=AUTO, cascade=True) as k:
            outcome = await k.sync()
            assert outcome.kind is OutcomeKind.SYNCED, outcome.message
        status, inventory = cluster_a.request(
            "GET", f"/api/v1/namespaces/gitopsd-system/configmaps/gitopsd-inv-{name}")
        assert status == 200
        recorded[name] = inventory["data"]
    hooks = json.loads(recorded["plainhooks"]["deletion-hooks"])
    assert [h["metadata"]["name"] for h in hooks] == ["farewell"]
    assert "deletion-hooks" not in recorded["sopshooks"]
    for form in _forms(values):
        assert form.decode() not in json.dumps(recorded["sopshooks"])


@pytest.mark.asyncio
async def test_kustomize_renders_sops_files_and_leaves_no_clear_copy(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path, sops: SopsKit,
        age_key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Kustomize overlay over a SOPS-encrypted base renders it decrypted; no clear copy stays on disk."""
    ns = make_namespace(cluster_a)
    values = _clear_values()
    repo = git_repos.new()
    repo.commit({
        "base/kustomization.yaml": "resources:\n- secret.enc.yaml\n",
        "base/secret.enc.yaml": sops.encrypt(_secret("api", values), [age_key.recipient],
                                             args=("--encrypted-regex", "^(data|stringData)$")),
        "overlay/kustomization.yaml": "resources:\n- ../base\nlabels:\n- pairs:\n    tier: api\n",
    })
    monkeypatch.setenv("GITOPSD_AGE_KEY_FILE", str(age_key.file))
    state = tmp_path / "state"
    async with kit(cluster_a, repo, state, app="kz", path="overlay", namespace=ns, policy=AUTO) as k:
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert _live_secret(cluster_a, ns, "api") == values
    status, live = cluster_a.request("GET", f"/api/v1/namespaces/{ns}/secrets/api")
    assert status == 200
    assert live["metadata"]["labels"]["tier"] == "api"
    assert _leaks(state, _forms(values)) == []


def test_diff_decrypts_sops_files_and_masks_their_values(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path, sops: SopsKit,
        age_key: AgeKey) -> None:
    """``gitopsd diff`` compares a SOPS Secret decrypted, as sync applies it: in sync after a
    sync, and after a change in the cluster a masked difference, never a clear value."""
    ns = make_namespace(cluster_a)
    values = _clear_values()
    repo = git_repos.new()
    repo.commit({"app/db.enc.yaml": sops.encrypt(_secret("db", values), [age_key.recipient]),
                 "app/settings.yaml": cm("settings", {"mode": "fast"})})
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet_doc(
        [("a", cluster_a.kubeconfig, {})], str(repo.path), apps=[{
            "name": "vault", "source": {"repo": "env", "targetRevision": "main", "path": "app"},
            "destination": {"clusters": {"matchLabels": {}}, "namespace": ns}}])))
    env = {"GITOPSD_AGE_KEY_FILE": str(age_key.file)}
    common = ("--config", fleet_file, "--state-dir", tmp_path / "state")
    synced = run_cli("sync", "vault", *common, env=env)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert _live_secret(cluster_a, ns, "db") == values

    clean = run_cli("diff", "vault", *common, env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "in sync: 2 objects" in clean.stdout

    changed = base64.b64encode(b"changed-in-the-cluster").decode()
    status, _ = cluster_a.request(
        "PATCH", f"/api/v1/namespaces/{ns}/secrets/db?fieldManager=kubectl-edit",
        {"data": {"password": changed}}, content_type="application/merge-patch+json")
    assert status == 200
    drift = run_cli("diff", "vault", *common, env=env)
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert f"OutOfSync: Secret {ns}/db" in drift.stdout
    assert "password: ++++++++" in drift.stdout
    assert "sops" not in drift.stdout
    for form in [*_forms(values), changed.encode(), b"changed-in-the-cluster"]:
        assert form.decode() not in drift.stdout + drift.stderr + clean.stdout + clean.stderr


@pytest.mark.asyncio
async def test_wrong_key_stalls_with_the_file_named(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path, sops: SopsKit,
        age_key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file this host cannot decrypt stalls the sync naming repo, revision and file; nothing is applied."""
    ns = make_namespace(cluster_a)
    values = _clear_values()
    stranger = sops.key()
    repo = git_repos.new()
    sha = repo.commit({"app/db.enc.yaml": sops.encrypt(_secret("db", values), [stranger.recipient]),
                       "app/settings.yaml": cm("settings", {"mode": "fast"})})
    monkeypatch.setenv("GITOPSD_AGE_KEY_FILE", str(age_key.file))
    async with kit(cluster_a, repo, tmp_path / "state", app="wrong", path="app", namespace=ns,
                   policy=AUTO) as k:
        outcome = await k.sync()
    assert outcome.kind is OutcomeKind.STALLED
    assert outcome.message.startswith(f"env@{sha[:12]}:app/db.enc.yaml: "), outcome.message
    assert stranger.recipient in outcome.message
    for form in _forms(values):
        assert form.decode() not in outcome.message
    assert k.writes == []
    assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/settings")[0] == 404


def test_daemon_with_systemd_credential(cluster_a: LocalCluster, make_namespace, git_repos,
                                        tmp_path: Path, sops: SopsKit, age_key: AgeKey) -> None:
    """``gitopsd run`` reads the key from $CREDENTIALS_DIRECTORY/age.key, applies the Secret and
    follows a re-encrypted change, with no clear value in its state directory, logs or API answers."""
    ns = make_namespace(cluster_a)
    first, second = _clear_values(), _clear_values()
    repo = git_repos.new()
    repo.commit({"app/db.enc.yaml": sops.encrypt(_secret("db", first), [age_key.recipient])})
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "age.key").write_bytes(age_key.file.read_bytes())
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s", apps=[{
        "name": "vault", "source": {"repo": "env", "targetRevision": "main", "path": "app"},
        "destination": {"clusters": {"matchLabels": {}}, "namespace": ns},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}])
    d = DaemonProc(fleet, tmp_path / "daemon", extra_env={"CREDENTIALS_DIRECTORY": str(credentials),
                                                          "GITOPSD_AGE_KEY_FILE": ""}).start()
    answers: list[Any] = []
    try:
        assert poll_until(lambda: _live_secret(cluster_a, ns, "db") == first, 30), d.logs()
        repo.commit({"app/db.enc.yaml": sops.encrypt(_secret("db", second), [age_key.recipient])})
        assert poll_until(lambda: _live_secret(cluster_a, ns, "db") == second, 30), d.logs()
        history = poll_until(lambda: len((h := d.get("/api/v1/instances/vault/a?limit=10") or {})
                                       .get("history", [])) >= 2 and h, 10)
        answers += [d.get("/api/v1/instances"), history]
        assert history, d.logs()
    finally:
        assert d.stop() == 0
    forms = _forms(first) + _forms(second)
    assert _leaks(tmp_path / "daemon" / "state", forms) == []
    logs = d.logs()
    answered = json.dumps(answers)
    for form in forms:
        assert form.decode() not in logs
        assert form.decode() not in answered
    assert age_key.identity not in logs
