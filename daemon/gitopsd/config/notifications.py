"""The fleet file's ``notifications`` section: services, subscriptions, templates and limits.

```yaml
notifications:
  rateLimit: 5m            # identical notices at most once per this (Flux's default)
  reminder: 1h             # re-send a problem while it lasts (default: never)
  outOfSyncAfter: 10m      # when on-out-of-sync fires
  events: true             # Kubernetes Events in the target clusters
  services:
    - {name: ops-slack, type: slack, urlFile: secrets/slack-url}
    - {name: pager, type: pagerduty, tokenFile: secrets/pd-routing-key}
    - {name: am, type: alertmanager, url: "http://alertmanager:9093"}
    - {name: hook, type: webhook, urlFile: secrets/hook-url, secretFile: secrets/hook-key}
    - {name: mail, type: email, host: smtp.example.com, port: 587, from: gitopsd@example.com,
       to: [sre@example.com], usernameFile: secrets/smtp-user, passwordFile: secrets/smtp-pass}
  subscriptions:
    - triggers: [on-sync-failed, on-health-degraded]
      services: [ops-slack, pager]
      applications: ["payments-*"]   # globs; none: every application
      projects: [prod]               # globs; none: every project
  templates:
    on-sync-failed: "$app on $cluster failed at $short_revision: $message"
```

Secrets (webhook URLs, tokens, HMAC keys, SMTP credentials) are named by
files; this module checks the files open (when asked) and never reads them.
Every problem names file, line and field through the ``Reader``.
"""

from __future__ import annotations

from collections.abc import Callable

from yaml.nodes import MappingNode, Node, ScalarNode

from gitopsd.config.reader import Reader
from gitopsd.config.rules import check_name
from gitopsd.config.yamlpos import line_of
from gitopsd.model.notifications import (
    Notifications,
    NotificationService,
    ServiceType,
    Subscription,
    Trigger,
    template_problem,
)

__all__ = ["NOTIFICATION_FIELDS", "SERVICE_FIELDS", "SUBSCRIPTION_FIELDS", "annotation_subscriptions",
           "parse_trigger", "read_notifications"]

NOTIFICATION_FIELDS = ("rateLimit", "reminder", "outOfSyncAfter", "events", "services",
                       "subscriptions", "templates")
SERVICE_FIELDS = ("name", "type", "url", "urlFile", "tokenFile", "secretFile", "host", "port",
                  "from", "to", "usernameFile", "passwordFile", "startTLS", "recipients",
                  "sendResolved", "queueSize", "timeout", "retries", "retryBackoff")
SUBSCRIPTION_FIELDS = ("triggers", "services", "recipients", "applications", "projects")
# what each type needs: one of these fields must be set
_NEEDS: dict[ServiceType, tuple[str, ...]] = {
    ServiceType.SLACK: ("urlFile",), ServiceType.PAGERDUTY: ("tokenFile",),
    ServiceType.ALERTMANAGER: ("url", "urlFile"), ServiceType.WEBHOOK: ("url", "urlFile"),
    ServiceType.EMAIL: ("host",)}
# Slack, PagerDuty and e-mail only send resolutions when asked; an alert receiver and a webhook
# need them to close what they opened
_RESOLVES = (ServiceType.PAGERDUTY, ServiceType.ALERTMANAGER, ServiceType.WEBHOOK)

Credential = Callable[[Node, str, str], str]


def parse_trigger(name: str) -> Trigger | None:
    """The trigger NAME spells (``on-sync-failed``, or ``sync-failed``), else None."""
    text = name if name.startswith("on-") else f"on-{name}"
    return next((t for t in Trigger if t.value == text), None)


def _trigger_names() -> str:
    return ", ".join(t.value for t in Trigger)


def read_notifications(r: Reader, node: Node | None, credential: Credential) -> Notifications:
    """The ``notifications`` section; CREDENTIAL(node, path, what) resolves a secret file's name."""
    if node is None:
        return Notifications()
    f = r.mapping(node, "notifications", NOTIFICATION_FIELDS)
    if f is None:
        return Notifications()
    base = Notifications()
    services = _services(r, f.get("services"), credential)
    names = {s.name for s in services}
    subs = _subscriptions(r, f.get("subscriptions"), names)
    templates: dict[Trigger, str] = {}
    if "templates" in f:
        for name, text in (r.string_map(f["templates"], "notifications.templates") or {}).items():
            path = f"notifications.templates.{name}"
            trigger = parse_trigger(name)
            if trigger is None:
                r.issue(f["templates"], path, f"unknown trigger '{name}'; known: {_trigger_names()}")
            elif (problem := template_problem(text)) is not None:
                r.issue(f["templates"], path, f"template {problem}")
            else:
                templates[trigger] = text

    def duration(field: str, default: float) -> float:
        value = r.duration(f[field], f"notifications.{field}") if field in f else None
        return default if value is None else value

    events = r.boolean(f["events"], "notifications.events") if "events" in f else None
    return Notifications(services=services, subscriptions=subs, templates=templates,
                         rate_limit=duration("rateLimit", base.rate_limit),
                         reminder=duration("reminder", base.reminder),
                         out_of_sync_after=duration("outOfSyncAfter", base.out_of_sync_after),
                         events=base.events if events is None else events)


def _services(r: Reader, node: Node | None, credential: Credential) -> tuple[NotificationService, ...]:
    if node is None:
        return ()
    out: list[NotificationService] = []
    for i, item in enumerate(r.sequence(node, "notifications.services") or []):
        service = _service(r, item, f"notifications.services[{i}]", credential)
        if service is not None:
            if service.name in {s.name for s in out}:
                r.issue(item, f"notifications.services[{i}].name",
                        f"service '{service.name}' is declared twice")
            out.append(service)
    return tuple(out)


def _service(r: Reader, item: Node, p: str, credential: Credential) -> NotificationService | None:
    f = r.mapping(item, p, SERVICE_FIELDS, required=("name", "type"))
    if f is None or "name" not in f or "type" not in f:
        return None
    name = r.string(f["name"], f"{p}.name")
    kind = r.string(f["type"], f"{p}.type")
    if name is None or kind is None:
        return None
    if reason := check_name(name, "service"):
        r.issue(f["name"], f"{p}.name", reason)
    try:
        stype = ServiceType(kind)
    except ValueError:
        r.issue(f["type"], f"{p}.type",
                f"unknown service type '{kind}'; known: {', '.join(t.value for t in ServiceType)}")
        return None
    needs = _NEEDS[stype]
    if stype is ServiceType.SLACK and "url" in f:
        r.issue(f["url"], f"{p}.url", "a Slack webhook URL is a secret: name a file with urlFile")
    elif not any(n in f for n in needs):
        r.issue(item, p, f"a {stype.value} service needs {' or '.join(needs)}")

    def text(field: str) -> str:
        return (r.string(f[field], f"{p}.{field}") or "") if field in f else ""

    def secret(field: str, what: str) -> str:
        return credential(f[field], f"{p}.{field}", what) if field in f else ""

    port = r.integer(f["port"], f"{p}.port", minimum=1) if "port" in f else None
    size = r.integer(f["queueSize"], f"{p}.queueSize", minimum=1) if "queueSize" in f else None
    timeout = r.duration(f["timeout"], f"{p}.timeout") if "timeout" in f else None
    retries = r.integer(f["retries"], f"{p}.retries", minimum=0) if "retries" in f else None
    backoff = r.duration(f["retryBackoff"], f"{p}.retryBackoff") if "retryBackoff" in f else None
    starttls = r.boolean(f["startTLS"], f"{p}.startTLS") if "startTLS" in f else None
    resolved = r.boolean(f["sendResolved"], f"{p}.sendResolved") if "sendResolved" in f else None
    to = r.string_list(f["to"], f"{p}.to") if "to" in f else None
    recipients = r.string_list(f["recipients"], f"{p}.recipients") if "recipients" in f else None
    if stype is ServiceType.EMAIL and not (to or recipients):
        r.issue(item, p, "an email service needs 'to' (or recipients)")
    defaults = NotificationService(name=name, type=stype)
    return NotificationService(
        name=name, type=stype, url=text("url"), url_file=secret("urlFile", "URL file"),
        token_file=secret("tokenFile", "token file"),
        secret_file=secret("secretFile", "HMAC key file"), smtp_host=text("host"),
        smtp_port=port or (587 if starttls else defaults.smtp_port),
        username_file=secret("usernameFile", "SMTP user file"),
        password_file=secret("passwordFile", "SMTP password file"), sender=text("from"),
        starttls=bool(starttls), recipients=tuple(to or ()) + tuple(recipients or ()),
        send_resolved=stype in _RESOLVES if resolved is None else resolved,
        queue_size=size or defaults.queue_size, timeout=timeout or defaults.timeout,
        retries=defaults.retries if retries is None else retries,
        retry_backoff=defaults.retry_backoff if backoff is None else backoff)


def _subscriptions(r: Reader, node: Node | None, services: set[str]) -> tuple[Subscription, ...]:
    if node is None:
        return ()
    items = r.sequence(node, "notifications.subscriptions") or []
    found = (_subscription(r, item, f"notifications.subscriptions[{i}]", services)
             for i, item in enumerate(items))
    return tuple(s for s in found if s is not None)


def _subscription(r: Reader, item: Node, p: str, services: set[str]) -> Subscription | None:
    f = r.mapping(item, p, SUBSCRIPTION_FIELDS, required=("triggers", "services"))
    if f is None or "triggers" not in f or "services" not in f:
        return None
    triggers: list[Trigger] = []
    for j, t in enumerate(r.sequence(f["triggers"], f"{p}.triggers") or []):
        name = r.string(t, f"{p}.triggers[{j}]")
        trigger = parse_trigger(name) if name else None
        if name and trigger is None:
            r.issue(t, f"{p}.triggers[{j}]", f"unknown trigger '{name}'; known: {_trigger_names()}")
        elif trigger is not None:
            triggers.append(trigger)
    names: list[str] = []
    for j, s in enumerate(r.sequence(f["services"], f"{p}.services") or []):
        name = r.string(s, f"{p}.services[{j}]")
        if name and name not in services:
            r.issue(s, f"{p}.services[{j}]", f"no service named '{name}' in notifications.services")
        elif name:
            names.append(name)

    def globs(field: str) -> tuple[str, ...]:
        return (r.string_list(f[field], f"{p}.{field}") or ()) if field in f else ()

    file, line = r.file, r.where(item, p)[1]
    return Subscription(triggers=tuple(triggers), services=tuple(names),
                        recipients=globs("recipients"), applications=globs("applications"),
                        projects=globs("projects"), origin=f"{file}:{line}")


SUBSCRIBE_PREFIX = "notifications.argoproj.io/subscribe."


def annotation_subscriptions(warn: Reader, meta: Node | None, config: Notifications
                             ) -> tuple[Subscription, ...]:
    """Argo CD's ``notifications.argoproj.io/subscribe.<trigger>.<service>: a;b`` annotations of an
    Application's METADATA, as its own subscriptions. An unknown trigger or a service the fleet file
    does not declare is a warning on WARN, and that annotation is ignored."""
    if not isinstance(meta, MappingNode):
        return ()
    annotations = next((v for k, v in meta.value
                        if isinstance(k, ScalarNode) and k.value == "annotations"), None)
    if not isinstance(annotations, MappingNode):
        return ()
    out: list[Subscription] = []
    for key, value in annotations.value:
        name = str(key.value) if isinstance(key, ScalarNode) else ""
        if not name.startswith(SUBSCRIBE_PREFIX):
            continue
        path = f"metadata.annotations.{name}"
        trigger_name, _, service = name[len(SUBSCRIBE_PREFIX):].partition(".")
        trigger = parse_trigger(trigger_name)
        if trigger is None or not service:
            warn.issue(key, path, f"ignored: gitopsd has no trigger '{trigger_name}' "
                       f"(known: {_trigger_names()})" if service else
                       "ignored: gitopsd needs subscribe.<trigger>.<service>")
            continue
        if config.service(service) is None:
            warn.issue(key, path, f"ignored: no service named '{service}' in the fleet file's "
                       "notifications.services")
            continue
        raw = str(value.value) if isinstance(value, ScalarNode) else ""
        recipients = tuple(r.strip() for r in raw.replace(",", ";").split(";") if r.strip())
        out.append(Subscription(triggers=(trigger,), services=(service,), recipients=recipients,
                                origin=f"{warn.file}:{line_of(key)}"))
    return tuple(out)
