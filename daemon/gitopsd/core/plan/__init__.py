"""The sync planner: which objects a sync applies, prunes and runs as hooks, in what order.

``plan_sync`` turns desired manifests, the previous inventory and the sync
policy into a ``Plan`` of frozen ``SyncTask`` values. It follows Argo CD's
semantics so that repositories written for Argo CD sync the same way; it is
pure (no clock, no randomness, no cluster) and its output does not depend on
the order of its inputs.

The order of ``Plan.tasks`` is total (``SyncTask.sort_key``):

1. phase: PreSync, Sync, PostSync (SyncFail hooks are kept apart in
   ``Plan.sync_fail_hooks`` and run only when the sync fails);
2. inside a phase, applies and hooks first, then prunes, then PruneLast prunes;
3. applies and hooks by ascending wave (``argocd.argoproj.io/sync-wave``, else
   ``helm.sh/hook-weight``, else 0); prunes by descending wave of the live
   object; PruneLast prunes (app-level or per object) all in one final wave;
4. applies and hooks by ascending kind rank (``core.kinds.kind_rank``), prunes
   by descending kind rank (what was created last is deleted first);
5. namespace, name, group, kind.

Dependency fixes then move objects before what needs them: an applied
Namespace and an applied CRD move to the earliest (phase, wave) of the objects
in that namespace or of that group/kind, when that is earlier than their own
(the objects themselves never move, so hooks keep their phase). Among prunes
the mirror image holds: a pruned Namespace or CRD moves to or after the prunes
of what it holds. Prunes therefore run after every apply and hook of the Sync
phase (replacements exist before old objects go) and before PostSync hooks.

``sync_order`` lists the desired objects as written in that order, each with
how a sync uses it (what ``gitopsd render`` prints).
"""

from gitopsd.core.plan.hooks import DeletePolicy, HookSpec, Phase, generated_name
from gitopsd.core.plan.listing import Listed, SyncUse, sync_order
from gitopsd.core.plan.options import (
    APP_OPTION_NAMES,
    RESOURCE_OPTION_NAMES,
    AppOptions,
    Permission,
    PropagationPolicy,
    ResourceOptions,
    app_option_problems,
    object_options,
    parse_app_options,
    parse_resource_options,
)
from gitopsd.core.plan.planner import CREATED_NAMESPACE_RANK, plan_sync
from gitopsd.core.plan.prune import live_deletion_options, prune_guard
from gitopsd.core.plan.tasks import (
    Plan,
    Preconditions,
    Skipped,
    SkipReason,
    SyncTask,
    TaskAction,
    WaveId,
    group_waves,
    sort_tasks,
)

__all__ = [
    "APP_OPTION_NAMES",
    "CREATED_NAMESPACE_RANK",
    "RESOURCE_OPTION_NAMES",
    "AppOptions",
    "DeletePolicy",
    "HookSpec",
    "Listed",
    "Permission",
    "Phase",
    "Plan",
    "Preconditions",
    "PropagationPolicy",
    "ResourceOptions",
    "SkipReason",
    "Skipped",
    "SyncTask",
    "SyncUse",
    "TaskAction",
    "WaveId",
    "app_option_problems",
    "generated_name",
    "group_waves",
    "live_deletion_options",
    "object_options",
    "parse_app_options",
    "parse_resource_options",
    "plan_sync",
    "prune_guard",
    "sort_tasks",
    "sync_order",
]
