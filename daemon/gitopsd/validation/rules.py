"""The catalogue of validation rules: ids, default severities, summaries and fix hints.

Policy rules live in ``core.policy``; the rules here belong to the checks
this package runs itself (YAML, object shape, schemas, rendering, cluster
dry-runs). ``catalogue`` joins both for the output formats. Rule ids are
stable: CI configurations and SARIF consumers refer to them. This module
defines no checks.
"""

from __future__ import annotations

from collections.abc import Mapping

from gitopsd.core.policy import RULES as POLICY_RULES
from gitopsd.core.policy import Rule, Severity

YAML_SYNTAX = Rule("yaml-syntax", Severity.ERROR, "File is not valid YAML (or JSON)",
                   "fix the YAML at that line: indentation, quoting, a missing ':' or '-'")
MANIFEST_INVALID = Rule("manifest-invalid", Severity.ERROR,
                        "Object lacks what every Kubernetes object needs",
                        "give every object apiVersion, kind and metadata.name; "
                        "quote label and annotation values")
DUPLICATE_OBJECT = Rule("duplicate-object", Severity.ERROR,
                        "The same object is defined more than once",
                        "keep one definition and remove or rename the other")
SCHEMA_TYPE = Rule("schema-type", Severity.ERROR, "Field has the wrong type",
                   "use the type the API expects: quote strings, unquote numbers and booleans")
SCHEMA_UNKNOWN_FIELD = Rule("schema-unknown-field", Severity.ERROR, "Field is not part of the schema",
                            "remove the field or fix its spelling or indentation")
SCHEMA_REQUIRED = Rule("schema-required", Severity.ERROR, "Required field is missing",
                       "add the missing field")
SCHEMA_VALUE = Rule("schema-value", Severity.ERROR, "Field value is not allowed by the schema",
                    "use a value the schema allows")
SCHEMA_MISSING = Rule("schema-missing", Severity.WARNING, "No schema is known for this kind",
                      "add the kind's CustomResourceDefinition to the repository, check apiVersion "
                      "and kind, or pass --ignore-missing-schemas")
NAMESPACE_OUTSIDE = Rule("namespace-outside-destination", Severity.ERROR,
                         "Object's namespace is not the application's destination namespace",
                         "drop metadata.namespace so the destination applies, or move the object "
                         "to an application that targets that namespace")
PROJECT_VIOLATION = Rule("project-violation", Severity.ERROR,
                         "The application's project does not permit this object, repository "
                         "or destination; the daemon refuses the whole sync",
                         "keep the object within the project's destinations and kinds, or "
                         "widen the project (projects: in the fleet file, or its AppProject)")
RENDER_FAILED = Rule("render-failed", Severity.ERROR, "The application could not be rendered",
                     "run kustomize build or helm template on the path to see the full error")
CLUSTER_REJECTED = Rule("cluster-rejected", Severity.ERROR,
                        "The API server rejected the object in a server-side dry-run",
                        "fix the field the API server names")

RULES: Mapping[str, Rule] = {rule.id: rule for rule in (
    YAML_SYNTAX, MANIFEST_INVALID, DUPLICATE_OBJECT, SCHEMA_TYPE, SCHEMA_UNKNOWN_FIELD,
    SCHEMA_REQUIRED, SCHEMA_VALUE, SCHEMA_MISSING, NAMESPACE_OUTSIDE, PROJECT_VIOLATION,
    RENDER_FAILED, CLUSTER_REJECTED,
)}


def catalogue() -> Mapping[str, Rule]:
    """Every rule ``gitopsd validate`` can report, validation and policy rules alike."""
    return {**RULES, **POLICY_RULES}
