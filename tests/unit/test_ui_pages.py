"""The status pages' HTML builders and sessions: filters, escaping, links and CSRF tokens."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest

from gitopsd.edges.ui.instance import diff_page, history_page, instance_page
from gitopsd.edges.ui.overview import SCRIPT_SOURCE, cells, matches, overview
from gitopsd.edges.ui.session import LIFETIME, Sessions

EVIL = '<script>alert("x")</script>'


def row(app: str = "web", cluster: str = "prod", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"app": app, "cluster": cluster, "sync_status": "Synced", "health": "Healthy",
                            "revision": "a" * 40, "project": "default", "labels": {"env": "prod"},
                            "last_sync": {"result": "Synced", "started": 1.7e9, "message": "ok",
                                          "trace_id": "abc"}, "conditions": []}
    base.update(extra)
    return base


@pytest.mark.parametrize(("filters", "shown"), [
    ({}, True), ({"status": "Synced"}, True), ({"status": "Healthy"}, True),
    ({"status": "OutOfSync"}, False), ({"label": "env=prod"}, True), ({"label": "env"}, True),
    ({"label": "env=dev"}, False), ({"label": "tier"}, False), ({"project": "default"}, True),
    ({"project": "other"}, False), ({"app": "web", "cluster": "prod"}, True), ({"cluster": "x"}, False),
])
def test_filters(filters: dict[str, str], shown: bool) -> None:
    """Each query-string filter keeps exactly the rows it names."""
    assert matches(row(), filters) is shown


def test_values_from_git_and_clusters_are_escaped() -> None:
    """A name or message carrying markup reaches the page only as text."""
    evil = row(app=EVIL, cluster=EVIL, project=EVIL, last_sync={"result": EVIL, "message": EVIL},
               conditions=[{"type": EVIL, "reason": EVIL, "message": EVIL}])
    inspected = {"revision": EVIL, "summary": EVIL,
                 "objects": [{"wave": 0, "kind": EVIL, "namespace": EVIL, "name": EVIL, "sync": "OutOfSync",
                              "health": EVIL, "message": EVIL, "diff": EVIL}]}
    pages = [overview([evil], {"app": EVIL}, signed_in=True, csrf=EVIL),
             instance_page(evil, inspected, [{"changes": {EVIL: 1}}], signed_in=True, csrf=EVIL,
                           traces_url='https://t/"{traceId}'),
             diff_page(EVIL, EVIL, inspected, signed_in=False),
             history_page(EVIL, EVIL, [{"id": EVIL, "revision": EVIL, "result": EVIL, "message": EVIL}],
                          signed_in=False)]
    for text in pages:
        assert EVIL not in text
        assert "&lt;script&gt;" in text
    assert "<script>alert" not in "".join(cells(evil).values())


def test_sync_buttons_only_when_signed_in() -> None:
    """Signed out the overview has no Sync form; signed in each row's form carries the CSRF token."""
    assert "/sync" not in overview([row()], {}, signed_in=False)
    page = overview([row()], {}, signed_in=True, csrf="tok123")
    assert 'formaction="/ui/instances/web/prod/sync"' in page
    assert 'value="tok123"' in page


def test_trace_link_follows_traces_url() -> None:
    """The last sync's trace id links to settings.tracesUrl, and is plain text without it."""
    linked = instance_page(row(), None, [], signed_in=False, traces_url="https://jaeger/trace/{traceId}")
    assert 'href="https://jaeger/trace/abc"' in linked
    assert "jaeger" not in instance_page(row(), None, [], signed_in=False)


def test_sessions_and_csrf() -> None:
    """A CSRF token is valid only for its own live session, and not after sign-out or expiry."""
    now = [0.0]
    sessions = Sessions(clock=lambda: now[0])
    one, two = sessions.open(), sessions.open()
    assert sessions.csrf_ok(one, sessions.csrf(one))
    assert not sessions.csrf_ok(one, sessions.csrf(two))
    assert not sessions.csrf_ok("made-up", sessions.csrf("made-up"))
    assert not sessions.csrf_ok(one, "")
    sessions.close(one)
    assert not sessions.valid(one)
    assert sessions.valid(two)
    now[0] = LIFETIME + 1
    assert not sessions.valid(two)


def test_the_policy_allows_exactly_the_page_script() -> None:
    """The Content-Security-Policy hash is the hash of the one inline script the overview carries."""
    scripts = re.findall(r"<script>(.*?)</script>", overview([row()], {}, signed_in=False), re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" == SCRIPT_SOURCE
