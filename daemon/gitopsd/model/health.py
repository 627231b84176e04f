"""Health states and their severity order (Argo CD's, so habits carry over)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class HealthStatus(enum.Enum):
    """Health of an object; the declaration order is the severity order."""

    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"

    @property
    def severity(self) -> int:
        return list(HealthStatus).index(self)

    @property
    def is_settled(self) -> bool:
        """True when a health gate may pass (Healthy or Suspended)."""
        return self in (HealthStatus.HEALTHY, HealthStatus.SUSPENDED)


@dataclass(frozen=True)
class Health:
    """A health status with a one-line human reason."""

    status: HealthStatus
    message: str = ""

    @staticmethod
    def worst(healths: Iterable[Health]) -> Health:
        """The most severe of several healths; Healthy when there are none."""
        result = Health(HealthStatus.HEALTHY)
        for h in healths:
            if h.status.severity > result.status.severity:
                result = h
        return result
