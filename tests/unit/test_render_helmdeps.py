"""Chart dependencies: which are missing, which version is asked for, which repository serves it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gitopsd.edges.render.charts import ChartFetcher, is_exact_version, write_credentials
from gitopsd.edges.render.helmdeps import Dependency, dependencies, missing, repository_for
from gitopsd.errors import RenderError
from gitopsd.model.helmrepos import HelmRepository

CHART = """\
apiVersion: v2
name: app
version: 0.1.0
dependencies:
  - {name: lib, version: "^1.0.0", repository: "https://charts.example.com/"}
  - {name: cache, version: "2.x", repository: "@private"}
  - {name: local, version: "0.1.0", repository: "file://../local"}
"""


def _chart(tmp_path: Path, lock: str = "") -> Path:
    chart = tmp_path / "app"
    (chart / "charts").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART)
    if lock:
        (chart / "Chart.lock").write_text(lock)
    return chart


def test_chart_lock_pins_the_versions_it_lists(tmp_path: Path) -> None:
    """A locked dependency takes the lock's version; the others keep Chart.yaml's range."""
    chart = _chart(tmp_path, "dependencies:\n- {name: lib, version: 1.4.2, "
                             "repository: 'https://charts.example.com/'}\n")
    assert dependencies(chart, "app") == [
        Dependency("lib", "1.4.2", "https://charts.example.com/"),
        Dependency("cache", "2.x", "@private"),
        Dependency("local", "0.1.0", "file://../local")]


def test_dependencies_already_in_charts_are_not_missing(tmp_path: Path) -> None:
    """A packaged archive or an unpacked directory in charts/ satisfies a dependency."""
    chart = _chart(tmp_path)
    (chart / "charts" / "lib-1.4.2.tgz").write_bytes(b"")
    (chart / "charts" / "local").mkdir()
    assert [d.name for d in missing(chart, "app")] == ["cache"]


def test_repositories_are_found_by_url_or_by_name() -> None:
    """A URL finds the fleet's entry (or an anonymous one); @name and alias:name find it by name."""
    private = HelmRepository("private", "https://private.example.com")
    public = HelmRepository("public", "https://charts.example.com")
    repos = (private, public)
    assert repository_for(Dependency("x", "1", "https://charts.example.com/"), repos, "a") is public
    assert repository_for(Dependency("x", "1", "@private"), repos, "a") is private
    assert repository_for(Dependency("x", "1", "alias:private"), repos, "a") is private
    anonymous = repository_for(Dependency("x", "1", "https://other.example.com/"), repos, "a")
    assert anonymous == HelmRepository("", "https://other.example.com")
    with pytest.raises(RenderError, match="'@nope', which is not in helmRepositories"):
        repository_for(Dependency("x", "1", "@nope"), repos, "a")


@pytest.mark.parametrize(("version", "exact"), [
    ("1.2.3", True), ("v1.2.3", True), ("1.2.3-rc.1+build.5", True),
    ("^1.2.3", False), ("1.2.x", False), (">=1.0.0 <2.0.0", False), ("", False)])
def test_exact_versions_are_told_from_ranges(version: str, exact: bool) -> None:
    """Only an exact version can be answered from the cache without asking the repository."""
    assert is_exact_version(version) is exact


def _secrets(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "user").write_text("robot\n")
    (tmp_path / "pass").write_text("hunter2\n")
    return str(tmp_path / "user"), str(tmp_path / "pass")


def test_registry_credentials_are_written_private_for_the_registry_host(tmp_path: Path) -> None:
    """An oci:// repository's credentials become a 0600 registry config keyed by its host."""
    user, password = _secrets(tmp_path)
    repo = HelmRepository("reg", "oci://reg.example.com:5000/team", username_file=user,
                          password_file=password)
    home = tmp_path / "home"
    home.mkdir()
    assert write_credentials(home, repo) == ("robot", "hunter2")
    config = home / "registry.json"
    assert config.stat().st_mode & 0o777 == 0o600
    auth = json.loads(config.read_text())["auths"]["reg.example.com:5000"]["auth"]
    assert base64.b64decode(auth) == b"robot:hunter2"


def test_the_cache_path_of_a_repository_holds_no_credentials(tmp_path: Path) -> None:
    """Cached packages live under a digest of the URL, the same with or without a trailing slash."""
    fetcher = ChartFetcher(tmp_path)
    user, password = _secrets(tmp_path)
    a = fetcher.cache_dir(HelmRepository("a", "https://charts.example.com/x", user, password))
    b = fetcher.cache_dir(HelmRepository("b", "https://charts.example.com/x/"))
    assert a == b
    assert a.parent == tmp_path / "helm" / "charts"
    assert "charts.example.com" not in str(a)
