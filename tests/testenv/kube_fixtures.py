"""Pytest fixtures for real local control planes (etcd + kube-apiserver, and a
workloads cluster with controller-manager, scheduler and kwok).

Control planes are shared per session and started only when a test asks for
them; tests isolate themselves with a fresh namespace each.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from kubernetes_asyncio import client, config

from gitopsd import localcluster
from gitopsd.localcluster import LocalCluster


def _start(tmp_path_factory: pytest.TempPathFactory, name: str, workloads: bool) -> Iterator[LocalCluster]:
    directory = tmp_path_factory.mktemp(f"cluster-{name}") / "plane"
    cluster = localcluster.up(name, directory, workloads=workloads, ready_timeout=120)
    try:
        yield cluster
    finally:
        localcluster.down(directory)


@pytest.fixture(scope="session")
def cluster_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """An API-only control plane."""
    yield from _start(tmp_path_factory, "alpha", workloads=False)


@pytest.fixture(scope="session")
def cluster_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A second, independent API-only control plane."""
    yield from _start(tmp_path_factory, "beta", workloads=False)


@pytest.fixture(scope="session")
def cluster_w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A control plane with controller-manager, scheduler and kwok fake nodes."""
    yield from _start(tmp_path_factory, "work", workloads=True)


async def api_client(kubeconfig: Path) -> client.ApiClient:
    """A kubernetes_asyncio client of its own for KUBECONFIG (never the global default)."""
    return await config.new_client_from_config(config_file=str(kubeconfig), persist_config=False)


@pytest_asyncio.fixture
async def kube_a(cluster_a: LocalCluster) -> AsyncIterator[client.ApiClient]:
    """An admin client of cluster A."""
    api = await api_client(cluster_a.kubeconfig)
    async with api:
        yield api


@pytest_asyncio.fixture
async def kube_b(cluster_b: LocalCluster) -> AsyncIterator[client.ApiClient]:
    """An admin client of cluster B."""
    api = await api_client(cluster_b.kubeconfig)
    async with api:
        yield api


@pytest.fixture
def make_namespace() -> Iterator[Callable[[LocalCluster], str]]:
    """Create fresh namespaces in the given clusters; they are deleted after the test."""
    made: list[tuple[LocalCluster, str]] = []

    def make(cluster: LocalCluster, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        status, body = cluster.request("POST", "/api/v1/namespaces",
                                       {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": name}})
        assert status == 201, f"creating namespace {name} failed: {status} {body}"
        made.append((cluster, name))
        return name

    yield make
    for cluster, name in made:
        cluster.request("DELETE", f"/api/v1/namespaces/{name}")
