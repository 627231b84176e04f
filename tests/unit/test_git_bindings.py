"""pygit2's cffi types and functions are all built once, before worker threads call libgit2."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygit2._libgit2 import ffi, lib

from gitopsd.edges.git import bindings
from gitopsd.edges.git.source import GitSource


def test_realize_builds_every_listed_type_and_every_library_name_once() -> None:
    """Every typedef, struct and union the bindings declare is built, with every name of the library
    this libgit2 provides and the pointer types pygit2 spells in its calls; a second call builds
    nothing more and answers the same."""
    typedefs, structs, unions = ffi.list_types()
    first = bindings.realize()
    assert first.types == len(typedefs) + len(structs) + len(unions)
    assert first.names == sum(1 for n in dir(lib) if hasattr(lib, n))
    assert first.names > 100  # libgit2's functions, not only a handful of constants
    # the types whose lazy build two listing threads raced on, among those pygit2 spells out
    assert {"git_remote_callbacks *", "git_fetch_options *", "git_remote_head ***"} <= first.spelled
    assert bindings.realize() is first


def test_a_git_source_builds_them_before_its_first_worker_thread(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Making the fleet's GitSource builds the bindings, on the thread that makes it."""
    monkeypatch.setattr(bindings, "_done", None)
    GitSource(tmp_path / "state")
    assert bindings._done is not None
