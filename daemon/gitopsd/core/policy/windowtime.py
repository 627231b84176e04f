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

import bisect
import datetime as dt
import functools
from zoneinfo import ZoneInfo

from gitopsd.model.cron import CronSchedule

__all__ = ["last_start", "next_start", "open_until"]

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


@functools.lru_cache(maxsize=256)
def _day_starts(schedule: CronSchedule, zone: ZoneInfo, day: dt.date) -> tuple[dt.datetime, ...]:
    """Every start on local DAY, earliest first."""
    if not schedule.day_matches(day):
        return ()
    midnight = dt.datetime.combine(day, dt.time())
    before, after = _offset(midnight, zone), _offset(midnight + _DAY, zone)
    times = schedule.times
    if before == after and _offset(midnight + _DAY / 2, zone) == before:  # no change of offset today
        base = (midnight - before).replace(tzinfo=UTC)
        return tuple(base + dt.timedelta(hours=t.hour, minutes=t.minute) for t in times)
    out: list[dt.datetime] = []
    for t in times:
        out.extend(_instants(dt.datetime.combine(day, t), zone, schedule.every_hour))
    return tuple(sorted(out))


def _local_day(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


def last_start(schedule: CronSchedule, zone: ZoneInfo, at: dt.datetime,
               since: dt.datetime) -> dt.datetime | None:
    """The latest start in (SINCE, AT], or None."""
    day = _local_day(at, zone) + _DAY  # a day of margin for starts moved by a jump
    last = _local_day(since, zone) - _DAY
    while day >= last:
        starts = _day_starts(schedule, zone, day)
        i = bisect.bisect_right(starts, at)
        if i:
            return starts[i - 1] if starts[i - 1] > since else None
        day -= _DAY
    return None


def next_start(schedule: CronSchedule, zone: ZoneInfo, after: dt.datetime,
               until: dt.datetime) -> dt.datetime | None:
    """The earliest start in (AFTER, UNTIL], or None."""
    day = _local_day(after, zone) - _DAY
    last = _local_day(until, zone) + _DAY
    while day <= last:
        starts = _day_starts(schedule, zone, day)
        i = bisect.bisect_right(starts, after)
        if i < len(starts):
            return starts[i] if starts[i] <= until else None
        day += _DAY
    return None


def open_until(schedule: CronSchedule, zone: ZoneInfo, start: dt.datetime, length: dt.timedelta,
               limit: dt.datetime) -> dt.datetime | None:
    """When a window opened at START for LENGTH closes, later starts that come before it closes
    keeping it open; None when it is still open at LIMIT."""
    close = start + length
    day = _local_day(start, zone) - _DAY
    while close <= limit:
        for later in _day_starts(schedule, zone, day):
            if later <= start:
                continue
            if later > close:
                return close
            close = later + length
        day += _DAY
        if dt.datetime.combine(day, dt.time(), UTC) - dt.timedelta(days=1) > close:
            return close  # no start of this or a later day can come before it closes
    return None
