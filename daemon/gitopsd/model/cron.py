"""Five-field cron schedules as Argo CD's sync windows read them.

Argo CD parses a window's ``schedule`` with robfig/cron's standard parser
(minute, hour, day of month, month, day of week; no seconds, no ``@daily``
descriptors, no ``CRON_TZ=`` prefix). The same text is accepted here, with the
same meaning: ``*`` and ``?``, values, ranges ``a-b``, steps ``*/n``, ``a-b/n``
and ``a/n`` (from ``a`` to the field's end), lists ``a,b``, month names
``jan``-``dec`` and weekday names ``sun``-``sat`` in any case, weekdays 0-6
with 0 for Sunday. When both day fields are restricted a day matches if
either does (cron's OR rule); when either is ``*`` or ``?`` both must.

This module parses text and answers "does this local date or time match";
it knows nothing about time zones, instants or windows (that is
``core.policy.windowtime``), and it must not read a clock.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

__all__ = ["CronSchedule", "parse_cron"]

_MONTHS = {name: n for n, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_WEEKDAYS = {name: n for n, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (name, lowest, highest, names) of the five fields, in order
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS), ("day of week", 0, 6, _WEEKDAYS))


@dataclass(frozen=True)
class CronSchedule:
    """A parsed schedule: the values each field allows, and which day fields are unrestricted."""

    text: str
    minutes: frozenset[int] = field(repr=False)
    hours: frozenset[int] = field(repr=False)
    days: frozenset[int] = field(repr=False)
    months: frozenset[int] = field(repr=False)
    weekdays: frozenset[int] = field(repr=False)  # 0 = Sunday
    any_day: bool = field(repr=False)  # the day-of-month field is * or ?
    any_weekday: bool = field(repr=False)  # the day-of-week field is * or ?
    every_hour: bool = field(repr=False)  # the hour field starts with * (* or */2): fires by elapsed time

    def day_matches(self, day: dt.date) -> bool:
        """Whether the schedule fires on DAY (a local calendar date)."""
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = day.isoweekday() % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    @functools.cached_property
    def times(self) -> tuple[dt.time, ...]:
        """The local times of day it fires at, earliest first."""
        return tuple(dt.time(h, m) for h in sorted(self.hours) for m in sorted(self.minutes))

    def __str__(self) -> str:
        return self.text


def _number(word: str, what: str, names: dict[str, int]) -> int:
    if word.lower() in names:
        return names[word.lower()]
    if not (word.isascii() and word.isdigit()):
        raise ValueError(f"{what}: '{word}' is not a number" +
                         (f" or a name ({', '.join(names)})" if names else ""))
    return int(word)


def _term(term: str, what: str, low: int, high: int, names: dict[str, int]) -> tuple[set[int], bool]:
    """The values of one comma-separated TERM, and whether it is an unrestricted * or ?."""
    span, slash, step_text = term.partition("/")
    step = 1
    if slash:
        if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
            raise ValueError(f"{what}: the step in '{term}' must be a positive number")
        step = int(step_text)
    star = span in ("*", "?")
    if star:
        start, end = low, high
    else:
        first, dash, last = span.partition("-")
        start = _number(first, what, names)
        end = _number(last, what, names) if dash else (high if slash else start)
        if start < low:
            raise ValueError(f"{what}: {start} is below the lowest value {low}")
        if end > high:
            hint = " (use 0 for Sunday)" if what == "day of week" and end == 7 else ""
            raise ValueError(f"{what}: {end} is above the highest value {high}{hint}")
        if start > end:
            raise ValueError(f"{what}: the range '{span}' runs backwards")
    return set(range(start, end + 1, step)), star and step == 1


def _field(text: str, what: str, low: int, high: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for term in text.split(","):
        if not term:
            raise ValueError(f"{what}: empty list entry in '{text}'")
        got, is_star = _term(term, what, low, high, names)
        values |= got
        star = star or is_star
    return frozenset(values), star


def parse_cron(text: str) -> CronSchedule:
    """The schedule written in TEXT; raises ``ValueError`` with a one-line reason."""
    words = text.split()
    if text.strip().startswith("@"):
        raise ValueError("descriptors such as @daily are not accepted; write five fields, "
                         "e.g. '0 0 * * *'")
    if words and words[0].upper().startswith(("TZ=", "CRON_TZ=")):
        raise ValueError("a time zone inside the schedule is not accepted; use the window's timeZone")
    if len(words) != 5:
        raise ValueError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(words)}")
    parsed = [_field(word, *spec) for word, spec in zip(words, _FIELDS, strict=True)]
    (minutes, _), (hours, _), (days, any_day), (months, _), (weekdays, any_weekday) = parsed
    schedule = CronSchedule(" ".join(words), minutes, hours, days, months, weekdays, any_day,
                            any_weekday, every_hour=words[1].startswith(("*", "?")))
    if not _fires(schedule):
        raise ValueError("the schedule never fires (no calendar date matches its day and month fields)")
    return schedule


def _fires(schedule: CronSchedule) -> bool:
    """Whether any date of a four-year cycle (one leap year) matches."""
    day = dt.date(2028, 1, 1)
    for _ in range(4 * 366):
        if schedule.day_matches(day):
            return True
        day += dt.timedelta(days=1)
    return False
