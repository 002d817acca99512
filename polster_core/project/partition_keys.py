"""The keys of a daily, hourly, weekly or monthly partitioning, in plain datetime/zoneinfo.

File-only (no Dagster import): the example scripts and ``polster add-asset``/``check`` use it.
It follows Dagster's ``Daily/Hourly/Weekly/MonthlyPartitionsDefinition(start_date, timezone)``
(the tests cross-check it against Dagster's own definitions):

- a key is the start of its window in the definition's time zone, formatted ``%Y-%m-%d``
  (daily: every midnight; weekly: every Sunday; monthly: every first of the month) or
  ``%Y-%m-%d-%H:%M`` (hourly: every full hour that exists on the wall clock);
- the hour that repeats when the clocks go back (DST fall-back) is two partitions: the first
  keeps its plain key (``2026-10-25-02:00``, in summer time), the second carries its UTC offset
  (``2026-10-25-02:00+0100``): Dagster's own keys, and sorted as strings they stay in time
  order; an hour the clocks skip (``2026-03-29-02:00`` in Europe/Berlin) is no partition;
- the first partition is the first window starting at or after ``start_date``; the last is the
  last complete one (its end is past), as Dagster counts them without an ``end_offset``.

Nothing here enumerates partitions: a key is checked, and two keys are ordered, in a few steps
whatever the start date.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

KINDS = ("hourly", "daily", "weekly", "monthly")
HOUR_FORMAT = "%Y-%m-%d-%H:%M"
DAY_FORMAT = "%Y-%m-%d"
# The start dates every definition represents in every time zone: Dagster computes windows
# with ``datetime`` (years 1 to 9999) a month either side of a date, and formats keys with
# strftime, whose ``%Y`` has fewer than four digits before the year 1000 (keys that no longer
# sort in time order).
FIRST_DATE = _dt.date(1000, 1, 1)
LAST_DATE = _dt.date(9998, 12, 31)
EXAMPLE = {"hourly": "2026-11-02-13:00", "daily": "2026-11-02", "weekly": "2026-11-01"}
_HOUR_KEY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{2}):(\d{2})(?:([+-])(\d{2})(\d{2}))?$")
_DAY_KEY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_UTC = _dt.timezone.utc


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiouh" else f"a {word}"


class KeyProblem(ValueError):
    """A key the partitioning does not contain; the message says why and names a neighbour."""


def shown(key: str, limit: int = 40) -> str:
    """A key as messages quote it: at most ``limit`` characters, control characters escaped."""
    text = key if len(key) <= limit else key[:limit] + f"... ({len(key)} characters)"
    return repr(text)[1:-1] if not text.isprintable() else text


def timezone_of(name: str) -> _dt.tzinfo:
    """The tzinfo of a time zone name (``UTC`` when empty); raises KeyProblem if unknown."""
    if not name or name.upper() == "UTC":
        return _UTC
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise KeyProblem(
            f"unknown time zone '{shown(name)}': use an IANA name such as Europe/Berlin, or UTC"
        ) from exc


def check_start(start: str, what: str = "--start") -> _dt.date:
    """A start date ``YYYY-MM-DD`` within the dates every definition can represent."""
    match = _DAY_KEY.match(start[:10]) if len(start) in (10, 16) else None
    try:
        if match is None:
            raise ValueError
        day = _dt.date.fromisoformat(start[:10])
    except ValueError:
        raise KeyProblem(
            f"{what} must be a date like 2026-11-01 (YYYY-MM-DD), not '{shown(start)}'"
        ) from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise KeyProblem(
            f"{what} {start[:10]} is out of range: partitions can start from "
            f"{FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}"
        )
    return day


@dataclass(frozen=True)
class TimePartitions:
    """A Dagster ``{Kind}PartitionsDefinition(start_date=start, timezone=timezone)``."""

    kind: str
    start: str  # "2026-11-01" (an hourly start may carry "-HH:MM")
    timezone: str = "UTC"

    # Windows ---------------------------------------------------------------------------

    @property
    def tz(self) -> _dt.tzinfo:
        return timezone_of(self.timezone)

    @property
    def fmt(self) -> str:
        return HOUR_FORMAT if self.kind == "hourly" else DAY_FORMAT

    def _local(self, wall: _dt.datetime, fold: int = 0) -> _dt.datetime:
        """A wall-clock time in the zone, normalised (a skipped time moves past the gap)."""
        aware = wall.replace(tzinfo=self.tz, fold=fold)
        return aware.astimezone(_UTC).astimezone(self.tz)

    def window_start(self, moment: _dt.datetime) -> _dt.datetime:
        """The start of the window holding the instant ``moment`` (aware)."""
        local = moment.astimezone(self.tz)
        if self.kind == "hourly":
            return local.replace(minute=0, second=0, microsecond=0)
        day = local.date()
        if self.kind == "weekly":
            day -= _dt.timedelta(days=(day.weekday() + 1) % 7)
        elif self.kind == "monthly":
            day = day.replace(day=1)
        return self._local(_dt.datetime(day.year, day.month, day.day))

    def next_start(self, start: _dt.datetime) -> _dt.datetime:
        if self.kind == "hourly":
            return self.window_start(start.astimezone(_UTC) + _dt.timedelta(hours=1))
        day = start.date()
        if self.kind == "daily":
            day += _dt.timedelta(days=1)
        elif self.kind == "weekly":
            day += _dt.timedelta(days=7)
        else:
            day = (day.replace(day=28) + _dt.timedelta(days=4)).replace(day=1)
        return self._local(_dt.datetime(day.year, day.month, day.day))

    def previous_start(self, start: _dt.datetime) -> _dt.datetime:
        return self.window_start(start.astimezone(_UTC) - _dt.timedelta(seconds=1))

    def first_start(self) -> _dt.datetime:
        day = check_start(self.start, "start_date")
        hour = minute = 0
        if self.kind == "hourly" and len(self.start) == 16:
            hour, minute = int(self.start[11:13]), int(self.start[14:16])
        begin = self._local(_dt.datetime(day.year, day.month, day.day, hour, minute))
        first = self.window_start(begin)
        return first if first >= begin else self.next_start(first)

    def last_start(self, now: _dt.datetime | None = None) -> _dt.datetime | None:
        """The start of the last complete window (None when none is complete yet)."""
        now = now or _dt.datetime.now(_UTC)
        last = self.previous_start(self.window_start(now))
        return last if last >= self.first_start() else None

    # Keys ------------------------------------------------------------------------------

    def key(self, start: _dt.datetime) -> str:
        """Dagster's key of the window starting at ``start`` (the repeated hour of a
        fall-back carries its UTC offset)."""
        local = start.astimezone(self.tz)
        text = local.strftime(self.fmt)
        if self.kind == "hourly" and local.fold == 1:
            if local.replace(fold=0).utcoffset() != local.utcoffset():
                text += local.strftime("%z")
        return text

    def first_key(self) -> str:
        return self.key(self.first_start())

    def last_key(self, now: _dt.datetime | None = None) -> str | None:
        last = self.last_start(now)
        return None if last is None else self.key(last)

    def parse(self, key: str) -> _dt.datetime:
        """The start of the window ``key`` names, if it is a key of this partitioning at all
        (its range aside); raises KeyProblem naming a valid neighbour otherwise."""
        if self.kind == "hourly":
            match = _HOUR_KEY.match(key)
            example = EXAMPLE["hourly"]
            noun = "an hour like"
        else:
            match = _DAY_KEY.match(key)
            example = EXAMPLE.get(self.kind, "2026-11-01")
            noun = "a date like"
        if match is None:
            raise KeyProblem(
                f"'{shown(key)}' is not {_a(self.kind)} partition key: use {noun} {example}"
            )
        numbers = [int(n) for n in match.groups()[:5] if n is not None]
        try:
            wall = _dt.datetime(*numbers)  # type: ignore[arg-type]
        except ValueError as exc:
            raise KeyProblem(
                f"'{shown(key)}' is not a real {'time' if self.kind == 'hourly' else 'date'} "
                f"({exc}): use {noun} {example}"
            ) from None
        if not FIRST_DATE <= wall.date() <= LAST_DATE:
            raise KeyProblem(f"'{key}' is out of the range partitions can cover")
        if self.kind == "hourly" and match.group(6):
            sign = 1 if match.group(6) == "+" else -1
            offset = _dt.timedelta(hours=int(match.group(7)), minutes=int(match.group(8)))
            moment = wall.replace(tzinfo=_dt.timezone(sign * offset))
        elif self.kind != "hourly":
            moment = self._local(wall)  # a midnight the clocks skip: the day starts after it
        else:
            moment = wall.replace(tzinfo=self.tz, fold=0)
            if self._local(wall).replace(tzinfo=None) != wall:
                after = self.window_start(self._local(wall))
                before = self.previous_start(after)
                raise KeyProblem(
                    f"'{key}' is no {self.kind} partition: {self.timezone} skips that time "
                    f"(the clocks go forward); the neighbours are {self.key(before)} and "
                    f"{self.key(after)}"
                )
        start = self.window_start(moment)
        canonical = self.key(start)
        if canonical != key:
            if start.astimezone(_UTC) == moment.astimezone(_UTC):
                hint = f"this {self.kind} partition's key is {canonical}"
            else:
                hint = self._grid(start)
            raise KeyProblem(f"'{key}' is no {self.kind} partition: {hint}")
        return start

    def _grid(self, start: _dt.datetime) -> str:
        rule = {
            "hourly": "partitions start on the hour",
            "daily": "partitions start at midnight",
            "weekly": "weeks start on Sunday",
            "monthly": "months start on the 1st",
        }[self.kind]
        return (
            f"{rule}; the neighbours are {self.key(start)} and {self.key(self.next_start(start))}"
        )

    def problem(self, key: str, now: _dt.datetime | None = None) -> str | None:
        """Why ``key`` is not a partition (one line naming a valid neighbour), or None."""
        try:
            self.check(key, now)
        except KeyProblem as exc:
            return str(exc)
        return None

    def check(self, key: str, now: _dt.datetime | None = None) -> _dt.datetime:
        """The start of partition ``key``'s window; KeyProblem if the key is not one."""
        start = self.parse(key)
        first = self.first_start()
        if start < first:
            raise KeyProblem(
                f"'{key}' is before the first partition, {self.key(first)} (start_date "
                f"{self.start}): pass {self.key(first)} or later, or move start_date back"
            )
        last = self.last_start(now)
        if last is None:
            raise KeyProblem(
                f"'{key}' is not complete yet, and no partition is: the first, "
                f"{self.key(first)}, ends in the future"
            )
        if start > last:
            raise KeyProblem(
                f"'{key}' is not complete yet: the last complete partition is {self.key(last)}"
            )
        return start
