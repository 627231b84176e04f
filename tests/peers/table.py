"""The peer results as one Markdown table: measure | gitopsd | Flux | Argo CD | floor.

Pure: takes the JSON the runner writes, returns text. A tool that failed or
was not built shows its error in its column instead of figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

COLUMNS = (("gitopsd", "gitopsd"), ("flux", "Flux"), ("argocd", "Argo CD"), ("floor", "floor"))


def ms(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def triple(s: dict[str, Any] | None) -> str:
    """p50 / p95 / p99 of a series summary, with its size and failures."""
    if not s:
        return ""
    fails = f", {s['failures']} not reverted in time" if s.get("failures") else ""
    return f"{ms(s['p50'])} / {ms(s['p95'])} / {ms(s['p99'])} (n={s['n']}{fails})"


def p50_max(s: dict[str, Any] | None) -> str:
    if not s:
        return ""
    fails = f", {s['failures']} missed" if s.get("failures") else ""
    return f"{ms(s['p50'])} / {ms(s['max'])} (n={s['n']}{fails})"


def requests(i: dict[str, Any] | None) -> str:
    if not i:
        return ""
    return (f"{i['writes_managed']} (+{i['dry_run_managed']} dry-run) / {i['writes']} / "
            f"{i['reads']}")


Cell = Callable[[dict[str, Any]], str]


def lines(result: dict[str, Any]) -> list[tuple[str, Cell]]:
    p = result["settings"]["poll"]
    n = result["settings"]["objects"]
    w = result["settings"]["window"]
    u = result["settings"].get("unmanaged", 0)
    unmanaged: list[tuple[str, Cell]] = [
        (f"RSS with {u:,} unmanaged ConfigMaps present (MB, all processes)",
         lambda r: "" if "rss_mb" not in r.get("unmanaged", {}) else f"{r['unmanaged']['rss_mb']:.0f}"),
        (f"idle CPU with {u:,} unmanaged ConfigMaps present (% of one core)",
         lambda r: "" if "cpu_percent" not in r.get("unmanaged", {})
         else f"{r['unmanaged']['cpu_percent']:.2f}"),
        (f"idle {w:g} s window with {u:,} unmanaged ConfigMaps: writes to managed kinds / all writes / reads",
         lambda r: requests(r.get("unmanaged"))),
    ] if u else []
    return [
        ("drift to revert p50 / p95 / p99, fastest setting", lambda r: triple(r.get("drift_fast"))),
        ("drift to revert p50 / p95 / p99, defaults", lambda r: triple(r.get("drift_default"))),
        (f"commit to applied p50 / max, polling every {p:g} s", lambda r: p50_max(r.get("commit_poll"))),
        ("commit to applied p50 / max, with the tool's trigger", lambda r: p50_max(r.get("commit_trigger"))),
        (f"cold sync of {n} objects (process start to all applied)",
         lambda r: ms((r.get("cold") or {}).get("seconds"))),
        (f"idle {w:g} s window (resync every {p:g} s): writes to managed kinds / all writes / reads",
         lambda r: requests(r.get("idle"))),
        ("RSS after the idle window (MB, all processes)",
         lambda r: "" if "rss_mb" not in r.get("idle", {}) else f"{r['idle']['rss_mb']:.0f}"),
        ("idle CPU (% of one core)",
         lambda r: "" if "cpu_percent" not in r.get("idle", {}) else f"{r['idle']['cpu_percent']:.2f}"),
        *unmanaged,
    ]


def markdown(result: dict[str, Any]) -> str:
    tools = result["tools"]
    head = ["measure", *(label for _, label in COLUMNS)]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for measure, cell in lines(result):
        cells = []
        for key, _ in COLUMNS:
            r = tools.get(key) or {}
            text = cell(r) if r else ""
            if not text and r.get("error"):
                text = "error (see below)"
            cells.append(text or "n/a")
        out.append("| " + " | ".join([measure, *cells]) + " |")
    return "\n".join(out) + "\n"


def knobs(result: dict[str, Any]) -> str:
    """Per tool: the version run and every setting changed from its defaults (fastest and defaults phases)."""
    out = []
    for key, label in COLUMNS:
        r = result["tools"].get(key) or {}
        if "version" not in r:
            continue
        took = f" (cold build {r['build_seconds']} s)" if r.get("build_seconds") else ""
        out.append(f"- **{label} {r['version']}**{took}:")
        for name, value in r["knobs"].items():
            out.append(f"  - `{name}`: {value}")
        dropped = sorted(set(r["knobs"]) - set(r.get("knobs_defaults", r["knobs"])))
        if dropped:
            out.append(f"  - defaults phase: without {', '.join(f'`{d}`' for d in dropped)}")
    return "\n".join(out) + "\n"
