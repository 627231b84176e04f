"""A ``syncWindows`` list, written as on an Argo CD AppProject, to ``SyncWindow`` values.

```yaml
syncWindows:
  - kind: deny                  # allow | deny
    schedule: "0 22 * * fri"    # five-field cron, read in timeZone
    duration: 60h               # how long each opening lasts (Go style: 1h30m)
    timeZone: Europe/Berlin     # IANA name; UTC when absent
    applications: ["*-prod"]    # globs; a window applies when any selector matches
    namespaces: [payments]
    clusters: [prod-*]
    manualSync: true            # manual syncs pass while this window stops syncs
    andOperator: false          # true: every selector given must match
    description: weekend freeze
```

Every problem is reported with the file, line and field it is at, and
reading carries on, so one run reports them all. This module reads YAML nodes
only: whether a window is open is ``core.policy.windows``' business.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import Node

from gitopsd.config.reader import Reader
from gitopsd.model.cron import CronSchedule, parse_cron
from gitopsd.model.windows import SyncWindow, WindowKind

__all__ = ["SYNC_WINDOW_FIELDS", "parse_sync_windows"]

SYNC_WINDOW_FIELDS = ("kind", "schedule", "duration", "timeZone", "applications", "namespaces",
                      "clusters", "manualSync", "andOperator", "description")
_UNSUPPORTED = ("syncOverrun",)
_SELECTORS = ("applications", "namespaces", "clusters")


def _zone(r: Reader, node: Node, path: str) -> str | None:
    name = r.string(node, path)
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        r.issue(node, path, "is not an IANA time zone name (such as UTC or Europe/Berlin)")
        return None
    return name


def _schedule(r: Reader, node: Node, path: str) -> CronSchedule | None:
    text = r.string(node, path)
    if text is None:
        return None
    try:
        return parse_cron(text)
    except ValueError as exc:
        r.issue(node, path, f"invalid cron schedule: {exc}")
        return None


def _window(r: Reader, node: Node, p: str) -> SyncWindow | None:
    f = r.mapping(node, p, SYNC_WINDOW_FIELDS, required=("kind", "schedule", "duration"),
                  unsupported=_UNSUPPORTED)
    if f is None:
        return None
    kind = None
    if "kind" in f:
        word = r.string(f["kind"], f"{p}.kind")
        if word is not None:
            try:
                kind = WindowKind(word)
            except ValueError:
                r.issue(f["kind"], f"{p}.kind", "must be allow or deny")
    schedule = _schedule(r, f["schedule"], f"{p}.schedule") if "schedule" in f else None
    duration = r.duration(f["duration"], f"{p}.duration") if "duration" in f else None
    if duration is not None and duration <= 0:
        r.issue(f["duration"], f"{p}.duration", "must be longer than 0s")
        duration = None
    zone = _zone(r, f["timeZone"], f"{p}.timeZone") if "timeZone" in f else "UTC"
    selectors = {name: r.string_list(f[name], f"{p}.{name}") or () for name in _SELECTORS if name in f}
    selects = any(selectors.values())
    if not selects:
        r.issue(node, p, "selects no application: give applications, namespaces or clusters")
    manual = r.boolean(f["manualSync"], f"{p}.manualSync") if "manualSync" in f else False
    both = r.boolean(f["andOperator"], f"{p}.andOperator") if "andOperator" in f else False
    description = (r.string(f["description"], f"{p}.description", empty=True) or "") \
        if "description" in f else ""
    if len(description) > 255:
        r.issue(f["description"], f"{p}.description", "must not exceed 255 characters")
    if kind is None or schedule is None or duration is None or zone is None or \
            manual is None or both is None or not selects:
        return None
    written = r.string(f["duration"], f"{p}.duration") if f["duration"].tag.endswith(":str") else None
    return SyncWindow(kind, schedule, duration, zone, applications=selectors.get("applications", ()),
                      namespaces=selectors.get("namespaces", ()), clusters=selectors.get("clusters", ()),
                      manual_sync=manual, and_operator=both, description=description,
                      duration_text=written or f"{duration:g}s")


def parse_sync_windows(r: Reader, node: Node, path: str = "syncWindows") -> tuple[SyncWindow, ...]:
    """The windows of the ``syncWindows`` list NODE at field PATH; problems go to R's issue log.

    A window with a problem is left out of the result (and reported), so a
    caller that goes on after reading must check ``r.log`` before using it.
    """
    items = r.sequence(node, path)
    if items is None:
        return ()
    windows = [_window(r, item, f"{path}[{i}]") for i, item in enumerate(items)]
    return tuple(w for w in windows if w is not None)
