"""Desired objects from text: parse, validate, scope and de-duplicate manifests.

Renderers hand over either a stream of YAML documents (Kustomize and Helm
output) or the files of a plain directory; this package turns them into
``Manifest`` values, or raises one ``ManifestError`` that lists every problem
with the repository, revision, file and line where it was found. It does no I/O
and never talks to a cluster: what a cluster knows about custom resource scopes
arrives as an argument.
"""

from gitopsd.core.manifests.parse import parse_files, parse_stream

__all__ = ["parse_files", "parse_stream"]
