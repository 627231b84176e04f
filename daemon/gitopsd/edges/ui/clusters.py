"""The clusters page: each cluster of the fleet, whether it answers, its watches and its bastion.

It shows what the daemon knows of each cluster (labels, API server, the SSH
jump host it is reached through, how many instances it carries and the state
of its watches), escaped. It never shows a kubeconfig, key file or token, and
must not reach the daemon or a cluster: it formats only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from .layout import badge, esc, page

__all__ = ["clusters_page"]


def _reachable(row: Mapping[str, Any]) -> str:
    state = row.get("reachable")
    return badge("Unknown") if state is None else badge("Reachable" if state else "Unreachable")


def _watches(row: Mapping[str, Any]) -> str:
    watched, failing = int(row.get("watched") or 0), int(row.get("failing") or 0)
    text = f"{watched} kind{'' if watched == 1 else 's'} watched"
    if failing:
        text += f", {failing} failing: {row.get('message', '')}"
    return esc(text)


def _row(r: Mapping[str, Any]) -> str:
    name = str(r.get("cluster", ""))
    labels = ", ".join(f"{k}={v}" for k, v in sorted((r.get("labels") or {}).items())) or "-"
    return (f'<tr id="cluster:{esc(name)}"><td><a href="/ui/?{esc(urlencode({"cluster": name}))}">'
            f"{esc(name)}</a></td><td>{_reachable(r)}</td><td class=msg>{_watches(r)}</td>"
            f"<td>{esc(r.get('instances', 0))}</td><td>{esc(r.get('bastion') or 'direct')}</td>"
            f"<td><code>{esc(r.get('server') or '-')}</code></td><td>{esc(labels)}</td></tr>")


def clusters_page(rows: Sequence[Mapping[str, Any]], *, signed_in: bool, csrf: str = "") -> str:
    """The table of the fleet's clusters, each linked to the overview filtered to it."""
    table = ("<table><tr><th>Cluster</th><th>API</th><th>Watches</th><th>Instances</th>"
             f"<th>Bastion</th><th>Server</th><th>Labels</th></tr>{''.join(_row(r) for r in rows)}</table>")
    return page("Clusters", f"<h1>Clusters</h1>{table}", signed_in=signed_in, csrf=csrf)
