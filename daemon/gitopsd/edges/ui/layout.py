"""The frame every status page shares: document shell, style sheet, escaping and small pieces.

Pages are built as strings on the server; every value that came from a fleet
file, Git or a cluster goes through ``esc`` (``html.escape`` with quotes) before
it reaches the page. Nothing is fetched from elsewhere: the style sheet and the
few lines of script are inline. This module must not know the daemon; it only
formats what it is handed.
"""

from __future__ import annotations

import functools
import html
import time
from urllib.parse import quote

__all__ = ["badge", "esc", "href", "page", "short", "when"]

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d232a;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center}
header a{color:#fff;text-decoration:none}header .grow{flex:1}
main{padding:1em 1.2em}table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #e3e6ea;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#eef0f3;font-weight:600}code,pre{font:12px ui-monospace,monospace}
pre{background:#fff;border:1px solid #e3e6ea;padding:.6em;overflow:auto}
.b{display:inline-block;border-radius:3px;padding:0 .45em;font-size:12px;color:#fff;background:#7a828c}
.Synced,.Healthy,.succeeded,.InSync,.Reachable{background:#1f883d}.OutOfSync,.Missing,.Extraneous{background:#bf8700}
.Degraded,.failed,.stalled,.Unreachable{background:#cf222e}.Progressing,.Suspended{background:#0969da}
.counts span{margin-right:1em}form.inline{display:inline}
.filters input,.filters select{margin-right:.5em}.msg{color:#57606a;max-width:40em}
.flash{background:#fff8c5;border:1px solid #d4a72c;padding:.5em;margin-bottom:1em}
"""


def esc(value: object) -> str:
    """VALUE as text safe inside HTML elements and quoted attributes."""
    return html.escape(str(value), quote=True)


@functools.lru_cache(maxsize=4096)
def _segment(part: str) -> str:
    return quote(part, safe="")


def href(*parts: str, query: str = "") -> str:
    """A path under ``/ui`` from PARTS, each percent-encoded, already escaped for an attribute."""
    path = "/ui/" + "/".join(_segment(p) for p in parts)
    return esc(path + (f"?{query}" if query else ""))


def badge(value: object) -> str:
    """A coloured label for a sync status, health or result (the class is the value itself)."""
    return _badge(str(value or "Unknown"))


@functools.lru_cache(maxsize=256)
def _badge(text: str) -> str:
    cls = "".join(c for c in text if c.isalnum())
    return f'<span class="b {cls}">{esc(text)}</span>'


def short(revision: object) -> str:
    """A revision shortened to 12 characters, escaped; "-" when there is none."""
    text = str(revision or "")
    return f'<code title="{esc(text)}">{esc(text[:12])}</code>' if text else "-"


def when(epoch: object) -> str:
    """Epoch seconds as UTC ``YYYY-MM-DD HH:MM:SS``; "-" for none."""
    if not isinstance(epoch, int | float) or epoch <= 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def page(title: str, body: str, *, signed_in: bool, csrf: str = "", script: str = "") -> str:
    """A whole document: header (sign in, or sign out with the CSRF token), BODY, inline SCRIPT."""
    if signed_in:
        account = (f'<form class="inline" method="post" action="/ui/logout">'
                   f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
                   '<button type="submit">Sign out</button></form>')
    else:
        account = '<a href="/ui/login">Sign in to sync</a>'
    tail = f"<script>{script}</script>" if script else ""
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{esc(title)} · gitopsd</title>"
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<style>{_STYLE}</style></head><body><header>"
            '<a href="/ui/"><b>gitopsd</b></a><a href="/ui/clusters">Clusters</a><span class="grow"></span>'
            f"{account}</header><main>{body}</main>{tail}</body></html>")
