"""Sync windows: cron reading, activity in time zones across DST, and Argo CD's verdict."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitopsd.core.policy.windows import WindowTarget, applies, evaluate, is_active
from gitopsd.model.cron import parse_cron
from gitopsd.model.globs import glob_match
from gitopsd.model.windows import SyncWindow, WindowKind

UTC = dt.UTC
APP = WindowTarget("web", ("shop",), ("prod-eu",))


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def window(schedule: str, hours: float, *, kind: WindowKind = WindowKind.DENY, tz: str = "UTC",
           manual: bool = False, **selectors: tuple[str, ...]) -> SyncWindow:
    selectors.setdefault("applications", ("*",))
    return SyncWindow(kind, parse_cron(schedule), hours * 3600, tz, manual_sync=manual, **selectors)


# -- cron -------------------------------------------------------------------------


def test_cron_reads_ranges_lists_steps_and_names() -> None:
    """Ranges, lists, steps, open-ended steps and names expand to the values they stand for."""
    s = parse_cron("*/20 9-17/4 1,15 JAN-mar mon-fri")
    assert (s.minutes, s.hours, s.days, s.months, s.weekdays) == (
        {0, 20, 40}, {9, 13, 17}, {1, 15}, {1, 2, 3}, {1, 2, 3, 4, 5})
    assert parse_cron("50/5 * * * *").minutes == {50, 55}
    assert parse_cron("0 0 ? * SUN,sat").weekdays == {0, 6}


@pytest.mark.parametrize(("text", "reason"), [
    ("0 0 * *", "expected 5 fields"),
    ("0 0 0 * * *", "expected 5 fields"),
    ("@daily", "descriptors"),
    ("CRON_TZ=UTC 0 0 * * *", "timeZone"),
    ("0 0 * * 7", "use 0 for Sunday"),
    ("60 0 * * *", "above the highest value 59"),
    ("0 0 0 * *", "below the lowest value 1"),
    ("0 5-2 * * *", "runs backwards"),
    ("*/0 * * * *", "positive number"),
    ("0 0 * foo *", "not a number or a name"),
    ("0 0 1,,2 * *", "empty list entry"),
    ("0 0 30 feb *", "never fires"),
])
def test_cron_refuses_what_argo_cd_refuses(text: str, reason: str) -> None:
    """Each malformed schedule is refused with a reason naming what is wrong."""
    with pytest.raises(ValueError, match=reason):
        parse_cron(text)


def test_day_fields_follow_the_or_rule_when_both_are_restricted() -> None:
    """With both day fields restricted either matches; with one a wildcard only the other counts."""
    friday_12, thursday_13, friday_13 = dt.date(2026, 6, 12), dt.date(2026, 8, 13), dt.date(2026, 2, 13)
    both = parse_cron("0 0 13 * fri")
    assert both.day_matches(friday_12)
    assert both.day_matches(thursday_13)
    assert both.day_matches(friday_13)
    only_dom = parse_cron("0 0 13 * *")
    assert not only_dom.day_matches(friday_12)
    assert only_dom.day_matches(thursday_13)
    only_dow = parse_cron("0 0 ? * fri")
    assert only_dow.day_matches(friday_12)
    assert not only_dow.day_matches(thursday_13)
    assert not parse_cron("0 0 13 jan fri").day_matches(friday_12)  # the month still has to match


# -- activity ---------------------------------------------------------------------


def test_window_started_yesterday_is_active_across_midnight() -> None:
    """A 22:00 window of 4 hours is open at 23:30 and 01:59 and closed at 02:00 and 21:59."""
    w = window("0 22 * * *", 4)
    assert is_active(w, at(2026, 5, 1, 23, 30))
    assert is_active(w, at(2026, 5, 2, 1, 59))
    assert not is_active(w, at(2026, 5, 2, 2, 0))
    assert not is_active(w, at(2026, 5, 2, 21, 59))


def test_time_zone_moves_the_window_with_the_season() -> None:
    """09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer."""
    w = window("0 9 * * mon-fri", 1, tz="Europe/Berlin")
    assert is_active(w, at(2026, 1, 7, 8, 30))
    assert not is_active(w, at(2026, 1, 7, 7, 30))
    assert is_active(w, at(2026, 7, 8, 7, 30))
    assert not is_active(w, at(2026, 7, 8, 8, 30))


def test_berlin_spring_forward_opens_a_skipped_start_at_the_jump() -> None:
    """02:30 does not exist on 29 March 2026 in Berlin: the window opens at the jump and lasts 1h."""
    w = window("30 2 * * *", 1, tz="Europe/Berlin")
    assert not is_active(w, at(2026, 3, 29, 0, 59))
    assert is_active(w, at(2026, 3, 29, 1, 0))  # 03:00 CEST, the first instant after the gap
    assert is_active(w, at(2026, 3, 29, 1, 59))
    assert not is_active(w, at(2026, 3, 29, 2, 0))
    assert is_active(w, at(2026, 3, 30, 0, 30))  # the next day at 02:30 CEST


def test_duration_counts_elapsed_time_over_spring_forward() -> None:
    """A 2h window opening at 01:00 CET on the change day closes at 04:00 CEST, two real hours later."""
    w = window("0 1 * * *", 2, tz="Europe/Berlin")
    assert is_active(w, at(2026, 3, 29, 1, 59))
    assert not is_active(w, at(2026, 3, 29, 2, 0))


def test_berlin_fall_back_opens_a_fixed_time_once() -> None:
    """02:30 happens twice on 25 October 2026 in Berlin: a daily window opens at the first one only."""
    w = window("30 2 * * *", 0.5, tz="Europe/Berlin")
    assert is_active(w, at(2026, 10, 25, 0, 45))  # 02:45 CEST
    assert not is_active(w, at(2026, 10, 25, 1, 45))  # 02:45 CET, the repeated hour


def test_new_york_fall_back_keeps_an_hourly_window_open_through_the_repeated_hour() -> None:
    """An hourly window of one hour stays open while 01:00-02:00 runs twice in New York."""
    w = window("0 * * * *", 1, tz="America/New_York")
    for minute in range(0, 240, 10):  # 00:00 EDT (04:00 UTC) to 02:00 EST (08:00 UTC)
        assert is_active(w, at(2026, 11, 1, 4, 0) + dt.timedelta(minutes=minute))
    daily = window("30 1 * * *", 1, tz="America/New_York")
    assert is_active(daily, at(2026, 11, 1, 6, 15))  # 01:15 EST, still within the first 01:30 EDT + 1h
    assert not is_active(daily, at(2026, 11, 1, 6, 45))  # 01:45 EST: no second opening


def test_new_york_spring_forward_moves_a_daily_start_but_not_an_hourly_one() -> None:
    """On 8 March 2026 in New York a daily 02:30 start moves to 03:00 EDT; an hourly one is skipped."""
    w = window("30 2 * * *", 1, tz="America/New_York")
    assert not is_active(w, at(2026, 3, 8, 6, 59))
    assert is_active(w, at(2026, 3, 8, 7, 0))
    assert not is_active(w, at(2026, 3, 8, 8, 0))
    hourly = window("30 * * * *", 0.25, tz="America/New_York")
    assert not is_active(hourly, at(2026, 3, 8, 7, 10))  # 03:10 EDT: no 02:30 moved to the jump
    assert is_active(hourly, at(2026, 3, 8, 7, 35))  # 03:35 EDT, opened at 03:30


def test_duration_longer_than_the_interval_keeps_the_window_open() -> None:
    """Starts every 6 hours with 7 hours each leave no gap, and no change is in sight."""
    w = window("0 */6 * * *", 7)
    for hour in range(0, 48, 5):
        assert is_active(w, at(2026, 2, 1) + dt.timedelta(hours=hour))
    verdict = evaluate([w], at(2026, 2, 1, 3), APP)
    assert not verdict.automated
    assert verdict.changes_at is None


def test_monthly_window_with_a_long_duration() -> None:
    """A window opening on the 1st for 3 days is active on the 3rd, closed on the 4th."""
    w = window("0 0 1 * *", 72)
    assert is_active(w, at(2026, 4, 3, 23, 59))
    assert not is_active(w, at(2026, 4, 4, 0, 0))


_FIELD = st.one_of(st.just("*"), st.integers(0, 5).map(str), st.integers(2, 9).map(lambda n: f"*/{n}"),
                   st.tuples(st.integers(0, 3), st.integers(4, 6)).map(lambda t: f"{t[0]}-{t[1]}"))


@settings(max_examples=60, deadline=None)
@given(minute=_FIELD, hour=_FIELD, weekday=st.sampled_from(["*", "1-5", "0,6", "3"]),
       minutes=st.integers(1, 600), offset=st.integers(0, 14 * 24 * 60))
def test_activity_agrees_with_a_minute_by_minute_scan(minute: str, hour: str, weekday: str,
                                                      minutes: int, offset: int) -> None:
    """In UTC a window is active exactly when some start lies in the last DURATION minutes."""
    s = parse_cron(f"{minute} {hour} * * {weekday}")
    w = SyncWindow(WindowKind.DENY, s, minutes * 60, applications=("*",))
    now = at(2026, 3, 1) + dt.timedelta(minutes=offset)
    scan = any(s.day_matches(t.date()) and t.hour in s.hours and t.minute in s.minutes
               for t in (now - dt.timedelta(minutes=k) for k in range(minutes)))
    assert is_active(w, now) == scan


# -- selection --------------------------------------------------------------------


def test_selectors_are_ored_unless_and_operator() -> None:
    """One matching selector is enough by default; with andOperator every given one must match."""
    w = window("0 0 * * *", 1, applications=("api-*",), namespaces=("shop",))
    assert applies(w, APP)  # the namespace matches
    strict = SyncWindow(WindowKind.DENY, w.schedule, 3600, applications=("api-*",),
                        namespaces=("shop",), and_operator=True)
    assert not applies(strict, APP)
    assert applies(SyncWindow(WindowKind.DENY, w.schedule, 3600, applications=("w?b",),
                              clusters=("prod-*",), and_operator=True), APP)


def test_a_window_selecting_nothing_applies_to_nothing() -> None:
    """Without applications, namespaces or clusters a window applies to no application."""
    assert not applies(SyncWindow(WindowKind.DENY, parse_cron("* * * * *"), 60), APP)


def test_cluster_selector_matches_any_name_of_the_cluster() -> None:
    """A cluster glob matches the destination by any of the names it is known by."""
    target = WindowTarget("web", ("shop",), ("prod-eu", "https://10.0.0.1:6443"))
    assert applies(window("0 0 * * *", 1, applications=(), clusters=("https://10.*",)), target)
    assert not applies(window("0 0 * * *", 1, applications=(), clusters=("staging",)), target)


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    ("*", "anything/at/all", True), ("prod-*", "prod-eu", True), ("prod-*", "staging", False),
    ("{web,api}-?", "api-1", True), ("{web,api}-?", "db-1", False), ("[!a]pp", "bpp", True),
    ("[!a]pp", "app", False), ("[a-c]x", "bx", True), ("a\\*", "a*", True), ("a\\*", "ab", False),
    ("[unclosed", "[unclosed", False), ("web", "web-1", False),
])
def test_glob_matches_as_argo_cd_does(pattern: str, text: str, expected: bool) -> None:
    """Globs match whole names with *, ?, classes, alternatives and escapes; bad patterns match nothing."""
    assert glob_match(pattern, text) is expected


# -- verdict ----------------------------------------------------------------------


def test_no_window_applying_allows_everything() -> None:
    """Windows that select other applications leave every sync allowed."""
    verdict = evaluate([window("* * * * *", 1, applications=("other",))], at(2026, 1, 1), APP)
    assert verdict.automated
    assert verdict.manual
    assert not verdict.applying
    assert verdict.changes_at is None


def test_active_deny_stops_syncs_until_it_ends() -> None:
    """An active deny window stops automated and manual syncs and says when it ends."""
    deny = window("0 22 * * *", 4)
    verdict = evaluate([deny], at(2026, 5, 1, 23), APP)
    assert (verdict.automated, verdict.manual) == (False, False)
    assert verdict.active == (deny,)
    assert verdict.blocking == (deny,)
    assert verdict.changes_at == at(2026, 5, 2, 2)


def test_deny_wins_over_an_active_allow() -> None:
    """While both an allow and a deny window are active, syncs are stopped."""
    allow = window("0 20 * * *", 6, kind=WindowKind.ALLOW)
    deny = window("0 22 * * *", 1)
    verdict = evaluate([allow, deny], at(2026, 5, 1, 22, 30), APP)
    assert not verdict.automated
    assert verdict.blocking == (deny,)
    assert verdict.changes_at == at(2026, 5, 1, 23)  # the allow window is still open then
    assert evaluate([allow, deny], at(2026, 5, 1, 23, 30), APP).automated


def test_inactive_allow_window_stops_syncs_until_it_opens() -> None:
    """An allow window that is not active stops syncs; automated syncs resume when it opens."""
    allow = window("0 9 * * mon-fri", 8, kind=WindowKind.ALLOW)
    saturday = evaluate([allow], at(2026, 5, 2, 12), APP)
    assert not saturday.automated
    assert saturday.blocking == (allow,)
    assert not saturday.active
    assert saturday.changes_at == at(2026, 5, 4, 9)  # Monday 09:00
    monday = evaluate([allow], at(2026, 5, 4, 10), APP)
    assert monday.automated
    assert monday.changes_at == at(2026, 5, 4, 17)


def test_manual_sync_passes_only_where_every_stopping_window_allows_it() -> None:
    """manualSync on every active deny (or every inactive allow) lets manual syncs through."""
    now = at(2026, 5, 1, 23)
    lenient = window("0 22 * * *", 4, manual=True)
    strict = window("0 23 * * *", 1)
    assert evaluate([lenient], now, APP).manual
    assert not evaluate([lenient], now, APP).automated
    assert not evaluate([lenient, strict], now, APP).manual
    allows = [window("0 9 * * *", 1, kind=WindowKind.ALLOW, manual=True),
              window("0 12 * * *", 1, kind=WindowKind.ALLOW)]
    assert not evaluate(allows, now, APP).manual
    assert evaluate(allows[:1], now, APP).manual


def test_overlapping_denies_report_the_end_of_the_last() -> None:
    """Two deny windows that overlap keep syncs stopped until the later one closes."""
    windows = [window("0 22 * * *", 3), window("0 0 * * *", 3)]
    assert evaluate(windows, at(2026, 5, 1, 23), APP).changes_at == at(2026, 5, 2, 3)


def test_change_time_is_exact_across_a_dst_change() -> None:
    """A Berlin deny window 01:00-03:00 on the spring-forward night ends at 01:00 UTC (03:00 CEST)."""
    deny = window("0 1 * * *", 1, tz="Europe/Berlin")
    verdict = evaluate([deny], at(2026, 3, 29, 0, 30), APP)
    assert not verdict.automated
    assert verdict.changes_at == at(2026, 3, 29, 1)


def test_windows_reopening_before_they_close_are_one_stretch() -> None:
    """A weekday deny window of 25 hours stays closed from Monday 00:00 until Saturday 01:00."""
    verdict = evaluate([window("0 0 * * mon-fri", 25)], at(2026, 5, 5, 12), APP)  # a Tuesday
    assert not verdict.automated
    assert verdict.changes_at == at(2026, 5, 9, 1)


@settings(max_examples=40, deadline=None)
@given(minute=_FIELD, hour=_FIELD, weekday=st.sampled_from(["*", "1-5", "0,6"]),
       minutes=st.integers(1, 900), offset=st.integers(0, 7 * 24 * 60), allow=st.booleans(),
       probes=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=8))
def test_change_time_is_the_first_flip(minute: str, hour: str, weekday: str, minutes: int, offset: int,
                                       allow: bool, probes: list[float]) -> None:
    """Automated syncs keep their verdict until changes_at and have the other one at it."""
    kind = WindowKind.ALLOW if allow else WindowKind.DENY
    w = SyncWindow(kind, parse_cron(f"{minute} {hour} * * {weekday}"), minutes * 60, applications=("*",))
    now = at(2026, 3, 1) + dt.timedelta(minutes=offset)
    verdict = evaluate([w], now, APP)
    if verdict.changes_at is None:
        return
    assert verdict.changes_at > now
    assert evaluate([w], verdict.changes_at, APP).automated is not verdict.automated
    for p in probes:
        probe = min(now + (verdict.changes_at - now) * p, verdict.changes_at - dt.timedelta(seconds=1))
        assert evaluate([w], probe, APP).automated is verdict.automated
