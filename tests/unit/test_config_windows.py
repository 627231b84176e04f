"""Reading a syncWindows list: Argo CD's field names to values, problems at file, line and field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import yaml

from gitopsd.config.reader import Reader
from gitopsd.config.windows import SYNC_WINDOW_FIELDS, parse_sync_windows
from gitopsd.config.yamlpos import IssueLog, compose_documents
from gitopsd.model.windows import SyncWindow, WindowKind


def read(text: str) -> tuple[tuple[SyncWindow, ...], list[str]]:
    log = IssueLog()
    (doc,) = compose_documents(textwrap.dedent(text), "project.yaml", log)
    node = dict((k.value, v) for k, v in doc.value)["syncWindows"]
    windows = parse_sync_windows(Reader("project.yaml", log), node, "projects.web.syncWindows")
    return windows, [str(i) for i in log]


def test_every_argo_cd_field_is_read() -> None:
    """A window with every field becomes one value holding each of them."""
    windows, issues = read("""
        syncWindows:
          - kind: deny
            schedule: "0 22 * * fri"
            duration: 60h
            timeZone: Europe/Berlin
            applications: ["*-prod"]
            namespaces: [payments]
            clusters: [prod-*]
            manualSync: true
            andOperator: true
            description: weekend freeze
          - kind: allow
            schedule: "0 9 * * mon-fri"
            duration: 1h30m
            clusters: ["*"]
        """)
    assert issues == []
    deny, allow = windows
    assert (deny.kind, str(deny.schedule), deny.duration, deny.time_zone) == (
        WindowKind.DENY, "0 22 * * fri", 60 * 3600, "Europe/Berlin")
    assert (deny.applications, deny.namespaces, deny.clusters) == (("*-prod",), ("payments",), ("prod-*",))
    assert (deny.manual_sync, deny.and_operator, deny.description) == (True, True, "weekend freeze")
    assert (allow.time_zone, allow.duration, allow.manual_sync) == ("UTC", 5400, False)
    assert not allow.and_operator
    assert allow.describe() == "allow window '0 9 * * mon-fri' (1h30m, UTC)"


def test_problems_name_file_line_and_field() -> None:
    """Each bad field is reported at its own line with its field path, and reading carries on."""
    windows, issues = read("""
        syncWindows:
          - kind: block
            schedule: "0 25 * * *"
            duration: forever
            timeZone: Mars/Olympus
            applications: [web]
          - kind: allow
            schedule: "0 0 * * 7"
            duration: 0s
            namespaces: [shop]
            syncOverrun: true
          - kind: deny
            schedule: "* * * * *"
            duration: 1h
          - kind: deny
            applications: [web]
        """)
    assert windows == ()
    assert sorted(issues) == sorted([
        "project.yaml:3: projects.web.syncWindows[0].kind: must be allow or deny",
        "project.yaml:4: projects.web.syncWindows[0].schedule: invalid cron schedule: hour: 25 is above "
        "the highest value 23",
        "project.yaml:5: projects.web.syncWindows[0].duration: invalid duration 'forever': expected a "
        "number followed by ms, s, m or h (e.g. 500ms, 30s, 3m, 1h30m)",
        "project.yaml:6: projects.web.syncWindows[0].timeZone: is not an IANA time zone name "
        "(such as UTC or Europe/Berlin)",
        "project.yaml:9: projects.web.syncWindows[1].schedule: invalid cron schedule: day of week: 7 is "
        "above the highest value 6 (use 0 for Sunday)",
        "project.yaml:10: projects.web.syncWindows[1].duration: must be longer than 0s",
        "project.yaml:12: projects.web.syncWindows[1].syncOverrun: field 'syncOverrun' is not supported "
        "by gitopsd",
        "project.yaml:13: projects.web.syncWindows[2]: selects no application: give applications, "
        "namespaces or clusters",
        "project.yaml:16: projects.web.syncWindows[3]: missing required field 'schedule'",
        "project.yaml:16: projects.web.syncWindows[3]: missing required field 'duration'",
    ])


def test_a_list_is_required() -> None:
    """A mapping where the list belongs is one issue at its line."""
    windows, issues = read("""
        syncWindows:
          kind: deny
        """)
    assert windows == ()
    assert issues == ["project.yaml:3: projects.web.syncWindows: expected a list, got a mapping"]


def test_schema_describes_the_fields_the_reader_reads() -> None:
    """The fleet schema's syncWindow names exactly the fields read, and accepts a valid window only."""
    schema = json.loads((Path(__file__).parents[2] / "config" / "fleet.schema.json").read_text())
    window = schema["$defs"]["syncWindow"]
    assert set(window["properties"]) == set(SYNC_WINDOW_FIELDS)
    validator = jsonschema.Draft202012Validator({**window, "$defs": schema["$defs"]})
    good = yaml.safe_load("{kind: deny, schedule: '0 22 * * *', duration: 1h30m, clusters: [prod-*]}")
    assert list(validator.iter_errors(good)) == []
    assert list(validator.iter_errors({**good, "kind": "block"}))
    assert list(validator.iter_errors({k: v for k, v in good.items() if k != "clusters"}))
