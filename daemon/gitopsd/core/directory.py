"""Which files of a plain directory source are read, as Argo CD reads a directory source.

Only the top directory is read unless ``directory.recurse``; a file is read
when its name ends in ``.yaml``, ``.yml`` or ``.json`` (parsed as manifests)
or ``.jsonnet`` (evaluated; ``.libsonnet`` files are only imported), its path
relative to the source path matches ``directory.include`` (when set) and not
``directory.exclude``, and it does not carry Argo CD's
``+argocd:skip-file-rendering`` marker. Hidden files and directories are
never read.

A file that may hold manifests but is not read is never passed over in
silence: a templated or unknown manifest format (``.yaml.j2``, ``.json5``...)
and manifests in subdirectories that ``recurse`` leaves out become warnings,
which ``gitopsd render`` prints and the status shows. This module only
decides; it reads no files (their bytes are given) and parses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gitopsd.model.fleet import DirectoryParams
from gitopsd.model.globs import glob_match

__all__ = [
    "JSONNET_SUFFIX",
    "LIBSONNET_SUFFIX",
    "MANIFEST_SUFFIXES",
    "SKIP_MARKER",
    "SOURCE_SUFFIXES",
    "DirectoryFiles",
    "select_files",
]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
JSONNET_SUFFIX = ".jsonnet"
LIBSONNET_SUFFIX = ".libsonnet"
SOURCE_SUFFIXES = (*MANIFEST_SUFFIXES, JSONNET_SUFFIX, LIBSONNET_SUFFIX)
"""Files whose size is bounded by ``settings.maxManifestFileSize``."""
SKIP_MARKER = b"+argocd:skip-file-rendering"

# formats that hold manifests but are neither YAML, JSON nor Jsonnet
_FOREIGN_SUFFIXES = (".json5", ".hjson", ".jsonc", ".cue", ".ytt", ".k", ".pkl", ".dhall")
# template extensions after a manifest suffix: deploy.yaml.j2, service.yml.tmpl...
_TEMPLATE_SUFFIXES = ("j2", "jinja", "jinja2", "tpl", "tmpl", "gotmpl", "template", "erb",
                      "mustache", "hbs", "envsubst", "in", "dist", "example", "sample")


@dataclass(frozen=True)
class DirectoryFiles:
    """The files a directory source reads (repository-relative paths, sorted) and its warnings."""

    manifests: tuple[str, ...] = ()
    jsonnet: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in relative.split("/"))


def _readable(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(MANIFEST_SUFFIXES) or lower.endswith(JSONNET_SUFFIX)


def _looks_like_manifest(name: str) -> bool:
    """A file that may hold manifests in a form gitopsd does not read."""
    lower = name.lower()
    if lower.endswith(_FOREIGN_SUFFIXES):
        return True
    stem, dot, ext = lower.rpartition(".")
    return bool(dot) and ext in _TEMPLATE_SUFFIXES and stem.endswith(MANIFEST_SUFFIXES)


def select_files(files: Mapping[str, bytes], base: str, params: DirectoryParams,
                 where: str = "") -> DirectoryFiles:
    """The files of FILES (repository-relative path -> content) that the directory source at
    BASE ("" for the repository root, else "path/") reads under PARAMS. WHERE prefixes the
    warnings (for example ``repo@sha:path``)."""
    manifests: list[str] = []
    jsonnet: list[str] = []
    warnings: list[str] = []
    left_out: dict[str, int] = {}
    prefix = f"{where}: " if where else ""
    for name in sorted(files):
        # a source path that names one file: that file, as if in the top directory
        relative = name[len(base):] if name.startswith(base) else name.rsplit("/", 1)[-1]
        if _hidden(relative):
            continue
        if "/" in relative and not params.recurse:
            if _readable(relative):
                top = relative.split("/", 1)[0]
                left_out[top] = left_out.get(top, 0) + 1
            continue
        if not _readable(relative):
            if _looks_like_manifest(relative):
                warnings.append(f"{prefix}{name} is not read: gitopsd reads .yaml, .yml, .json "
                                "and .jsonnet files; render it into one of these")
            continue
        if params.exclude and glob_match(params.exclude, relative):
            continue
        if params.include and not glob_match(params.include, relative):
            continue
        if SKIP_MARKER in files[name]:
            continue
        (jsonnet if relative.lower().endswith(JSONNET_SUFFIX) else manifests).append(name)
    for top, count in sorted(left_out.items()):
        noun = "file that is" if count == 1 else "files that are"
        warnings.append(f"{prefix}{base}{top}/ holds {count} manifest {noun} not read: "
                        "subdirectories are read only with directory.recurse: true")
    return DirectoryFiles(tuple(manifests), tuple(jsonnet), tuple(warnings))
