"""The pages of one application instance: its objects by sync wave, its diff, its history, sign-in.

The objects and diff come from the daemon's read-only comparison, whose diff
text is already masked (Secret values never reach it); this module shows only
names, states, messages and that text, escaped. It formats only and must not
reach the daemon or a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import Any

from .layout import badge, esc, href, page, short, when

__all__ = ["diff_page", "history_page", "instance_page", "login_page"]

Row = Mapping[str, Any]


def _trace(trace_id: object, traces_url: str) -> str:
    text = str(trace_id or "")
    if not text:
        return "-"
    if not traces_url:
        return f"<code>{esc(text)}</code>"
    return f'<a href="{esc(traces_url.replace("{traceId}", text))}"><code>{esc(text)}</code></a>'


def _sync_form(app: str, cluster: str, csrf: str) -> str:
    return (f'<form class="inline" method="post" action="{href("instances", app, cluster, "sync")}">'
            f'<input type="hidden" name="csrf" value="{esc(csrf)}"><button type="submit">Sync now</button>'
            "</form>")


def _objects(inspected: Row | None, error: str) -> str:
    if inspected is None:
        return f'<p class="flash">The cluster could not be compared now: {esc(error)}</p>'
    objects: Sequence[Row] = inspected.get("objects", [])
    if not objects:
        return "<p>No objects.</p>"
    out = [f"<p>Compared at {short(inspected.get('revision'))}: {esc(inspected.get('summary', ''))}</p>"]
    for wave, group in groupby(objects, key=lambda o: o.get("wave", 0)):
        out.append(f"<h3>Wave {esc(wave)}</h3><table><tr><th>Kind</th><th>Namespace</th><th>Name</th>"
                   "<th>Sync</th><th>Health</th><th>Message</th></tr>")
        out += [f"<tr><td>{esc(o.get('kind'))}</td><td>{esc(o.get('namespace') or '-')}</td>"
                f"<td>{esc(o.get('name'))}</td><td>{badge(o.get('sync'))}</td>"
                f"<td>{badge(o.get('health')) if o.get('health') else '-'}</td>"
                f'<td class="msg">{esc(o.get("message", ""))}</td></tr>' for o in group]
        out.append("</table>")
    return "".join(out)


def _conditions(row: Row) -> str:
    conditions: Sequence[Row] = row.get("conditions") or []
    if not conditions:
        return "<p>None.</p>"
    return ("<table><tr><th>Type</th><th>Reason</th><th>Message</th></tr>"
            + "".join(f"<tr><td>{esc(c.get('type'))}</td><td>{esc(c.get('reason'))}</td>"
                      f'<td class="msg">{esc(c.get("message"))}</td></tr>' for c in conditions)
            + "</table>")


def _commit(revision: object, commit: Row) -> str:
    """A revision with its commit's subject and author, when the repository cache knows them."""
    if not commit.get("subject"):
        return short(revision)
    return (f"{short(revision)} {esc(commit.get('subject'))} "
            f'<span class="msg">by {esc(commit.get("author", ""))}</span>')


def instance_page(row: Row, inspected: Row | None, history: Sequence[Row], *, commit: Row | None = None,
                  error: str = "",
                  traces_url: str = "", signed_in: bool, csrf: str = "", flash: str = "") -> str:
    """One instance: status, conditions, last sync's changes, objects by wave, links."""
    app, cluster = str(row["app"]), str(row["cluster"])
    last = row.get("last_sync") or {}
    changes = history[0].get("changes", {}) if history else {}
    changed = ", ".join(f"{n} {esc(k)}" for k, n in sorted(changes.items())) or "none recorded"
    links = [f'<a href="{href("instances", app, cluster, "history")}">History</a>']
    if inspected is not None and any(o.get("sync") != "InSync" for o in inspected.get("objects", [])):
        links.append(f'<a href="{href("instances", app, cluster, "diff")}">Diff</a>')
    note = f'<p class="flash">{esc(flash)}</p>' if flash else ""
    body = (f"<h1>{esc(app)} on {esc(cluster)}</h1>{note}<p>{' · '.join(links)}"
            f"{' · ' + _sync_form(app, cluster, csrf) if signed_in else ''}</p><table>"
            f"<tr><th>Sync</th><td>{badge(row.get('sync_status'))}</td></tr>"
            f"<tr><th>Health</th><td>{badge(row.get('health'))} "
            f"{esc(row.get('health_message', ''))}</td></tr>"
            f"<tr><th>Project</th><td>{esc(row.get('project', ''))}</td></tr>"
            f"<tr><th>Revision applied</th><td>{_commit(row.get('revision'), commit or {})}</td></tr>"
            f"<tr><th>Failed revision</th><td>{short(row.get('failed_revision'))}</td></tr>"
            f"<tr><th>Last sync</th><td>{badge(last.get('result') or '-')} {esc(when(last.get('started')))} "
            f"at {short(last.get('revision'))}: {esc(last.get('message', ''))}</td></tr>"
            f"<tr><th>Last sync's changes</th><td>{changed}</td></tr>"
            f"<tr><th>Trace</th><td>{_trace(last.get('trace_id'), traces_url)}</td></tr></table>"
            f"<h2>Conditions</h2>{_conditions(row)}<h2>Objects</h2>{_objects(inspected, error)}")
    return page(f"{app}/{cluster}", body, signed_in=signed_in, csrf=csrf)


def diff_page(app: str, cluster: str, inspected: Row | None, *, error: str = "",
              signed_in: bool, csrf: str = "") -> str:
    """The masked diff of every object of one instance that differs from Git."""
    if inspected is None:
        content = f'<p class="flash">The cluster could not be compared now: {esc(error)}</p>'
    else:
        differing = [o for o in inspected.get("objects", []) if o.get("sync") != "InSync"]
        parts = [f"<p>Desired at {short(inspected.get('revision'))}: {esc(inspected.get('summary', ''))}</p>"]
        for o in differing:
            name = "/".join(str(o.get(k) or "") for k in ("kind", "namespace", "name"))
            parts.append(f"<h3>{badge(o.get('sync'))} {esc(name)}</h3>"
                         + (f"<pre>{esc(o.get('diff'))}</pre>" if o.get("diff") else
                            f"<p>{esc(o.get('message', ''))}</p>"))
        content = "".join(parts) if differing else "<p>In sync: nothing differs.</p>"
    body = (f'<h1>Diff of <a href="{href("instances", app, cluster)}">{esc(app)} on {esc(cluster)}</a>'
            f"</h1>{content}")
    return page(f"diff {app}/{cluster}", body, signed_in=signed_in, csrf=csrf)


def _rollback_button(entry: Row) -> str:
    """A Roll back button posting the table's form (and its one CSRF field) with this entry's id."""
    if not entry.get("revision"):
        return ""
    return f'<button type="submit" name="id" value="{esc(entry.get("id"))}">Roll back</button>'


def history_page(app: str, cluster: str, history: Sequence[Row], *, traces_url: str = "",
                 signed_in: bool, csrf: str = "", flash: str = "") -> str:
    """The kept syncs of one instance, newest first; signed in, each with a Roll back button."""
    rows = "".join(
        f"<tr><td>{esc(h.get('id'))}</td><td>{_commit(h.get('revision'), h)}</td>"
        f"<td>{esc(when(h.get('started')))}</td>"
        f"<td>{float(h.get('duration') or 0):.1f}s</td><td>{badge(h.get('result'))}</td>"
        f'<td class="msg">{esc(h.get("message", ""))}</td>'
        f'<td>{_trace(h.get("trace_id"), traces_url)}</td>'
        + (f"<td>{_rollback_button(h)}</td>" if signed_in else "") + "</tr>"
        for h in history)
    table = ("<table><tr><th>ID</th><th>Revision</th><th>Started (UTC)</th><th>Duration</th><th>Result</th>"
             f"<th>Message</th><th>Trace</th>{'<th></th>' if signed_in else ''}</tr>{rows}</table>")
    if signed_in:
        table = (f'<form method="post" action="{href("instances", app, cluster, "rollback")}">'
                 f'<input type="hidden" name="csrf" value="{esc(csrf)}">{table}</form>')
    note = f'<p class="flash">{esc(flash)}</p>' if flash else ""
    body = (f'<h1>History of <a href="{href("instances", app, cluster)}">'
            f"{esc(app)} on {esc(cluster)}</a></h1>{note}"
            "<p>Roll back with <code>gitopsd rollback APP ID --cluster CLUSTER</code>"
            f"{' or a Roll back button' if signed_in else ''}: refused while the application "
            f"syncs automatically.</p>{table}")
    return page(f"history {app}/{cluster}", body, signed_in=signed_in, csrf=csrf)


def login_page(*, failed: bool = False) -> str:
    """The sign-in form: the daemon's API token, sent once, exchanged for a session cookie."""
    note = '<p class="flash">That token is not the daemon\'s API token.</p>' if failed else ""
    body = (f"<h1>Sign in</h1>{note}<p>Paste the daemon's API token (the file <code>api-token</code> "
            "in its state directory, or its <code>--api-token-file</code>) to sync from these pages.</p>"
            '<form method="post" action="/ui/login"><input type="password" name="token" '
            'autocomplete="current-password" size="50" required> '
            '<button type="submit">Sign in</button></form>')
    return page("Sign in", body, signed_in=False)
