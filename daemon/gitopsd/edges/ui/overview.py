"""The fleet overview: every application instance as a row, with counts and query-string filters.

The row cells are rendered by ``cells`` both for the page and for the live
updates (``/ui/events`` sends the same escaped cell HTML), so a cell looks the
same whether it came with the page or later. Rows stay compact (a fleet of
1,000 instances is one page): the live fields are named once, in the table's
header, and the script finds a row's cell by its column. Filtering is by
``status`` (a sync status or health), ``project``, ``app``, ``cluster`` and
``label`` (``key=value`` of the cluster's labels). This module formats only; it must not reach the daemon.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from .layout import badge, esc, href, page, short, when

__all__ = ["FILTERS", "SCRIPT_SOURCE", "cells", "matches", "overview", "row_id"]

FILTERS = ("status", "project", "app", "cluster", "label")
# the cells that live updates replace, in column order, with their headings ("message" is last)
_LIVE = (("sync", "Sync"), ("health", "Health"), ("revision", "Revision"), ("last", "Last sync"),
         ("message", "Message"))

_SCRIPT = """
if(window.EventSource){const col={};
document.querySelectorAll('th[data-f]').forEach(function(th){col[th.dataset.f]=th.cellIndex;});
const es=new EventSource('/ui/events');
es.onmessage=function(e){const r=JSON.parse(e.data);const tr=document.getElementById(r.id);
if(!tr)return;for(const f in r.cells){const td=tr.cells[col[f]];if(td)td.innerHTML=r.cells[f];}};}
"""
# the Content-Security-Policy source that allows exactly this script and no other
SCRIPT_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode() + "'"


def row_id(row: Mapping[str, Any]) -> str:
    """The element id of an instance's table row."""
    return f"row:{row.get('app', '')}/{row.get('cluster', '')}"


def matches(row: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    """Whether ROW passes every filter given (empty values are ignored)."""
    for name, wanted in filters.items():
        if not wanted:
            continue
        if name == "status":
            if wanted not in (str(row.get("sync_status", "")), str(row.get("health", ""))):
                return False
        elif name == "label":
            key, _, value = wanted.partition("=")
            labels = row.get("labels") or {}
            if key not in labels or (value and str(labels[key]) != value):
                return False
        elif str(row.get(name, "")) != wanted:
            return False
    return True


def cells(row: Mapping[str, Any]) -> dict[str, str]:
    """The live cells of ROW, each as escaped HTML, by field name."""
    last = row.get("last_sync") or {}
    return {"sync": badge(row.get("sync_status")), "health": badge(row.get("health")),
            "revision": short(row.get("revision")),
            "last": f"{badge(last.get('result') or '-')} {esc(when(last.get('started')))}",
            "message": esc(str(last.get("message") or "")[:160])}


def _sync_button(row: Mapping[str, Any]) -> str:
    """A Sync button posting the table's form (and its one CSRF field) to this row's instance."""
    action = href("instances", str(row["app"]), str(row["cluster"]), "sync")
    return f'<button type="submit" formaction="{action}">Sync</button>'


def _filters_form(filters: Mapping[str, str], rows: Sequence[Mapping[str, Any]]) -> str:
    statuses = sorted({str(r.get(f, "")) for r in rows for f in ("sync_status", "health")})
    options = "".join(f'<option{" selected" if s == filters.get("status") else ""}>{esc(s)}</option>'
                      for s in statuses if s)
    inputs = "".join(f'<input name="{n}" placeholder="{n}" value="{esc(filters.get(n, ""))}">'
                     for n in ("project", "app", "cluster", "label"))
    return (f'<form class="filters" method="get" action="/ui/"><select name="status">'
            f'<option value="">any status</option>{options}</select>{inputs}'
            '<button type="submit">Filter</button> <a href="/ui/">clear</a></form>')


def _counts(rows: Sequence[Mapping[str, Any]]) -> str:
    sync = Counter(str(r.get("sync_status", "")) for r in rows)
    health = Counter(str(r.get("health", "")) for r in rows)
    parts = [f"<span><b>{len(rows)}</b> instances</span>"]
    parts += [f'<span><a href="/ui/?{esc(urlencode({"status": k}))}">{badge(k)}</a> {n}</span>'
              for k, n in sorted(sync.items()) + sorted(health.items())]
    return f'<p class="counts">{"".join(parts)}</p>'


def overview(rows: Sequence[Mapping[str, Any]], filters: Mapping[str, str], *,
             signed_in: bool, csrf: str = "", flash: str = "") -> str:
    """The overview page of ROWS (all of them, for the counts) shown through FILTERS."""
    shown = [r for r in rows if matches(r, filters)]
    # the live fields are named once, in the header; the script finds a row's cell by column
    head = ("<tr><th>Application</th><th>Cluster</th><th>Project</th>"
            + "".join(f'<th data-f="{f}">{title}</th>' for f, title in _LIVE)
            + ("<th></th>" if signed_in else "") + "</tr>")
    body = []
    for r in shown:
        app, cluster = str(r.get("app", "")), str(r.get("cluster", ""))
        c = cells(r)
        body.append(
            f'<tr id="{esc(row_id(r))}"><td><a href="{href("instances", app, cluster)}">{esc(app)}</a></td>'
            f"<td>{esc(cluster)}</td><td>{esc(r.get('project', ''))}</td>"
            + "".join(f"<td>{c[f]}</td>" for f, _ in _LIVE[:-1]) + f"<td class=msg>{c['message']}</td>"
            + (f"<td>{_sync_button(r)}</td>" if signed_in else "") + "</tr>")
    note = f'<p class="flash">{esc(flash)}</p>' if flash else ""
    table = f"<table>{head}{''.join(body)}</table>"
    if signed_in:  # one form around the table: each row's button posts it to its own instance
        table = (f'<form method="post" action="/ui/"><input type="hidden" name="csrf" value="{esc(csrf)}">'
                 f"{table}</form>")
    content = (f"<h1>Fleet</h1>{note}{_counts(rows)}{_filters_form(filters, rows)}"
               f"<p>{len(shown)} shown</p>{table}")
    return page("Fleet", content, signed_in=signed_in, csrf=csrf, script=_SCRIPT)
