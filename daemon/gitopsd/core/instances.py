"""Which application instances a one-shot verb (``render``, ``diff``, ``sync``) acts on.

The user names an application and, optionally, one of its clusters. This
module picks those instances from a fleet or says in one line why none fit
(with the closest application name when the name looks like a typo), so that
every verb answers the same question the same way. It reads nothing: the
fleet must already hold the applications of its Argo CD sources when the
name is not in the fleet file.
"""

from __future__ import annotations

import difflib

from gitopsd.errors import GitopsdError
from gitopsd.model.fleet import AppInstance, Fleet


def select_instances(fleet: Fleet, app: str, cluster: str | None = None
                     ) -> tuple[AppInstance, ...]:
    """The instances of APP in FLEET, only the one on CLUSTER when it is given.

    Raises ``GitopsdError`` for an unknown application, an application that
    selects no cluster, and a cluster the application does not run on.
    """
    if not defines(fleet, app):
        known = sorted(a.name for a in fleet.applications)
        close = difflib.get_close_matches(app, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise GitopsdError(f"unknown application '{app}'{hint}")
    mine = tuple(i for i in fleet.instances if i.app == app)
    if cluster is None:
        if not mine:
            raise GitopsdError(f"application '{app}' selects no cluster")
        return mine
    chosen = tuple(i for i in mine if i.cluster == cluster)
    if not chosen:
        on = ", ".join(i.cluster for i in mine) or "no cluster"
        raise GitopsdError(f"application '{app}' has no instance on cluster '{cluster}' "
                           f"(it runs on {on})")
    return chosen


def defines(fleet: Fleet, app: str) -> bool:
    """Whether FLEET defines APP (then its Argo CD sources need not be read to find it)."""
    return any(a.name == app for a in fleet.applications)
