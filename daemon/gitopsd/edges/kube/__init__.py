"""The Kubernetes edge: clients, discovery, object operations and watches."""

from gitopsd.edges.kube.client import KubeClient
from gitopsd.edges.kube.discovery import Discovery, ResourceInfo
from gitopsd.edges.kube.objects import FIELD_MANAGER, Objects
from gitopsd.errors import UnknownKind

__all__ = ["FIELD_MANAGER", "Discovery", "KubeClient", "Objects", "ResourceInfo", "UnknownKind"]
