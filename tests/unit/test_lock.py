"""requirements.lock agrees with pyproject.toml and with what is installed."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^ ;\\]+)\s*(?:;(?P<marker>[^\\]+))?")


def _pins() -> dict[str, tuple[Version, Marker | None, int]]:
    """Each locked package: its version, its marker and how many hashes it carries."""
    pins: dict[str, tuple[Version, Marker | None, int]] = {}
    name = ""
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match["name"])
            marker = Marker(match["marker"].strip()) if match["marker"] else None
            pins[name] = (Version(match["version"]), marker, 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, marker, hashes = pins[name]
            pins[name] = (version, marker, hashes + 1)
    return pins


def _declared() -> list[Requirement]:
    """Every requirement pyproject names: runtime, each extra and the build system."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = list(project["project"]["dependencies"])
    for extra in project["project"]["optional-dependencies"].values():
        names.extend(extra)
    names.extend(project["build-system"]["requires"])
    return [Requirement(name) for name in names]


def test_every_declared_requirement_is_locked_within_its_range() -> None:
    """Each requirement of pyproject is pinned in the lock at a version its range allows."""
    pins = _pins()
    assert pins, "requirements.lock pins nothing"
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements.lock: run `make lock`"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside {requirement}: run `make lock`"
        )


def test_every_pin_carries_hashes() -> None:
    """pip installs the lock with --require-hashes, so every pin has at least one hash."""
    unhashed = [name for name, (_, _, hashes) in _pins().items() if hashes == 0]
    assert unhashed == []


def test_installed_packages_are_the_locked_versions() -> None:
    """The environment running the tests was installed from the lock, not from newer releases."""
    wrong = {}
    for name, (version, marker, _) in _pins().items():
        if marker is not None and not marker.evaluate():
            continue
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            wrong[name] = (str(version), None)
            continue
        if installed != version:
            wrong[name] = (str(version), str(installed))
    assert wrong == {}, "installed versions differ from requirements.lock: run `make venv`"

