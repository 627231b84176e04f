"""When a cron schedule fires in a time zone, as instants, daylight saving included.

A schedule is read on the zone's wall clock. On most days a local time is one
instant. Around a daylight-saving change two cases need a rule, and this one
follows Vixie cron (what most operators expect of cron):

- a schedule with a fixed hour (``30 2 * * *``) fires once a day: a start
  whose local time is skipped when the clocks go forward fires when the jump
  happens, and a start whose local time occurs twice when the clocks go back
  fires at its first occurrence;
- a schedule whose hour field starts with ``*`` (``*/15 * * * *``) fires by
  elapsed time: at every instant whose local time matches, so nothing fires
  in a skipped hour and a repeated hour fires again.

Instants are timezone-aware UTC datetimes. Nothing here reads a clock: the
time to search from is always an argument.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from gitopsd.model.cron import CronSchedule

__all__ = ["last_start", "next_start"]

UTC = dt.UTC
_DAY = dt.timedelta(days=1)


def _offset(local: dt.datetime, zone: ZoneInfo) -> dt.timedelta:
    offset = local.replace(tzinfo=zone).utcoffset()
    assert offset is not None
    return offset


def _jump(naive: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The instant the clocks jumped over NAIVE (a local time that does not exist)."""
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)  # read with the offset after the jump
    high = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)  # read with the offset before it
    while (high - low) > dt.timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(zone).replace(tzinfo=None) < naive:
            low = mid
        else:
            high = mid
    return high.replace(microsecond=0)


def _instants(naive: dt.datetime, zone: ZoneInfo, by_elapsed: bool) -> list[dt.datetime]:
    """The instants at which the local time NAIVE fires (none, one or two)."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    a, b = first.astimezone(UTC), second.astimezone(UTC)
    if a == b:
        return [a]
    exists = a.astimezone(zone).replace(tzinfo=None) == naive
    if exists:  # the clocks went back: NAIVE happens twice
        return sorted({a, b}) if by_elapsed else [min(a, b)]
    return [] if by_elapsed else [_jump(naive, zone)]


def _day_starts(schedule: CronSchedule, zone: ZoneInfo, day: dt.date) -> list[dt.datetime]:
    """Every start on local DAY, earliest first."""
    if not schedule.day_matches(day):
        return []
    midnight = dt.datetime.combine(day, dt.time())
    before, after = _offset(midnight, zone), _offset(midnight + _DAY, zone)
    times = schedule.times
    if before == after and _offset(midnight + _DAY / 2, zone) == before:  # no change of offset today
        return [(midnight + dt.timedelta(hours=t.hour, minutes=t.minute) - before).replace(tzinfo=UTC)
                for t in times]
    out: list[dt.datetime] = []
    for t in times:
        out.extend(_instants(dt.datetime.combine(day, t), zone, schedule.every_hour))
    return sorted(out)


def _days(start: dt.date, step: int, limit: int) -> Iterator[dt.date]:
    day = start
    for _ in range(limit):
        yield day
        day += step * _DAY


def last_start(schedule: CronSchedule, zone: ZoneInfo, at: dt.datetime,
               since: dt.datetime) -> dt.datetime | None:
    """The latest start in (SINCE, AT], or None."""
    first = at.astimezone(zone).date() + _DAY  # a day of margin for starts moved by a jump
    span = (first - since.astimezone(zone).date()).days + 2
    for day in _days(first, -1, span):
        for start in reversed(_day_starts(schedule, zone, day)):
            if since < start <= at:
                return start
            if start <= since:
                return None
    return None


def next_start(schedule: CronSchedule, zone: ZoneInfo, after: dt.datetime,
               until: dt.datetime) -> dt.datetime | None:
    """The earliest start in (AFTER, UNTIL], or None."""
    first = after.astimezone(zone).date() - _DAY
    span = (until.astimezone(zone).date() - first).days + 2
    for day in _days(first, 1, span):
        for start in _day_starts(schedule, zone, day):
            if after < start <= until:
                return start
            if start > until:
                return None
    return None
