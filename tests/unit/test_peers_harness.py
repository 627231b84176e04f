"""The peer benchmark's pure parts: CGI responses, request counting and the results table."""

from __future__ import annotations

from tests.peers.githttp import parse_cgi
from tests.peers.measure import request_delta
from tests.peers.table import markdown


def metrics(counts: dict[tuple[str, str, str], int]) -> str:
    """/metrics text with one apiserver_request_total line per (verb, resource, dry_run)."""
    return "".join(f'apiserver_request_total{{code="200",dry_run="{d}",resource="{r}",subresource="",'
                   f'verb="{v}"}} {n}\n' for (v, r, d), n in counts.items())


def test_cgi_status_and_headers_are_split_from_the_body() -> None:
    """A CGI Status line becomes the HTTP status and the other header lines stay headers."""
    raw = b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno\r\n\r\nrepo"
    status, headers, body = parse_cgi(raw)
    assert (status, headers, body) == (404, [("Content-Type", "text/plain")], b"no\r\n\r\nrepo")


def test_cgi_without_status_is_ok() -> None:
    """A CGI response without a Status line is a 200."""
    assert parse_cgi(b"Content-Type: x\n\nbody")[0] == 200


def test_request_delta_separates_managed_kinds_dry_runs_and_reads() -> None:
    """Writes to managed kinds, their dry-runs, other writes and reads are counted apart."""
    before = metrics({("GET", "configmaps", ""): 5, ("APPLY", "configmaps", "All"): 1,
                      ("PUT", "leases", ""): 10, ("PATCH", "configmaps", ""): 2, ("LIST", "secrets", ""): 1})
    after = metrics({("GET", "configmaps", ""): 9, ("APPLY", "configmaps", "All"): 4,
                     ("PUT", "leases", ""): 13, ("PATCH", "configmaps", ""): 3, ("LIST", "secrets", ""): 3})
    got = request_delta(before, after)
    assert got == {"writes": 4, "writes_managed": 1, "dry_run_managed": 3, "reads": 6, "reads_managed": 4}


def test_table_shows_a_failed_tool_as_an_error_and_measured_ones_as_figures() -> None:
    """A tool with an error and no figures gets an error cell, a measured tool its figures."""
    series = {"n": 3, "failures": 1, "p50": 0.02, "p95": 1.5, "p99": 1.5, "max": 1.5}
    result = {"settings": {"poll": 15.0, "objects": 50, "window": 35.0},
              "tools": {"gitopsd": {"drift_fast": series}, "argocd": {"error": "RuntimeError: not built"}}}
    first = markdown(result).splitlines()[2].split(" | ")
    assert first[1] == "20 ms / 1.50 s / 1.50 s (n=3, 1 not reverted in time)"
    assert first[3] == "error (see below)"
    assert first[2] == "n/a"


def test_table_shows_the_unmanaged_rows_only_when_the_run_had_unmanaged_objects() -> None:
    """With unmanaged objects the table gains their RSS, CPU and request rows, filled per tool."""
    idle = {"rss_mb": 140.4, "cpu_percent": 0.2, "writes_managed": 0, "dry_run_managed": 0, "writes": 8,
            "reads": 9}
    settings = {"poll": 10.0, "objects": 50, "window": 25.0}
    tools = {"gitopsd": {"idle": idle, "unmanaged": {**idle, "rss_mb": 151.6, "cpu_percent": 0.31}}}
    without = markdown({"settings": settings, "tools": tools}).splitlines()
    rows = markdown({"settings": {**settings, "unmanaged": 20_000}, "tools": tools}).splitlines()
    assert len(rows) == len(without) + 3
    added = {r.split(" | ")[0].removeprefix("| "): r.split(" | ")[1] for r in rows if "20,000" in r}
    assert added == {
        "RSS with 20,000 unmanaged ConfigMaps present (MB, all processes)": "152",
        "idle CPU with 20,000 unmanaged ConfigMaps present (% of one core)": "0.31",
        "idle 25 s window with 20,000 unmanaged ConfigMaps: writes to managed kinds / all writes / reads":
            "0 (+0 dry-run) / 8 / 9"}
