"""One poller per repository: a remote listing per interval (with jitter), or at once on a webhook.

A moved ref enqueues every instance that tracks it at new-revision priority,
carrying the commit the poll saw, so the sync fetches exactly that revision
without listing the remote again; an instance whose Helm value files come
from that ref of another source (``Source.refs``) is enqueued too. Listings
and fetches are counted from the Git edge's own counters, so the metrics
include the work a sync did too.

Whether a repository answers is told through ``available``: a failed poll, or
a sync whose listing or fetch failed, says it is unavailable (with the error);
the next poll that lists it, or sync that fetches from it, says it is
available again. What that means for the instances' status is the caller's
to show.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import structlog

from gitopsd.engine.clock import Clock
from gitopsd.engine.ports import GitPort, MetricsPort
from gitopsd.engine.queue import Priority, WorkQueue
from gitopsd.errors import GitopsdError
from gitopsd.model import AppInstance, ConditionReason, ErrorKind, Outcome, Repository
from gitopsd.model.giturls import same_repository

log = structlog.get_logger("gitopsd.pollers")


@dataclass(kw_only=True)
class Pollers:
    git: GitPort
    queue: WorkQueue
    clock: Clock
    metrics: MetricsPort | None
    instances: Callable[[], Iterable[AppInstance]]
    jitter: float = 0.1
    # (repository, None) when it answered a poll; (repository, (reason, error)) when it did not
    available: Callable[[str, tuple[ConditionReason, str] | None], None] = lambda repo, why: None
    _now: dict[str, asyncio.Event] = field(default_factory=dict)
    _pushed: set[str] = field(default_factory=set)  # repositories whose next poll a webhook asked for
    _seen: dict[str, tuple[int, int]] = field(default_factory=dict)  # repo -> (listings, fetches)
    _heads: dict[tuple[str, str], str] = field(default_factory=dict)  # (repo, ref) -> sha last polled

    def head(self, repo: str, ref: str) -> str | None:
        """The commit REF of REPO pointed at in the last poll that answered, or None."""
        return self._heads.get((repo, ref))

    def add(self, repo: Repository) -> None:
        self._now[repo.name] = asyncio.Event()

    def push(self, repositories: Iterable[Repository], repo: str) -> list[str]:
        """Poll the repositories named or addressed by REPO now; their names."""
        triggered = []
        for r in repositories:
            event = self._now.get(r.name)
            if event is not None and (repo in (r.name, r.url) or same_repository(repo, r.url)):
                self._pushed.add(r.name)
                event.set()
                triggered.append(r.name)
        return triggered

    def report(self, repo: Repository, ok: bool = True) -> int:
        """Count the remote listings and fetches done for REPO since the last report; how many."""
        stats = self.git.stats(repo)
        listings, fetches = self._seen.get(repo.name, (0, 0))
        if self.metrics:
            for _ in range(stats.listings - listings):
                self.metrics.git_request(repo.name, "ls-remote", ok)
            for _ in range(stats.fetches - fetches):
                self.metrics.git_request(repo.name, "fetch", ok)
            if not ok and stats.listings == listings:
                self.metrics.git_request(repo.name, "ls-remote", False)
        self._seen[repo.name] = (stats.listings, stats.fetches)
        return int(stats.listings - listings + stats.fetches - fetches)

    def passed(self, repo: Repository, outcome: Outcome) -> None:
        """A sync of an instance of REPO ended in OUTCOME: count its Git requests; a listing or
        fetch that failed makes the repository unavailable, one that was answered available."""
        ok = outcome.error not in (ErrorKind.GIT, ErrorKind.REPOSITORY_UNAVAILABLE)
        asked = self.report(repo, ok=ok)
        if outcome.error == ErrorKind.REPOSITORY_UNAVAILABLE:
            self.available(repo.name, (ConditionReason.FETCH_FAILED, outcome.message))
        elif ok and asked:
            self.available(repo.name, None)

    async def run(self, repo: Repository) -> None:
        event = self._now[repo.name]
        while True:
            tracking = [i for i in self.instances() if i.source.repo == repo.name]
            lending = [i for i in self.instances()
                       if any(r.repo == repo.name for r in i.source.refs)]
            wanted = {i.source.target_revision for i in tracking} | {
                r.target_revision for i in lending for r in i.source.refs if r.repo == repo.name}
            try:
                heads = await self.git.poll(repo, wanted)
                self.report(repo)
                self.available(repo.name, None)
            except GitopsdError as e:
                self.report(repo, ok=False)
                log.warning("poll.failed", repo=repo.name, error=str(e))
                self.available(repo.name, (ConditionReason.POLL_FAILED, str(e)))
                heads = {}
            for ref, sha in heads.items():
                previous = self._heads.get((repo.name, ref))
                self._heads[(repo.name, ref)] = sha
                if previous is not None and previous != sha:
                    why = "webhook" if repo.name in self._pushed else f"{ref}@{sha[:12]}"
                    for inst in tracking:
                        if inst.source.target_revision == ref:
                            self.queue.add(inst.key, inst.cluster, Priority.REVISION, reason=why,
                                           commit=sha)
                    for inst in lending:  # their value files moved; their own commit did not
                        if any(r.repo == repo.name and r.target_revision == ref
                               for r in inst.source.refs):
                            self.queue.add(inst.key, inst.cluster, Priority.REVISION, reason=why)
            self._pushed.discard(repo.name)
            event.clear()
            await self.clock.wait(event, repo.poll_interval * (1 + self.jitter * (2 * random.random() - 1)))

    def runner(self, repo: Repository) -> Callable[[], Awaitable[None]]:
        return lambda: self.run(repo)

