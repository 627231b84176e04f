"""Renders a Kustomize directory with ``kustomize build``.

The build keeps Kustomize's default load restrictions (files must sit inside
the kustomization's root; other kustomizations such as ``../base`` may be
referenced) and enables no plugins, no Helm inflation and no exec functions.
This module only builds the command line; running it safely is the runner's
job, and it must not parse the output.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from gitopsd.edges.render.request import Rendered, RendererKind
from gitopsd.edges.render.runner import Limits, run_tool

LABEL = "kustomize build"


def kustomize_argv(binary: str, target: Path) -> list[str]:
    """The command line that renders the kustomization in ``target``."""
    return [binary, "build", str(target)]


async def render_kustomize(
    binary: str, tree: Path, target: Path, rel: str, limits: Limits) -> Rendered:
    """Run ``kustomize build`` on ``target`` (the real path of ``rel`` in ``tree``)."""
    with tempfile.TemporaryDirectory(prefix="gitopsd-kustomize-") as home:
        text = await run_tool(
            kustomize_argv(binary, target),
            label=LABEL,
            subject=rel,
            home=Path(home),
            # Remote bases are fetched with git; it must never wait for a password.
            env={"GIT_TERMINAL_PROMPT": "0"},
            cwd=target,
            limits=limits,
            replacements={f"{tree}/": "", str(tree): "."},
        )
    return Rendered(text=text, files=None, renderer=RendererKind.KUSTOMIZE.value)
