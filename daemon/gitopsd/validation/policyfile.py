"""Reading the policy file: YAML with lines, handed to ``core.policy.parse_policy``.

Without ``--policy``, ``.gitopsd-policy.yaml`` at the repository root is used
when it exists; otherwise the built-in defaults apply. Problems in the file
raise ``ConfigError`` with file, line and field, which the CLI reports with
exit code 2. What the settings mean is ``core.policy``'s business, not this
module's.
"""

from __future__ import annotations

from pathlib import Path

from gitopsd.core.manifests.yaml12 import YamlError, load_documents
from gitopsd.core.policy import PolicyConfig, parse_policy
from gitopsd.errors import ConfigError, ConfigIssue
from gitopsd.validation.files import read_text
from gitopsd.validation.positions import object_lines

DEFAULT_POLICY_FILE = ".gitopsd-policy.yaml"


def load_policy(path: Path | None, root: Path) -> PolicyConfig:
    """The policy at PATH, else the repository's default file, else the defaults."""
    if path is None:
        default = root / DEFAULT_POLICY_FILE
        if not default.is_file():
            return PolicyConfig()
        path = default
    name = str(path)
    text = read_text(path)
    if text is None:
        raise ConfigError([ConfigIssue(name, 0, "", "policy file is not UTF-8 text")])
    try:
        docs = [doc for doc in load_documents(text) if doc.value is not None]
    except YamlError as exc:
        raise ConfigError([ConfigIssue(name, exc.line, "", f"invalid YAML: {exc.problem}")]) from None
    if len(docs) > 1:
        raise ConfigError([ConfigIssue(name, docs[1].line, "", "a policy file holds one YAML document")])
    if not docs:
        return PolicyConfig()
    return parse_policy(docs[0].value, file=name, lines=object_lines(text).get(docs[0].line, {}))
