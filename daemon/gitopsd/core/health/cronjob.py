"""Health of batch/CronJob: suspended, or judged by its last scheduled run.

A CronJob's status only tells when a run was last scheduled and when one last
succeeded. When nothing is running and the last success is older than the last
schedule, the last run failed: Degraded. Everything else that is visible is
Healthy, as nothing says otherwise. This module must not look at the Jobs a
CronJob created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus


def cronjob_health(obj: Mapping[str, Any]) -> Health:
    """Health of a CronJob from ``spec.suspend`` and its schedule times."""
    if fields.flag(obj, "spec", "suspend"):
        return Health(HealthStatus.SUSPENDED, "CronJob is suspended")
    scheduled = fields.timestamp(obj, "status", "lastScheduleTime")
    if scheduled is None:
        return Health(HealthStatus.HEALTHY, "CronJob has not been scheduled yet")
    succeeded = fields.timestamp(obj, "status", "lastSuccessfulTime")
    if fields.items(obj, "status", "active"):
        return Health(HealthStatus.HEALTHY, "A run of the CronJob is active")
    if succeeded is None:
        return Health(HealthStatus.HEALTHY, "CronJob has no successful run yet")
    if succeeded < scheduled:
        return Health(
            HealthStatus.DEGRADED,
            f"Last run of the CronJob, scheduled at "
            f"{fields.string(obj, 'status', 'lastScheduleTime')}, did not succeed",
        )
    return Health(HealthStatus.HEALTHY, "Last run of the CronJob succeeded")
