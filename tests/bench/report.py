"""Results as JSON and as one Markdown table: measure, gitopsd, floor, ratio, target, met."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

COLUMNS = ("benchmark", "measure", "gitopsd", "baseline", "ratio", "target", "met")


def row(benchmark: str, measure: str, value: str, baseline: str = "", ratio: float | None = None,
        target: str = "", met: bool | None = None) -> dict[str, Any]:
    return {"benchmark": benchmark, "measure": measure, "gitopsd": value, "baseline": baseline,
            "ratio": None if ratio is None or (isinstance(ratio, float) and math.isnan(ratio)) else ratio,
            "target": target, "met": met}


def seconds(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def clean(value: Any) -> Any:
    """VALUE with NaN replaced by None, so the JSON is strict."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "| " + " | ".join("---" for _ in COLUMNS) + " |"]
    for r in rows:
        cells = []
        for c in COLUMNS:
            v = r.get(c)
            if c == "ratio":
                v = "" if v is None else f"{v:.2f}x"
            elif c == "met":
                v = "" if v is None else ("yes" if v else "**no**")
            cells.append(str(v).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def header(result: dict[str, Any]) -> str:
    m = result["machine"]
    return (f"gitopsd {m['gitopsd']} ({m['gitopsd_commit']}), size {result['size']['name']}, "
            f"{m['date']}; {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Linux {m['kernel']}, "
            f"Python {m['python']}, Kubernetes {m['kubernetes']}, etcd {m['etcd']}; "
            f"load average {m['load_average_start']} at start, {m.get('load_average_end')} at end; "
            f"{m['shared']}.\n")


def write(out: Path, result: dict[str, Any]) -> tuple[Path, Path, str]:
    out.mkdir(parents=True, exist_ok=True)
    name = result["size"]["name"]
    json_path = out / f"bench-{name}.json"
    md_path = out / f"bench-{name}.md"
    json_path.write_text(json.dumps(clean(result), indent=2, allow_nan=False) + "\n")
    text = header(result) + "\n" + markdown(result["rows"])
    md_path.write_text(text)
    return json_path, md_path, text


def publish(out: Path, result: dict[str, Any]) -> None:
    """Write RESULT's JSON and Markdown into OUT and print the table and where they went."""
    json_path, md_path, text = write(out, result)
    print(text)
    print(f"written: {json_path} and {md_path} ({result['total_seconds']:.0f} s)")

