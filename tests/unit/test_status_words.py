"""The status vocabulary of model/status: users' spellings, and one error kind per error class."""

from __future__ import annotations

import inspect

from gitopsd import errors
from gitopsd.model import (
    ConditionReason,
    ConditionType,
    ErrorKind,
    SyncResult,
    SyncStatus,
    error_kind,
)


def test_members_are_the_strings_users_see() -> None:
    """Members compare equal to, and format as, the spellings in the API, metrics and CLI."""
    assert [str(s) for s in SyncStatus] == ["Synced", "OutOfSync", "Unknown"]
    assert [str(r) for r in SyncResult] == ["Succeeded", "Failed", "Error"]
    assert ConditionType.SELF_HEAL_FIGHT == "SelfHealFight"
    assert f"{ConditionType.CLUSTER_UNREACHABLE}" == "ClusterUnreachable"
    assert {str(c) for c in ConditionType} >= {"ClusterUnreachable", "WatchError", "OutOfSync",
                                               "SelfHealFight", "RetriesExhausted", "SyncError"}
    assert ConditionReason.DRIFT_DETECTED == "DriftDetected"


def test_every_error_class_has_a_kind() -> None:
    """Each class of gitopsd.errors is an ErrorKind, and each ErrorKind is such a class."""
    classes = {name for name, cls in inspect.getmembers(errors, inspect.isclass)
               if issubclass(cls, errors.GitopsdError)}
    assert classes == {str(kind) for kind in ErrorKind}


def test_error_kind_of_an_error() -> None:
    """A gitopsd error gives its kind; an error class defined elsewhere gives its own name."""

    class Elsewhere(errors.GitError):
        pass

    assert error_kind(errors.GitError("x")) is ErrorKind.GIT
    assert error_kind(errors.ClusterUnreachable("x")) == "ClusterUnreachable"
    assert error_kind(Elsewhere("x")) == "Elsewhere"
