"""Every C type and function of pygit2's cffi bindings, realized once before worker threads use them.

cffi (2.x, on interpreters with a GIL) builds each C type and function of an
out-of-line module the first time it is used, without a lock (python-cffi/cffi
#271). Two worker threads meeting the same unbuilt type at once (two remote
listings starting together, say) abort the whole process with an assertion in
``realize_c_type.c``. ``realize`` builds all of them on the calling thread, once
per process, so libgit2 calls in worker threads only ever find them built.

It must be called before the first libgit2 call in a worker thread; it makes no
libgit2 call itself and touches no repository.
"""

from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2._libgit2 import ffi, lib

# a C type pygit2 spells in a call that builds it: ffi.new('git_remote_callbacks *'), ...
_SPELLED = re.compile(r"""ffi\.(?:new|cast|typeof|sizeof)\(\s*['"]([^'"]+)['"]""")

_lock = threading.Lock()
_done: Realized | None = None


@dataclass(frozen=True)
class Realized:
    """How many typedefs, structs and unions, and library names, were built (or found built), and
    the pointer and array types pygit2's sources spell out, built too."""

    types: int
    names: int
    spelled: frozenset[str]


def realize() -> Realized:
    """Build every type and function of the bindings on this thread; later calls return at once."""
    global _done
    with _lock:
        if _done is None:
            _done = _realize_all()
        return _done


def _realize_all() -> Realized:
    typedefs, structs, unions = ffi.list_types()
    types = 0
    for spelled in [*typedefs, *(f"struct {s}" for s in structs), *(f"union {u}" for u in unions)]:
        try:
            ctype = ffi.typeof(spelled)
        except ffi.error:
            continue  # not a type a value can have (a function type): built with its function below
        types += 1
        if ctype.kind in ("struct", "union"):
            with contextlib.suppress(ffi.error):  # opaque: never allocated from Python, never laid out
                ffi.sizeof(ctype)  # lays out the fields, building their types too
    names = 0
    for name in dir(lib):
        try:
            getattr(lib, name)  # builds the function's type (or reads the constant)
        except (AttributeError, ffi.error):
            continue  # declared, not in this build of libgit2: a call would fail the same way
        names += 1
    spelled_out = frozenset(_spelled_in_pygit2())
    for spelled in spelled_out:
        with contextlib.suppress(ffi.error):
            ffi.typeof(spelled)
    return Realized(types, names, spelled_out)


def _spelled_in_pygit2() -> set[str]:
    out: set[str] = set()
    for source in Path(pygit2.__file__).parent.glob("*.py"):
        out.update(_SPELLED.findall(source.read_text(encoding="utf-8")))
    return out
