"""Policy for manifests in Git: rules that schemas cannot express, as pure functions.

Built-in rules: ``image-latest`` (no ``:latest`` or untagged images, by
default under paths matching ``/prod/``), ``plaintext-secret`` (no ``Secret``
with plaintext data unless SOPS-encrypted; SealedSecrets are fine),
``required-labels``, ``host-path`` and ``privileged-container`` (off until a
policy file enables them). Rules see one object at a time with its file and
field positions and return ``Finding`` values; they do no I/O, and reading
files, YAML and schemas is ``gitopsd.validation``'s job.
"""

from gitopsd.core.policy.check import RULES, check_kustomization, check_object
from gitopsd.core.policy.config import RULE_IDS, PolicyConfig, RuleSettings, parse_policy
from gitopsd.core.policy.findings import Finding, Rule, Severity, finding
from gitopsd.core.policy.images import floating_tag
from gitopsd.core.policy.paths import in_scope, matches
from gitopsd.core.policy.secrets import is_sops_encrypted
from gitopsd.core.policy.subject import FieldPath, Subject, walk

__all__ = [
    "RULES",
    "RULE_IDS",
    "FieldPath",
    "Finding",
    "PolicyConfig",
    "Rule",
    "RuleSettings",
    "Severity",
    "Subject",
    "check_kustomization",
    "check_object",
    "finding",
    "floating_tag",
    "in_scope",
    "is_sops_encrypted",
    "matches",
    "parse_policy",
    "walk",
]
