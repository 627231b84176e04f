"""Results as JSON (every trial, its events and violations) and as Markdown tables.

The first table has one row per trial; the second sums violations by injector
and invariant, which is what docs/reliability.md quotes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.chaos.trial import Result

INVARIANTS = ("converged", "git_content", "foreign_untouched", "pruned", "hook_once", "no_secret_leak",
              "single_writer")


def _cell(r: Result, name: str) -> str:
    if r.error and name not in r.violations:
        return "error"
    return "FAIL" if r.violations.get(name) else "ok"


def trials_table(results: list[Result]) -> str:
    head = ["seed", "injectors", "apps", "objects", "converged (s)", *INVARIANTS]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for r in results:
        conv = "never" if r.converged_seconds is None else f"{r.converged_seconds:.1f}"
        cells = [str(r.seed), ", ".join(r.injectors), str(r.apps), str(r.objects), conv,
                 *(_cell(r, n) for n in INVARIANTS)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def by_injector(results: list[Result]) -> str:
    trials: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = {}
    for r in results:
        for name in r.injectors:
            trials[name] += 1
            failed[name] += 0 if r.ok else 1
            for inv, found in r.violations.items():
                if found:
                    kinds.setdefault(name, Counter())[inv] += 1
            if r.error:
                kinds.setdefault(name, Counter())["harness error"] += 1
    lines = ["| injector | trials | trials with a violation | violated invariants |",
             "| --- | --- | --- | --- |"]
    for name in sorted(trials):
        which = ", ".join(f"{k} ({n})" for k, n in sorted(kinds.get(name, Counter()).items())) or "none"
        lines.append(f"| {name} | {trials[name]} | {failed[name]} | {which} |")
    return "\n".join(lines)


def write(results: list[Result], out: Path, meta: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stamp = meta["started"].replace(":", "").replace("-", "")
    data = {**meta, "trials": [asdict(r) | {"ok": r.ok} for r in results],
            "violations": sum(1 for r in results if not r.ok)}
    json_path, md_path = out / f"chaos-{stamp}.json", out / f"chaos-{stamp}.md"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    md_path.write_text(f"# Chaos trials {meta['started']}\n\n{trials_table(results)}\n\n"
                       f"## By injector\n\n{by_injector(results)}\n")
    return json_path, md_path
