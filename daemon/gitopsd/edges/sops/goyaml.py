"""YAML read and written with the scalar types that SOPS itself sees.

SOPS reads YAML with Go's yaml.v3 into untyped values, and its MAC hashes
every unencrypted leaf in the form that typing gives it. PyYAML's YAML 1.1
rules differ (``on`` is a boolean, ``2024-01-01`` a date, ``1e5`` a string),
so a file whose MAC sops accepts would fail here, or worse, decrypt to other
values. This loader resolves plain scalars the way yaml.v3 does when decoding
into ``interface{}``: only ``true``/``false`` spellings are booleans, Go's
``ParseInt`` prefixes and underscores make integers, and timestamps become
times, which sops hashes (and prints) in RFC 3339 form with nanoseconds; they
are kept here as that canonical text.

The dumper writes decrypted documents back as YAML that reads the same under
both rule sets: any string that either would take for another type is quoted.

This module only converts between text and plain values; it knows nothing
about encryption.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

import yaml

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_STR = "tag:yaml.org,2002:str"
_NUMBERISH = "tag:gitopsd.io,2026:numberish"  # plain scalars yaml.v3 may read as int or float

_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NUMBERISH_RE = re.compile(r"^[-+.0-9]")
_SPECIAL_FLOATS = {
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf,
    "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
    "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
    ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
}
# strconv.ParseInt(s, 0, 64) syntax: sign, then a 0x/0b/0o prefix, a leading-zero octal, or decimal.
_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)")
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_GO_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
# yaml.v3's timestamp layouts: "2006-1-2T15:4:5.999999999Z07:00" (t or T),
# "2006-1-2 15:4:5.999999999" and "2006-1-2".
_TIMESTAMP = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?:[Tt](?P<h>[0-9]{1,2}):(?P<mi>[0-9]{1,2}):(?P<s>[0-9]{1,2})(?:\.(?P<f>[0-9]+))?"
    r"(?P<z>Z|[-+][0-9]{2}:[0-9]{2}))"
    r"| (?P<h2>[0-9]{1,2}):(?P<mi2>[0-9]{1,2}):(?P<s2>[0-9]{1,2})(?:\.(?P<f2>[0-9]+))?)?")


def _go_int(plain: str) -> int | None:
    """The value Go's ParseInt (or, failing that, ParseUint) gives PLAIN with base 0."""
    if not _GO_INT.fullmatch(plain):
        return None
    negative = plain.startswith("-")
    digits = plain.lstrip("+-")
    if digits[:2].lower() in ("0x", "0b", "0o"):
        value = int(digits, 0)
    elif len(digits) > 1 and digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits, 10)
    value = -value if negative else value
    if -(2**63) <= value < 2**63:
        return value
    if plain[0] not in "+-" and value < 2**64:
        return value
    return None


def _go_float(text: str) -> float | None:
    """The value Go's ParseFloat gives TEXT in decimal notation; None for errors and overflow."""
    if not _GO_FLOAT.fullmatch(text):
        return None
    value = float(text)
    return None if math.isinf(value) else value


def go_timestamp(text: str, *, rfc3339_only: bool = False) -> str | None:
    """TEXT as Go's ``time.Time.MarshalText`` prints the time it parses to (RFC 3339, nanoseconds).

    None unless TEXT is one of yaml.v3's timestamp layouts (only the ``T`` form
    with a zone when RFC3339_ONLY, as ``UnmarshalText`` reads).
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None or (rfc3339_only and match["h"] is None):
        return None
    hour, minute, second = (match["h"] or match["h2"] or "0", match["mi"] or match["mi2"] or "0",
                            match["s"] or match["s2"] or "0")
    fraction = ((match["f"] or match["f2"] or "") + "000000000")[:9].rstrip("0")
    zone = match["z"] or "Z"
    if zone in ("+00:00", "-00:00"):
        zone = "Z"
    try:
        moment = datetime(int(match["y"]), int(match["mo"]), int(match["d"]),
                          int(hour), int(minute), int(second))
    except ValueError:
        return None
    if zone != "Z" and (int(zone[1:3]) > 24 or int(zone[4:6]) > 60):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + zone


def resolve_plain(text: str) -> Any:
    """What yaml.v3 decodes the unquoted scalar TEXT into: None, bool, int, float or str.

    Timestamps come back as their canonical text, which is what sops hashes and prints.
    """
    if _NULL_RE.match(text):
        return None
    if _BOOL_RE.match(text):
        return text in ("true", "True", "TRUE")
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if text.startswith("."):
        number = _go_float(text)
        return text if number is None else number
    if text[:1] in "+-0123456789":
        stamp = go_timestamp(text)
        if stamp is not None:
            return stamp
        plain = text.replace("_", "")
        whole = _go_int(plain)
        if whole is not None:
            return whole
        if _YAML_STYLE_FLOAT.fullmatch(plain):
            number = _go_float(plain)
            if number is not None:
                return number
    return text


def _construct_numberish(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    return resolve_plain(loader.construct_scalar(node))


def _reject_tag(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(None, None, f"unsupported tag {node.tag!r}", node.start_mark)


class GoLoader(yaml.SafeLoader):
    """SafeLoader with yaml.v3's implicit scalar types and no tags beyond the core ones."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's registry
    yaml_constructors: ClassVar[dict[Any, Any]] = {
        tag: yaml.SafeLoader.yaml_constructors[tag]
        for tag in (_NULL, _BOOL, _STR, "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                    "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
    }


GoLoader.add_implicit_resolver(_NULL, _NULL_RE, ["~", "n", "N", ""])
GoLoader.add_implicit_resolver(_BOOL, _BOOL_RE, list("tTfF"))
GoLoader.add_implicit_resolver(_NUMBERISH, _NUMBERISH_RE, list("-+.0123456789"))
GoLoader.add_constructor(_NUMBERISH, _construct_numberish)
GoLoader.add_constructor(None, _reject_tag)


def load_all(text: str) -> Iterator[Any]:
    """Every document of TEXT, typed as yaml.v3 types them. Raises ``yaml.YAMLError``."""
    return yaml.load_all(text, Loader=GoLoader)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that also quotes strings yaml.v3 would read as something else."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    resolved = resolve_plain(value)
    style = None if isinstance(resolved, str) and resolved == value else '"'
    return dumper.represent_scalar(_STR, value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_all(documents: list[Any]) -> str:
    """YAML for DOCUMENTS, readable with the same values under YAML 1.1, 1.2 and yaml.v3 rules."""
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, allow_unicode=False,
                         default_flow_style=False, width=2**31 - 1)
