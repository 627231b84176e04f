"""One reconcile pass of one application instance, as a linear story.

check the project -> resolve revision -> render -> check the project ->
compare -> (stop here when in sync, not automated, automated without selfHeal
at the source already applied, or a sync window refuses the sync) -> plan ->
preflight (every kind served, every namespace there or created: else fail
before any write) -> record inventory -> apply wave by wave
-> prune -> record inventory -> Outcome.
An inventory entry leaves only once its object is confirmed gone or is no
longer the application's: a prune sent but not confirmed (the pass failed or
was killed, or the object is still being deleted) keeps its entry, so the next
pass finishes it. Every error becomes an Outcome with a message that names
what failed and the revision it failed on (as far as the pass got: the commit
it was asked for, then the one resolved); only a bug (an error that is not a
GitopsdError) or cancellation escapes to the caller, whose worker turns it
into a retry.
The project checks come before any write: a repository, destination or
rendered object the application's project forbids stalls the pass with a
``ProjectViolation`` and nothing of it is applied or pruned; an inventoried
object the project no longer covers is never pruned (it stays recorded, and
the pass says so).
The pass returns its comparison with the outcome, and hands it to the
caller's EXPECT before anything is written, so that watch events of the
writes that follow are judged against the new desired state.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from gitopsd.core import health as healthmod
from gitopsd.core.health.custom import Assess
from gitopsd.core.inventory import Inventory, InventoryEntry
from gitopsd.core.plan import Plan, SkipReason, parse_app_options, plan_sync
from gitopsd.core.plan.hooks import deletion_hook_types
from gitopsd.core.policy.projects import Scope, render_violations
from gitopsd.core.removal import deletion_hooks, recorded_project, removal
from gitopsd.engine.clock import Clock, MonotonicClock
from gitopsd.engine.ports import ClusterPort, DesiredPort, NoTracing, Step, TracingPort
from gitopsd.engine.sync.compare import Comparison, LiveReader, compare, is_hook
from gitopsd.engine.sync.execute import Executor
from gitopsd.engine.sync.preflight import preflight
from gitopsd.engine.sync.result import ExecResult
from gitopsd.engine.windows import Closed
from gitopsd.errors import (
    ApiError,
    ConfigError,
    GitError,
    GitopsdError,
    ProjectViolation,
    SourceError,
)
from gitopsd.model import (
    AppInstance,
    Application,
    ChangeSet,
    ErrorKind,
    Health,
    HealthStatus,
    Manifest,
    Outcome,
    OutcomeKind,
    ResourceKey,
    Revision,
    error_kind,
    objects,
)
from gitopsd.model.projects import DEFAULT_PROJECT

KEEP_IN_INVENTORY = (SkipReason.PRUNE_NOT_ENABLED, SkipReason.PRUNE_REFUSED,
                     SkipReason.PRUNE_NEEDS_CONFIRM, SkipReason.PRUNE_IN_USE,
                     SkipReason.PRUNE_OUTSIDE_PROJECT)


@dataclass(frozen=True)
class SyncRequest:
    manual: bool = False
    prune: bool = False
    allow_mass_prune: bool = False
    commit: str | None = None  # the head a poll saw for the instance's ref
    applied: str | None = None  # the source key of the instance's last successful sync


@dataclass(frozen=True)
class Pass:
    """What one reconcile pass found and did."""

    outcome: Outcome
    comparison: Comparison | None = None  # None when it failed before comparing
    closed: Closed | None = None  # the sync window that stopped the sync, if one did

    @property
    def kind(self) -> OutcomeKind:
        return self.outcome.kind


Expect = Callable[[Comparison], None]
Scopes = Callable[[AppInstance, Application], Scope]
Windows = Callable[[AppInstance, bool], Closed | None]  # (instance, manual) -> why not now, or None


@dataclass(kw_only=True, eq=False)
class Reconciler:
    fleet: str
    cluster: ClusterPort
    desired: DesiredPort
    inventory_namespace: str = "gitopsd-system"
    clock: Clock = field(default_factory=MonotonicClock)
    live_reader: LiveReader | None = None
    health_poll: float = 0.5
    tracing: TracingPort = field(default_factory=NoTracing)
    assess: Assess = healthmod.assess
    # this daemon may write for an instance (holds the cluster's Lease, or owns the instance)
    writable: Callable[[AppInstance], bool] = lambda instance: True
    scopes: Scopes | None = None  # each instance's project bounds; None: unbounded (tests)
    windows: Windows = lambda instance, manual: None  # the sync windows' answer, asked before a sync
    _kinds: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # app -> kinds owned or wanted

    def _executor(self, instance: AppInstance) -> Executor:
        """A fresh executor for one pass: passes of several applications on this cluster run at once."""
        return Executor(self.cluster, self.clock, fleet=self.fleet, poll=self.health_poll,
                        tracing=self.tracing, assess=self.assess,
                        writable=functools.partial(self.writable, instance))

    async def resolve(self, instance: AppInstance, commit: str | None = None) -> Revision:
        """The revision INSTANCE should be at (COMMIT when a poll saw its ref there)."""
        with self.tracing.span(Step.SOURCE) as span:
            revision = await self.desired.resolve(instance, commit)
            span.set(revision=revision.sha, ref=revision.ref)
        return revision

    async def compare(self, instance: AppInstance, app: Application, *,
                      with_diff: bool = False, commit: str | None = None,
                      revision: Revision | None = None) -> Comparison:
        """Desired against live for INSTANCE (at REVISION, else resolved), without changing the cluster."""
        if revision is None:
            revision = await self.resolve(instance, commit)
        with self.tracing.span(Step.RENDER) as span:
            manifests = await self.desired.manifests(instance, revision)
            span.set(objects=len(manifests))
        self.bounds(instance, app, manifests)
        with self.tracing.span(Step.DIFF) as span:
            cmp = await compare(self.cluster, revision, manifests, fleet=self.fleet, app=app.name,
                                inventory_namespace=self.inventory_namespace,
                                ignore=app.ignore_differences, live_reader=self.live_reader,
                                with_diff=with_diff, assess=self.assess,
                                known_kinds=self._kinds.get(app.name, ()))
            span.set(out_of_sync=len(cmp.out_of_sync), extraneous=len(cmp.extraneous))
        cmp.warnings = self.desired.warnings(instance, revision)
        cmp.source_key = self.desired.source_key(instance, revision)
        known = self._kinds.setdefault(app.name, set())
        known.update((e.api_version, e.kind) for e in cmp.inventory)
        known.update((m.api_version, m.key.kind) for m in cmp.tracked)
        return cmp

    async def reconcile(self, instance: AppInstance, app: Application,
                        request: SyncRequest = SyncRequest(), *, expect: Expect | None = None) -> Pass:
        """One pass over INSTANCE; EXPECT is given the comparison before anything is written."""
        started = self.clock.now()
        deadline = started + app.sync_policy.sync_timeout
        cmp: Comparison | None = None
        # the revision this pass works on, as far as it got: the commit it was asked for, then
        # the one resolved; a pass that fails before comparing still says which it failed on
        sha = request.commit or ""
        try:
            self.bounds(instance, app)
            revision = await self.resolve(instance, request.commit)
            sha = revision.sha
            cmp = await self.compare(instance, app, revision=revision)
            if expect is not None:
                expect(cmp)
            closed = self._window(instance, app, cmp, request)
            if closed is not None:
                return Pass(Outcome(OutcomeKind.OUT_OF_SYNC, f"{cmp.summary()}; {closed.message}",
                                    cmp.revision.sha, health=cmp.health(), warnings=cmp.warnings),
                            cmp, closed)
            outcome = await self._sync(instance, app, cmp, request, deadline)
            return Pass(replace(outcome, warnings=cmp.warnings), cmp)
        except ProjectViolation as e:  # nothing was written, and nothing is handed to EXPECT
            return Pass(Outcome(OutcomeKind.STALLED, str(e), sha, error=error_kind(e)))
        except (SourceError, ConfigError) as e:
            kind = OutcomeKind.FAILED if isinstance(e, GitError) else OutcomeKind.STALLED
            return Pass(Outcome(kind, str(e), sha, error=error_kind(e)), cmp)
        except GitopsdError as e:
            return Pass(Outcome(OutcomeKind.FAILED, str(e), sha, error=error_kind(e)), cmp)

    def bounds(self, instance: AppInstance, app: Application, manifests: tuple[Manifest, ...] = ()
               ) -> None:
        """Raise ``ProjectViolation`` naming each object (and the repository or destination)
        INSTANCE's project forbids; run before anything of a sync is written."""
        if self.scopes is None:
            return
        found = self.scopes(instance, app).violations(manifests)
        if found:
            raise ProjectViolation(render_violations(app.project, found))

    def _outside(self, instance: AppInstance, app: Application, cmp: Comparison) -> dict[ResourceKey, str]:
        """Inventory entries left Git that the project does not cover (a narrowed project):
        never pruned by this sync."""
        if self.scopes is None:
            return {}
        scope = self.scopes(instance, app)
        desired = {m.key for m in cmp.desired}
        found = {e.key: scope.outside(e.key) for e in cmp.inventory if e.key not in desired}
        return {key: f"outside project {app.project}: {v.message} ({v.rule})"
                for key, v in found.items() if v is not None}
    def _window(self, instance: AppInstance, app: Application, cmp: Comparison,
                request: SyncRequest) -> Closed | None:
        """The sync window that stops the sync this pass would run now (None: none does)."""
        if (cmp.in_sync and not cmp.conflicts) or not _syncs(app, cmp, request):
            return None
        return self.windows(instance, request.manual)

    async def _sync(self, instance: AppInstance, app: Application, cmp: Comparison,
                    request: SyncRequest, deadline: float) -> Outcome:
        revision = cmp.revision.sha
        if cmp.in_sync and not cmp.conflicts:
            await self._record_inventory(app, cmp, _tracked(cmp), cmp.inventory)
            return Outcome(OutcomeKind.SYNCED, "in sync", revision, health=cmp.health())
        if not _syncs(app, cmp, request):
            return Outcome(OutcomeKind.OUT_OF_SYNC, cmp.summary(), revision, health=cmp.health())
        plan = self._plan(instance, app, cmp, request)
        refused = await preflight(self.cluster, plan)
        if refused is not None:
            return Outcome(OutcomeKind.FAILED, refused, revision, health=cmp.health(),
                           error=ErrorKind.SYNC)
        return await self._execute(instance, app, cmp, plan, deadline)

    def _plan(self, instance: AppInstance, app: Application, cmp: Comparison,
              request: SyncRequest) -> Plan:
        with self.tracing.span(Step.PLAN) as span:
            plan = plan_sync(cmp.desired, previous_inventory=cmp.inventory.pairs(),
                             policy=app.sync_policy, namespace=instance.namespace,
                             sync_id=f"{cmp.revision.sha}-{uuid.uuid4().hex}",
                             out_of_sync=cmp.out_of_sync,
                             live_prune_options=cmp.prune_annotations, prune=request.prune,
                             allow_mass_prune=request.allow_mass_prune,
                             prune_preconditions=cmp.prune_preconditions, not_ours=cmp.not_ours,
                             outside_project=self._outside(instance, app, cmp))
            span.set(tasks=len(plan.tasks))
        return plan

    async def _execute(self, instance: AppInstance, app: Application, cmp: Comparison, plan: Plan,
                       deadline: float) -> Outcome:
        revision = cmp.revision.sha
        desired_inv = _tracked(cmp, plan)
        # Record the union first: a crash mid-sync must not orphan what it created.
        await self._record_inventory(app, cmp, cmp.inventory.union(desired_inv), cmp.inventory)
        executor = self._executor(instance)
        result = await executor.run(plan, cmp, deadline=deadline, app=app.name,
                                    ignore=app.ignore_differences)
        kept = {s.key for s in plan.skipped if s.reason in KEEP_IN_INVENTORY}
        kept |= result.failed_prunes | result.pending_prunes
        keep_entries = [e for e in cmp.inventory if e.key in kept]
        if result.error:
            fail = await self._sync_fail(instance, executor, plan, deadline)
            changes = ChangeSet(tuple(result.changes) + tuple(fail.changes))
            final = cmp.inventory.union(desired_inv).without(result.pruned | result.released)
            await self._record_inventory(app, cmp, final, None)
            return Outcome(OutcomeKind.FAILED, result.error, revision, changes,
                           _health(result, cmp))
        final = desired_inv.union(keep_entries)
        await self._record_inventory(app, cmp, final, cmp.inventory)
        changes = ChangeSet(tuple(result.changes))
        if plan.prune_refused:
            return Outcome(OutcomeKind.STALLED, plan.prune_refused, revision, changes,
                           _health(result, cmp))
        message = ", ".join(f"{n} {a}" for a, n in sorted(changes.summary().items())) or "no changes"
        outside = [s for s in plan.skipped if s.reason is SkipReason.PRUNE_OUTSIDE_PROJECT]
        if outside:
            left = "; ".join(f"{s.key}: {s.message}" for s in outside)
            return Outcome(OutcomeKind.STALLED, f"{message}; left in place: {left}", revision, changes,
                           _health(result, cmp), error=ErrorKind.PROJECT_VIOLATION.value)
        return Outcome(OutcomeKind.SYNCED, message, revision, changes, _health(result, cmp))

    async def _sync_fail(self, instance: AppInstance, executor: Executor, plan: Plan,
                         deadline: float) -> ExecResult:
        if not plan.sync_fail_hooks or not self.writable(instance):
            return ExecResult()
        with self.tracing.span(Step.HOOK, "hooks SyncFail"):
            return await executor.run_hooks(plan.sync_fail_hooks, max(deadline, self.clock.now() + 60))

    async def _record_inventory(self, app: Application, cmp: Comparison, inventory: Inventory,
                                previous: Inventory | None) -> None:
        """Write the inventory ConfigMap when its content (or what it says of removal) changed."""
        policy = parse_app_options(app.sync_policy.sync_options).prune_propagation_policy
        # a hook from SOPS-decrypted input may hold a secret value: it is never copied into
        # the inventory ConfigMap (and so does not run when the application is removed)
        hooks = [m.body for m in cmp.desired if _deletion_hook(m) and not m.source.decrypted]
        body = inventory.to_configmap(app=app.name, fleet=self.fleet,
                                      namespace=self.inventory_namespace, cascade=app.cascade_delete,
                                      propagation=policy.value, deletion_hooks=hooks,
                                      project="" if app.project == DEFAULT_PROJECT else app.project)
        if cmp.inventory_live is not None and previous is not None and not cmp.rebuilt and \
                inventory.to_text() == cmp.inventory.to_text() and \
                removal(cmp.inventory_live) == removal(body) and \
                recorded_project(cmp.inventory_live) == recorded_project(body) and \
                deletion_hooks(cmp.inventory_live) == deletion_hooks(body):
            return
        if cmp.inventory_live is None and not len(inventory):
            return
        # conditional: a writer that read an older inventory (a stale member) is refused
        if cmp.inventory_live is not None and (version := objects.resource_version(cmp.inventory_live)):
            body["metadata"]["resourceVersion"] = version
        try:
            live = await self.cluster.apply(body, force=True)
        except ApiError as e:
            if e.status != 404:
                raise
            await self.cluster.apply({"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": self.inventory_namespace}})
            live = await self.cluster.apply(body, force=True)
        cmp.inventory_live = live
        cmp.inventory = inventory
        cmp.rebuilt = False


def _deletion_hook(manifest: Manifest) -> bool:
    try:
        return bool(deletion_hook_types(manifest.annotations))
    except ValueError:
        return False


def _tracked(cmp: Comparison, plan: Plan | None = None) -> Inventory:
    if plan is None:
        return Inventory.from_manifests(cmp.desired)
    untracked = {t.key for t in plan.tasks if not t.tracked}
    hooks = {t.key for t in plan.tasks if t.hook is not None}
    # Skip and deletion hooks are never applied by a sync, so they are never owned either
    return Inventory.of(InventoryEntry.of(m.body) for m in cmp.desired
                        if m.key not in untracked and m.key not in hooks and not is_hook(m))


def _health(result: ExecResult, cmp: Comparison) -> Health:
    """What the health gates saw, else what the last read or apply of each object returned."""
    healths = []
    for m in cmp.tracked:
        h = result.healths.get(m.key)
        if h is None:
            live = cmp.live.get(m.key)
            h = Health(HealthStatus.MISSING, f"{m.key} does not exist") if live is None \
                else cmp.assess(live)
        healths.append(h)
    return Health.worst(healths)


__all__ = ["Pass", "Reconciler", "Revision", "SyncRequest"]


def _syncs(app: Application, cmp: Comparison, request: SyncRequest) -> bool:
    """Whether a pass that found differences syncs them: a manual sync does; an automated one does
    unless it is without selfHeal and the source (revision and parameters) is the one already
    applied (as Argo CD, such a pass reports the instance OutOfSync and leaves the objects alone)."""
    policy = app.sync_policy
    if request.manual:
        return True
    return policy.automated and (policy.self_heal or cmp.source_key != request.applied)
