"""Evaluates the ``.jsonnet`` files of a directory source, as Argo CD's repo server does.

Each file is evaluated with the source's top-level arguments (``tlas``) and
external variables (``extVars``), each a string or, with ``code: true``,
Jsonnet code. An ``import`` is looked up beside the importing file, then in
the library paths (``libs``, relative to the repository root; the last one
first, as Argo CD's importer does), then in the source directory; a file
outside the materialised tree is never read.

Jsonnet code arrives with a commit and may run long, so evaluation happens
in a child Python process started through the guarded runner (timeout,
output cap, scrubbed environment, process-group kill): the event loop and
the render slots never wait on an evaluation that cannot be stopped. The
child reads its request from a file in its private home and writes one JSON
object, ``{file: output}``. This module must not
interpret the output (``core.manifests`` turns it into objects).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from gitopsd.edges.render.request import normalize_path, resolve_in_tree
from gitopsd.edges.render.runner import Limits, run_tool
from gitopsd.errors import RenderError
from gitopsd.model import JsonnetParams

LABEL = "jsonnet"

# The child process: standard library and the jsonnet binding only, nothing of gitopsd.
_CHILD = r"""
import json, os, sys
import _jsonnet
with open(sys.argv[1], encoding="utf-8") as f:
    req = json.load(f)
root = os.path.realpath(req["root"])
def inside(path):
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)
def load(base, rel):
    for where in [base] + req["jpaths"]:
        path = os.path.normpath(os.path.join(where, rel))
        if os.path.isfile(path):
            if not inside(path):
                raise RuntimeError("import %r resolves outside the repository" % rel)
            with open(path, "rb") as f:
                return path, f.read()
    raise RuntimeError("import %r not found beside the file or in the library paths" % rel)
out = {}
for rel in req["files"]:
    try:
        out[rel] = _jsonnet.evaluate_file(
            os.path.join(root, rel), import_callback=load, max_stack=req["max_stack"],
            ext_vars=req["ext_vars"], ext_codes=req["ext_codes"],
            tla_vars=req["tla_vars"], tla_codes=req["tla_codes"])
    except RuntimeError as exc:
        sys.stderr.write("%s: %s\n" % (rel, str(exc).replace(root + os.sep, "")))
        sys.exit(1)
sys.stdout.write(json.dumps(out))
"""

MAX_STACK = 500


def jsonnet_request(tree: Path, target: Path, files: Sequence[str],
                    params: JsonnetParams) -> dict[str, object]:
    """The child's request: files relative to TREE, variables split by kind, search paths."""
    libs = []
    for lib in params.libs:
        try:
            libs.append(str(resolve_in_tree(tree, normalize_path(lib))))
        except RenderError as exc:
            raise RenderError(f"directory.jsonnet.libs: {exc}") from None
    return {
        "root": str(tree),
        "files": list(files),
        "jpaths": [*reversed(libs), str(target)],
        "max_stack": MAX_STACK,
        "ext_vars": {v.name: v.value for v in params.ext_vars if not v.code},
        "ext_codes": {v.name: v.value for v in params.ext_vars if v.code},
        "tla_vars": {v.name: v.value for v in params.tlas if not v.code},
        "tla_codes": {v.name: v.value for v in params.tlas if v.code},
    }


async def render_jsonnet(tree: Path, target: Path, rel: str, files: Sequence[str],
                         params: JsonnetParams, limits: Limits) -> Mapping[str, str]:
    """The JSON output of each of FILES (paths relative to TREE, the real path of the
    materialised repository; TARGET is the source directory REL within it)."""
    request = jsonnet_request(tree, target, files, params)
    with tempfile.TemporaryDirectory(prefix="gitopsd-jsonnet-") as home:
        request_file = Path(home) / "request.json"
        request_file.write_text(json.dumps(request), encoding="utf-8")
        text = await run_tool(
            [sys.executable, "-I", "-c", _CHILD, str(request_file)],
            label=LABEL, subject=rel, home=Path(home), cwd=target, limits=limits,
            replacements={f"{tree}/": "", str(tree): "."})
    try:
        out = json.loads(text)
    except json.JSONDecodeError:
        raise RenderError(f"{LABEL} output for {rel!r} could not be read") from None
    if not isinstance(out, dict) or set(out) != set(files):
        raise RenderError(f"{LABEL} output for {rel!r} does not name the files evaluated")
    return {str(k): str(v) for k, v in out.items()}
